"""``solver_timeout`` bounds every solver check inside its block.

A check the solver cannot settle in time is *unknown*, never proved.
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
