"""Running checks and experiments on a solution, each in a process of its own.

Why a process per check: the learner's code may raise, loop forever, print, exit
or exhaust the recursion limit, and none of that may hang the workbench or show
its traceback. Each check runs in a child forked from a *forkserver* (a
single-threaded server that has imported the labs once, so a fork costs
milliseconds and never inherits a lock held by the parent's progress bar). The
parent waits for the child's :class:`~dynamokv.labs.Verdict` while the child's CPU
time stays within the check's time bound; past it the child is killed and the check
failed (the learner's code did not finish) or, for the symbolic tier, is *unknown*.
The bound counts CPU seconds, not wall-clock ones, because on a busy machine the same
check takes several times as long: a learner's laptop compiling beside the workbench
must not turn a correct answer into a time-out. Code that blocks (a sleep, a read that
never returns) uses no CPU, so the wall clock still stops it, at
``WALL_SECONDS_PER_CPU_SECOND`` times the bound. The child also reports the CPU seconds
it (and any process it waited for, such as CrossHair) used.

Order and skipping follow check50: parts run in order; a part is skipped while a
part it needs failed; within a part the checks run tier by tier, and a check is
skipped while an earlier one of its part failed. Every result carries the exact
command that replays it (``--part`` and ``--seed``).
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import resource
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ._model import (
    Check,
    CheckContext,
    CheckResult,
    ExperimentContext,
    ExperimentReport,
    Lab,
    LabReport,
    Status,
    Tier,
    Verdict,
)
from ._registry import LABS
from ._solution import LearnerError, SolutionSource, load_answer_key, load_solution

__all__ = [
    "ExperimentFailure",
    "check_selection",
    "run_experiment",
    "run_lab",
]

OUTPUT_LINES_MAX = 10
"""Lines of the learner's own printing shown under a failed check."""

_PRELOAD = ["dynamokv.labs", "hypothesis", "dynamokv.impl.sim"]

_context: Any = None


def _multiprocessing() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(_PRELOAD)
    return _context


class ExperimentFailure(Exception):
    """An experiment could not run on this solution (the code raised or looped): one line."""


def _printed(buffer: io.StringIO) -> str:
    lines = buffer.getvalue().splitlines()
    if not lines:
        return ""
    shown = lines[-OUTPUT_LINES_MAX:]
    return "your code printed:\n" + "\n".join("  " + line for line in shown)


def _cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _child_check(
    lab_name: str, check_id: str, source: SolutionSource, seed: int, quick: bool, conn: Connection
) -> None:
    """Run one check in a child process; send its verdict and CPU seconds back."""
    buffer = io.StringIO()
    verdict: Verdict
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        lab = LABS[lab_name]
        check = next(c for c in lab.checks() if c.check_id == check_id)
        try:
            # Without the answer key's contracts (the project's tests check them): a
            # differential check calls it hundreds of times, and shrinking thousands.
            solution = load_solution(source, lab.answer_key, contracts=False)
            context = CheckContext(
                lab=lab,
                solution=solution,
                answer=load_answer_key(lab.answer_key, contracts=False),
                seed=seed,
                source=source,
                quick=quick,
            )
            verdict = check.run(context)
        except LearnerError as error:
            verdict = Verdict(Status.FAILED, str(error))
        except Exception as error:  # raised outside the learner's functions: one line
            verdict = Verdict(
                Status.FAILED, f"failed outside your functions: {error!r}; {_OUTSIDE}"
            )
    printed = _printed(buffer)
    if printed and verdict.status is Status.FAILED:
        details = f"{verdict.details}\n{printed}" if verdict.details else printed
        verdict = Verdict(
            verdict.status,
            verdict.summary,
            verdict.counterexample,
            verdict.yours,
            verdict.expected,
            details,
        )
    conn.send((verdict, _cpu_seconds()))
    conn.close()


