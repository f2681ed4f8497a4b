"""``dynamokv lab``: the teaching workbench's command line.

Everything it shows comes from :mod:`dynamokv.labs`, which grades and measures
but never prints; this module only parses arguments and renders (rich for
people, ``--json`` for programs). A check's output follows check50 and DSLabs:
one line per check with its tier, paper section and points, and under a failure
the smallest counterexample found, what the learner's code returned beside the
answer key's, why the rule holds, what to look at, and the exact command that
replays it.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import CliError
from ._types import positive_seconds

if TYPE_CHECKING:
    from dynamokv.labs import CheckResult, ExperimentReport, Lab, LabReport, SolutionSource
    from rich.console import Console

__all__ = ["register"]

EXIT_FAILED = 1
DEFAULT_SEED = 1

_MARKS = {
    "passed": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "skipped": "[dim]–[/]",
    "unknown": "[yellow]?[/]",
}


def register(subparsers: Any) -> None:
    """Add ``lab`` and its subcommands."""
    parser = subparsers.add_parser(
        "lab",
        help="the labs: rebuild Dynamo's core ideas, graded against the project's own code",
        description=(
            "Labs that answer Dynamo interview questions by building the answer. "
            "Start one, edit the file it gives you, check it, ask for hints, measure it "
            "against theory. Every check is seeded and prints the command that replays it."
        ),
    )
    parser.set_defaults(handler=lambda args: _help(parser))
    commands = parser.add_subparsers(title="lab commands", metavar="COMMAND")

    def command(name: str, help_text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument("--json", action="store_true", help="print JSON instead of text")
        sub.set_defaults(handler=handler)
        return sub

    def workspace_option(sub: Any) -> None:
        sub.add_argument(
            "--workspace",
            metavar="DIR",
            default="lab-work",
            help="where the labs' workspaces live (default ./lab-work)",
        )

    def lab_argument(sub: Any) -> None:
        sub.add_argument("lab", metavar="LAB", help="the lab's short name: see `dynamokv lab list`")

    def solution_options(sub: Any) -> None:
        group = sub.add_mutually_exclusive_group()
        group.add_argument(
            "--answer-key", action="store_true", help="grade the project's own functions instead"
        )
        group.add_argument(
            "--skeleton", action="store_true", help="grade the untouched skeleton instead"
        )
        group.add_argument(
            "--mutant", metavar="NAME", help="grade a planted wrong solution (see lab selftest)"
        )

    sub = command("list", "the labs, their parts and points, and your progress", _list)
    workspace_option(sub)

    sub = command("start", "copy a lab's skeleton into your workspace and say what to open", _start)
    lab_argument(sub)
    workspace_option(sub)
    sub.add_argument("--force", action="store_true", help="overwrite an existing workspace")

    sub = command("check", "grade your workspace, tier by tier", _check)
    lab_argument(sub)
    workspace_option(sub)
    solution_options(sub)
    sub.add_argument(
        "--part",
        action="append",
        metavar="P",
        help="only this part (1) or check (1.2); repeatable or comma-separated",
    )
    sub.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"the random seed (default {DEFAULT_SEED})"
    )
    sub.add_argument(
        "--timeout",
        type=positive_seconds,
        metavar="SECONDS",
        help="CPU-time bound per check, in seconds (default: each check's own)",
    )

    sub = command(
        "hint",
        "the next hint about a function that did not pass your last `lab check` "
        "(one unlocks after each check)",
        _hint,
    )
    lab_argument(sub)
    workspace_option(sub)
    which = sub.add_mutually_exclusive_group()
    which.add_argument("--again", action="store_true", help="show the hints already shown")
    which.add_argument(
        "--all",
        action="store_true",
        help="the next hint in order, also one about a function that passes",
    )

    sub = command("experiment", "measure your code against the theory", _experiment)
    lab_argument(sub)
    workspace_option(sub)
    solution_options(sub)
    sub.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"the random seed (default {DEFAULT_SEED})"
    )
    sub.add_argument(
        "--predict", metavar="ANSWER", help="your prediction, printed beside the measurement"
    )

    sub = command("reset", "start a lab over (your file is kept as FILE.previous)", _reset)
    lab_argument(sub)
    workspace_option(sub)

    sub = command(
        "selftest",
        "grade the graders: the skeleton fails, the answer key passes, "
        "each planted bug is caught by its named check",
        _selftest,
    )
    sub.add_argument("lab", metavar="LAB", nargs="?", help="one lab (default: all)")
    depth = sub.add_mutually_exclusive_group()
    depth.add_argument(
        "--quick",
        action="store_true",
        help="one seed; each mutant only until its first failing check (the default)",
    )
    depth.add_argument(
        "--full",
        action="store_true",
        help="three seeds; every check on every mutant; every experiment against its mutant",
    )


def _help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


# -- helpers -------------------------------------------------------------------------------


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _escape(text: str) -> str:
    """``text`` as it reads, with nothing in it taken for Rich markup.

    A counterexample such as ``[b'', b'book']`` looks like a markup tag to Rich,
    which would print nothing in its place.
    """
    from rich.markup import escape

    return escape(text)


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _lab(name: str) -> Lab:
    from dynamokv.labs import UnknownLabError, get_lab

    try:
        return get_lab(name)
    except UnknownLabError as error:
        raise CliError(str(error)) from None


def _root(args: argparse.Namespace) -> Path:
    return Path(args.workspace)


@contextmanager
def _progress(description: str, total: int, *, enabled: bool) -> Iterator[Callable[[], None]]:
    """A transient progress bar on stderr; yields the function that advances it."""
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda: progress.advance(task)


def _source(args: argparse.Namespace, lab: Lab) -> SolutionSource:
    """What ``--answer-key`` / ``--skeleton`` / ``--mutant`` / the workspace select."""
    from dynamokv.labs import (
        SolutionSource,
        WorkspaceError,
        answer_source,
        mutants_of,
        read_stamp,
        skeleton_source,
        workspace_file,
        workspace_flag,
    )

    if args.answer_key:
        return answer_source()
    if args.skeleton:
        return skeleton_source(lab)
    if args.mutant:
        mutants = {mutant.name: mutant for mutant in mutants_of(lab)}
        if args.mutant not in mutants:
            raise CliError(
                f"{lab.name} has no mutant {args.mutant!r}: {', '.join(sorted(mutants))}"
            )
        return mutants[args.mutant].source()
    root = _root(args)
    try:
        read_stamp(root, lab)
    except WorkspaceError as error:
        raise CliError(str(error)) from None
    path = workspace_file(root, lab)
    try:
        # Bytes, as Python reads a module: a coding line is honoured.
        ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        where = f"line {error.lineno}: " if error.lineno else ""
        raise CliError(f"{path} does not parse: {where}{error.msg}") from None
    except ValueError as error:  # a null byte
        raise CliError(f"{path} does not parse: {error}") from None
    return SolutionSource("file", str(path.resolve()), "workspace", workspace_flag(root).strip())


# -- list, start, reset, hint -------------------------------------------------------------


def _progress_of(root: Path, lab: Lab) -> dict[str, Any] | None:
    from dynamokv.labs import WorkspaceError, parts_passed, read_stamp

    try:
        stamp = read_stamp(root, lab)
    except WorkspaceError:
        return None
    return {
        "parts_passed": parts_passed(stamp),
        "score": stamp.score,
        "hints_shown": len(stamp.hints_shown),
        "parts": stamp.parts,
    }


def _list(args: argparse.Namespace) -> int:
    from dynamokv.labs import LABS

    root = _root(args)
    if args.json:
        _print_json(
            [
                {
                    "lab": lab.name,
                    "title": lab.title,
                    "question": lab.question,
                    "points": lab.points,
                    "parts": [
                        {
                            "part": part.part_id,
                            "title": part.title,
                            "points": part.points,
                            "functions": list(part.functions),
                            "checks": [check.check_id for check in part.checks],
                        }
                        for part in lab.parts
                    ],
                    "progress": _progress_of(root, lab),
                }
                for lab in LABS.values()
            ]
        )
        return 0
    from rich.table import Table

    table = Table(title="dynamokv labs", title_justify="left")
    for heading in ("lab", "title", "parts", "points", "your progress"):
        table.add_column(heading)
    for lab in LABS.values():
        progress = _progress_of(root, lab)
        if progress is None:
            shown = "[dim]not started[/]"
        else:
            # The parts as last checked (a --part run updates those it ran); the points are
            # those of the last full check, the only run that scores every part.
            shown = (
                f"{progress['parts_passed']}/{len(lab.parts)} parts, "
                f"{progress['score']}/{lab.points} points at the last full check"
            )
        parts = "\n".join(f"{part.part_id}. {part.title}" for part in lab.parts)
        table.add_row(lab.name, _escape(lab.title), _escape(parts), str(lab.points), shown)
    console = _console()
    console.print(table)
    console.print("start one with [bold]dynamokv lab start LAB[/]")
    return 0


def _start(args: argparse.Namespace) -> int:
    from dynamokv.labs import WorkspaceError, lab_folder, start_workspace, workspace_flag

    lab = _lab(args.lab)
    try:
        path = start_workspace(_root(args), lab, force=args.force)
    except WorkspaceError as error:
        raise CliError(str(error)) from None
    readme = lab_folder(lab) / "README.md"
    if args.json:
        _print_json({"lab": lab.name, "file": str(path), "readme": str(readme)})
        return 0
    flag = workspace_flag(_root(args))
    console = _console()
    console.print(f"[bold]{lab.name}[/]: {_escape(lab.title)}")
    console.print(f"  the question: {_escape(lab.question)}")
    console.print(f"  1. read     {_escape(str(readme))}")
    console.print(
        f"  2. edit     {_escape(str(path))}  (part {lab.parts[0].part_id} first: "
        f"{', '.join(lab.parts[0].functions)})"
    )
    console.print(f"  3. check    {_escape(f'dynamokv lab check {lab.name}{flag}')}")
    console.print(f"  stuck?      {_escape(f'dynamokv lab hint {lab.name}{flag}')}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from dynamokv.labs import WorkspaceError, reset_workspace

    lab = _lab(args.lab)
    try:
        path, kept = reset_workspace(_root(args), lab)
    except WorkspaceError as error:
        raise CliError(str(error)) from None
    if args.json:
        _print_json({"lab": lab.name, "file": str(path), "kept": str(kept) if kept else None})
        return 0
    console = _console()
    console.print(
        _escape(
            f"{path} is the skeleton again" + (f"; your file is kept as {kept}" if kept else "")
        )
    )
    return 0


def _hint(args: argparse.Namespace) -> int:
    import dataclasses

    from dynamokv.labs import (
        HintOutcome,
        WorkspaceError,
        choose_hint,
        hint_function,
        read_stamp,
        workspace_flag,
        write_stamp,
    )

    lab = _lab(args.lab)
    root = _root(args)
    try:
        stamp = read_stamp(root, lab)
    except WorkspaceError as error:
        raise CliError(str(error)) from None
    flag = workspace_flag(root)
    total = len(lab.hints)
    shown = [index for index in stamp.hints_shown if index < total]
    choice = choose_hint(
        lab,
        shown=shown,
        parts=stamp.parts,
        checks_since_hint=stamp.checks_since_hint,
        any_function=args.all,
    )
    again = f"`dynamokv lab hint {lab.name} --again{flag}`"
    anyway = f"`dynamokv lab hint {lab.name} --all{flag}` shows the next one anyway"
    new: int | None = None
    message = ""
    note = ""
    if args.again:
        message = "" if shown else "no hint shown yet"
    elif choice.outcome is HintOutcome.NEW:
        assert choice.index is not None
        new = choice.index
        shown.append(new)
        write_stamp(root, dataclasses.replace(stamp, hints_shown=tuple(shown), checks_since_hint=0))
        if choice.not_passing is None and not args.all:
            note = (
                "no check recorded yet, so the hints come in order: after "
                f"`dynamokv lab check {lab.name}{flag}` they are about what did not pass"
            )
    elif choice.outcome is HintOutcome.NONE_LEFT:
        message = f"every hint was shown ({total} of {total}): {again} shows them"
    elif choice.outcome is HintOutcome.ALL_PASSED:
        message = f"every part passed in your last check: no hint needed ({anyway})"
    elif choice.outcome is HintOutcome.ONLY_PASSING_LEFT:
        failing = ", ".join(choice.not_passing or ())
        message = (
            f"every remaining hint is about a function that passes; none is left about "
            f"{failing} ({anyway}, {again} shows the {len(shown)} shown)"
        )
    else:
        message = (
            f"try the last hint first: the next one unlocks after `dynamokv lab check "
            f"{lab.name}{flag}` ({again} shows the ones shown)"
        )
    if args.json:
        _print_json(
            {
                "lab": lab.name,
                "outcome": "again" if args.again else choice.outcome.value,
                "hint": lab.hints[new] if new is not None else None,
                "number": new + 1 if new is not None else None,
                "function": hint_function(lab.hints[new]) if new is not None else None,
                "targeted": new is not None and choice.targeted,
                "not_passing": (
                    list(choice.not_passing) if choice.not_passing is not None else None
                ),
                "total": total,
                "shown": [index + 1 for index in shown],
                "unlocked": [lab.hints[index] for index in shown] if args.again else [],
                "message": message,
                "note": note,
            }
        )
        return 0
    console = _console()
    if args.again:
        for index in shown:
            console.print(f"hint {index + 1}/{total}: {_escape(lab.hints[index])}")
    if new is not None:
        console.print(f"[bold]hint {new + 1}/{total}[/]: {_escape(lab.hints[new])}")
    for line in (message, note):
        if line:
            console.print(_escape(line))
    return 0


# -- check ---------------------------------------------------------------------------------


def _selection(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _render_result(console: Console, result: CheckResult) -> None:
    verdict = result.verdict
    tier = f"[{result.tier.upper()}]"  # upper case: never read as markup
    head = (
        f"{_MARKS[result.status.value]} {result.check_id} {tier:<12} {_escape(result.title)} "
        f"[dim]({_escape(result.section)})[/]"
    )
    points = f"{result.points}/{result.points_max}"
    console.print(f"{head}  {points}")
    if result.status.value == "skipped":
        console.print(f"    [dim]skipped: needs {_escape(str(result.skipped_because))}[/]")
        return
    if result.status.value == "unknown":
        console.print(f"    [yellow]{_escape(verdict.summary)}[/]")
        console.print(f"    replay: {_escape(result.replay)}")
        return
    if result.status.value == "passed":
        return
    if verdict.summary:
        console.print(f"    [red]{_escape(verdict.summary)}[/]")
    if verdict.counterexample:
        console.print(f"    counterexample: {_escape(verdict.counterexample)}")
    if verdict.yours:
        console.print(
            f"      yours: {_escape(verdict.yours)}     expected: {_escape(verdict.expected)}"
        )
    elif verdict.expected:
        console.print(f"      expected: {_escape(verdict.expected)}")
    if verdict.details:
        for line in verdict.details.splitlines():
            console.print(f"    {line}", markup=False)
    console.print(f"    why:  {_escape(result.rationale)}")
    console.print(f"    help: {_escape(result.help)}")
    console.print(f"    replay: [bold]{_escape(result.replay)}[/]")


def _report_json(report: LabReport) -> dict[str, Any]:
    from dynamokv.labs import to_json_value

    value: dict[str, Any] = to_json_value(report)
    value["score"] = report.score
    value["score_max"] = report.score_max
    return value


def _check(args: argparse.Namespace) -> int:
    from dynamokv.labs import (
        check_selection,
        record_check,
        run_lab,
        staleness_warnings,
    )
    from dynamokv.labs import read_stamp as read

    lab = _lab(args.lab)
    source = _source(args, lab)
    selection = _selection(args.part)
    try:
        chosen = check_selection(lab, selection)
    except KeyError as error:
        raise CliError(str(error.args[0])) from None
    root = _root(args)
    warnings: tuple[str, ...] = ()
    if source.kind == "file" and source.label == "workspace":
        warnings = staleness_warnings(root, lab, read(root, lab))
    console = _console()
    if not args.json:
        where = source.path if source.kind == "file" else source.label
        console.print(
            f"[bold]{lab.name}[/] · {_escape(lab.title)} · {_escape(str(where))} · seed {args.seed}"
        )
        for warning in warnings:
            console.print(f"[yellow]warning:[/] {_escape(warning)}")
    interactive = not args.json and sys.stderr.isatty()

    with _progress(f"checking {lab.name}", len(chosen), enabled=interactive) as advance:

        def shown(result: CheckResult) -> None:
            advance()
            if not args.json:
                _render_result(console, result)

        report = run_lab(
            lab,
            source,
            seed=args.seed,
            selection=selection,
            timeout_seconds=args.timeout,
            on_result=shown,
        )
    if source.label == "workspace":
        record_check(root, lab, report, full=selection is None)
    if args.json:
        value = _report_json(report)
        value["warnings"] = list(warnings)
        _print_json(value)
    else:
        unknown = sum(1 for r in report.results if r.status.value == "unknown")
        tail = f" · {unknown} unknown (0 points)" if unknown else ""
        console.print(
            f"score {report.score}/{report.score_max}{tail} · {report.seconds:.1f} s "
            f"({report.cpu_seconds:.1f} s of CPU)"
        )
        if report.score == report.score_max and selection is None:
            console.print(
                "every check passed. Measure it: [bold]"
                + _escape(f"dynamokv lab experiment {lab.name} {source.flags}".rstrip())
                + "[/]"
            )
    failed = any(r.status.value == "failed" for r in report.results)
    return EXIT_FAILED if failed else 0


# -- experiment ----------------------------------------------------------------------------


def _render_experiment(console: Console, report: ExperimentReport, prediction: str | None) -> None:
    from rich.table import Table

    table = Table(title=_escape(report.title), title_justify="left")
    for heading in ("quantity", "measured", "theory", "tolerance", ""):
        table.add_column(heading, justify="right" if heading in ("measured", "theory") else "left")
    for row in report.rows:
        if not row.judged:
            mark = "[dim]info[/]"
        else:
            mark = "[green]within[/]" if row.within else "[red]OUTSIDE[/]"
        cells = (row.quantity, row.measured, row.theory, row.tolerance)
        table.add_row(*(_escape(cell) for cell in cells), mark)
    if prediction:
        console.print(f"your prediction: {_escape(prediction)}")
    console.print(table)
    for note in report.notes:
        console.print(f"[dim]{_escape(note)}[/]")
    verdict = (
        "[green]every judged row within its tolerance[/]"
        if report.within
        else ("[red]some measurements fall outside the theory's tolerance[/]")
    )
    console.print(verdict)


def _experiment(args: argparse.Namespace) -> int:
    from dynamokv.labs import ExperimentFailure, run_experiment, to_json_value

    lab = _lab(args.lab)
    source = _source(args, lab)
    prediction = args.predict
    if prediction is None and not args.json and sys.stdin.isatty():
        try:
            prediction = input(f"{lab.experiment.question}\nyour prediction (Enter to skip): ")
        except EOFError:
            prediction = ""
    with _progress(
        f"measuring {lab.name}", 1, enabled=not args.json and sys.stderr.isatty()
    ) as advance:
        try:
            report = run_experiment(lab, source, seed=args.seed)
        except ExperimentFailure as error:
            raise CliError(f"the {lab.name} experiment failed on {source.label}: {error}") from None
        advance()
    if args.json:
        value = to_json_value(report)
        value["within"] = report.within
        value["lab"] = lab.name
        value["solution"] = source.label
        value["seed"] = args.seed
        value["prediction"] = prediction or None
        _print_json(value)
    else:
        _render_experiment(_console(), report, prediction or None)
    return 0 if report.within else EXIT_FAILED


# -- selftest ------------------------------------------------------------------------------


def _selftest(args: argparse.Namespace) -> int:
    from dynamokv.labs import (
        LABS,
        SELFTEST_SEEDS_FULL,
        SELFTEST_SEEDS_QUICK,
        ExperimentFailure,
        SelftestRow,
        answer_source,
        mutants_of,
        run_experiment,
        selftest_lab,
        to_json_value,
    )

    labs = [_lab(args.lab)] if args.lab else list(LABS.values())
    full = bool(args.full)
    seeds = SELFTEST_SEEDS_FULL if full else SELFTEST_SEEDS_QUICK
    total = sum((2 + len(mutants_of(lab))) * len(seeds) for lab in labs)
    rows: list[SelftestRow] = []
    experiments: list[dict[str, Any]] = []
    interactive = not args.json and sys.stderr.isatty()
    with _progress("selftest", total, enabled=interactive) as advance:

        def add(row: SelftestRow) -> None:
            rows.append(row)
            advance()

        for lab in labs:
            selftest_lab(lab, full=full, on_row=add)
            if full:
                experiments.extend(
                    _experiment_selftest(lab, answer_source(), run_experiment, ExperimentFailure)
                )
    ok = all(row.ok for row in rows) and all(item["ok"] for item in experiments)
    if args.json:
        _print_json(
            {
                "ok": ok,
                "mode": "full" if full else "quick",
                "rows": [to_json_value(row) for row in rows],
                "experiments": experiments,
            }
        )
        return 0 if ok else EXIT_FAILED
    from rich.table import Table

    table = Table(title=f"lab selftest ({'full' if full else 'quick'})", title_justify="left")
    for heading in ("lab", "graded", "seed", "must", "found", "", "seconds"):
        table.add_column(heading)
    for row in rows:
        mark = "[green]✓[/]" if row.ok else "[red]✗[/]"
        table.add_row(
            row.lab,
            _escape(row.solution),
            str(row.seed),
            _escape(row.expected),
            _escape(row.found),
            mark,
            f"{row.seconds:.1f}",
        )
    console = _console()
    console.print(table)
    for item in experiments:
        mark = "[green]✓[/]" if item["ok"] else "[red]✗[/]"
        console.print(
            f"{mark} {item['lab']} experiment: answer key within tolerance: "
            f"{item['answer_within']}; mutant {item['mutant']} outside: {item['mutant_outside']}"
        )
    bad = sum(1 for row in rows if not row.ok)
    console.print("[green]every grader behaved[/]" if ok else f"[red]{bad} rows did not behave[/]")
    return 0 if ok else EXIT_FAILED


def _experiment_selftest(
    lab: Lab, answer: SolutionSource, run: Any, failure: type[Exception]
) -> list[dict[str, Any]]:
    """The answer key lies within the experiment's tolerance; each named mutant outside."""
    from dynamokv.labs import mutants_of

    answer_within = run(lab, answer, seed=1).within
    items: list[dict[str, Any]] = []
    for name in lab.experiment.mutants:
        mutant = next(m for m in mutants_of(lab) if m.name == name)
        try:
            mutant_outside = not run(lab, mutant.source(), seed=1).within
        except failure:
            mutant_outside = True
        items.append(
            {
                "lab": lab.name,
                "mutant": mutant.name,
                "answer_within": answer_within,
                "mutant_outside": mutant_outside,
                "ok": answer_within and mutant_outside,
            }
        )
    return items
