"""Hinted handoff (Dynamo §4.6): the writes a substitute keeps for unreachable owners.

"If node A is temporarily down or unreachable during a write operation then a replica
that would normally have lived on A will now be sent to node D ... The replica sent to D
will have a hint in its metadata that suggests which node was the intended recipient ...
Upon detecting that A has recovered, D will attempt to deliver the replica to A. Once
the transfer succeeds, D may delete the object from its local store" (Dynamo §4.6).

:class:`HintStore` is that local store of a substitute:

* **Bounded.** :func:`hint_to_store` decides what a substitute keeps: a hint naming the
  owner, within ``hints_count_max`` hints and ``hints_bytes_max`` bytes of hinted values
  (:func:`hint_size_bytes`); a full store refuses the write (a ``WriteAck`` with ``ok``
  false), which then does not count towards the coordinator's W.
* **Durable before acknowledged.** A hint is persisted and only then acknowledged.
* **Replayed** every ``hint_replay_interval_ticks`` to owners the health view believes are
  up, ``hint_replay_batch_max`` at a time, and at once when the failure detector stops
  suspecting an owner; an unanswered replay goes again after ``hint_retry_ticks``.
* **Deleted** only when :func:`hint_may_be_deleted` says so: once the owner has
  acknowledged, durably, every version in it. The rule is asked when the hint is replayed
  and when the owner acknowledges.

The node calls both rules through its :class:`~dynamokv.impl.core.Seams`, so a lab or a
test can replace them.

A hinted version also answers reads: a substitute reads its hints for a key with what it
owns (:meth:`HintStore.versions_for`), so a get that reaches it sees the write.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from dynamokv.errors import invariant

from ._health import HealthView
from ._messages import DeleteHint, Hint, HintAck, HintReplay, StoreHint, WriteAck, WriteRequest
from ._node_config import NodeConfig, NodeStats
from ._outbox import AckWhenDurable, Outbox
from ._versions import Version

__all__ = ["HintStore", "hint_may_be_deleted", "hint_size_bytes", "hint_to_store"]


def hint_size_bytes(key: bytes, versions: tuple[Version, ...]) -> int:
    """What a hint counts against ``hints_bytes_max``: the key, each value, 16 bytes per
    clock entry and dot."""
    return len(key) + sum(len(v.value or b"") + 16 * (1 + len(v.context)) for v in versions)


def hint_to_store(
    owner: str,
    key: bytes,
    versions: tuple[Version, ...],
    *,
    hint_id: int,
    hints_count: int,
    hints_bytes: int,
    count_max: int,
    bytes_max: int,
) -> Hint | None:
    """What a substitute keeps for a write meant for an unreachable owner (Dynamo §4.6).

    A hint names the owner the write was meant for, so that the substitute can hand
    it back once the owner is seen alive again. The hint store is bounded, in count
    and in bytes (:func:`hint_size_bytes`): a full store refuses the write, which then
    does not count towards the coordinator's W.

    Args:
        owner: the unreachable owner the write was meant for.
        key: the key written.
        versions: the versions the coordinator sent.
        hint_id: the id the new hint must carry.
        hints_count: hints the substitute holds now.
        hints_bytes: their size, in :func:`hint_size_bytes`.
        count_max: the most hints it may hold (``hints_count_max``).
        bytes_max: the most bytes they may total (``hints_bytes_max``).

    Returns:
        The hint to store durably before acknowledging, or None to refuse the write.

    Example:
        >>> hint_to_store("n3", b"k", (), hint_id=7, hints_count=0, hints_bytes=0,
        ...               count_max=1, bytes_max=100).owner
        'n3'
    """
    size = hint_size_bytes(key, versions)
    if hints_count >= count_max or hints_bytes + size > bytes_max:
        return None
    return Hint(hint_id, owner, key, versions, size)


def hint_may_be_deleted(
    hint_dots: Collection[tuple[str, int]], acked_dots: Collection[tuple[str, int]]
) -> bool:
    """Whether a substitute may delete a hint: the owner holds every version in it durably.

    Args:
        hint_dots: the dots of the versions the hint keeps.
        acked_dots: the dots the owner acknowledged as durable for this hint (empty
            when the hint has just been replayed).

    Returns:
        True only if every dot of the hint was acknowledged. Deleting earlier could lose
        an acknowledged write if the owner crashes before its copy is durable.

    Example:
        >>> hint_may_be_deleted({("n1", 4)}, ())
        False
        >>> hint_may_be_deleted({("n1", 4)}, {("n1", 4), ("n1", 5)})
        True
    """
    acked = set(acked_dots)
    return all(dot in acked for dot in hint_dots)


class HintStore:
    """A substitute's hints: stored durably, bounded, replayed, deleted once delivered.

    Args:
        node_id: this node.
        config: the bounds and the replay pacing (:class:`~dynamokv.impl.core.NodeConfig`).
        stats: where to count hints stored, refused and replayed.
        may_delete: the deletion rule, :func:`hint_may_be_deleted` unless the node's
            :class:`~dynamokv.impl.core.Seams` replace it.
        to_store: what to keep for a write, :func:`hint_to_store` unless replaced.
        health: who is believed up (replays go only to them).
        out: where the hints' persists and messages go.
        stored: the hints that survived in storage (read once, at start).
        schedule: asks the node for a replay tick at the given tick.
    """

    __slots__ = (
        "_by_key",
        "_by_owner",
        "_bytes",
        "_replay_scheduled",
        "_schedule",
        "_sent_at",
        "_seq",
        "config",
        "health",
        "hints",
        "may_delete",
        "node_id",
        "out",
        "stats",
        "to_store",
    )

    def __init__(
        self,
        node_id: str,
        *,
        config: NodeConfig,
        stats: NodeStats,
        may_delete: Callable[[Collection[tuple[str, int]], Collection[tuple[str, int]]], bool],
        to_store: Callable[..., Hint | None],
        health: HealthView,
        out: Outbox,
        stored: Iterable[Hint],
        schedule: Callable[[int], None],
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.stats = stats
        self.may_delete = may_delete
        self.to_store = to_store
        self.health = health
        self.out = out
        self._schedule = schedule
        self.hints: dict[int, Hint] = {}
        self._by_owner: dict[str, dict[int, None]] = {}
        self._by_key: dict[bytes, dict[int, None]] = {}
        self._bytes = 0
        self._sent_at: dict[int, int] = {}
        for hint in stored:
            self._add(hint)
        self._seq = max(self.hints, default=0)
        self._replay_scheduled = False

    # -- keeping a hint ------------------------------------------------------------------

    def keep(self, message: WriteRequest, now: int) -> None:
        """A coordinator chose this node to stand in for ``message.hinted_for``: keep the
        versions as a hint and acknowledge once durable, or refuse if the store is full."""
        me = self.node_id
        config = self.config
        owner = message.hinted_for
        invariant(owner is not None, "a hint names its owner")
        hint = self.to_store(
            owner or "",
            message.key,
            message.versions,
            hint_id=self._seq + 1,
            hints_count=len(self.hints),
            hints_bytes=self._bytes,
            count_max=config.hints_count_max,
            bytes_max=config.hints_bytes_max,
        )
        if hint is None:
            self.stats.hints_refused += 1
            self.out.send(WriteAck(me, message.src, message.op_id, message.key, ok=False))
            return
        self._seq += 1
        self._add(hint)
        self.stats.hints_stored += 1
        ack = WriteAck(me, message.src, message.op_id, message.key)
        self.out.persist((StoreHint(hint),), AckWhenDurable(ack))
        self.schedule_replay(now)

    def versions_for(self, key: bytes) -> list[Version] | None:
        """The hinted versions kept for ``key`` (None if there are none)."""
        hint_ids = self._by_key.get(key)
        if not hint_ids:
            return None
        hints = self.hints
        return [v for i in hint_ids for v in hints[i].versions]

    def has_hints_for(self, owner: str) -> bool:
        """Whether some hint waits for ``owner``."""
        return owner in self._by_owner

    def _add(self, hint: Hint) -> None:
        self.hints[hint.hint_id] = hint
        self._by_owner.setdefault(hint.owner, {})[hint.hint_id] = None
        self._by_key.setdefault(hint.key, {})[hint.hint_id] = None
        self._bytes += hint.size_bytes
        invariant(len(self.hints) <= self.config.hints_count_max, "hints_count_max exceeded")
        invariant(self._bytes <= self.config.hints_bytes_max, "hints_bytes_max exceeded")

    def _drop(self, hint: Hint) -> None:
        del self.hints[hint.hint_id]
        by_owner = self._by_owner[hint.owner]
        del by_owner[hint.hint_id]
        if not by_owner:
            del self._by_owner[hint.owner]
        by_key = self._by_key[hint.key]
        del by_key[hint.hint_id]
        if not by_key:
            del self._by_key[hint.key]
        self._bytes -= hint.size_bytes
        self._sent_at.pop(hint.hint_id, None)
        self.out.persist((DeleteHint(hint.hint_id),))

    # -- replaying ---------------------------------------------------------------------------

    def schedule_replay(self, now: int) -> None:
        """Make sure a replay round is due within ``hint_replay_interval_ticks``."""
        if not self._replay_scheduled:
            self._replay_scheduled = True
            self._schedule(now + self.config.hint_replay_interval_ticks)

    def on_replay_tick(self, now: int) -> None:
        """The replay round is due."""
        self._replay_scheduled = False
        self.replay(now)

    def replay(self, now: int) -> None:
        """Offer hints to owners believed up, a bounded batch at a time."""
        config = self.config
        budget = config.hint_replay_batch_max
        me = self.node_id
        for owner, ids in list(self._by_owner.items()):
            if budget <= 0:
                break
            if not self.health.is_healthy(owner, now):
                continue
            for hint_id in list(ids):
                if budget <= 0:
                    break
                sent_at = self._sent_at.get(hint_id)
                if sent_at is not None and now - sent_at < config.hint_retry_ticks:
                    continue  # in flight; unanswered replays go again after the retry time
                hint = self.hints[hint_id]
                budget -= 1
                self._sent_at[hint_id] = now
                self.out.send(HintReplay(me, owner, hint_id, hint.key, hint.versions))
                # Asked now with nothing acknowledged (the project's rule keeps the hint).
                if self.may_delete(tuple(v.dot for v in hint.versions), ()):
                    self._drop(hint)
        if self.hints:
            self.schedule_replay(now)

    def on_ack(self, message: HintAck) -> None:
        """The owner acknowledged a replay durably: delete the hint if it holds it all."""
        hint = self.hints.get(message.hint_id)
        if hint is None:
            return
        if self.may_delete(tuple(v.dot for v in hint.versions), message.dots):
            self.stats.hints_replayed += 1
            self._drop(hint)

    def on_owner_up(self, owner: str, now: int) -> None:
        """The failure detector stopped suspecting ``owner``: offer its hints at once rather
        than at the next replay round."""
        if owner in self._by_owner:
            self.replay(now)
