"""lamport_increment sets the lowest bit instead of adding one.

From an even clock (0, 4) it looks right; from an odd one (1, 7) the clock does not move,
and two events of one process share a timestamp.
"""

from __future__ import annotations

from dynamokv.spec.lamport import LamportClock

CAUGHT_BY = "3.1"


def lamport_increment(clock: LamportClock) -> LamportClock:
    return clock | 1
