"""``dynamokv lab``: the workspace, bad input, hints, JSON, and replay commands.

Every test grades through the command line, in-process, with the workspace in a
temporary folder; the learner's code runs in the workbench's child processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dynamokv.labs import LABS, lab_files_hash, read_stamp, write_stamp
from dynamokv.labs._runner import _cpu_seconds_of
from labs_helpers import lab, without_seconds

SOLVED_Q1 = (
    "from dynamokv.spec.ring import keys_that_move, md5_position, partition_of, preference_list\n"
)


def test_lab_list_shows_every_lab_with_its_parts_and_points(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, labs, _ = lab(capsys, "list", workspace=tmp_path)
    assert status == 0
    assert [entry["lab"] for entry in labs] == list(LABS)
    assert {"q1", "q2", "q3"} <= set(LABS)
    for entry in labs:
        assert entry["parts"] and entry["points"] == sum(p["points"] for p in entry["parts"])
        assert entry["progress"] is None


def test_start_then_check_fails_every_part_with_not_implemented(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, started, _ = lab(capsys, "start", "q1", workspace=tmp_path)
    assert status == 0 and Path(started["file"]).is_file()
    status, report, _ = lab(capsys, "check", "q1", workspace=tmp_path)
    assert status == 1
    assert report["score"] == 0 and report["solution"] == "workspace"
    first_of_part: dict[str, dict[str, object]] = {}
    for result in report["results"]:
        first_of_part.setdefault(result["part_id"], result)
    assert set(first_of_part) == {part.part_id for part in LABS["q1"].parts}
    for part_id, result in first_of_part.items():
        if part_id == "3":  # needs part 2
            assert result["status"] == "skipped" and result["skipped_because"] == "part 2"
        else:
            assert result["status"] == "failed"
            assert "not implemented yet" in result["verdict"]["summary"]


def test_start_never_overwrites_the_learners_work_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab(capsys, "start", "q2", workspace=tmp_path)
    work = tmp_path / "q2" / "clocks.py"
    work.write_text("# my work\n")
    status, _, error = lab(capsys, "start", "q2", workspace=tmp_path)
    assert status == 1 and "exists" in error and len(error.strip().splitlines()) == 1
    assert work.read_text() == "# my work\n"
    status, _, _ = lab(capsys, "start", "q2", "--force", workspace=tmp_path)
    assert status == 0 and "NotImplementedError" in work.read_text()


def test_reset_keeps_the_previous_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    lab(capsys, "start", "q1", workspace=tmp_path)
    (tmp_path / "q1" / "ring.py").write_text("# attempt 1\n")
    status, reset, _ = lab(capsys, "reset", "q1", workspace=tmp_path)
    assert status == 0
    assert Path(reset["kept"]).read_text() == "# attempt 1\n"
    assert "NotImplementedError" in (tmp_path / "q1" / "ring.py").read_text()
    # A second reset at once keeps nothing (the file is the skeleton) and loses nothing.
    status, reset, _ = lab(capsys, "reset", "q1", workspace=tmp_path)
    assert status == 0 and reset["kept"] is None
    assert (tmp_path / "q1" / "ring.py.previous").read_text() == "# attempt 1\n"
    # A second attempt, reset, is kept beside the first.
    (tmp_path / "q1" / "ring.py").write_text("# attempt 2\n")
    status, reset, _ = lab(capsys, "reset", "q1", workspace=tmp_path)
    assert Path(reset["kept"]).name == "ring.py.previous.2"
    assert Path(reset["kept"]).read_text() == "# attempt 2\n"
    assert (tmp_path / "q1" / "ring.py.previous").read_text() == "# attempt 1\n"


@pytest.mark.parametrize("json_output", [True, False])
def test_reset_without_a_workspace_names_the_command_that_makes_one_and_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, json_output: bool
) -> None:
    from dynamokv.impl.cli import main

    workspace = tmp_path / "my labs"
    argv = ["lab", "reset", "q1", "--workspace", str(workspace)]
    assert main([*argv, "--json"] if json_output else argv) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"dynamokv: error: no workspace for q1 in {workspace}/ to reset: "
        f"`dynamokv lab start q1 --workspace '{workspace}'` makes one\n"
    )
    assert not workspace.exists()


def test_reset_repairs_a_workspace_whose_stamp_is_damaged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The line for a damaged stamp says to reset: reset does, keeping the learner's file."""
    lab(capsys, "start", "q1", workspace=tmp_path)
    (tmp_path / "q1" / "ring.py").write_text("# attempt 1\n")
    (tmp_path / "q1" / ".lab.json").write_text("{")
    status, _, error = lab(capsys, "check", "q1", workspace=tmp_path)
    assert status == 1 and "is damaged" in error and "lab reset q1" in error
    status, reset, _ = lab(capsys, "reset", "q1", workspace=tmp_path)
    assert status == 0 and Path(reset["kept"]).read_text() == "# attempt 1\n"
    assert read_stamp(tmp_path, LABS["q1"]).lab == "q1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "q9"], "no lab 'q9'"),
        (["check", "q1"], "no workspace for q1"),
        (["check", "q1", "--mutant", "nonsense"], "has no mutant 'nonsense'"),
        (["check", "q1", "--answer-key", "--part", "7.7"], "has no part or check '7.7'"),
        (["hint", "q2"], "no workspace for q2"),
    ],
)
def test_bad_input_is_one_line_and_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    status, _, error = lab(capsys, *argv, workspace=tmp_path)
    assert status != 0
    assert message in error and len(error.strip().splitlines()) == 1
    assert "Traceback" not in error


