"""compare calls two clocks equal only when they are one object (``a is b``).

Two replicas that both hold D3 hold two equal clocks, never one object: compare
then says one is after the other, and a version looks newer than its own copy.
"""

from __future__ import annotations

from dynamokv.spec.vclock import Order, VectorClock, descends

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def compare(a: VectorClock, b: VectorClock) -> Order:
    if a is b:
        return Order.EQUAL
    if descends(a, b):
        return Order.AFTER
    if descends(b, a):
        return Order.BEFORE
    return Order.CONCURRENT
