"""Gossip membership: who is in the cluster, who is alive, and which ring is current (Dynamo §4.8).

Theory of operation
===================

Every node keeps a :class:`GossipMembership`: one :class:`MemberEntry` per node it
has heard of, the current :class:`RingState` (the strategy-3 partition
assignment and its version), and one phi-accrual failure detector per peer.
Once every gossip period (:meth:`GossipMembership.tick`) the node bumps its own
heartbeat counter, picks one peer at random (the injected ``random.Random``)
among the members it knows that have not left, seeds included, and starts a
three-message *push-pull* exchange, as Cassandra does:

1. ``GossipSyn``: the initiator's *digests*, ``(node id, generation, heartbeat,
   status)`` per member (no addresses: small), and its ring version.
2. ``GossipAck``: the responder's full entries that are newer than the digests
   (push), the ids of members on which the initiator knows more (pull request),
   its ring if newer, and whether it wants the initiator's ring.
3. ``GossipAck2``: the entries and the ring that were asked for.

After one exchange both nodes know the union of what they knew; an epidemic of
such exchanges spreads a new fact to all n nodes in O(log n) periods (measured
in :mod:`dynamokv.impl.sim._gossip_sim`).

The merge rule
==============

Entries are ordered so that "newer" is well defined and merging is a lattice
join (commutative, associative, idempotent: the order messages arrive in, and
how often, never matters):

1. **generation** first. A node takes a new generation (incarnation) each time
   it starts; its counters restart, and everything known about its previous life
   is obsolete. The higher generation wins outright.
2. Within a generation, the **heartbeat** counter, which only its owner
   increments, once per period: the higher one is fresher.
3. Within a generation, the **status**, in precedence order
   ``joining < normal < leaving < left``. Status only moves forward within a
   generation; to come back after ``left`` a node starts a new generation.

Within a generation the merge takes heartbeat and status *independently*, each
the maximum (a componentwise join). For entries written by the owner the two
orders agree, since a status change is written together with a heartbeat. They
differ when an administrator's command advances *another* node's status
(Dynamo §4.8.1: an operator removes a node through any node): that entry
carries a stale heartbeat, and a plain "highest heartbeat wins" would let the
node's own next heartbeat undo the command. The componentwise join keeps both
the fresh heartbeat and the forward status.

Explicit membership (Dynamo §4.8.1)
===================================

"A node outage rarely signifies a permanent departure and therefore should not
result in rebalancing of the partition assignment." So the failure detector
only ever *suspects* a node (:meth:`GossipMembership.is_suspected`); the
coordinator routes around suspects (sloppy quorum), and the ring is untouched.
The ring changes only by an administrator's command on some node:
:meth:`GossipMembership.request_join` (the node must have announced itself by
gossip: it starts with status ``joining`` and the seed nodes' addresses) and
:meth:`GossipMembership.request_leave`. The node that serves the command computes
the new assignment with strategy 3 (:mod:`dynamokv.impl.core._partitions`),
gives it the next version, and gossips it; every node adopts the ring with the
higher ``(version, issuer)``. If two commands race on the same version, one
ring wins everywhere; the loser's issuer sees that its change is missing and
re-issues it on top of the winner (its *pending changes*), so no command is lost,
unless it no longer fits the winner's ring (a weighted node's share among its nodes
would be under one partition, or every partition has its own node already): a peer's
ring must never crash a node, so such a change is dropped and counted
(``changes_dropped``), for the administrator to issue again.

Seeds (Dynamo §4.8.2) are nodes whose id and address every node is configured
with. A new node knows only them; they stay gossip candidates forever, which
also heals logical partitions of the gossip graph.

Everything is sans-IO: :meth:`~GossipMembership.tick` and
:meth:`~GossipMembership.receive` take the tick and return effects
(:class:`GossipPacket`, :class:`RingAdopted`, :class:`MemberStatusChanged`,
:class:`SuspicionChanged`); messages are frozen dataclasses of plain fields so a
wire codec can serialize them. A message to send is a :class:`GossipPacket`: the peer
message itself, addressed from this node, which the node sends as it is.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Literal, get_args

from dynamokv.spec.errors import ArgumentError, invariant
from dynamokv.spec.ring import DEFAULT_PARTITION_COUNT, assign_partitions

from ._frozen import fast_init
from ._partitions import PartitionArgumentError, join_weighted, leave_weighted
from ._partitions import join as join_partitions
from ._partitions import leave as leave_partitions
from ._phi import PhiAccrualDetector, PhiConfig, phi_of_silence

if TYPE_CHECKING:
    import random

__all__ = [
    "BOOTSTRAP_ISSUER",
    "STATUS_RANK",
    "EntryDigest",
    "GossipAck",
    "GossipAck2",
    "GossipConfig",
    "GossipEffect",
    "GossipMembership",
    "GossipMessage",
    "GossipMetrics",
    "GossipPacket",
    "GossipSyn",
    "MemberEntry",
    "MemberStatus",
    "MemberStatusChanged",
    "MembershipArgumentError",
    "RingAdopted",
    "RingState",
    "SuspicionChanged",
    "choose_gossip_peer",
    "merge_entries",
    "precedes",
]

MemberStatus = Literal["joining", "normal", "leaving", "left"]
"""A member's place in its lifecycle, in order; it only moves forward within a generation."""

