"""``dynamokv chaos``: Jepsen-style runs against a real cluster, with a table of results.

The work is done by :func:`dynamokv.impl.chaos.run_chaos`; this module parses arguments,
shows progress and prints the tables: lost items (union against last-write-wins), what the
history checkers found, and availability and latency per fault kind.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

DEFAULT_SECONDS = 60.0
DEFAULT_DIRECTORY = ".dynamokv-chaos"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="a client workload against a real cluster while a nemesis breaks it",
        description=(
            "Start a real cluster, run client threads against it while a nemesis partitions, "
            "kills and pauses nodes in turn, then check the recorded history with the "
            "simulator's checkers. carts: each client reads a cart, resolves its siblings and "
            "adds an item; union-resolving and last-write-wins clients run side by side and "
            "the table gives the acknowledged items each lost. register: reads, writes and "
            "deletes under a strict quorum (R+W>N); no read may miss a write acknowledged "
            "before it began. Prints the seed, and where the history and node logs are kept."
        ),
    )
    parser.add_argument("--workload", choices=("carts", "register"), default="carts")
    parser.add_argument(
        "--nemesis",
        default="partition,one-way,kill,pause",
        help=(
            "fault kinds, in turn: partition, one-way, kill, pause (the default: all four), "
            "and membership (a node joins, then leaves; carts only)"
        ),
    )
    parser.add_argument(
        "--seconds", type=float, default=DEFAULT_SECONDS, help="length of a run (default 60)"
    )
    parser.add_argument("--runs", type=int, default=1, help="runs, seeds SEED, SEED+1, ...")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one, printed")
    # No -n: across the command line -n is N, the replicas per key.
    parser.add_argument("--nodes", type=int, default=5, help="node processes (default 5)")
    parser.add_argument(
        "--clients", type=int, default=6, help="client threads (carts: per resolver; default 6)"
    )
    parser.add_argument("--keys", type=int, default=3, help="carts per resolver, or registers")
    parser.add_argument("--fault-seconds", type=float, default=6.0, help="each fault's length")
    parser.add_argument("--quiet-seconds", type=float, default=3.0, help="time between faults")
    parser.add_argument(
        "--min-adds",
        type=int,
        default=2000,
        help="acknowledged union adds a valid run needs (default 2000)",
    )
    parser.add_argument("-r", type=int, default=2, help="read quorum R (default 2; N is 3)")
    parser.add_argument(
        "-w",
        type=int,
        default=2,
        help="write quorum W (default 2); a register run with R+W<=N shows stale reads",
    )
    parser.add_argument(
        "--reap-grace",
        type=int,
        default=None,
        metavar="SECONDS",
        help=(
            "register: reap deleted keys once every owner holds the tombstone and SECONDS "
            "have passed, so reaping runs under the nemesis (default: the nodes' hour)"
        ),
    )
    parser.add_argument("--netns", action="store_true", help="network-namespace hosts (root)")
    parser.add_argument("--tls", action="store_true", help="mutual TLS and HTTPS")
    parser.add_argument(
        "--dir",
        default=DEFAULT_DIRECTORY,
        help=f"where runs are kept, one folder per run (default ./{DEFAULT_DIRECTORY})",
    )
    parser.add_argument(
        "--require-valid", action="store_true", help="exit 1 if a run is invalid, too"
    )
    parser.add_argument("--json", action="store_true", help="print the reports as JSON lines")
    parser.set_defaults(handler=_chaos)


def _chaos(args: argparse.Namespace) -> int:
    from dynamokv.impl.chaos import NEMESIS_KINDS, ChaosConfig
    from dynamokv.impl.runtime._local_cluster import ClusterError
    from dynamokv.spec.errors import ArgumentError
    from rich.console import Console

    from ._errors import CliError

    kinds = tuple(kind.strip() for kind in args.nemesis.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in NEMESIS_KINDS]
    if unknown or not kinds:
        raise CliError(f"--nemesis takes {', '.join(NEMESIS_KINDS)}; got {args.nemesis!r}")
    if not 1 <= args.runs <= 100:
        raise CliError(f"--runs must be in 1..100, got {args.runs}")
    # Checked here, before a cluster starts: the nemesis would take a negative length as
    # no wait at all and fault the cluster back to back for the whole run.
    if not args.fault_seconds > 0:
        raise CliError(f"--fault-seconds must be positive, got {args.fault_seconds}")
    if not args.quiet_seconds >= 0:
        raise CliError(f"--quiet-seconds must be 0 or more, got {args.quiet_seconds}")
    if args.min_adds < 0:
        raise CliError(f"--min-adds must be 0 or more, got {args.min_adds}")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    console = Console(stderr=True, highlight=False)
    reports = []
    for run in range(args.runs):
        run_seed = seed + run
        directory = Path(args.dir) / f"{args.workload}-{run_seed}-{time.strftime('%Y%m%d-%H%M%S')}"
        try:
            config = ChaosConfig(
                workload=args.workload,
                nemesis=kinds,
                seconds=args.seconds,
                seed=run_seed,
                directory=directory.absolute(),
                nodes=args.nodes,
                clients=args.clients,
                keys=args.keys,
                netns=args.netns,
                tls=args.tls,
                fault_seconds=args.fault_seconds,
                quiet_seconds=args.quiet_seconds,
                acknowledged_adds_min=args.min_adds,
                r=args.r,
                w=args.w,
                reap_grace_seconds=args.reap_grace,
            )
        except ArgumentError as error:
            raise CliError(str(error)) from error
        console.print(f"[bold]run {run + 1}/{args.runs}[/bold]: seed {run_seed}, {directory}")
        try:
            report = _run_with_progress(config, console)
        except ClusterError as error:
            raise CliError(str(error)) from error
        reports.append(report)
        if args.json:
            print(json.dumps(report.to_json()))
        else:
            _print_report(report)
    if len(reports) > 1 and not args.json:
        _print_summary(reports)
    failed = [report for report in reports if not report.passed]
    invalid = [report for report in reports if not report.valid]
    return 1 if failed or (args.require_valid and invalid) else 0


def _run_with_progress(config: Any, console: Any) -> Any:
    from dynamokv.impl.chaos import run_chaos
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f} s"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"{config.workload} under the nemesis", total=config.seconds)

        def say(line: str) -> None:
            progress.console.print(f"[dim]·[/dim] {line}")

        return run_chaos(
            config,
            say=say,
            on_second=lambda elapsed: progress.update(task, completed=min(elapsed, config.seconds)),
        )


def _percent(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}"


def _print_report(report: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 140)
    config = report.config
    title = (
        f"{config.workload}, seed {config.seed}, {config.seconds:.0f} s, {config.nodes} nodes"
        f"{', netns' if config.netns else ''}{', TLS' if config.tls else ''}, "
        f"nemesis {','.join(config.nemesis)}"
    )
    if report.carts:
        carts = Table(title=f"carts: {title}", title_justify="left")
        for column in ("resolver", "adds", "acknowledged", "lost", "lost %"):
            carts.add_column(column, justify="left" if column == "resolver" else "right")
        for family, label in (("union", "union (Dynamo §4.4)"), ("lww", "last-write-wins")):
            row = report.carts[family]
            carts.add_row(
                label,
                f"{row['adds']:,}",
                f"{row['acknowledged']:,}",
                f"{row['lost']:,}",
                _percent(row["lost_fraction"], 1),
            )
        console.print(carts)
    if report.register:
        register = report.register
        table = Table(title=f"register under a strict quorum: {title}", title_justify="left")
        columns = ("reads", "reads ok", "writes", "writes ok", "of them deletes", "reaped")
        for column in (*columns, "stale reads (property 4)"):
            table.add_column(column, justify="right")
        table.add_row(
            f"{register['reads']:,}",
            f"{register['reads_ok']:,}",
            f"{register['writes']:,}",
            f"{register['writes_ok']:,}",
            f"{register['deletes_ok']:,}",
            f"{register['tombstones_reaped']:,}",
            f"{register['stale_reads']:,}",
        )
        console.print(table)
    availability = Table(title="availability and latency per fault kind", title_justify="left")
    for column in (
        "fault",
        "windows",
        "requests",
        "requests ok",
        "writes",
        "writes ok",
        "client writes ok",
        "write p50 ms",
        "write p99 ms",
    ):
        availability.add_column(column, justify="left" if column == "fault" else "right")
    for row in report.availability:
        availability.add_row(
            row["fault"],
            str(row["windows"]),
            f"{row['requests']:,}",
            _percent(row["requests_ok_fraction"]),
            f"{row['writes']:,}",
            _percent(row["writes_ok_fraction"]),
            _percent(row["client_writes_ok_fraction"], 3) if row["client_writes"] else "—",
            _ms(row["write_latency_ms_p50"]),
            _ms(row["write_latency_ms_p99"]),
        )
    console.print(availability)
    console.print(
        "requests: every HTTP request; client writes: an add (or register write) that may try "
        "other nodes for up to 10 s when one fails, as a client library would."
    )
    verdict = "[green]no violation[/green]" if not report.violations else "[red]VIOLATIONS[/red]"
    console.print(f"checkers (properties 1-4 over {report.requests:,} requests): {verdict}")
    for violation in report.violations[:10]:
        console.print(f"  {violation}")
    if report.valid:
        what = (
            "the faults bit and losses were observable"
            if config.workload == "carts"
            else "every fault bit"
        )
        console.print(f"[green]valid run[/green]: {what}")
    else:
        console.print("[yellow]INVALID run[/yellow] (it could not have found a problem):")
        for reason in report.invalid_reasons:
            console.print(f"  {reason}")
    console.print(
        f"seed {config.seed}; history {report.history_path}; node logs {report.logs_path}"
    )
    console.print(
        "the seed fixes the fault schedule and the clients' choices; the processes' timing "
        "is real, so a replay runs the same faults, not the same interleaving:"
    )
    console.print(
        f"  dynamokv chaos --workload {config.workload} --seed {config.seed} "
        f"--nodes {config.nodes} --clients {config.clients} --keys {config.keys} "
        f"--fault-seconds {config.fault_seconds:g} --quiet-seconds {config.quiet_seconds:g} "
        f"--seconds {config.seconds:g} --nemesis {','.join(config.nemesis)}"
        f"{f' -r {config.r}' if config.r != 2 else ''}{f' -w {config.w}' if config.w != 2 else ''}"
        f"{' --netns' if config.netns else ''}{' --tls' if config.tls else ''}"
        + (
            f" --reap-grace {config.reap_grace_seconds}"
            if config.reap_grace_seconds is not None
            else ""
        )
    )


def _print_summary(reports: list[Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 140)
    table = Table(title="all runs", title_justify="left")
    for column in (
        "seed",
        "valid",
        "union acknowledged",
        "union lost",
        "LWW acknowledged",
        "LWW lost",
        "violations",
        "client writes ok",
    ):
        table.add_column(column, justify="right")
    for report in reports:
        union = report.carts.get("union", {})
        lww = report.carts.get("lww", {})
        outcomes = [row for row in report.availability if row["client_writes"]]
        attempted = sum(row["client_writes"] for row in outcomes)
        acknowledged = sum(row["client_writes_ok"] for row in outcomes)
        table.add_row(
            str(report.config.seed),
            "yes" if report.valid else "no",
            f"{union.get('acknowledged', 0):,}",
            f"{union.get('lost', 0):,}",
            f"{lww.get('acknowledged', 0):,}",
            f"{lww.get('lost', 0):,} ({_percent(lww.get('lost_fraction'), 1)})",
            str(len(report.violations)),
            _percent(acknowledged / attempted if attempted else None, 3),
        )
    console.print(table)
