"""The Merkle rows check what they say: the completeness theorem covers every depth from a
lone bucket up, against the diff that descends to the leaves, and the spec replay counts
every pair of key ranges it compares.
"""

from __future__ import annotations

import itertools
from typing import ClassVar

import pytest
import z3
from dynamokv.proofs import Status, _merkle


class _RecordingTrees(_merkle._Trees):
    """The real tree encoding, remembering how each tree was asked for."""

    built: ClassVar[list[tuple[int, bool]]] = []

    def __init__(self, depth: int, *, injective: bool, stop_early: bool = False) -> None:
        _RecordingTrees.built.append((depth, stop_early))
        super().__init__(depth, injective=injective, stop_early=stop_early)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, bool]]:
    built: list[tuple[int, bool]] = []
    monkeypatch.setattr(_RecordingTrees, "built", built)
    monkeypatch.setattr(_merkle, "_Trees", _RecordingTrees)
    return built


def _fails_only_at(failing_depth: int) -> type:
    class _FailsAt:
        """A stand-in tree encoding whose claim breaks at ``failing_depth`` alone."""

        def __init__(self, depth: int, *, injective: bool, stop_early: bool = False) -> None:
            self.depth = depth
            self.visited = [z3.BoolVal(depth != failing_depth) for _ in range(1 << depth)]
            self.axioms: list[z3.BoolRef] = []

        def differs(self, bucket: int) -> z3.BoolRef:
            return z3.BoolVal(True)

    return _FailsAt


def test_the_completeness_theorem_checks_a_tree_that_is_a_lone_bucket() -> None:
    """Depth 0 (the root is the only bucket) is in the theorem's scope: a claim that breaks
    there alone refutes it. Only the controls start at depth 1."""
    outcome, trees = _merkle._check_depths(
        _fails_only_at(0), complete=True, injective=True, stop_early=False
    )
    assert outcome.status is Status.REFUTED
    assert trees.depth == 0
    outcome, _ = _merkle._check_depths(
        _fails_only_at(0), complete=True, injective=False, stop_early=False
    )
    assert outcome.status is Status.PROVED


@pytest.mark.parametrize("control", [False, True])
def test_the_completeness_rows_check_the_diff_that_descends_to_the_leaves(
    recording: list[tuple[int, bool]], control: bool
) -> None:
    """Completeness is claimed of the real diff, so neither the theorem nor its control
    may check the variant that stops one level early: every tree they build is the full one."""
    row = _merkle.diff_is_complete_control if control else _merkle.diff_is_complete
    assert row().ok
    assert recording
    assert not any(stop_early for _, stop_early in recording)


def test_the_completeness_theorem_builds_its_trees_from_the_shallowest_up(
    recording: list[tuple[int, bool]],
) -> None:
    """Depths are checked in increasing order, so the first that fails is the smallest
    counterexample, and the deepest tree built is the bound of the stated scope."""
    assert _merkle.diff_is_complete().ok
    depths = [depth for depth, _ in recording]
    assert depths == sorted(depths)
    assert depths[0] == 0 and depths[-1] == _merkle.DEPTH_MAX
    assert set(depths) == set(range(_merkle.DEPTH_MAX + 1))


def test_the_merkle_replay_counts_every_pair_of_key_ranges_it_compares() -> None:
    """Each of the keys is absent or holds one of two values, giving 3^3 ranges; the replay
    diffs every ordered pair of them and says how many it checked."""
    ranges = list(itertools.product((None, b"v1", b"v2"), repeat=len(_merkle.SPEC_CHECK_KEYS)))
    pairs = len(list(itertools.product(ranges, repeat=2)))
    assert pairs == 729
    replay = _merkle._spec_check()
    assert replay.agreed
    assert f" on all {pairs} pairs of 3-key ranges (depth {_merkle.SPEC_CHECK_DEPTH})" in (
        replay.detail
    )


@pytest.mark.parametrize("differing", [[True, False], [False, True, True, False], [False] * 4])
def test_a_decoded_model_becomes_replicas_that_differ_in_exactly_its_differing_buckets(
    differing: list[bool],
) -> None:
    """The replay turns the model's buckets into two replicas, one key per bucket: the spec
    must see the keys of the differing buckets differ and no other."""
    a, b = _merkle._concrete(differing)
    assert set(a) == set(b) == {bytes([i]) for i in range(len(differing))}
    expected = {bytes([i]) for i, d in enumerate(differing) if d}
    assert set(_merkle.spec_merkle.differing_keys(a, b)) == expected