STATUS_RANK: Final[Mapping[str, int]] = MappingProxyType(
    {status: rank for rank, status in enumerate(get_args(MemberStatus))}
)
"""Status precedence for the merge rule: a later lifecycle stage wins."""


BOOTSTRAP_ISSUER: Final = "bootstrap"
"""The issuer of version 1 of a ring every initial node is configured with."""


class MembershipArgumentError(ArgumentError):
    """An administrator's command or a constructor argument cannot be served."""


@fast_init
@dataclass(frozen=True, slots=True)
class MemberEntry:
    """What one node believes about one member.

    Attributes:
        node_id: the member's id.
        address: where to reach it (opaque to the core; the runtime resolves it).
        generation: the member's incarnation, new on every start.
        heartbeat: incremented by the member itself once per gossip period.
        status: ``joining``, ``normal``, ``leaving`` or ``left``.
        weight: the member's share of the partitions relative to the others' (weighted
            strategy 3: a join or a leave gives each node Q·wᵢ/Σw ± 1 partitions); fixed
            for a generation, like the address.
    """

    node_id: str
    address: str
    generation: int
    heartbeat: int
    status: MemberStatus
    weight: int = 1

    def digest(self) -> EntryDigest:
        """The entry without its address, as sent in a :class:`GossipSyn`."""
        return EntryDigest(self.node_id, self.generation, self.heartbeat, self.status)


@fast_init
@dataclass(frozen=True, slots=True)
class EntryDigest:
    """A member entry's version: ``(node id, generation, heartbeat, status)``."""

    node_id: str
    generation: int
    heartbeat: int
    status: MemberStatus


def precedes(a: MemberEntry | EntryDigest, b: MemberEntry | EntryDigest) -> bool:
    """Whether ``a`` carries nothing that ``b`` lacks (``a <= b`` in the merge order).

    Both must describe the same node.
    """
    if a.generation != b.generation:
        return a.generation < b.generation
    return a.heartbeat <= b.heartbeat and STATUS_RANK[a.status] <= STATUS_RANK[b.status]


def merge_entries(a: MemberEntry, b: MemberEntry) -> MemberEntry:
    """The merge rule: the least entry that both ``a`` and ``b`` precede (a lattice join).

    Both describe the same node. The entry of the higher generation wins outright (a
    new generation is a new life of the node). Within one generation the heartbeat is
    the larger of the two, the status the later in ``joining < normal < leaving <
    left``, and the address and the weight each the larger: each independently (an
    admin's leave carries a stale heartbeat but a later status; both must survive).
    """
    if a.node_id != b.node_id:
        invariant(False, "merge_entries: entries of different nodes")
    if a.generation != b.generation:
        return b if precedes(a, b) else a
    if precedes(a, b) and a.address <= b.address and a.weight <= b.weight:
        return b  # the common case: one side is simply newer; no new object
    if precedes(b, a) and b.address <= a.address and b.weight <= a.weight:
        return a
    status = max(a.status, b.status, key=STATUS_RANK.__getitem__)
    return MemberEntry(
        node_id=a.node_id,
        address=max(a.address, b.address),  # equal within a generation; max keeps it symmetric
        generation=a.generation,
        heartbeat=max(a.heartbeat, b.heartbeat),
        status=status,
        weight=max(a.weight, b.weight),
    )


def choose_gossip_peer(candidates: Sequence[str], rng: random.Random) -> str | None:
    """The peer of one gossip round: one of ``candidates``, uniformly at random (Dynamo §4.8.2).

    Uniform choice is what makes gossip an epidemic: each round every node that
    knows a fact tells a random other, so the number that know it roughly doubles
    per round and reaches all n in O(log n) rounds.

    Args:
        candidates: the members a round may pick (sorted; never this node).
        rng: the node's only randomness.

    Returns:
        The chosen peer, or None when there is no candidate.
    """
    if not candidates:
        return None
    return rng.choice(candidates)


@dataclass(frozen=True)
class RingState:
    """A strategy-3 partition assignment and its version.

    Attributes:
        version: incremented by every ring change; 0 is the empty ring.
        issuer: the node that made this version; breaks ties between racing changes.
        owners: the owner of each partition (length Q), or ``()`` for version 0.
    """

    version: int
    issuer: str
    owners: tuple[str, ...]

    def is_newer_than(self, version: int, issuer: str) -> bool:
        """Whether this ring supersedes the ring ``(version, issuer)``."""
        return (self.version, self.issuer) > (version, issuer)

    @functools.cached_property
    def node_set(self) -> frozenset[str]:
        """The nodes that own at least one partition (computed once per ring)."""
        return frozenset(self.owners)

    def nodes(self) -> frozenset[str]:
        """The nodes that own at least one partition."""
        return self.node_set


