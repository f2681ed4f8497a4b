"""Wrappers that CrossHair's ``diffbehavior`` compares (check 1.3).

CrossHair runs in a subprocess of its own and names functions by module path, so
the two sides are module-level functions here: one calls the solution being
graded (chosen by the subprocess's environment), one the answer key. Arguments
outside a valid configuration give None on both sides.
"""

from __future__ import annotations

from dynamokv.spec.quorum import QuorumConfig

from .._solution import SolutionSource, load_answer_key, load_solution
from ._answer import ANSWER_KEY

_solution = load_solution(
    SolutionSource.from_environment(), ANSWER_KEY, guard=False, contracts=False
)
_ANSWER = load_answer_key(ANSWER_KEY, contracts=False)


def _valid(n: int, r: int, w: int) -> bool:
    return 1 <= r <= n and 1 <= w <= n


def is_strict_consistent_yours(n: int, r: int, w: int) -> bool | None:
    """The graded is_strict_consistent of (N, R, W)."""
    if not _valid(n, r, w):
        return None
    return bool(_solution["is_strict_consistent"](QuorumConfig(n=n, r=r, w=w)))


def is_strict_consistent_answer(n: int, r: int, w: int) -> bool | None:
    """The answer key's is_strict_consistent of (N, R, W)."""
    if not _valid(n, r, w):
        return None
    return bool(_ANSWER["is_strict_consistent"](QuorumConfig(n=n, r=r, w=w)))
