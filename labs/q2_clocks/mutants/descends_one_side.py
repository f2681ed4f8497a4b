"""descends looks only at the nodes of its first clock: an entry only b has is ignored.

{Sx: 2} then "descends" from {Sx: 2, Sy: 1}, so a version that has not seen Sy's
write would overwrite it (Dynamo §4.4).
"""

from __future__ import annotations

from dynamokv.spec.vclock import Order, VectorClock

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2", "2.3")


def descends(a: VectorClock, b: VectorClock) -> bool:
    return all(counter >= b.get(node, 0) for node, counter in a.items())


def compare(a: VectorClock, b: VectorClock) -> Order:
    after, before = descends(a, b), descends(b, a)
    if after and before:
        return Order.EQUAL
    if after:
        return Order.AFTER
    if before:
        return Order.BEFORE
    return Order.CONCURRENT
