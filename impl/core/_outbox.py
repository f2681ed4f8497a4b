"""The one path out of a step: where every part of the node puts its effects, in order.

The request path, hinted handoff, gossip, partition transfer and anti-entropy all speak
through one :class:`Outbox`: a message to send, a client request to answer, records to
persist. So the effects of a step come out in the order the node decided them, and the
rule "persist before you acknowledge" has one place to live: :meth:`Outbox.persist` takes
the actions that must wait until the records are durable (an acknowledgement to send, a
quorum count to bump), and hands them back when the driver steps
:class:`~dynamokv.impl.core.PersistDone` (:meth:`Outbox.persisted`). Timers are not here:
the node alone decides when it next wants a tick.
"""

from __future__ import annotations

from dataclasses import dataclass

from dynamokv.spec.errors import invariant

from ._frozen import fast_init
from ._messages import Effect, Message, Persist, Record, Reply, Result

__all__ = [
    "AckWhenDurable",
    "AfterPersist",
    "GenerationDurable",
    "LeaseDurable",
    "LocalWriteDurable",
    "Outbox",
]


@fast_init
@dataclass(frozen=True, slots=True)
class AckWhenDurable:
    """Send ``message`` (an acknowledgement) once the persist it rests on is durable."""

    message: Message


@fast_init
@dataclass(frozen=True, slots=True)
class LocalWriteDurable:
    """The coordinator's own write for put ``op_id`` is durable: one of the W."""

    op_id: int


@fast_init
@dataclass(frozen=True, slots=True)
class LeaseDurable:
    """Counters up to ``counter_max`` may now be issued."""

    counter_max: int


@fast_init
@dataclass(frozen=True, slots=True)
class GenerationDurable:
    """This incarnation's generation is durable: the node may gossip."""


AfterPersist = AckWhenDurable | LocalWriteDurable | LeaseDurable | GenerationDurable


class Outbox:
    """The effects of the step being taken, and the persists still waiting to be durable."""

    __slots__ = ("_after", "_persist_seq", "effects")

    def __init__(self) -> None:
        self.effects: list[Effect] = []
        self._persist_seq = 0
        self._after: dict[int, tuple[AfterPersist, ...]] = {}

    def begin(self) -> list[Effect]:
        """Start a step: a fresh list of effects, which the step returns."""
        effects: list[Effect] = []
        self.effects = effects
        return effects

    def send(self, message: Message) -> None:
        """Send ``message`` to ``message.dst`` (best effort): the message is the effect."""
        self.effects.append(message)

    def reply(self, request_id: int, result: Result) -> None:
        """Answer the driver's client request ``request_id``."""
        self.effects.append(Reply(request_id, result))

    def persist(self, records: tuple[Record, ...], *after: AfterPersist) -> int:
        """Persist ``records``; once durable, :meth:`persisted` returns ``after``."""
        self._persist_seq += 1
        persist_id = self._persist_seq
        self.effects.append(Persist(persist_id, records))
        if after:
            self._after[persist_id] = after
        return persist_id

    def persisted(self, persist_id: int) -> tuple[AfterPersist, ...]:
        """Persist ``persist_id`` is durable: the actions that waited for it."""
        invariant(1 <= persist_id <= self._persist_seq, "PersistDone for a persist never emitted")
        return self._after.pop(persist_id, ())
