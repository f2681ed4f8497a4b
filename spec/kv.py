"""The key-value contract of Dynamo, as a reference model (docs/architecture.md).

A key maps to a set of *versions*. A version is a value (or a tombstone) with the
causal history of the put that wrote it. Only mutually concurrent versions are
kept; a version that a later put has *seen* is discarded (syntactic
reconciliation, Dynamo §4.4). ``get`` returns every remaining version (the
siblings) and a *context*: the merge of their clocks. ``put`` carries the context
back, so the new version supersedes exactly the versions the client saw.

**Why a dot.** A version records the ``(node, counter)`` pair its coordinator
issued for it, the *dot*, apart from the *context* the client sent. Version X
supersedes Y exactly when X's context contains Y's dot. With plain vector clocks
two puts coordinated by the same node with the same (stale) context would either
get the same clock (two values under one clock: one silently vanishes as
"equal") or, if the node bumps its counter past the ones it issued, the second
clock would dominate the first although the client never saw it: an
acknowledged write lost. Keeping the dot apart (a *dotted version vector*,
Preguiça et al. 2010, as Riak 2.0 does) makes both puts siblings, as property 3
of the contract asks. ``clock`` (context plus dot) is the ordinary Dynamo vector clock
and is what a client sees; :mod:`dynamokv.spec.vclock` orders such clocks.

Dots are unique because a node never issues a counter twice for a key
(:func:`next_counter`). Truncating a context (Dynamo §4.4) can only make a
version fail to supersede what it saw, producing a false sibling, never a loss.

:class:`KVModel` is the ideal, fully converged store: what every replica must
hold after faults stop and repair completes. Stateful tests replay the
acknowledged operations of a run into it and compare.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import icontract

from . import vclock
from .vclock import VectorClock

__all__ = [
    "Dot",
    "KVModel",
    "Version",
    "cart_update",
    "context_of",
    "is_valid_version",
    "lww_resolve",
    "make_version",
    "merge_versions",
    "next_counter",
    "reconcile",
    "supersedes",
    "union_resolve",
]

Dot = tuple[str, int]
"""``(coordinator node id, counter)``: the event that wrote a version. Unique."""


def _freeze(clock: VectorClock) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(clock.items()))


@dataclass(frozen=True)
class Version:
    """One version of a key.

    Attributes:
        value: the bytes written, or ``None`` for a tombstone (a delete).
        dot: the ``(coordinator, counter)`` the coordinator issued for this put.
        context: the causal context the client sent, as sorted ``(node, counter)`` pairs.
    """

    value: bytes | None
    dot: Dot
    context: tuple[tuple[str, int], ...] = ()

    @property
    def clock(self) -> dict[str, int]:
        """The version's vector clock: its context with its own dot added."""
        node, counter = self.dot
        return vclock.merge(dict(self.context), {node: counter})

    @property
    def is_tombstone(self) -> bool:
        return self.value is None


@icontract.require(lambda context: vclock.is_valid(context))
@icontract.require(lambda coordinator, counter, context: counter > context.get(coordinator, 0))
@icontract.ensure(lambda coordinator, counter, result: result.dot == (coordinator, counter))
@icontract.ensure(
    lambda context, result: vclock.compare(result.clock, context) is vclock.Order.AFTER
)
def make_version(
    value: bytes | None, coordinator: str, counter: int, context: VectorClock
) -> Version:
    """The version a coordinator writes for a put (Dynamo §4.3, §4.4).

    Args:
        value: the new value, or ``None`` for a delete.
        coordinator: the node on the key's preference list coordinating the put.
        counter: a counter the coordinator has never issued before for this key,
            larger than its entry in ``context`` (see :func:`next_counter`).
        context: the merge of the clocks of the versions the client read.
    """
    return Version(value=value, dot=(coordinator, counter), context=_freeze(context))


def is_valid_version(version: Version) -> bool:
    """A dot's counter is above the coordinator's entry in a valid context (0 if absent),
    hence positive."""
    node, counter = version.dot
    context = dict(version.context)
    return counter > context.get(node, 0) and vclock.is_valid(context)


@icontract.require(lambda x, y: is_valid_version(x) and is_valid_version(y))
@icontract.ensure(lambda x, y, result: not result or x != y)
def supersedes(x: Version, y: Version) -> bool:
    """Whether ``x`` was written by a client that had seen ``y``: ``y``'s dot is in ``x``'s context."""
    node, counter = y.dot
    return dict(x.context).get(node, 0) >= counter


@icontract.require(
    lambda versions: isinstance(versions, Collection), "a collection: the contracts iterate it too"
)
@icontract.require(lambda versions: all(is_valid_version(v) for v in versions))
@icontract.ensure(lambda versions, result: result <= frozenset(versions))
@icontract.ensure(lambda result: all(not supersedes(x, y) for x in result for y in result))
def reconcile(versions: Collection[Version]) -> frozenset[Version]:
    """Syntactic reconciliation: drop every version that another one supersedes."""
    pool = frozenset(versions)
    return frozenset(v for v in pool if not any(supersedes(x, v) for x in pool))


def merge_versions(a: Iterable[Version], b: Iterable[Version]) -> frozenset[Version]:
    """How replicas combine what they hold (read repair, hinted handoff, anti-entropy).

    Replicas merge, they never overwrite: the result is the reconciliation of the
    union. It is commutative and idempotent; for versions written by real
    get/put histories (where a context only names versions that existed before
    it) it is also associative, so the order in which repairs arrive does not
    matter. Hand-made versions whose contexts name each other can break
    associativity; ``tests/spec/test_kv.py`` states the condition.
    """
    return reconcile([*a, *b])


