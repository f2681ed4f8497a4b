"""``dynamokv prove``: run every Z3 theorem and its negative controls, print the table.

The proofs themselves live in :mod:`dynamokv.proofs`, which knows nothing about
terminals; this module parses the options, renders the results with rich, and turns
the verdict into the exit status: 0 only when every theorem is proved, every control
refuted and every spec replay agreed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import functools
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._types import positive_seconds

if TYPE_CHECKING:
    from dynamokv.proofs import ProofResult, ProofRun
    from rich.console import Console

EXIT_OK = 0
EXIT_FAILED = 1
CROSSHAIR_PER_CONDITION_TIMEOUT = 4.0
"""Seconds per contract, as in ``make crosshair``."""
DIFFBEHAVIOR_SECONDS = 90.0
"""CPU seconds per spec ↔ implementation pair (and per planted divergence): the bound
within which every pair's paths are exhausted and every planted divergence found.
CrossHair gives each argument order half of it. The slowest pairs exhaust their paths
in 31 to 43 CPU seconds on a busy machine (a busy core does less per CPU second), so half
of 90 s leaves them room; a planted divergence's search stops at its first difference, so
the bound costs time only where the verdict is unknown."""
CROSSHAIR_WORKERS = 2
"""CrossHair processes at once."""
CONTRACTS_ROW = "crosshair.spec_contracts"
SYMBOLIC_GROUPS = ("crosshair", "equivalence")
"""Row groups that only ``--crosshair`` runs."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "prove",
        help="run the Z3 theorems and their negative controls",
        description=(
            "Run every Z3 theorem about the specs and every negative control (a deliberately "
            "wrong variant that must be refuted). Exits 0 only when all theorems are proved, "
            "all controls refuted and every replay through the spec agreed."
        ),
    )
    parser.add_argument(
        "--list", action="store_true", help="list the theorems and controls, run nothing"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only these (theorem, control or group such as 'vclock'); repeatable or comma-separated",
    )
    parser.add_argument(
        "--crosshair",
        action="store_true",
        help=(
            "also run CrossHair: the contracts of spec/, and every spec ↔ implementation "
            "pair with diffbehavior beside its planted divergence (slow: minutes)"
        ),
    )
    parser.add_argument(
        "--explore",
        action="store_true",
        help=(
            "also explore every interleaving of a tiny cluster (3 nodes, two concurrent puts, "
            "at most one crash and one lost message) with the correct core and with each "
            "planted bug, which must be found (about a minute)"
        ),
    )
    parser.add_argument(
        "--timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="give up on a single solver check after this long (default 20)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print every witness, counterexample and spec replay under the table",
    )
    parser.set_defaults(handler=_run, prove_parser=parser)


def _console() -> Console:
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        # Logs and CI: wide enough that the table does not wrap.
        console = Console(highlight=False, width=160)
    return console


def _run(args: argparse.Namespace) -> int:
    from dynamokv import proofs  # heavy: imports z3

    names = [name.strip() for item in args.only for name in item.split(",") if name.strip()]
    symbolic = [name for name in names if name.split(".")[0] in SYMBOLIC_GROUPS]
    if symbolic and not args.crosshair:
        args.prove_parser.error(f"{symbolic[0]!r} is a CrossHair row: add --crosshair")
    solver_names = [name for name in names if name not in symbolic]
    try:
        if names:
            entries = proofs.select(solver_names) if solver_names else ()
        else:
            entries = proofs.REGISTRY
    except proofs.UnknownProofError as error:
        args.prove_parser.error(f"{error}; 'dynamokv prove --list' shows the names")
    console = _console()
    if args.list:
        _print_list(console, entries)
        return EXIT_OK
    timeout_ms = None if args.timeout is None else int(args.timeout * 1000)
    results: list[ProofResult] = []
    seconds = 0.0
    if entries:
        if console.is_terminal:
            with console.status(f"proving {len(entries)} theorems and controls…"):
                run = proofs.run(entries, timeout_ms=timeout_ms)
        else:
            run = proofs.run(entries, timeout_ms=timeout_ms)
        results += run.results
        seconds += run.seconds
    if args.crosshair:
        try:
            jobs = _crosshair_jobs(symbolic if names else ["crosshair", "equivalence"])
        except KeyError as error:
            args.prove_parser.error(f"no CrossHair row named {error.args[0]!r}")
        started = time.perf_counter()
        waiting = console.status(f"running CrossHair ({len(jobs)} rows)…")
        with (
            waiting if console.is_terminal else contextlib.nullcontext(),
            concurrent.futures.ThreadPoolExecutor(max_workers=CROSSHAIR_WORKERS) as pool,
        ):
            results += list(pool.map(lambda job: job(), jobs))
        seconds += time.perf_counter() - started
    final = proofs.ProofRun(tuple(results), seconds)
    explored_ok = True
    if final.results:
        _print_table(console, final)
        if args.verbose:
            _print_details(console, final.results)
        elif final.failures:
            _print_details(console, final.failures)
    if args.explore:
        explored_ok = _explore(console)
    ran = bool(final.results) or args.explore
    return EXIT_OK if ran and (final.ok or not final.results) and explored_ok else EXIT_FAILED


