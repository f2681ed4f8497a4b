"""``dynamokv sim``: run the deterministic cluster simulator over one or many seeds.

Each seed is one complete run (workload, faults, quiescence, repair, checkers;
see :mod:`dynamokv.impl.sim`). The summary sums the runs; any violation makes the
exit status non-zero and prints the command that replays the failing seed
exactly. ``--trace KEY`` draws a ladder diagram of one key's messages.

``--preset q1|q4|gossip`` prints a measurement instead (see
:mod:`dynamokv.impl.sim._presets`): Q1 (join an 11th node to 10), Q4 (a node down
for 3 simulated hours) and the gossip convergence table; ``--preset
pbs|fig8|divergence`` reproduces the papers' tables (:mod:`._papers`).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
from collections.abc import Iterator
from typing import Any

from ._errors import CliError
from ._papers import PAPER_PRESETS, run_paper_preset

LADDER_MESSAGES = 200
"""The messages ``--trace`` draws, from ``--trace-from`` on."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="run the seeded cluster simulator",
        description="Run simulated Dynamo clusters under faults and check the contract's properties.",
    )
    parser.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds, from --seed on")
    parser.add_argument("--nodes", type=int, default=5, help="nodes in the cluster (default 5)")
    parser.add_argument("--ops", type=int, default=2000, help="client requests per seed")
    parser.add_argument(
        "--faults",
        default="crash,partition,drop,dup,reorder",
        help="comma-separated faults: crash, partition, drop, dup, reorder, churn "
        "(joins and leaves), or none",
    )
    parser.add_argument(
        "--membership",
        choices=("gossip", "static"),
        default="gossip",
        help="gossip: complete nodes (gossip, phi, handoff, Merkle anti-entropy); "
        "static: request-path cores on a fixed ring, repaired by read repair",
    )
    parser.add_argument(
        "--preset",
        choices=("q1", "q4", "gossip", *PAPER_PRESETS),
        help="print a measurement: q1 (join an 11th node to 10), q4 (a node down "
        "3 hours), gossip (convergence table for 8 to 256 nodes), pbs (PBS staleness "
        "under production latencies), fig8 (Dynamo §6.2 load balance), divergence "
        "(Dynamo §6.3 versions per read)",
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help="pbs: writes per (fit, R, W) row (default 10,000); fig8: random token "
        "placements averaged (default 5); divergence: read-modify-writes per client "
        "(default 40)",
    )
    parser.add_argument("--strict", action="store_true", help="strict quorum (no substitutes)")
    parser.add_argument(
        "-n", "--replicas", dest="n", type=int, default=3, help="replicas per key N (default 3)"
    )
    parser.add_argument("-r", type=int, default=2, help="read quorum R (default 2)")
    parser.add_argument("-w", type=int, default=2, help="write quorum W (default 2)")
    parser.add_argument("--keys", type=int, default=64, help="distinct keys (zipfian)")
    parser.add_argument(
        "--vector-clock-threshold",
        type=int,
        default=10,
        help="clock entries kept before truncation (Dynamo §4.4; default 10)",
    )
    parser.add_argument(
        "--storage",
        choices=("memory", "store"),
        default="memory",
        help="memory: the simulator's disk model; store: the WAL store over faulty files",
    )
    parser.add_argument(
        "--reap-grace",
        type=int,
        default=None,
        metavar="TICKS",
        help="reap deleted keys once every owner holds their tombstones and TICKS have "
        "passed, and check property 7: no deleted value comes back, and once the cluster "
        "has converged every deleted key is forgotten (gossip only)",
    )
    parser.add_argument("--trace", metavar="KEY", help="print a ladder diagram of KEY's messages")
    parser.add_argument(
        "--trace-from",
        type=int,
        default=0,
        metavar="TICK",
        help="with --trace: start the diagram at TICK (a violation names the tick it saw; "
        f"the diagram shows {LADDER_MESSAGES} messages)",
    )
    parser.add_argument(
        "--check-determinism",
        action="store_true",
        help="run every seed twice and compare trace hashes",
    )
    parser.add_argument("--plant-bug", default="", help=argparse.SUPPRESS)
    parser.set_defaults(
        handler=_run,
        sim_run_defaults={dest: parser.get_default(dest) for dest in _RUN_OPTIONS},
    )


_RUN_OPTIONS: dict[str, str] = {
    "seeds": "--seeds",
    "nodes": "--nodes",
    "ops": "--ops",
    "faults": "--faults",
    "membership": "--membership",
    "strict": "--strict",
    "n": "-n",
    "r": "-r",
    "w": "-w",
    "keys": "--keys",
    "vector_clock_threshold": "--vector-clock-threshold",
    "storage": "--storage",
    "reap_grace": "--reap-grace",
    "trace": "--trace",
    "trace_from": "--trace-from",
    "check_determinism": "--check-determinism",
    "plant_bug": "--plant-bug",
}
"""The options of a run of seeds (destination -> flag): a preset runs its own configuration,
so one of these given with ``--preset`` would be ignored, and is refused instead."""

