"""The bounds of the Z3 checks: ``solver_timeout`` makes a check it cuts short *unknown*,
never proved, and the Merkle proofs check every depth up to their bound.
"""

from __future__ import annotations

import z3
from dynamokv.proofs import Status
from dynamokv.proofs._result import check_forall, solver_timeout


def test_a_check_the_solver_cannot_settle_in_time_is_unknown() -> None:
    x, y, z = z3.Ints("x y z")
    # Fermat for cubes: true, and beyond a solver's nonlinear integer reasoning.
    fermat = z3.Implies(z3.And(x > 0, y > 0, z > 0), x * x * x + y * y * y != z * z * z)
    with solver_timeout(1):
        outcome = check_forall(fermat)
    assert outcome.status is Status.UNKNOWN
    assert outcome.reason


class _FailsFromDepth2:
    """A stand-in for the Merkle tree encoding whose claim holds at depth 1 only."""

    def __init__(self, depth: int, *, injective: bool, stop_early: bool = False) -> None:
        self.visited = [z3.BoolVal(depth < 2) for _ in range(1 << depth)]
        self.axioms: list[z3.BoolRef] = []

    def differs(self, bucket: int) -> z3.BoolRef:
        return z3.BoolVal(True)


def test_the_merkle_proofs_check_every_depth_not_only_the_first() -> None:
    """A claim that holds at depth 1 and breaks at depth 2 is refuted, not proved."""
    from dynamokv.proofs import _merkle

    outcome, _ = _merkle._check_depths(
        _FailsFromDepth2,  # type: ignore[arg-type]
        complete=True,
        injective=False,
        stop_early=False,
    )
    assert outcome.status is Status.REFUTED
