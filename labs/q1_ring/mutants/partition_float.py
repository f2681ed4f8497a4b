"""partition_of scales the position through a float and clamps the result to Q - 1.

A float keeps 53 of the position's 128 bits, so a position just before a
partition's first one rounds up into it (the last position of partition 0 of 4
lands in partition 1); the clamp only hides the same rounding at the top of the
ring, where it would give partition Q.
"""

from __future__ import annotations

from dynamokv.spec.ring import RING_SIZE

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.3", "1.4")


def partition_of(position: int, q: int) -> int:
    return min(int(position / RING_SIZE * q), q - 1)
