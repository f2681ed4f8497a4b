"""The whole Dynamo node: replication, gossip, failure detection, handoff and anti-entropy.

How the node is composed
========================

:class:`DynamoNode` composes the issue-5 state machines around the request-path
:class:`~dynamokv.impl.core.Node` and keeps its shape: ``step(event, now) ->
effects``, the same events and effects, so the simulator and the trio runtime
drive one object. It owns:

* a :class:`~dynamokv.impl.core.GossipMembership` (Dynamo §4.8): members, heartbeats,
  phi-accrual detectors and the versioned strategy-3 ring;
* a :class:`GossipHealth`, the request path's health view. A peer is healthy unless
  the phi detector suspects it *or* it missed a request timeout lately (the
  request path's own evidence reacts within one replica timeout; phi needs a few
  gossip periods). When phi stops suspecting a peer, the node steps
  :class:`~dynamokv.impl.core.PeerUp` into the core, which replays that owner's
  hints at once (hinted handoff, Dynamo §4.6);
* one :class:`~dynamokv.impl.core.PartitionMerkleTree` per partition it stores keys
  of, updated from every :class:`~dynamokv.impl.core.StoreVersions` the core persists
  (the leaf value is a hash of the key's whole version set), never rebuilt except
  once at start from storage;
* an :class:`~dynamokv.impl.core.AntiEntropy` engine (Dynamo §4.7), paced: every
  ``anti_entropy_interval_ticks`` it sends one peer a :class:`RootsRequest` with the
  roots of the partitions both own, and runs a full top-down exchange only for the
  partitions whose roots differ, at most ``exchanges_in_flight_max`` at a time.
  Differing keys travel as :class:`RepairPush` and are *merged* by vector clock;
* a partition-transfer (handoff) state machine for ring changes (Dynamo §4.8.1).

Ring changes
------------

Membership changes only by explicit :meth:`DynamoNode.request_join` and
:meth:`DynamoNode.request_leave`, served by any node; suspicion never touches the
ring. On ``RingAdopted`` the node persists the ring (:class:`StoreRing`), swaps the
core's :class:`~dynamokv.impl.core.PartitionRing`, and for every partition whose
preference list it has *left* starts a transfer to the nodes that *entered* it:
only partitions that change owner move, and only to the new owners (property 6).
A transfer streams a snapshot of the partition's keys in batches of
``transfer_batch_keys_max`` keys, one batch in flight, each acknowledged by every
target once durable (:class:`TransferAck`), retried after ``transfer_retry_ticks``.

*The old owner keeps serving until the transfer completes*: it keeps the data,
answers reads, and accepts writes from coordinators still on the old ring. When
the last batch is acknowledged it **drops exactly the keys whose version set is
unchanged since a target acknowledged it** (equal value hash): those are durable
at every new owner. We chose this over "keep until anti-entropy confirms" because
the ack already proves durability key by key, and a Merkle exchange between an old
owner and a new one under a steady write load may never find equal roots. Keys
written after their batch left stay, as *orphans*: every
``handoff_check_interval_ticks`` a node transfers the data of partitions it does
not own (late writes, hints replayed to a former owner, transfers interrupted by
a crash) to all current owners, and drops it once acknowledged. No acknowledged
version is ever dropped before some new owner holds it durably.

A node whose leave was adopted, once it holds no data, no hint and no transfer,
marks itself ``left`` (:meth:`~dynamokv.impl.core.GossipMembership.mark_left`).

Restarts
--------

The node persists its generation at start (:class:`StoreGeneration`, one more than
the stored one) and gossips only once that is durable, so a generation is never
reused; it persists every ring it adopts (:class:`StoreRing`), so a restart rejoins
with its last ring and status (``normal`` if it owns partitions, else ``joining``).
Its own persists use negative ids, the core's positive ones.

Tombstones are not reaped yet (see ``docs/anti-entropy.md``).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from dynamokv.errors import ArgumentError, check_at_least, invariant
from dynamokv.spec.kv import Version
from dynamokv.spec.ring import RING_BITS, md5_position

from ._gossip import (
    GossipConfig,
    GossipEffect,
    GossipMembership,
    GossipSend,
    MemberStatusChanged,
    RingAdopted,
    RingState,
    SuspicionChanged,
)
from ._health import HealthView, TimeoutHealth
from ._merkle_tree import (
    AntiEntropy,
    AntiEntropyConfig,
    AntiEntropyEffect,
    ExchangeFinished,
    MerkleSend,
    PartitionMerkleTree,
    RepairKeys,
)
from ._messages import (
    ClientRequest,
    DropKeys,
    Effect,
    Event,
    GetRequest,
    GetResult,
    GossipPacket,
    Hint,
    MerklePacket,
    PeerUp,
    Persist,
    PersistDone,
    PutResult,
    Receive,
    Record,
    RepairPush,
    Reply,
    Result,
    RootsReply,
    RootsRequest,
    Send,
    SetTimer,
    StoreGeneration,
    StoreRing,
    StoreVersions,
    Tick,
    TransferAck,
    TransferBatch,
)
from ._node import Node, NodeConfig, NodeStats
from ._ring import PartitionRing
from ._seams import DEFAULT_SEAMS, Seams
from ._storage import MemberStorageView
from ._versions import merge

if TYPE_CHECKING:
    import random

__all__ = [
    "BOOTSTRAP_ISSUER",
    "DynamoNode",
    "GossipHealth",
    "MemberConfig",
    "MemberStats",
    "value_hash",
]

BOOTSTRAP_ISSUER: Final = "bootstrap"
"""The issuer of version 1 of a ring every initial node is configured with."""

PARTITION_CACHE_KEYS_MAX = 65_536
"""Most keys whose partition the composite remembers (emptied when full)."""


def value_hash(versions: tuple[Version, ...]) -> bytes:
    """The Merkle leaf value of a key: a 128-bit hash of its whole version set.

    Versions are sorted by dot (the core keeps them so), so equal sets hash alike.
    """
    digest = hashlib.blake2b(digest_size=16)
    for version in versions:
        value = version.value
        node, counter = version.dot
        digest.update(b"T" if value is None else b"V%d:" % len(value) + value)
        digest.update(b"%d:%s%d;" % (len(node), node.encode(), counter))
        for entry_node, entry_counter in version.context:
            digest.update(b"%d:%s%d," % (len(entry_node), entry_node.encode(), entry_counter))
    return digest.digest()


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberConfig:
    """Knobs and bounds of the composite node (the core's are in :class:`NodeConfig`).

    Attributes:
        gossip: gossip and phi-accrual parameters; ``gossip.partition_count`` is Q.
        anti_entropy: exchange pacing and bounds.
        anti_entropy_enabled: run anti-entropy at all (the Q1 preset turns it off to
            measure transfers alone).
        merkle_depth: each partition's tree has ``2**merkle_depth`` leaf buckets.
        anti_entropy_interval_ticks: one roots comparison with one peer per interval.
        roots_per_message_max: partitions compared by one :class:`RootsRequest`.
        exchange_queue_max: differing partitions waiting for an exchange slot.
        repair_keys_per_message_max: keys per :class:`RepairPush`.
        transfer_batch_keys_max: keys per :class:`TransferBatch`.
        transfers_in_flight_max: partitions handed off at once.
        transfer_retry_ticks: an unacknowledged batch is sent again after this.
        handoff_check_interval_ticks: period of the orphan sweep (data of partitions
            this node does not own goes to their owners).
        suspect_ticks: how long a request timeout makes a peer unhealthy.
        recovery_grace_ticks: after a peer stops being suspected, anti-entropy leaves
            it alone this long, so hinted handoff replays first and the Merkle
            exchange repairs only what the hints missed (Dynamo §4.6, then §4.7).
    """

    gossip: GossipConfig = field(default_factory=GossipConfig)
    anti_entropy: AntiEntropyConfig = field(default_factory=AntiEntropyConfig)
    anti_entropy_enabled: bool = True
    merkle_depth: int = 4
    anti_entropy_interval_ticks: int = 40
    roots_per_message_max: int = 1024
    exchange_queue_max: int = 4096
    repair_keys_per_message_max: int = 64
    transfer_batch_keys_max: int = 64
    transfers_in_flight_max: int = 4
    transfer_retry_ticks: int = 40
    handoff_check_interval_ticks: int = 100
    suspect_ticks: int = 50
    recovery_grace_ticks: int = 200

    def __post_init__(self) -> None:
        if not 0 <= self.merkle_depth <= 16:
            raise ArgumentError(f"merkle_depth must be in 0..16, got {self.merkle_depth}")
        check_at_least(
            self,
            (
                "anti_entropy_interval_ticks",
                "roots_per_message_max",
                "exchange_queue_max",
                "repair_keys_per_message_max",
                "transfer_batch_keys_max",
                "transfers_in_flight_max",
                "transfer_retry_ticks",
                "handoff_check_interval_ticks",
                "suspect_ticks",
            ),
        )
        check_at_least(self, ("recovery_grace_ticks",), 0)


@dataclass(slots=True)
class MemberStats:
    """What the composite did (the core's counters are in :class:`NodeStats`).

    Attributes:
        rings_adopted: ring versions adopted.
        transfers_started: partition transfers begun (ring changes and orphan sweeps).
        transfers_completed: transfers whose every batch was acknowledged.
        keys_transferred: replica copies acknowledged by new owners (key x target).
        keys_dropped: keys forgotten after their handoff.
        roots_compared: partition roots sent in :class:`RootsRequest`.
        keys_repaired: keys this node pushed to a peer after a Merkle exchange.
        keys_repair_applied: keys whose stored versions a received repair changed.
        peers_recovered: suspicions lifted (each replays that owner's hints).
    """

    rings_adopted: int = 0
    transfers_started: int = 0
    transfers_completed: int = 0
    keys_transferred: int = 0
    keys_dropped: int = 0
    roots_compared: int = 0
    keys_repaired: int = 0
    keys_repair_applied: int = 0
    peers_recovered: int = 0


RING_CACHE_MAX = 16
"""Precomputed rings kept per process: every node of a simulated cluster, and every
restart, shares one :class:`PartitionRing` per ring version instead of rebuilding it."""


_RINGS: dict[tuple[int, str, int, int], PartitionRing] = {}


def _partition_ring(version: int, issuer: str, owners: tuple[str, ...], n: int) -> PartitionRing:
    """The :class:`PartitionRing` of ring ``(version, issuer)``, built once per process.

    ``(version, issuer)`` names one ring everywhere (gossip's rule), so the cache
    key needs no hash of the Q owners.
    """
    effective_n = min(n, len(set(owners)))
    key = (version, issuer, len(owners), effective_n)
    ring = _RINGS.get(key)
    if ring is None or ring.assignment != owners:
        if len(_RINGS) >= RING_CACHE_MAX:
            _RINGS.pop(next(iter(_RINGS)))
        ring = PartitionRing(owners, n=effective_n)
        _RINGS[key] = ring
    return ring


_SHARED: dict[tuple[int, str], tuple[PartitionRing, dict[str, tuple[int, ...]]]] = {}


def _shared_partitions(ring: PartitionRing, node_id: str) -> dict[str, tuple[int, ...]]:
    """Peer -> partitions ``node_id`` and the peer both own in ``ring`` (memoised per ring
    object, which :func:`_partition_ring` shares, so a restart does not recompute it)."""
    cached = _SHARED.get((id(ring), node_id))
    if cached is not None and cached[0] is ring:
        return cached[1]
    shared: dict[str, list[int]] = {}
    for partition in range(ring.q):
        owners = ring.partition_preference_list(partition)
        if node_id in owners:
            for peer in owners:
                if peer != node_id:
                    shared.setdefault(peer, []).append(partition)
    result = {peer: tuple(parts) for peer, parts in sorted(shared.items())}
    if len(_SHARED) >= RING_CACHE_MAX * 64:
        _SHARED.clear()
    _SHARED[(id(ring), node_id)] = (ring, result)
    return result


def _placeholder_ring(node_id: str, q: int) -> PartitionRing:
    return _partition_ring(0, node_id, (node_id,) * q, 1)


class GossipHealth(HealthView):
    """The coordinator's health view: phi-accrual suspicion plus request timeouts.

    Args:
        suspect_ticks: how long a request timeout counts against a peer.
    """

    __slots__ = ("_suspected", "_timeouts")

    def __init__(self, *, suspect_ticks: int = 50) -> None:
        self._suspected: set[str] = set()
        self._timeouts = TimeoutHealth(suspect_ticks=suspect_ticks)

    def is_healthy(self, node: str, now: int) -> bool:
        """Healthy unless phi suspects ``node`` or it timed out lately."""
        return node not in self._suspected and self._timeouts.is_healthy(node, now)

    def on_message(self, node: str, now: int) -> None:
        """A message clears a timeout suspicion (phi follows heartbeats only)."""
        self._timeouts.on_message(node, now)

    def on_timeout(self, node: str, now: int) -> None:
        """A request timed out: unhealthy for ``suspect_ticks``."""
        self._timeouts.on_timeout(node, now)

    def set_suspected(self, node: str, suspected: bool) -> None:
        """Follow the failure detector's :class:`SuspicionChanged`."""
        if suspected:
            self._suspected.add(node)
        else:
            self._suspected.discard(node)

    def suspected(self) -> tuple[str, ...]:
        """The peers phi suspects, sorted."""
        return tuple(sorted(self._suspected))


@dataclass(slots=True)
class _Transfer:
    """One partition handed off to ``targets``: a key snapshot sent batch by batch."""

    transfer_id: int
    partition: int
    ring: tuple[int, str]
    targets: tuple[str, ...]
    keys: list[bytes]
    cursor: int = 0
    batch_id: int = 0
    batch: tuple[tuple[bytes, tuple[Version, ...]], ...] = ()
    awaiting: set[str] = field(default_factory=set)
    sent_at: int = 0
    acked: dict[bytes, bytes] = field(default_factory=dict)


class DynamoNode:
    """A complete Dynamo node (sans-IO): the core plus membership, handoff and repair.

    Args:
        node_id: this node's id.
        config: the request path's knobs (:class:`NodeConfig`).
        storage: the node's storage, with the extras of :class:`MemberStorageView`.
        random: the only randomness (the core's, and gossip's peer choice).
        member_config: membership, handoff and anti-entropy knobs.
        address: this node's address, gossiped (opaque to the core).
        seeds: seed node id -> address (Dynamo §4.8.2).
        bootstrap_owners: the partition owners of ring version 1, for the nodes a
            cluster starts with; ignored once a ring is persisted. A node without
            one starts ``joining`` and waits for an admin's :meth:`request_join`.
        now: the tick at start.
        seams: the replaceable decisions (:class:`~dynamokv.impl.core.Seams`); only
            the simulator and tests pass anything but the project's own.
    """

    def __init__(
        self,
        node_id: str,
        *,
        config: NodeConfig,
        storage: MemberStorageView,
        random: random.Random,
        member_config: MemberConfig | None = None,
        address: str = "",
        seeds: Mapping[str, str] | None = None,
        bootstrap_owners: Sequence[str] | None = None,
        now: int = 0,
        seams: Seams = DEFAULT_SEAMS,
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.member_config = member_config or MemberConfig()
        self.storage = storage
        self.stats_member = MemberStats()
        self._q = self.member_config.gossip.partition_count
        stored = storage.read_ring()
        boot_records: list[Record] = []
        if stored is not None:
            ring = RingState(stored.version, stored.issuer, stored.owners)
        elif bootstrap_owners is not None:
            invariant(len(bootstrap_owners) == self._q, "bootstrap ring must have Q owners")
            ring = RingState(1, BOOTSTRAP_ISSUER, tuple(bootstrap_owners))
            boot_records.append(StoreRing(ring.version, ring.issuer, ring.owners))
        else:
            ring = RingState(0, "", ())
        self.generation = storage.read_generation() + 1
        boot_records.append(StoreGeneration(self.generation))
        self.health = GossipHealth(suspect_ticks=self.member_config.suspect_ticks)
        self.gossip = GossipMembership(
            node_id,
            address,
            generation=self.generation,
            seeds=dict(seeds or {}),
            rng=random,
            config=self.member_config.gossip,
            status="normal" if node_id in ring.nodes() else "joining",
            ring=ring,
            now=now,
            merge_rule=seams.merge_entries,
            choose_peer=seams.choose_gossip_peer,
            phi_rule=seams.phi_of_silence,
        )
        self.ring = self._partition_ring(ring)
        # The ring the routing and the transfers follow: gossip's own may already be
        # newer while the RingAdopted effects of one step are being carried out.
        self._adopted = ring
        self.node = Node(
            node_id,
            config=config,
            membership=self.ring,
            health=self.health,
            storage=storage,
            random=random,
            seams=seams,
        )
        self.anti_entropy = AntiEntropy(
            node_id, self.member_config.anti_entropy, descend=seams.merkle_descend
        )
        self.trees: dict[int, PartitionMerkleTree] = {}
        self._partition_cache: dict[bytes, int] = {}
        for key, versions in storage.scan_versions():
            if versions:
                self._tree(self._partition_of(key)).put(key, value_hash(versions))
        self._boot_records = tuple(boot_records)
        self._booted = False
        self._generation_durable = False
        self._own_persist_seq = 0
        self._own_persists: dict[int, tuple[Record, ...]] = {}
        self._armed: int | None = None
        self._next_ae = now + self.member_config.anti_entropy_interval_ticks
        self._next_handoff = now + self.member_config.handoff_check_interval_ticks
        self._ae_peer_index = 0
        self._recovered_at: dict[str, int] = {}
        self._roots_offset: dict[str, int] = {}
        self._roots_round = 0
        self._roots_pending: dict[int, tuple[str, int]] = {}
        self._exchange_queue: deque[tuple[str, int]] = deque()
        self._exchange_queued: set[tuple[str, int]] = set()
        self._shared: dict[str, tuple[int, ...]] | None = None
        self._shared_set: dict[str, frozenset[int]] | None = None
        self._transfers: dict[int, _Transfer] = {}
        self._transfer_queue: deque[tuple[int, tuple[str, ...]]] = deque()
        self._transfer_queued: set[int] = set()
        self._transfer_seq = 0
        self._empty_root = PartitionMerkleTree(
            0, partition_count=self._q, depth=self.member_config.merkle_depth
        ).root()

    # -- the public API -----------------------------------------------------------------

    def step(self, event: Event, now: int) -> list[Effect]:
        """Handle one event at tick ``now``; return the effects to carry out, in order.

        The same contract as :meth:`Node.step`; persists with negative ids are the
        composite's own (ring and generation) and get their :class:`PersistDone` too.
        """
        out: list[Effect] = []
        if not self._booted:
            self._boot(now, out)
        kind = event.__class__
        if kind is Receive:
            message = event.message  # type: ignore[union-attr]
            handler = self._handlers.get(message.__class__)
            if handler is None:
                if message.__class__ is RepairPush and not self._accept_repair(message):
                    return self._finish_step(now, out)
                self._node_step(event, now, out)
            else:
                self.health.on_message(message.src, now)
                handler(self, message, now, out)
        elif kind is Tick:
            if self._armed is not None and self._armed <= now:
                self._armed = None
            self._node_step(event, now, out)
            self._on_tick(now, out)
        elif kind is PersistDone and event.persist_id < 0:  # type: ignore[union-attr]
            self._on_own_persist_done(event.persist_id, out)  # type: ignore[union-attr]
        elif kind is ClientRequest and self._adopted.version == 0:
            error = "unavailable: this node has not joined a ring yet"
            result: Result = (
                GetResult(False, error=error)
                if isinstance(event.request, GetRequest)  # type: ignore[union-attr]
                else PutResult(False, error=error)
            )
            out.append(Reply(event.request_id, result))  # type: ignore[union-attr]
        else:
            self._node_step(event, now, out)
        self._arm(now, out)
        return out

    def _finish_step(self, now: int, out: list[Effect]) -> list[Effect]:
        self._arm(now, out)
        return out

    def request_join(self, node_id: str, now: int) -> list[Effect]:
        """Admin command (Dynamo §4.8.1): add ``node_id`` to the ring; see :class:`GossipMembership`.

        Raises:
            dynamokv.impl.core.MembershipArgumentError: the node is unknown here, or
                cannot join.
        """
        out: list[Effect] = []
        self._gossip_effects(self.gossip.request_join(node_id, now), now, out)
        self._arm(now, out)
        return out

    def request_leave(self, node_id: str, now: int) -> list[Effect]:
        """Admin command (Dynamo §4.8.1): remove ``node_id`` from the ring.

        Raises:
            dynamokv.impl.core.MembershipArgumentError: the node owns no partition, or
                is the last one.
        """
        out: list[Effect] = []
        self._gossip_effects(self.gossip.request_leave(node_id, now), now, out)
        self._arm(now, out)
        return out

    @property
    def stats(self) -> NodeStats:
        """The core's counters."""
        return self.node.stats

    @property
    def hints(self) -> tuple[Hint, ...]:
        """The hints this node keeps for other owners."""
        return self.node.hints

    @property
    def requests_in_flight(self) -> int:
        """Client requests coordinated or forwarded and not finished."""
        return self.node.requests_in_flight

    @property
    def ring_state(self) -> RingState:
        """The ring this node has adopted."""
        return self._adopted

    @property
    def transfers_in_flight(self) -> int:
        """Partition transfers running or queued here."""
        return len(self._transfers) + len(self._transfer_queue)

    def holds_data_it_does_not_own(self) -> bool:
        """Whether some partition's data here belongs elsewhere (a handoff is due)."""
        return any(
            len(tree) and self.node_id not in self.ring.partition_preference_list(p)
            for p, tree in self.trees.items()
        ) or (self._adopted.version == 0 and any(len(t) for t in self.trees.values()))

    def root(self, partition: int) -> bytes:
        """This node's Merkle root of ``partition`` (the empty root if it holds nothing)."""
        tree = self.trees.get(partition)
        return self._empty_root if tree is None else tree.root()

    def _roots(self, partitions: Iterable[int]) -> list[bytes]:
        trees = self.trees
        empty = self._empty_root
        return [empty if (tree := trees.get(p)) is None else tree.root() for p in partitions]

    # -- plumbing -----------------------------------------------------------------------

    def _partition_ring(self, ring: RingState) -> PartitionRing:
        if ring.version == 0:
            # Not in a ring yet: a placeholder the core never routes by (client
            # requests are refused above until a ring arrives).
            return _placeholder_ring(self.node_id, self._q)
        return _partition_ring(ring.version, ring.issuer, ring.owners, self.config.n)

    def _partition_of(self, key: bytes) -> int:
        partition = self._partition_cache.get(key)
        if partition is None:
            partition = (md5_position(key) * self._q) >> RING_BITS
            if len(self._partition_cache) >= PARTITION_CACHE_KEYS_MAX:
                self._partition_cache.clear()
            self._partition_cache[key] = partition
        return partition

    def _tree(self, partition: int) -> PartitionMerkleTree:
        tree = self.trees.get(partition)
        if tree is None:
            tree = PartitionMerkleTree(
                partition, partition_count=self._q, depth=self.member_config.merkle_depth
            )
            self.trees[partition] = tree
        return tree

    def _boot(self, now: int, out: list[Effect]) -> None:
        self._booted = True
        self._persist(self._boot_records, out)

    def _persist(self, records: tuple[Record, ...], out: list[Effect]) -> None:
        self._own_persist_seq -= 1
        self._own_persists[self._own_persist_seq] = records
        out.append(Persist(self._own_persist_seq, records))

    def _on_own_persist_done(self, persist_id: int, out: list[Effect]) -> None:
        records = self._own_persists.pop(persist_id, ())
        if any(isinstance(record, StoreGeneration) for record in records):
            self._generation_durable = True

    def _node_step(self, event: Event, now: int, out: list[Effect]) -> None:
        for effect in self.node.step(event, now):
            kind = effect.__class__
            if kind is Persist:
                self._track(effect)  # type: ignore[arg-type]
                out.append(effect)
            elif kind is not SetTimer:
                out.append(effect)

    def _track(self, persist: Persist) -> None:
        """Merkle trees follow every version write the core makes (Dynamo §4.7)."""
        for record in persist.records:
            if record.__class__ is StoreVersions:
                key = record.key
                versions = record.versions
                tree = self._tree(self._partition_of(key))
                if versions:
                    tree.put(key, value_hash(versions))
                else:
                    tree.remove(key)

    def _arm(self, now: int, out: list[Effect]) -> None:
        # The composite's own work runs at gossip rounds; never ask for a tick at or
        # before ``now`` for it (before the generation is durable a round is due
        # but waits, and a tick "now" would spin).
        desired = self.gossip.next_round_tick
        if desired <= now:
            desired = now + 1
        node_next = self.node.next_timer_tick
        if node_next is not None and node_next < desired:
            desired = node_next
        armed = self._armed
        if armed is None or desired < armed:
            self._armed = desired
            out.append(SetTimer(desired))

    # -- the periodic work --------------------------------------------------------------

    def _on_tick(self, now: int, out: list[Effect]) -> None:
        if not self._generation_durable or now < self.gossip.next_round_tick:
            return
        self._gossip_effects(self.gossip.tick(now), now, out)
        self._retry_transfers(now, out)
        self._maybe_mark_left(now, out)
        config = self.member_config
        if now >= self._next_handoff:
            self._next_handoff = now + config.handoff_check_interval_ticks
            self._sweep_orphans()
            self._pump_transfers(now, out)
        if config.anti_entropy_enabled:
            self._anti_entropy_effects(self.anti_entropy.tick(now), now, out)
            if now >= self._next_ae:
                self._next_ae = now + config.anti_entropy_interval_ticks
                self._start_roots_round(now, out)

    # -- gossip -------------------------------------------------------------------------

    def _on_gossip(self, message: GossipPacket, now: int, out: list[Effect]) -> None:
        if self._generation_durable:
            self._gossip_effects(self.gossip.receive(message.body, now), now, out)

    def _gossip_effects(self, effects: Iterable[GossipEffect], now: int, out: list[Effect]) -> None:
        me = self.node_id
        for effect in effects:
            if isinstance(effect, GossipSend):
                packet = GossipPacket(me, effect.destination, effect.address, effect.message)
                out.append(Send(packet))
            elif isinstance(effect, RingAdopted):
                self._adopt(effect.previous, effect.ring, now, out)
            elif isinstance(effect, SuspicionChanged):
                self.health.set_suspected(effect.node_id, effect.suspected)
                if not effect.suspected:
                    self.stats_member.peers_recovered += 1
                    self._recovered_at[effect.node_id] = now
                    self._node_step(PeerUp(effect.node_id), now, out)
            else:
                invariant(isinstance(effect, MemberStatusChanged), "unknown gossip effect")

    def _maybe_mark_left(self, now: int, out: list[Effect]) -> None:
        me = self.node_id
        if (
            self.gossip.self_entry.status == "leaving"
            and me not in self._adopted.nodes()
            and not self._transfers
            and not self._transfer_queue
            and not self.node.hints
            and not any(len(tree) for tree in self.trees.values())
        ):
            self._gossip_effects(self.gossip.mark_left(me), now, out)

    # -- ring changes and partition transfer (Dynamo §4.8.1) ----------------------------

    def _adopt(self, previous: RingState, ring: RingState, now: int, out: list[Effect]) -> None:
        self.stats_member.rings_adopted += 1
        self._persist((StoreRing(ring.version, ring.issuer, ring.owners),), out)
        old = self.ring
        self._adopted = ring
        self.ring = self._partition_ring(ring)
        self.node.membership = self.ring
        self._shared = None
        self._shared_set = None
        self._exchange_queue.clear()
        self._exchange_queued.clear()
        # Transfers computed under an older ring are recomputed under this one.
        self._transfers.clear()
        self._transfer_queue.clear()
        self._transfer_queued.clear()
        if previous.version == 0:
            return
        me = self.node_id
        for partition, tree in sorted(self.trees.items()):
            if not len(tree):
                continue
            before = old.partition_preference_list(partition)
            after = self.ring.partition_preference_list(partition)
            if me in before and me not in after:
                entered = tuple(node for node in after if node not in before)
                self._queue_transfer(partition, entered or after)
        self._pump_transfers(now, out)

    def _sweep_orphans(self) -> None:
        """Data of partitions this node does not own goes to their owners."""
        if self._adopted.version == 0:
            return
        me = self.node_id
        for partition, tree in sorted(self.trees.items()):
            if len(tree) and partition not in self._transfer_queued:
                owners = self.ring.partition_preference_list(partition)
                if me not in owners:
                    self._queue_transfer(partition, owners)

    def _queue_transfer(self, partition: int, targets: tuple[str, ...]) -> None:
        if partition in self._transfer_queued:
            return
        self._transfer_queued.add(partition)
        self._transfer_queue.append((partition, targets))

    def _pump_transfers(self, now: int, out: list[Effect]) -> None:
        while self._transfer_queue and len(self._transfers) < (
            self.member_config.transfers_in_flight_max
        ):
            partition, targets = self._transfer_queue.popleft()
            tree = self.trees.get(partition)
            if tree is None or not len(tree):
                self._transfer_queued.discard(partition)
                continue
            self._transfer_seq += 1
            transfer = _Transfer(
                self._transfer_seq,
                partition,
                (self._adopted.version, self._adopted.issuer),
                targets,
                sorted(key for key, _ in tree.items()),
            )
            self._transfers[transfer.transfer_id] = transfer
            self.stats_member.transfers_started += 1
            self._send_batch(transfer, now, out)

    def _send_batch(self, transfer: _Transfer, now: int, out: list[Effect]) -> None:
        bound = self.member_config.transfer_batch_keys_max
        items: list[tuple[bytes, tuple[Version, ...]]] = []
        while transfer.cursor < len(transfer.keys) and len(items) < bound:
            key = transfer.keys[transfer.cursor]
            transfer.cursor += 1
            versions = self.node.stored_versions(key)
            if versions:
                items.append((key, versions))
        if not items:
            self._finish_transfer(transfer, now, out)
            return
        transfer.batch_id += 1
        transfer.batch = tuple(items)
        transfer.awaiting = set(transfer.targets)
        transfer.sent_at = now
        for target in transfer.targets:
            self._send_transfer(transfer, target, out)

    def _send_transfer(self, transfer: _Transfer, target: str, out: list[Effect]) -> None:
        batch = TransferBatch(
            self.node_id,
            target,
            transfer.transfer_id,
            transfer.batch_id,
            transfer.partition,
            transfer.ring[0],
            transfer.ring[1],
            transfer.batch,
        )
        out.append(Send(batch))

    def _on_transfer_ack(self, message: TransferAck, now: int, out: list[Effect]) -> None:
        transfer = self._transfers.get(message.transfer_id)
        if transfer is None or message.batch_id != transfer.batch_id:
            return
        if message.src not in transfer.awaiting:
            return
        transfer.awaiting.discard(message.src)
        self.stats_member.keys_transferred += len(transfer.batch)
        if transfer.awaiting:
            return
        for key, versions in transfer.batch:
            transfer.acked[key] = value_hash(versions)
        self._send_batch(transfer, now, out)

    def _retry_transfers(self, now: int, out: list[Effect]) -> None:
        retry = self.member_config.transfer_retry_ticks
        for transfer in list(self._transfers.values()):
            if transfer.awaiting and now - transfer.sent_at >= retry:
                transfer.sent_at = now
                for target in sorted(transfer.awaiting):
                    self._send_transfer(transfer, target, out)

    def _finish_transfer(self, transfer: _Transfer, now: int, out: list[Effect]) -> None:
        del self._transfers[transfer.transfer_id]
        self._transfer_queued.discard(transfer.partition)
        self.stats_member.transfers_completed += 1
        if self.node_id in self.ring.partition_preference_list(transfer.partition):
            self._pump_transfers(now, out)
            return  # owned again (a later ring): keep everything
        tree = self.trees.get(transfer.partition)
        drop = tuple(
            key
            for key, acked_hash in transfer.acked.items()
            if tree is not None and tree.value_hash(key) == acked_hash
        )
        if drop:
            self.stats_member.keys_dropped += len(drop)
            self._node_step(DropKeys(drop), now, out)
        self._pump_transfers(now, out)

    # -- anti-entropy (Dynamo §4.7) -----------------------------------------------------

    def _shared_partitions(self) -> dict[str, tuple[int, ...]]:
        """For each peer, the partitions both this node and the peer own."""
        if self._shared is None:
            if self._adopted.version > 0:
                self._shared = _shared_partitions(self.ring, self.node_id)
            else:
                self._shared = {}
        return self._shared

    def _shared_sets(self) -> dict[str, frozenset[int]]:
        if self._shared_set is None:
            self._shared_set = {
                peer: frozenset(parts) for peer, parts in self._shared_partitions().items()
            }
        return self._shared_set

    def _start_roots_round(self, now: int, out: list[Effect]) -> None:
        shared = self._shared_partitions()
        grace = self.member_config.recovery_grace_ticks
        recovered = self._recovered_at
        peers = [
            p
            for p in shared
            if self.health.is_healthy(p, now) and now - recovered.get(p, now - grace) >= grace
        ]
        if not peers or self._roots_pending or self._exchange_queue:
            self._pump_exchanges(now, out)
            return
        peer = peers[self._ae_peer_index % len(peers)]
        self._ae_peer_index += 1
        partitions = shared[peer]
        bound = self.member_config.roots_per_message_max
        complete = len(partitions) <= bound
        if complete:
            # Only the partitions holding data here; the rest are empty by omission.
            trees = self.trees
            chosen = tuple(
                p for p in partitions if (tree := trees.get(p)) is not None and len(tree)
            )
        else:
            offset = self._roots_offset.get(peer, 0) % len(partitions)
            chosen = (partitions[offset:] + partitions[:offset])[:bound]
            self._roots_offset[peer] = offset + len(chosen)
        self._roots_round += 1
        self._roots_pending[self._roots_round] = (peer, now)
        self.stats_member.roots_compared += len(chosen)
        roots = tuple(self._roots(chosen))
        out.append(
            Send(
                RootsRequest(
                    self.node_id,
                    peer,
                    self._roots_round,
                    self.member_config.merkle_depth,
                    chosen,
                    roots,
                    complete,
                )
            )
        )

    def _on_roots_request(self, message: RootsRequest, now: int, out: list[Effect]) -> None:
        ok = (
            message.depth == self.member_config.merkle_depth
            and len(message.partitions) == len(message.roots)
            and len(message.partitions) <= self.member_config.roots_per_message_max
            and all(0 <= p < self._q for p in message.partitions)
        )
        differing: tuple[int, ...] = ()
        if ok:
            mine = self._roots(message.partitions)
            found = [
                p
                for p, theirs, ours in zip(message.partitions, message.roots, mine, strict=True)
                if ours != theirs
            ]
            if message.complete:
                # Partitions we share that hold data here but were omitted (empty there).
                listed = set(message.partitions)
                shared = self._shared_sets().get(message.src, frozenset())
                found += sorted(
                    p
                    for p, tree in self.trees.items()
                    if len(tree) and p in shared and p not in listed
                )
            differing = tuple(found)
        out.append(Send(RootsReply(self.node_id, message.src, message.round_id, differing, ok)))

    def _on_roots_reply(self, message: RootsReply, now: int, out: list[Effect]) -> None:
        pending = self._roots_pending.pop(message.round_id, None)
        if pending is None or pending[0] != message.src or not message.ok:
            return
        owners_of = self.ring.partition_preference_list
        for partition in message.differing:
            item = (message.src, partition)
            if (
                item not in self._exchange_queued
                and len(self._exchange_queue) < self.member_config.exchange_queue_max
                and self.node_id in owners_of(partition)
            ):
                self._exchange_queued.add(item)
                self._exchange_queue.append(item)
        self._pump_exchanges(now, out)

    def _pump_exchanges(self, now: int, out: list[Effect]) -> None:
        # A roots round unanswered for an exchange timeout is given up.
        timeout = self.member_config.anti_entropy.exchange_timeout_ticks
        for round_id, (_, sent_at) in list(self._roots_pending.items()):
            if now - sent_at >= timeout:
                del self._roots_pending[round_id]
        while self._exchange_queue:
            peer, partition = self._exchange_queue[0]
            effects = self.anti_entropy.start_exchange(peer, self._tree(partition), now)
            if effects is None:
                return  # every exchange slot is busy: that is the pacing
            self._exchange_queue.popleft()
            self._exchange_queued.discard((peer, partition))
            self._anti_entropy_effects(effects, now, out)

    def _on_merkle(self, message: MerklePacket, now: int, out: list[Effect]) -> None:
        body = message.body
        tree = self._tree(body.partition) if 0 <= body.partition < self._q else None
        self._anti_entropy_effects(self.anti_entropy.receive(body, now, tree), now, out)

    def _anti_entropy_effects(
        self, effects: Iterable[AntiEntropyEffect], now: int, out: list[Effect]
    ) -> None:
        me = self.node_id
        for effect in effects:
            if isinstance(effect, MerkleSend):
                out.append(Send(MerklePacket(me, effect.destination, effect.message)))
            elif isinstance(effect, RepairKeys):
                self._push_repair(effect, out)
            else:
                invariant(isinstance(effect, ExchangeFinished), "unknown anti-entropy effect")
                self._pump_exchanges(now, out)

    def _accept_repair(self, message: RepairPush) -> bool:
        """Merge a repair only into a partition this node owns (under its ring): an
        exchange begun under an older ring must not hand data back to a node that
        has since handed the partition off."""
        if self.node_id not in self.ring.partition_preference_list(message.partition):
            return False
        for key, incoming in message.items:
            held = self.node.stored_versions(key)
            if merge(held, incoming) != held:
                self.stats_member.keys_repair_applied += 1
        return True

    def _push_repair(self, effect: RepairKeys, out: list[Effect]) -> None:
        owners = self.ring.partition_preference_list(effect.partition)
        if effect.peer not in owners or self.node_id not in owners:
            return  # the ring moved on since the exchange began
        bound = self.member_config.repair_keys_per_message_max
        items: list[tuple[bytes, tuple[Version, ...]]] = []
        for key in effect.keys:
            versions = self.node.stored_versions(key)
            if versions:
                items.append((key, versions))
        self.stats_member.keys_repaired += len(items)
        for start in range(0, len(items), bound):
            chunk = tuple(items[start : start + bound])
            out.append(Send(RepairPush(self.node_id, effect.peer, effect.partition, chunk)))

    _handlers: Final[dict[type, Callable[[DynamoNode, Any, int, list[Effect]], None]]] = {
        GossipPacket: _on_gossip,
        MerklePacket: _on_merkle,
        RootsRequest: _on_roots_request,
        RootsReply: _on_roots_reply,
        TransferAck: _on_transfer_ack,
    }
