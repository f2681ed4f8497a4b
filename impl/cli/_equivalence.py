"""Spec ↔ implementation pairs for ``crosshair diffbehavior`` (``dynamokv prove --crosshair``).

Why adapters: the fast functions of :mod:`dynamokv.impl.core` and the specs of
:mod:`dynamokv.spec` compute the same things on different representations (a
sorted tuple of pairs against a dict, a precomputed table against a walk of the
ring, a sorted tuple of versions against a frozenset). CrossHair compares two
functions called with the same arguments, so each pair gets two adapters with one
signature: they decode the same small inputs into each side's representation,
call the function, and encode the result the same way.

Why fixed shapes: inputs are a few integers and fixed-length tuples of integers
(clocks over three nodes with any counters, three versions, four partitions), not
dictionaries of strings. Such a domain has finitely many *paths* through both
functions even though the integers are unbounded, so CrossHair can explore every
path and say so ("all paths exhausted"): only then is a pair reported equivalent.
A run that stops at its time bound first is *unknown*, never equivalent.

Inputs outside the functions' domain (a counter that is not positive, two versions
with one dot) are decoded to ``None`` by both adapters alike, so they never count
as a difference.

Why one table: :data:`PAIRS` names every implementation and spec function by its
import path. The adapters look their function up in the table when called, so when
a function moves or is renamed, one string changes here.

Each pair has a *planted divergence*: a third adapter that calls a deliberately
wrong variant of the implementation (merge dropping a node, supersedes with ``>``,
a preference list that does not skip repeated nodes...). ``dynamokv prove
--crosshair`` runs it under the same bound as the pair and must report a
difference, so a bound too small to find anything, or an adapter that hides the
functions' results, fails the run.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dynamokv.spec import ring as spec_ring
from dynamokv.spec.kv import Version

__all__ = ["PAIRS", "Pair", "resolve"]

NODES = ("a", "b", "c")
"""Clocks and dots range over these nodes (sorted, so a tuple over them is canonical)."""

ClockInput = tuple[int, int, int]
"""Counters for nodes a, b, c; a counter that is not positive means the node is absent."""

VersionInput = tuple[int, int, int, int, int]
"""``(dot node index, dot counter, context counters for a, b, c)``; counter ≤ 0: no version."""

Assignment = tuple[int, int, int, int]
"""The owner (node index) of each of four partitions."""


@dataclass(frozen=True)
class Pair:
    """One implementation function held to one spec function.

    Attributes:
        name: the row name, ``equivalence.<name>``.
        impl: import path of the implementation function (``module.function``).
        spec: import path of the spec function.
        why: what the pair shows, one sentence.
        planted: what the planted divergence gets wrong, one sentence.
    """

    name: str
    impl: str
    spec: str
    why: str
    planted: str

    @property
    def impl_adapter(self) -> str:
        """Import path of the adapter calling :attr:`impl`."""
        return f"{__name__}.impl_{self.name.replace('.', '_')}"

    @property
    def spec_adapter(self) -> str:
        """Import path of the adapter calling :attr:`spec`."""
        return f"{__name__}.spec_{self.name.replace('.', '_')}"

    @property
    def planted_adapter(self) -> str:
        """Import path of the adapter calling the planted wrong variant."""
        return f"{__name__}.planted_{self.name.replace('.', '_')}"


_CORE = "dynamokv.impl.core"
PAIRS: tuple[Pair, ...] = (
    Pair(
        "vclock.descends",
        f"{_CORE}._vclock.descends",
        "dynamokv.spec.vclock.descends",
        "descends on sorted pair tuples equals the spec's entrywise ≥",
        "descends with > instead of ≥",
    ),
    Pair(
        "vclock.merge",
        f"{_CORE}._vclock.merge",
        "dynamokv.spec.vclock.merge",
        "merge on sorted pair tuples equals the spec's entrywise maximum",
        "merge that keeps only the first clock's nodes",
    ),
    Pair(
        "vclock.compare",
        f"{_CORE}._vclock.compare",
        "dynamokv.spec.vclock.compare",
        "compare places every pair of clocks as the spec does",
        "compare that tests 'after' before 'equal'",
    ),
    Pair(
        "versions.reconcile",
        f"{_CORE}._versions.reconcile",
        "dynamokv.spec.kv.reconcile",
        "syntactic reconciliation keeps exactly the spec's versions",
        "supersedes with > instead of ≥",
    ),
    Pair(
        "versions.merge",
        f"{_CORE}._versions.merge",
        "dynamokv.spec.kv.merge_versions",
        "a replica's merge (with its fast paths) equals the spec's reconciled union",
        "a merge that overwrites what the replica holds with what arrives",
    ),
    Pair(
        "versions.context_of",
        f"{_CORE}._versions.context_of",
        "dynamokv.spec.kv.context_of",
        "the context a get returns equals the spec's merge of the siblings' clocks",
        "a context that merges the siblings' contexts but forgets their dots",
    ),
    Pair(
        "ring.preference_list",
        f"{_CORE}._ring.PartitionRing",
        "dynamokv.spec.ring.preference_list",
        "the precomputed preference list of a partition equals the spec's walk of the ring",
        "a preference list that does not skip repeated physical nodes",
    ),
)
"""Every pair, in the order ``dynamokv prove --crosshair`` runs them."""

_BY_NAME = {pair.name: pair for pair in PAIRS}


@functools.cache
def resolve(path: str) -> Any:
    """The object at an import path ``package.module.name``."""
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _impl(name: str) -> Any:
    return resolve(_BY_NAME[name].impl)


def _spec(name: str) -> Any:
    # The body, without the icontract wrapper: the contracts are checked on their own
    # (``make crosshair``), and checking them again on every path here would multiply
    # the paths to explore without comparing anything more.
    return inspect.unwrap(resolve(_BY_NAME[name].spec))


# --- decoding the shared inputs ------------------------------------------------------


def _pairs(counters: ClockInput) -> tuple[tuple[str, int], ...]:
    """A clock as sorted ``(node, counter)`` pairs, absent nodes left out."""
    return tuple((node, counter) for node, counter in zip(NODES, counters) if counter > 0)


def _version(raw: VersionInput) -> Version | None:
    """A valid version, or None for "no version" (counter ≤ 0) and invalid input."""
    node_index, counter, *context_counters = raw
    if counter <= 0 or not 0 <= node_index < len(NODES):
        return None
    node = NODES[node_index]
    context = _pairs((context_counters[0], context_counters[1], context_counters[2]))
    if dict(context).get(node, 0) >= counter:
        return None  # a dot must lie above its coordinator's entry in the context
    value = f"{node}{counter}".encode()  # one value per dot: dots are unique
    return Version(value, (node, counter), context)


def _versions(*raws: VersionInput) -> tuple[Version, ...] | None:
    """Versions with distinct dots (sorted by dot), or None if two share a dot."""
    versions = [v for v in map(_version, raws) if v is not None]
    dots = [v.dot for v in versions]
    if len(set(dots)) != len(dots):
        return None
    return tuple(sorted(versions, key=lambda v: v.dot))


def _reconciled(versions: tuple[Version, ...]) -> bool:
    """No version supersedes another: what a replica holds."""
    return not any(
        dict(x.context).get(y.dot[0], 0) >= y.dot[1] for x in versions for y in versions
    )


def _canonical(versions: Any) -> tuple[tuple[tuple[str, int], Any, bytes | None], ...]:
    return tuple(sorted((v.dot, v.context, v.value) for v in versions))


# --- vector clocks -----------------------------------------------------------------


def impl_vclock_descends(a: ClockInput, b: ClockInput) -> bool:
    """``impl.core._vclock.descends`` on the decoded clocks."""
    descends: Callable[[Any, Any], bool] = _impl("vclock.descends")
    return descends(_pairs(a), _pairs(b))


def spec_vclock_descends(a: ClockInput, b: ClockInput) -> bool:
    """``spec.vclock.descends`` on the decoded clocks."""
    descends: Callable[[Any, Any], bool] = _spec("vclock.descends")
    return descends(dict(_pairs(a)), dict(_pairs(b)))


def planted_vclock_descends(a: ClockInput, b: ClockInput) -> bool:
    """A planted divergence: ``>`` where ``≥`` belongs."""
    entries = dict(_pairs(a))
    return all(entries.get(node, 0) > counter for node, counter in _pairs(b))


def impl_vclock_merge(a: ClockInput, b: ClockInput) -> tuple[tuple[str, int], ...]:
    """``impl.core._vclock.merge`` on the decoded clocks."""
    merge: Callable[[Any, Any], tuple[tuple[str, int], ...]] = _impl("vclock.merge")
    return tuple(merge(_pairs(a), _pairs(b)))


def spec_vclock_merge(a: ClockInput, b: ClockInput) -> tuple[tuple[str, int], ...]:
    """``spec.vclock.merge`` on the decoded clocks, as sorted pairs."""
    merge: Callable[[Any, Any], dict[str, int]] = _spec("vclock.merge")
    return tuple(sorted(merge(dict(_pairs(a)), dict(_pairs(b))).items()))


def planted_vclock_merge(a: ClockInput, b: ClockInput) -> tuple[tuple[str, int], ...]:
    """A planted divergence: the maximum over the first clock's nodes only."""
    other = dict(_pairs(b))
    return tuple((node, max(counter, other.get(node, 0))) for node, counter in _pairs(a))


