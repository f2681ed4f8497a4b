"""One Dynamo node as a sans-IO state machine: the one thing every driver steps.

How the node works
==================

A :class:`Node` owns no socket, clock, disk or thread. A driver (the simulator, or the
trio runtime) calls :meth:`Node.step` with one event and the current time in ticks, and
carries out the returned effects in order (:mod:`~dynamokv.impl.core._messages`: send,
persist, reply, set a timer). Everything the node does follows from the events it was
given and the injected ``random.Random``, so one seed replays one run. This is etcd-raft's
``Step``/``Tick``/``Ready`` and h11's connection, for Dynamo.

**One dispatch.** :data:`EVENTS` and :data:`MESSAGES` below are the node's transitions,
as data: which part of the node handles each event and each peer message. ``step`` looks
the event up once and calls that part; nothing is dispatched twice.

**The parts** (each a module a learner can read alone):

* the *request path* (:class:`~dynamokv.impl.core._requests.RequestPath`): coordinator
  and replica, gets, puts, forwards, read repair (Dynamo §4.5, §4.6), with its *hint
  store* (:class:`~dynamokv.impl.core._handoff.HintStore`, hinted handoff, §4.6);
* *gossip* (:class:`~dynamokv.impl.core.GossipMembership`): members, heartbeats,
  phi-accrual suspicion and the versioned ring (§4.8);
* *partition transfer* (:class:`~dynamokv.impl.core._transfer.PartitionTransfers`): data
  moves to the new owners of the partitions a ring change moved (§4.8.1);
* *anti-entropy* (:class:`~dynamokv.impl.core._anti_entropy.AntiEntropyRounds`): Merkle
  trees compared with the other replicas, differences merged (§4.7).

**One path out.** Every part puts its effects into the node's
:class:`~dynamokv.impl.core._outbox.Outbox`, in the order it decides them; the step
returns them. Persists carry the actions that must wait until they are durable, which the
outbox hands back when the driver steps :class:`~dynamokv.impl.core.PersistDone`: the
node never acknowledges anything that is not durable yet.

**One owner of time.** Only the node emits :class:`~dynamokv.impl.core.SetTimer`: after
every step it asks for a tick at the earliest of the request path's deadlines and the
next gossip round (the periodic work of gossip, transfers and anti-entropy runs at
gossip rounds), and only when that is earlier than what it already asked for.

**Storage.** The node reads through the driver's storage view and writes through a
:class:`~dynamokv.impl.core._storage.LocalStore` (reads see the step's own writes, writes
become persists). In gossip mode that store is decorated by
:class:`~dynamokv.impl.core._merkle.MerkleTracking`, so every version set written, by any
part, updates the partition's Merkle tree. No state lives outside the node object: the
rings it builds come from a :class:`~dynamokv.impl.core.RingCache` that the driver may
share between the nodes it runs.

Two modes
=========

*Gossip mode* (``member_config`` given, or no ``membership``): the complete node. It
persists its generation at start (one more than the stored one) and gossips only once
that is durable, so a generation is never reused; it persists every ring it adopts, so a
restart rejoins with its last ring and status (``normal`` if it owns partitions, else
``joining``). A node that has not joined a ring yet refuses client requests.
Membership changes only by explicit :meth:`Node.request_join` and
:meth:`Node.request_leave`, served by any node (Dynamo §4.8.1); suspicion never touches
the ring. A node whose leave was adopted, once it holds no data, no hint and no transfer,
marks itself ``left``. With ``tombstone_grace_ticks`` set, deleted keys are reaped once
every owner holds their tombstones (:mod:`~dynamokv.impl.core._reaping`).

*Fixed-ring mode* (``membership`` given): the request path alone, over a ring that never
changes, with the health view given (usually
:class:`~dynamokv.impl.core.TimeoutHealth`); no gossip, transfer or anti-entropy. The
simulator's ``static`` clusters and the request-path scenario scripts use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from dynamokv.spec.errors import ArgumentError, invariant

from ._anti_entropy import AntiEntropy, AntiEntropyRounds
from ._gossip import (
    BOOTSTRAP_ISSUER,
    GossipEffect,
    GossipMembership,
    GossipPacket,
    MemberStatusChanged,
    RingAdopted,
    RingState,
    SuspicionChanged,
)
from ._health import GossipHealth, HealthView, TimeoutHealth
from ._merkle import MerkleHashCache, MerkleTracking, MerkleTrees
from ._messages import (
    ClientRequest,
    Effect,
    Event,
    ForwardRequest,
    ForwardResponse,
    GetRequest,
    GetResult,
    Hint,
    HintAck,
    HintReplay,
    MerklePacket,
    Message,
    PersistDone,
    PutResult,
    ReadRepair,
    ReadRequest,
    ReadResponse,
    Reap,
    ReapQuery,
    ReapVote,
    Receive,
    Record,
    RepairPush,
    Result,
    RootsReply,
    RootsRequest,
    SetTimer,
    StoreGeneration,
    StoreRing,
    Tick,
    TransferAck,
    TransferBatch,
    WriteAck,
    WriteRequest,
)
from ._node_config import MemberConfig, MemberStats, NodeConfig, NodeStats
from ._outbox import (
    AckWhenDurable,
    GenerationDurable,
    LeaseDurable,
    LocalWriteDurable,
    Outbox,
)
from ._peer_input import PeerInput
from ._reaping import TombstoneReaper
from ._requests import RequestPath
from ._ring import PartitionRing, RingCache
from ._seams import DEFAULT_SEAMS, Seams
from ._storage import LocalStore, MemberStorageView, StorageView
from ._transfer import PartitionTransfers
from ._versions import Version

if TYPE_CHECKING:
    import random

__all__ = ["AFTER_PERSIST", "EVENTS", "MESSAGES", "Node"]


class Node:
    """A Dynamo node: request path, hints, gossip, transfer and anti-entropy, with no IO.

    Args:
        node_id: this node's name on the ring.
        config: the request path's knobs and bounds.
        storage: the driver's view of this node's storage; it must already hold whatever
            survived a crash (a gossip-mode node also reads its ring, generation and keys).
        random: the only source of randomness.
        seams: the replaceable decisions (:class:`~dynamokv.impl.core.Seams`); only the
            simulator and tests pass anything but the project's own.
        membership: a fixed ring (fixed-ring mode); leave it out for gossip mode.
        health: the health view of a fixed-ring node (gossip mode makes its own).
        member_config: gossip, anti-entropy and transfer knobs (gossip mode).
        address: this node's address, gossiped (opaque to the core).
        seeds: seed node id -> address (Dynamo §4.8.2).
        bootstrap_owners: the partition owners of ring version 1, for the nodes a cluster
            starts with; ignored once a ring is persisted. A node without one starts
            ``joining`` and waits for an admin's :meth:`request_join`.
        now: the tick at start.
        rings: where built rings are kept; a driver running several nodes may share one.
        hashes: where Merkle hashes are remembered; a driver that runs several nodes,
            and restarts them over their disks, may give them all the same one, so that a
            start does not hash again the version sets it wrote, nor a replica the inner
            hashes another replica of the partition computed.
        weight: this node's share of the partitions relative to the others' (gossiped;
            a join or a leave gives each node Q·wᵢ/Σw ± 1 partitions).
        merkle_trees: the Merkle trees of exactly what ``storage`` holds, if the driver
            has them (gossip mode; the simulator keeps a crashed incarnation's trees, less
            the writes the crash lost, for the next one): the node takes them over instead
            of building its trees from every stored key. Built from storage when left out.

    Attributes:
        ring_state: the ring this node has adopted (version 0: none yet, or a fixed ring).
    """

    def __init__(
        self,
        node_id: str,
        *,
        config: NodeConfig,
        storage: StorageView | MemberStorageView,
        random: random.Random,
        seams: Seams = DEFAULT_SEAMS,
        membership: PartitionRing | None = None,
        health: HealthView | None = None,
        member_config: MemberConfig | None = None,
        address: str = "",
        seeds: Mapping[str, str] | None = None,
        bootstrap_owners: Sequence[str] | None = None,
        now: int = 0,
        rings: RingCache | None = None,
        weight: int = 1,
        hashes: MerkleHashCache | None = None,
        merkle_trees: MerkleTrees | None = None,
    ) -> None:
        if membership is not None and member_config is not None:
            raise ArgumentError("give membership (a fixed ring) or member_config, not both")
        self.node_id = node_id
        self.config = config
        self.seams = seams
        self.storage = storage
        self.stats = NodeStats()
        self.stats_member = MemberStats()
        self.now = now
        self.out = Outbox()
        self._booted = False
        self._armed: int | None = None
        self._boot_records: tuple[Record, ...] = ()
        self.gossip: GossipMembership | None = None
        # The node's own storage; in gossip mode ``store`` decorates it (Merkle tracking).
        self._local = LocalStore(storage, self.out)
        self.store: LocalStore | MerkleTracking = self._local
        if membership is not None:
            self.member_config = MemberConfig()
            self.ring: PartitionRing = membership
            self.health: HealthView = health if health is not None else TimeoutHealth()
            self.ring_state: RingState = RingState(0, "", ())
        else:
            self._init_gossip(
                storage,  # type: ignore[arg-type]
                random,
                member_config or MemberConfig(),
                address,
                seeds,
                bootstrap_owners,
                now,
                rings or RingCache(),
                weight,
                hashes,
                merkle_trees,
            )
        self.requests = RequestPath(
            node_id,
            config=config,
            stats=self.stats,
            seams=seams,
            membership=self.ring,
            health=self.health,
            store=self.store,
            out=self.out,
            hints=storage.read_hints(),
            lease=storage.read_lease(),
            random=random,
        )
        self.requests.now = now
        if membership is None:  # gossip: the node reaps
            self.requests.is_stale_copy = self.reaper.is_stale_copy
        # The transitions of EVENTS, MESSAGES and AFTER_PERSIST, bound to this node's parts.
        self._events = _bind(self, EVENTS)
        self._messages = _bind(self, MESSAGES)
        self._after_persist = _bind(self, AFTER_PERSIST)

    def _init_gossip(
        self,
        storage: MemberStorageView,
        random: random.Random,
        member_config: MemberConfig,
        address: str,
        seeds: Mapping[str, str] | None,
        bootstrap_owners: Sequence[str] | None,
        now: int,
        rings: RingCache,
        weight: int,
        hashes: MerkleHashCache | None,
        restored: MerkleTrees | None,
    ) -> None:
        node_id = self.node_id
        self.member_config = member_config
        self._rings = rings
        self._q = member_config.gossip.partition_count
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
        self._boot_records = tuple(boot_records)
        self._generation_durable = False
        gossip_health = GossipHealth(suspect_ticks=member_config.suspect_ticks)
        self.health = gossip_health
        self.gossip = GossipMembership(
            node_id,
            address,
            generation=self.generation,
            seeds=dict(seeds or {}),
            rng=random,
            config=member_config.gossip,
            status="normal" if node_id in ring.nodes() else "joining",
            ring=ring,
            now=now,
            merge_rule=self.seams.merge_entries,
            choose_peer=self.seams.choose_gossip_peer,
            phi_rule=self.seams.phi_of_silence,
            weight=weight,
        )
        self.ring = self._partition_ring(ring)
        # The ring the routing and the transfers follow: gossip's own may already be
        # newer while the RingAdopted effects of one step are being carried out.
        self.ring_state = ring
        if (
            restored is not None
            and restored.partition_count == self._q
            and restored.depth == member_config.merkle_depth
        ):
            restored.partition_of = self._partition_of
            self.trees = restored
        else:
            restored = None
            self.trees = MerkleTrees(
                partition_count=self._q,
                depth=member_config.merkle_depth,
                partition_of=self._partition_of,
                hashes=hashes,
                position_of=None if hashes is not None else self._position_of,
            )
        tracked = MerkleTracking(self._local, self.trees)
        # The ids of this life's transfers, reaping rounds and Merkle exchanges: a reply
        # meant for an earlier life (still in flight at a restart) matches none of them.
        first_id = self.generation << 40
        self.reaper = TombstoneReaper(
            node_id,
            config=member_config,
            store=tracked,
            out=self.out,
            stats=self.stats_member,
            may_reap=self.seams.tombstone_may_be_reaped,
            now=now,
            first_id=first_id,
        )
        note = self.reaper.note if self.reaper.enabled else None
        if restored is None or note is not None:
            build = self.trees.update if restored is None else None
            for key, versions in storage.scan_versions():
                if versions:
                    if build is not None:
                        build(key, versions)
                    if note is not None:
                        note(key, versions)
        tracked.watch = note
        self.store = tracked
        # Since when the adopted ring has been in place with no transfer running here.
        self._quiet_since = now
        self.transfers = PartitionTransfers(
            node_id,
            config=member_config,
            trees=self.trees,
            store=tracked,
            out=self.out,
            stats=self.stats_member,
            now=now,
            first_id=first_id,
        )
        self.anti_entropy_rounds = AntiEntropyRounds(
            node_id,
            config=member_config,
            trees=self.trees,
            read=tracked.read,
            health=gossip_health,
            out=self.out,
            stats=self.stats_member,
            now=now,
            first_id=first_id,
            descend=self.seams.merkle_descend,
        )

    # -- the public API ------------------------------------------------------------------

    def step(self, event: Event, now: int) -> list[Effect]:
        """Handle one event at tick ``now``; return the effects to carry out, in order."""
        if now < self.now:
            invariant(False, "time went backwards")
        self.now = now
        self.requests.now = now
        if self.gossip is not None:
            self.reaper.now = now
        effects: list[Effect] = []
        # Outbox.begin and LocalStore.begin_step, inlined: this runs on every step.
        self.out.effects = effects
        local = self._local
        if local.step_writes:
            local.step_writes = {}
        if not self._booted:
            self._boot()
        handler = self._events.get(event.__class__)
        if handler is None:
            invariant(False, "unknown event")
        else:
            handler(event)
        self._arm(now)
        return effects

    def request_join(self, node_id: str, now: int) -> list[Effect]:
        """Admin command (Dynamo §4.8.1): add ``node_id`` to the ring; see :class:`GossipMembership`.

        Raises:
            dynamokv.impl.core.MembershipArgumentError: the node is unknown here, or
                cannot join.
        """
        return self._admin(lambda gossip: gossip.request_join(node_id, now), now)

    def request_leave(self, node_id: str, now: int) -> list[Effect]:
        """Admin command (Dynamo §4.8.1): remove ``node_id`` from the ring.

        Raises:
            dynamokv.impl.core.MembershipArgumentError: the node owns no partition, or
                is the last one.
        """
        return self._admin(lambda gossip: gossip.request_leave(node_id, now), now)

    def _admin(
        self, command: Callable[[GossipMembership], list[GossipEffect]], now: int
    ) -> list[Effect]:
        gossip = self.gossip
        if gossip is None:
            raise ArgumentError("a node on a fixed ring has no membership to change")
        effects = self.out.begin()
        self._local.begin_step()
        self._gossip_effects(command(gossip), now)
        self._arm(now)
        return effects

    def peer_input(self, *, key_bytes_max: int) -> PeerInput:
        """The checks a peer's message must pass before this node is given it
        (:mod:`~dynamokv.impl.core._peer_input`): the runtime asks them of every message
        that arrives from the network."""
        requests = self.requests
        return PeerInput(
            self.node_id,
            issued=lambda: requests.issued,
            held=requests.versions_held,
            responses=requests.answers_so_far,
            partition_of=self._partition_of,
            partition_count=self.ring.q,
            key_bytes_max=key_bytes_max,
        )

    @property
    def gossip_mode(self) -> bool:
        """True if this node runs gossip, transfer and anti-entropy; False on a fixed ring."""
        return self.gossip is not None

    @property
    def hints(self) -> tuple[Hint, ...]:
        """The hints this node keeps for other owners, oldest first."""
        return tuple(self.requests.hints.hints.values())

    @property
    def requests_in_flight(self) -> int:
        """Client requests coordinated or forwarded and not finished."""
        return self.requests.requests_in_flight

    @property
    def next_timer_tick(self) -> int | None:
        """When the request path next wants a tick (None: no timer)."""
        return self.requests.next_deadline()

    def stored_versions(self, key: bytes) -> tuple[Version, ...]:
        """What this node stores for ``key`` (owned, not hinted), writes of this step included."""
        return self.store.read(key)

    @property
    def anti_entropy(self) -> AntiEntropy:
        """The Merkle exchange engine (gossip mode), for its counters."""
        return self.anti_entropy_rounds.engine

    @property
    def transfers_in_flight(self) -> int:
        """Partition transfers running or queued here."""
        return self.transfers.in_flight

    def holds_data_it_does_not_own(self) -> bool:
        """Whether some partition's data here belongs elsewhere (a handoff is due)."""
        ring = self.ring
        non_empty = self.trees.non_empty()
        if self.ring_state.version == 0:
            return bool(non_empty)
        return any(self.node_id not in ring.partition_preference_list(p) for p, _ in non_empty)

    def root(self, partition: int) -> bytes:
        """This node's Merkle root of ``partition`` (the empty root if it holds nothing)."""
        return self.trees.root(partition)

    # -- plumbing ------------------------------------------------------------------------

    def _boot(self) -> None:
        self._booted = True
        gossip = self.gossip
        if (
            gossip is not None
            and self.ring_state.version
            and self.node_id not in self.ring_state.nodes()
            and (self.requests.hints.hints or len(self.trees))
        ):
            gossip.resume_leaving()
        if self._boot_records:
            self.out.persist(self._boot_records, GenerationDurable())
        self.requests.boot()

    def _partition_ring(self, ring: RingState) -> PartitionRing:
        if ring.version == 0:
            # Not in a ring yet: a placeholder the node never routes by (client requests
            # are refused until a ring arrives).
            return self._rings.ring(0, self.node_id, (self.node_id,) * self._q, n=1)
        return self._rings.ring(ring.version, ring.issuer, ring.owners, n=self.config.n)

    def _partition_of(self, key: bytes) -> int:
        ring = self.ring
        return ring.partition_of(key)

    def _position_of(self, key: bytes) -> int:
        ring = self.ring
        return ring.position_of(key)

    def _arm(self, now: int) -> None:
        """Ask for a tick at the earliest deadline of any part, unless already asked."""
        desired = self.requests.next_deadline()
        gossip = self.gossip
        if gossip is not None:
            # The periodic work runs at gossip rounds; never ask for a tick at or before
            # ``now`` for it (before the generation is durable a round is due but waits,
            # and a tick "now" would spin).
            round_tick = gossip.next_round_tick
            if round_tick <= now:
                round_tick = now + 1
            if desired is None or round_tick < desired:
                desired = round_tick
        if desired is not None and (self._armed is None or desired < self._armed):
            self._armed = desired
            self.out.effects.append(SetTimer(desired))

    # -- events --------------------------------------------------------------------------

    def _on_receive(self, event: Receive) -> None:
        self._on_message(event.message)

    def _on_message(self, message: Message) -> None:
        handler = self._messages.get(message.__class__)
        if handler is None:
            invariant(False, "unknown message")
            return
        if message.__class__ is RepairPush and not self._accepts_repair(message):
            return
        self.health.on_message(message.src, self.now)
        handler(message)

    def _on_client(self, event: ClientRequest) -> None:
        if self.gossip is not None and self.ring_state.version == 0:
            error = "unavailable: this node has not joined a ring yet"
            result: Result = (
                GetResult(False, error=error)
                if isinstance(event.request, GetRequest)
                else PutResult(False, error=error)
            )
            self.out.reply(event.request_id, result)
            return
        self.requests.on_client(event.request_id, event.request)

    def _on_tick(self, event: Tick) -> None:
        now = self.now
        if self._armed is not None and self._armed <= now:
            self._armed = None
        self.requests.on_tick()
        gossip = self.gossip
        if gossip is None or not self._generation_durable or now < gossip.next_round_tick:
            return
        # A gossip round: gossip, then transfers, then anti-entropy.
        self._gossip_effects(gossip.tick(now), now)
        ring = self.ring
        self.transfers.retry(now)
        self._maybe_mark_left(now)
        self.transfers.sweep(ring, self.ring_state, now)
        if self.member_config.anti_entropy_enabled:
            self.anti_entropy_rounds.tick(ring, now)
        # The reaper's grace runs only while no data waits to move: no transfer of this
        # node's running, and no member leaving (a leaving node holds data it has yet to
        # hand off, and may keep it past any grace period while it is cut off).
        if self.transfers.in_flight or any(
            entry.status == "leaving" for entry in gossip.members.values()
        ):
            self._quiet_since = now
        self.reaper.tick(ring, self.ring_state.version, quiet_ticks=now - self._quiet_since)

    def _on_persist_done(self, event: PersistDone) -> None:
        handlers = self._after_persist
        for action in self.out.persisted(event.persist_id):
            handlers[action.__class__](action)

    # -- after a persist is durable ------------------------------------------------------

    def _ack_when_durable(self, action: AckWhenDurable) -> None:
        self.out.send(action.message)

    def _local_write_durable(self, action: LocalWriteDurable) -> None:
        self.requests.on_local_write_durable(action.op_id)

    def _lease_durable(self, action: LeaseDurable) -> None:
        self.requests.on_lease_durable(action.counter_max)

    def _generation_is_durable(self, action: GenerationDurable) -> None:
        self._generation_durable = True

    # -- gossip (Dynamo §4.8) ------------------------------------------------------------

    def _on_gossip(self, message: GossipPacket) -> None:
        gossip = self.gossip
        if gossip is not None and self._generation_durable:
            self._gossip_effects(gossip.receive(message.body, self.now), self.now)

    def _gossip_effects(self, effects: list[GossipEffect], now: int) -> None:
        for effect in effects:
            if isinstance(effect, GossipPacket):
                self.out.send(effect)
            elif isinstance(effect, RingAdopted):
                self._adopt(effect.previous, effect.ring, now)
            elif isinstance(effect, SuspicionChanged):
                health = self.health
                assert isinstance(health, GossipHealth)
                health.set_suspected(effect.node_id, effect.suspected)
                if not effect.suspected:
                    # Hinted handoff (Dynamo §4.6): the owner is back, so offer its hints
                    # at once rather than at the next replay round.
                    self.stats_member.peers_recovered += 1
                    self.anti_entropy_rounds.on_peer_recovered(effect.node_id, now)
                    self.requests.hints.on_owner_up(effect.node_id, now)
            else:
                invariant(isinstance(effect, MemberStatusChanged), "unknown gossip effect")

    def _adopt(self, previous: RingState, ring: RingState, now: int) -> None:
        self.stats_member.rings_adopted += 1
        self._quiet_since = now
        self.out.persist((StoreRing(ring.version, ring.issuer, ring.owners),))
        old = self.ring
        self.ring_state = ring
        new = self._partition_ring(ring)
        self.ring = new
        self.requests.membership = new
        self.anti_entropy_rounds.on_ring_adopted()
        self.transfers.on_ring_adopted(old, new, previous, ring, now)

    def _maybe_mark_left(self, now: int) -> None:
        gossip = self.gossip
        assert gossip is not None
        if (
            gossip.self_entry.status == "leaving"
            and self.node_id not in self.ring_state.nodes()
            and not self.transfers.in_flight
            and not self.requests.hints.hints
            and not len(self.trees)
        ):
            self._gossip_effects(gossip.mark_left(self.node_id), now)

    # -- partition transfer (Dynamo §4.8.1) and anti-entropy (Dynamo §4.7) -----------------

    def _on_read_repair(self, message: ReadRepair) -> None:
        self.requests.on_read_repair(message)
        if self.gossip is not None:
            self.transfers.on_repaired(message.src, message.key, message.versions)

    def _on_transfer_ack(self, message: TransferAck) -> None:
        ring = self.ring
        self.transfers.on_ack(message, ring, self.ring_state, self.now)

    def _on_roots_request(self, message: RootsRequest) -> None:
        ring = self.ring
        self.anti_entropy_rounds.on_roots_request(message, ring)

    def _on_roots_reply(self, message: RootsReply) -> None:
        ring = self.ring
        self.anti_entropy_rounds.on_roots_reply(message, ring, self.now)

    def _on_merkle(self, message: MerklePacket) -> None:
        ring = self.ring
        self.anti_entropy_rounds.on_merkle(message, ring, self.now)

    def _accepts_repair(self, message: RepairPush) -> bool:
        """Merge a repair only into a partition this node owns (under its ring): an
        exchange begun under an older ring must not hand data back to a node that has
        since handed the partition off."""
        ring = self.ring
        return self.node_id in ring.partition_preference_list(message.partition)

    def _on_repair_push(self, message: RepairPush) -> None:
        self.stats_member.keys_repair_applied += self.requests.on_repair_push(message)
        if self.requests.is_stale_copy is not None:  # gossip: the node reaps
            self.reaper.answer_repair(message.src, message.partition, message.items)

    # -- tombstone reaping -------------------------------------------------------------------

    def _on_reap_query(self, message: ReapQuery) -> None:
        self.reaper.on_query(message, self.ring_state.version)

    def _on_reap_vote(self, message: ReapVote) -> None:
        self.reaper.on_vote(message, self.ring_state.version)

    def _on_reap(self, message: Reap) -> None:
        self.reaper.on_reap(message)


