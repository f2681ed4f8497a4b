"""compare orders clocks by the sum of their counters, like a Lamport timestamp.

Every pair with different sums looks ordered: concurrent siblings are never seen,
and one of them silently wins.
"""

from __future__ import annotations

from dynamokv.spec.vclock import Order, VectorClock

CAUGHT_BY = "2.2"


def compare(a: VectorClock, b: VectorClock) -> Order:
    total_a, total_b = sum(a.values()), sum(b.values())
    if total_a == total_b:
        return Order.EQUAL if dict(a) == dict(b) else Order.CONCURRENT
    return Order.AFTER if total_a > total_b else Order.BEFORE
