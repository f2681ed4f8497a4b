"""The quorum spec's contracts, one at a time: N, R and W at the ends of their ranges, the
largest N the brute force accepts, and a wrong answer for each postcondition at the line it
draws (R + W = N against R + W = N + 1; a hint held twice; a substitute past the first N)."""

from __future__ import annotations

import dataclasses

import icontract
import pytest
from contract_helpers import Call, WrongResult, check_call, check_wrong_result
from dynamokv.spec import quorum
from dynamokv.spec.quorum import QuorumConfig

CALLS = [
    Call(quorum.quorums, {"n": 12, "size": 12}, None, "size = n = 12, the largest"),
    Call(quorum.quorums, {"n": 0, "size": 0}, None, "nothing out of nothing"),
    Call(quorum.quorums, {"n": 13, "size": 0}, "lambda n, size", "n = 13"),
    Call(quorum.quorums, {"n": 2, "size": 3}, "lambda n, size", "size above n"),
    Call(quorum.quorums, {"n": 2, "size": -1}, "lambda n, size", "a negative size"),
    Call(quorum.read_write_quorums_intersect, {"n": 8, "r": 8, "w": 1}, None, "R = N = 8"),
    Call(quorum.read_write_quorums_intersect, {"n": 8, "r": 1, "w": 8}, None, "W = N = 8"),
    Call(quorum.read_write_quorums_intersect, {"n": 1, "r": 1, "w": 1}, None, "N = R = W = 1"),
    Call(quorum.read_write_quorums_intersect, {"n": 9, "r": 1, "w": 1}, "lambda n, r, w", "N = 9"),
    Call(quorum.read_write_quorums_intersect, {"n": 3, "r": 0, "w": 1}, "lambda n, r, w", "R = 0"),
    Call(quorum.read_write_quorums_intersect, {"n": 3, "r": 4, "w": 1}, "lambda n, r, w", "R > N"),
    Call(quorum.read_write_quorums_intersect, {"n": 3, "r": 1, "w": 0}, "lambda n, r, w", "W = 0"),
    Call(quorum.read_write_quorums_intersect, {"n": 3, "r": 1, "w": 4}, "lambda n, r, w", "W > N"),
    Call(quorum.write_quorums_intersect, {"n": 8, "w": 8}, None, "W = N = 8"),
    Call(quorum.write_quorums_intersect, {"n": 1, "w": 1}, None, "W = N = 1"),
    Call(quorum.write_quorums_intersect, {"n": 9, "w": 1}, "lambda n, w", "N = 9"),
    Call(quorum.write_quorums_intersect, {"n": 3, "w": 0}, "lambda n, w", "W = 0"),
    Call(quorum.write_quorums_intersect, {"n": 3, "w": 4}, "lambda n, w", "W > N"),
    Call(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b"], "healthy": {"a"}, "n": 1},
        None,
        "N = 1",
    ),
    Call(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b"], "healthy": {"a"}, "n": 0},
        "lambda n",
        "N = 0",
    ),
    Call(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "a"], "healthy": {"a"}, "n": 1},
        "extended_preference_list",
        "a node twice",
    ),
    Call(
        quorum.strict_quorum,
        {"preference_list": ["a", "b"], "healthy": {"a", "b"}, "n": 1},
        None,
        "N = 1",
    ),
    Call(
        quorum.strict_quorum,
        {"preference_list": ["a", "b"], "healthy": {"a", "b"}, "n": 0},
        "lambda n",
        "N = 0",
    ),
]


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_a_call_is_refused_by_exactly_the_precondition_it_breaks(call: Call) -> None:
    check_call(call)


