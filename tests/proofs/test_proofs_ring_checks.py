"""The ring rows check what they say: the join rows state their own claims and replay a
counted set of keys, and the partition rows use the interval size, the position range and
the spec answers that their claims name.
"""

from __future__ import annotations

import pytest
import z3
from dynamokv.proofs import Status, _ring
from dynamokv.proofs._result import check_forall
from dynamokv.spec import ring as spec_ring

RING = spec_ring.RING_SIZE
THIRD = RING // 3
"""The interval size the Q = 3 control claims: ⌊RING_SIZE/3⌋."""


def test_the_join_theorem_and_its_control_each_state_their_own_claim() -> None:
    """The theorem allows the new node as a key's new owner; the control claims no key
    changes owner at all, which is the claim a refuted control must show."""
    theorem = _ring.join_moves_keys_only_to_new_node()
    control = _ring.join_moves_keys_only_to_new_node_control()
    assert theorem.claim == "after a join, a key's owner is its old owner or the new node"
    assert control.claim == "a join changes no key's owner"
    assert (theorem.status, control.status) == (Status.PROVED, Status.REFUTED)


def test_the_join_replay_checks_every_key_at_or_beside_a_token_of_both_joined_rings() -> None:
    """The replay walks two joins: strategy 1 with four tokens for each of A, B, C and the
    new node D, and strategy 3 with 32 partitions. It checks the key at, just before and
    just after every token of the joined ring, and the ring's two ends; the count it
    reports is the size of that set of positions, counted here from the rings."""
    weights = {"A": 4, "B": 4, "C": 4, "D": 4}
    random_ring = spec_ring.random_tokens(weights, spec_ring.md5_position)
    assignment = spec_ring.assign_partitions(["A", "B", "C"], 32)
    partition_ring = spec_ring.partition_ring(spec_ring.join_partitions(assignment, "D"))
    assert len(random_ring) == sum(weights.values())
    assert len(partition_ring) == 32

    def keys_beside_tokens(ring: spec_ring.Ring) -> set[int]:
        beside = {0, RING - 1}
        for position, _ in ring:
            beside |= {(position + step) % RING for step in (-1, 0, 1)}
        return beside

    expected = len(keys_beside_tokens(random_ring)) + len(keys_beside_tokens(partition_ring))
    replay = _ring._join_spec_check()
    assert replay.agreed
    assert replay.detail.startswith(f"preference_list on {expected} boundary keys ")


def test_the_partition_fraction_replay_fails_when_as_many_keys_move_from_the_wrong_partitions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The replay compares the partitions whose keys move with the partitions reassigned,
    not only their number: a spec that moves the keys of the partition next to each
    reassigned one moves the right fraction of keys from the wrong places, and must fail."""
    real = spec_ring.keys_that_move

    def one_partition_along(
        before: spec_ring.Ring, after: spec_ring.Ring, positions: list[int], n: int
    ) -> frozenset[int]:
        width = RING // len(before)
        return frozenset((x + width) % RING for x in real(before, after, positions, n))

    monkeypatch.setattr(spec_ring, "keys_that_move", one_partition_along)
    replay = _ring._fraction_spec_check()
    assert not replay.agreed
    assert replay.detail.startswith("Q=16: moved ")


def test_the_partition_rows_compare_partition_of_with_intervals_of_ring_size_over_q(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The theorem checks intervals of RING_SIZE/Q positions for every Q = 2^k of its
    scope, and the Q = 3 control the ⌊RING_SIZE/3⌋ positions its claim names."""
    asked: list[tuple[int, int]] = []
    real = _ring._interval_claim

    def recording(
        q: int, size: int
    ) -> tuple[z3.BoolRef, list[z3.BoolRef], z3.ArithRef, z3.ArithRef]:
        asked.append((q, size))
        return real(q, size)

    monkeypatch.setattr(_ring, "_interval_claim", recording)
    assert _ring.partitions_are_equal_intervals().ok
    assert asked == [(1 << k, RING >> k) for k in _ring.PARTITION_EXPONENTS]
    asked.clear()
    assert _ring.partitions_are_equal_intervals_control().ok
    assert asked == [(3, THIRD)]


