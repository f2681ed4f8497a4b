"""increment applies Dynamo's truncation itself: past 10 entries it drops the smallest counter.

The new version then lacks an entry of the context it was written under, so it no
longer descends from it: the version it replaces comes back as a sibling. Truncation
(Dynamo §4.4) drops the entry a node updated *least recently*, which a clock alone
does not record; it is a step of its own, never part of increment. No clock of
Figure 3 has ten entries; the property check draws clocks that do.
"""

from __future__ import annotations

from dynamokv.spec.vclock import TRUNCATION_THRESHOLD, VectorClock

CAUGHT_BY = "1.2"


def increment(clock: VectorClock, node: str) -> dict[str, int]:
    result = dict(clock)
    result[node] = clock.get(node, 0) + 1
    while len(result) > TRUNCATION_THRESHOLD:
        oldest = min((other for other in result if other != node), key=lambda other: result[other])
        del result[oldest]
    return result