def impl_vclock_compare(a: ClockInput, b: ClockInput) -> str:
    """``impl.core._vclock.compare`` on the decoded clocks."""
    return str(_impl("vclock.compare")(_pairs(a), _pairs(b)).value)


def spec_vclock_compare(a: ClockInput, b: ClockInput) -> str:
    """``spec.vclock.compare`` on the decoded clocks."""
    return str(_spec("vclock.compare")(dict(_pairs(a)), dict(_pairs(b))).value)


def planted_vclock_compare(a: ClockInput, b: ClockInput) -> str:
    """A planted divergence: 'after' is tested before 'equal', so equal clocks come out 'after'."""
    descends = _impl("vclock.descends")
    x, y = _pairs(a), _pairs(b)
    if descends(x, y):
        return "after"
    if descends(y, x):
        return "before"
    return "concurrent"


# --- versions ------------------------------------------------------------------------


def impl_versions_reconcile(x: VersionInput, y: VersionInput, z: VersionInput) -> object:
    """``impl.core._versions.reconcile`` on up to three decoded versions."""
    versions = _versions(x, y, z)
    return None if versions is None else _canonical(_impl("versions.reconcile")(versions))


def spec_versions_reconcile(x: VersionInput, y: VersionInput, z: VersionInput) -> object:
    """``spec.kv.reconcile`` on up to three decoded versions."""
    versions = _versions(x, y, z)
    return None if versions is None else _canonical(_spec("versions.reconcile")(versions))


