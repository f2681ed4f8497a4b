"""preference_list ignores the ring: the coordinator is the key's position mod the node count.

This is hashing mod n. It spreads keys evenly, but when a node joins nearly every
key changes node (10/11 of them for an 11th node), the cost consistent hashing
exists to avoid (Dynamo §4.2).
"""

from __future__ import annotations

from dynamokv.spec.ring import Ring

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def preference_list(ring: Ring, position: int, n: int) -> tuple[str, ...]:
    nodes = sorted({node for _, node in ring})
    start = position % len(nodes)
    return tuple(nodes[(start + i) % len(nodes)] for i in range(min(n, len(nodes))))