EMPTY_RING: Final = RingState(version=0, issuer="", owners=())


@fast_init
@dataclass(frozen=True, slots=True)
class GossipSyn:
    """Gossip step 1: the initiator's digests and ring version."""

    sender: str
    sender_address: str
    digests: tuple[EntryDigest, ...]
    ring_version: int
    ring_issuer: str


@fast_init
@dataclass(frozen=True, slots=True)
class GossipAck:
    """Gossip step 2: newer entries for the initiator, and what the responder wants back."""

    sender: str
    sender_address: str
    entries: tuple[MemberEntry, ...]
    requested: tuple[str, ...]
    ring: RingState | None
    ring_requested: bool


@fast_init
@dataclass(frozen=True, slots=True)
class GossipAck2:
    """Gossip step 3: the entries (and ring) the responder asked for."""

    sender: str
    sender_address: str
    entries: tuple[MemberEntry, ...]
    ring: RingState | None


GossipMessage = GossipSyn | GossipAck | GossipAck2


@fast_init
@dataclass(frozen=True, slots=True)
class GossipPacket:
    """A gossip message to a peer, addressed like every other peer message: the view's
    effect "send this", and what travels.

    ``dst_address`` is the address gossip knows for ``dst``, so a runtime can reach a
    node it has only heard of by gossip (a joining node).
    """

    src: str
    dst: str
    dst_address: str
    body: GossipMessage


@fast_init
@dataclass(frozen=True, slots=True)
class RingAdopted:
    """Effect: the view adopted a newer ring; partitions that changed owner must be handed off."""

    previous: RingState
    ring: RingState


@fast_init
@dataclass(frozen=True, slots=True)
class MemberStatusChanged:
    """Effect: a member was learned of (``previous is None``) or its status moved forward."""

    node_id: str
    previous: MemberStatus | None
    status: MemberStatus


@fast_init
@dataclass(frozen=True, slots=True)
class SuspicionChanged:
    """Effect: the failure detector started or stopped suspecting a member.

    The coordinator's health view follows these; hinted handoff replays hints
    for a member when it stops being suspected.
    """

    node_id: str
    suspected: bool


GossipEffect = GossipPacket | RingAdopted | MemberStatusChanged | SuspicionChanged


@dataclass(frozen=True, kw_only=True)
class GossipConfig:
    """Gossip parameters and bounds.

    Attributes:
        gossip_period_ticks: one round per this many ticks (a tick of 100 ms makes it 1 s).
        members_max: bound on the member table; entries for further nodes are dropped.
        digest_entries_max: bound on digests or entries in one message; a message
            with more is rejected, a longer table is sent in rotating slices.
        partition_count: Q, the number of strategy-3 partitions.
        pending_changes_max: bound on admin changes this node issued and still
            watches for (re-issued if a racing change wins).
        change_watch_ticks: how long a satisfied change stays watched; racing rings
            reach every node in O(log n) periods, far sooner.
        phi: the failure detector's parameters, in ticks. The defaults suit a
            10-tick period: heartbeats arrive relayed, so the first one after a
            member is learned of can lag by the O(log n) rounds of an epidemic; the
            first-interval estimate of 3 periods covers that (the simulator counts
            0 false suspicions at 256 nodes), and a crashed node is suspected by
            every view about 6 periods after its last heartbeat reached it.
    """

    gossip_period_ticks: int = 10
    members_max: int = 1024
    digest_entries_max: int = 1024
    partition_count: int = DEFAULT_PARTITION_COUNT
    pending_changes_max: int = 16
    change_watch_ticks: int = 1000
    phi: PhiConfig = field(
        default_factory=lambda: PhiConfig(
            threshold=8.0,
            window_size_max=100,
            min_std_deviation_ticks=5.0,
            acceptable_pause_ticks=20.0,
            first_heartbeat_estimate_ticks=30.0,
        )
    )

    def __post_init__(self) -> None:
        if self.gossip_period_ticks < 1:
            raise MembershipArgumentError("gossip_period_ticks must be at least 1")
        if self.members_max < 1 or self.digest_entries_max < 1:
            raise MembershipArgumentError("members_max and digest_entries_max must be >= 1")
        if self.partition_count < 1 or self.pending_changes_max < 1:
            raise MembershipArgumentError("partition_count and pending_changes_max must be >= 1")


