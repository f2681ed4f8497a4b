"""Planted bugs are caught: in a theorem's encoding, in the spec, and by CrossHair.

If a bug planted on purpose survived, the proofs would be decoration. Each test
plants one and checks that the suite notices.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import dynamokv.spec.quorum as spec_quorum
import dynamokv.spec.vclock as spec_vclock
import pytest
from dynamokv import proofs
from dynamokv.proofs import Status


def test_merge_encoded_as_min_refutes_least_upper_bound() -> None:
    result = proofs.merge_is_least_upper_bound(merge=proofs.merge_min)
    assert result.status is Status.REFUTED
    assert not result.ok
    assert result.counterexample


def test_merge_encoded_as_max_proves_least_upper_bound() -> None:
    assert proofs.merge_is_least_upper_bound(merge=proofs.merge_max).ok


def test_strict_descends_encoding_refutes_reflexivity() -> None:
    from dynamokv.proofs._vclock import descends_strict

    assert proofs.descends_reflexive(descends=descends_strict).status is Status.REFUTED


def _merge_min(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    merged = {node: min(a.get(node, 0), b.get(node, 0)) for node in set(a) | set(b)}
    return {node: counter for node, counter in merged.items() if counter > 0}


def test_spec_merge_with_min_is_caught_by_the_replay(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Z3 encoding is right, but the spec is not: the row must still fail."""
    monkeypatch.setattr(spec_vclock, "merge", _merge_min)
    result = proofs.merge_is_least_upper_bound()
    assert result.status is Status.PROVED  # the law holds for the encoding...
    assert result.replay is not None and not result.replay.agreed  # ...not for the spec
    assert not result.ok


def test_spec_quorum_predicate_with_off_by_one_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spec_quorum, "read_write_quorums_intersect", lambda n, r, w: r + w >= n)
    result = proofs.read_write_intersect()
    assert result.replay is not None and not result.replay.agreed
    assert not result.ok


def test_crosshair_catches_spec_merge_with_min(tmp_path: Path) -> None:
    """A copy of spec/vclock.py whose merge takes the min: CrossHair must break its contract."""
    source = Path(spec_vclock.__file__).read_text()
    start = source.index("def merge(")
    body = source.index("max(", start)
    planted = tmp_path / "planted_vclock.py"
    planted.write_text(source[:body] + "min(" + source[body + len("max(") :])
    line = source[:start].count("\n") + 1
    result = proofs.crosshair_check(f"{planted}:{line}", per_condition_timeout=4)
    assert result.status is Status.REFUTED, result
    assert result.counterexample is not None and "merge" in result.counterexample


def test_crosshair_reports_unknown_when_it_cannot_run(tmp_path: Path) -> None:
    result = proofs.crosshair_check(tmp_path / "missing.py", per_condition_timeout=1)
    assert result.status is not Status.PROVED
    assert not result.ok