_TRIAL_PRESETS = PAPER_PRESETS
"""The presets that take ``--trials``."""


def _refuse_ignored_options(args: argparse.Namespace) -> None:
    """A flag that would change nothing is an error, not a silent no-op."""
    if args.trials is not None and args.preset not in _TRIAL_PRESETS:
        raise CliError(f"--trials applies to --preset {', '.join(_TRIAL_PRESETS)} only")
    if args.preset is None:
        return
    defaults = args.sim_run_defaults
    given = [flag for dest, flag in _RUN_OPTIONS.items() if getattr(args, dest) != defaults[dest]]
    if given:
        raise CliError(
            f"--preset {args.preset} runs its own configuration: {', '.join(given)} "
            "would be ignored (--seed and --trials are the options a preset takes)"
        )


def _replay_command(args: argparse.Namespace, seed: int) -> str:
    parts = [
        f"dynamokv sim --seed {seed} --nodes {args.nodes} --ops {args.ops}",
        f"--faults {args.faults}",
    ]
    if args.strict:
        parts.append("--strict")
    if (args.n, args.r, args.w) != (3, 2, 2):
        parts.append(f"-n {args.n} -r {args.r} -w {args.w}")
    if args.vector_clock_threshold != 10:
        parts.append(f"--vector-clock-threshold {args.vector_clock_threshold}")
    if args.storage != "memory":
        parts.append(f"--storage {args.storage}")
    if args.keys != 64:
        parts.append(f"--keys {args.keys}")
    if args.membership != "gossip":
        parts.append(f"--membership {args.membership}")
    if args.reap_grace is not None:
        parts.append(f"--reap-grace {args.reap_grace}")
    if args.plant_bug:
        parts.append(f"--plant-bug {args.plant_bug}")
    return " ".join(parts)


def _run_preset(preset: str, seed: int, trials: int | None) -> int:
    from dynamokv.impl.sim import _presets

    if preset in PAPER_PRESETS:
        return run_paper_preset(preset, seed=seed, trials=trials)
    if preset == "q1":
        lines = _presets.print_q1(_presets.measure_q1(seed=seed))
        print("\n".join(lines))
        return 0
    if preset == "q4":
        measurement = _presets.measure_q4(seed=seed)
        print("\n".join(_presets.print_q4(measurement)))
        return 0 if measurement.identical else 1
    print("\n".join(_presets.print_gossip()))
    return 0