@dataclass
class GossipMetrics:
    """Counters, exported as Prometheus metrics by the runtime."""

    rounds: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    messages_rejected: int = 0
    entries_sent: int = 0
    entries_merged: int = 0
    members_dropped: int = 0
    rings_adopted: int = 0
    rings_rejected: int = 0
    ring_changes_issued: int = 0
    changes_dropped: int = 0
    """Watched admin changes dropped because they no longer fit an adopted ring."""


class ChangeKind(enum.Enum):
    """What an admin command does to the ring: give a node its share, or take it back."""

    JOIN = "join"
    LEAVE = "leave"


@fast_init
@dataclass(frozen=True, slots=True)
class PendingChange:
    """An admin change this node issued and watches, re-issuing it if a racing ring drops it.

    Attributes:
        kind: a join or a leave.
        node_id: the node joined or removed.
        generation: that node's generation at the command; a new life ends the watch.
        issued_tick: when the command was served; satisfied watches expire after
            ``change_watch_ticks``.
    """

    kind: ChangeKind
    node_id: str
    generation: int
    issued_tick: int


class GossipMembership:
    """One node's view of the membership, its failure detectors and the ring (sans-IO).

    Args:
        node_id: this node's id.
        address: this node's address, gossiped to others.
        generation: this incarnation; must exceed every earlier one of this node
            (the runtime persists a counter, or uses its boot time).
        seeds: seed node id -> address (Dynamo §4.8.2); may include this node.
        rng: the randomness for choosing gossip peers.
        config: parameters and bounds.
        status: this node's status at start: ``joining`` for a new node, the
            persisted status for a restart.
        ring: the ring at start (a bootstrap ring, or the persisted one), else empty.
        now: the tick at start.
        merge_rule: the merge rule (:func:`merge_entries`); the node's
            :class:`~dynamokv.impl.core.Seams` may replace it, as it may
            ``choose_peer`` (:func:`choose_gossip_peer`) and ``phi_rule`` (the
            suspicion function, :func:`~dynamokv.impl.core._phi.phi_of_silence`).

    Attributes:
        next_round_tick: the tick of the next gossip round (drivers arm a timer for it;
            a plain attribute because the node reads it after every step).
    """

    def __init__(
        self,
        node_id: str,
        address: str,
        *,
        generation: int,
        seeds: Mapping[str, str],
        rng: random.Random,
        config: GossipConfig | None = None,
        status: MemberStatus = "joining",
        ring: RingState | None = None,
        now: int = 0,
        merge_rule: Callable[[MemberEntry, MemberEntry], MemberEntry] = merge_entries,
        choose_peer: Callable[[Sequence[str], random.Random], str | None] = choose_gossip_peer,
        phi_rule: Callable[[float, float, float], float] = phi_of_silence,
        weight: int = 1,
    ) -> None:
        """Create the view; see the class docstring for the arguments."""
        self.config = config if config is not None else GossipConfig()
        if not node_id:
            raise MembershipArgumentError("node_id must not be empty")
        if generation < 0:
            raise MembershipArgumentError("generation must not be negative")
        if status not in STATUS_RANK:
            raise MembershipArgumentError(f"unknown status {status!r}")
        ring = ring if ring is not None else EMPTY_RING
        if not self._ring_is_valid(ring):
            raise MembershipArgumentError("ring: wrong number of partitions for its version")
        self.node_id = node_id
        self.address = address
        self.seeds: dict[str, str] = dict(seeds)
        self.metrics = GossipMetrics()
        self._rng = rng
        self._merge_rule = merge_rule
        self._choose_peer_rule = choose_peer
        self._phi_rule = phi_rule
        self._ring = ring
        self._members: dict[str, MemberEntry] = {
            node_id: MemberEntry(node_id, address, generation, 0, status, weight)
        }
        self._detectors: dict[str, PhiAccrualDetector] = {}
        self._suspected: set[str] = set()
        self._pending: list[PendingChange] = []
        self._candidates: tuple[str, ...] | None = None  # cached gossip_candidates()
        self._digest_offset = 0
        # The digest last made of each member's entry, kept while the entry is the same
        # object: most entries do not change between two rounds.
        self._digest_of: dict[str, tuple[MemberEntry, EntryDigest]] = {}
        period = self.config.gossip_period_ticks
        # Start at a random phase of the period, so that nodes do not gossip in lockstep.
        self.next_round_tick = now + rng.randrange(period)

    # ------------------------------------------------------------------ queries

    @property
    def ring(self) -> RingState:
        """The newest ring this node has adopted."""
        return self._ring

    @property
    def self_entry(self) -> MemberEntry:
        """This node's own entry."""
        return self._members[self.node_id]

    @property
    def members(self) -> Mapping[str, MemberEntry]:
        """Every member this node knows of, by id (including itself and those that left)."""
        return self._members

    def entry(self, node_id: str) -> MemberEntry | None:
        """The entry for ``node_id``, or ``None`` if it is unknown."""
        return self._members.get(node_id)

    def phi(self, node_id: str, now: int) -> float:
        """The failure detector's phi for ``node_id`` (0 for itself or an unheard node)."""
        detector = self._detectors.get(node_id)
        return detector.phi(now) if detector is not None else 0.0

    def is_suspected(self, node_id: str, now: int) -> bool:
        """Whether ``node_id`` is suspected of having failed. Never true for this node.

        Suspicion is local and temporary; it never changes the ring (Dynamo §4.8.1).
        """
        detector = self._detectors.get(node_id)
        return detector is not None and detector.is_suspected(now)

    def health(self, now: int) -> dict[str, bool]:
        """``node id -> alive`` for every node of the ring: the coordinator's health view."""
        return {node: not self.is_suspected(node, now) for node in sorted(self._ring.nodes())}

    def pending_changes(self) -> tuple[PendingChange, ...]:
        """Admin changes issued here and still watched (see :class:`PendingChange`)."""
        return tuple(self._pending)

    # ------------------------------------------------------------------ the round

    def tick(self, now: int) -> list[GossipEffect]:
        """Advance to tick ``now``: at most one gossip round, and suspicion changes.

        Returns:
            :class:`GossipPacket` for the round's ``GossipSyn`` (if a round is due and a
            peer is known) and :class:`SuspicionChanged` for members whose suspicion
            flipped since the previous round.
        """
        if now < self.next_round_tick:
            return []
        period = self.config.gossip_period_ticks
        self.next_round_tick += period * (1 + (now - self.next_round_tick) // period)
        self.metrics.rounds += 1
        if self._pending:
            self._expire_watches(now)
        effects: list[GossipEffect] = self._update_suspicions(now)
        members = self._members
        own = members[self.node_id]
        members[self.node_id] = MemberEntry(
            own.node_id, own.address, own.generation, own.heartbeat + 1, own.status, own.weight
        )
        peer = self._choose_peer()
        if peer is not None:
            syn = GossipSyn(
                sender=self.node_id,
                sender_address=self.address,
                digests=self._digests(),
                ring_version=self._ring.version,
                ring_issuer=self._ring.issuer,
            )
            effects.append(self._send(peer, syn, entries=0))
        return effects

    def _update_suspicions(self, now: int) -> list[GossipEffect]:
        """The members whose suspicion flipped, as effects in the order of their ids."""
        suspects = self._suspected
        flipped = [
            node_id
            for node_id, detector in self._detectors.items()
            if detector.is_suspected(now) != (node_id in suspects)
        ]
        if not flipped:
            return []
        changes: list[GossipEffect] = []
        for node_id in sorted(flipped):
            if node_id in suspects:
                suspects.discard(node_id)
                changes.append(SuspicionChanged(node_id, False))
            else:
                suspects.add(node_id)
                changes.append(SuspicionChanged(node_id, True))
        return changes

    def gossip_candidates(self) -> tuple[str, ...]:
        """The peers a round may pick, sorted: known members that have not left, and seeds.

        Suspected members stay candidates: gossiping to them is how their return is noticed.
        Seeds stay candidates even after they left (Dynamo §4.8.2: every node eventually
        reconciles its view with a seed). A seed that left and starts again knows little
        more than the seeds; if the others stopped calling it, it and they would form two
        gossip groups that never meet again, whatever ring either side adopts.
        """
        if self._candidates is None:
            known = {
                node_id
                for node_id, entry in self._members.items()
                if node_id != self.node_id and entry.status != "left"
            }
            seeds = {seed for seed in self.seeds if seed != self.node_id}
            self._candidates = tuple(sorted(known | seeds))
        return self._candidates

    def _choose_peer(self) -> str | None:
        return self._choose_peer_rule(self.gossip_candidates(), self._rng)

    def _digests(self) -> tuple[EntryDigest, ...]:
        members = self._members
        bound = self.config.digest_entries_max
        entries: Iterable[MemberEntry]
        if len(members) <= bound:
            entries = members.values()
        else:
            # More members than one message holds: own entry, then a slice that rotates
            # each round so that every entry is offered eventually.
            others = sorted(node_id for node_id in members if node_id != self.node_id)
            offset = self._digest_offset
            self._digest_offset += bound - 1
            chosen = [others[(offset + i) % len(others)] for i in range(bound - 1)]
            entries = [members[node_id] for node_id in [self.node_id, *chosen]]
        # An entry's digest is made once and reused while the entry is the same object.
        digest_of = self._digest_of
        digests = []
        for entry in entries:
            cached = digest_of.get(entry.node_id)
            if cached is None or cached[0] is not entry:
                cached = digest_of[entry.node_id] = (entry, entry.digest())
            digests.append(cached[1])
        return tuple(digests)

    def _address_of(self, node_id: str, fallback: str = "") -> str:
        entry = self._members.get(node_id)
        if entry is not None:
            return entry.address
        return self.seeds.get(node_id, fallback)

    def _send(
        self, destination: str, message: GossipMessage, *, entries: int, address: str = ""
    ) -> GossipPacket:
        self.metrics.messages_sent += 1
        self.metrics.entries_sent += entries
        return GossipPacket(
            self.node_id, destination, self._address_of(destination, address), message
        )

    # ------------------------------------------------------------------ receiving

    def receive(self, message: GossipMessage, now: int) -> list[GossipEffect]:
        """Handle a gossip message that arrived at tick ``now``.

        A message over the bounds, or that claims to come from this node, is
        rejected (counted in ``metrics.messages_rejected``) and changes nothing:
        a bad peer is an operating error, not a bug of ours.
        """
        self.metrics.messages_received += 1
        if not self._acceptable(message):
            self.metrics.messages_rejected += 1
            return []
        if isinstance(message, GossipSyn):
            return self._on_syn(message)
        effects: list[GossipEffect] = []
        for entry in message.entries:
            effects += self._merge(entry, now)
        if message.ring is not None:
            effects += self._adopt(message.ring)
        if isinstance(message, GossipAck):
            wanted = [
                self._members[node_id] for node_id in message.requested if node_id in self._members
            ]
            ring = self._ring if message.ring_requested and self._ring.version > 0 else None
            if wanted or ring is not None:
                ack2 = GossipAck2(self.node_id, self.address, tuple(wanted), ring)
                effects.append(
                    self._send(
                        message.sender, ack2, entries=len(wanted), address=message.sender_address
                    )
                )
        return effects

    def _acceptable(self, message: GossipMessage) -> bool:
        if message.sender == self.node_id or not message.sender:
            return False
        bound = self.config.digest_entries_max
        if isinstance(message, GossipSyn):
            return len(message.digests) <= bound
        if isinstance(message, GossipAck) and len(message.requested) > bound:
            return False
        return len(message.entries) <= bound

    def _on_syn(self, syn: GossipSyn) -> list[GossipEffect]:
        bound = self.config.digest_entries_max
        push: list[MemberEntry] = []
        pull: list[str] = []
        mentioned: set[str] = set()
        members = self._members
        for digest in syn.digests:
            node_id = digest.node_id
            mentioned.add(node_id)
            mine = members.get(node_id)
            if mine is None or not precedes(digest, mine):
                pull.append(node_id)
            if mine is not None and not precedes(mine, digest):
                push.append(mine)
        push += [entry for node_id, entry in members.items() if node_id not in mentioned]
        ring: RingState | None = None
        if self._ring.is_newer_than(syn.ring_version, syn.ring_issuer):
            ring = self._ring
        ring_requested = (syn.ring_version, syn.ring_issuer) > (
            self._ring.version,
            self._ring.issuer,
        )
        ack = GossipAck(
            sender=self.node_id,
            sender_address=self.address,
            entries=tuple(push[:bound]),
            requested=tuple(pull[:bound]),
            ring=ring,
            ring_requested=ring_requested,
        )
        return [self._send(syn.sender, ack, entries=len(ack.entries), address=syn.sender_address)]

    def _merge(self, incoming: MemberEntry, now: int) -> list[GossipEffect]:
        mine = self._members.get(incoming.node_id)
        if incoming.status not in STATUS_RANK:
            self.metrics.messages_rejected += 1
            return []
        if mine is None:
            if len(self._members) >= self.config.members_max:
                self.metrics.members_dropped += 1
                return []
            self._members[incoming.node_id] = incoming
            self._candidates = None
            self.metrics.entries_merged += 1
            detector = PhiAccrualDetector(self.config.phi, phi_rule=self._phi_rule)
            detector.heartbeat(now)
            self._detectors[incoming.node_id] = detector
            return [MemberStatusChanged(incoming.node_id, None, incoming.status)]
        if precedes(incoming, mine):
            return []  # nothing new: the common case, kept cheap
        if incoming.node_id == self.node_id and incoming.generation > mine.generation:
            # A peer claims a later life of this node than the one running: stale
            # state from a reused id. Keep our own generation (counted, not merged).
            self.metrics.messages_rejected += 1
            return []
        merged = self._merge_rule(mine, incoming)
        if merged == mine:
            return []
        self._members[incoming.node_id] = merged
        self.metrics.entries_merged += 1
        effects: list[GossipEffect] = []
        if incoming.node_id != self.node_id and (merged.generation, merged.heartbeat) != (
            mine.generation,
            mine.heartbeat,
        ):
            if merged.generation != mine.generation:
                self._detectors[incoming.node_id] = PhiAccrualDetector(
                    self.config.phi, phi_rule=self._phi_rule
                )
            self._detectors[incoming.node_id].heartbeat(now)
        if merged.status != mine.status:
            self._candidates = None
            effects.append(MemberStatusChanged(merged.node_id, mine.status, merged.status))
        return effects

    # ------------------------------------------------------------------ the ring

    def _ring_is_valid(self, ring: RingState) -> bool:
        """Version 0 is the empty ring; every later version names an owner per partition."""
        owners_count = self.config.partition_count if ring.version else 0
        return ring.version >= 0 and len(ring.owners) == owners_count

    def _adopt(self, ring: RingState) -> list[GossipEffect]:
        if not ring.is_newer_than(self._ring.version, self._ring.issuer):
            return []
        if not self._ring_is_valid(ring):
            self.metrics.rings_rejected += 1
            return []
        previous = self._ring
        self._ring = ring
        self.metrics.rings_adopted += 1
        effects: list[GossipEffect] = [RingAdopted(previous, ring)]
        # A node is normal once it has seen itself in a ring. Other members' statuses
        # are written only by admin commands: a ring that lost a race must not demote.
        if self.node_id in ring.nodes():
            if STATUS_RANK[self.self_entry.status] >= STATUS_RANK["leaving"]:
                # Told to leave, yet in this ring: a ring that lacked the leave won a tie
                # against the one that made it (and the node that served the leave may
                # have restarted since, forgetting its watch). The leaving node itself
                # issues its leave again.
                effects += self._leave_again()
            else:
                effects += self._advance_status(self.node_id, "normal")
        effects += self._reissue_pending()
        return effects

    def _advance_status(self, node_id: str, status: MemberStatus) -> list[GossipEffect]:
        entry = self._members.get(node_id)
        if entry is None or STATUS_RANK[entry.status] >= STATUS_RANK[status]:
            return []
        self._members[node_id] = MemberEntry(
            entry.node_id, entry.address, entry.generation, entry.heartbeat, status, entry.weight
        )
        self._candidates = None
        return [MemberStatusChanged(node_id, entry.status, status)]

    def _reissue_pending(self) -> list[GossipEffect]:
        nodes = self._ring.nodes()
        kept: list[PendingChange] = []
        unsatisfied: list[PendingChange] = []
        for watch in self._pending:
            entry = self._members.get(watch.node_id)
            if entry is None or entry.generation != watch.generation:
                # The node started a new life: this command is history (a node restarted
                # while leaving goes on leaving, and issues its leave again itself if a
                # ring still holds it: see _adopt).
                continue
            if watch.kind == ChangeKind.JOIN:
                if STATUS_RANK[entry.status] >= STATUS_RANK["leaving"]:
                    continue  # a later leave overrides the join
                if watch.node_id not in nodes:
                    unsatisfied.append(watch)
            else:
                # A leave holds until the node has left and is out of the ring: a node
                # can hand off, mark itself left, and be put back by a rival ring that
                # wins the tie.
                if watch.node_id in nodes and len(nodes) >= 2:
                    unsatisfied.append(watch)
                elif entry.status == "left":
                    continue  # out of the ring, its data handed off: done
            kept.append(watch)
        self._pending = kept
        if not unsatisfied:
            return []
        owners = self._ring.owners
        applied = False
        for watch in unsatisfied:
            try:
                owners = self._changed_owners(owners, watch.kind, watch.node_id)
            except MembershipArgumentError:
                # The change no longer fits the ring a peer made: dropped and counted,
                # never raised (the module docstring says why).
                self._pending.remove(watch)
                self.metrics.changes_dropped += 1
                continue
            applied = True
        if not applied:
            return []
        return self._issue(owners)

    def _expire_watches(self, now: int) -> None:
        nodes = self._ring.nodes()
        self._pending = [
            watch
            for watch in self._pending
            if now - watch.issued_tick < self.config.change_watch_ticks
            or (watch.kind == ChangeKind.JOIN) != (watch.node_id in nodes)
        ]

    def _changed_owners(
        self, owners: tuple[str, ...], kind: ChangeKind, node_id: str
    ) -> tuple[str, ...]:
        leaving = kind == ChangeKind.LEAVE
        if leaving != (node_id in owners):
            return owners  # a leave of a node that owns nothing, a join of one that owns some
        if not owners:
            return assign_partitions([node_id], self.config.partition_count)
        weights = self._weights({*owners, node_id})
        try:
            if all(weight == 1 for weight in weights.values()):
                if leaving:
                    return leave_partitions(owners, node_id)
                return join_partitions(owners, node_id)
            if leaving:
                return leave_weighted(owners, weights, node_id)
            return join_weighted(owners, weights, node_id)
        except PartitionArgumentError as error:
            raise MembershipArgumentError(f"{kind.value}: {error}") from error

    def _weights(self, nodes: set[str]) -> dict[str, int]:
        """Each node's gossiped weight (1 for a node not heard of yet)."""
        members = self._members
        return {node: members[node].weight if node in members else 1 for node in nodes}

    @property
    def issuer(self) -> str:
        """How rings made here are signed: ``node_id#generation``.

        The generation makes the name unique per incarnation: a node that crashed
        before its new ring was durable may issue a *different* ring of the same
        version after restarting, and two rings must never share a name, or views
        holding either would never adopt the other.
        """
        return f"{self.node_id}#{self.self_entry.generation}"

    def _leave_again(self) -> list[GossipEffect]:
        if len(set(self._ring.owners)) < 2:
            self.metrics.changes_dropped += 1  # the last node stays
            return []
        try:
            owners = self._changed_owners(self._ring.owners, ChangeKind.LEAVE, self.node_id)
        except MembershipArgumentError:
            self.metrics.changes_dropped += 1
            return []
        return self._issue(owners)

    def _issue(self, owners: tuple[str, ...]) -> list[GossipEffect]:
        ring = RingState(self._ring.version + 1, self.issuer, owners)
        self.metrics.ring_changes_issued += 1
        return self._adopt(ring)

    # ------------------------------------------------------------------ admin commands

    def request_join(self, node_id: str, now: int) -> list[GossipEffect]:
        """Admin command (Dynamo §4.8.1): give ``node_id`` its strategy-3 share of the ring.

        The node must be known here with status ``joining`` (it announced itself by
        gossip). The new ring is adopted at once and gossiped; the stolen partitions'
        data moves by handoff, the old owners serving them meanwhile.

        Raises:
            MembershipArgumentError: the node is unknown, not joining, or the ring has
                no partition to spare (Q must exceed the number of nodes), the weighted
                rule cannot give a member a partition, or too many changes are watched
                here. A refused join changes nothing.
        """
        entry = self._members.get(node_id)
        if entry is None:
            raise MembershipArgumentError(f"join: {node_id!r} is not known here yet")
        if node_id in self._ring.nodes():
            raise MembershipArgumentError(f"join: {node_id!r} already owns partitions")
        if STATUS_RANK[entry.status] > STATUS_RANK["normal"]:
            raise MembershipArgumentError(f"join: {node_id!r} is {entry.status}, not joining")
        if len(self._ring.nodes()) >= self.config.partition_count:
            raise MembershipArgumentError("join: every partition already has its own node")
        # The new ring first: a change the partitioning refuses leaves nothing behind.
        owners = self._changed_owners(self._ring.owners, ChangeKind.JOIN, node_id)
        self._watch(PendingChange(ChangeKind.JOIN, node_id, entry.generation, now))
        return self._issue(owners)

    def request_leave(self, node_id: str, now: int) -> list[GossipEffect]:
        """Admin command (Dynamo §4.8.1): hand ``node_id``'s partitions to the others.

        Works whether the node is alive (it then hands its data off and calls
        :meth:`mark_left`) or permanently dead (the new owners repair from the other
        replicas by anti-entropy).

        Raises:
            MembershipArgumentError: the node owns no partition or is the last one, the
                weighted rule cannot give a member a partition, or too many changes are
                watched here. A refused leave changes nothing.
        """
        if node_id not in self._ring.nodes():
            raise MembershipArgumentError(f"leave: {node_id!r} owns no partition")
        if len(self._ring.nodes()) < 2:
            raise MembershipArgumentError(f"leave: {node_id!r} is the last node")
        # The new ring first: a refused leave neither watches nor gossips the node as
        # leaving (a status no later gossip of this generation could take back).
        owners = self._changed_owners(self._ring.owners, ChangeKind.LEAVE, node_id)
        entry = self._members.get(node_id)
        generation = entry.generation if entry is not None else 0
        self._watch(PendingChange(ChangeKind.LEAVE, node_id, generation, now))
        return self._advance_status(node_id, "leaving") + self._issue(owners)

    def resume_leaving(self) -> None:
        """This node starts outside its ring with data or hints still to hand off: it was
        leaving when it stopped, and its new life goes on leaving (a life as ``joining``
        would tell the others no member is leaving while data still waits to move)."""
        self._advance_status(self.node_id, "leaving")

    def mark_left(self, node_id: str) -> list[GossipEffect]:
        """Record that ``node_id``, out of the ring now, has finished leaving.

        Called by the leaving node once its handoff completes, or by an admin for a
        dead node. A ``left`` member is not gossiped to from then on unless it is a seed;
        to return, it starts a new generation as ``joining``.

        Raises:
            MembershipArgumentError: the node is unknown or still owns partitions.
        """
        if node_id not in self._members:
            raise MembershipArgumentError(f"mark_left: {node_id!r} is not known here")
        if node_id in self._ring.nodes():
            raise MembershipArgumentError(f"mark_left: {node_id!r} still owns partitions")
        return self._advance_status(node_id, "left")

    def _watch(self, change: PendingChange) -> None:
        self._pending = [
            watch
            for watch in self._pending
            if (watch.kind, watch.node_id) != (change.kind, change.node_id)
        ]
        if len(self._pending) >= self.config.pending_changes_max:
            raise MembershipArgumentError("too many membership changes in flight here")
        self._pending.append(change)
