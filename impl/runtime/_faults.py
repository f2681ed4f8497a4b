"""The peer fault layer: a node drops or delays its own traffic to and from named peers.

A learner who wants to see sloppy quorum, hinted handoff and anti-entropy at work has to
break the cluster first, and on a laptop there is no root to cut a network with. Each node
can therefore refuse to talk to some of its peers, on request, through an admin endpoint
(``PUT /admin/faults``, which ``dynamokv cluster partition`` calls on every node). The
layer sits between the core and the peer pool, so the core sees exactly what a real
network partition would show it: messages that never arrive.

Only faults the system must survive are offered, never a safety violation: a message is
dropped or delivered late, as any network may do (Dynamo §4.5–§4.7 assume it), but it is
never corrupted, duplicated with different content, or invented. The layer is off unless
the node's configuration says ``fault_injection = true`` (the local cluster manager sets it;
a production node refuses the endpoint with 403).

A symmetric partition A,B | C,D,E is each side dropping both directions of the other's
traffic; a one-way partition (A cannot reach C, C still reaches A) is A dropping what it
sends to C and C dropping what it receives from A, so it holds even if one of the two
missed the request. A delay holds a peer's outbound messages for a fixed time, in order,
in a bounded queue (:data:`DELAYED_MESSAGES_MAX`; beyond it a message is dropped, counted).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dynamokv.spec.errors import ArgumentError

__all__ = [
    "DELAYED_MESSAGES_MAX",
    "DELAY_MS_MAX",
    "FaultLayer",
    "FaultSpecError",
    "PeerFaults",
    "parse_peer_faults",
    "partition_faults",
]

DELAY_MS_MAX = 60_000
"""Longest delay one peer's messages may be given."""

DELAYED_MESSAGES_MAX = 16_384
"""Messages held for delayed delivery at once; one more is dropped (and counted)."""

PEERS_NAMED_MAX = 1024
"""Most peer names one fault specification may list."""


class FaultSpecError(ArgumentError):
    """A fault specification that cannot be applied; the message is one line."""