Transitions = Mapping[type, tuple[str, str]]
"""Class -> (the part of the node that handles it, the method's name)."""

MESSAGES: Final[Transitions] = MappingProxyType(
    {
        # The request path (Dynamo §4.5, §4.6).
        WriteRequest: ("requests", "on_write"),
        WriteAck: ("requests", "on_write_ack"),
        ReadRequest: ("requests", "on_read"),
        ReadResponse: ("requests", "on_read_response"),
        ReadRepair: ("node", "_on_read_repair"),
        ForwardRequest: ("requests", "on_forward"),
        ForwardResponse: ("requests", "on_forward_response"),
        # Hinted handoff (Dynamo §4.6).
        HintReplay: ("requests", "on_hint_replay"),
        HintAck: ("requests", "on_hint_ack"),
        # Membership (Dynamo §4.8) and partition transfer (§4.8.1).
        GossipPacket: ("node", "_on_gossip"),
        TransferBatch: ("requests", "on_transfer_batch"),
        TransferAck: ("node", "_on_transfer_ack"),
        # Anti-entropy (Dynamo §4.7).
        RootsRequest: ("node", "_on_roots_request"),
        RootsReply: ("node", "_on_roots_reply"),
        MerklePacket: ("node", "_on_merkle"),
        RepairPush: ("node", "_on_repair_push"),
        # Tombstone reaping.
        ReapQuery: ("node", "_on_reap_query"),
        ReapVote: ("node", "_on_reap_vote"),
        Reap: ("node", "_on_reap"),
    }
)
"""Peer message -> its transition (after the health view notes the sender)."""

