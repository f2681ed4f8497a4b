"""The bounds of the Z3 checks: ``solver_timeout`` makes a check it cuts short *unknown*,
never proved, and the Merkle proofs check every depth up to their bound.
"""

from __future__ import annotations

import pytest
import z3
from dynamokv.proofs import Status, _merkle, _quorum, _ring
from dynamokv.proofs._result import check_forall, solver_timeout


def test_a_check_the_solver_cannot_settle_in_time_is_unknown() -> None:
    x, y, z = z3.Ints("x y z")
    # Fermat for cubes: true, and beyond a solver's nonlinear integer reasoning.
    fermat = z3.Implies(z3.And(x > 0, y > 0, z > 0), x * x * x + y * y * y != z * z * z)
    with solver_timeout(1):
        outcome = check_forall(fermat)
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason


def _failing_from(failing_depth: int) -> type:
    class _FailsFrom:
        """A stand-in for the Merkle tree encoding whose claim breaks at ``failing_depth``."""

        def __init__(self, depth: int, *, injective: bool, stop_early: bool = False) -> None:
            self.visited = [z3.BoolVal(depth < failing_depth) for _ in range(1 << depth)]
            self.axioms: list[z3.BoolRef] = []

        def differs(self, bucket: int) -> z3.BoolRef:
            return z3.BoolVal(True)

    return _FailsFrom


@pytest.mark.parametrize("failing_depth", [2, _merkle.DEPTH_MAX, _merkle.DEPTH_MAX + 1])
def test_the_merkle_proofs_check_every_depth_up_to_their_bound(failing_depth: int) -> None:
    """A claim that holds below some depth and breaks there is refuted when that depth
    is within the bound (the second one, or the bound itself), and proved beyond it:
    the scope the rows state is the scope checked."""
    outcome, _ = _merkle._check_depths(
        _failing_from(failing_depth),
        complete=True,
        injective=False,
        stop_early=False,
    )
    within = failing_depth <= _merkle.DEPTH_MAX
    assert outcome.status is (Status.REFUTED if within else Status.PROVED)


def test_the_quorum_regions_admit_every_overlap_and_only_those() -> None:
    """The region encoding of two quorums of sizes x and y among N replicas allows exactly
    the overlaps two real quorums can have, max(0, x + y - N) to min(x, y): a region
    bound too tight (a read quorum inside the write quorum ruled out) would shrink the
    domain over which the intersection theorems hold, and they would still be proved."""
    regions = _quorum._Regions()
    solver = z3.Solver()
    solver.add(*regions.constraints())
    for n in range(1, 5):
        for x in range(1, n + 1):
            for y in range(1, n + 1):
                for both in range(0, n + 1):
                    solver.push()
                    solver.add(regions.n == n, regions.x == x, regions.y == y)
                    solver.add(regions.both == both)
                    possible = max(0, x + y - n) <= both <= min(x, y)
                    assert (solver.check() == z3.sat) == possible, (n, x, y, both)
                    solver.pop()


def test_the_strict_quorum_replay_checks_every_n_r_w_and_healthy_set() -> None:
    """The replay behind ``strict_never_misses`` tries every N up to half the list, every
    R, every W with R + W > N, and every set of healthy nodes: none is left out."""
    length = _quorum.LIST_LENGTH
    # For each N: R from 1 to N, and then R values of W (N - R + 1 to N).
    cases = sum((1 << length) * n * (n + 1) // 2 for n in range(1, length // 2 + 1))
    replay = _quorum._strict_never_misses()
    assert replay.agreed
    assert f"({cases} cases)" in replay.detail


def test_the_join_control_searches_rings_whose_tokens_each_named_node_may_own() -> None:
    """The join control's rings have their old tokens owned by A, B or C, any of them and
    no other: a bound too tight (A left out) would shrink the rings the control is
    refuted over, and it would still be refuted."""
    old = z3.Array("old", z3.IntSort(), z3.BoolSort())
    added = z3.Array("added", z3.IntSort(), z3.BoolSort())
    owner = z3.Array("owner", z3.IntSort(), z3.IntSort())
    new = z3.Int("new")
    slots = [z3.Int(f"slot_{i}") for i in range(_ring.OLD_TOKENS_MAX)]
    new_slot = z3.Int("new_slot")
    solver = z3.Solver()
    solver.add(*_ring._decodable(old, added, owner, new, slots, new_slot))
    solver.add(old[slots[0]])
    for node in range(-1, len(_ring.NODE_NAMES) + 2):
        solver.push()
        solver.add(owner[slots[0]] == node)
        assert (solver.check() == z3.sat) == (0 <= node < len(_ring.NODE_NAMES)), node
        solver.pop()
