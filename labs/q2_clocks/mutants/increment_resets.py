"""increment keeps only the coordinator's entry: the new version forgets its context.

The new version then does not descend from the one it replaced, and both survive as siblings.
"""

from __future__ import annotations

from dynamokv.spec.vclock import VectorClock

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def increment(clock: VectorClock, node: str) -> dict[str, int]:
    return {node: clock.get(node, 0) + 1}
