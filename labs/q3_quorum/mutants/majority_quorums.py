"""read_write_quorums_intersect asks for two majorities instead of R + W > N.

Majorities do intersect, but so do R=1 with W=N: read one, write all.
"""

from __future__ import annotations

CAUGHT_BY = "1.2"


def read_write_quorums_intersect(n: int, r: int, w: int) -> bool:
    return 2 * r > n and 2 * w > n
