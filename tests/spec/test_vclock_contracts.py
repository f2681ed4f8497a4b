"""The vector clock's contracts, one at a time: each precondition at its boundary, each
postcondition against a result just past the line it draws, and the bodies' exact answers
at their edges (a node's first entry, a tie on the stamp, a threshold of one)."""

from __future__ import annotations

import pytest
from contract_helpers import Call, WrongResult, check_call, check_wrong_result
from dynamokv.spec import vclock

CALLS = [
    Call(vclock.increment, {"clock": {}, "node": "a"}, None, "the empty clock is valid"),
    Call(vclock.increment, {"clock": {"a": 1}, "node": "a"}, None, "a counter of 1 is valid"),
    Call(vclock.increment, {"clock": {"a": 0}, "node": "b"}, "clock: is_valid", "a zero entry"),
    Call(vclock.increment, {"clock": {"a": -1}, "node": "b"}, "clock: is_valid", "below zero"),
    Call(vclock.descends, {"a": {"a": 1}, "b": {"b": 1}}, None, "two valid clocks"),
    Call(vclock.descends, {"a": {"a": 0}, "b": {"b": 1}}, "a, b: is_valid", "a has a zero"),
    Call(vclock.descends, {"a": {"a": 1}, "b": {"b": -1}}, "a, b: is_valid", "b below zero"),
    Call(vclock.merge, {"a": {"a": -1}, "b": {}}, "a, b: is_valid", "a below zero"),
    Call(vclock.merge, {"a": {}, "b": {"a": 0}}, "a, b: is_valid", "b has a zero"),
    Call(vclock.compare, {"a": {"a": 0}, "b": {}}, "a, b: is_valid", "a has a zero"),
    Call(vclock.compare, {"a": {}, "b": {"a": -2}}, "a, b: is_valid", "b below zero"),
    Call(
        vclock.truncate,
        {"clock": {"a": 1}, "stamps": {"a": 1}, "threshold": 1},
        None,
        "a threshold of one, and a stamp for exactly the clock's nodes",
    ),
    Call(
        vclock.truncate,
        {"clock": {"a": 1}, "stamps": {"a": 1}, "threshold": 0},
        "threshold",
        "a threshold of zero",
    ),
    Call(
        vclock.truncate,
        {"clock": {"a": 1, "b": 2}, "stamps": {"a": 1}, "threshold": 2},
        "set(clock) <= set(stamps)",
        "a node without a stamp",
    ),
    Call(
        vclock.truncate,
        {"clock": {"a": 0}, "stamps": {"a": 1}, "threshold": 1},
        "lambda clock: is_valid",
        "a zero entry",
    ),
]


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_a_call_is_refused_by_exactly_the_precondition_it_breaks(call: Call) -> None:
    check_call(call)