@pytest.mark.parametrize("q", [1, 3, 1 << 14])
def test_the_interval_claim_ranges_over_exactly_the_positions_of_the_ring(q: int) -> None:
    """Positions 0 and RING_SIZE - 1 are in the claim's domain; -1 and RING_SIZE (one past
    the top, where partition_of would give Q) are not; partitions are 0 to Q - 1."""
    _, assuming, position, partition = _ring._interval_claim(q, RING // q)
    for x, p, possible in [
        (0, 0, True),
        (RING - 1, q - 1, True),
        (-1, 0, False),
        (RING, q - 1, False),
        (0, q, False),
        (0, -1, False),
    ]:
        solver = z3.Solver()
        solver.add(*assuming, position == x, partition == p)
        assert (solver.check() == z3.sat) == possible, (x, p)


def _q3_counterexamples() -> list[tuple[int, int]]:
    """Every (position, partition) where partition_of(·, 3) and the ⌊RING_SIZE/3⌋-sized
    intervals disagree. They can only lie next to a boundary of either picture."""
    boundaries = {spec_ring.partition_start(k, 3) for k in range(4)} | {k * THIRD for k in range(4)}
    candidates = {b + step for b in boundaries for step in (-1, 0, 1)}
    return sorted(
        (x, p)
        for x in candidates
        if 0 <= x < RING
        for p in range(3)
        if (spec_ring.partition_of(x, 3) == p) != (p * THIRD <= x < (p + 1) * THIRD)
    )


def test_the_unequal_partitions_control_has_only_counterexamples_next_to_a_boundary() -> None:
    """With the disagreements found next to the boundaries ruled out, the Q = 3 claim
    holds: there are no others for the control to report."""
    cases = _q3_counterexamples()
    assert len(cases) == 5  # ⌊R/3⌋ and 2⌊R/3⌋ lie in two partitions each; R - 1 in none
    claim, assuming, position, partition = _ring._interval_claim(3, THIRD)
    outside = [z3.Not(z3.And(position == x, partition == p)) for x, p in cases]
    assert check_forall(claim, assuming=[*assuming, *outside]).status is Status.PROVED


@pytest.mark.parametrize("case", _q3_counterexamples(), ids=str)
def test_the_unequal_partitions_control_replays_whichever_counterexample_it_gets(
    monkeypatch: pytest.MonkeyPatch, case: tuple[int, int]
) -> None:
    """The solver may return any of the disagreements; the replay through partition_of
    must confirm each of them: a position a ⌊RING_SIZE/3⌋ interval puts in a partition
    the spec does not, or the spec puts in a partition the interval does not."""
    x, p = case
    real = _ring._interval_claim

    def at_this_case(
        q: int, size: int
    ) -> tuple[z3.BoolRef, list[z3.BoolRef], z3.ArithRef, z3.ArithRef]:
        claim, assuming, position, partition = real(q, size)
        return claim, [*assuming, position == x, partition == p], position, partition

    monkeypatch.setattr(_ring, "_interval_claim", at_this_case)
    result = _ring.partitions_are_equal_intervals_control()
    assert result.status is Status.REFUTED
    assert result.counterexample == f"Q=3, position {x}, partition {p}"
    assert result.replay is not None and result.replay.agreed, result.replay
    assert result.replay.detail.startswith(f"partition_of gives {spec_ring.partition_of(x, 3)};")


def test_the_unequal_partitions_control_fails_when_partition_of_follows_equal_intervals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control's replay asks partition_of at the counterexample: a spec partition_of
    that cut the ring into ⌊RING_SIZE/Q⌋-sized intervals would agree with the wrong claim
    there, and the row must fail."""
    monkeypatch.setattr(spec_ring, "partition_of", lambda position, q: position // (RING // q))
    result = _ring.partitions_are_equal_intervals_control()
    assert result.status is Status.REFUTED
    assert result.replay is not None and not result.replay.agreed, result.replay
    assert not result.ok
