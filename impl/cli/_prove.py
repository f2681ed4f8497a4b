"""``dynamokv prove``: run every Z3 theorem and its negative controls, print the table.

The proofs themselves live in :mod:`dynamokv.proofs`, which knows nothing about
terminals; this module parses the options, renders the results with rich, and turns
the verdict into the exit status: 0 only when every theorem is proved, every control
refuted and every spec replay agreed.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dynamokv.proofs import ProofResult, ProofRun
    from rich.console import Console

EXIT_OK = 0
EXIT_FAILED = 1
CROSSHAIR_PER_CONDITION_TIMEOUT = 4.0
"""Seconds per contract, as in ``make crosshair``."""


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
        help="also run CrossHair over the contracts of spec/ (slow: minutes)",
    )
    parser.add_argument(
        "--timeout",
        type=_positive_seconds,
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


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive: {text!r}")
    return value


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
    try:
        entries = proofs.select(names) if names else proofs.REGISTRY
    except proofs.UnknownProofError as error:
        args.prove_parser.error(f"{error}; 'dynamokv prove --list' shows the names")
    console = _console()
    if args.list:
        _print_list(console, entries)
        return EXIT_OK
    timeout_ms = None if args.timeout is None else int(args.timeout * 1000)
    if console.is_terminal:
        with console.status(f"proving {len(entries)} theorems and controls…"):
            run = proofs.run(entries, timeout_ms=timeout_ms)
    else:
        run = proofs.run(entries, timeout_ms=timeout_ms)
    results = list(run.results)
    seconds = run.seconds
    if args.crosshair:
        from pathlib import Path

        import dynamokv.spec

        target = Path(dynamokv.spec.__file__).resolve().parent
        # The same entry point as `make crosshair`, when the project provides one.
        wrapper = "dynamokv.impl.cli._crosshair"
        command = (sys.executable, "-m", wrapper) if importlib.util.find_spec(wrapper) else None
        waiting = console.status("running CrossHair over spec/…")
        with waiting if console.is_terminal else contextlib.nullcontext():
            crosshair = proofs.crosshair_check(
                target, per_condition_timeout=CROSSHAIR_PER_CONDITION_TIMEOUT, command=command
            )
        results.append(crosshair)
        seconds += crosshair.seconds
    final = proofs.ProofRun(tuple(results), seconds)
    _print_table(console, final)
    if args.verbose:
        _print_details(console, final.results)
    elif final.failures:
        _print_details(console, final.failures)
    return EXIT_OK if final.ok else EXIT_FAILED


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
