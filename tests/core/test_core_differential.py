"""Differential properties: the core's fast ring, vector clock and reconciliation
equal the specs on generated inputs (the verification ladder's third rung)."""

from __future__ import annotations

from dynamokv.impl.core import PartitionRing
from dynamokv.impl.core import vector_clock as core_vclock
from dynamokv.impl.core import versions as core_versions
from dynamokv.spec import kv, ring, vclock
from dynamokv.spec.kv import Version
from hypothesis import assume, example, given
from hypothesis import strategies as st

NODES = ["a", "b", "c", "d", "e", "f"]


@st.composite
def assignments(draw: st.DrawFn) -> tuple[str, ...]:
    members = draw(st.lists(st.sampled_from(NODES), min_size=1, max_size=6, unique=True))
    q = draw(st.integers(min_value=len(members), max_value=48))
    if draw(st.booleans()):
        return ring.assign_partitions(members, q)
    owners = draw(st.lists(st.sampled_from(members), min_size=q, max_size=q))
    return tuple(owners)


@given(assignments(), st.integers(min_value=1, max_value=5), st.binary(max_size=16))
def test_preference_list_equals_spec(assignment: tuple[str, ...], n: int, key: bytes) -> None:
    core = PartitionRing(assignment, n=n)
    spec_ring = ring.partition_ring(assignment)
    position = ring.md5_position(key)
    assert core.partition_of(key) == ring.partition_of(position, len(assignment))
    assert core.preference_list(key) == ring.preference_list(spec_ring, position, n)
    assert core.extended_preference_list(key) == ring.extended_preference_list(spec_ring, position)


@given(
    st.lists(st.sampled_from(NODES), min_size=1, max_size=6, unique=True),
    st.integers(min_value=1, max_value=48),
    st.integers(min_value=1, max_value=5),
)
@example(["a"], 1, 1)  # one node owns every partition
@example(["a"], 8, 3)
def test_a_balanced_ring_is_the_specs_round_robin(members: list[str], q: int, n: int) -> None:
    assume(q >= len(members))
    core = PartitionRing.balanced(members, n=n, q=q)
    assert core.assignment == ring.assign_partitions(members, q)


@given(assignments(), st.integers(min_value=1, max_value=5), st.sampled_from(NODES))
def test_shared_partitions_are_those_both_nodes_own(
    assignment: tuple[str, ...], n: int, node: str
) -> None:
    """What anti-entropy compares with each peer (Dynamo §4.7): the partitions in whose
    preference list both the node and the peer stand, and no peer that shares none."""
    core = PartitionRing(assignment, n=n)
    lists = [core.partition_preference_list(p) for p in range(len(assignment))]
    expected = {
        peer: tuple(p for p, owners in enumerate(lists) if node in owners and peer in owners)
        for peer in sorted(set(assignment) - {node})
    }
    expected = {peer: parts for peer, parts in expected.items() if parts}
    shared = core.shared_partitions(node)
    assert shared == expected and list(shared) == sorted(expected)
    assert core.shared_partitions(node) is shared  # computed once per node and ring


def test_default_ring_has_16384_partitions() -> None:
    core = PartitionRing.balanced(["a", "b", "c", "d", "e"], n=3)
    assert core.q == ring.DEFAULT_PARTITION_COUNT == 16_384
    key = b"cart:alice"
    spec_ring = ring.partition_ring(ring.assign_partitions(["a", "b", "c", "d", "e"], core.q))
    assert core.preference_list(key) == ring.preference_list(spec_ring, ring.md5_position(key), 3)


@given(st.integers(min_value=1, max_value=16_384), st.data())
def test_a_trees_partition_start_equals_spec(partition_count: int, data: st.DataObject) -> None:
    """The Merkle trees place their key ranges with a contract-free copy of the spec's
    partition_start, the first partition and the end of the ring included."""
    from dynamokv.impl.core._merkle import _partition_start

    edges = [0, partition_count]
    partitions = data.draw(st.lists(st.integers(0, partition_count), max_size=4)) + edges
    for partition in partitions:
        assert _partition_start(partition, partition_count) == ring.partition_start(
            partition, partition_count
        )