_OUTSIDE = (
    "the usual cause is a value one of your functions returns of the wrong type or shape, "
    "which the code using it then trips on (the lab's unit checks name the function); "
    "otherwise it is a bug in the grader"
)


def _child_experiment(lab_name: str, source: SolutionSource, seed: int, conn: Connection) -> None:
    """Run a lab's experiment in a child process and send its report (or the error) back."""
    buffer = io.StringIO()
    result: ExperimentReport | str
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        lab = LABS[lab_name]
        try:
            # The answer key's contracts are checked by the project's own tests; a
            # measurement of hundreds of thousands of calls runs its bodies alone.
            context = ExperimentContext(
                lab=lab,
                solution=load_solution(source, lab.answer_key, contracts=False),
                answer=load_answer_key(lab.answer_key, contracts=False),
                seed=seed,
            )
            result = lab.experiment.run(context)
        except LearnerError as error:
            result = str(error)
        except Exception as error:
            result = f"the experiment failed outside your functions: {error!r}; {_OUTSIDE}"
    conn.send(result)
    conn.close()


WALL_SECONDS_PER_CPU_SECOND = 10.0
"""A child that blocks instead of computing is stopped after this many wall-clock seconds
per CPU second of its bound."""

POLL_SECONDS = 0.1
"""How often the parent looks at a running child's CPU time."""