EVENTS: Final[Transitions] = MappingProxyType(
    {
        Receive: ("node", "_on_receive"),
        ClientRequest: ("node", "_on_client"),
        Tick: ("node", "_on_tick"),
        PersistDone: ("node", "_on_persist_done"),
        # A peer message stepped as it is, without its Receive (the simulator's
        # deliveries: one object less per message).
        **{kind: ("node", "_on_message") for kind in MESSAGES},
    }
)
"""Event -> its transition. Every event a driver steps is one of these."""

AFTER_PERSIST: Final[Transitions] = MappingProxyType(
    {
        AckWhenDurable: ("node", "_ack_when_durable"),
        LocalWriteDurable: ("node", "_local_write_durable"),
        LeaseDurable: ("node", "_lease_durable"),
        GenerationDurable: ("node", "_generation_is_durable"),
    }
)
"""What the node does once a persist it waited for is durable (persist before ack)."""


def _bind(node: Node, transitions: Transitions) -> dict[type, Callable[[Any], None]]:
    """The transitions as bound methods of ``node``'s parts (one dict lookup per event)."""
    bound: dict[type, Callable[[Any], None]] = {}
    methods: dict[tuple[str, str], Callable[[Any], None]] = {}  # every message: one method
    for kind, transition in transitions.items():
        method = methods.get(transition)
        if method is None:
            part, name = transition
            owner: object = node if part == "node" else getattr(node, part)
            method = methods[transition] = getattr(owner, name)
        bound[kind] = method
    return bound