def test_a_workspace_that_does_not_parse_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab(capsys, "start", "q1", workspace=tmp_path)
    (tmp_path / "q1" / "ring.py").write_text("def md5_position(key:\n")
    status, _, error = lab(capsys, "check", "q1", workspace=tmp_path)
    assert status == 1 and "does not parse: line 1" in error
    assert len(error.strip().splitlines()) == 1


def test_a_workspace_python_reads_is_read_as_python_does_and_bad_bytes_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A file with a coding line (Latin-1 here) parses as Python reads it; one that no
    encoding or parser takes (a null byte, bytes that are not UTF-8) is a one-line error."""
    lab(capsys, "start", "q1", workspace=tmp_path)
    work = tmp_path / "q1" / "ring.py"
    work.write_bytes(b"# -*- coding: latin-1 -*-\n# Jos\xe9\n" + work.read_bytes())
    status, _, error = lab(capsys, "check", "q1", "--part", "1.1", workspace=tmp_path)
    assert "does not parse" not in error and "Traceback" not in error
    for content in (b"x = 1\0\n", b"\xff\xfe x"):
        work.write_bytes(content)
        status, _, error = lab(capsys, "check", "q1", workspace=tmp_path)
        assert status == 1 and "does not parse" in error, error
        assert len(error.strip().splitlines()) == 1


def test_a_stamp_whose_fields_have_the_wrong_types_is_damaged_not_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab(capsys, "start", "q1", workspace=tmp_path)
    stamp = tmp_path / "q1" / ".lab.json"
    document = json.loads(stamp.read_text())
    stamp.write_text(json.dumps({**document, "parts": []}))
    status, _, error = lab(capsys, "check", "q1", workspace=tmp_path)
    assert status == 1 and "is damaged" in error and "Traceback" not in error
    status, _, error = lab(capsys, "list", workspace=tmp_path)
    assert status == 0 and error == ""


def _learner_file(tmp_path: Path, body: str) -> None:
    (tmp_path / "q1" / "ring.py").write_text(SOLVED_Q1 + body)


def test_a_learner_function_that_raises_is_a_failed_check_naming_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab(capsys, "start", "q1", workspace=tmp_path)
    _learner_file(tmp_path, "\n\ndef partition_of(position, q):\n    return position // (q - q)\n")
    status, report, error = lab(capsys, "check", "q1", "--part", "1.1", workspace=tmp_path)
    assert status == 1 and "Traceback" not in error
    summary = report["results"][0]["verdict"]["summary"]
    assert "partition_of raised ZeroDivisionError" in summary and "ring.py, line 5" in summary


@pytest.mark.parametrize(
    "body",
    [
        "def partition_of(position, q):\n    while True:\n        pass\n",
        "def partition_of(position, q):\n    import os\n    os._exit(3)\n",
        "def partition_of(position, q):\n    raise SystemExit(0)\n",
    ],
    ids=["loops", "exits-the-process", "raises-system-exit"],
)
def test_a_learner_function_that_loops_or_exits_is_a_failed_check_and_never_hangs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, body: str
) -> None:
    lab(capsys, "start", "q1", workspace=tmp_path)
    _learner_file(tmp_path, "\n\n" + body)
    status, report, error = lab(
        capsys, "check", "q1", "--part", "1.1", "--timeout", "8", workspace=tmp_path
    )
    assert status == 1 and "Traceback" not in error
    result = report["results"][0]
    assert result["status"] == "failed"
    assert result["verdict"]["summary"]


def test_a_learner_function_that_blocks_is_stopped_by_the_wall_clock_backstop(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A check's bound counts CPU seconds; code that sleeps uses none, and is stopped at
    WALL_SECONDS_PER_CPU_SECOND times the bound of wall-clock time instead."""
    lab(capsys, "start", "q1", workspace=tmp_path)
    _learner_file(
        tmp_path, "\n\ndef partition_of(position, q):\n    import time\n    time.sleep(3600)\n"
    )
    status, report, error = lab(
        capsys, "check", "q1", "--part", "1.1", "--timeout", "0.5", workspace=tmp_path
    )
    assert status == 1 and "Traceback" not in error
    result = report["results"][0]
    assert result["status"] == "failed"
    assert "did not finish within 0.5 s of CPU" in result["verdict"]["summary"]


