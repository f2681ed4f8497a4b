"""The graders are graded: ``dynamokv lab selftest --quick`` for every lab.

On a fixed seed the untouched skeleton fails every part with "not implemented", the
answer key passes every part, and each planted wrong solution is first caught by the
check it names. ``--full`` (three seeds, every check on every mutant, the experiments)
runs on demand.
"""

from __future__ import annotations

import pytest
from dynamokv.labs import LABS, mutants_of
from labs_helpers import lab


@pytest.mark.parametrize("name", list(LABS))
def test_selftest_quick_passes(capsys: pytest.CaptureFixture[str], name: str) -> None:
    status, result, _ = lab(capsys, "selftest", name, "--quick")
    bad = [row for row in result["rows"] if not row["ok"]]
    assert status == 0 and result["ok"], bad
    solutions = [row["solution"] for row in result["rows"]]
    assert solutions[:2] == ["skeleton", "answer key"]
    assert len(solutions) == 2 + len(mutants_of(LABS[name]))


@pytest.mark.parametrize("name", list(LABS))
def test_every_check_is_named_by_a_planted_bug(name: str) -> None:
    """A check that no mutant names has never been shown to fail on a wrong answer."""
    named = {
        check_id
        for mutant in mutants_of(LABS[name])
        for check_id in (mutant.caught_by, *mutant.also_caught_by)
    }
    checks = {check.check_id for check in LABS[name].checks()}
    assert checks <= named, f"no mutant names {sorted(checks - named)}"
    assert named <= checks, f"mutants name checks that do not exist: {sorted(named - checks)}"


@pytest.mark.parametrize("name", list(LABS))
def test_every_part_with_functions_of_its_own_first_catches_a_mutant(name: str) -> None:
    """A part that only puts earlier parts' functions together (in the simulator, say)
    catches its mutants after those parts; every other part must be the first to catch one."""
    lab = LABS[name]
    caught_first = {mutant.caught_by.split(".")[0] for mutant in mutants_of(lab)}
    graded_before: set[str] = set()
    own: set[str] = set()
    for part in lab.parts:
        if not set(part.functions) <= graded_before:
            own.add(part.part_id)
        graded_before |= set(part.functions)
    assert own <= caught_first
