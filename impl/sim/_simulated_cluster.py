"""A whole cluster of cores in one process, under one seed.

Like TigerBeetle's VOPR and FoundationDB's simulator, one ``random.Random`` decides
everything (message delays, losses, duplicates, the faults, the workload), and a
heap of timed events replaces the network, the disk and the clock, so one seed
replays one run byte for byte. trio's scheduler is randomized on purpose, so the
simulator does not use it.

Each :class:`~dynamokv.impl.core.Node` is stepped exactly as the runtime would
step it: effects are carried out in order; a peer message becomes a delivery after a
random delay (or never: a drop, a partition, a crashed destination); a
``Persist`` is applied to the node's :class:`SimDisk` at once and synced a disk
delay later; a ``SetTimer`` becomes a ``Tick``. A crash throws the node object
away with its unsynced writes; a restart builds a new one over the synced disk.

The hot path (one delivery) is a heap pop, a ``Node.step`` and a loop over the
effects: no copies, no contracts. ``trace_hash`` digests every event processed.

Two kinds of node: ``membership="static"`` drives the request-path
:class:`~dynamokv.impl.core.Node` over one fixed ring with
:class:`~dynamokv.impl.core.TimeoutHealth` (the request-path scenario scripts), and
``membership="gossip"`` drives the complete :class:`~dynamokv.impl.core.Node`:
gossip, phi-accrual health, explicit join and leave with partition transfer, and
Merkle anti-entropy. ``spares`` extra nodes start down and outside the ring, for
joins (:meth:`Cluster.join`, :meth:`Cluster.leave`).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import heapq
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from dynamokv.impl.core import (
    DEFAULT_SEAMS,
    ClientRequest,
    DeleteHint,
    Effect,
    ForwardRequest,
    ForwardResponse,
    GossipPacket,
    HintAck,
    HintReplay,
    MemberConfig,
    MembershipArgumentError,
    MemberStats,
    MerkleHashCache,
    MerklePacket,
    MerkleTrees,
    Message,
    Node,
    NodeConfig,
    NodeStats,
    PartitionRing,
    Persist,
    PersistDone,
    ReadRepair,
    ReadRequest,
    ReadResponse,
    Reap,
    ReapQuery,
    ReapVote,
    RepairPush,
    Reply,
    Request,
    Result,
    RingCache,
    RingState,
    RootsReply,
    RootsRequest,
    Seams,
    SetTimer,
    StoreVersions,
    Tick,
    TimeoutHealth,
    TransferAck,
    TransferBatch,
    Version,
    WriteAck,
    WriteRequest,
    covers,
)
from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import ArgumentError

from ._disk import SimDisk

__all__ = ["MEMBERSHIPS", "Cluster", "DelaySampler", "NetworkConfig", "TraceEntry"]

MEMBERSHIPS = ("static", "gossip")
"""``static``: request-path nodes on a fixed ring; ``gossip``: complete nodes."""

SEEDS_MAX = 2
"""The first nodes of a cluster are its seeds (Dynamo §4.8.2)."""

_BACKGROUND = (GossipPacket, MerklePacket, RootsRequest, RootsReply, ReapQuery, ReapVote, Reap)
"""Messages that never stop flowing in a gossip cluster: not "work in flight"."""

TICK = Tick()
"""The one tick event (it has no fields): stepped at every due timer."""

_DELIVER = 0
_TICK = 1
_SYNC = 2
_REQUEST = 3
_CALL = 4


class DelaySampler(Protocol):
    """Draws one message's delivery delay, in ticks, from a latency distribution."""

    def __call__(self, message: Message, rng: random.Random) -> int:
        """The delay of ``message`` (at least one tick), drawn with ``rng``."""
        ...


