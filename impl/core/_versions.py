"""Versions and syntactic reconciliation on the request path (Dynamo §4.4), fast.

The data model is :mod:`dynamokv.spec.kv`'s: a version carries the *dot* its
coordinator issued and the *context* the client sent, and X supersedes Y exactly when
Y's dot is in X's context.

:class:`Version` is the core's own type for it: a slotted frozen dataclass with the
fields of :class:`dynamokv.spec.kv.Version`, and the type the node sends on the wire and
stores on disk. The spec stays free to change for clarity: the wire format is this
class, pinned with ``FRAME_VERSION`` by ``tests/runtime/test_wire_schema.py``, and the
disk format is :mod:`dynamokv.impl.persist._records`. The functions below accept any
object with the three fields (a spec version too) and never build new versions, so the
differential tests can feed them the spec's values. They compute the
same results as ``spec.kv.reconcile``, ``merge_versions`` and ``context_of``
without contracts, sets of frozen dataclasses or dicts per comparison, and return
versions sorted by dot so that the order (and with it the simulator's trace) is
deterministic.

Dots are unique (see :mod:`dynamokv.impl.core._node`), so a dot identifies a
version; meeting one dot with two different values is a bug and fails an
invariant rather than letting one value vanish as "equal".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dynamokv.spec.errors import invariant

from . import _vclock
from ._frozen import fast_init
from ._vclock import Clock

__all__ = [
    "Version",
    "Versions",
    "absorbs",
    "bounded_batch",
    "context_of",
    "covers",
    "merge",
    "next_counter",
    "reconcile",
    "stored_bytes",
    "supersedes",
]


@fast_init
@dataclass(frozen=True, slots=True)
class Version:
    """One version of a key: a value (or a tombstone), its dot and its causal context.

    Attributes:
        value: the bytes written, or ``None`` for a tombstone (a delete).
        dot: the ``(coordinator, counter)`` the coordinator issued for this put.
        context: the causal context the client sent, as sorted ``(node, counter)`` pairs.
    """

    value: bytes | None
    dot: tuple[str, int]
    context: tuple[tuple[str, int], ...] = ()

    @property
    def clock(self) -> dict[str, int]:
        """The version's vector clock: its context with its own dot added."""
        return dict(_vclock.maximum((*self.context, self.dot)))

    @property
    def is_tombstone(self) -> bool:
        """Whether this version is a delete."""
        return self.value is None


Versions = tuple[Version, ...]
"""Mutually concurrent versions of one key, sorted by dot."""


def supersedes(x: Version, y: Version) -> bool:
    """Whether ``y``'s dot is in ``x``'s context (``x`` was written by a client that saw ``y``)."""
    node, counter = y.dot
    for entry_node, entry_counter in x.context:
        if entry_node == node:
            return entry_counter >= counter
    return False


def _dot_key(version: Version) -> tuple[str, int]:
    return version.dot


def reconcile(versions: Iterable[Version]) -> Versions:
    """Keep only the versions no other version supersedes, sorted by dot."""
    by_dot: dict[tuple[str, int], Version] = {}
    pool: list[Version] = []
    for version in versions:
        held = by_dot.get(version.dot)
        if held is None:
            by_dot[version.dot] = version
            pool.append(version)
        elif held is not version:
            invariant(held == version, "one dot carries two different versions")
    kept = []
    for v in pool:
        for x in pool:
            if x is not v and supersedes(x, v):
                break
        else:
            kept.append(v)
    kept.sort(key=_dot_key)
    return tuple(kept)


def merge(held: Versions, incoming: Iterable[Version]) -> Versions:
    """What a replica keeps after receiving ``incoming``: it merges, never overwrites."""
    incoming = tuple(incoming)
    if absorbs(incoming, held):
        # The usual case: a replica is sent what it holds or something newer (nothing is
        # held yet: absorbed too). One version is reconciled by itself.
        if len(incoming) == 1:
            return incoming
        return reconcile(incoming)
    return reconcile((*held, *incoming))


