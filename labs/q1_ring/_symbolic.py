"""Wrappers that CrossHair's ``diffbehavior`` compares (check 1.4).

CrossHair runs in a subprocess of its own and names functions by module path, so
the two sides of the comparison are module-level functions here: one calls the
solution being graded (chosen by the subprocess's environment), one the answer
key. Both return None outside the answer key's preconditions, so CrossHair only
compares them where the specification defines an answer.
"""

from __future__ import annotations

from dynamokv.spec import ring as spec_ring

from .._solution import SolutionSource, load_solution
from ._answer import ANSWER_KEY

_solution = load_solution(
    SolutionSource.from_environment(), ANSWER_KEY, guard=False, contracts=False
)


def partition_of_yours(position: int, q: int) -> int | None:
    """The graded partition_of, where the specification defines it."""
    if not (q >= 1 and 0 <= position < spec_ring.RING_SIZE):
        return None
    result: int = _solution["partition_of"](position, q)
    return result


def partition_of_answer(position: int, q: int) -> int | None:
    """The answer key's partition_of, where it is defined."""
    if not (q >= 1 and 0 <= position < spec_ring.RING_SIZE):
        return None
    return spec_ring.partition_of(position, q)