def test_the_cpu_time_of_a_process_is_read_and_a_gone_one_has_none() -> None:
    """What the runner bounds: CPU time, which grows with work, not with waiting."""
    before = _cpu_seconds_of(os.getpid())
    assert before is not None
    started = time.process_time()
    while time.process_time() - started < 0.3:
        pass
    after = _cpu_seconds_of(os.getpid())
    assert after is not None and after >= before + 0.2
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert _cpu_seconds_of(gone.pid) is None


def test_a_solved_workspace_passes_and_lab_list_shows_the_progress(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab(capsys, "start", "q1", workspace=tmp_path)
    _learner_file(tmp_path, "")
    status, report, _ = lab(capsys, "check", "q1", workspace=tmp_path)
    assert status == 0, [r for r in report["results"] if r["status"] != "passed"]
    assert report["score"] == report["score_max"] == LABS["q1"].points
    _, labs, _ = lab(capsys, "list", workspace=tmp_path)
    progress = next(entry for entry in labs if entry["lab"] == "q1")["progress"]
    assert progress["parts_passed"] == len(LABS["q1"].parts)
    assert progress["score"] == LABS["q1"].points


def test_a_hint_unlocks_after_each_check(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    hints = LABS["q2"].hints
    lab(capsys, "start", "q2", workspace=tmp_path)
    _, first, _ = lab(capsys, "hint", "q2", workspace=tmp_path)
    assert first["hint"] == hints[0] and first["number"] == 1
    _, refused, _ = lab(capsys, "hint", "q2", workspace=tmp_path)
    assert refused["hint"] is None and "unlocks after" in refused["message"]
    lab(capsys, "check", "q2", "--part", "3.1", workspace=tmp_path)
    _, second, _ = lab(capsys, "hint", "q2", workspace=tmp_path)
    assert second["hint"] == hints[1]
    _, again, _ = lab(capsys, "hint", "q2", "--again", workspace=tmp_path)
    assert again["unlocked"] == list(hints[:2])


def test_check_warns_when_the_lab_changed_since_the_workspace_was_made(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lab(capsys, "start", "q1", workspace=tmp_path)
    stamp = read_stamp(tmp_path, LABS["q1"])
    assert stamp.lab_hash == lab_files_hash(LABS["q1"])
    write_stamp(tmp_path, type(stamp)(**{**stamp.__dict__, "lab_hash": "0" * 16}))
    _, report, _ = lab(capsys, "check", "q1", "--part", "1.1", workspace=tmp_path)
    assert any("changed since" in warning for warning in report["warnings"])


@pytest.mark.parametrize("solution", [["--answer-key"], ["--skeleton"], ["--mutant", "mod_n"]])
def test_json_is_identical_on_two_runs_apart_from_seconds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, solution: list[str]
) -> None:
    runs = [
        lab(capsys, "check", "q1", "--part", "2,3", *solution, workspace=tmp_path)[1]
        for _ in range(2)
    ]
    assert without_seconds(runs[0]) == without_seconds(runs[1])
    assert runs[0]["seconds"] >= 0 and "seconds" in runs[0]["results"][0]


def test_a_planted_bug_is_reported_with_a_counterexample_and_a_replay_that_reproduces_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, report, _ = lab(
        capsys, "check", "q1", "--part", "2", "--mutant", "too_few_nodes", workspace=tmp_path
    )
    failed = next(r for r in report["results"] if r["status"] == "failed")
    assert failed["check_id"] == "2.2"
    assert failed["verdict"]["counterexample"] and failed["rationale"] and failed["help"]
    replay = failed["replay"]
    assert replay == "dynamokv lab check q1 --part 2.2 --seed 1 --mutant too_few_nodes"
    _, replayed, _ = lab(capsys, *replay.split()[2:], workspace=tmp_path)
    assert without_seconds(replayed["results"]) == without_seconds([failed])


def test_a_symbolic_difference_is_shown_as_crosshair_prints_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, report, _ = lab(
        capsys, "check", "q2", "--part", "3.2", "--mutant", "receive_tie", workspace=tmp_path
    )
    verdict = report["results"][0]["verdict"]
    assert report["results"][0]["status"] == "failed"
    assert verdict["details"].startswith("Given: (clock=")
    assert "returns" in verdict["details"]


def test_lab_works_from_any_directory(tmp_path: Path) -> None:
    """The console script, run from a folder outside the project, finds the labs' files."""
    script = Path(sys.executable).parent / "dynamokv"
    completed = subprocess.run(
        [str(script), "lab", "start", "q3", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert completed.returncode == 0, completed.stderr
    started = json.loads(completed.stdout)
    assert (tmp_path / "lab-work" / "q3" / "quorum.py").is_file()
    assert Path(started["readme"]).is_file()


def test_a_counterexample_in_brackets_is_printed_as_it_reads(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``[b'', b'book']`` looks like a markup tag to Rich: the text output must still show it."""
    from dynamokv.impl.cli import main

    status = main(["lab", "check", "q5", "--part", "1.2", "--mutant", "union_keeps_empty_lines"])
    out = capsys.readouterr().out
    assert status == 1
    assert "counterexample: values=[b'', b'book']" in out


def test_every_command_printed_for_a_workspace_elsewhere_names_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Pasted as printed, the commands after `lab start --workspace DIR` find DIR's workspace."""
    import shlex

    from dynamokv.impl.cli import main

    workspace = tmp_path / "my labs"
    assert main(["lab", "start", "q1", "--workspace", str(workspace)]) == 0
    printed = capsys.readouterr().out
    commands = [
        line[line.index("dynamokv ") :]
        for line in printed.splitlines()
        if line.strip().startswith(("3. check", "stuck?"))
    ]
    assert [shlex.split(command)[:3] for command in commands] == [
        ["dynamokv", "lab", "check"],
        ["dynamokv", "lab", "hint"],
    ]
    for command in commands:
        assert main([*shlex.split(command)[1:], "--json"]) in (0, 1)
        assert json.loads(capsys.readouterr().out)["lab"] == "q1"
    assert main(["lab", "hint", "q1", "--workspace", str(workspace)]) == 0
    assert f"--workspace '{workspace}'" in capsys.readouterr().out
    assert main(["lab", "start", "q1", "--workspace", str(workspace)]) != 0
    assert f"lab reset q1 --workspace '{workspace}'" in capsys.readouterr().err


def test_the_experiment_suggested_after_a_full_pass_measures_what_was_graded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from dynamokv.impl.cli import main

    assert main(["lab", "check", "q5", "--answer-key"]) == 0
    assert "Measure it: dynamokv lab experiment q5 --answer-key\n" in capsys.readouterr().out
