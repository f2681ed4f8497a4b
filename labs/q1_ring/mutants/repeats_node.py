"""preference_list takes the next N tokens, so a node with two tokens in a row is listed twice.

With virtual nodes that puts two of the N replicas on one machine (Dynamo §4.3).
"""

from __future__ import annotations

import bisect

from dynamokv.spec.ring import Ring

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def preference_list(ring: Ring, position: int, n: int) -> tuple[str, ...]:
    start = bisect.bisect_left([p for p, _ in ring], position)
    return tuple(ring[(start + i) % len(ring)][1] for i in range(min(n, len(ring))))