EXPLORED_BUGS = ("ack-before-w", "merge-drops-sibling")
"""The planted bugs ``--explore`` must find, each with a shortest trace."""


def _explore(console: Console) -> bool:
    """Explore the correct core and each planted bug; print the table and the traces."""
    from dynamokv.impl.sim import PLANTED_BUGS, ExploreConfig, ExploreReport, explore
    from rich.markup import escape
    from rich.table import Table

    config = ExploreConfig()
    operations = ", ".join(
        f"{op.kind} {op.key.decode()}"
        + (f"={op.value.decode()}" if op.value else "")
        + f" via {op.node}"
        for op in config.operations
    )
    console.print(
        f"exhaustive exploration: {config.nodes} nodes, N={config.n} R={config.r} W={config.w}"
        f"{' strict' if config.strict else ''}; {operations}; at most {config.crashes_max} crash "
        f"and {config.drops_max} lost message"
    )
    runs: list[tuple[str, ExploreReport, float]] = []
    for label, seams in [("correct core", None), *((b, PLANTED_BUGS[b]) for b in EXPLORED_BUGS)]:
        status = console.status(f"exploring: {label}…")
        with status if console.is_terminal else contextlib.nullcontext():

            def progress(states: int, depth: int, status: Any = status, label: str = label) -> None:
                status.update(f"exploring: {label}… {states:,} states, depth {depth}")

            started = time.perf_counter()
            if seams is None:
                report = explore(config, on_progress=progress)
            else:
                report = explore(config, seams=seams, on_progress=progress)
        runs.append((label, report, time.perf_counter() - started))
    table = Table(title="dynamokv prove --explore: every interleaving", title_justify="left")
    for column in ("core", "states", "transitions", "depth", "final states", "seconds", "result"):
        table.add_column(column, justify="left" if column in ("core", "result") else "right")
    ok = True
    for label, report, seconds in runs:
        if label == "correct core":
            good = report.ok
            verdict = (
                "no violation ✓"
                if good
                else ("incomplete ✗" if report.violation is None else "VIOLATION ✗")
            )
        else:
            good = report.violation is not None
            verdict = (
                f"found at depth {report.depth} ✓" if good else "not found ✗ (checker missed it)"
            )
        ok = ok and good
        colour = "green" if good else "red"
        table.add_row(
            label if label == "correct core" else f"planted: {label}",
            f"{report.states:,}",
            f"{report.transitions:,}",
            str(report.depth),
            f"{report.final_states:,}",
            f"{seconds:.1f}",
            f"[{colour}]{verdict}[/{colour}]",
        )
    console.print(table)
    for label, report, _ in runs:
        if report.violation is None:
            continue
        console.print(f"[bold]{escape(label)}[/bold]: {escape(report.violation.message)}")
        console.print("shortest trace (the ladder counts time in steps of the trace):")
        console.print(escape("\n".join(report.violation.steps)))
        console.print(escape(report.violation.ladder), soft_wrap=True)
    return ok


