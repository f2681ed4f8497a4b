"""Wrappers that CrossHair's ``diffbehavior`` compares (checks 2.3 and 3.2).

CrossHair runs in a subprocess of its own and names functions by module path, so
the two sides of each comparison are module-level functions here: one calls the
solution being graded (chosen by the subprocess's environment), one the answer
key. Clocks are given as counters of two nodes, so that CrossHair can explore
every path; arguments outside the specification's domain give None on both sides.
The answer key is called without its contracts, which would multiply the paths to
explore (``make crosshair`` checks the contracts on their own).
"""

from __future__ import annotations

from dynamokv.spec import lamport as spec_lamport

from .._solution import SolutionSource, load_answer_key, load_solution
from ._answer import ANSWER_KEY

_solution = load_solution(
    SolutionSource.from_environment(), ANSWER_KEY, guard=False, contracts=False
)
_ANSWER = load_answer_key(ANSWER_KEY, contracts=False)


def _clock(x: int, y: int) -> dict[str, int]:
    return {node: counter for node, counter in (("x", x), ("y", y)) if counter > 0}


def lamport_receive_yours(clock: int, message: int) -> int | None:
    """The graded lamport_receive, where the specification defines it."""
    if clock < 0 or message < 1:
        return None
    result: int = _solution["lamport_receive"](clock, message)
    return result


def lamport_receive_answer(clock: int, message: int) -> int | None:
    """The answer key's receive, where it is defined."""
    if clock < 0 or message < 1:
        return None
    return spec_lamport.receive(clock, message)


def descends_yours(a_x: int, a_y: int, b_x: int, b_y: int) -> bool | None:
    """The graded descends of {x: a_x, y: a_y} and {x: b_x, y: b_y} (zeros left out)."""
    if min(a_x, a_y, b_x, b_y) < 0:
        return None
    return bool(_solution["descends"](_clock(a_x, a_y), _clock(b_x, b_y)))


def descends_answer(a_x: int, a_y: int, b_x: int, b_y: int) -> bool | None:
    """The answer key's descends of the same clocks."""
    if min(a_x, a_y, b_x, b_y) < 0:
        return None
    return bool(_ANSWER["descends"](_clock(a_x, a_y), _clock(b_x, b_y)))
