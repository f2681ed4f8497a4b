"""``dynamokv lab hint``: hints about the functions that did not pass the last check.

The choice itself is a pure function of the manifest and the stamp, tested without
running a check; the command line is tested end to end on the wal lab with the
planted mutant ``raises_on_torn`` (``frame_record`` right, ``read_records`` wrong),
whose full check takes about a second.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from dynamokv.impl.cli import main
from dynamokv.labs import (
    LABS,
    CheckResult,
    HintOutcome,
    LabReport,
    Status,
    Verdict,
    choose_hint,
    functions_not_passing,
    hint_function,
    read_stamp,
    record_check,
    start_workspace,
)
from labs_helpers import lab, plant_mutant

WAL = LABS["wal"]


def test_hints_about_functions_that_pass_are_passed_over() -> None:
    choice = choose_hint(WAL, shown=(), parts={"1": "passed", "2": "failed"}, checks_since_hint=0)
    assert choice.outcome is HintOutcome.NEW and choice.targeted
    assert choice.index == 1 and hint_function(WAL.hints[0]) == "frame_record"
    assert choice.not_passing == ("read_records",)


def test_without_a_record_the_hints_come_in_order() -> None:
    choice = choose_hint(WAL, shown=(), parts={}, checks_since_hint=0)
    assert choice.outcome is HintOutcome.NEW and choice.index == 0
    assert choice.not_passing is None and not choice.targeted


def test_a_skipped_part_says_nothing_about_a_function_another_part_passed() -> None:
    """q5: part 1 fails, so part 3 (every function) is skipped; cart_update passed part 2."""
    q5 = LABS["q5"]
    parts = {"1": "failed", "2": "passed", "3": "skipped"}
    assert functions_not_passing(q5, parts) == ("union_resolve", "lww_resolve")
    q1 = LABS["q1"]  # keys_that_move is graded only by part 4, skipped while 2 fails
    parts = {"1": "passed", "2": "failed", "3": "skipped", "4": "skipped"}
    assert functions_not_passing(q1, parts) == ("preference_list", "keys_that_move")


def test_every_part_passed_and_only_passing_hints_left_are_outcomes_of_their_own() -> None:
    passed = {part.part_id: "passed" for part in WAL.parts}
    choice = choose_hint(WAL, shown=(), parts=passed, checks_since_hint=1)
    assert choice.outcome is HintOutcome.ALL_PASSED
    failing = {"1": "passed", "2": "failed", "3": "skipped"}
    choice = choose_hint(WAL, shown=(1, 2, 3), parts=failing, checks_since_hint=1)
    assert choice.outcome is HintOutcome.ONLY_PASSING_LEFT
    anyway = choose_hint(
        WAL, shown=(1, 2, 3), parts=failing, checks_since_hint=1, any_function=True
    )
    assert anyway.outcome is HintOutcome.NEW and anyway.index == 0 and not anyway.targeted


def test_the_next_hint_waits_for_a_check() -> None:
    choice = choose_hint(WAL, shown=(1,), parts={"2": "failed"}, checks_since_hint=0)
    assert choice.outcome is HintOutcome.LOCKED


def _report(*results: tuple[str, Status]) -> LabReport:
    return LabReport(
        lab="wal",
        solution="workspace",
        seed=1,
        results=tuple(
            CheckResult(
                check_id=check_id,
                part_id=check_id.split(".")[0],
                title="",
                tier="unit",
                section="",
                points=0,
                points_max=5,
                status=status,
                verdict=Verdict(status),
                skipped_because="",
                replay="",
                rationale="",
                help="",
                seconds=0.0,
            )
            for check_id, status in results
        ),
    )


def test_a_part_run_records_a_part_only_when_its_checks_settle_it(tmp_path: Path) -> None:
    """Every check of a part ran, or one failed: recorded. Some ran and passed: kept."""
    start_workspace(tmp_path, WAL)
    record_check(tmp_path, WAL, _report(("2.1", Status.FAILED)), full=False)
    assert read_stamp(tmp_path, WAL).parts == {"2": "failed"}
    record_check(tmp_path, WAL, _report(("2.1", Status.PASSED)), full=False)
    assert read_stamp(tmp_path, WAL).parts == {"2": "failed"}
    both = _report(("2.1", Status.PASSED), ("2.2", Status.PASSED))
    stamp = record_check(tmp_path, WAL, both, full=False)
    assert stamp.parts == {"2": "passed"} and stamp.checks_since_hint == 3


def _write_stamp_json(workspace: Path, **fields: object) -> None:
    path = workspace / "wal" / ".lab.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def test_a_stamp_that_counts_the_hints_shown_is_read_as_the_first_ones(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab(capsys, "start", "wal", workspace=tmp_path)
    _write_stamp_json(tmp_path, hints_shown=2, checks_since_hint=1)
    assert read_stamp(tmp_path, WAL).hints_shown == (0, 1)
    _, again, _ = lab(capsys, "hint", "wal", "--again", workspace=tmp_path)
    assert again["unlocked"] == list(WAL.hints[:2]) and again["shown"] == [1, 2]
    _, hint, _ = lab(capsys, "hint", "wal", workspace=tmp_path)
    assert hint["number"] == 3
    assert read_stamp(tmp_path, WAL).hints_shown == (0, 1, 2)


@pytest.mark.parametrize("value", ["two", -1, [0, "1"], True])
def test_a_damaged_hint_record_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, value: object
) -> None:
    lab(capsys, "start", "wal", workspace=tmp_path)
    _write_stamp_json(tmp_path, hints_shown=value)
    status, _, error = lab(capsys, "hint", "wal", workspace=tmp_path)
    assert status != 0 and "is damaged" in error and "lab reset wal" in error
    assert len(error.strip().splitlines()) == 1 and "Traceback" not in error


def _commands(text: str) -> list[list[str]]:
    """Every command quoted in backticks in ``text``, split as a shell splits it."""
    return [shlex.split(part) for part in text.split("`")[1::2]]


def test_without_a_check_the_hint_comes_in_order_and_says_how_to_target_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workspace = tmp_path / "my labs"
    lab(capsys, "start", "wal", workspace=workspace)
    _, hint, _ = lab(capsys, "hint", "wal", workspace=workspace)
    assert hint["number"] == 1 and hint["function"] == "frame_record"
    assert hint["not_passing"] is None and not hint["targeted"]
    assert _commands(hint["note"]) == [
        ["dynamokv", "lab", "check", "wal", "--workspace", str(workspace)]
    ]
    assert f"--workspace '{workspace}'" in hint["note"]


def test_the_hint_is_about_the_function_that_failed_and_passing_ones_stay_available(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workspace = tmp_path / "my labs"
    lab(capsys, "start", "wal", workspace=workspace)
    plant_mutant(workspace, "wal", "raises_on_torn")
    status, _, _ = lab(capsys, "check", "wal", workspace=workspace)
    assert status == 1
    assert read_stamp(workspace, WAL).parts == {"1": "passed", "2": "failed", "3": "skipped"}
    for number in (2, 3, 4):  # the read_records hints; frame_record's (1) is passed over
        _, hint, _ = lab(capsys, "hint", "wal", workspace=workspace)
        assert hint["number"] == number and hint["function"] == "read_records"
        assert hint["targeted"] and hint["not_passing"] == ["read_records"]
        lab(capsys, "check", "wal", "--part", "2.1", workspace=workspace)  # fails again
    _, left, _ = lab(capsys, "hint", "wal", workspace=workspace)
    assert left["outcome"] == "only_passing_left" and left["hint"] is None
    assert "every remaining hint is about a function that passes" in left["message"]
    assert left["shown"] == [2, 3, 4]
    for command in _commands(left["message"]):
        assert command[:4] == ["dynamokv", "lab", "hint", "wal"]
        assert command[-2:] == ["--workspace", str(workspace)]
    assert main(["lab", "hint", "wal", "--workspace", str(workspace)]) == 0
    assert f"--all --workspace '{workspace}'" in capsys.readouterr().out
    _, anyway, _ = lab(capsys, "hint", "wal", "--all", workspace=workspace)
    assert anyway["number"] == 1 and not anyway["targeted"]
    _, again, _ = lab(capsys, "hint", "wal", "--again", workspace=workspace)
    assert again["shown"] == [2, 3, 4, 1]
    assert again["unlocked"] == [WAL.hints[i] for i in (1, 2, 3, 0)]
    _, done, _ = lab(capsys, "hint", "wal", workspace=workspace)
    assert done["outcome"] == "none_left"


def test_when_every_part_passed_the_hint_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workspace = tmp_path / "my labs"
    lab(capsys, "start", "wal", workspace=workspace)
    _write_stamp_json(workspace, parts={part.part_id: "passed" for part in WAL.parts})
    assert main(["lab", "hint", "wal", "--workspace", str(workspace)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("every part passed in your last check")
    assert f"dynamokv lab hint wal --all --workspace '{workspace}'" in out
    assert read_stamp(workspace, WAL).hints_shown == ()
