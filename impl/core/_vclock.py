"""Vector clocks for the request path (Dynamo §4.4), fast.

:mod:`dynamokv.spec.vclock` defines the order; this module computes it on the
representation the core stores, a sorted tuple of ``(node, counter)`` pairs (the
``context`` field of :class:`dynamokv.spec.kv.Version`), without contracts or
intermediate dicts. The differential tests hold every function to the spec.

Truncation (Dynamo §4.4, threshold 10) keeps a clock short by dropping the entry
least recently updated. A version's pairs carry no wall-clock stamp here, so the
stamp is the counter itself: counters are node-wide and grow with a node's
activity (see :mod:`dynamokv.impl.core._node`), so the smallest counter is the
entry that node wrote longest ago. ``truncate(clock, t)`` equals
``spec.vclock.truncate(clock, stamps=clock, threshold=t)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dynamokv.spec.vclock import Order

__all__ = ["Clock", "compare", "descends", "freeze", "increment", "maximum", "merge", "truncate"]

Clock = tuple[tuple[str, int], ...]
"""A vector clock as sorted ``(node, counter)`` pairs, counters positive."""


def freeze(clock: Mapping[str, int] | Iterable[tuple[str, int]]) -> Clock:
    """The canonical form: sorted pairs, zero counters dropped."""
    items = clock.items() if isinstance(clock, Mapping) else clock
    return tuple(sorted((node, counter) for node, counter in items if counter > 0))


def maximum(pairs: Iterable[tuple[str, int]]) -> Clock:
    """The clock of each node's largest counter among ``pairs``.

    Built entry by entry (each node its largest counter so far) and sorted once at the
    end, rather than a dict made of the sorted pairs (whose last value per key is the
    largest): CrossHair's symbolic ``sorted`` of pairs with symbolic counters orders them
    otherwise than Python does, and could then neither prove this merge equal to the
    spec's nor show a real difference.
    """
    largest: dict[str, int] = {}
    for node, counter in pairs:
        largest[node] = max(largest.get(node, counter), counter)
    return tuple(sorted(largest.items()))


def merge(a: Clock, b: Clock) -> Clock:
    """The entrywise maximum."""
    return maximum((*a, *b))


def descends(a: Clock, b: Clock) -> bool:
    """Whether ``a`` is at least ``b`` in every entry (a node absent from a clock is at 0)."""
    if not b:
        return True
    entries = dict(a)
    return all(node in entries and entries[node] >= counter for node, counter in b)


def compare(a: Clock, b: Clock) -> Order:
    """Before, after, equal or concurrent."""
    a_descends = descends(a, b)
    b_descends = descends(b, a)
    if a_descends and b_descends:
        return Order.EQUAL
    if a_descends:
        return Order.AFTER
    if b_descends:
        return Order.BEFORE
    return Order.CONCURRENT


def increment(clock: Clock, node: str) -> Clock:
    """``node``'s entry plus one."""
    entries = dict(clock)
    entries[node] = entries.get(node, 0) + 1
    return tuple(sorted(entries.items()))


def truncate(clock: Clock, threshold: int, *, keep: str | None = None) -> Clock:
    """Drop the entries with the smallest counters until at most ``threshold`` remain.

    Ties go by node id, as in the spec. ``keep`` names an entry that must survive
    (the coordinator's own, whose dot the new version adds).
    """
    ranked = sorted(clock, key=lambda pair: (pair[0] == keep, pair[1], pair[0]), reverse=True)
    return tuple(sorted(ranked[:threshold]))
