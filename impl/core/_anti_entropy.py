"""Anti-entropy (Dynamo §4.7): replicas compare Merkle trees and exchange what differs.

Replicas drift apart when a hint is dropped at its bound or lost with a crashed
substitute. Dynamo repairs them in the background: "each node maintains a separate
Merkle tree for each key range ... two nodes exchange the root of the Merkle tree
corresponding to the key ranges that they host in common" and descend only where hashes
differ. The traffic is proportional to the difference, not to the data. The trees are
kept by :mod:`~dynamokv.impl.core._merkle`; this module compares them.

When and with whom (:class:`AntiEntropyRounds`)
===============================================

Every ``anti_entropy_interval_ticks`` the node sends one peer (in turn) a
:class:`~dynamokv.impl.core.RootsRequest` with the roots of the partitions both own: a
flat "tree of roots", so replicas that agree cost one round trip per peer instead of one
per partition. Only the partitions whose roots differ get a full top-down exchange, at
most ``exchanges_in_flight_max`` at a time, queued up to ``exchange_queue_max``.
Differing keys travel as :class:`~dynamokv.impl.core.RepairPush` and are *merged* by
vector clock by the receiving replica. A peer that just stopped being suspected is left
alone for ``recovery_grace_ticks``, so that hinted handoff replays first and the
exchange repairs only what the hints missed (Dynamo §4.6, then §4.7).

The exchange (:class:`AntiEntropy`)
===================================

Sans-IO, initiator-driven, and stateless on the responder:

1. the initiator sends :class:`MerkleCompareRequest`: its hashes for some nodes of
   one level (starting with the root);
2. the responder compares them with its own and answers
   :class:`MerkleCompareReply` with the indexes that differ;
3. the initiator queues the children of differing inner nodes and, for differing
   leaves, sends :class:`MerkleBucketsRequest`: its ``(key, value_hash)`` pairs of
   those buckets (in key-range slices, so a message stays bounded however full a
   bucket is);
4. the responder answers :class:`MerkleBucketsReply` with the keys that differ in
   those slices: hash differs, or one side lacks the key.

Both sides then emit :class:`RepairKeys`: "send your versions of these keys to the
peer"; the replication layer merges what arrives (syntactic reconciliation by
vector clock, never an overwrite). Pacing: at most ``exchanges_in_flight_max``
exchanges per node, ``exchange_requests_in_flight_max`` requests per exchange,
``exchange_nodes_per_message_max`` hashes and ``exchange_entries_per_message_max``
pairs per message; an exchange without an answer for ``exchange_timeout_ticks``
is abandoned (the next one starts over). Repair is background work; these bounds
keep it from starving foreground requests.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import msgpack
from dynamokv.spec.errors import invariant

from ._count import Count
from ._frozen import fast_init
from ._health import HealthView
from ._merkle import MerkleTrees, PartitionMerkleTree
from ._messages import (
    BucketSlice,
    MerkleBucketsReply,
    MerkleBucketsRequest,
    MerkleCompareReply,
    MerkleCompareRequest,
    MerkleMessage,
    MerklePacket,
    RepairPush,
    RootsReply,
    RootsRequest,
)
from ._node_config import AntiEntropyConfig, MemberConfig, MemberStats
from ._outbox import Outbox
from ._ring import PartitionRing
from ._versions import Version, bounded_batch

__all__ = [
    "AntiEntropy",
    "AntiEntropyEffect",
    "AntiEntropyMetrics",
    "AntiEntropyRounds",
    "ExchangeFinished",
    "MerkleSend",
    "RepairKeys",
    "merkle_descend",
    "wire_bytes",
]


@fast_init
@dataclass(frozen=True, slots=True)
class MerkleSend:
    """Effect: send ``message`` to node ``destination``."""

    destination: str
    message: MerkleMessage


@fast_init
@dataclass(frozen=True, slots=True)
class RepairKeys:
    """Effect: send this replica's versions of ``keys`` (those it holds) to ``peer``.

    The peer merges them with its own by vector clock (Dynamo §4.4), never overwrites.
    """

    peer: str
    partition: int
    keys: tuple[bytes, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class ExchangeFinished:
    """Effect: an exchange this node started ended.

    Attributes:
        peer: the other replica.
        partition: the partition compared.
        ok: false if it was abandoned (timeout, or the peer had no such tree).
        keys_differing: keys found to differ (0 when the roots matched).
        nodes_compared: hashes compared, leaves included (the spec's ``nodes_compared``).
    """

    peer: str
    partition: int
    ok: bool
    keys_differing: int
    nodes_compared: int


AntiEntropyEffect = MerkleSend | RepairKeys | ExchangeFinished


def _fields(value: object) -> list[object]:
    """A message dataclass as the list of its field values, for msgpack's ``default`` (called
    again for a nested message; tuples pack as arrays by themselves): the bytes of
    ``dataclasses.astuple`` without its walk and deep copies."""
    names = getattr(value.__class__, "__dataclass_fields__", None)
    if names is None:
        raise TypeError(f"cannot measure a {value.__class__.__name__}")
    return [getattr(value, name) for name in names]


def wire_bytes(message: MerkleMessage) -> int:
    """The message's size as msgpack of its fields (the node-to-node codec's body)."""
    packed: bytes = msgpack.packb(message, default=_fields, use_bin_type=True)
    return len(packed)


@dataclass
class AntiEntropyMetrics:
    """Counters, exported as Prometheus metrics by the runtime.

    Attributes:
        trees_compared: exchanges started (one tree pair each).
        nodes_exchanged: node hashes sent in compare requests.
        keys_repaired: differing keys found by exchanges this node started.
        bytes_sent: :func:`wire_bytes` of every message this node sent.
        messages_sent: messages this node sent, either role.
        exchanges_completed: exchanges that ran to the end.
        exchanges_abandoned: exchanges dropped on timeout or a refusal.
    """

    trees_compared: int = 0
    nodes_exchanged: int = 0
    keys_repaired: int = 0
    bytes_sent: int = 0
    messages_sent: int = 0
    exchanges_completed: int = 0
    exchanges_abandoned: int = 0


def merkle_descend(
    level: int, depth: int, compared: Sequence[int], differing: Sequence[int]
) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """One step of the top-down Merkle diff (Dynamo §4.7): where to look next.

    Two replicas compared the hashes of the nodes ``compared`` at ``level`` of their
    trees (0: the root; ``depth``: the leaves, one bucket of keys each), and those in
    ``differing`` differ. Equal hashes mean equal subtrees: nothing under them needs
    comparing. Under a differing inner node both children are compared next; a
    differing leaf's keys are compared one by one.

    Args:
        level: the level of the nodes just compared.
        depth: the trees' depth (the level of the leaves).
        compared: the indexes (within the level) of the nodes compared.
        differing: those of them whose hashes differ.

    Returns:
        ``(nodes, leaves)``: the node pairs to compare next, as ``(level + 1, index)``
        with the children of node ``i`` at indexes ``2i`` and ``2i + 1``, in order; and
        the indexes of the leaves whose keys to compare.

    Example:
        >>> merkle_descend(0, 3, (0,), (0,))
        (((1, 0), (1, 1)), ())
        >>> merkle_descend(3, 3, (4, 5), (5,))
        ((), (5,))
    """
    if level == depth:
        return (), tuple(differing)
    return tuple(
        (level + 1, child) for index in differing for child in (2 * index, 2 * index + 1)
    ), ()


class _Exchange:
    """The initiator's state of one exchange: a work queue and the requests out."""

    def __init__(self, exchange_id: int, peer: str, tree: PartitionMerkleTree, now: int) -> None:
        self.exchange_id = exchange_id
        self.peer = peer
        self.tree = tree
        self.frontier: deque[tuple[int, int]] = deque([(0, 0)])  # (level, index) to compare
        self.buckets: deque[int] = deque()  # differing leaves to diff key by key
        self.resume_key = b""  # where the first queued bucket continues, if it was cut
        self.outstanding: set[int] = set()
        # request id -> (level, node indexes) sent: a reply is read against what was asked
        self.compared: dict[int, tuple[int, tuple[int, ...]]] = {}
        self.request_ids = Count()  # opaque: a reply is matched to its request
        self.last_progress_tick = now
        self.keys: set[bytes] = set()
        self.nodes_compared = 0


