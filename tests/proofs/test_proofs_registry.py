"""The registry pairs every theorem with a control, and the verdict fails on any wrong row."""

from __future__ import annotations

import dataclasses

import dynamokv.proofs as proofs
import pytest
from dynamokv.proofs import REGISTRY, ProofResult, ProofRun, Replay, Status, UnknownProofError


def _row(kind: proofs.Kind, status: Status, replay: Replay | None = None) -> ProofResult:
    return ProofResult(
        name=f"fake.{kind}",
        kind=kind,
        claim="fake",
        scope="none",
        status=status,
        seconds=0.0,
        replay=replay,
    )


def test_registry_has_at_least_twelve_theorems_and_five_controls() -> None:
    kinds = [entry.kind for entry in REGISTRY]
    assert kinds.count("theorem") >= 12
    assert kinds.count("control") >= 5


def test_every_theorem_has_a_negative_control() -> None:
    theorems = {entry.name for entry in REGISTRY if entry.kind == "theorem"}
    guarded = {entry.theorem for entry in REGISTRY if entry.kind == "control"}
    assert theorems == guarded


def test_names_are_unique_and_controls_follow_their_theorem() -> None:
    names = [entry.name for entry in REGISTRY]
    assert len(names) == len(set(names))
    for entry in REGISTRY:
        if entry.kind == "control":
            assert entry.name.startswith(entry.theorem + ".control")


def test_select_by_theorem_takes_its_controls() -> None:
    chosen = proofs.select(["quorum.read_write_intersect"])
    assert [entry.name for entry in chosen] == [
        "quorum.read_write_intersect",
        "quorum.read_write_intersect.control",
    ]


def test_select_by_group_and_by_control() -> None:
    assert {entry.group for entry in proofs.select(["vclock"])} == {"vclock"}
    assert [entry.name for entry in proofs.select(["merkle.diff_is_sound.control"])] == [
        "merkle.diff_is_sound.control"
    ]


def test_select_rejects_an_unknown_name() -> None:
    with pytest.raises(UnknownProofError, match="nope"):
        proofs.select(["quorum", "nope"])


def test_a_control_that_proves_fails_the_run() -> None:
    run = ProofRun((_row("theorem", Status.PROVED), _row("control", Status.PROVED)), 0.0)
    assert not run.ok
    assert [result.kind for result in run.failures] == ["control"]


def test_unknown_fails_the_run_for_theorems_and_controls() -> None:
    assert not ProofRun((_row("theorem", Status.UNKNOWN),), 0.0).ok
    assert not ProofRun((_row("control", Status.UNKNOWN),), 0.0).ok


def test_a_spec_replay_that_disagrees_fails_a_proved_theorem() -> None:
    row = _row("theorem", Status.PROVED, Replay(False, "the spec said otherwise"))
    assert not row.ok
    assert dataclasses.replace(row, replay=Replay(True, "fine")).ok


def test_an_empty_run_is_not_a_success() -> None:
    assert not ProofRun((), 0.0).ok


def test_run_passes_results_to_the_callback_in_order() -> None:
    seen: list[str] = []
    run = proofs.run(
        proofs.select(["quorum.write_write_intersect"]), on_result=lambda r: seen.append(r.name)
    )
    assert seen == [result.name for result in run.results]
    assert run.ok


def test_public_names_match_all() -> None:
    public = {name for name in vars(proofs) if not name.startswith("_")} - {"annotations"}
    assert public == set(proofs.__all__)


def test_a_result_and_a_registry_entry_cannot_be_changed_once_made() -> None:
    """A row's verdict is what its check returned: nothing downstream (the table, the
    JSON, the run's verdict) can rewrite it, and the registry's entries stay as
    registered."""
    row = _row("theorem", Status.PROVED)
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.status = Status.REFUTED  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        REGISTRY[0].check = lambda: row  # type: ignore[misc]
    assert row == _row("theorem", Status.PROVED)