@dataclass(frozen=True, slots=True)
class PeerFaults:
    """What this node does to its peer traffic (the empty value: nothing).

    Attributes:
        drop_to: peers whose outbound messages are dropped.
        drop_from: peers whose inbound messages are dropped.
        delay_ms: peer -> milliseconds every outbound message to it is held first.
    """

    drop_to: frozenset[str] = frozenset()
    drop_from: frozenset[str] = frozenset()
    delay_ms: Mapping[str, int] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether any fault is set."""
        return bool(self.drop_to or self.drop_from or self.delay_ms)

    def to_json(self) -> dict[str, Any]:
        """The JSON form :func:`parse_peer_faults` reads back."""
        return {
            "drop_to": sorted(self.drop_to),
            "drop_from": sorted(self.drop_from),
            "delay_ms": dict(sorted(self.delay_ms.items())),
        }


def _names(document: Mapping[str, Any], key: str) -> frozenset[str]:
    value = document.get(key, [])
    if not isinstance(value, list) or len(value) > PEERS_NAMED_MAX:
        raise FaultSpecError(f"{key} must be a list of at most {PEERS_NAMED_MAX} node names")
    for name in value:
        if not isinstance(name, str) or not 1 <= len(name) <= 64 or not name.isprintable():
            raise FaultSpecError(f"{key} holds something that is not a node name: {name!r:.40}")
    return frozenset(value)


def parse_peer_faults(document: object) -> PeerFaults:
    """A :class:`PeerFaults` from its JSON form ``{"drop_to": [...], "drop_from": [...],
    "delay_ms": {peer: ms}}`` (every field optional).

    Raises:
        FaultSpecError: not that shape, an unknown field, or a delay out of range.
    """
    if not isinstance(document, dict):
        raise FaultSpecError("the body must be a JSON object")
    unknown = set(document) - {"drop_to", "drop_from", "delay_ms"}
    if unknown:
        raise FaultSpecError(
            f"unknown field {sorted(unknown)[0]!r:.40} (allowed: drop_to, drop_from, delay_ms)"
        )
    delays = document.get("delay_ms", {})
    if not isinstance(delays, dict) or len(delays) > PEERS_NAMED_MAX:
        raise FaultSpecError("delay_ms must be an object of node name -> milliseconds")
    checked: dict[str, int] = {}
    for name, value in delays.items():
        if not 1 <= len(name) <= 64 or not name.isprintable():
            raise FaultSpecError(f"delay_ms has a key that is not a node name: {name!r:.40}")
        # JSON has one number type: 250.0 is the integer 250 (as JSON Schema says too).
        # The range first: int() of infinity or NaN would raise.
        if type(value) not in (int, float) or not 0 <= value <= DELAY_MS_MAX or value != int(value):
            raise FaultSpecError(f"delay_ms[{name!r}] must be an integer in 0..{DELAY_MS_MAX}")
        if value:
            checked[name] = int(value)
    return PeerFaults(_names(document, "drop_to"), _names(document, "drop_from"), checked)


@dataclass
class FaultLayerStats:
    """Counters since the node started (for ``/metrics``)."""

    dropped_outbound_count: int = 0
    dropped_inbound_count: int = 0
    delayed_count: int = 0
    delay_overflow_count: int = 0


class FaultLayer:
    """The node's current :class:`PeerFaults` and the queue of delayed messages.

    The node asks :meth:`drops_outbound` / :meth:`drops_inbound` for every peer message
    and, for a delayed peer, :meth:`hold` instead of sending; its delivery task sends what
    :meth:`due` returns. Times are the caller's clock in seconds.

    Args:
        enabled: whether :meth:`set` is allowed (the node's ``fault_injection`` setting).
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.faults = PeerFaults()
        self.stats = FaultLayerStats()
        self._held: list[tuple[float, int, str, object]] = []
        self._sequence = 0

    def set(self, faults: PeerFaults) -> None:
        """Replace the faults (an empty :class:`PeerFaults` heals).

        Messages already held keep their delivery time: a heal does not reorder them.
        """
        self.faults = faults

    def drops_outbound(self, peer: str) -> bool:
        """Whether a message to ``peer`` is dropped now (and counts it)."""
        if peer in self.faults.drop_to:
            self.stats.dropped_outbound_count += 1
            return True
        return False

    def drops_inbound(self, peer: str) -> bool:
        """Whether a message from ``peer`` is dropped now (and counts it)."""
        if peer in self.faults.drop_from:
            self.stats.dropped_inbound_count += 1
            return True
        return False

    def delay_seconds(self, peer: str) -> float:
        """How long a message to ``peer`` is held (0: send it now)."""
        return self.faults.delay_ms.get(peer, 0) / 1000

    def hold(self, peer: str, message: object, *, now: float) -> bool:
        """Keep ``message`` for ``peer`` until ``now + delay``; False if the queue is full."""
        if len(self._held) >= DELAYED_MESSAGES_MAX:
            self.stats.delay_overflow_count += 1
            return False
        self._sequence += 1
        heapq.heappush(self._held, (now + self.delay_seconds(peer), self._sequence, peer, message))
        self.stats.delayed_count += 1
        return True

    def next_due(self) -> float | None:
        """When the earliest held message is due (``None``: nothing held)."""
        return self._held[0][0] if self._held else None

    def due(self, *, now: float) -> Iterable[tuple[str, object]]:
        """Remove and return ``(peer, message)`` for every held message due by ``now``."""
        held = self._held
        while held and held[0][0] <= now:
            _, _, peer, message = heapq.heappop(held)
            yield peer, message


def partition_faults(
    groups: Sequence[Sequence[str]],
    *,
    one_way: bool = False,
    delay_ms: int | None = None,
) -> dict[str, PeerFaults]:
    """Each named node's :class:`PeerFaults` for a partition between ``groups``.

    Nodes in different groups stop hearing each other (or, with ``delay_ms``, hear each
    other that much later); nodes in one group, and nodes in no group, are unaffected.
    With ``one_way`` there must be two groups, and only traffic from the first to the
    second is cut: the first drops what it sends to the second, the second drops what it
    receives from the first.

    Raises:
        FaultSpecError: fewer than two groups, a node in two groups, an empty group, a
            one-way partition of other than two groups, or a delay out of range.
    """
    if len(groups) < 2 or any(not group for group in groups):
        raise FaultSpecError("a partition needs at least two non-empty groups, as A,B/C,D")
    seen: set[str] = set()
    for group in groups:
        for name in group:
            if name in seen:
                raise FaultSpecError(f"{name} is in two groups")
            seen.add(name)
    if one_way and len(groups) != 2:
        raise FaultSpecError("a one-way partition has exactly two groups: FROM/TO")
    if delay_ms is not None and not 1 <= delay_ms <= DELAY_MS_MAX:
        raise FaultSpecError(f"the delay must be 1..{DELAY_MS_MAX} ms")
    faults: dict[str, PeerFaults] = {}
    for index, group in enumerate(groups):
        others = frozenset(name for other in groups if other is not group for name in other)
        if one_way:
            first = index == 0
            if delay_ms is not None:
                fault = PeerFaults(delay_ms=dict.fromkeys(others, delay_ms) if first else {})
            elif first:
                fault = PeerFaults(drop_to=others)
            else:
                fault = PeerFaults(drop_from=others)
        elif delay_ms is not None:
            fault = PeerFaults(delay_ms=dict.fromkeys(others, delay_ms))
        else:
            fault = PeerFaults(drop_to=others, drop_from=others)
        for name in group:
            faults[name] = fault
    return faults