class AntiEntropy:
    """One node's anti-entropy: the exchanges it initiates, and answers to its peers.

    Args:
        node_id: this node's id.
        config: pacing and bounds.
    """

    def __init__(
        self,
        node_id: str,
        config: AntiEntropyConfig | None = None,
        *,
        descend: Callable[
            [int, int, Sequence[int], Sequence[int]],
            tuple[tuple[tuple[int, int], ...], tuple[int, ...]],
        ] = merkle_descend,
        first_id: int = 0,
    ) -> None:
        """Create an idle anti-entropy engine.

        ``descend`` is the top-down walk's step (:func:`merkle_descend`); only labs and
        tests pass another, through the node's :class:`~dynamokv.impl.core.Seams`.
        """
        self.node_id = node_id
        self._descend = descend
        self.config = config if config is not None else AntiEntropyConfig()
        self.metrics = AntiEntropyMetrics()
        self._exchanges: dict[int, _Exchange] = {}
        # Opaque: a reply is matched to its exchange. From ``first_id``, one per life of the
        # node, so that a reply meant for an exchange of an earlier life matches none.
        self._exchange_ids = Count(first_id)

    @property
    def exchanges_in_flight(self) -> int:
        """Exchanges started here and not finished."""
        return len(self._exchanges)

    def _send(self, destination: str, message: MerkleMessage) -> MerkleSend:
        self.metrics.messages_sent += 1
        self.metrics.bytes_sent += wire_bytes(message)
        return MerkleSend(destination, message)

    # -------------------------------------------------------------- initiator

    def start_exchange(
        self, peer: str, tree: PartitionMerkleTree, now: int
    ) -> list[AntiEntropyEffect] | None:
        """Start comparing ``tree`` with ``peer``'s tree of the same partition.

        Returns:
            The first messages, or ``None`` when ``exchanges_in_flight_max`` exchanges
            are already running (try again later: that is the pacing).
        """
        if len(self._exchanges) >= self.config.exchanges_in_flight_max:
            return None
        exchange = _Exchange(next(self._exchange_ids), peer, tree, now)
        self._exchanges[exchange.exchange_id] = exchange
        self.metrics.trees_compared += 1
        return self._pump(exchange)

    def _pump(self, exchange: _Exchange) -> list[AntiEntropyEffect]:
        """Send requests for queued work while the exchange's window has room."""
        config = self.config
        tree = exchange.tree
        effects: list[AntiEntropyEffect] = []
        while len(exchange.outstanding) < config.exchange_requests_in_flight_max and (
            exchange.frontier or exchange.buckets
        ):
            request_id = next(exchange.request_ids)
            message: MerkleMessage
            if exchange.frontier:
                level = exchange.frontier[0][0]
                indexes: list[int] = []
                while (
                    exchange.frontier
                    and exchange.frontier[0][0] == level
                    and len(indexes) < config.exchange_nodes_per_message_max
                ):
                    indexes.append(exchange.frontier.popleft()[1])
                hashes = tuple(tree.node_hash(level, index) for index in indexes)
                exchange.compared[request_id] = (level, tuple(indexes))
                exchange.nodes_compared += len(indexes)
                self.metrics.nodes_exchanged += len(indexes)
                message = MerkleCompareRequest(
                    exchange.exchange_id,
                    request_id,
                    self.node_id,
                    tree.partition,
                    tree.depth,
                    level,
                    tuple(indexes),
                    hashes,
                )
            else:
                message = MerkleBucketsRequest(
                    exchange.exchange_id,
                    request_id,
                    self.node_id,
                    tree.partition,
                    tree.depth,
                    self._slices(exchange),
                )
            exchange.outstanding.add(request_id)
            effects.append(self._send(exchange.peer, message))
        if not exchange.outstanding:
            effects += self._finish(exchange, ok=True)
        return effects

    def _slices(self, exchange: _Exchange) -> tuple[BucketSlice, ...]:
        """Pack queued buckets into one request, cutting a big bucket at a key.

        The cut's upper part stays queued, resumed from ``exchange.resume_key``; a
        slice is a key range, so the responder diffs exactly the keys it covers.
        """
        budget = self.config.exchange_entries_per_message_max
        slices: list[BucketSlice] = []
        while (
            exchange.buckets
            and budget > 0
            and len(slices) < self.config.exchange_nodes_per_message_max
        ):
            bucket = exchange.buckets[0]
            low = exchange.resume_key
            pending = sorted(
                pair for pair in exchange.tree.bucket(bucket).items() if pair[0] >= low
            )
            taken, rest = pending[:budget], pending[budget:]
            high = rest[0][0] if rest else None
            slices.append(BucketSlice(bucket, low, high, tuple(taken)))
            budget -= len(taken)
            if high is None:
                exchange.buckets.popleft()
                exchange.resume_key = b""
            else:
                exchange.resume_key = high
        invariant(bool(slices), "merkle: a buckets request must carry a slice")
        return tuple(slices)

    def _finish(self, exchange: _Exchange, *, ok: bool) -> list[AntiEntropyEffect]:
        del self._exchanges[exchange.exchange_id]
        if ok:
            self.metrics.exchanges_completed += 1
            self.metrics.keys_repaired += len(exchange.keys)
        else:
            self.metrics.exchanges_abandoned += 1
        effects: list[AntiEntropyEffect] = []
        if ok and exchange.keys:
            keys = tuple(sorted(exchange.keys))
            effects.append(RepairKeys(exchange.peer, exchange.tree.partition, keys))
        effects.append(
            ExchangeFinished(
                exchange.peer,
                exchange.tree.partition,
                ok,
                len(exchange.keys),
                exchange.nodes_compared,
            )
        )
        return effects

    def tick(self, now: int) -> list[AntiEntropyEffect]:
        """Abandon exchanges that made no progress for ``exchange_timeout_ticks``."""
        effects: list[AntiEntropyEffect] = []
        for exchange in list(self._exchanges.values()):
            if now - exchange.last_progress_tick >= self.config.exchange_timeout_ticks:
                effects += self._finish(exchange, ok=False)
        return effects

    # -------------------------------------------------------------- both roles

    def receive(
        self, message: MerkleMessage, now: int, tree: PartitionMerkleTree | None
    ) -> list[AntiEntropyEffect]:
        """Handle a message; ``tree`` is this node's tree for ``message.partition``, if any.

        Requests are answered statelessly from ``tree``; replies advance the
        exchange they belong to (late replies of abandoned exchanges are ignored).
        """
        if isinstance(message, MerkleCompareRequest):
            return [self._send(message.sender, self._answer_compare(message, tree))]
        if isinstance(message, MerkleBucketsRequest):
            reply = self._answer_buckets(message, tree)
            effects: list[AntiEntropyEffect] = [self._send(message.sender, reply)]
            if reply.keys:
                effects.append(RepairKeys(message.sender, message.partition, reply.keys))
            return effects
        exchange = self._exchanges.get(message.exchange_id)
        if (
            exchange is None
            or exchange.peer != message.sender
            or message.request_id not in exchange.outstanding
        ):
            return []
        exchange.outstanding.discard(message.request_id)
        exchange.last_progress_tick = now
        if not message.ok:
            return self._finish(exchange, ok=False)
        # A reply says which of the nodes asked about differ; the level and the indexes
        # are the request's, so a peer's reply cannot steer the walk off the tree (a level
        # below the leaves, an index never sent). An answer of the other kind ends it.
        asked = exchange.compared.pop(message.request_id, None)
        if isinstance(message, MerkleCompareReply):
            if asked is None:
                return self._finish(exchange, ok=False)
            level, compared = asked
            sent = frozenset(compared)
            differing = tuple(index for index in message.differing if index in sent)
            nodes, leaves = self._descend(level, exchange.tree.depth, compared, differing)
            exchange.frontier.extend(nodes)
            exchange.buckets.extend(leaves)
        elif asked is not None:
            return self._finish(exchange, ok=False)
        else:
            exchange.keys.update(message.keys)
        return self._pump(exchange)

    def _answer_compare(
        self, request: MerkleCompareRequest, tree: PartitionMerkleTree | None
    ) -> MerkleCompareReply:
        valid = (
            tree is not None
            and tree.depth == request.depth
            and 0 <= request.level <= tree.depth
            and len(request.indexes) == len(request.hashes)
            and len(request.indexes) <= self.config.exchange_nodes_per_message_max
            and all(0 <= index < 1 << request.level for index in request.indexes)
        )
        differing: tuple[int, ...] = ()
        if valid and tree is not None:
            differing = tuple(
                index
                for index, theirs in zip(request.indexes, request.hashes, strict=True)
                if tree.node_hash(request.level, index) != theirs
            )
        return MerkleCompareReply(
            request.exchange_id,
            request.request_id,
            self.node_id,
            request.partition,
            request.level,
            differing,
            valid,
        )

    def _answer_buckets(
        self, request: MerkleBucketsRequest, tree: PartitionMerkleTree | None
    ) -> MerkleBucketsReply:
        entries = sum(len(piece.entries) for piece in request.slices)
        valid = (
            tree is not None
            and tree.depth == request.depth
            and len(request.slices) <= self.config.exchange_nodes_per_message_max
            and entries <= self.config.exchange_entries_per_message_max
            and all(0 <= piece.bucket < 1 << request.depth for piece in request.slices)
        )
        keys: list[bytes] = []
        if valid and tree is not None:
            for piece in request.slices:
                theirs = dict(piece.entries)
                mine = {
                    key: value_hash
                    for key, value_hash in tree.bucket(piece.bucket).items()
                    if key >= piece.key_low and (piece.key_high is None or key < piece.key_high)
                }
                keys += sorted(
                    key for key in mine.keys() | theirs.keys() if mine.get(key) != theirs.get(key)
                )
        return MerkleBucketsReply(
            request.exchange_id,
            request.request_id,
            self.node_id,
            request.partition,
            tuple(keys),
            valid,
        )


