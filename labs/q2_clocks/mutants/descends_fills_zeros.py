"""descends fills each node it is missing into its first clock with counter 0, in place.

Every answer is right, but the clock it was given changes: a stored version's
clock gains zero entries, which a valid clock never stores, and the next write
under it carries them as its context. Only a check that looks at the arguments
after the call sees the bug.
"""

from __future__ import annotations

from typing import cast

from dynamokv.spec.vclock import Order, VectorClock

CAUGHT_BY = "2.2"


def descends(a: VectorClock, b: VectorClock) -> bool:
    filled = cast(dict[str, int], a)
    for node in b:
        filled.setdefault(node, 0)
    return all(filled[node] >= counter for node, counter in b.items())


def compare(a: VectorClock, b: VectorClock) -> Order:
    after, before = descends(dict(a), b), descends(dict(b), a)
    if after and before:
        return Order.EQUAL
    if after:
        return Order.AFTER
    if before:
        return Order.BEFORE
    return Order.CONCURRENT
