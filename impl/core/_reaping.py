"""Tombstone reaping: a deleted key is forgotten once every replica holds its tombstone.

A delete is a put of a tombstone (Dynamo §4.4: the delete carries the context of what it
deletes, so that it supersedes exactly those versions). Kept forever, tombstones fill the
disk of a store whose keys come and go; dropped too early, they let a deleted value come
back: a replica that missed the delete still holds the old value, and the next read repair
or Merkle exchange (§4.7) copies it to the replicas that forgot the tombstone, where
nothing supersedes it any more.

**The rule** (:func:`tombstone_may_be_reaped`): a key is reaped only when

* everything its reaper stores for it is tombstones, unchanged since it asked;
* *every* other replica of its preference list said it holds those tombstones or versions
  that superseded them, all tombstones too (:func:`holds_tombstones`), and said so only
  once they were durable there (a vote waits for its sync, as an acknowledgement does);
  and
* a grace period (``tombstone_grace_ticks``) has passed since the reaper stored the
  tombstones it holds (other tombstones for the key, from a second delete, start it
  again), and since it adopted its ring, with no partition transfer running there and no
  member ``leaving`` (a leaving node holds data it has yet to hand off, which an outage
  can make it keep past any grace period).

The grace period covers what the vote cannot see: a write still in flight, a hint for an
owner kept by a substitute (§4.6), data a former owner has yet to hand off (§4.8.1). A
node down for longer than the grace period (and the memory of reaps below) can bring a
deleted value back when it returns: a substitute replaying its hint, or a node that a
join made a former owner while it was down, handing off its copy. So the grace period
must outlast the longest outage a node may come back from with its data (Cassandra's
``gc_grace_seconds`` makes the same trade); a node down longer is removed from the ring
and replaced by a new node, not brought back (nor wiped and restarted under its old name:
its counters would start again and issue dots already issued). A former owner
keeps a key until *every* new owner has acknowledged its handoff, which one unreachable
new owner can stretch past any grace period; so a new owner that acknowledges a batch its
copy supersedes sends the sender that copy first (a read repair), and the former owner
holds the tombstone, not the deleted value, from the first acknowledgement on.

**Who reaps.** The first node of a key's preference list, the *reaper*, runs rounds every
``reap_interval_ticks``: it asks the other owners about up to ``reap_keys_per_round_max``
keys (:class:`~dynamokv.impl.core.ReapQuery`), collects their answers
(:class:`~dynamokv.impl.core.ReapVote`) and, for every key all of them hold, drops its own
copy and tells them to drop theirs (:class:`~dynamokv.impl.core.Reap`). A replica drops a
key only if what it stores then is tombstones the reap covers, so a put that arrived after
its vote is kept. A replica that misses the reap keeps its tombstone; anti-entropy hands it
back to the others, which forget it again a grace period later. A round that does not
finish within one interval is abandoned; nothing is dropped for it.

**Late copies.** A reap does not recall the copies of the tombstones still travelling: a
hint replayed again because its acknowledgement was late, a repair or read repair sent
before the reap. Stored, such a copy brings the tombstone back, to be reaped a grace
period later, and while a hint holder keeps replaying (its acknowledgements lost) the key
comes back round after round. So a node remembers what it reaped for
``reaped_memory_ticks`` after the reap or the last late copy (at most
``reaped_memory_keys_max`` keys). A copy sent for a key it holds nothing of, and that
the reaped tombstones cover entirely, is merged as if they were still there
(:meth:`TombstoneReaper.is_stale_copy`): into nothing, whether it carries tombstones or a
deleted value. A copy with anything newer is merged as usual (a tombstone concurrent with
a new put comes back beside it as a sibling, as without the memory). Leaving out only the
covered part of such a copy was tried and is wrong: an owner that left a tombstone out
beside a put while the others kept it would refuse every anti-entropy push of it, renewing
its memory each time, and the replicas would never agree again. A
replica that pushes such a copy in a Merkle exchange missed the reap, or the delete: it
is sent the reap again for tombstones, and the tombstones themselves for a value they
deleted, so that it holds and pushes those instead, to be reaped again
(:meth:`TombstoneReaper.answer_repair`); otherwise it would keep the deleted value, every
push of it merged into nothing here, and the replicas would never agree. A crash forgets
the memory; a late copy then comes back and is reaped again, as it would be without it.

The reaper learns which keys are deleted from the writes themselves (every version set
the node stores passes :meth:`TombstoneReaper.note`) and, after a restart, from the scan
that rebuilds the Merkle trees; the grace period then starts again, which is only later,
never earlier. Compaction removes a dropped key from disk.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ._merkle import MerkleTracking
from ._messages import Reap, ReapQuery, ReapVote, RepairPush
from ._node_config import MemberConfig, MemberStats
from ._outbox import AckWhenDurable, Outbox
from ._ring import PartitionRing
from ._versions import Version, covers

__all__ = [
    "TombstoneMayBeReaped",
    "TombstoneReaper",
    "holds_tombstones",
    "reap_covers",
    "tombstone_may_be_reaped",
]


def _all_tombstones(versions: Sequence[Version]) -> bool:
    return bool(versions) and all(version.value is None for version in versions)


def tombstone_may_be_reaped(
    held: tuple[Version, ...],
    *,
    owners: Collection[str],
    votes: Collection[str],
    stored_ticks: int,
    grace_ticks: int,
) -> bool:
    """Whether the reaper may forget ``held``: tombstones only, every other owner of the
    key voted that it holds them (or something newer, also deleted), and they have been
    stored here for at least ``grace_ticks``.

    >>> t = Version(None, ("n1", 2), (("n1", 1),))
    >>> tombstone_may_be_reaped((t,), owners=("n2", "n3"), votes=("n2", "n3"),
    ...                         stored_ticks=100, grace_ticks=50)
    True
    >>> tombstone_may_be_reaped((t,), owners=("n2", "n3"), votes=("n2",),
    ...                         stored_ticks=100, grace_ticks=50)
    False
    """
    return (
        _all_tombstones(held)
        and stored_ticks >= grace_ticks
        and all(owner in votes for owner in owners)
    )


class TombstoneMayBeReaped(Protocol):
    """The shape of :func:`tombstone_may_be_reaped` (the seam's type)."""

    def __call__(
        self,
        held: tuple[Version, ...],
        *,
        owners: Collection[str],
        votes: Collection[str],
        stored_ticks: int,
        grace_ticks: int,
    ) -> bool: ...


def holds_tombstones(held: Sequence[Version], proposed: Sequence[Version]) -> bool:
    """A replica's vote: it stores only tombstones, and they cover every proposed one."""
    return _all_tombstones(held) and all(covers(held, version) for version in proposed)


def reap_covers(proposed: Sequence[Version], held: Sequence[Version]) -> bool:
    """Whether a replica may drop ``held`` on a reap of ``proposed``: ``held`` is
    tombstones only, each of them proposed or superseded by a proposed one."""
    return _all_tombstones(held) and all(covers(proposed, version) for version in held)


@dataclass(slots=True)
class _Round:
    """One round of the reaper: the keys asked about and the owners yet to answer."""

    round_id: int
    ring_version: int
    started: int
    proposed: dict[bytes, tuple[Version, ...]]
    owners: dict[bytes, tuple[str, ...]]
    missing: dict[bytes, set[str]] = field(default_factory=dict)


class TombstoneReaper:
    """The reaping of one node: the deleted keys it stores, its rounds, its replies.

    Args:
        node_id: this node.
        config: ``tombstone_grace_ticks`` (None: this node never starts a round; it still
            answers and applies other reapers' rounds), the interval and the round size.
        store: the node's storage (drops go through it, so the Merkle trees follow).
        out: where messages go.
        stats: counts ``tombstones_reaped``.
        may_reap: the rule (:data:`~dynamokv.impl.core.Seams.tombstone_may_be_reaped`).
        now: the tick at start.
        first_id: the first id of its rounds (the node gives each of its lives its own
            range: ``generation << 40``).
    """

    def __init__(
        self,
        node_id: str,
        *,
        config: MemberConfig,
        store: MerkleTracking,
        out: Outbox,
        stats: MemberStats,
        may_reap: TombstoneMayBeReaped,
        now: int,
        first_id: int = 0,
    ) -> None:
        self.node_id = node_id
        self.grace_ticks = config.tombstone_grace_ticks
        self.interval_ticks = config.reap_interval_ticks
        self.keys_max = config.reap_keys_per_round_max
        self.store = store
        self.out = out
        self.stats = stats
        self.may_reap = may_reap
        self.now = now
        # Deleted keys by the tick their tombstones were stored, with those tombstones:
        # inserted in tick order and moved to the end when other tombstones are stored
        # for the key, so the oldest come first.
        self.stored_since: dict[bytes, tuple[int, tuple[Version, ...]]] = {}
        # Tombstones this node reaped, by key, with the tick of the reap: inserted in tick
        # order, so the oldest come first (see "Late copies" above).
        self.reaped: dict[bytes, tuple[int, tuple[Version, ...]]] = {}
        self.memory_ticks = config.reaped_memory_ticks
        self.memory_keys_max = config.reaped_memory_keys_max
        self._round: _Round | None = None
        # Round ids go on from ``first_id``: the node starts each life at its own, so a
        # vote meant for a round of an earlier life cannot count in this one.
        self._round_seq = first_id
        self._next_round = now + self.interval_ticks

    @property
    def enabled(self) -> bool:
        """Whether this node starts rounds (a grace period is configured)."""
        return self.grace_ticks is not None

    def note(self, key: bytes, versions: tuple[Version, ...]) -> None:
        """``versions`` is now what the node stores for ``key``."""
        if versions and versions[0].value is None and _all_tombstones(versions):
            noted = self.stored_since.get(key)
            if noted is None or noted[1] != versions:
                # Other tombstones (a second delete, a concurrent one merged in): the
                # grace period starts again for them, since a hint or a write they
                # supersede may still be travelling, and only they are what a reap
                # would drop.
                self.stored_since.pop(key, None)
                self.stored_since[key] = (self.now, versions)
        elif key in self.stored_since:
            del self.stored_since[key]

    def is_stale_copy(
        self, key: bytes, held: tuple[Version, ...], incoming: tuple[Version, ...]
    ) -> bool:
        """Whether ``incoming``, sent by another node for a key this node holds nothing
        of, is only what tombstones it reaped lately cover: a late copy, merged as if
        they were still there (into nothing). It renews the memory of the key, so a
        hint holder that keeps replaying is kept out for as long as it does."""
        if held:
            return False
        entry = self.reaped.get(key)
        if entry is None or not incoming:
            return False
        tombstones = entry[1]
        if not all(covers(tombstones, version) for version in incoming):
            return False
        self._remember(key, tombstones)
        return True

    def answer_repair(
        self, src: str, partition: int, items: Sequence[tuple[bytes, tuple[Version, ...]]]
    ) -> None:
        """A replica pushed a repair of keys this node holds nothing of, that it reaped
        lately (``src`` missed the delete or the reap): tombstones the reap covers are
        reaped again on ``src``; a value they supersede (a deleted value ``src`` still
        holds) is answered with the tombstones, so that ``src`` holds them instead and
        pushes them back at its next exchange, to be reaped. Without that answer the
        deleted value would stay on ``src`` for good: this node merges each push of it
        into nothing, so the replicas would never agree."""
        reaped = self.reaped
        if not reaped:
            return
        stale = []
        superseded = []
        read = self.store.read
        for key, versions in items:
            entry = reaped.get(key)
            if entry is None or not versions or read(key):
                continue
            tombstones = entry[1]
            if reap_covers(tombstones, versions):
                stale.append((key, tombstones))
            elif all(covers(tombstones, version) for version in versions):
                superseded.append((key, tombstones))
        if stale:
            self.out.send(Reap(self.node_id, src, tuple(stale)))
        if superseded:
            self.out.send(RepairPush(self.node_id, src, partition, tuple(superseded)))

    def _remember(self, key: bytes, tombstones: tuple[Version, ...]) -> None:
        reaped = self.reaped
        reaped.pop(key, None)
        if self.memory_keys_max == 0:
            return
        reaped[key] = (self.now, tombstones)
        if len(reaped) > self.memory_keys_max:
            del reaped[next(iter(reaped))]

    def _forget_old(self) -> None:
        reaped = self.reaped
        oldest = self.now - self.memory_ticks
        while reaped:
            key = next(iter(reaped))
            if reaped[key][0] > oldest:
                break
            del reaped[key]

    # -- the reaper's rounds ---------------------------------------------------------------

    def tick(self, ring: PartitionRing, ring_version: int, *, quiet_ticks: int) -> None:
        """A round, when one is due: ``quiet_ticks`` is how long the ring has been adopted
        with no partition transfer running here (0 while one runs)."""
        grace = self.grace_ticks
        now = self.now
        if self.reaped:
            self._forget_old()
        if grace is None or now < self._next_round:
            return
        self._next_round = now + self.interval_ticks
        self._round = None  # an unfinished round is abandoned
        if quiet_ticks < grace or ring_version == 0:
            return
        proposed: dict[bytes, tuple[Version, ...]] = {}
        owners_of: dict[bytes, tuple[str, ...]] = {}
        me = self.node_id
        read = self.store.read
        for key, (since, _) in self.stored_since.items():
            if now - since < grace or len(proposed) >= self.keys_max:
                break
            owners = ring.partition_preference_list(ring.partition_of(key))
            if owners[0] != me:
                continue
            proposed[key] = read(key)
            owners_of[key] = tuple(owner for owner in owners if owner != me)
        if not proposed:
            return
        # The rule decides first with no vote: with one replica (or a rule that does not
        # wait for votes) the keys go at once.
        at_once = [
            key
            for key, held in proposed.items()
            if self.may_reap(
                held,
                owners=owners_of[key],
                votes=(),
                stored_ticks=now - self.stored_since[key][0],
                grace_ticks=grace,
            )
        ]
        self._reap([(key, proposed.pop(key), owners_of.pop(key)) for key in at_once])
        if not proposed:
            return
        self._round_seq += 1
        round_ = _Round(self._round_seq, ring_version, now, proposed, owners_of)
        asked: dict[str, list[tuple[bytes, tuple[Version, ...]]]] = {}
        for key, owners in owners_of.items():
            round_.missing[key] = set(owners)
            for owner in owners:
                asked.setdefault(owner, []).append((key, proposed[key]))
        self._round = round_
        self.stats.tombstones_asked += len(proposed)
        for owner, items in asked.items():
            self.out.send(ReapQuery(me, owner, round_.round_id, ring_version, tuple(items)))

    def on_vote(self, message: ReapVote, ring_version: int) -> None:
        """An owner's answer: the keys of the round it holds the tombstones of."""
        round_ = self._round
        if (
            round_ is None
            or message.round_id != round_.round_id
            or round_.ring_version != ring_version
        ):
            return
        done: list[tuple[bytes, tuple[Version, ...], tuple[str, ...]]] = []
        read = self.store.read
        grace = self.grace_ticks
        assert grace is not None
        for key in message.keys:
            missing = round_.missing.get(key)
            if missing is None:
                continue
            missing.discard(message.src)
            if missing:
                continue
            del round_.missing[key]
            owners = round_.owners[key]
            held = read(key)
            noted = self.stored_since.get(key)
            if (
                noted is not None
                and held == round_.proposed[key]
                and self.may_reap(
                    held,
                    owners=owners,
                    votes=owners,
                    stored_ticks=self.now - noted[0],
                    grace_ticks=grace,
                )
            ):
                done.append((key, held, owners))
        self._reap(done)

    def _reap(self, done: Sequence[tuple[bytes, tuple[Version, ...], tuple[str, ...]]]) -> None:
        if not done:
            return
        self.store.drop([key for key, _, _ in done])
        self.stats.tombstones_reaped += len(done)
        told: dict[str, list[tuple[bytes, tuple[Version, ...]]]] = {}
        for key, held, owners in done:
            self.stored_since.pop(key, None)
            self._remember(key, held)
            for owner in owners:
                told.setdefault(owner, []).append((key, held))
        for owner, items in told.items():
            self.out.send(Reap(self.node_id, owner, tuple(items)))

    # -- a replica's side ------------------------------------------------------------------

    def on_query(self, message: ReapQuery, ring_version: int) -> None:
        """Vote: the keys whose proposed tombstones this replica holds (same ring only).

        A vote vouches that the tombstones outlive a crash of this replica, and what it
        reads may not be durable yet (a repair merged a step ago): so the tombstones it
        votes for are written again, and the vote leaves once that write is durable, as
        every acknowledgement does. Sent at once, a replica that crashed before its sync
        would come back with the deleted value after the others forgot the tombstone.
        """
        held: list[tuple[bytes, tuple[Version, ...]]] = []
        if message.ring_version == ring_version:
            read = self.store.read
            for key, proposed in message.items:
                versions = read(key)
                if holds_tombstones(versions, proposed):
                    held.append((key, versions))
        vote = ReapVote(self.node_id, message.src, message.round_id, tuple(key for key, _ in held))
        if held:
            self.store.write_many(held, AckWhenDurable(vote))
        else:
            self.out.send(vote)

    def on_reap(self, message: Reap) -> None:
        """Drop the keys whose stored versions the reap covers (a later put is kept)."""
        read = self.store.read
        dropped = [
            (key, proposed) for key, proposed in message.items if reap_covers(proposed, read(key))
        ]
        if dropped:
            self.store.drop([key for key, _ in dropped])
            self.stats.tombstones_reaped += len(dropped)
            for key, proposed in dropped:
                self.stored_since.pop(key, None)
                self._remember(key, proposed)
