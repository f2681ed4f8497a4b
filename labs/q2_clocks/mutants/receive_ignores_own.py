"""lamport_receive takes the message's stamp + 1 and ignores the receiver's own clock.

A receive can then get a smaller timestamp than an earlier event of the same
process: the clock condition (a → b ⇒ C(a) < C(b)) breaks.
"""

from __future__ import annotations

from dynamokv.spec.lamport import LamportClock

CAUGHT_BY = "3.1"
ALSO_CAUGHT_BY = ("3.2",)


def lamport_receive(clock: LamportClock, message: LamportClock) -> LamportClock:
    return message + 1
