"""partition_of divides by a rounded partition width, RING_SIZE // q, in integers.

That is exact when Q divides 2¹²⁸ (every power of two, so Dynamo's Q = 16,384
passes), but for any other Q the widths are rounded down and the last positions of
the ring fall into a partition Q that does not exist.
"""

from __future__ import annotations

from dynamokv.spec.ring import RING_SIZE

CAUGHT_BY = "1.3"
ALSO_CAUGHT_BY = ("1.4",)


def partition_of(position: int, q: int) -> int:
    return position // (RING_SIZE // q)
