"""The bounds of the Z3 checks: ``solver_timeout`` makes a check it cuts short *unknown*,
never proved, and the Merkle proofs check every depth up to their bound.
"""

from __future__ import annotations

import pytest
import z3
from dynamokv.proofs import Status, _merkle
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
