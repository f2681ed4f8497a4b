"""The machinery of the tiers: paper cases, Hypothesis differentials, CrossHair diffs.

A lab's checks are short functions that call these helpers with their own cases,
strategies and printers, and return a :class:`~dynamokv.labs.Verdict`:

* :func:`unit_cases`: each case is an input from the paper with its expected
  output; the first that differs is the counterexample.
* :func:`differential`: Hypothesis draws inputs from a strategy under the run's
  seed and compares the learner's function with the answer key's; on a difference
  it shrinks, and the verdict shows the *shrunk* input (Hypothesis replays the
  minimal failing example last, so the last failure recorded is the smallest).
* :func:`diffbehavior`: CrossHair's ``diffbehavior`` in a subprocess with a time
  bound, between two module-level wrappers (one calls the learner's function, one
  the answer key's); exhausting every path is a pass, a difference is a failure
  shown as CrossHair prints it, and anything else (a time-out, a search stopped
  early) is *unknown*: 0 points, never a pass.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ._model import CheckContext, Status, Verdict
from ._solution import SOLUTION_ENVIRONMENT_VARIABLE, LearnerError

__all__ = ["Case", "diffbehavior", "differential", "unit_cases"]

T = TypeVar("T")

EXAMPLES_MAX = 200
"""Hypothesis examples per differential check."""


@dataclass(frozen=True)
class Case:
    """One paper example: a call and what it must return.

    Attributes:
        function: the learner's function to call.
        args: its positional arguments.
        expected: what it must return.
        shown: how to show the call to the learner.
    """

    function: str
    args: tuple[Any, ...]
    expected: Any
    shown: str


def _failed(counterexample: str, yours: str, expected: str, summary: str = "") -> Verdict:
    return Verdict(Status.FAILED, summary, counterexample, yours, expected)


def unit_cases(
    ctx: CheckContext,
    cases: Iterable[Case],
    *,
    show: Callable[[Any], str] = repr,
    equal: Callable[[Any, Any], bool] = lambda a, b: bool(a == b),
    source: str = "from the paper",
    call_keywords: Mapping[str, Any] | None = None,
) -> Verdict:
    """Run each case; the first whose result differs (or that raises) fails the check.

    ``source`` says where the cases come from, for the passing summary;
    ``call_keywords`` are passed to every call.
    """
    count = 0
    for case in cases:
        count += 1
        try:
            result = ctx.solution[case.function](
                *copy.deepcopy(case.args), **dict(call_keywords or {})
            )
        except LearnerError as error:
            return _failed(case.shown, "", show(case.expected), str(error))
        if not equal(result, case.expected):
            return _failed(case.shown, show(result), show(case.expected))
    return Verdict(Status.PASSED, f"{count} case{'' if count == 1 else 's'} {source}")


def differential(
    ctx: CheckContext,
    strategy: st.SearchStrategy[T],
    *,
    call: Callable[[Callable[..., Any], T], Any],
    function: str,
    show_input: Callable[[T], str],
    show_output: Callable[[Any], str] = repr,
    equal: Callable[[Any, Any], bool] = lambda a, b: bool(a == b),
    examples: int = EXAMPLES_MAX,
) -> Verdict:
    """The learner's ``function`` equals the answer key's on ``examples`` generated inputs.

    Args:
        ctx: the check's context (its seed seeds Hypothesis).
        strategy: draws one input.
        call: calls a function (the learner's or the answer key's) on an input.
        function: the name of the function compared.
        show_input: the input as the learner should read it.
        show_output: an output as the learner should read it.
        equal: when two outputs agree.
        examples: how many inputs to try.
    """
    failures: list[tuple[T, str, str]] = []
    learner = ctx.solution[function]
    answer = ctx.answer[function]

    def compare(value: T) -> None:
        expected = call(answer, value)
        try:
            result = call(learner, value)
        except LearnerError as error:
            failures.append((value, f"raised: {error}", show_output(expected)))
            raise
        if not equal(result, expected):
            failures.append((value, show_output(result), show_output(expected)))
            raise AssertionError("differs from the answer key")

    runs = examples
    test = hypothesis_seed(ctx.seed)(
        settings(
            database=None,
            max_examples=runs,
            deadline=None,
            derandomize=False,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        )(given(strategy)(compare))
    )
    try:
        test()
    except (AssertionError, LearnerError):
        value, yours, expected = failures[-1]
        if yours.startswith("raised: "):
            return _failed(show_input(value), "", expected, yours.removeprefix("raised: "))
        return _failed(show_input(value), yours, expected)
    return Verdict(Status.PASSED, f"agrees with the answer key on {runs} generated inputs")


CROSSHAIR_PER_CONDITION_SECONDS = 6.0
"""CPU seconds CrossHair may spend searching (per condition)."""

EXHAUSTED = "All paths exhausted"
DIFFERENCE = "Given:"


def diffbehavior(
    ctx: CheckContext,
    yours: str,
    answer: str,
    *,
    per_condition_seconds: float = CROSSHAIR_PER_CONDITION_SECONDS,
    timeout_seconds: float = 90.0,
    command: Sequence[str] | None = None,
) -> Verdict:
    """CrossHair ``diffbehavior`` between two wrappers, in a subprocess with a time bound.

    Args:
        ctx: the check's context; its solution source is passed to the subprocess.
        yours: the dotted name of the wrapper that calls the learner's function.
        answer: the dotted name of the wrapper that calls the answer key's.
        per_condition_seconds: CrossHair's own search budget (CPU seconds).
        timeout_seconds: the subprocess is stopped after this long: *unknown*.
        command: how to start CrossHair (default ``python -m crosshair``).

    Returns:
        Passed when CrossHair exhausted every path with no difference; failed with
        CrossHair's report when it found one; unknown otherwise.
    """
    argv = [
        *(command or (sys.executable, "-m", "crosshair")),
        "diffbehavior",
        yours,
        answer,
        f"--per_condition_timeout={per_condition_seconds:g}",
    ]
    # Hypothesis loads its plugins' entry points on import (trio's runs ldconfig), and
    # CrossHair refuses to import code with such side effects.
    environment = {
        **os.environ,
        SOLUTION_ENVIRONMENT_VARIABLE: ctx.source.to_json(),
        "HYPOTHESIS_NO_PLUGINS": "1",
    }
    try:
        completed = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            check=False,
            env=environment,
        )
    except subprocess.TimeoutExpired:
        return Verdict(
            Status.UNKNOWN,
            f"unknown: CrossHair did not finish within {timeout_seconds:g} s (0 points, not a pass)",
        )
    output = completed.stdout.strip()
    if completed.returncode == 0 and EXHAUSTED in output:
        return Verdict(Status.PASSED, "CrossHair explored every path: no input tells them apart")
    if DIFFERENCE in output:
        lines = output.splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith(DIFFERENCE))
        report = "\n".join(lines[start:])
        given_line = lines[start].removeprefix(DIFFERENCE).strip().rstrip(",")
        return Verdict(
            Status.FAILED,
            "CrossHair found an input where yours and the answer key differ",
            counterexample=given_line,
            details=report,
        )
    if completed.returncode == 0:
        return Verdict(
            Status.UNKNOWN,
            f"unknown: no difference found within {per_condition_seconds:g} s, but not every "
            "path was explored (0 points, not a pass)",
        )
    error = (completed.stderr.strip() or output).splitlines()
    return Verdict(
        Status.UNKNOWN,
        f"unknown: CrossHair exited {completed.returncode}: {error[-1] if error else ''}",
    )
