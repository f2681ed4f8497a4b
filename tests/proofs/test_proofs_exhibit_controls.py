"""Exhibits and their controls fail independently.

An exhibit (an existential theorem) is proved by a witness. Its negation would be
refuted by that same witness, so a control that merely negates the exhibit can
never fail on its own. Each exhibit's control is therefore a separate encoding of
the wrong belief. These tests break one encoding at a time: breaking the exhibit's
makes ``dynamokv prove`` exit non-zero with only the exhibit's row failing, and
breaking the control's makes only the control's row fail.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
import z3
from dynamokv.impl.cli import main
from dynamokv.proofs import REGISTRY, _lamport, _quorum, _vclock

EXIT_FAILED = 1


def _failed_rows(out: str) -> set[str]:
    """The row names the FAILED line of ``dynamokv prove`` lists."""
    match = re.search(r"FAILED: \d+ of \d+ rows \((.*)\) in", out.replace("\n", " "))
    assert match, out
    return {name.strip() for name in match.group(1).split(",")}


def _prove(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["prove"])
    return code, capsys.readouterr().out


def test_sloppy_exhibit_with_substitutes_forgotten_fails_prove(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exhibit's quorum encoding without substitutes: no witness, the row fails."""
    monkeypatch.setattr(_quorum, "sloppy_members", _quorum.strict_members)
    code, out = _prove(capsys)
    assert code == EXIT_FAILED
    failed = _failed_rows(out)
    # The healthy-owners theorem shares the encoding and fails too; the exhibit's
    # controls have encodings of their own and still pass.
    assert "quorum.sloppy_can_miss_strict" in failed
    assert (
        not {
            "quorum.sloppy_can_miss_strict.control",
            "quorum.sloppy_can_miss_strict.control2",
        }
        & failed
    )


def test_sloppy_belief_with_its_walk_broken_fails_only_the_control(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_quorum, "sloppy_walk_members", _quorum.strict_members)
    code, out = _prove(capsys)
    assert code == EXIT_FAILED
    assert _failed_rows(out) == {"quorum.sloppy_can_miss_strict.control"}


class _NeverTruncated(_vclock._TruncatedClock):
    """A broken encoding: truncation keeps every entry."""

    def __init__(self, name: str, threshold: z3.ArithRef) -> None:
        super().__init__(name, threshold)
        self.truncated = list(self.counters)


def test_truncation_exhibit_that_never_truncates_fails_prove(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_vclock, "_TruncatedClock", _NeverTruncated)
    code, out = _prove(capsys)
    assert code == EXIT_FAILED
    assert _failed_rows(out) == {"vclock.truncation_can_order_concurrent"}


def test_truncation_belief_at_a_threshold_that_truncates_nothing_fails_only_the_control(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_vclock, "BELIEF_THRESHOLDS", (_vclock.TRUNCATION_NODES,))
    code, out = _prove(capsys)
    assert code == EXIT_FAILED
    assert _failed_rows(out) == {"vclock.truncation_can_order_concurrent.control"}


class _EverythingCausal(_lamport._History):
    """A broken encoding: happened-before relates every pair of distinct events."""

    def __init__(self, *, receive_ignores_own_clock: bool = False) -> None:
        super().__init__(receive_ignores_own_clock=receive_ignores_own_clock)
        count = len(self.events)
        self.happened_before = [[z3.BoolVal(x != y) for y in range(count)] for x in range(count)]


def test_lamport_exhibit_where_everything_is_causal_fails_prove(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_lamport, "_History", _EverythingCausal)
    code, out = _prove(capsys)
    assert code == EXIT_FAILED
    # The clock condition shares the history encoding; the vector-clock control does not
    # care (no witness either way), and the belief control has an encoding of its own.
    assert "lamport.order_does_not_imply_causality" in _failed_rows(out)
    assert not {
        "lamport.order_does_not_imply_causality.control",
        "lamport.order_does_not_imply_causality.control2",
    } & _failed_rows(out)


def _lamport_order(self: _lamport._VectorHistory, a: int, b: int) -> z3.BoolRef:
    """A broken vector order: Lamport's clock order in its place."""
    return self.lamport[a] < self.lamport[b]


def test_lamport_belief_with_vector_order_replaced_by_lamport_order_fails_only_the_control(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_lamport._VectorHistory, "before", _lamport_order)
    code, out = _prove(capsys)
    assert code == EXIT_FAILED
    assert "lamport.order_does_not_imply_causality.control" in _failed_rows(out)
    assert "lamport.order_does_not_imply_causality" not in _failed_rows(out)


def test_a_witness_found_by_the_vector_clock_control_is_a_pair_ordered_without_causality(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the no-witness control finds one (here its vector order is swapped for
    Lamport's, which does order unrelated events), the pair it shows is a witness: two
    events its order puts first and second that are not causally related, so the
    spec's vector clocks find them concurrent and the replay disagrees."""
    monkeypatch.setattr(_lamport._VectorHistory, "before", _lamport_order)
    (entry,) = [e for e in REGISTRY if e.name == "lamport.order_does_not_imply_causality.control2"]
    result = entry.check()
    assert not result.ok
    assert result.replay is not None and not result.replay.agreed
    assert result.replay.detail == "the spec's vector clocks compare concurrent"


@pytest.mark.parametrize(
    "controls",
    [
        ("quorum.sloppy_can_miss_strict.control", "quorum.sloppy_can_miss_strict.control2"),
        (
            "vclock.truncation_can_order_concurrent.control",
            "vclock.truncation_can_order_concurrent.control2",
        ),
        (
            "lamport.order_does_not_imply_causality.control",
            "lamport.order_does_not_imply_causality.control2",
        ),
    ],
)
def test_each_exhibit_has_a_belief_control_and_a_no_witness_control(
    controls: Sequence[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["prove", "--only", ",".join(controls), "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "counterexample:" in out
    assert "no witness exists" in out
