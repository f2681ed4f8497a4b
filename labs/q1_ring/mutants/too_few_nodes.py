"""preference_list assumes at least N nodes and fails on a ring with fewer.

A ring may hold fewer physical nodes than N (a small cluster, a test): the list
then holds every node once.
"""

from __future__ import annotations

import bisect

from dynamokv.spec.ring import Ring

CAUGHT_BY = "2.2"


def preference_list(ring: Ring, position: int, n: int) -> tuple[str, ...]:
    start = bisect.bisect_left([p for p, _ in ring], position)
    ordered: list[str] = []
    offset = 0
    while len(ordered) < n:
        node = ring[(start + offset) % len(ring)][1]
        if node not in ordered:
            ordered.append(node)
        offset += 1
        if offset > 4 * len(ring):
            raise IndexError("ran out of nodes")
    return tuple(ordered)