def planted_versions_reconcile(x: VersionInput, y: VersionInput, z: VersionInput) -> object:
    """A planted divergence: supersedes with ``>``, so a context equal to a dot supersedes nothing."""
    versions = _versions(x, y, z)
    if versions is None:
        return None
    kept = [
        v
        for v in versions
        if not any(dict(w.context).get(v.dot[0], 0) > v.dot[1] for w in versions if w is not v)
    ]
    return _canonical(kept)


def impl_versions_merge(
    held_x: VersionInput, held_y: VersionInput, incoming_x: VersionInput, incoming_y: VersionInput
) -> object:
    """``impl.core._versions.merge(held, incoming)``: ``held`` is what a replica holds."""
    held, incoming = _versions(held_x, held_y), _versions(incoming_x, incoming_y)
    if held is None or incoming is None or not _reconciled(held) or _clash(held, incoming):
        return None
    return _canonical(_impl("versions.merge")(held, incoming))


def spec_versions_merge(
    held_x: VersionInput, held_y: VersionInput, incoming_x: VersionInput, incoming_y: VersionInput
) -> object:
    """``spec.kv.merge_versions(held, incoming)``."""
    held, incoming = _versions(held_x, held_y), _versions(incoming_x, incoming_y)
    if held is None or incoming is None or not _reconciled(held) or _clash(held, incoming):
        return None
    return _canonical(_spec("versions.merge")(held, incoming))


