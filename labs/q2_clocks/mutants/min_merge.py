"""merge takes the entrywise minimum: the merged clock forgets writes it has seen.

A reconciled version then looks concurrent with (or older than) a sibling it
replaced, so siblings come back and the history is misread (Dynamo §4.4).
"""

from __future__ import annotations

from dynamokv.spec.vclock import VectorClock

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.3",)


def merge(a: VectorClock, b: VectorClock) -> dict[str, int]:
    merged = {node: min(a.get(node, 0), b.get(node, 0)) for node in set(a) | set(b)}
    return {node: counter for node, counter in merged.items() if counter > 0}
