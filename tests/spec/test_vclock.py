"""Laws of :mod:`dynamokv.spec.vclock`: the causal order of versions (Dynamo §4.4, interview Q2)."""

from __future__ import annotations

from dynamokv.spec import vclock
from dynamokv.spec.vclock import Order
from hypothesis import given
from hypothesis import strategies as st

NODE = st.sampled_from(["a", "b", "c", "d"])
CLOCKS = st.dictionaries(NODE, st.integers(1, 3), max_size=4)
MIRROR = {
    Order.BEFORE: Order.AFTER,
    Order.AFTER: Order.BEFORE,
    Order.EQUAL: Order.EQUAL,
    Order.CONCURRENT: Order.CONCURRENT,
}


@given(CLOCKS)
def test_a_clock_is_valid_only_with_positive_counters(clock: dict[str, int]) -> None:
    assert vclock.is_valid(clock)
    assert not vclock.is_valid({**clock, "z": 0})
    assert not vclock.is_valid({**clock, "z": -1})


@given(CLOCKS, NODE)
def test_increment_is_strictly_after_and_changes_only_the_coordinators_entry(
    clock: dict[str, int], node: str
) -> None:
    later = vclock.increment(clock, node)
    assert vclock.compare(later, clock) is Order.AFTER
    assert vclock.descends(later, clock) and not vclock.descends(clock, later)
    assert later[node] == clock.get(node, 0) + 1
    assert {k: v for k, v in later.items() if k != node} == {
        k: v for k, v in clock.items() if k != node
    }


@given(CLOCKS, NODE)
def test_increment_does_not_mutate_its_argument(clock: dict[str, int], node: str) -> None:
    copy = dict(clock)
    vclock.increment(clock, node)
    assert clock == copy


@given(CLOCKS)
def test_descends_is_reflexive(a: dict[str, int]) -> None:
    assert vclock.descends(a, a)
    assert vclock.descends(a, {})


@given(CLOCKS, CLOCKS)
def test_descends_is_antisymmetric(a: dict[str, int], b: dict[str, int]) -> None:
    if vclock.descends(a, b) and vclock.descends(b, a):
        assert a == b


@given(CLOCKS, CLOCKS, CLOCKS)
def test_descends_is_transitive(a: dict[str, int], b: dict[str, int], c: dict[str, int]) -> None:
    if vclock.descends(a, b) and vclock.descends(b, c):
        assert vclock.descends(a, c)


@given(CLOCKS, CLOCKS)
def test_descends_is_the_lattice_order_of_merge(a: dict[str, int], b: dict[str, int]) -> None:
    assert vclock.descends(a, b) == (vclock.merge(a, b) == a)


@given(CLOCKS, CLOCKS, CLOCKS)
def test_merge_is_the_least_upper_bound(
    a: dict[str, int], b: dict[str, int], c: dict[str, int]
) -> None:
    merged = vclock.merge(a, b)
    assert vclock.is_valid(merged)
    assert vclock.descends(merged, a) and vclock.descends(merged, b)
    if vclock.descends(c, a) and vclock.descends(c, b):
        assert vclock.descends(c, merged)


@given(CLOCKS, CLOCKS, CLOCKS)
def test_merge_is_commutative_associative_and_idempotent(
    a: dict[str, int], b: dict[str, int], c: dict[str, int]
) -> None:
    assert vclock.merge(a, b) == vclock.merge(b, a)
    assert vclock.merge(vclock.merge(a, b), c) == vclock.merge(a, vclock.merge(b, c))
    assert vclock.merge(a, a) == a
    assert vclock.merge(a, {}) == a


@given(CLOCKS, CLOCKS)
def test_compare_cases_are_exclusive_and_exhaustive(a: dict[str, int], b: dict[str, int]) -> None:
    """Exactly one of before, after, equal, concurrent, each with its meaning."""
    a_after_b, b_after_a = vclock.descends(a, b), vclock.descends(b, a)
    truths = {
        Order.EQUAL: a == b,
        Order.AFTER: a_after_b and a != b,
        Order.BEFORE: b_after_a and a != b,
        Order.CONCURRENT: not a_after_b and not b_after_a,
    }
    assert sum(truths.values()) == 1
    assert truths[vclock.compare(a, b)]
    assert vclock.compare(b, a) is MIRROR[vclock.compare(a, b)]


@given(CLOCKS, NODE, NODE)
def test_increments_of_one_clock_by_two_nodes_are_concurrent(
    clock: dict[str, int], x: str, y: str
) -> None:
    """Dynamo §4.4: two coordinators writing from the same context produce siblings."""
    if x != y:
        assert vclock.compare(vclock.increment(clock, x), vclock.increment(clock, y)) is (
            Order.CONCURRENT
        )


@st.composite
def clock_with_stamps(draw: st.DrawFn) -> tuple[dict[str, int], dict[str, int]]:
    clock = draw(st.dictionaries(st.sampled_from("abcdefghijkl"), st.integers(1, 5), max_size=12))
    stamps = {node: draw(st.integers(0, 4)) for node in clock}
    return clock, stamps


@given(clock_with_stamps(), st.integers(1, 12))
def test_truncate_keeps_the_newest_entries(
    case: tuple[dict[str, int], dict[str, int]], threshold: int
) -> None:
    clock, stamps = case
    kept = vclock.truncate(clock, stamps, threshold)
    dropped = set(clock) - set(kept)
    assert len(kept) == min(len(clock), threshold)
    assert all(clock[node] == counter for node, counter in kept.items())
    assert all((stamps[k], k) > (stamps[d], d) for k in kept for d in dropped)
    assert vclock.descends(clock, kept)
    if len(clock) <= threshold:
        assert kept == clock


def test_truncation_can_make_concurrent_clocks_look_ordered() -> None:
    """Dynamo §4.4: dropping the oldest entry loses causal information.

    Theorem ``vclock.truncation_can_order_concurrent``.
    """
    a = {"x": 1, "y": 2}
    b = {"x": 2, "y": 1}
    assert vclock.compare(a, b) is Order.CONCURRENT
    short_a = vclock.truncate(a, {"x": 5, "y": 1}, threshold=1)  # y's entry is the oldest
    assert short_a == {"x": 1}
    assert vclock.compare(short_a, b) is Order.BEFORE  # b now looks newer: a would be dropped


def test_threshold_is_the_papers_ten() -> None:
    assert vclock.TRUNCATION_THRESHOLD == 10
