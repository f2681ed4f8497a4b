"""Partition transfer (Dynamo §4.8.1): when the ring changes, data moves to its new owners.

"When a node is removed from the system, the reallocation of keys happens in a reverse
process" of adding one: the nodes that stop owning a key range hand it to those that
start. On every ring a node adopts, for each partition whose preference list it has
*left*, it starts a transfer to the nodes that *entered* it: only partitions that change
owner move, and only to the new owners.

A transfer streams a snapshot of the partition's keys in batches of
``transfer_batch_keys_max`` keys, one batch in flight, each acknowledged by every target
once durable (:class:`~dynamokv.impl.core.TransferAck`), retried after
``transfer_retry_ticks``; at most ``transfers_in_flight_max`` transfers run at once.

*The old owner keeps serving until the transfer completes*: it keeps the data, answers
reads, and accepts writes from coordinators still on the old ring. When the last batch is
acknowledged it **drops exactly the keys whose version set every target holds**: unchanged
since the targets acknowledged it, or equal to what each of them answered (equal value
hashes): those are durable at every new owner. We chose this
over "keep until anti-entropy confirms" because the ack already proves durability key by
key, and a Merkle exchange between an old owner and a new one under a steady write load
may never find equal roots. Keys written after their batch left stay, as *orphans*: every
``handoff_check_interval_ticks`` a node transfers the data of partitions it does not own
(late writes, hints replayed to a former owner, transfers interrupted by a crash) to all
current owners, and drops it once acknowledged. No acknowledged version is ever dropped
before every new owner holds it durably (or a version that superseded it). Under several
clients writing one key all the time, the new owners rarely agree at the moment of an
ack, so its former owner keeps the key (and stays ``leaving``) until the writes pause:
safety before liveness.

The sweep looks at every partition only when the ring changed since its last full look (or
on the first); otherwise only at the partitions written since (``MerkleTrees.touched``):
a partition it saw owned here, or empty, can only become an orphan through a new ring or a
new write. A partition it queues, or finds queued, stays among those to look at until it is
seen owned or empty, so the keys a transfer leaves behind are found once it ends. The
partitions it queues are the ones a full look would queue, in the same order; a full look
over Q = 16,384 partitions cost a node most of its idle CPU.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from ._count import Count
from ._gossip import RingState
from ._merkle import MerkleTracking, MerkleTrees, value_hash
from ._messages import TransferAck, TransferBatch
from ._node_config import MemberConfig, MemberStats
from ._outbox import Outbox
from ._ring import PartitionRing
from ._versions import Version, bounded_batch

__all__ = ["PartitionTransfers"]


@dataclass(slots=True)
class _Transfer:
    """One partition handed off to ``targets``: a key snapshot sent batch by batch.

    ``unsent`` walks the snapshot's keys in order; each batch takes the next ones, and
    ``held_back`` is the key that did not fit in the last batch (read again for the next).
    """

    transfer_id: int
    partition: int
    ring: tuple[int, str]
    targets: tuple[str, ...]
    unsent: Iterator[bytes]
    held_back: bytes | None = None
    batch_id: int = 0
    batch: dict[bytes, tuple[Version, ...]] = field(default_factory=dict)
    awaiting: set[str] = field(default_factory=set)
    sent_at: int = 0
    acked: dict[bytes, bytes | None] = field(default_factory=dict)
    answers: dict[bytes, dict[str, bytes]] = field(default_factory=dict)


class PartitionTransfers:
    """The partitions this node hands off, and the orphan sweep.

    Args:
        node_id: this node.
        config: the batch size, pacing and retry bounds.
        trees: this node's Merkle trees (what it holds, per partition, with value hashes).
        store: this node's storage (to read what it sends, and to drop what was handed off).
        out: where the batches go.
        stats: where to count transfers and keys moved.
        now: the tick at start.
        first_id: the first id of its transfers (the node gives each of its lives its own
            range: ``generation << 40``).
    """

    def __init__(
        self,
        node_id: str,
        *,
        config: MemberConfig,
        trees: MerkleTrees,
        store: MerkleTracking,
        out: Outbox,
        stats: MemberStats,
        now: int,
        first_id: int = 0,
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.trees = trees
        self.store = store
        self.out = out
        self.stats = stats
        self._transfers: dict[int, _Transfer] = {}
        self._queue: deque[tuple[int, tuple[str, ...]]] = deque()
        self._queued: set[int] = set()
        # From ``first_id``, one per life of the node: an ack meant for a transfer of an
        # earlier life cannot acknowledge a batch of this one.
        self._transfer_ids = Count(first_id)
        self._next_sweep = now + config.handoff_check_interval_ticks
        self._swept_ring: tuple[int, str] | None = None

    @property
    def in_flight(self) -> int:
        """Transfers running or queued."""
        return len(self._transfers) + len(self._queue)

    def on_ring_adopted(
        self,
        old: PartitionRing,
        new: PartitionRing,
        previous: RingState,
        adopted: RingState,
        now: int,
    ) -> None:
        """A new ring: hand off every partition this node left to the nodes that entered it.

        Transfers computed under an older ring are recomputed under this one.
        """
        self._transfers.clear()
        self._queue.clear()
        self._queued.clear()
        if previous.version == 0:
            return
        me = self.node_id
        for partition, _tree in self.trees.non_empty():
            before = old.partition_preference_list(partition)
            after = new.partition_preference_list(partition)
            if me in before and me not in after:
                entered = tuple(node for node in after if node not in before)
                self._enqueue(partition, entered or after)
        self._pump(new, adopted, now)

    def retry(self, now: int) -> None:
        """Send again every batch some target has not acknowledged for a retry period."""
        retry = self.config.transfer_retry_ticks
        for transfer in list(self._transfers.values()):
            if transfer.awaiting and now - transfer.sent_at >= retry:
                transfer.sent_at = now
                for target in sorted(transfer.awaiting):
                    self._send(transfer, target)

    def sweep(self, ring: PartitionRing, adopted: RingState, now: int) -> None:
        """Every ``handoff_check_interval_ticks``: data of partitions this node does not own
        goes to their owners."""
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.config.handoff_check_interval_ticks
        if adopted.version != 0:
            trees = self.trees
            touched = trees.touched
            if self._swept_ring != (adopted.version, adopted.issuer):
                self._swept_ring = (adopted.version, adopted.issuer)
                candidates = [partition for partition, _tree in trees.non_empty()]
            else:
                candidates = sorted(touched)
            touched.clear()
            me = self.node_id
            by_partition = trees.by_partition
            for partition in candidates:
                tree = by_partition.get(partition)
                if tree is None or not tree.size:
                    continue
                if partition in self._queued:
                    touched.add(partition)  # look again once its transfer is over
                    continue
                owners = ring.partition_preference_list(partition)
                if me not in owners:
                    self._enqueue(partition, owners)
                    touched.add(partition)
        self._pump(ring, adopted, now)

    def _enqueue(self, partition: int, targets: tuple[str, ...]) -> None:
        if partition in self._queued:
            return
        self._queued.add(partition)
        self._queue.append((partition, targets))

    def _pump(self, ring: PartitionRing, adopted: RingState, now: int) -> None:
        while self._queue and len(self._transfers) < self.config.transfers_in_flight_max:
            partition, targets = self._queue.popleft()
            tree = self.trees.by_partition.get(partition)
            if tree is None or not len(tree):
                self._queued.discard(partition)
                continue
            transfer = _Transfer(
                next(self._transfer_ids),
                partition,
                (adopted.version, adopted.issuer),
                targets,
                iter(sorted(key for key, _ in tree.items())),
            )
            self._transfers[transfer.transfer_id] = transfer
            self.stats.transfers_started += 1
            self._send_batch(transfer, ring, adopted, now)

    def _send_batch(
        self, transfer: _Transfer, ring: PartitionRing, adopted: RingState, now: int
    ) -> None:
        keys: Iterator[bytes] = transfer.unsent
        if transfer.held_back is not None:
            keys = itertools.chain((transfer.held_back,), keys)
        read = ((key, self.store.read(key)) for key in keys)
        held = ((key, versions) for key, versions in read if versions)  # a key may be gone
        items, left_over = bounded_batch(
            held,
            keys_max=self.config.transfer_batch_keys_max,
            bytes_max=self.config.message_bytes_max,
        )
        transfer.held_back = left_over
        if not items:
            self._finish(transfer, ring, adopted, now)
            return
        transfer.batch_id += 1
        transfer.batch = dict(items)
        transfer.awaiting = set(transfer.targets)
        transfer.sent_at = now
        for target in transfer.targets:
            self._send(transfer, target)

    def _send(self, transfer: _Transfer, target: str) -> None:
        self.out.send(
            TransferBatch(
                self.node_id,
                target,
                transfer.transfer_id,
                transfer.batch_id,
                transfer.partition,
                transfer.ring[0],
                transfer.ring[1],
                tuple(transfer.batch.items()),
            )
        )

    def on_ack(
        self, message: TransferAck, ring: PartitionRing, adopted: RingState, now: int
    ) -> None:
        """A target holds a batch durably; once every target does, send the next batch."""
        transfer = self._transfers.get(message.transfer_id)
        if transfer is None or message.batch_id != transfer.batch_id:
            return
        if message.src not in transfer.awaiting:
            return
        transfer.awaiting.discard(message.src)
        self.stats.keys_transferred += len(transfer.batch)
        if transfer.awaiting:
            return
        # What every target holds of each key now: the batch, merged with its own copy;
        # a target that held more answered with it (``on_repaired``). The key may go at
        # the end only if all of them hold what this node then holds (None: they differ).
        answers = transfer.answers
        for key, versions in transfer.batch.items():
            sent = value_hash(versions)
            answered = answers.get(key)
            if answered is None:
                transfer.acked[key] = sent
            else:
                held = {answered.get(target, sent) for target in transfer.targets}
                transfer.acked[key] = held.pop() if len(held) == 1 else None
        answers.clear()
        self._send_batch(transfer, ring, adopted, now)

    def on_repaired(self, src: str, key: bytes, versions: tuple[Version, ...]) -> None:
        """A target of a running transfer answered a batch with its own, newer ``versions``
        of ``key`` (see :meth:`RequestPath.on_transfer_batch`; the answer comes before its
        ack), now merged here: that is what the target holds (durably, once its ack
        comes). If every target ends up holding exactly what this node holds, the key
        may go when the transfer ends, as if unchanged since the ack. Without this, a
        key written often kept changing here with each answer, and a former owner never
        let it go (nor left). One target's answer is not enough: the others acked the
        older batch, and this node's copy may be one of the W of a write they lack."""
        for transfer in self._transfers.values():
            if src in transfer.awaiting and key in transfer.batch:
                transfer.answers.setdefault(key, {})[src] = value_hash(versions)

    def _finish(
        self, transfer: _Transfer, ring: PartitionRing, adopted: RingState, now: int
    ) -> None:
        del self._transfers[transfer.transfer_id]
        self._queued.discard(transfer.partition)
        self.stats.transfers_completed += 1
        if self.node_id in ring.partition_preference_list(transfer.partition):
            self._pump(ring, adopted, now)
            return  # owned again (a later ring): keep everything
        trees = self.trees
        partition = transfer.partition
        drop = tuple(
            key
            for key, acked_hash in transfer.acked.items()
            if acked_hash is not None
            and partition in trees.by_partition
            and trees.value_hash(partition, key) == acked_hash
        )
        if drop:
            self.stats.keys_dropped += len(drop)
            self.store.drop(drop)
        self._pump(ring, adopted, now)
