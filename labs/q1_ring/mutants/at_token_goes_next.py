"""preference_list uses bisect_right: a key exactly at a token's position goes to the next node.

A token at position p is the end of its arc: keys up to and including p belong to it.
"""

from __future__ import annotations

import bisect

from dynamokv.spec.ring import Ring

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def preference_list(ring: Ring, position: int, n: int) -> tuple[str, ...]:
    start = bisect.bisect_right([p for p, _ in ring], position)
    ordered: list[str] = []
    for offset in range(len(ring)):
        node = ring[(start + offset) % len(ring)][1]
        if node not in ordered:
            ordered.append(node)
    return tuple(ordered[:n])
