"""The CrossHair rows' overall bound counts the CPU the run used, not the wall clock.

A busy machine must not turn a run that would finish into *unknown*; a run that
really needs more than its budget, or that stops using the CPU, still ends.
"""

from __future__ import annotations

import inspect
import os
import sys

import pytest
from dynamokv.proofs import Status, _crosshair, crosshair_check, crosshair_diffbehavior
from dynamokv.proofs._crosshair import _cpu_seconds, run_cpu_bounded


def test_a_run_that_finishes_gives_its_exit_code_and_output() -> None:
    completed = run_cpu_bounded(
        [sys.executable, "-c", "import sys; print('out'); sys.exit(3)"], cpu_seconds=60
    )
    assert completed.returncode == 3
    assert completed.stdout.strip() == "out"
    assert completed.note is None


def test_a_busy_loop_is_stopped_when_it_has_used_its_cpu_budget() -> None:
    completed = run_cpu_bounded([sys.executable, "-c", "while True: pass"], cpu_seconds=0.5)
    assert completed.returncode is None
    assert completed.note is not None and "CPU bound of 0.5 s reached" in completed.note
    assert completed.cpu_seconds >= 0.5


def test_a_process_that_uses_no_cpu_is_stopped_as_stalled() -> None:
    """Stopped at the first poll at which it has used no CPU for ``stall_seconds``, not a
    poll later: the note gives the time without CPU counted in polls since the last
    progress, whatever the load (a slow start only moves the last progress later)."""
    completed = run_cpu_bounded(
        [sys.executable, "-c", "import time; time.sleep(600)"], cpu_seconds=60, stall_seconds=2
    )
    assert completed.returncode is None
    assert completed.note == "stalled: no CPU used for 2 s"


def test_a_run_is_taken_as_stalled_after_five_minutes_without_cpu_by_default() -> None:
    """The default the proofs page states ("a run that uses no CPU for five minutes is
    stopped as stalled"); waiting for it here would take those five minutes."""
    default = inspect.signature(run_cpu_bounded).parameters["stall_seconds"].default
    assert default == 5 * 60


def test_the_cpu_time_counted_is_user_plus_system_time() -> None:
    """Read from /proc for this very process, it matches what the kernel reports through
    ``os.times()``: user and system time together, not either of them alone."""
    times = os.times()
    for _ in range(1_000):  # bounded: spin in Python until user time is well above system
        if times.user - times.system >= 0.2:
            break
        sum(range(100_000))
        times = os.times()
    assert times.user - times.system >= 0.2
    counted = _cpu_seconds(os.getpid())
    after = os.times()
    tick = 1 / os.sysconf("SC_CLK_TCK")
    assert counted is not None
    assert times.user + times.system - tick <= counted <= after.user + after.system + tick


def test_a_diffbehavior_pair_is_bounded_by_10_s_per_condition_and_600_cpu_seconds_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without bounds given, a pair's search gets 10 CPU seconds per condition (the row's
    scope says so) and the whole run 600 CPU seconds: a run seen to have used more is
    stopped as unknown, its note naming that bound. The CPU counter is made to report
    far more than any bound, so the stand-in for CrossHair is stopped at the first poll."""
    monkeypatch.setattr(_crosshair, "_cpu_seconds", lambda pid: 1e9)
    result = crosshair_diffbehavior(
        "pair.first",
        "pair.second",
        name="equivalence.stand_in",
        kind="theorem",
        claim="a stand-in that never answers",
        command=(sys.executable, "-c", "import time; time.sleep(600)"),
    )
    assert result.scope == "every path, 10 s CPU bound"
    assert result.status is Status.UNKNOWN
    assert result.note == "CPU bound of 600 s reached"


def _prints(lines: list[str], exit_code: int) -> tuple[str, ...]:
    """A stand-in for CrossHair: prints ``lines`` and exits with ``exit_code``."""
    script = f"import sys; print({chr(10).join(lines)!r}); sys.exit({exit_code})"
    return (sys.executable, "-c", script)


def test_a_refuted_row_shows_the_first_five_lines_of_crosshairs_report() -> None:
    """As the proofs page says: a long report is cut to its first five lines, in order,
    for the contracts and for a pair alike."""
    findings = [f"spec/m.py:{line}: error: false when calling f(x={line})" for line in range(8)]
    checked = crosshair_check("spec/m.py", command=_prints(findings, 1))
    assert checked.status is Status.REFUTED
    assert checked.counterexample == "\n".join(findings[:5])
    report = ["Given: (x=1),"] + [f"  returns {line}" for line in range(7)]
    paired = crosshair_diffbehavior(
        "pair.first",
        "pair.second",
        name="equivalence.stand_in",
        kind="control",
        claim="a stand-in that finds a difference",
        command=_prints(report, 1),
    )
    assert paired.status is Status.REFUTED
    assert paired.counterexample == "\n".join(line.strip() for line in report[:5])


def test_a_difference_that_does_not_show_when_both_functions_run_is_unknown() -> None:
    """CrossHair's symbolic sorted/dict can part from Python's: a reported difference is
    run on its arguments, and only one that shows refutes a pair; a planted one does."""
    report = ["Given: (a=(0, 0, 1), b=(1, 1, 2)),", "  returns (('c', 2), ('b', 1), ('a', 1))"]
    pair = "dynamokv.impl.cli._equivalence.{}_vclock_merge"
    spurious = crosshair_diffbehavior(
        pair.format("impl"),
        pair.format("spec"),
        name="equivalence.vclock.merge",
        kind="theorem",
        claim="c",
        command=_prints(report, 1),
    )
    assert spurious.status is Status.UNKNOWN and spurious.counterexample is None
    assert spurious.note is not None and "does not show when both run" in spurious.note
    planted = crosshair_diffbehavior(
        pair.format("planted"),
        pair.format("spec"),
        name="equivalence.vclock.merge.planted",
        kind="control",
        claim="c",
        command=_prints(report, 1),
    )
    assert planted.status is Status.REFUTED


def test_a_crosshair_run_that_fails_is_unknown_and_names_its_last_error_line() -> None:
    """A run that exits non-zero without findings is unknown, and the note gives the last
    line of its error output (a traceback's exception), not the first."""
    script = (
        "import sys; print('Traceback (most recent call last):', file=sys.stderr); "
        "print('ValueError: no such module', file=sys.stderr); sys.exit(2)"
    )
    command = (sys.executable, "-c", script)
    checked = crosshair_check("spec/m.py", command=command)
    paired = crosshair_diffbehavior(
        "pair.first", "pair.second", name="pair", kind="theorem", claim="c", command=command
    )
    for result in (checked, paired):
        assert result.status is Status.UNKNOWN
        assert result.note is not None
        assert result.note.endswith("crosshair exited 2: ValueError: no such module")
