"""Laws of :mod:`dynamokv.spec.lamport`: the clock condition, and why it is not enough (Q2)."""

from __future__ import annotations

import icontract
import pytest
from dynamokv.spec import lamport, vclock
from hypothesis import given
from hypothesis import strategies as st

CLOCK = st.integers(0, 50)
STAMP = st.integers(1, 50)


@given(CLOCK)
def test_a_local_event_is_one_past_the_process_clock(clock: int) -> None:
    assert lamport.increment(clock) == clock + 1


@given(CLOCK, STAMP)
def test_a_receive_comes_after_both_the_send_and_the_receivers_past(
    clock: int, message: int
) -> None:
    received = lamport.receive(clock, message)
    assert received > clock and received > message
    assert received == max(clock, message) + 1


def test_two_unrelated_events_get_ordered_timestamps() -> None:
    """The lesson of Q2: q's first event and p's second never met, yet C(q.e0) < C(p.e1);
    their vector clocks call them concurrent."""
    p0 = lamport.increment(0)
    p1 = lamport.increment(p0)
    q0 = lamport.increment(0)
    assert q0 < p1
    p_clock = vclock.increment(vclock.increment({}, "p"), "p")
    q_clock = vclock.increment({}, "q")
    assert vclock.compare(q_clock, p_clock) is vclock.Order.CONCURRENT


@pytest.mark.parametrize("call", [lambda: lamport.increment(-1), lambda: lamport.receive(3, 0)])
def test_a_clock_below_zero_or_a_message_never_sent_is_refused(call: object) -> None:
    with pytest.raises(icontract.ViolationError):
        call()  # type: ignore[operator]
