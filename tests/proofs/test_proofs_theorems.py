"""Every registered theorem is proved and every negative control refuted, with the spec agreeing.

A control that "proves" would mean its theorem's encoding cannot fail: that is the
failure these tests exist to catch.
"""

from __future__ import annotations

from pathlib import Path

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
def test_negative_control_is_refuted_and_the_spec_agrees(entry: Entry) -> None:
    """A wrong universal claim shows its counterexample; a wrong exhibit has no witness.

    Either way the spec is consulted: the counterexample is replayed through it, and
    for a wrong exhibit a bounded exhaustive check shows the spec never does it either.
    """
    result = entry.check()
    assert result.status is Status.REFUTED, result
    if result.counterexample is None:
        assert result.note == "no witness exists", result
    assert result.replay is not None and result.replay.agreed, result.replay
    assert result.ok


def test_most_controls_are_refuted_by_a_counterexample() -> None:
    with_counterexample = [entry for entry in CONTROLS if entry.check().counterexample]
    assert len(with_counterexample) >= len(THEOREMS)


def test_exhibits_report_their_witness() -> None:
    exhibits = [
        result for result in (entry.check() for entry in THEOREMS) if "exhibit" in result.scope
    ]
    assert len(exhibits) >= 3
    for result in exhibits:
        assert result.witness, f"{result.name} proved without a witness"


def _theorems_table() -> dict[str, tuple[str, str]]:
    """docs/proofs.md's table of theorems: name → (its scope cell, its controls cell)."""
    page = Path(__file__).resolve().parents[2] / "docs" / "proofs.md"
    section = page.read_text().split("\n## The theorems\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = (cells[2], cells[3])
    return rows


def test_the_proofs_page_states_the_scope_each_row_reports() -> None:
    """Every theorem's scope is its row's scope cell on the proofs page, and a control
    whose scope differs is given as "scope: …" among the controls: a bound changed in
    an encoding shows on the page or fails here."""
    table = _theorems_table()
    theorems = {entry.name: entry.check() for entry in THEOREMS}
    assert set(table) == set(theorems)
    for name, result in theorems.items():
        assert result.scope == table[name][0], name
    for entry in CONTROLS:
        result = entry.check()
        theorem = entry.name.rsplit(".control", 1)[0]
        scope_cell, controls_cell = table[theorem]
        assert result.scope == scope_cell or f"scope: {result.scope})" in controls_cell, (
            entry.name,
            result.scope,
        )