clocks = st.dictionaries(st.sampled_from(NODES), st.integers(min_value=1, max_value=6), max_size=6)


@given(clocks, clocks)
def test_vector_clock_order_equals_spec(a: dict[str, int], b: dict[str, int]) -> None:
    fa, fb = core_vclock.freeze(a), core_vclock.freeze(b)
    assert dict(core_vclock.merge(fa, fb)) == vclock.merge(a, b)
    assert core_vclock.descends(fa, fb) == vclock.descends(a, b)
    assert core_vclock.compare(fa, fb) is vclock.compare(a, b)


@given(clocks, st.sampled_from(NODES))
def test_increment_equals_spec(a: dict[str, int], node: str) -> None:
    assert dict(core_vclock.increment(core_vclock.freeze(a), node)) == vclock.increment(a, node)


@given(clocks, st.integers(min_value=1, max_value=7))
def test_truncate_equals_spec_with_counters_as_stamps(a: dict[str, int], threshold: int) -> None:
    truncated = core_vclock.truncate(core_vclock.freeze(a), threshold)
    assert dict(truncated) == vclock.truncate(a, a, threshold)


def test_truncation_keeps_the_named_entry_even_when_it_is_the_oldest() -> None:
    """The coordinator's own entry, whose dot the new version adds, survives truncation
    however small its counter; the rest go by counter, then node id."""
    clock = core_vclock.freeze({"a": 1, "b": 5, "c": 6, "d": 5})
    assert core_vclock.truncate(clock, 2, keep="a") == (("a", 1), ("c", 6))
    assert core_vclock.truncate(clock, 2) == (("c", 6), ("d", 5))


@st.composite
def version_sets(draw: st.DrawFn) -> list[Version]:
    """Valid versions with distinct dots, as a cluster produces them."""
    count = draw(st.integers(min_value=0, max_value=6))
    dots = draw(
        st.lists(
            st.tuples(st.sampled_from(NODES[:3]), st.integers(min_value=1, max_value=8)),
            min_size=count,
            max_size=count,
            unique=True,
        )
    )
    versions = []
    for node, counter in dots:
        context = draw(clocks)
        if context.get(node, 0) >= counter:
            context[node] = counter - 1
        context = {k: v for k, v in context.items() if v > 0}
        value = draw(st.one_of(st.none(), st.binary(min_size=1, max_size=3)))
        versions.append(kv.make_version(value, node, counter, context))
    return versions


@given(version_sets(), version_sets())
def test_reconciliation_equals_spec(a: list[Version], b: list[Version]) -> None:
    dots_a = {v.dot for v in a}
    b = [v for v in b if v.dot not in dots_a]  # one dot, one version
    assert frozenset(core_versions.reconcile(a)) == kv.reconcile(a)
    held = core_versions.reconcile(a)
    assert frozenset(core_versions.merge(held, b)) == kv.merge_versions(held, b)
    assert dict(core_versions.context_of(a)) == kv.context_of(a)
    for x in a:
        for y in a:
            assert core_versions.supersedes(x, y) == (x != y and kv.supersedes(x, y))


@given(version_sets())
def test_reconcile_is_sorted_by_dot(versions: list[Version]) -> None:
    result = core_versions.reconcile(versions)
    assert [v.dot for v in result] == sorted(v.dot for v in result)