def absorbs(incoming: Versions, held: Versions) -> bool:
    """Whether ``reconcile(held + incoming)`` equals ``reconcile(incoming)``.

    True when every held version is in ``incoming`` (same dot) or superseded by an
    incoming version, and no held version missing from ``incoming`` supersedes an
    incoming one (supersession need not be transitive for hand-made contexts, so
    the second half is checked rather than assumed). Only the short context tuples
    are scanned: no dicts, no sets per call, which is what makes the fast path fast.
    """
    missing = []
    for h in held:
        for x in incoming:
            if x.dot == h.dot:
                if x is not h:
                    invariant(x == h, "one dot carries two different versions")
                break
            if supersedes(x, h):
                missing.append(h)
                break
        else:
            return False
    for h in missing:
        for x in incoming:
            if supersedes(h, x):
                return False
    return True


def context_of(versions: Iterable[Version]) -> Clock:
    """The context a get returns: the merge of the siblings' clocks (context plus dot)."""
    entries: dict[str, int] = {}
    for version in versions:
        for node, counter in (*version.context, version.dot):
            if entries.get(node, 0) < counter:  # a counter of 0 is no entry
                entries[node] = counter
    return tuple(sorted(entries.items()))


def covers(held: Iterable[Version], version: Version) -> bool:
    """Whether ``held`` contains ``version`` or a version that superseded it."""
    # A loop rather than any(...): the simulator's checkers ask this after every put, and
    # the generator costs about 1 % of a simulated run.
    for x in held:  # noqa: SIM110
        if x is version or x == version or supersedes(x, version):
            return True
    return False


def stored_bytes(versions: Iterable[Version]) -> int:
    """At most how many bytes ``versions`` take as one stored record or message item.

    Values count as they are; each version adds 32 bytes of framing and each counter entry
    (its dot, every context entry) 16 more, plus 4 bytes per character of the node names
    (UTF-8's most). Any encoding the node uses (msgpack on disk and on the wire) needs less,
    so a bound checked with this holds there.
    """
    total = 8
    for version in versions:
        value = version.value
        total += 48 + 4 * len(version.dot[0]) + (0 if value is None else len(value))
        for node, _counter in version.context:
            total += 16 + 4 * len(node)
    return total


def bounded_batch(
    items: Iterator[tuple[bytes, Versions]], *, keys_max: int, bytes_max: int
) -> tuple[list[tuple[bytes, Versions]], bytes | None]:
    """The next batch of ``items``: at most ``keys_max`` keys and ``bytes_max`` bytes of
    keys and versions (:func:`stored_bytes`), but never empty while items remain.

    Returns the batch and the key of the item that did not fit (``None`` if none was
    taken out of ``items`` beyond the batch): the caller reads that key again first for
    the next batch, so what it sends then is what it holds then.
    """
    batch: list[tuple[bytes, Versions]] = []
    size = 0
    for item in items:
        key, versions = item
        item_bytes = len(key) + stored_bytes(versions)
        if batch and size + item_bytes > bytes_max:
            return batch, key
        batch.append(item)
        size += item_bytes
        if len(batch) >= keys_max:
            break
    return batch, None


def next_counter(node_id: str, *, issued: int, context: Clock, held: Versions) -> int:
    """The counter of a new put's dot: never one this node issued before (Dynamo §4.4).

    The rule of :func:`dynamokv.spec.kv.next_counter`, kept cheaply: the node keeps one
    node-wide counter, ``issued``, so the result is above every counter it issued for
    any key, and therefore above its entry in every clock it holds; it must also be
    above the node's entry in the client's ``context`` (a context can carry a counter
    this incarnation has not issued yet: one from before a restart).

    Args:
        node_id: the coordinator.
        issued: the largest counter this node issued (or leased, after a restart).
        context: the context the client sent with the put.
        held: what the coordinator holds for the key; checked, never needed to decide.

    Returns:
        The counter to issue. The node still waits, if needed, until a lease covering
        it is durable (see :mod:`~dynamokv.impl.core._node`).

    Raises:
        dynamokv.spec.errors.InvariantError: the result would reissue a dot that ``held``
            records (a bug: two values under one dot would make one vanish as equal).
    """
    counter = issued + 1
    for node, own in context:
        if node == node_id:
            counter = max(counter, own + 1)
    for version in held:
        invariant(
            (version.dot[0] != node_id or version.dot[1] < counter)
            and all(c < counter for n, c in version.context if n == node_id),
            "a dot would be issued twice",
        )
    return counter
