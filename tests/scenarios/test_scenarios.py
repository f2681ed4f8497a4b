"""Scenario scripts with golden output (etcd-io/raft ``testdata`` style).

Each ``*.txt`` beside this file is run by :func:`dynamokv.impl.sim.run_scenario`
and must reproduce itself exactly. After an intended change, regenerate them with
``pytest tests/scenarios --rewrite`` (or ``DYNAMOKV_REWRITE=1``) and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dynamokv.impl.sim import ScenarioError, run_scenario

HERE = Path(__file__).parent
SCENARIOS = sorted(HERE.glob("*.txt"))


def _strip_outputs(text: str) -> str:
    blocks = []
    for block in text.strip("\n").split("\n\n"):
        lines = block.splitlines()
        if "----" in lines:
            lines = lines[: lines.index("----")]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario_matches_golden_output(path: Path, request: pytest.FixtureRequest) -> None:
    expected = path.read_text()
    actual = run_scenario(_strip_outputs(expected))
    if request.config.getoption("--rewrite") or os.environ.get("DYNAMOKV_REWRITE"):
        path.write_text(actual)
        return
    assert actual == expected, f"{path.name} changed; rerun with --rewrite and review the diff"


def test_there_is_a_scenario_for_each_required_story() -> None:
    names = {p.stem for p in SCENARIOS}
    assert {
        "request_journey",
        "sloppy_quorum_hint",
        "hint_replay",
        "siblings_union_merge",
        "strict_read_your_writes",
    } <= names


def test_unknown_command_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match="unknown command"):
        run_scenario("add-nodes 3\n\nfly away\n")