def _cpu_seconds_of(pid: int) -> float | None:
    """CPU seconds process ``pid`` has used (user and system, with the children it waited
    for), from ``/proc/PID/stat``; None where there is no such file."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # After the command name in parentheses: the state, then ..., utime, stime, cutime and
    # cstime as the 12th to 15th fields, in clock ticks.
    fields = stat.rsplit(")", 1)[1].split()
    return sum(int(field) for field in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _in_child(target: Callable[..., None], args: tuple[Any, ...], cpu_seconds_max: float) -> Any:
    """Run ``target(*args, conn)`` in a forked child; None when it ran out of time or died.

    The child may use ``cpu_seconds_max`` of CPU, and at most
    ``WALL_SECONDS_PER_CPU_SECOND`` times that of wall-clock time (where the CPU time of a
    process cannot be read, the wall clock alone bounds it, at ``cpu_seconds_max``).
    """
    context = _multiprocessing()
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, sender), daemon=True)
    process.start()
    sender.close()
    started = time.monotonic()
    try:
        while not receiver.poll(POLL_SECONDS):
            waited = time.monotonic() - started
            assert process.pid is not None  # started
            used = _cpu_seconds_of(process.pid)
            if used is None:
                used = waited
            if used > cpu_seconds_max or waited > cpu_seconds_max * WALL_SECONDS_PER_CPU_SECOND:
                return None
        try:
            return receiver.recv()
        except EOFError:
            return None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join()


def _timeout_verdict(check: Check, seconds: float) -> Verdict:
    if check.tier is Tier.SYMBOLIC:
        return Verdict(
            Status.UNKNOWN, f"unknown: no verdict within {seconds:g} s of CPU (0 points)"
        )
    return Verdict(
        Status.FAILED,
        f"did not finish within {seconds:g} s of CPU, or ended the process: does a function "
        "loop forever, or call exit()?",
    )


def check_selection(lab: Lab, selection: Sequence[str] | None) -> list[Check]:
    """The checks named by ``--part`` values (a part id or a check id); all when None.

    Raises:
        KeyError: a value names no part or check of ``lab`` (the message says which).
    """
    if not selection:
        return list(lab.checks())
    chosen: list[str] = []
    for wanted in selection:
        part = next((p for p in lab.parts if p.part_id == wanted), None)
        if part is not None:
            chosen.extend(check.check_id for check in part.checks)
        elif any(check.check_id == wanted for check in lab.checks()):
            chosen.append(wanted)
        else:
            raise KeyError(f"{lab.name} has no part or check {wanted!r}")
    return [check for check in lab.checks() if check.check_id in chosen]


def replay_command(lab: Lab, check: Check, source: SolutionSource, seed: int) -> str:
    """The exact command that runs ``check`` again on the same solution and seed."""
    flags = f" {source.flags}" if source.flags else ""
    return f"dynamokv lab check {lab.name} --part {check.check_id} --seed {seed}{flags}"


def run_lab(
    lab: Lab,
    source: SolutionSource,
    *,
    seed: int,
    selection: Sequence[str] | None = None,
    ignore_needs: bool = False,
    stop_at_first_failure: bool = False,
    quick: bool = False,
    timeout_seconds: float | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> LabReport:
    """Grade ``source`` with ``lab``'s checks.

    Args:
        lab: the lab.
        source: what to grade.
        seed: the random seed of every randomised check.
        selection: ``--part`` values; all checks when None.
        ignore_needs: run every part even when a part it needs failed (selftest
            grades each part of the skeleton on its own).
        stop_at_first_failure: skip everything after the first failed check
            (selftest's quick run of a mutant).
        quick: smaller simulations.
        timeout_seconds: overrides every check's own time bound.
        on_result: called after each check (a progress bar).
    """
    started = time.monotonic()
    checks = check_selection(lab, selection)
    results: list[CheckResult] = []
    part_failed: set[str] = set()
    failed_in_part: dict[str, str] = {}
    stopped = False
    for check in checks:
        part = lab.part_of(check.check_id)
        blocker = ""
        if stopped:
            blocker = "an earlier check failed"
        elif not ignore_needs:
            blocked_by = [need for need in part.needs if need in part_failed]
            if blocked_by:
                blocker = f"part {blocked_by[0]}"
        if not blocker and part.part_id in failed_in_part:
            blocker = failed_in_part[part.part_id]
        check_started = time.monotonic()
        cpu_seconds = 0.0
        if blocker:
            verdict = Verdict(Status.SKIPPED)
        else:
            bound = timeout_seconds or check.timeout_seconds
            received = _in_child(
                _child_check, (lab.name, check.check_id, source, seed, quick), bound
            )
            if isinstance(received, tuple):
                verdict, cpu_seconds = received
            else:
                verdict = _timeout_verdict(check, bound)
        status = verdict.status
        if status is Status.FAILED or status is Status.SKIPPED:
            part_failed.add(part.part_id)
            failed_in_part.setdefault(part.part_id, check.check_id)
            if status is Status.FAILED and stop_at_first_failure:
                stopped = True
        result = CheckResult(
            check_id=check.check_id,
            part_id=part.part_id,
            title=check.title,
            tier=check.tier.value,
            section=check.section,
            points=check.points if status is Status.PASSED else 0,
            points_max=check.points,
            status=status,
            verdict=verdict,
            skipped_because=blocker,
            replay=replay_command(lab, check, source, seed),
            rationale=check.rationale,
            help=check.help,
            seconds=round(time.monotonic() - check_started, 3),
            cpu_seconds=round(cpu_seconds, 3),
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return LabReport(
        lab=lab.name,
        solution=source.label,
        seed=seed,
        results=tuple(results),
        seconds=round(time.monotonic() - started, 3),
        cpu_seconds=round(sum(result.cpu_seconds for result in results), 3),
    )


def run_experiment(
    lab: Lab,
    source: SolutionSource,
    *,
    seed: int,
    timeout_seconds: float | None = None,
) -> ExperimentReport:
    """Measure ``source`` with ``lab``'s experiment, in a child process with a time bound.

    Raises:
        ExperimentFailure: the solution raised, looped or ended the process.
    """
    bound = timeout_seconds or lab.experiment.timeout_seconds
    received = _in_child(_child_experiment, (lab.name, source, seed), bound)
    if isinstance(received, ExperimentReport):
        return received
    if isinstance(received, str):
        raise ExperimentFailure(received)
    raise ExperimentFailure(f"the experiment did not finish within {bound:g} s")