@st.composite
def newer_deliveries(draw: st.DrawFn) -> tuple[tuple[Version, ...], tuple[Version, ...]]:
    """What a replica holds, and a delivery that mostly absorbs it (merge's fast path).

    The delivery keeps some held versions as they are and adds versions written by
    clients that saw some of the others (context = their merged clock, plus noise),
    as coordinators, read repair and hint replay send them.
    """
    held = core_versions.reconcile(draw(version_sets()))
    kept = [v for v in held if draw(st.booleans())]
    used = {v.dot for v in held}
    incoming = list(kept)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        seen = [v for v in held if draw(st.booleans())]
        context = dict(core_versions.context_of(seen))
        for node, counter in draw(clocks).items():
            if draw(st.booleans()):
                context[node] = max(context.get(node, 0), counter)
        node = draw(st.sampled_from(NODES[:3]))
        counter = max([context.get(node, 0)] + [c for n, c in used if n == node]) + 1
        context = {k: v for k, v in context.items() if k != node or v < counter}
        used.add((node, counter))
        value = draw(st.one_of(st.none(), st.binary(min_size=1, max_size=3)))
        incoming.append(kv.make_version(value, node, counter, context))
    order = draw(st.permutations(incoming))
    return held, tuple(order)


@given(newer_deliveries())
def test_merge_fast_path_equals_spec(
    delivery: tuple[tuple[Version, ...], tuple[Version, ...]],
) -> None:
    held, incoming = delivery
    expected = kv.merge_versions(held, incoming)
    if core_versions.absorbs(incoming, held):
        assert frozenset(core_versions.reconcile(incoming)) == expected
    result = core_versions.merge(held, incoming)
    assert frozenset(result) == expected
    assert [v.dot for v in result] == sorted(v.dot for v in result)


@given(version_sets(), version_sets())
def test_absorbs_implies_merge_is_reconcile_of_incoming(a: list[Version], b: list[Version]) -> None:
    dots_a = {v.dot: v for v in a}
    b = [dots_a.get(v.dot, v) for v in b]  # one dot, one version
    held = core_versions.reconcile(a)
    if core_versions.absorbs(tuple(b), held):
        assert frozenset(core_versions.reconcile(b)) == kv.merge_versions(held, b)
    assert frozenset(core_versions.merge(held, b)) == kv.merge_versions(held, b)


def test_merge_of_a_newer_version_returns_it() -> None:
    old = kv.make_version(b"1", "a", 1, {})
    new = kv.make_version(b"2", "b", 1, {"a": 1})
    assert core_versions.absorbs((new,), (old,))
    assert core_versions.merge((old,), (new,)) == (new,)
    assert not core_versions.absorbs((old,), (new,))
    assert core_versions.merge((new,), (old,)) == (new,)


def test_a_version_whose_context_passed_the_held_dot_absorbs_it() -> None:
    """The fast path's test: a held version is absorbed by an incoming one whose context
    holds its node at or beyond its counter (here beyond it: a write that saw a later
    version of the same coordinator)."""
    held = (Version(b"a", ("n1", 1), ()),)
    incoming = (Version(b"c", ("n1", 3), (("n1", 2),)),)
    assert core_versions.absorbs(incoming, held)
    assert core_versions.merge(held, incoming) == incoming


def test_a_newer_version_absorbs_one_whose_context_names_other_nodes() -> None:
    """The fast path's second check looks for the incoming dot's node in the held
    context: entries of other nodes, sorting before or after it, are no reason to
    decline (declining would only cost the slow path, so it is checked here directly)."""
    for other in ("a", "z"):
        old = kv.make_version(b"1", "b", 1, {other: 9})
        new = kv.make_version(b"2", "m", 5, {"b": 1, other: 9})
        assert core_versions.absorbs((new,), (old,)), other
        assert core_versions.merge((old,), (new,)) == (new,)


@given(version_sets(), version_sets())
def test_reconcile_of_many_siblings_equals_spec(a: list[Version], b: list[Version]) -> None:
    """Up to 12 versions: both the tuple scan (few) and the dict path (many) of reconcile."""
    dots = {v.dot for v in a}
    pool = a + [v for v in b if v.dot not in dots]
    result = core_versions.reconcile(pool)
    assert frozenset(result) == kv.reconcile(pool)
    assert [v.dot for v in result] == sorted(v.dot for v in result)


def test_a_clock_frozen_from_zero_counters_keeps_only_the_positive_ones() -> None:
    assert core_vclock.freeze({"b": 1, "a": 0, "c": 2}) == (("b", 1), ("c", 2))
    assert core_vclock.freeze([("a", 0)]) == ()
