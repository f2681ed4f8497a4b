"""Lamport clocks: one integer per event (Lamport 1978; interview Q2).

A Lamport clock is a counter each process keeps. A local event (a write, or a
send) increments it; a receive sets it past both its own value and the
timestamp the message carries. That gives the *clock condition*: if event a
happened before event b, then C(a) < C(b) (theorem ``lamport.clock_condition``).

The converse does not hold, and that is the whole lesson of interview Q2: two
events that know nothing of each other still get different numbers, so a store
that orders versions by Lamport timestamp silently picks a winner between
concurrent writes (theorem ``lamport.order_does_not_imply_causality``). Dynamo
keeps vector clocks (:mod:`dynamokv.spec.vclock`, Dynamo §4.4) because they tell
concurrency apart exactly; a Lamport timestamp is what last-write-wins needs,
and all it needs.

Both functions are pure; a process's clock starts at 0 before its first event.
"""

from __future__ import annotations

import icontract

__all__ = ["LamportClock", "increment", "receive"]

LamportClock = int
"""The clock of one process: the timestamp of its latest event, 0 before the first."""


@icontract.require(lambda clock: clock >= 0)
@icontract.ensure(lambda clock, result: result == clock + 1)
def increment(clock: LamportClock) -> LamportClock:
    """The timestamp of a local event (or a send) at a process whose clock is ``clock``.

    Args:
        clock: the process's clock before the event.

    Returns:
        The event's timestamp, which is also the process's new clock.
    """
    return clock + 1


@icontract.require(lambda clock, message: clock >= 0 and message >= 1)
@icontract.ensure(lambda clock, message, result: result > clock and result > message)
@icontract.ensure(lambda clock, message, result: result in (clock + 1, message + 1))
def receive(clock: LamportClock, message: LamportClock) -> LamportClock:
    """The timestamp of receiving a message stamped ``message`` at a process at ``clock``.

    The receive must come after the send (``message``) and after everything the
    receiver did before (``clock``): the maximum of the two, plus one.

    Args:
        clock: the receiver's clock before the receive.
        message: the timestamp the sender gave the message (the send event's).

    Returns:
        The receive event's timestamp, which is also the receiver's new clock.
    """
    return max(clock, message) + 1