WRONG_RESULTS = [
    WrongResult(quorum.read_write_quorums_intersect, {"n": 4, "r": 2, "w": 2}, True, "R + W = N"),
    WrongResult(
        quorum.read_write_quorums_intersect, {"n": 4, "r": 2, "w": 3}, False, "R + W = N + 1"
    ),
    WrongResult(quorum.write_quorums_intersect, {"n": 4, "w": 2}, True, "2W = N"),
    WrongResult(quorum.write_quorums_intersect, {"n": 5, "w": 3}, False, "2W = N + 1"),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "c"], "healthy": {"a", "b", "c"}, "n": 2},
        (("a", None), ("b", None), ("c", "a")),
        "N + 1 nodes",
        "len(result) <= n",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "c", "d"], "healthy": {"b", "c", "d"}, "n": 3},
        (("a", None), ("b", None), ("c", None)),
        "the unhealthy owner chosen as well",
        "node in healthy",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "c"], "healthy": {"a", "b", "c"}, "n": 2},
        (("a", None), ("c", None)),
        "the substitute past the first N without a hint",
        "hinted_for is None",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "c"], "healthy": {"a", "b", "c"}, "n": 2},
        (("a", None), ("b", "c")),
        "the N-th owner holding a hint",
        "hinted_for is None",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "c", "d"], "healthy": {"c", "d"}, "n": 2},
        (("c", "b"), ("d", "b")),
        "one owner's hint held twice",
        "len({hint",
    ),
    WrongResult(
        quorum.strict_quorum,
        {"preference_list": ["a", "b", "c"], "healthy": {"a", "b", "c"}, "n": 2},
        ("a", "c"),
        "the node just past the first N",
        "preference_list[:n]",
    ),
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_a_wrong_result_is_refused_by_exactly_the_postcondition_it_breaks(
    row: WrongResult,
) -> None:
    check_wrong_result(row)


def test_quorums_lists_every_subset_of_that_size() -> None:
    assert quorum.quorums(3, 2) == [frozenset({0, 1}), frozenset({0, 2}), frozenset({1, 2})]
    assert quorum.quorums(2, 0) == [frozenset()]
    assert quorum.quorums(12, 12) == [frozenset(range(12))]


def test_the_intersection_answers_at_the_boundaries() -> None:
    assert not quorum.read_write_quorums_intersect(4, 2, 2)
    assert quorum.read_write_quorums_intersect(4, 2, 3)
    assert quorum.read_write_quorums_intersect(8, 8, 1)
    assert not quorum.write_quorums_intersect(4, 2)
    assert quorum.write_quorums_intersect(5, 3)
    assert quorum.write_quorums_intersect(1, 1)


@pytest.mark.parametrize(
    ("n", "r", "w", "strict"),
    [(3, 2, 2, True), (3, 1, 2, False), (3, 1, 3, True), (1, 1, 1, True), (2, 1, 1, False)],
)
def test_strict_consistency_is_r_plus_w_above_n(n: int, r: int, w: int, strict: bool) -> None:
    assert quorum.is_strict_consistent(QuorumConfig(n=n, r=r, w=w)) is strict


@pytest.mark.parametrize(
    ("n", "r", "w"),
    [(1, 1, 1), (8, 8, 8), (3, 1, 3), (3, 3, 1)],
)
def test_a_configuration_at_the_ends_of_its_ranges_is_accepted(n: int, r: int, w: int) -> None:
    assert QuorumConfig(n=n, r=r, w=w) == QuorumConfig(n=n, r=r, w=w)


@pytest.mark.parametrize(
    ("n", "r", "w"),
    [(0, 1, 1), (3, 0, 1), (3, 4, 1), (3, 1, 0), (3, 1, 4), (0, 0, 0)],
)
def test_a_configuration_past_the_ends_is_refused(n: int, r: int, w: int) -> None:
    with pytest.raises(icontract.ViolationError):
        QuorumConfig(n=n, r=r, w=w)


def test_sloppy_quorum_hands_each_unhealthy_owner_to_the_next_healthy_substitute() -> None:
    chosen = quorum.sloppy_quorum(["a", "b", "c", "d", "e"], {"b", "d", "e"}, 3)
    assert chosen == (("b", None), ("d", "a"), ("e", "c"))
    assert quorum.sloppy_quorum(["a", "b"], set(), 2) == ()
    assert quorum.strict_quorum(["a", "b", "c"], {"a", "c"}, 2) == ("a",)


def test_a_configuration_is_frozen_and_takes_keywords_only() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        QuorumConfig().n = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        QuorumConfig(3, 2, 2)  # type: ignore[misc]
