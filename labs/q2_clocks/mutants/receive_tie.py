"""lamport_receive forgets the + 1 when the message's stamp equals the receiver's clock.

The receive then has the same timestamp as the send that caused it. No paper case
has the tie; a symbolic search finds it.
"""

from __future__ import annotations

from dynamokv.spec.lamport import LamportClock

CAUGHT_BY = "3.2"


def lamport_receive(clock: LamportClock, message: LamportClock) -> LamportClock:
    if clock == message:
        return clock
    return max(clock, message) + 1