@contextlib.contextmanager
def _collector_for_simulation() -> Iterator[None]:
    """The cyclic garbage collector tuned for simulated runs, then put back as it was.

    A run allocates millions of short-lived events and messages and keeps few of them: the
    collector runs less often over them, and leaves the objects loaded before the run out
    of its scans (about 2 % of a run's CPU). Nothing the simulator computes depends on
    when the collector runs.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _run(args: argparse.Namespace) -> int:
    import time

    from dynamokv.impl.sim import (
        FAULTS,
        PLANTED_BUGS,
        SimConfig,
        read_your_writes_checked,
        render_ladder,
        simulate,
    )
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    _refuse_ignored_options(args)
    if args.preset is not None:
        return _run_preset(args.preset, args.seed, args.trials)
    faults = tuple(f for f in args.faults.split(",") if f and f != "none")
    if "churn" in faults and args.membership != "gossip":
        raise CliError("churn needs --membership gossip")
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise CliError(f"unknown fault {unknown[0]!r}; choose from {', '.join(FAULTS)} or none")
    if args.seeds < 1 or args.ops < 1 or args.keys < 1:
        raise CliError("--seeds, --ops and --keys must be positive")
    if not 1 <= args.nodes <= 64:
        raise CliError("--nodes must be between 1 and 64")
    if not (1 <= args.n <= args.nodes and 1 <= args.r <= args.n and 1 <= args.w <= args.n):
        raise CliError("need 1 <= n <= nodes and 1 <= r, w <= n")
    if args.vector_clock_threshold < 1:
        raise CliError("--vector-clock-threshold must be positive")
    if args.plant_bug and args.plant_bug not in PLANTED_BUGS:
        raise CliError(f"unknown planted bug {args.plant_bug!r}")
    if args.reap_grace is not None and (args.reap_grace < 0 or args.membership != "gossip"):
        raise CliError("--reap-grace needs --membership gossip and a grace of 0 or more ticks")
    if args.trace is not None and args.seeds != 1:
        raise CliError("--trace replays one seed: drop --seeds")
    if args.trace_from and (args.trace is None or args.trace_from < 0):
        raise CliError("--trace-from needs --trace KEY and a tick of 0 or more")
    config = SimConfig(
        nodes=args.nodes,
        ops=args.ops,
        keys=args.keys,
        faults=faults,
        strict=args.strict,
        n=args.n,
        r=args.r,
        w=args.w,
        planted_bug=args.plant_bug,
        vector_clock_threshold=args.vector_clock_threshold,
        storage=args.storage,
        membership=args.membership,
        tombstone_grace_ticks=args.reap_grace,
    )
    console = Console(highlight=False)
    totals: dict[str, int] = {}
    failing: list[tuple[int, list[str]]] = []
    sim_seconds = 0.0
    cpu_seconds = 0.0
    deliveries = 0
    trace_key = args.trace.encode() if args.trace is not None else None
    with (
        _collector_for_simulation(),
        Progress(console=console, transient=True, disable=args.seeds == 1) as progress,
    ):
        task = progress.add_task("seeds", total=args.seeds)
        for seed in range(args.seed, args.seed + args.seeds):
            started = time.perf_counter()
            cpu_started = time.process_time()
            report, cluster, _ = simulate(seed, config, trace_key=trace_key)
            sim_seconds += time.perf_counter() - started
            cpu_seconds += time.process_time() - cpu_started
            deliveries += report.deliveries
            violations = list(report.violations)
            if args.check_determinism:
                again, _, _ = simulate(seed, config)
                if again.trace_hash != report.trace_hash:
                    violations.append(
                        f"nondeterminism: trace hash {report.trace_hash} then {again.trace_hash}"
                    )
            if violations:
                failing.append((seed, violations))
            stats = report.node_stats
            for name, value in (
                ("ops", report.ops),
                ("acks (put/delete)", report.acks),
                ("failed requests", report.failures),
                ("gets with siblings", report.siblings_seen),
                ("puts forwarded", stats.puts_forwarded),
                ("hints stored", stats.hints_stored),
                ("hints replayed", stats.hints_replayed),
                ("read repairs", stats.read_repairs),
                ("joins", report.joins),
                ("leaves", report.leaves),
                ("keys transferred (handoff)", report.keys_transferred),
                ("keys repaired (Merkle)", report.keys_repaired),
                ("tombstones reaped", report.tombstones_reaped),
                ("truncations", stats.truncations),
                ("checks excused by truncation", report.excused_truncations),
                ("crashes", report.crashes),
                ("messages dropped", report.dropped),
                ("messages duplicated", report.duplicated),
                ("deliveries", report.deliveries),
                ("simulated ticks", report.ticks),
                ("violations", len(violations)),
            ):
                totals[name] = totals.get(name, 0) + value
            progress.advance(task)
    if trace_key is not None:
        entries = [entry for entry in cluster.trace if entry.sent_at >= args.trace_from]
        if entries:
            ladder = render_ladder(entries, cluster.names, limit=LADDER_MESSAGES)
            console.print(ladder, markup=False, soft_wrap=True)
            if len(entries) > LADDER_MESSAGES:
                console.print(
                    f"later messages: --trace-from {entries[LADDER_MESSAGES].sent_at}",
                    markup=False,
                    soft_wrap=True,
                )
        elif cluster.trace:
            console.print(
                f"no message carried {args.trace!r} at or after tick {args.trace_from}; the "
                f"last was sent at tick {cluster.trace[-1].sent_at}",
                markup=False,
                soft_wrap=True,
            )
        else:
            # An empty diagram would look like a key whose requests all failed at once.
            console.print(
                f"no message carried {args.trace!r} in seed {args.seed}: the workload's keys are "
                f"k000 to k{args.keys - 1:03d}, the first ones the most used",
                markup=False,
                soft_wrap=True,
            )
    table = Table(title=f"dynamokv sim: {args.seeds} seed(s) from {args.seed}")
    table.add_column("measure")
    table.add_column("total", justify="right")
    for name, value in totals.items():
        table.add_row(name, f"{value:,}")
    rate = deliveries / sim_seconds if sim_seconds else 0.0
    cpu_rate = deliveries / cpu_seconds if cpu_seconds else 0.0
    table.add_row("deliveries/s", f"{rate:,.0f}")
    table.add_row("deliveries/s of CPU time", f"{cpu_rate:,.0f}")
    table.add_row("wall time (s)", f"{sim_seconds:.1f}")
    if args.seeds == 1:
        table.add_row("trace hash", report.trace_hash)
    console.print(table)
    if config.strict and config.r + config.w > config.n and not read_your_writes_checked(config):
        console.print(
            "read-your-writes (property 4) is not checked with churn: a join or a leave "
            "hands a partition to new owners that get its data only as the transfer runs",
            markup=False,
            soft_wrap=True,
        )
    if failing:
        seed, violations = failing[0]
        console.print(
            f"[bold red]{len(failing)} seed(s) violated the contract[/]; first: seed {seed}"
        )
        for line in violations[:10]:
            console.print(f"  {line}", markup=False, soft_wrap=True)
        if len(violations) > 10:
            console.print(f"  ... {len(violations) - 10} more")
        console.print(f"replay: {_replay_command(args, seed)}", markup=False, soft_wrap=True)
        return 1
    return 0
