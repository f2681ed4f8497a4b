"""Spec ↔ implementation pairs for ``crosshair diffbehavior`` (``dynamokv prove --crosshair``).

Why adapters: the fast functions of :mod:`dynamokv.impl.core` and the specs of
:mod:`dynamokv.spec` compute the same things on different representations (a
sorted tuple of pairs against a dict, a precomputed table against a walk of the
ring, a sorted tuple of versions against a frozenset). CrossHair compares two
functions called with the same arguments, so each pair gets two adapters with one
signature: they decode the same small inputs into each side's representation,
call the function, and encode the result the same way.

Why fixed shapes: inputs are a few integers and fixed-length tuples of integers
(clocks over three nodes with any counters, the contexts of three versions, rings
of three partitions), not
dictionaries of strings. Such a domain has finitely many *paths* through both
functions even though the integers are unbounded, so CrossHair can explore every
path and say so ("all paths exhausted"): only then is a pair reported equivalent.
A run that stops at its time bound first is *unknown*, never equivalent.

Inputs outside the functions' domain (a replica holding versions that are not
concurrent, N or a partition out of range) are decoded to ``None`` by both adapters
alike, so they never count as a difference.

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

Owners = tuple[str, ...]
"""The owner of each partition."""

RING_PARTITIONS = 3


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
    return tuple(
        (node, counter) for node, counter in zip(NODES, counters, strict=True) if counter > 0
    )


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
#
# Three versions with fixed dots, x = a:1, y = b:1 and z = a:2 (two by one coordinator,
# one by another), and symbolic contexts: supersession compares context entries with
# dot counters, so symbolic entries against fixed counters reach every outcome, and
# the sorting by dot on both sides never branches on a symbol.


def _three(x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int) -> Versions:
    """x = a:1, y = b:1 and z = a:2 with the given contexts (entries below their own dot)."""
    x = Version(b"x", ("a", 1), _pairs((0, x_context_b, 0)))
    y = Version(b"y", ("b", 1), _pairs((y_context_a, 0, 0)))
    z = Version(b"z", ("a", 2), _pairs((min(z_context_a, 1), z_context_b, 0)))
    return x, y, z


Versions = tuple[Version, ...]


def _canonical(versions: Any) -> tuple[tuple[tuple[str, int], Any, bytes | None], ...]:
    return tuple((v.dot, v.context, v.value) for v in sorted(versions, key=lambda v: v.dot))


def impl_versions_reconcile(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int
) -> object:
    """``impl.core._versions.reconcile`` of x, y and z."""
    x, y, z = _three(x_context_b, y_context_a, z_context_a, z_context_b)
    pool = (x, y, z)
    return _canonical(_impl("versions.reconcile")(pool))


def spec_versions_reconcile(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int
) -> object:
    """``spec.kv.reconcile`` of x, y and z."""
    x, y, z = _three(x_context_b, y_context_a, z_context_a, z_context_b)
    pool = (x, y, z)
    return _canonical(_spec("versions.reconcile")(pool))


def planted_versions_reconcile(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int
) -> object:
    """A planted divergence: supersedes with ``>``, so a context equal to a dot supersedes nothing."""
    x, y, z = _three(x_context_b, y_context_a, z_context_a, z_context_b)
    pool = (x, y, z)
    return _canonical(
        v
        for v in pool
        if not any(dict(w.context).get(v.dot[0], 0) > v.dot[1] for w in pool if w is not v)
    )


def _held_and_incoming(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int, y_again: bool
) -> tuple[Versions, Versions] | None:
    """A replica holds x and y (if concurrent: what it holds is reconciled); z arrives,
    with a copy of y when ``y_again``."""
    x, y, z = _three(x_context_b, y_context_a, z_context_a, z_context_b)
    if x_context_b >= 1 or y_context_a >= 1:
        return None
    return (x, y), ((y, z) if y_again else (z,))


def impl_versions_merge(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int, y_again: bool
) -> object:
    """``impl.core._versions.merge(held, incoming)``, with its fast paths."""
    sides = _held_and_incoming(x_context_b, y_context_a, z_context_a, z_context_b, y_again)
    return None if sides is None else _canonical(_impl("versions.merge")(*sides))


def spec_versions_merge(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int, y_again: bool
) -> object:
    """``spec.kv.merge_versions(held, incoming)``."""
    sides = _held_and_incoming(x_context_b, y_context_a, z_context_a, z_context_b, y_again)
    return None if sides is None else _canonical(_spec("versions.merge")(*sides))


def planted_versions_merge(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int, y_again: bool
) -> object:
    """A planted divergence: the replica overwrites what it holds with what arrives."""
    sides = _held_and_incoming(x_context_b, y_context_a, z_context_a, z_context_b, y_again)
    return None if sides is None else _canonical(sides[1])


def impl_versions_context_of(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int
) -> object:
    """``impl.core._versions.context_of`` of x, y and z."""
    x, y, z = _three(x_context_b, y_context_a, z_context_a, z_context_b)
    return tuple(_impl("versions.context_of")((x, y, z)))


def spec_versions_context_of(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int
) -> object:
    """``spec.kv.context_of`` of x, y and z, as sorted pairs."""
    x, y, z = _three(x_context_b, y_context_a, z_context_a, z_context_b)
    context = _spec("versions.context_of")((x, y, z))
    return tuple(sorted(context.items()))


def planted_versions_context_of(
    x_context_b: int, y_context_a: int, z_context_a: int, z_context_b: int
) -> object:
    """A planted divergence: the merge of the contexts, without the versions' own dots."""
    x, y, z = _three(x_context_b, y_context_a, z_context_a, z_context_b)
    merged: dict[str, int] = {}
    for version in (x, y, z):
        for node, counter in version.context:
            merged[node] = max(merged.get(node, 0), counter)
    return tuple(sorted(merged.items()))


# --- the ring ------------------------------------------------------------------------


def _in_domain(first_is_a: bool, second_is_a: bool, n: int, partition: int) -> Owners | None:
    """Three partitions: the first two owned by a or b, the third by c (so owners repeat
    next to each other, or do not); N from 1 to 3, any partition."""
    if not 1 <= n <= len(NODES) or not 0 <= partition < RING_PARTITIONS:
        return None
    return ("a" if first_is_a else "b", "a" if second_is_a else "b", "c")


def impl_ring_preference_list(
    first_is_a: bool, second_is_a: bool, n: int, partition: int
) -> object:
    """``PartitionRing(assignment, n=n)``: the precomputed preference list of a partition."""
    assignment = _in_domain(first_is_a, second_is_a, n, partition)
    if assignment is None:
        return None
    ring = _impl("ring.preference_list")(assignment, n=n)
    return tuple(ring.partition_preference_list(partition))


def spec_ring_preference_list(
    first_is_a: bool, second_is_a: bool, n: int, partition: int
) -> object:
    """``spec.ring.preference_list`` at the partition's first position, on its strategy-3 ring."""
    assignment = _in_domain(first_is_a, second_is_a, n, partition)
    if assignment is None:
        return None
    ring_spec = spec_ring.partition_ring(assignment)
    position = spec_ring.partition_start(partition, len(assignment))
    return tuple(_spec("ring.preference_list")(ring_spec, position, n))


def planted_ring_preference_list(
    first_is_a: bool, second_is_a: bool, n: int, partition: int
) -> object:
    """A planted divergence: the next owners clockwise, repeated physical nodes not skipped."""
    assignment = _in_domain(first_is_a, second_is_a, n, partition)
    if assignment is None:
        return None
    q = len(assignment)
    return tuple(assignment[(partition + offset) % q] for offset in range(n))
