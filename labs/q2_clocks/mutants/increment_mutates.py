"""increment adds one to the context it was given, in place, and returns it.

The result is right, but the caller's context changes under it: a client that
keeps its context for the next write now sends one that claims a write it never
saw. Only a check that looks at the argument after the call sees the bug.
"""

from __future__ import annotations

from typing import cast

from dynamokv.spec.vclock import VectorClock

CAUGHT_BY = "1.2"


def increment(clock: VectorClock, node: str) -> dict[str, int]:
    changed = cast(dict[str, int], clock)
    changed[node] = changed.get(node, 0) + 1
    return changed
