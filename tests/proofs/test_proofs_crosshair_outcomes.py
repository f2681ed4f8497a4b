"""How a CrossHair run's exit and output become a row's status and note.

CrossHair is stood in for by a tiny Python command that prints a report and exits
(or dies), so these run in well under a second; whether a reported difference shows
is judged by running two ordinary functions on the reported arguments.
"""

from __future__ import annotations

import signal
import sys

from dynamokv.proofs import ProofResult, Status, crosshair_check, crosshair_diffbehavior
from dynamokv.proofs._crosshair import _difference_shows
from dynamokv.proofs._result import Kind


def _command(script: str) -> tuple[str, ...]:
    return (sys.executable, "-c", script)


def test_a_contract_run_killed_by_a_signal_is_unknown_not_proved() -> None:
    """A process killed by a signal exits with a negative code and prints nothing: no
    finding, but no verdict either, and the note gives the code."""
    killed = _command(f"import os; os.kill(os.getpid(), {int(signal.SIGKILL)})")
    result = crosshair_check("spec/m.py", command=killed)
    assert result.status is Status.UNKNOWN
    assert not result.ok
    assert result.note is not None
    assert f"crosshair exited {-int(signal.SIGKILL)}: " in result.note


def test_a_difference_shows_when_the_first_function_returns_the_smaller_value() -> None:
    """floor(0.5) is 0 and ceil(0.5) is 1: different answers, in either order."""
    assert _difference_shows("math.floor", "math.ceil", "Given: (0.5),") is True
    assert _difference_shows("math.ceil", "math.floor", "Given: (0.5),") is True


def test_a_difference_shows_when_only_the_first_function_raises() -> None:
    """sqrt(-1.0) raises ValueError where abs(-1.0) returns 1.0, in either order."""
    assert _difference_shows("math.sqrt", "builtins.abs", "Given: (-1.0),") is True
    assert _difference_shows("builtins.abs", "math.sqrt", "Given: (-1.0),") is True


def test_no_difference_shows_when_both_functions_agree_on_the_arguments() -> None:
    assert _difference_shows("math.floor", "math.ceil", "Given: (2.0),") is False


def _stand_in_pair(first: str, second: str, kind: Kind, script: str) -> ProofResult:
    """The pair ``first``/``second`` judged from what ``script`` prints and how it exits."""
    return crosshair_diffbehavior(
        first,
        second,
        name="equivalence.stand_in",
        kind=kind,
        claim="a pair judged by a stand-in for CrossHair",
        command=_command(script),
    )


def test_a_reported_difference_that_shows_refutes_the_pair() -> None:
    report = "Given: (0.5),\\n  math.floor returns 0\\n  math.ceil returns 1"
    result = _stand_in_pair(
        "math.floor", "math.ceil", "control", f"import sys; print('{report}'); sys.exit(1)"
    )
    assert result.status is Status.REFUTED
    assert result.counterexample is not None
    assert result.counterexample.startswith("Given: (0.5),")


def _stopped_at_bound(stdout: str) -> str | None:
    """The note of a pair whose stand-in prints ``stdout`` and exits 0 without
    "All paths exhausted": CrossHair's search ran out of its bound."""
    result = _stand_in_pair("pair.first", "pair.second", "theorem", f"print({stdout!r}, end='')")
    assert result.status is Status.UNKNOWN
    return result.note


def test_a_pair_stopped_by_its_bound_quotes_how_many_iterations_it_attempted() -> None:
    attempted = "No differences found. (attempted 12 iterations)"
    assert _stopped_at_bound(attempted + "\n") == f"bound reached with paths left: {attempted}"


def test_a_pair_stopped_by_its_bound_without_a_report_says_no_verdict() -> None:
    assert _stopped_at_bound("") == "bound reached with paths left: no verdict"
