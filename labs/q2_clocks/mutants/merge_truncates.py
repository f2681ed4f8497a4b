"""merge applies Dynamo's truncation itself: past 10 entries it drops the smallest counters.

The merged clock then no longer descends from both siblings, so the reconciled
version does not supersede them and they come back. Truncation (Dynamo §4.4) drops
the entry a node updated *least recently*, which a clock alone does not record; it
is a step of its own, never part of merge. No clock of Figure 3 has ten entries;
the property check draws clocks that do.
"""

from __future__ import annotations

from dynamokv.spec.vclock import TRUNCATION_THRESHOLD, VectorClock

CAUGHT_BY = "1.3"


def merge(a: VectorClock, b: VectorClock) -> dict[str, int]:
    merged = {node: max(a.get(node, 0), b.get(node, 0)) for node in set(a) | set(b)}
    while len(merged) > TRUNCATION_THRESHOLD:
        del merged[min(sorted(merged), key=lambda node: merged[node])]
    return merged
