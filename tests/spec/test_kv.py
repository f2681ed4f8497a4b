"""Laws of :mod:`dynamokv.spec.kv`: versions, siblings and contexts (the contract).

Histories are replayed into :class:`~dynamokv.spec.kv.KVModel`: each put uses the
context of some earlier get (or the empty context of a blind write), through one of
three coordinators, as clients of a real cluster do.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import icontract
import pytest
from dynamokv.spec import kv, vclock
from dynamokv.spec.kv import KVModel, Version
from hypothesis import given, settings
from hypothesis import strategies as st

KEY = b"cart"
COORDINATORS = st.sampled_from(["a", "b", "c"])
VALUES = st.one_of(st.none(), st.binary(min_size=1, max_size=2))
Step = tuple[int, bytes | None, str]
STEPS = st.lists(st.tuples(st.integers(0, 50), VALUES, COORDINATORS), max_size=6)


def replay(steps: list[Step]) -> Iterator[tuple[KVModel, Version, dict[str, int]]]:
    """Yield ``(model after the put, the put's version, the context it used)`` per step."""
    model, contexts = KVModel(), [{}]
    for pick, value, coordinator in steps:
        context = contexts[pick % len(contexts)]
        model, version = model.put(KEY, context, value, coordinator)
        contexts.append(model.get(KEY)[1])
        yield model, version, context


def final(steps: list[Step]) -> tuple[KVModel, list[Version], list[dict[str, int]]]:
    model, issued, contexts = KVModel(), [], [{}]
    for model, version, context in replay(steps):  # noqa: B007
        issued.append(version)
        contexts.append(context)
    return model, issued, contexts


@st.composite
def versions(draw: st.DrawFn) -> Version:
    """Any valid version, not necessarily from a causally consistent history."""
    node, counter = draw(COORDINATORS), draw(st.integers(1, 4))
    context = draw(st.dictionaries(COORDINATORS, st.integers(1, 4), max_size=3))
    if context.get(node, 0) >= counter:
        del context[node]
    return kv.make_version(draw(VALUES), node, counter, context)


VERSION_SETS = st.frozensets(versions(), max_size=6)

# Every example replays a history through contract-checked code: cap the ci profile's
# 300 examples at 150 to keep the spec tier fast (the dev profile's 100 stay).
HISTORY_SETTINGS = settings(max_examples=min(settings.default.max_examples, 150))


# -- puts, dots and counters ---------------------------------------------------------------


@HISTORY_SETTINGS
@given(STEPS)
def test_an_acknowledged_put_is_a_sibling_right_after_it(steps: list[Step]) -> None:
    """A new version is never superseded on arrival (a reissued dot would be)."""
    for model, version, _ in replay(steps):
        assert version in model.get(KEY)[0]


def test_a_blind_put_after_a_superseded_version_is_kept() -> None:
    """Regression: the dot (n, 1) was issued again after its version was superseded,
    and the new value vanished on arrival."""
    model, _ = KVModel().put(KEY, {}, b"a", "n")
    model, _ = model.put(KEY, model.get(KEY)[1], b"b", "m")
    model, version = model.put(KEY, {}, b"c", "n")
    assert version.dot == ("n", 2)
    assert model.values(KEY) == {b"b", b"c"}


@HISTORY_SETTINGS
@given(STEPS)
def test_next_counter_never_reissues_a_dot(steps: list[Step]) -> None:
    _, issued, _ = final(steps)
    dots = [version.dot for version in issued]
    assert len(set(dots)) == len(dots)


@HISTORY_SETTINGS
@given(STEPS, COORDINATORS, st.dictionaries(COORDINATORS, st.integers(1, 6), max_size=3))
def test_next_counter_is_above_everything_the_coordinator_has_seen(
    steps: list[Step], coordinator: str, context: dict[str, int]
) -> None:
    model, _, _ = final(steps)
    held = model.get(KEY)[0]
    counter = kv.next_counter(coordinator, context, held)
    assert counter > context.get(coordinator, 0)
    assert all(counter > version.clock.get(coordinator, 0) for version in held)


@HISTORY_SETTINGS
@given(STEPS, VALUES, COORDINATORS)
def test_a_put_under_the_context_of_a_get_supersedes_every_sibling(
    steps: list[Step], value: bytes | None, coordinator: str
) -> None:
    """Dynamo §4.4: a client that read the siblings and writes back collapses them."""
    model, _, _ = final(steps)
    _, context = model.get(KEY)
    model, version = model.put(KEY, context, value, coordinator)
    assert model.get(KEY) == (frozenset({version}), version.clock)


@HISTORY_SETTINGS
@given(STEPS, st.integers(0, 50), COORDINATORS)
def test_two_puts_with_one_stale_context_through_one_coordinator_are_both_kept(
    steps: list[Step], pick: int, coordinator: str
) -> None:
    """The reason for dots: property 3 (siblings for truly concurrent puts).

    Plain vector clocks would give the second put a clock that descends from the
    first one's, and the first (acknowledged) value would be discarded.
    """
    model, _, contexts = final(steps)
    stale = contexts[pick % len(contexts)]
    model, first = model.put(KEY, stale, b"first", coordinator)
    model, second = model.put(KEY, stale, b"second", coordinator)
    assert {first, second} <= model.get(KEY)[0]
    assert vclock.compare(second.clock, first.clock) is vclock.Order.AFTER  # the plain clocks lie


@HISTORY_SETTINGS
@given(STEPS)
def test_superseding_means_having_seen_the_whole_history(steps: list[Step]) -> None:
    """In a history of gets and puts, x supersedes y only if x's context covers y's clock."""
    _, issued, _ = final(steps)
    for x, y in itertools.permutations(issued, 2):
        if kv.supersedes(x, y):
            assert vclock.descends(dict(x.context), y.clock)


# -- versions ------------------------------------------------------------------------------


@given(VALUES, COORDINATORS, st.dictionaries(COORDINATORS, st.integers(1, 4), max_size=3))
def test_make_version_is_strictly_after_its_context(
    value: bytes | None, coordinator: str, context: dict[str, int]
) -> None:
    version = kv.make_version(value, coordinator, context.get(coordinator, 0) + 1, context)
    assert kv.is_valid_version(version)
    assert version.dot[0] == coordinator and version.value == value
    assert vclock.compare(version.clock, context) is vclock.Order.AFTER
    assert version.is_tombstone == (value is None)


def test_make_version_refuses_a_counter_the_context_has_seen() -> None:
    with pytest.raises(icontract.ViolationError):
        kv.make_version(b"v", "a", 2, {"a": 2})


def test_is_valid_version_examples() -> None:
    assert kv.is_valid_version(Version(b"v", ("a", 1)))
    assert not kv.is_valid_version(Version(b"v", ("a", 0)))
    assert not kv.is_valid_version(Version(b"v", ("a", 2), (("a", 2),)))
    assert not kv.is_valid_version(Version(b"v", ("a", 1), (("b", 0),)))


@given(versions(), versions())
def test_supersedes_is_irreflexive_and_follows_the_context(x: Version, y: Version) -> None:
    assert not kv.supersedes(x, x)
    later = kv.make_version(b"w", "z", 1, y.clock)  # written by a client that read y
    assert kv.supersedes(later, y)
    assert kv.supersedes(x, y) == vclock.descends(dict(x.context), dict([y.dot]))


# -- reconciliation ------------------------------------------------------------------------


@HISTORY_SETTINGS
@given(VERSION_SETS)
def test_reconcile_keeps_exactly_the_versions_nothing_supersedes(pool: frozenset[Version]) -> None:
    kept = kv.reconcile(pool)
    assert kept <= pool
    for version in pool:
        superseded = any(kv.supersedes(other, version) for other in pool)
        assert (version in kept) != superseded
    assert kv.reconcile(kept) == kept


@HISTORY_SETTINGS
@given(VERSION_SETS, VERSION_SETS)
def test_merge_versions_is_commutative_and_idempotent(
    a: frozenset[Version], b: frozenset[Version]
) -> None:
    assert kv.merge_versions(a, b) == kv.merge_versions(b, a)
    assert kv.merge_versions(a, a) == kv.reconcile(a)
    assert kv.merge_versions(a, ()) == kv.reconcile(a)


@HISTORY_SETTINGS
@given(STEPS, st.data())
def test_merge_versions_is_associative_so_repair_order_does_not_matter(
    steps: list[Step], data: st.DataObject
) -> None:
    """A join semilattice on the versions of a history: replicas that receive the same
    versions in any order, in any grouping, converge (read repair, hints, anti-entropy)."""
    _, issued, _ = final(steps)
    pick = st.frozensets(st.sampled_from(issued), max_size=4) if issued else st.just(frozenset())
    a, b, c = (kv.reconcile(data.draw(pick)) for _ in range(3))
    left = kv.merge_versions(kv.merge_versions(a, b), c)
    assert left == kv.merge_versions(a, kv.merge_versions(b, c))
    assert left == kv.merge_versions(kv.merge_versions(c, a), b)


@HISTORY_SETTINGS
@given(VERSION_SETS)
def test_context_of_is_the_least_clock_above_every_sibling(pool: frozenset[Version]) -> None:
    context = kv.context_of(pool)
    assert all(vclock.descends(context, version.clock) for version in pool)
    upper = {"a": 9, "b": 9, "c": 9}
    assert vclock.descends(upper, context)
    for node in context:  # lowering any entry stops it covering some sibling
        lower = {k: c - (k == node) for k, c in context.items() if c - (k == node) > 0}
        assert not all(vclock.descends(lower, version.clock) for version in pool)
    assert kv.context_of(()) == {}


# -- resolvers (interview Q5) --------------------------------------------------------------

ITEMS = st.lists(st.binary(min_size=1, max_size=3).filter(lambda b: b"\n" not in b), max_size=4)
CARTS = ITEMS.map(lambda items: b"\n".join(items))


@given(st.lists(CARTS, max_size=4))
def test_union_resolve_never_loses_an_item(carts: list[bytes]) -> None:
    merged = set(kv.union_resolve(carts).split(b"\n")) - {b""}
    items = {item for cart in carts for item in cart.split(b"\n") if item}
    assert merged == items
    assert kv.union_resolve(reversed(carts)) == kv.union_resolve(carts)
    assert kv.union_resolve([kv.union_resolve(carts)]) == kv.union_resolve(carts)


@given(st.lists(st.tuples(st.integers(0, 5), CARTS), min_size=1, max_size=4))
def test_lww_resolve_keeps_one_value_with_the_latest_timestamp(
    stamped: list[tuple[int, bytes]],
) -> None:
    winner = kv.lww_resolve(stamped)
    latest = max(stamp for stamp, _ in stamped)
    assert (latest, winner) in stamped


def test_q5_last_write_wins_loses_an_item_that_union_keeps() -> None:
    """Two concurrent cart updates: LWW keeps one, the union keeps both items.

    Reference: Dynamo §4.4 (shopping cart), interview Q5.
    """
    model, _ = KVModel().put(KEY, {}, b"book", "a")
    context = model.get(KEY)[1]
    model, _ = model.put(KEY, context, b"book\nlamp", "a")  # a phone adds a lamp
    model, _ = model.put(KEY, context, b"book\npen", "b")  # a laptop adds a pen
    siblings = model.values(KEY)
    assert siblings == {b"book\nlamp", b"book\npen"}
    assert kv.union_resolve(v for v in siblings if v is not None) == b"book\nlamp\npen"
    assert kv.lww_resolve([(1, b"book\nlamp"), (2, b"book\npen")]) == b"book\npen"  # lamp lost


# -- the model -----------------------------------------------------------------------------


def test_get_of_a_missing_key_has_no_siblings_and_the_empty_context() -> None:
    assert KVModel().get(KEY) == (frozenset(), {})
    assert KVModel().values(KEY) == frozenset()


@HISTORY_SETTINGS
@given(STEPS, COORDINATORS)
def test_delete_leaves_one_tombstone_and_a_later_put_replaces_it(
    steps: list[Step], coordinator: str
) -> None:
    model, _, _ = final(steps)
    model, tombstone = model.put(KEY, model.get(KEY)[1], None, coordinator)
    assert tombstone.is_tombstone and model.values(KEY) == {None}
    model, _ = model.put(KEY, model.get(KEY)[1], b"again", coordinator)
    assert model.values(KEY) == {b"again"}


def test_a_delete_concurrent_with_a_put_leaves_both_as_siblings() -> None:
    model, _ = KVModel().put(KEY, {}, b"v1", "a")
    context = model.get(KEY)[1]
    model, _ = model.put(KEY, context, None, "a")
    model, _ = model.put(KEY, context, b"v2", "b")
    assert model.values(KEY) == {None, b"v2"}


@HISTORY_SETTINGS
@given(STEPS, st.randoms(use_true_random=False))
def test_replicas_that_apply_the_same_versions_in_any_order_converge(
    steps: list[Step], rng: object
) -> None:
    model, issued, _ = final(steps)
    shuffled = list(issued)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    in_order, any_order = KVModel(), KVModel()
    for version in issued:
        in_order = in_order.apply(KEY, [version])
    for version in shuffled:
        any_order = any_order.apply(KEY, [version]).apply(KEY, [version])  # duplicates too
    assert in_order.get(KEY) == any_order.get(KEY) == model.get(KEY)
    assert in_order.get(b"other") == (frozenset(), {})


ITEMS = st.lists(st.sampled_from([b"book", b"pen", b"cup", b"lamp"]), max_size=3).map(
    lambda items: b"\n".join(sorted(set(items)))
)
SIBLINGS = st.lists(st.tuples(st.integers(1, 9), ITEMS), max_size=3)


@given(SIBLINGS, st.sampled_from([b"book", b"hat"]), st.integers(10, 20))
def test_a_union_cart_update_keeps_every_siblings_items_and_adds_the_new_one(
    siblings: list[tuple[int, bytes]], item: bytes, stamp: int
) -> None:
    written_stamp, value = kv.cart_update(siblings, item, stamp, last_write_wins=False)
    kept = set(value.split(b"\n"))
    assert written_stamp == stamp and item in kept
    assert all(line in kept for _, items in siblings for line in items.split(b"\n") if line)


def test_a_last_write_wins_cart_update_drops_the_older_siblings_items() -> None:
    """Interview Q5: two concurrent adds, resolved by timestamp: one add is lost."""
    siblings = [(3, b"book"), (5, b"pen")]
    assert kv.cart_update(siblings, b"cup", 6, last_write_wins=True) == (6, b"cup\npen")
    assert kv.cart_update(siblings, b"cup", 6, last_write_wins=False) == (6, b"book\ncup\npen")
