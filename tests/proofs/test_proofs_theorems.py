"""Every registered theorem is proved and every negative control refuted, with the spec agreeing.

A control that "proves" would mean its theorem's encoding cannot fail: that is the
failure these tests exist to catch (DESIGN.md section 6, rung 2).
"""

from __future__ import annotations

import pytest
from dynamokv.proofs import REGISTRY, Entry, Status

THEOREMS = [entry for entry in REGISTRY if entry.kind == "theorem"]
CONTROLS = [entry for entry in REGISTRY if entry.kind == "control"]


@pytest.mark.parametrize("entry", THEOREMS, ids=lambda entry: entry.name)
def test_theorem_is_proved_and_the_spec_agrees(entry: Entry) -> None:
    result = entry.check()
    assert result.status is Status.PROVED, result
    assert result.counterexample is None
    assert result.replay is not None and result.replay.agreed, result.replay
    assert result.ok


@pytest.mark.parametrize("entry", CONTROLS, ids=lambda entry: entry.name)
def test_negative_control_is_refuted_with_a_counterexample_the_spec_replays(entry: Entry) -> None:
    result = entry.check()
    assert result.status is Status.REFUTED, result
    assert result.counterexample, "a refuted control must show its counterexample"
    assert result.replay is not None and result.replay.agreed, result.replay
    assert result.ok


def test_exhibits_report_their_witness() -> None:
    exhibits = [
        result for result in (entry.check() for entry in THEOREMS) if "exhibit" in result.scope
    ]
    assert len(exhibits) >= 3
    for result in exhibits:
        assert result.witness, f"{result.name} proved without a witness"
