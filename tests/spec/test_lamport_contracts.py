"""The Lamport clock's contracts, one at a time: the first valid clock and message, the
first invalid ones, and a wrong timestamp for each postcondition at the line it draws."""

from __future__ import annotations

import pytest
from contract_helpers import Call, WrongResult, check_call, check_wrong_result
from dynamokv.spec import lamport

CALLS = [
    Call(lamport.increment, {"clock": 0}, None, "a clock of zero, before the first event"),
    Call(lamport.increment, {"clock": -1}, "clock >= 0", "a clock below zero"),
    Call(lamport.receive, {"clock": 0, "message": 1}, None, "the first clock and message"),
    Call(lamport.receive, {"clock": -1, "message": 1}, "lambda clock, message", "clock < 0"),
    Call(lamport.receive, {"clock": 0, "message": 0}, "lambda clock, message", "message 0"),
]


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_a_call_is_refused_by_exactly_the_precondition_it_breaks(call: Call) -> None:
    check_call(call)


WRONG_RESULTS = [
    WrongResult(lamport.increment, {"clock": 3}, 5, "a step of two", "lambda clock, result"),
    WrongResult(
        lamport.receive,
        {"clock": 3, "message": 2},
        3,
        "the message's successor, equal to the receiver's clock",
        "result > clock and result > message",
    ),
    WrongResult(
        lamport.receive,
        {"clock": 2, "message": 3},
        3,
        "the receiver's successor, equal to the message",
        "result > clock and result > message",
    ),
    WrongResult(
        lamport.receive,
        {"clock": 2, "message": 5},
        9,
        "after both, but not one past either",
        "result in",
    ),
    WrongResult(
        lamport.receive,
        {"clock": 5, "message": 2},
        7,
        "one past the receiver plus one more",
        "result in",
    ),
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_a_wrong_result_is_refused_by_exactly_the_postcondition_it_breaks(
    row: WrongResult,
) -> None:
    check_wrong_result(row)


def test_receive_is_one_past_the_later_of_the_two() -> None:
    assert lamport.receive(5, 2) == 6
    assert lamport.receive(2, 5) == 6
    assert lamport.receive(4, 4) == 5
    assert lamport.increment(0) == 1