class AntiEntropyRounds:
    """When a node compares its trees, with whom, and what it does with the differences.

    Args:
        node_id: this node.
        config: the pacing and bounds (:class:`~dynamokv.impl.core.MemberConfig`).
        trees: this node's Merkle trees (kept current by its storage).
        read: what this node stores for a key (to push repairs).
        health: who is believed up (rounds go only to healthy peers).
        out: where the messages go.
        stats: where to count roots compared and keys pushed.
        now: the tick at start.
        first_id: the first id of its roots rounds and exchanges (the node gives each of its lives its own
            range: ``generation << 40``).
        descend: the top-down walk's step (the node's seam, :func:`merkle_descend`).
    """

    def __init__(
        self,
        node_id: str,
        *,
        config: MemberConfig,
        trees: MerkleTrees,
        read: Callable[[bytes], tuple[Version, ...]],
        health: HealthView,
        out: Outbox,
        stats: MemberStats,
        now: int,
        first_id: int = 0,
        descend: Callable[
            [int, int, Sequence[int], Sequence[int]],
            tuple[tuple[tuple[int, int], ...], tuple[int, ...]],
        ] = merkle_descend,
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.trees = trees
        self.read = read
        self.health = health
        self.out = out
        self.stats = stats
        self.engine = AntiEntropy(node_id, config.anti_entropy, descend=descend, first_id=first_id)
        self._next_round = now + config.anti_entropy_interval_ticks
        self._peer_turns = Count()  # round robin over the peers healthy at each round
        self._recovered_at: dict[str, int] = {}
        self._roots_offset: dict[str, int] = {}
        self._roots_round_ids = Count(first_id)  # opaque, and one per life (as exchanges)
        self._roots_pending: dict[int, tuple[str, int]] = {}
        self._exchange_queue: deque[tuple[str, int]] = deque()
        self._exchange_queued: set[tuple[str, int]] = set()
        self._shared_sets: dict[str, frozenset[int]] | None = None

    # -- the node tells it ------------------------------------------------------------------

    def on_ring_adopted(self) -> None:
        """The ring changed: what is shared with whom, and the queued exchanges, are stale."""
        self._shared_sets = None
        self._exchange_queue.clear()
        self._exchange_queued.clear()

    def on_peer_recovered(self, peer: str, now: int) -> None:
        """``peer`` stopped being suspected: leave it to hinted handoff for a grace period."""
        self._recovered_at[peer] = now

    # -- the periodic work -------------------------------------------------------------------

    def tick(self, ring: PartitionRing, now: int) -> None:
        """Time out exchanges; every ``anti_entropy_interval_ticks``, start a roots round."""
        self._carry_out(self.engine.tick(now), ring, now)
        if now >= self._next_round:
            self._next_round = now + self.config.anti_entropy_interval_ticks
            self._start_roots_round(ring, now)

    def _start_roots_round(self, ring: PartitionRing, now: int) -> None:
        shared = ring.shared_partitions(self.node_id)
        grace = self.config.recovery_grace_ticks
        recovered = self._recovered_at
        peers = [
            p
            for p in shared
            if self.health.is_healthy(p, now) and now - recovered.get(p, now - grace) >= grace
        ]
        if not peers or self._roots_pending or self._exchange_queue:
            self._pump_exchanges(ring, now)
            return
        peer = peers[next(self._peer_turns) % len(peers)]
        partitions = shared[peer]
        bound = self.config.roots_per_message_max
        complete = len(partitions) <= bound
        if complete:
            # Only the partitions holding data here, in order; the rest are empty by
            # omission. A node holds trees for fewer partitions than it shares with a peer.
            trees = self.trees.by_partition
            chosen = tuple(
                sorted(
                    p for p in self._shared_with(peer, ring).intersection(trees) if trees[p].size
                )
            )
        else:
            offset = self._roots_offset.get(peer, 0) % len(partitions)
            chosen = (partitions[offset:] + partitions[:offset])[:bound]
            self._roots_offset[peer] = offset + len(chosen)
        round_id = next(self._roots_round_ids)
        self._roots_pending[round_id] = (peer, now)
        self.stats.roots_compared += len(chosen)
        roots = tuple(self.trees.roots(chosen))
        self.out.send(
            RootsRequest(
                self.node_id,
                peer,
                round_id,
                self.config.merkle_depth,
                chosen,
                roots,
                complete,
            )
        )

    # -- messages ------------------------------------------------------------------------

    def on_roots_request(self, message: RootsRequest, ring: PartitionRing) -> None:
        """A peer's roots: answer with the partitions whose roots differ here."""
        partition_count = self.trees.partition_count
        ok = (
            message.depth == self.config.merkle_depth
            and len(message.partitions) == len(message.roots)
            and len(message.partitions) <= self.config.roots_per_message_max
            and (
                not message.partitions
                or (min(message.partitions) >= 0 and max(message.partitions) < partition_count)
            )
        )
        differing: tuple[int, ...] = ()
        if ok:
            mine = self.trees.roots(message.partitions)
            found = [
                p
                for p, theirs, ours in zip(message.partitions, message.roots, mine, strict=True)
                if ours != theirs
            ]
            if message.complete:
                # Partitions we share that hold data here but were omitted (empty there).
                trees = self.trees.by_partition
                omitted = (
                    self._shared_with(message.src, ring)
                    .intersection(trees)
                    .difference(message.partitions)
                )
                found += sorted(p for p in omitted if len(trees[p]))
            differing = tuple(found)
        self.out.send(RootsReply(self.node_id, message.src, message.round_id, differing, ok))

    def _shared_with(self, peer: str, ring: PartitionRing) -> frozenset[int]:
        if self._shared_sets is None:
            self._shared_sets = {
                p: frozenset(parts) for p, parts in ring.shared_partitions(self.node_id).items()
            }
        return self._shared_sets.get(peer, frozenset())

    def on_roots_reply(self, message: RootsReply, ring: PartitionRing, now: int) -> None:
        """The partitions whose roots differ: queue a full exchange for each we own."""
        pending = self._roots_pending.pop(message.round_id, None)
        if pending is None or pending[0] != message.src or not message.ok:
            return
        owners_of = ring.partition_preference_list
        for partition in message.differing:
            item = (message.src, partition)
            if (
                item not in self._exchange_queued
                and len(self._exchange_queue) < self.config.exchange_queue_max
                and self.node_id in owners_of(partition)
            ):
                self._exchange_queued.add(item)
                self._exchange_queue.append(item)
        self._pump_exchanges(ring, now)

    def on_merkle(self, message: MerklePacket, ring: PartitionRing, now: int) -> None:
        """A step of a tree exchange, either role."""
        body = message.body
        partition_count = self.trees.partition_count
        tree = self.trees.tree(body.partition) if 0 <= body.partition < partition_count else None
        self._carry_out(self.engine.receive(body, now, tree), ring, now)

    # -- exchanges -----------------------------------------------------------------------

    def _pump_exchanges(self, ring: PartitionRing, now: int) -> None:
        # A roots round unanswered for an exchange timeout is given up.
        timeout = self.config.anti_entropy.exchange_timeout_ticks
        for round_id, (_, sent_at) in list(self._roots_pending.items()):
            if now - sent_at >= timeout:
                del self._roots_pending[round_id]
        healthy = self.health.is_healthy
        while self._exchange_queue:
            peer, partition = self._exchange_queue[0]
            if not healthy(peer, now):
                # Suspected since its roots reply: an exchange would only wait out its
                # timeout, holding back every other peer's round. A later round, once it
                # answers again, finds the partition again if it still differs.
                self._exchange_queue.popleft()
                self._exchange_queued.discard((peer, partition))
                continue
            effects = self.engine.start_exchange(peer, self.trees.tree(partition), now)
            if effects is None:
                return  # every exchange slot is busy: that is the pacing
            self._exchange_queue.popleft()
            self._exchange_queued.discard((peer, partition))
            self._carry_out(effects, ring, now)

    def _carry_out(
        self, effects: Iterable[AntiEntropyEffect], ring: PartitionRing, now: int
    ) -> None:
        me = self.node_id
        for effect in effects:
            if isinstance(effect, MerkleSend):
                self.out.send(MerklePacket(me, effect.destination, effect.message))
            elif isinstance(effect, RepairKeys):
                self._push_repair(effect, ring)
            else:
                invariant(isinstance(effect, ExchangeFinished), "unknown anti-entropy effect")
                self._pump_exchanges(ring, now)

    def _push_repair(self, effect: RepairKeys, ring: PartitionRing) -> None:
        owners = ring.partition_preference_list(effect.partition)
        if effect.peer not in owners or self.node_id not in owners:
            return  # the ring moved on since the exchange began
        config = self.config
        read = self.read
        keys = iter(effect.keys)
        left_over: bytes | None = None
        while True:
            batch_keys = keys if left_over is None else itertools.chain((left_over,), keys)
            held = ((key, read(key)) for key in batch_keys)
            chunk, left_over = bounded_batch(
                ((key, versions) for key, versions in held if versions),
                keys_max=config.repair_keys_per_message_max,
                bytes_max=config.message_bytes_max,
            )
            if not chunk:
                return
            self.stats.keys_repaired += len(chunk)
            self.out.send(RepairPush(self.node_id, effect.peer, effect.partition, tuple(chunk)))
