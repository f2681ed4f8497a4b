"""partition_of divides by a rounded partition width, RING_SIZE // q, and clamps to Q - 1.

The clamp keeps the last positions of the ring out of a partition Q that does not
exist, but when Q does not divide 2¹²⁸ every rounded width is too short, so each
partition's edge sits a little early: with Q = 3 the last positions of partition 0
land in partition 1. Only the edges differ, which random positions never hit.
"""

from __future__ import annotations

from dynamokv.spec.ring import RING_SIZE

CAUGHT_BY = "1.3"
ALSO_CAUGHT_BY = ("1.4",)


def partition_of(position: int, q: int) -> int:
    return min(position // (RING_SIZE // q), q - 1)
