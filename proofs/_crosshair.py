"""Running CrossHair over contract-carrying modules: the first rung of the verification ladder.

Why a subprocess: CrossHair patches the interpreter while it explores symbolic
paths, so it runs in a process of its own; its verdict comes back as a
:class:`~dynamokv.proofs.ProofResult` row, like a theorem's. For
contracts, "proved" means "no counterexample found within the per-condition
timeout", a bounded search, and the scope says so. For ``diffbehavior`` pairs it
means more: CrossHair reported every path explored; a search stopped by its bound
is unknown.

Why a pair's search stops at its first difference: CrossHair's ``diffbehavior`` goes on
searching, both argument orders, until its bound, and only then prints what it found. A
difference that shows when both functions run already decides the row (refuted), so
:func:`crosshair_main`, the command line these rows run, stops the search there; a
difference that does not show lets the search go on, and a pair with none is still
explored to exhaustion (proved) or to its bound (unknown).

Why bounded by CPU time: CrossHair's own per-condition bound counts the CPU it spends,
so the run's overall bound does too. A wall-clock bound turned a complete run into
*unknown* whenever the machine was busy (other processes took the CPU, not CrossHair);
the run is stopped when CrossHair has *used* its CPU budget, or when it has used no
CPU at all for a while (a stalled process, not a slow one).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._result import Kind, ProofResult, Status, Stopwatch

__all__ = [
    "crosshair_check",
    "crosshair_diffbehavior",
    "crosshair_main",
    "run_cpu_bounded",
    "stop_at_first_difference",
]

OUTPUT_LINES_MAX = 5
STALL_SECONDS = 300.0
"""Wall-clock seconds in which a run that used no CPU at all is taken as stalled."""
POLL_SECONDS = 1.0
COMMAND = (
    sys.executable,
    "-c",
    "import sys; from dynamokv.proofs import crosshair_main; sys.exit(crosshair_main(sys.argv[1:]))",
)
"""The default way to start CrossHair: its command line, through :func:`crosshair_main`."""


@dataclass(frozen=True)
class Bounded:
    """How a CPU-bounded run ended."""

    returncode: int | None
    """None: stopped by a bound (see ``note``)."""
    stdout: str
    stderr: str
    cpu_seconds: float
    note: str | None = None


def _cpu_seconds(pid: int) -> float | None:
    """The user + system CPU time the process ``pid`` has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3, utime 14, stime 15 (man 5 proc).
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_cpu_bounded(
    argv: Sequence[str], *, cpu_seconds: float, stall_seconds: float = STALL_SECONDS
) -> Bounded:
    """Run ``argv`` until it exits, has used ``cpu_seconds`` of CPU, or stalls.

    A busy machine slows the run down in wall-clock time but does not change how
    much CPU it needs, so the verdict does not depend on the load.
    """
    process = subprocess.Popen(
        list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    used = 0.0
    progress_at = 0.0
    waited = 0.0
    note: str | None = None
    while True:
        try:
            stdout, stderr = process.communicate(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            waited += POLL_SECONDS
            now = _cpu_seconds(process.pid)
            if now is not None and now > used:
                used, progress_at = now, waited
            if used >= cpu_seconds:
                note = f"CPU bound of {cpu_seconds:g} s reached"
            elif waited - progress_at >= stall_seconds:
                note = f"stalled: no CPU used for {waited - progress_at:g} s"
            if note is None:
                continue
            process.kill()
            stdout, stderr = process.communicate()
            return Bounded(None, stdout, stderr, used, note)
        return Bounded(process.returncode, stdout, stderr, used)


def crosshair_check(
    target: Path | str,
    *,
    name: str = "crosshair.spec_contracts",
    per_condition_timeout: float = 4.0,
    cpu_seconds: float = 1800.0,
    command: Sequence[str] | None = None,
) -> ProofResult:
    """Run ``crosshair check --analysis_kind=icontract`` on ``target`` (a file or folder).

    Args:
        target: what to check: a folder such as ``spec/``, a file, or ``file.py:LINE``
            for the one function defined at that line.
        name: the row's name.
        per_condition_timeout: CPU seconds CrossHair spends on each contract.
        cpu_seconds: the whole run is stopped (status unknown) when it has used this
            much CPU, or when it stalls.
        command: how to start CrossHair; default ``python -m crosshair``. The
            command line passes the project's wrapper (the one ``make crosshair``
            uses), which this package may not import.

    Returns:
        Proved when CrossHair exits 0 with no findings, refuted with its first
        findings as the counterexample, unknown when it could not run or timed out.
    """
    stopwatch = Stopwatch()
    argv = [
        *(command or (sys.executable, "-m", "crosshair")),
        "check",
        "--analysis_kind=icontract",
        f"--per_condition_timeout={per_condition_timeout:g}",
        str(target),
    ]
    status: Status
    counterexample: str | None
    note: str | None
    where = Path(str(target).split(":")[0])
    label = f"{where.name}/" if where.is_dir() else where.name
    scope = (
        f"{label} contracts, {per_condition_timeout:g} s CPU per condition, "
        f"{cpu_seconds:g} s CPU in all"
    )
    completed = run_cpu_bounded(argv, cpu_seconds=cpu_seconds)
    findings = [line for line in completed.stdout.splitlines() if line.strip()]
    if completed.returncode is None:
        status, counterexample, note = Status.UNKNOWN, None, completed.note
    elif completed.returncode == 0 and not findings:
        status, counterexample, note = Status.PROVED, None, None
    elif findings:
        status, note = Status.REFUTED, None
        counterexample = "\n".join(findings[:OUTPUT_LINES_MAX])
    else:
        status, counterexample = Status.UNKNOWN, None
        error = completed.stderr.strip().splitlines()
        note = f"crosshair exited {completed.returncode}: {error[-1] if error else ''}"
    note = f"{completed.cpu_seconds:.0f} s CPU" + (f"; {note}" if note else "")
    return ProofResult(
        name=name,
        kind="theorem",
        claim="no input breaks a contract of the spec",
        scope=scope,
        status=status,
        seconds=stopwatch.seconds(),
        counterexample=counterexample,
        reference="spec contracts",
        note=note,
    )


def crosshair_diffbehavior(
    function1: str,
    function2: str,
    *,
    name: str,
    kind: Kind,
    claim: str,
    per_condition_timeout: float = 10.0,
    cpu_seconds: float = 600.0,
    command: Sequence[str] | None = None,
    reference: str = "",
) -> ProofResult:
    """Run ``crosshair diffbehavior function1 function2`` and judge its answer.

    CrossHair explores the paths through both functions symbolically. When it has
    explored every one without a difference the functions are equivalent on the
    domain the arguments' types describe: status proved. A difference is a
    counterexample, status refuted, once both functions, run on its arguments, give
    different answers: CrossHair models builtins such as ``sorted`` and ``dict``
    symbolically, and where its model parts from Python a difference may not show
    when the functions run (a difference whose arguments cannot be read back, or whose
    functions cannot be imported, stays refuted). Anything else (a difference that does
    not show, the time bound reached with paths left, a crash, a non-deterministic
    function) is unknown, never equivalent. Of several differences reported, the first
    that shows is the counterexample.

    Args:
        function1: import path of the first function (``package.module.function``).
        function2: import path of the second; both take the same arguments.
        name: the row's name.
        kind: ``"theorem"`` for a pair that must be equivalent, ``"control"`` for a
            planted divergence that must be found.
        claim: the statement, one sentence.
        per_condition_timeout: CPU seconds CrossHair spends (both argument orders together).
        cpu_seconds: the whole run is stopped (status unknown) when it has used this
            much CPU, or when it stalls.
        command: how to start CrossHair; default :data:`COMMAND`, which stops the
            search at the first difference that shows (:func:`crosshair_main`).
        reference: the paper section or the spec the pair is about.
    """
    stopwatch = Stopwatch()
    argv = [
        *(command or COMMAND),
        "diffbehavior",
        f"--per_condition_timeout={per_condition_timeout:g}",
        function1,
        function2,
    ]
    scope = f"every path, {per_condition_timeout:g} s CPU bound"
    counterexample: str | None = None
    note: str | None = None
    status = Status.UNKNOWN
    completed = run_cpu_bounded(argv, cpu_seconds=cpu_seconds)
    if completed.returncode is None:
        note = completed.note
    else:
        lines = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
        attempted = next((line for line in lines if line.startswith("No differences")), "")
        givens = [index for index, line in enumerate(lines) if line.startswith("Given:")]
        shown = next(
            (
                index
                for index in givens
                if _difference_shows(function1, function2, lines[index]) is not False
            ),
            None,
        )
        if completed.returncode == 1 and shown is not None:
            status = Status.REFUTED
            counterexample = "\n".join(lines[shown : shown + OUTPUT_LINES_MAX])
        elif completed.returncode == 1 and givens:
            note = f"CrossHair's difference at {lines[givens[0]]} does not show when both run"
        elif completed.returncode == 0 and any("All paths exhausted" in line for line in lines):
            status = Status.PROVED
            note = attempted or None
        elif completed.returncode == 0:
            note = f"bound reached with paths left: {attempted or 'no verdict'}"
        else:
            error = completed.stderr.strip().splitlines()
            note = f"crosshair exited {completed.returncode}: {error[-1] if error else ''}"
    return ProofResult(
        name=name,
        kind=kind,
        claim=claim,
        scope=scope,
        status=status,
        seconds=stopwatch.seconds(),
        counterexample=counterexample,
        reference=reference,
        note=note,
    )


def _difference_shows(function1: str, function2: str, given: str) -> bool | None:
    """Whether the two functions, run on the arguments of CrossHair's ``Given: (a=...,
    b=...),`` line, return different values (or raise different exception types); None
    when the arguments are not literals or a function cannot be imported."""
    try:
        call = ast.parse("f" + given.removeprefix("Given:").strip().rstrip(","), mode="eval")
        if not isinstance(call.body, ast.Call):
            return None
        args = [ast.literal_eval(argument) for argument in call.body.args]
        kwargs = {
            str(keyword.arg): ast.literal_eval(keyword.value) for keyword in call.body.keywords
        }
        functions = [_imported(path) for path in (function1, function2)]
    except (SyntaxError, ValueError, ImportError, AttributeError):
        return None
    outcomes: list[tuple[str, object]] = []
    for function in functions:
        try:
            outcomes.append(("returns", function(*args, **kwargs)))
        except Exception as error:  # a difference may be one function raising
            outcomes.append(("raises", type(error)))
    return outcomes[0] != outcomes[1]


def _imported(path: str) -> Any:
    """The object at ``package.module.name``."""
    module, _, attribute = path.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def crosshair_main(argv: Sequence[str]) -> int:
    """CrossHair's command line (``argv`` as after ``crosshair``); returns its exit code.

    ``diffbehavior`` stops at the first difference that shows when both functions run
    (:func:`stop_at_first_difference`); every other command is CrossHair's own.
    """
    from crosshair.main import command_line_parser
    from crosshair.main import main as crosshair_command_line

    try:
        arguments = command_line_parser().parse_args(list(argv))
        if arguments.action == "diffbehavior":
            stop_at_first_difference(arguments.fn1, arguments.fn2)
        crosshair_command_line(list(argv))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def stop_at_first_difference(function1: str, function2: str) -> bool:
    """Make this process's ``diffbehavior`` of ``function1`` and ``function2`` stop at the
    first difference that shows when both run (:func:`_difference_shows`), without
    searching the rest of its bound or the other argument order.

    CrossHair has no option for this: its search (``explore_paths``) stops when the
    callback it gives each explored path returns true, and each difference it finds is
    a ``BehaviorDiff``. A difference that does not show (CrossHair's model of a builtin
    parting from Python's) is kept and the search goes on. Returns False, and changes
    nothing, when CrossHair's internals are not the ones this relies on: the search then
    runs to its bound, which costs time but gives the same verdict.
    """
    try:
        diff_behavior: Any = importlib.import_module("crosshair.diff_behavior")
        tracers: Any = importlib.import_module("crosshair.tracers")
    except ImportError:
        return False
    explore_paths = getattr(diff_behavior, "explore_paths", None)
    behavior_diff = getattr(diff_behavior, "BehaviorDiff", None)
    if explore_paths is None or behavior_diff is None:
        return False
    shown: list[object] = []

    def _shows(arguments: dict[str, str]) -> bool:
        given = "Given: (" + ", ".join(f"{name}={value}" for name, value in arguments.items())
        return _difference_shows(function1, function2, given + "),") is not False

    def recorded(*args: Any, **kwargs: Any) -> Any:
        difference = behavior_diff(*args, **kwargs)
        if not shown:
            # Run both functions concretely, outside CrossHair's symbolic execution.
            with tracers.NoTracing() if tracers.is_tracing() else contextlib.nullcontext():
                if _shows(difference.args):
                    shown.append(difference)
        return difference

    def explore(
        fn: Any, sig: Any, options: Any, search_root: Any, on_path_complete: Any, **kwargs: Any
    ) -> None:
        if shown:  # the other argument order: already decided
            return

        def completed(*path: Any) -> bool:
            return bool(on_path_complete(*path)) or bool(shown)

        explore_paths(fn, sig, options, search_root, completed, **kwargs)

    diff_behavior.BehaviorDiff = recorded
    diff_behavior.explore_paths = explore
    return True