@dataclass(slots=True, kw_only=True)
class NetworkConfig:
    """How the simulated network misbehaves. Probabilities are per message.

    Attributes:
        delay_ticks_min: fastest delivery.
        delay_ticks_max: slowest ordinary delivery (uniform in between).
        drop: probability a message is lost.
        dup: probability a message is delivered twice.
        reorder: probability a message is held back up to ``reorder_ticks_max``
            more, so later messages overtake it.
        reorder_ticks_max: how far a reordered message may fall behind.
        disk_delay_ticks_max: longest time from a persist to its sync.
        gossip_drop: probability a gossip message is lost (on top of ``drop``): a
            gossip fault that leaves the data path alone.
        delay_sampler: when set, each message's delay is drawn by this function of
            the message (its kind, source and destination) instead of uniformly
            between ``delay_ticks_min`` and ``delay_ticks_max``: a latency model
            such as PBS's fitted production distributions, at whatever tick
            resolution it chooses.
    """

    delay_ticks_min: int = 1
    delay_ticks_max: int = 3
    drop: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    reorder_ticks_max: int = 20
    disk_delay_ticks_max: int = 2
    gossip_drop: float = 0.0
    delay_sampler: DelaySampler | None = None


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One message of the key being traced, for the ladder diagram."""

    sent_at: int
    arrives_at: int | None
    src: str
    dst: str
    label: str


@dataclass(slots=True)
class _Stats:
    deliveries: int = 0
    dropped: int = 0
    duplicated: int = 0
    crashes: int = 0
    lost_persists: int = 0


class Cluster:
    """N simulated Dynamo nodes, a network, disks and a clock.

    Args:
        node_count: how many nodes (named ``n1``, ``n2``, ...).
        seed: the one seed of the run.
        config: every node's :class:`~dynamokv.impl.core.NodeConfig`.
        q: partitions on the ring (strategy 3).
        network: faults of the network and disk delays.
        suspect_ticks: how long :class:`~dynamokv.impl.core.TimeoutHealth` suspects.
        trace_key: record a ladder diagram of this key's messages.
        disk_factory: builds each node's disk from a seeded ``random.Random``
            (default: the in-memory :class:`SimDisk`; see ``StoreDisk``).
        membership: ``static`` or ``gossip`` (see the module docstring).
        member_config: the composite nodes' knobs (gossip membership only).
        spares: nodes that start down and outside the ring, for joins (gossip only).
        seams: the decisions every node makes through
            :class:`~dynamokv.impl.core.Seams` (a lab's learner code, a planted bug).
        weights: node name -> weight (default 1): the initial ring gives node *i*
            Q·wᵢ/Σw partitions (weighted strategy 3), and joins and leaves keep every
            node within one partition of its share (gossip membership only).
    """

    def __init__(
        self,
        node_count: int,
        *,
        seed: int,
        config: NodeConfig | None = None,
        q: int = 1024,
        network: NetworkConfig | None = None,
        suspect_ticks: int = 50,
        trace_key: bytes | None = None,
        disk_factory: Callable[[random.Random], SimDisk] | None = None,
        membership: str = "static",
        member_config: MemberConfig | None = None,
        spares: int = 0,
        seams: Seams = DEFAULT_SEAMS,
        weights: Mapping[str, int] | None = None,
    ) -> None:
        if node_count < 1:
            raise ArgumentError("need at least one node")
        if membership not in MEMBERSHIPS or (spares and membership != "gossip"):
            raise ArgumentError("membership is static or gossip; spares need gossip")
        self.seed = seed
        self.seams = seams
        self.random = random.Random(seed)
        self._draw = self.random.random
        self.config = config or NodeConfig()
        self.network = network or NetworkConfig()
        self.membership = membership
        self._watch_rings = membership != "static"
        self.q = q
        self.initial = tuple(f"n{i + 1}" for i in range(node_count))
        self.names = tuple(f"n{i + 1}" for i in range(node_count + spares))
        self.weights = {name: (weights or {}).get(name, 1) for name in self.names}
        if any(self.weights[name] != 1 for name in self.initial):
            self.static_ring = PartitionRing(
                spec_ring.assign_partitions_weighted(
                    {name: self.weights[name] for name in self.initial}, q
                ),
                n=min(self.config.n, node_count),
            )
        else:
            self.static_ring = _ring(self.initial, min(self.config.n, node_count), q)
        # One cache of built rings for every node, restart and cluster of this process:
        # they share the few rings of a sweep instead of each building its own.
        self.built_rings = _BUILT_RINGS
        # Every incarnation of every node remembers its Merkle hashes here: a restart does
        # not hash again the version sets its disk kept, nor a replica a path of its tree
        # that another replica of the partition hashed already.
        self.merkle_hashes = MerkleHashCache()
        base = member_config or MemberConfig()
        if base.gossip.partition_count != q:
            gossip = dataclasses.replace(base.gossip, partition_count=q)
            base = dataclasses.replace(base, gossip=gossip)
        self.member_config = base
        # Tombstones forgotten by an owner of their key, by key: (tick, version) pairs.
        self.reaped: dict[bytes, list[tuple[int, Version]]] = {}
        # What a node dropped of a key after handing it off, until it stores the key
        # again (see _note_drop).
        self.dropped_by_handoff: dict[tuple[str, bytes], tuple[Version, ...]] = {}
        self._watch_reaps = base.tombstone_grace_ticks is not None
        self.seeds = {name: name for name in self.initial[:SEEDS_MAX]}
        self.rings: dict[tuple[int, str], RingState] = {}
        # Rings that died with the only node that held them (see _forget_lost_rings).
        self.rings_lost: set[tuple[int, str]] = set()
        self.ring_held_since: dict[str, int] = {}
        self.transfer_sends: set[tuple[tuple[int, str], int, str]] = set()
        self.member_stats_of_dead: list[MemberStats] = []
        self.started: set[str] = set()
        self._ring_cache: tuple[tuple[int, str], PartitionRing] | None = None
        self.suspect_ticks = suspect_ticks
        if disk_factory is None:
            self.disks = {name: SimDisk() for name in self.names}
        else:
            self.disks = {
                name: disk_factory(random.Random(self.random.getrandbits(64)))
                for name in self.names
            }
        self.nodes: dict[str, Node | None] = dict.fromkeys(self.names)
        self.stats_of_dead: list[NodeStats] = []
        self.blocked: set[tuple[str, str]] = set()
        self.now = 0
        self.stats = _Stats()
        self.violations: list[str] = []
        self.trace_key = trace_key
        self.trace: list[TraceEntry] = []
        self.trace_all = False
        # Truncation (Dynamo §4.4) breaks the transitivity of "supersedes" as the
        # contexts record it, so when it can happen (a clock could outgrow the
        # threshold) the checkers need every version ever stored to follow chains.
        self.track_versions = self.config.vector_clock_threshold < node_count
        self.versions_by_key: dict[bytes, dict[tuple[str, int], Version]] = {}
        self.transitive_covers = 0
        # The event queue: tick -> the events due then, in the order they were scheduled
        # (a bucket per tick: time is whole ticks and most delays are a few ticks, so
        # this is cheaper than one heap of every event), and a heap of those ticks.
        self._queue: dict[int, deque[tuple[int, str, Any]]] = {}
        self._ticks: list[int] = []
        self._request_seq = 0
        # Client request id -> what to call with its result.
        self._pending: dict[int, Callable[[Result], None]] = {}
        self._hash = hashlib.blake2b(digest_size=16)
        self._incarnation = dict.fromkeys(self.names, 0)
        self._synced_at = dict.fromkeys(self.names, 0)
        self._open_batch: dict[str, list[int] | None] = dict.fromkeys(self.names)
        self._ticks_at: dict[str, set[int]] = {name: set() for name in self.names}
        # What a delivery adds to the trace hash after its tick: b"<node> <message class>".
        self._delivery_bytes = {
            name: {kind: b"%s %s" % (name.encode(), label) for kind, label in _CLASS_BYTES.items()}
            for name in self.names
        }
        self._delay_span = self.network.delay_ticks_max - self.network.delay_ticks_min + 1
        self._ring_seen: dict[str, RingState | None] = dict.fromkeys(self.names)
        for name in self.initial:
            self.restart(name)

    # -- node lifecycle -------------------------------------------------------------------

    def restart(self, name: str) -> None:
        """Start ``name`` over what its disk synced (no-op when it is up)."""
        if self.nodes[name] is not None:
            return
        self._incarnation[name] += 1
        self.started.add(name)
        if self.membership == "static":
            node = Node(
                name,
                config=self.config,
                membership=self.static_ring,
                health=TimeoutHealth(suspect_ticks=self.suspect_ticks),
                storage=self.disks[name].view,
                random=random.Random(self.random.getrandbits(64)),
                seams=self.seams,
            )
        else:
            node = Node(
                name,
                config=self.config,
                storage=self.disks[name].view,
                random=random.Random(self.random.getrandbits(64)),
                member_config=self.member_config,
                address=name,
                seeds=self.seeds,
                bootstrap_owners=self.static_ring.assignment if name in self.initial else None,
                now=self.now,
                seams=self.seams,
                rings=self.built_rings,
                weight=self.weights[name],
                hashes=self.merkle_hashes,
                merkle_trees=self._take_kept_trees(name),
            )
            self._ring_seen[name] = None
        self.nodes[name] = node
        self._log(f"{self.now} start {name}")
        self._carry(name, node, node.step(TICK, self.now))

    def _take_kept_trees(self, name: str) -> MerkleTrees | None:
        disk = self.disks[name]
        trees = disk.kept_trees
        disk.kept_trees = None
        return trees

    def crash(self, name: str) -> None:
        """Kill ``name``: it loses every unsynced write and every message in flight to it."""
        node = self.nodes[name]
        if node is None:
            return
        self.stats_of_dead.append(node.stats)
        if node.gossip_mode:
            self.member_stats_of_dead.append(node.stats_member)
        self.nodes[name] = None
        self.stats.crashes += 1
        disk = self.disks[name]
        unsynced = disk.unsynced_keys()
        self.stats.lost_persists += disk.crash()
        if node.gossip_mode:
            # The next incarnation takes over these trees instead of hashing every key its
            # disk kept: they are the trees of what the disk holds once the keys the crash
            # may have changed are read back (the trees are a function of the contents).
            trees = node.trees
            read = disk.view.read_versions
            for key in unsynced:
                trees.update(key, read(key))
            disk.kept_trees = trees.as_built_from_storage()
        self._open_batch[name] = None
        self._ticks_at[name] = set()  # the old incarnation's ticks will be ignored
        self._log(f"{self.now} crash {name}")
        if self._watch_rings:
            self._forget_lost_rings()

    def _forget_lost_rings(self) -> None:
        """Mark lost the rings newer than any a node holds or a disk kept: a ring its
        issuer held only in memory, unsynced and not yet gossiped, died with it, and the
        cluster converges on the rings that survived. (Gossip already sent may deliver it
        still; the node that adopts it makes it a ring of the cluster again.)"""
        kept = {
            (node.ring_state.version, node.ring_state.issuer)
            for node in self.nodes.values()
            if node is not None and node.gossip_mode
        }
        for disk in self.disks.values():
            stored = disk.view.read_ring()
            if stored is not None:
                kept.add((stored.version, stored.issuer))
        newest = max(kept, default=(0, ""))
        self.rings_lost.update(ring for ring in self.rings if ring > newest)

    def newest_ring(self) -> tuple[int, str]:
        """The newest ring some node adopted and the cluster did not lose since:
        ``(version, issuer)``, ``(0, "")`` before any."""
        lost = self.rings_lost
        return max((ring for ring in self.rings if ring not in lost), default=(0, ""))

    def is_up(self, name: str) -> bool:
        """Whether ``name`` is running."""
        return self.nodes[name] is not None

    # -- membership (gossip clusters) -----------------------------------------------------

    @property
    def ring(self) -> PartitionRing:
        """The newest ring any node adopted and the cluster did not lose (the static ring in
        a static cluster)."""
        if self.membership == "static" or not self.rings:
            return self.static_ring
        newest = self.newest_ring()
        if self._ring_cache is None or self._ring_cache[0] != newest:
            self._ring_cache = (newest, self.ring_at(newest))
        return self._ring_cache[1]

    def ring_at(self, ring: tuple[int, str]) -> PartitionRing:
        """The ring ``(version, issuer)`` as some node adopted it."""
        version, issuer = ring
        return self.built_rings.ring(version, issuer, self.rings[ring].owners, n=self.config.n)

    def members(self) -> tuple[str, ...]:
        """The nodes of the newest ring, sorted (where a load balancer sends requests)."""
        return self.ring.nodes()

    def status_of(self, name: str) -> str:
        """``name``'s own gossip status (``down`` when not running, ``static`` if static)."""
        node = self.nodes[name]
        if node is None:
            return "down"
        if node.gossip is None:
            return "static"
        return node.gossip.self_entry.status

    def _admin(self, via: str, kind: str, name: str) -> bool:
        node = self.nodes[via]
        if node is None or not node.gossip_mode:
            return False
        try:
            if kind == "join":
                effects = node.request_join(name, self.now)
            else:
                effects = node.request_leave(name, self.now)
        except MembershipArgumentError:
            return False
        self._log(f"{self.now} {kind} {name} via {via}")
        self._carry(via, node, effects)
        return True

    def join(self, name: str, *, via: str) -> bool:
        """Admin: ``via`` adds ``name`` to the ring (Dynamo §4.8.1).

        ``name`` must be running and known to ``via`` by gossip; returns False
        (nothing changed) otherwise, so a driver retries.
        """
        return self._admin(via, "join", name)

    def leave(self, name: str, *, via: str) -> bool:
        """Admin: ``via`` removes ``name`` from the ring; False if it cannot."""
        return self._admin(via, "leave", name)

    # -- the network ----------------------------------------------------------------------

    def partition(self, *groups: tuple[str, ...]) -> None:
        """Only nodes in the same group can talk (a symmetric partition)."""
        group_of = {node: index for index, group in enumerate(groups) for node in group}
        self.blocked = {
            (a, b)
            for a in self.names
            for b in self.names
            if a != b and group_of.get(a, -1) != group_of.get(b, -2)
        }
        self._log(f"{self.now} partition {groups}")

    def block(self, src: str, dst: str) -> None:
        """Messages from ``src`` to ``dst`` are lost; the reverse still flows (asymmetric)."""
        self.blocked.add((src, dst))
        self._log(f"{self.now} block {src}>{dst}")

    def heal(self) -> None:
        """Every node can talk to every other again."""
        self.blocked = set()
        self._log(f"{self.now} heal")

    # -- clients ----------------------------------------------------------------------------

    def submit(self, node: str, request: Request, on_reply: Callable[[Result], None]) -> int:
        """Send a client request to ``node`` (it arrives next tick); return its id."""
        self._request_seq += 1
        request_id = self._request_seq
        self._pending[request_id] = on_reply
        self._schedule(self.now + 1, _REQUEST, node, ClientRequest(request_id, request))
        return request_id

    def request(self, node: str, request: Request, *, ticks_max: int = 300) -> Result | None:
        """Send a client request to ``node`` and run until its answer, at most
        ``ticks_max`` ticks (scenarios and tests); None if no answer came by then."""
        done: list[Result] = []
        self.submit(node, request, done.append)
        limit = self.now + ticks_max
        while not done and self.now < limit:
            self.run(until=self.now + 1)
        return done[0] if done else None

    def abandon(self, request_id: int) -> bool:
        """The client gives up on ``request_id``; return whether it was still pending."""
        return self._pending.pop(request_id, None) is not None

    def call_at(self, at: int, action: Callable[[], None]) -> None:
        """Run ``action`` at tick ``at`` (faults, client think time, timeouts)."""
        self._schedule(max(at, self.now), _CALL, "", action)

    def _schedule(self, at: int, kind: int, name: str, payload: Any) -> None:
        """Queue an event at tick ``at`` (never before ``now``), after those already due then."""
        bucket = self._queue.get(at)
        if bucket is None:
            bucket = self._queue[at] = deque()
            heapq.heappush(self._ticks, at)
        bucket.append((kind, name, payload))

    # -- running ----------------------------------------------------------------------------

    def run(self, *, until: int | None = None, stop: Callable[[], bool] | None = None) -> None:
        """Process events in time order until the heap empties or ``until`` passes.

        ``stop`` is consulted after every :meth:`call_at` action (the workload's
        and the faults' steps), not after every delivery: that keeps the hot
        loop free of calls.
        """
        queue = self._queue
        ticks = self._ticks
        nodes = self.nodes
        stats = self.stats
        update = self._hash.update
        delivery_bytes = self._delivery_bytes
        carry = self._carry
        incarnation = self._incarnation
        ticks_at = self._ticks_at
        # Deliveries are counted here and added to ``stats`` before anything else runs.
        deliveries = 0
        while ticks:
            at = ticks[0]
            if until is not None and at > until:
                self.now = until
                stats.deliveries += deliveries
                return
            self.now = at
            bucket = queue[at]
            next_event = bucket.popleft
            # A delivery hashes b"<tick> d <node> <message class>", in two updates (the
            # digest of the pieces is the digest of the whole): the tick's part is made
            # at the tick's first delivery.
            delivered_at: bytes | None = None
            # Events scheduled for ``at`` while it is processed join this bucket.
            while bucket:
                kind, name, payload = next_event()
                if kind == _DELIVER:
                    node = nodes[name]
                    if node is None:
                        continue
                    deliveries += 1
                    if delivered_at is None:
                        delivered_at = b"%d d " % at
                    update(delivered_at)
                    update(delivery_bytes[name][payload.__class__])
                    carry(name, node, node.step(payload, at))
                elif kind == _TICK:
                    node = nodes[name]
                    if node is None or payload != incarnation[name]:
                        continue
                    ticks_at[name].discard(at)
                    carry(name, node, node.step(TICK, at))
                elif kind == _SYNC:
                    node = nodes[name]
                    if node is None or payload[0] != incarnation[name]:
                        continue
                    batch = payload[1]
                    if self._open_batch[name] is batch:
                        self._open_batch[name] = None
                    disk = self.disks[name]
                    for persist_id in batch:
                        disk.sync(persist_id)
                    for persist_id in batch:
                        carry(name, node, node.step(PersistDone(persist_id), at))
                elif kind == _REQUEST:
                    node = nodes[name]
                    if node is None:
                        continue
                    update(b"%d r %s" % (at, name.encode()))
                    carry(name, node, node.step(payload, at))
                else:
                    stats.deliveries += deliveries
                    deliveries = 0
                    payload()
                    if stop is not None and stop():
                        return
            heapq.heappop(ticks)
            del queue[at]
        stats.deliveries += deliveries
        if until is not None:
            self.now = max(self.now, until)

    def _carry(self, name: str, node: Node, effects: list[Effect]) -> None:
        """Carry out the effects of one of ``node``'s steps, in order."""
        if self._watch_rings:
            ring = node.ring_state
            if ring is not self._ring_seen[name]:
                self._watch_ring(name, ring)
        for effect in effects:
            kind = effect.__class__
            if kind is Persist:
                self._persist(name, effect)  # type: ignore[arg-type]
            elif kind is Reply:
                on_reply = self._pending.pop(effect.request_id, None)  # type: ignore[union-attr]
                if on_reply is not None:
                    on_reply(effect.result)  # type: ignore[union-attr]
            elif kind is not SetTimer:
                # A peer message: the network drops, duplicates, delays and reorders it.
                # (Written here rather than in a method of its own: one call less for
                # each of the run's messages.)
                message: Message = effect  # type: ignore[assignment]
                network = self.network
                draw = self._draw
                dst = message.dst
                if kind is TransferBatch:
                    batch: TransferBatch = effect  # type: ignore[assignment]
                    ring_name = (batch.ring_version, batch.ring_issuer)
                    self.transfer_sends.add((ring_name, batch.partition, dst))
                trace = self.trace_all or (
                    self.trace_key is not None and _key_of(message) == self.trace_key
                )
                blocked = self.blocked
                if (
                    (blocked and (message.src, dst) in blocked)
                    or (network.drop and draw() < network.drop)
                    or (
                        network.gossip_drop
                        and kind is GossipPacket
                        and draw() < network.gossip_drop
                    )
                ):
                    self.stats.dropped += 1
                    if trace:
                        self.trace.append(
                            TraceEntry(self.now, None, message.src, dst, _label(message))
                        )
                    continue
                copies = 1
                if network.dup and draw() < network.dup:
                    copies = 2
                    self.stats.duplicated += 1
                queue = self._queue
                event = (_DELIVER, dst, message)
                while copies:
                    copies -= 1
                    if network.delay_sampler is not None:
                        delay = network.delay_sampler(message, self.random)
                    else:
                        # draw() rather than randint: the hottest line of the simulator.
                        delay = network.delay_ticks_min + int(draw() * self._delay_span)
                    if network.reorder and draw() < network.reorder:
                        delay += 1 + int(draw() * network.reorder_ticks_max)
                    at = self.now + delay
                    bucket = queue.get(at)
                    if bucket is None:
                        bucket = queue[at] = deque()
                        heapq.heappush(self._ticks, at)
                    bucket.append(event)
                    if trace:
                        self.trace.append(
                            TraceEntry(self.now, at, message.src, dst, _label(message))
                        )
            else:
                # A timer: a tick event at ``at`` (never before now), one per node and tick.
                at = effect.at  # type: ignore[union-attr]
                if at < self.now:
                    at = self.now
                scheduled = self._ticks_at[name]
                if at not in scheduled:
                    scheduled.add(at)
                    bucket = self._queue.get(at)
                    if bucket is None:
                        bucket = self._queue[at] = deque()
                        heapq.heappush(self._ticks, at)
                    bucket.append((_TICK, name, self._incarnation[name]))

    def _watch_ring(self, name: str, ring: RingState) -> None:
        self._ring_seen[name] = ring
        self.ring_held_since[name] = self.now
        if ring.version > 0:
            key = (ring.version, ring.issuer)
            self.rings.setdefault(key, ring)
            self.rings_lost.discard(key)

    def _persist(self, name: str, persist: Persist) -> None:
        disk = self.disks[name]
        for record in persist.records:
            if type(record) is DeleteHint:
                self._check_hint_delete(name, disk, record.hint_id)
            elif isinstance(record, StoreVersions):
                if self._watch_rings:
                    if not record.versions:
                        self._note_drop(name, disk, record.key)
                    elif self.dropped_by_handoff:
                        self.dropped_by_handoff.pop((name, record.key), None)
                if self.track_versions:
                    known = self.versions_by_key.setdefault(record.key, {})
                    for version in record.versions:
                        known[version.dot] = version
        disk.apply(persist)
        # Group commit: a persist joins the node's open batch if its sync has not
        # happened yet; batches sync in the order they were opened, as a log's do.
        batch = self._open_batch[name]
        if batch is not None:
            batch.append(persist.persist_id)
            return
        at = self.now + int(self._draw() * (self.network.disk_delay_ticks_max + 1))
        at = max(at, self._synced_at[name])
        self._synced_at[name] = at
        batch = [persist.persist_id]
        self._open_batch[name] = batch
        self._schedule(at, _SYNC, name, (self._incarnation[name], batch))

    def _note_drop(self, name: str, disk: SimDisk, key: bytes) -> None:
        """``name`` drops ``key``: an owner forgetting its tombstones is a reap; any other
        drop follows a handoff (Dynamo §4.8.1), its data durable at the new owners."""
        held = disk.read_versions(key)
        if not held:
            return
        node = self.nodes[name]
        if (
            self._watch_reaps
            and all(version.value is None for version in held)
            and node is not None
            and name in node.ring.preference_list(key)
        ):
            self.reaped.setdefault(key, []).extend((self.now, version) for version in held)
        else:
            self.dropped_by_handoff[name, key] = held

    def _check_hint_delete(self, name: str, disk: SimDisk, hint_id: int) -> None:
        """Hinted handoff's rule: a hint goes only once its owner holds it durably."""
        hint = disk.hint(hint_id)
        if hint is None:
            return
        held = self.disks[hint.owner].synced_versions(hint.key)
        reaped = tuple(version for _, version in self.reaped.get(hint.key, ()))
        for version in hint.versions:
            if (
                not self.covered(hint.key, held, version)
                and not self._handed_off(hint.owner, hint.key, version)
                # A tombstone reaped on every owner covers it: the owner merged the
                # replay as if the tombstone were still there.
                and not (reaped and self.covered(hint.key, reaped, version))
            ):
                self.violations.append(
                    f"t={self.now} {name} deleted hint {hint_id} for {hint.owner} key "
                    f"{hint.key!r} before the owner held {version.dot} durably"
                )
                return

    def _handed_off(self, owner: str, key: bytes, version: Version) -> bool:
        """Gossip clusters: an owner that stopped owning the key (in the ring it follows)
        may have handed it off before the hint's ack arrived; a new owner must hold it.
        An owner that held the version, handed the key off and dropped it, and owns it
        again in a later ring without having stored it since: some other node must hold
        it."""
        if self.membership == "static":
            return False
        node = self.nodes[owner]
        ring = node.ring if node is not None and node.gossip_mode else self.ring
        owners = ring.preference_list(key)
        dropped = self.dropped_by_handoff.get((owner, key))
        if owner not in owners:
            holders: tuple[str, ...] = owners
        elif dropped is not None and self.covered(key, dropped, version):
            holders = tuple(name for name in self.disks if name != owner)
        else:
            return False
        return any(
            self.covered(key, self.disks[name].synced_versions(key), version) for name in holders
        )

    def covered(self, key: bytes, held: tuple[Version, ...], version: Version) -> bool:
        """Whether ``held`` contains ``version`` or a version that superseded it,
        directly or, once truncation may have cut the record, through a chain of
        stored versions each superseding the next."""
        if covers(held, version):
            return True
        if not self.track_versions:
            return False
        known = self.versions_by_key.get(key, {})
        frontier = list(held)
        seen = {v.dot for v in frontier}
        while frontier:
            x = frontier.pop()
            context = dict(x.context)
            for y in known.values():
                if y.dot not in seen and context.get(y.dot[0], 0) >= y.dot[1]:
                    if y.dot == version.dot:
                        self.transitive_covers += 1
                        return True
                    seen.add(y.dot)
                    frontier.append(y)
        return False

    # -- observation --------------------------------------------------------------------

    def _log(self, line: str) -> None:
        self._hash.update(line.encode())

    @property
    def trace_hash(self) -> str:
        """A digest of every event processed so far: equal runs have equal hashes."""
        return self._hash.hexdigest()

    def hints_pending(self) -> int:
        """Hints held by running nodes."""
        return sum(len(node.hints) for node in self.nodes.values() if node is not None)

    def idle(self) -> bool:
        """No message, sync or client request in flight (timers may remain).

        Gossip and anti-entropy comparisons never stop; they do not count as work.
        """
        return all(
            kind in (_TICK, _CALL) or (kind == _DELIVER and isinstance(payload, _BACKGROUND))
            for bucket in self._queue.values()
            for kind, _, payload in bucket
        )

    def node_stats(self) -> NodeStats:
        """The counters of every incarnation of every node, summed."""
        total = NodeStats()
        every = [*self.stats_of_dead, *(n.stats for n in self.nodes.values() if n is not None)]
        for stats in every:
            for name in NodeStats.__slots__:
                setattr(total, name, getattr(total, name) + getattr(stats, name))
        return total

    def member_stats(self) -> MemberStats:
        """The composite nodes' counters, every incarnation summed (gossip clusters)."""
        total = MemberStats()
        live = [n.stats_member for n in self.nodes.values() if n is not None and n.gossip_mode]
        for stats in [*self.member_stats_of_dead, *live]:
            for name in MemberStats.__slots__:
                setattr(total, name, getattr(total, name) + getattr(stats, name))
        return total

    def holders(self, key: bytes) -> dict[str, tuple[Version, ...]]:
        """What each owner of ``key`` holds durably."""
        return {
            name: self.disks[name].synced_versions(key) for name in self.ring.preference_list(key)
        }


_CLASS_BYTES: dict[type, bytes] = {
    cls: cls.__name__.encode()
    for cls in (
        ReadRequest,
        ReadResponse,
        WriteRequest,
        WriteAck,
        ForwardRequest,
        ForwardResponse,
        ReadRepair,
        HintReplay,
        HintAck,
        TransferBatch,
        TransferAck,
        RepairPush,
        GossipPacket,
        MerklePacket,
        RootsRequest,
        RootsReply,
        ReapQuery,
        ReapVote,
        Reap,
    )
}


_BUILT_RINGS = RingCache()
"""The rings built by the clusters of this process. A ring is immutable and its name
``(version, issuer)`` with its owners says which it is, so the seeds of a sweep, which
start from the same ring and adopt the same first rings, build each one once."""


@functools.lru_cache(maxsize=8)
def _ring(names: tuple[str, ...], n: int, q: int) -> PartitionRing:
    """Rings are immutable: a sweep builds each one once."""
    return PartitionRing.balanced(names, n=n, q=q)


def _key_of(message: Message) -> bytes | None:
    if type(message) is ForwardRequest:
        return message.request.key
    key: bytes | None = getattr(message, "key", None)
    return key


def _label(message: Message) -> str:
    kind = type(message).__name__
    versions = getattr(message, "versions", None)
    if versions is not None:
        dots = ",".join(f"{n}:{c}" for v in versions for n, c in [v.dot])
        hinted = getattr(message, "hinted_for", None)
        return f"{kind}[{dots}]" + (f" hint->{hinted}" if hinted else "")
    return kind