def planted_versions_merge(
    held_x: VersionInput, held_y: VersionInput, incoming_x: VersionInput, incoming_y: VersionInput
) -> object:
    """A planted divergence: the replica overwrites what it holds with what arrives."""
    held, incoming = _versions(held_x, held_y), _versions(incoming_x, incoming_y)
    if held is None or incoming is None or not _reconciled(held) or _clash(held, incoming):
        return None
    return _canonical(_impl("versions.reconcile")(incoming or held))


def _clash(held: tuple[Version, ...], incoming: tuple[Version, ...]) -> bool:
    """One dot on both sides with different contents: outside the domain (dots are unique)."""
    by_dot = {v.dot: v for v in held}
    return any(v.dot in by_dot and by_dot[v.dot] != v for v in incoming)


def impl_versions_context_of(x: VersionInput, y: VersionInput, z: VersionInput) -> object:
    """``impl.core._versions.context_of`` of up to three decoded versions."""
    versions = _versions(x, y, z)
    return None if versions is None else tuple(_impl("versions.context_of")(versions))


def spec_versions_context_of(x: VersionInput, y: VersionInput, z: VersionInput) -> object:
    """``spec.kv.context_of`` of up to three decoded versions, as sorted pairs."""
    versions = _versions(x, y, z)
    if versions is None:
        return None
    return tuple(sorted(_spec("versions.context_of")(versions).items()))


def planted_versions_context_of(x: VersionInput, y: VersionInput, z: VersionInput) -> object:
    """A planted divergence: the merge of the contexts, without the versions' own dots."""
    versions = _versions(x, y, z)
    if versions is None:
        return None
    merged: dict[str, int] = {}
    for version in versions:
        for node, counter in version.context:
            merged[node] = max(merged.get(node, 0), counter)
    return tuple(sorted(merged.items()))


# --- the ring ------------------------------------------------------------------------


def _assignment(owners: Assignment) -> tuple[str, ...] | None:
    if not all(0 <= owner < len(NODES) for owner in owners):
        return None
    return tuple(NODES[owner] for owner in owners)


def _in_domain(owners: Assignment, n: int, partition: int) -> tuple[str, ...] | None:
    assignment = _assignment(owners)
    if assignment is None or not 1 <= n <= len(NODES) or not 0 <= partition < len(owners):
        return None
    return assignment


def impl_ring_preference_list(owners: Assignment, n: int, partition: int) -> object:
    """``PartitionRing(assignment, n=n)``: the precomputed preference list of a partition."""
    assignment = _in_domain(owners, n, partition)
    if assignment is None:
        return None
    ring = _impl("ring.preference_list")(assignment, n=n)
    return tuple(ring.partition_preference_list(partition))


def spec_ring_preference_list(owners: Assignment, n: int, partition: int) -> object:
    """``spec.ring.preference_list`` at the partition's first position, on its strategy-3 ring."""
    assignment = _in_domain(owners, n, partition)
    if assignment is None:
        return None
    ring_spec = spec_ring.partition_ring(assignment)
    position = spec_ring.partition_start(partition, len(assignment))
    return tuple(_spec("ring.preference_list")(ring_spec, position, n))


def planted_ring_preference_list(owners: Assignment, n: int, partition: int) -> object:
    """A planted divergence: the next owners clockwise, repeated physical nodes not skipped."""
    assignment = _in_domain(owners, n, partition)
    if assignment is None:
        return None
    q = len(assignment)
    return tuple(assignment[(partition + offset) % q] for offset in range(n))