@icontract.require(
    lambda versions: isinstance(versions, Collection), "a collection: the contracts iterate it too"
)
@icontract.require(lambda versions: all(is_valid_version(v) for v in versions))
@icontract.ensure(lambda versions, result: all(vclock.descends(result, v.clock) for v in versions))
def context_of(versions: Collection[Version]) -> dict[str, int]:
    """The context a get returns: the merge of the siblings' clocks."""
    context: dict[str, int] = {}
    for version in versions:
        context = vclock.merge(context, version.clock)
    return context


@icontract.require(
    lambda held: isinstance(held, Collection), "a collection: the contracts iterate it too"
)
@icontract.require(lambda held: all(is_valid_version(v) for v in held))
@icontract.require(lambda context: vclock.is_valid(context))
@icontract.ensure(lambda coordinator, context, result: result > context.get(coordinator, 0))
@icontract.ensure(
    lambda coordinator, held, result: all(
        result > v.clock[coordinator] for v in held if coordinator in v.clock
    )
)
def next_counter(coordinator: str, context: VectorClock, held: Collection[Version]) -> int:
    """The counter a coordinator issues: above its entry in the context and above
    its entry in the clock of every version it holds, so no dot is issued twice.

    The clocks, not just the dots: a version the coordinator wrote may have been
    superseded and dropped, and then only the context of the version that
    superseded it still records that counter."""
    issued = [v.clock[coordinator] for v in held if coordinator in v.clock]
    return max([context.get(coordinator, 0), *issued]) + 1


def union_resolve(values: Iterable[bytes]) -> bytes:
    """The shopping cart's resolver (Dynamo §4.4, interview Q5): the union of items.

    A value is a set of items, one per line. Merging by union never loses an
    added item; a deleted item can resurface, which Amazon accepted for carts.
    """
    items: set[bytes] = set()
    for value in values:
        items.update(line for line in value.split(b"\n") if line)
    return b"\n".join(sorted(items))


def lww_resolve(versions: Iterable[tuple[int, bytes]]) -> bytes:
    """Last-write-wins: keep the value with the highest timestamp (ties: largest value).

    Interview Q5: with LWW, of two concurrent cart updates one is discarded, so an
    item a customer added can silently disappear.
    """
    return max(versions)[1]


@icontract.require(lambda item: item and b"\n" not in item)
@icontract.ensure(lambda stamp, result: result[0] == stamp)
@icontract.ensure(lambda item, result: item in result[1].split(b"\n"))
@icontract.ensure(
    lambda siblings, last_write_wins, result: (
        last_write_wins
        or all(
            line in result[1].split(b"\n")
            for _, value in siblings
            for line in value.split(b"\n")
            if line
        )
    )
)
def cart_update(
    siblings: Sequence[tuple[int, bytes]], item: bytes, stamp: int, *, last_write_wins: bool
) -> tuple[int, bytes]:
    """The shopping-cart client's read-resolve-write step (Dynamo §4.4, interview Q5).

    The client read the cart's siblings, each as ``(the timestamp its writer put in it,
    its items)``; it resolves them into one cart, with :func:`union_resolve` or, if
    ``last_write_wins``, with :func:`lww_resolve`; adds ``item``; and writes the result
    back, stamped with its own timestamp ``stamp``, under the context of what it read.

    Args:
        siblings: what the get returned, each sibling as ``(timestamp, items)``; empty
            for a cart that does not exist yet.
        item: the item to add (one line).
        stamp: the client's timestamp for the new value.
        last_write_wins: resolve by timestamp instead of by union.

    Returns:
        ``(stamp, items)``: the value to write back, items one per line, sorted.
    """
    values = [value for _, value in siblings]
    resolved = lww_resolve(siblings) if last_write_wins and siblings else union_resolve(values)
    return stamp, union_resolve([resolved, item])


@dataclass(frozen=True)
class KVModel:
    """The ideal, converged store: siblings per key after every acknowledged write.

    Immutable: every operation returns a new model.
    """

    data: Mapping[bytes, frozenset[Version]] = field(default_factory=dict)

    def get(self, key: bytes) -> tuple[frozenset[Version], dict[str, int]]:
        """Every sibling of ``key`` (tombstones included) and the context to write back with."""
        siblings = self.data.get(key, frozenset())
        return siblings, context_of(siblings)

    def put(
        self, key: bytes, context: VectorClock, value: bytes | None, coordinator: str
    ) -> tuple[KVModel, Version]:
        """Write ``value`` (``None`` deletes) under ``context``, coordinated by ``coordinator``."""
        held = self.data.get(key, frozenset())
        version = make_version(
            value, coordinator, next_counter(coordinator, context, held), context
        )
        return self.apply(key, [version]), version

    def apply(self, key: bytes, versions: Iterable[Version]) -> KVModel:
        """Merge versions written elsewhere into ``key`` (what a replica does on receipt)."""
        data = dict(self.data)
        data[key] = merge_versions(self.data.get(key, frozenset()), versions)
        return KVModel(data)

    def values(self, key: bytes) -> frozenset[bytes | None]:
        """The sibling values of ``key`` (``None`` for a tombstone)."""
        return frozenset(v.value for v in self.data.get(key, frozenset()))