def _crosshair_jobs(names: list[str]) -> list[Callable[[], ProofResult]]:
    """The CrossHair rows ``names`` pick: the spec contracts and the spec ↔ impl pairs.

    Raises:
        KeyError: a name that picks nothing.
    """
    from pathlib import Path

    import dynamokv.spec
    from dynamokv import proofs

    from ._equivalence import PAIRS

    # The same entry point as `make crosshair`: it raises the recursion limit.
    command = (sys.executable, "-m", "dynamokv.impl.cli._crosshair")
    target = Path(dynamokv.spec.__file__).resolve().parent
    rows: dict[str, Callable[[], ProofResult]] = {
        CONTRACTS_ROW: functools.partial(
            proofs.crosshair_check,
            target,
            per_condition_timeout=CROSSHAIR_PER_CONDITION_TIMEOUT,
            command=command,
        )
    }
    for pair in PAIRS:
        name = f"equivalence.{pair.name}"
        rows[name] = functools.partial(
            proofs.crosshair_diffbehavior,
            pair.impl_adapter,
            pair.spec_adapter,
            name=name,
            kind="theorem",
            claim=pair.why,
            per_condition_timeout=DIFFBEHAVIOR_SECONDS,
            command=command,
            reference=pair.spec,
        )
        rows[name + ".planted"] = functools.partial(
            proofs.crosshair_diffbehavior,
            pair.planted_adapter,
            pair.spec_adapter,
            name=name + ".planted",
            kind="control",
            claim=f"planted: {pair.planted}",
            per_condition_timeout=DIFFBEHAVIOR_SECONDS,
            command=command,
            reference=pair.spec,
        )
    chosen: list[str] = []
    for wanted in names:
        matched = [row for row in rows if row == wanted or row.startswith(wanted + ".")]
        if not matched:
            raise KeyError(wanted)
        chosen += [row for row in matched if row not in chosen]
    return [rows[row] for row in rows if row in chosen]


def _print_list(console: Console, entries: Any) -> None:
    from rich.table import Table

    table = Table(title="theorems and negative controls", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("what it checks")
    for entry in entries:
        table.add_row(entry.name, entry.kind, entry.summary)
    console.print(table)


def _result_cell(result: ProofResult) -> str:
    if result.ok:
        return f"[green]{result.status.value} ✓[/green]"
    if result.kind == "control" and result.status.value == "proved":
        return "[red]proved ✗ (control survived)[/red]"
    return f"[red]{result.status.value} ✗[/red]"


def _replay_cell(result: ProofResult) -> str:
    if result.replay is None:
        return "—"
    return "[green]agrees[/green]" if result.replay.agreed else "[red]DISAGREES[/red]"


def _print_table(console: Console, run: ProofRun) -> None:
    from rich.table import Table

    table = Table(title="dynamokv prove: Z3 theorems and negative controls", title_justify="left")
    table.add_column("theorem", no_wrap=True)
    table.add_column("kind")
    table.add_column("scope")
    table.add_column("result", no_wrap=True)
    table.add_column("spec", no_wrap=True)
    table.add_column("seconds", justify="right")
    for result in run.results:
        name = result.name if result.kind == "theorem" else f"  {result.name}"
        table.add_row(
            name,
            result.kind,
            result.scope,
            _result_cell(result),
            _replay_cell(result),
            f"{result.seconds:.3f}",
        )
    console.print(table)
    theorems = run.count("theorem")
    controls = run.count("control")
    if run.ok:
        console.print(
            f"[green]OK[/green]: {theorems} theorems proved, {controls} negative controls "
            f"refuted, every spec replay agreed, in {run.seconds:.2f} s"
        )
    else:
        failed = ", ".join(result.name for result in run.failures) or "nothing was run"
        console.print(
            f"[red]FAILED[/red]: {len(run.failures)} of {len(run.results)} rows "
            f"({failed}) in {run.seconds:.2f} s"
        )


def _print_details(console: Console, results: Any) -> None:
    from rich.markup import escape

    for result in results:
        console.print(f"[bold]{result.name}[/bold] ({result.reference}): {escape(result.claim)}")
        if result.witness:
            console.print(f"  witness: {escape(result.witness)}")
        if result.counterexample:
            console.print(f"  counterexample: {escape(result.counterexample)}")
        if result.replay is not None:
            verdict = "agreed" if result.replay.agreed else "DISAGREED"
            console.print(f"  spec replay {verdict}: {escape(result.replay.detail)}")
        if result.note:
            console.print(f"  note: {escape(result.note)}")