WRONG_RESULTS = [
    WrongResult(
        vclock.increment,
        {"clock": {"a": 2}, "node": "a"},
        {"a": 2},
        "the counter not raised",
        "result[node] ==",
    ),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 2, "b": 1}, "node": "b"},
        {"a": 1, "b": 2},
        "another node's counter lowered",
        "other != node",
    ),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 2}, "node": "b"},
        {"a": 2, "b": 1, "c": 1},
        "two entries added",
        "len(result) <= len(clock)",
    ),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 2}, "node": "b"},
        {"a": 2, "b": 1, "c": 0},
        "a zero entry added",
        "len(result) <= len(clock)",
    ),
    WrongResult(
        vclock.descends, {"a": {"a": 1}, "b": {"a": 1}}, False, "equal clocks", "result =="
    ),
    WrongResult(
        vclock.descends, {"a": {"a": 1}, "b": {"b": 1}}, True, "concurrent clocks", "result =="
    ),
    WrongResult(
        vclock.merge,
        {"a": {"a": 2}, "b": {"a": 1}},
        {"a": 1},
        "the smaller counter kept",
        "descends(result, a)",
    ),
    WrongResult(
        vclock.merge,
        {"a": {"a": 1}, "b": {"a": 2}},
        {"a": 1},
        "the second clock's larger counter lost",
        "descends(result, a)",
    ),
    WrongResult(
        vclock.merge,
        {"a": {"a": 1}, "b": {"b": 1}},
        {"a": 1, "b": 1, "c": 1},
        "a node neither side names",
        "set(result) ==",
    ),
    WrongResult(
        vclock.compare,
        {"a": {"a": 1}, "b": {"a": 1}},
        vclock.Order.BEFORE,
        "equal clocks ordered",
        "Order.EQUAL",
    ),
    WrongResult(
        vclock.compare,
        {"a": {"a": 1}, "b": {"b": 1}},
        vclock.Order.AFTER,
        "concurrent clocks ordered",
        "Order.CONCURRENT",
    ),
    WrongResult(
        vclock.compare,
        {"a": {"a": 2}, "b": {"a": 1}},
        vclock.Order.CONCURRENT,
        "a descending clock called concurrent",
        "Order.CONCURRENT",
    ),
    WrongResult(
        vclock.truncate,
        {"clock": {"a": 1, "b": 2}, "stamps": {"a": 1, "b": 2}, "threshold": 2},
        {"a": 1, "b": 3},
        "a kept counter changed",
        "clock[node] == counter",
    ),
    WrongResult(
        vclock.truncate,
        {"clock": {"a": 1, "b": 2}, "stamps": {"a": 1, "b": 2}, "threshold": 3},
        {"a": 1},
        "an entry dropped below the threshold",
        "min(len(clock), threshold)",
    ),
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_a_wrong_result_is_refused_by_exactly_the_postcondition_it_breaks(
    row: WrongResult,
) -> None:
    check_wrong_result(row)


def test_increment_adds_the_coordinators_first_entry_and_keeps_the_rest() -> None:
    assert vclock.increment({"a": 3}, "b") == {"a": 3, "b": 1}
    assert vclock.increment({"a": 3, "b": 1}, "a") == {"a": 4, "b": 1}


def test_descends_is_entrywise_at_least() -> None:
    assert vclock.descends({"a": 2, "b": 1}, {"a": 2})
    assert vclock.descends({"a": 1}, {})
    assert not vclock.descends({}, {"a": 1})
    assert not vclock.descends({"a": 2}, {"a": 1, "b": 1})


def test_merge_is_the_entrywise_maximum() -> None:
    assert vclock.merge({"a": 3, "b": 1}, {"a": 1, "b": 2, "c": 1}) == {"a": 3, "b": 2, "c": 1}


@pytest.mark.parametrize(
    ("a", "b", "order"),
    [
        ({"a": 1}, {"a": 1}, vclock.Order.EQUAL),
        ({"a": 2}, {"a": 1}, vclock.Order.AFTER),
        ({"a": 1}, {"a": 2}, vclock.Order.BEFORE),
        ({"a": 1}, {"b": 1}, vclock.Order.CONCURRENT),
        ({}, {}, vclock.Order.EQUAL),
    ],
)
def test_compare_places_each_pair(
    a: dict[str, int], b: dict[str, int], order: vclock.Order
) -> None:
    assert vclock.compare(a, b) is order


def test_truncate_breaks_a_tie_on_the_stamp_by_keeping_the_larger_node_id() -> None:
    """Newest first, ties broken by node id in the same (descending) order."""
    assert vclock.truncate({"a": 1, "b": 1}, {"a": 5, "b": 5}, 1) == {"b": 1}
    assert vclock.truncate({"a": 1, "b": 1, "c": 1}, {"a": 9, "b": 1, "c": 5}, 2) == {
        "a": 1,
        "c": 1,
    }
    assert vclock.truncate({"a": 1}, {"a": 1}, vclock.TRUNCATION_THRESHOLD) == {"a": 1}
