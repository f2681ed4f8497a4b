"""Lab q2, clocks: vector clocks (Dynamo §4.4) and Lamport clocks (interview Q2).

Fill in the functions below, part by part; each raises NotImplementedError until
you do. Check your work with `dynamokv lab check q2` (or one part: `--part 2`).

A vector clock is a mapping node id -> counter; a node that is absent has counter
0, and a valid clock never stores a zero. Return new dicts: never change an argument.
The docstrings are the specification. The project's own answers live in
spec/vclock.py and spec/lamport.py: reading them spoils the lab.
"""

from __future__ import annotations

from dynamokv.spec.lamport import LamportClock
from dynamokv.spec.vclock import Order, VectorClock

# -- part 1: vector clocks ---------------------------------------------------------------


def increment(clock: VectorClock, node: str) -> dict[str, int]:
    """The clock of a new version coordinated by ``node`` (Dynamo §4.4).

    Args:
        clock: the clock the coordinator starts from (the client's context).
        node: the coordinator; only its counter changes, by one.

    Returns:
        A new clock that strictly descends from ``clock``.
    """
    raise NotImplementedError("increment")


def merge(a: VectorClock, b: VectorClock) -> dict[str, int]:
    """The least clock that descends from both: the entrywise maximum.

    A client that read siblings writes back under the merge of their clocks, so
    the new version supersedes every sibling it has seen.
    """
    raise NotImplementedError("merge")


# -- part 2: the order of versions -------------------------------------------------------


def descends(a: VectorClock, b: VectorClock) -> bool:
    """Whether ``a`` has seen everything ``b`` has: ``a >= b`` in every entry.

    A version whose clock descends from another's may replace it. Every clock
    descends from itself.
    """
    raise NotImplementedError("descends")


def compare(a: VectorClock, b: VectorClock) -> Order:
    """Place ``a`` relative to ``b``: before, after, equal, or concurrent."""
    raise NotImplementedError("compare")


# -- part 3: Lamport clocks --------------------------------------------------------------


def lamport_increment(clock: LamportClock) -> LamportClock:
    """The timestamp of a local event (or a send) at a process whose clock is ``clock``.

    Args:
        clock: the process's clock before the event.

    Returns:
        The event's timestamp, which is also the process's new clock.
    """
    raise NotImplementedError("lamport_increment")


def lamport_receive(clock: LamportClock, message: LamportClock) -> LamportClock:
    """The timestamp of receiving a message stamped ``message`` at a process at ``clock``.

    The receive must come after the send (``message``) and after everything the
    receiver did before (``clock``): the maximum of the two, plus one.

    Args:
        clock: the receiver's clock before the receive.
        message: the timestamp the sender gave the message (the send event's).

    Returns:
        The receive event's timestamp, which is also the receiver's new clock.
    """
    raise NotImplementedError("lamport_receive")
