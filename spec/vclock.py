"""Vector clocks: the causal order of versions (Dynamo §4.4).

A vector clock is a map from node id to counter; a node missing from the map has
counter 0. The coordinator of a put increments its own entry, so a version's clock
says how many updates from each node it has seen. One clock *descends* from another
when it is at least as large in every entry: its version has seen everything the
other has, and the older version can be discarded (syntactic reconciliation). When
neither descends from the other the versions are *concurrent*: both are kept as
siblings and the client reconciles them.

Unlike a Lamport timestamp, which squeezes causality into one integer and so orders
unrelated events arbitrarily, a vector clock detects concurrency exactly
(interview Q2; see the theorem ``lamport_order_does_not_imply_causality``).

Clocks grow with the number of coordinators. Dynamo stores a timestamp with every
entry and, past a threshold (10), drops the oldest entry (:func:`truncate`). That
can make concurrent versions look ordered, and one of them is then lost; the
project counts every truncation and the checkers account for it.

Every function is pure and returns a new ``dict``; arguments are never mutated.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import icontract

__all__ = [
    "TRUNCATION_THRESHOLD",
    "Order",
    "VectorClock",
    "compare",
    "descends",
    "increment",
    "is_valid",
    "merge",
    "truncate",
]

VectorClock = Mapping[str, int]
"""Node id -> counter. A node that is absent has counter 0."""

TRUNCATION_THRESHOLD = 10
"""Dynamo §4.4: "when the number of (node, counter) pairs reaches a threshold (say 10)"."""


class Order(enum.Enum):
    """How two clocks relate. Exactly one holds for any pair (a proved theorem)."""

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"


def is_valid(clock: VectorClock) -> bool:
    """A clock is valid when every counter is positive (zero entries are left out)."""
    return all(counter > 0 for counter in clock.values())


def _counter(clock: VectorClock, node: str) -> int:
    return clock.get(node, 0)


@icontract.require(lambda clock: is_valid(clock))
@icontract.ensure(lambda clock, node, result: result[node] == _counter(clock, node) + 1)
@icontract.ensure(
    lambda clock, node, result: all(
        result[other] == counter for other, counter in clock.items() if other != node
    )
)
@icontract.ensure(lambda clock, result: is_valid(result) and len(result) <= len(clock) + 1)
def increment(clock: VectorClock, node: str) -> dict[str, int]:
    """The clock of a new version coordinated by ``node`` (Dynamo §4.4).

    Args:
        clock: the clock the coordinator starts from (the client's context).
        node: the coordinator; only its counter changes, by one.

    Returns:
        A new clock that strictly descends from ``clock``.
    """
    result = dict(clock)
    result[node] = _counter(clock, node) + 1
    return result


@icontract.require(lambda a, b: is_valid(a) and is_valid(b))
@icontract.ensure(lambda a, b, result: result == all(_counter(a, node) >= b[node] for node in b))
def descends(a: VectorClock, b: VectorClock) -> bool:
    """Whether ``a`` has seen everything ``b`` has: ``a >= b`` in every entry.

    A version whose clock descends from another's may replace it. Every clock
    descends from itself.
    """
    return all(_counter(a, node) >= _counter(b, node) for node in set(a) | set(b))


@icontract.require(lambda a, b: is_valid(a) and is_valid(b))
@icontract.ensure(lambda a, b, result: descends(result, a) and descends(result, b))
@icontract.ensure(lambda a, b, result: set(result) == set(a) | set(b))
def merge(a: VectorClock, b: VectorClock) -> dict[str, int]:
    """The least clock that descends from both: the entrywise maximum.

    A client that read siblings writes back under the merge of their clocks, so
    the new version supersedes every sibling it has seen.
    """
    return {node: max(_counter(a, node), _counter(b, node)) for node in set(a) | set(b)}


@icontract.require(lambda a, b: is_valid(a) and is_valid(b))
@icontract.ensure(lambda a, b, result: (result is Order.EQUAL) == (dict(a) == dict(b)))
@icontract.ensure(
    lambda a, b, result: (result is Order.CONCURRENT) == (not descends(a, b) and not descends(b, a))
)
def compare(a: VectorClock, b: VectorClock) -> Order:
    """Place ``a`` relative to ``b``: before, after, equal, or concurrent."""
    a_descends = descends(a, b)
    b_descends = descends(b, a)
    if a_descends and b_descends:
        return Order.EQUAL
    if a_descends:
        return Order.AFTER
    if b_descends:
        return Order.BEFORE
    return Order.CONCURRENT


@icontract.require(lambda clock: is_valid(clock))
@icontract.require(lambda threshold: threshold >= 1)
@icontract.require(lambda clock, stamps: set(clock) <= set(stamps))
@icontract.ensure(
    lambda clock, result: all(clock[node] == counter for node, counter in result.items())
)
@icontract.ensure(lambda clock, threshold, result: len(result) == min(len(clock), threshold))
def truncate(clock: VectorClock, stamps: Mapping[str, int], threshold: int) -> dict[str, int]:
    """Drop the least recently updated entries until at most ``threshold`` remain.

    Dynamo §4.4: each (node, counter) pair carries the time the node last
    updated the item; "when the number of (node, counter) pairs reaches a
    threshold (say 10), the oldest pair is removed from the clock". Ties on the
    stamp are broken by node id so the result is deterministic.

    Args:
        clock: the clock to shorten.
        stamps: node id -> when that node last updated this item (any unit).
        threshold: the most entries the result may keep.
    """
    newest_first = sorted(clock, key=lambda node: (stamps[node], node), reverse=True)
    return {node: clock[node] for node in newest_first[:threshold]}
