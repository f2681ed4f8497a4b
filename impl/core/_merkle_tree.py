"""Merkle anti-entropy: an incremental hash tree per partition, and the exchange (Dynamo §4.7).

Replicas drift apart when a hint is dropped at its bound or lost with a crashed
substitute. Dynamo repairs them in the background: "each node maintains a
separate Merkle tree for each key range ... two nodes exchange the root of the
Merkle tree corresponding to the key ranges that they host in common" and
descend only where hashes differ (Dynamo §4.7). The traffic is proportional to
the difference, not to the data (DESIGN.md section 7).

The tree (:class:`PartitionMerkleTree`)
=======================================

One tree per strategy-3 partition, of fixed shape: ``2**depth`` leaf *buckets*
(depth 10: 1,024), a key's bucket being the top ``depth`` bits of its ring
position's offset inside the partition, so two replicas with different keys
still have trees of the same shape, and a bucket is a contiguous key range.

It is kept up to date on every write instead of rebuilt for every exchange:

* a leaf's hash is the **XOR of** ``H(key, value_hash)`` over the bucket's keys.
  XOR is commutative and its own inverse, so a write is ``leaf ^= H(k, old) ^
  H(k, new)``: O(1), whatever the bucket holds, and the leaf is a deterministic
  function of the bucket's *contents*, independent of the order of writes.
  (A sorted-bucket rehash would cost O(bucket) per write.) XOR of strong digests
  is a fine set hash against accidents; it is not meant to resist an adversary
  who chooses keys, which anti-entropy between our own replicas does not face.
* the write marks its leaf dirty; inner nodes ``H("I" | left | right)`` are
  recomputed lazily, along the dirty paths only, the next time a hash is read:
  O(depth) per write at worst, less when writes share paths.

Agreement with the spec
-----------------------

:func:`dynamokv.spec.merkle.build` hashes a leaf as ``hash_fn(payload)`` with an
injective encoding of the sorted bucket. Given a ``hash_fn`` that decodes that
payload and computes *our* leaf and inner hashes, and our :meth:`bucket_of`, the
spec builds a tree whose every node hash equals ours: the differential tests
check **raw hashes, level by level**, and also that an exchange finds exactly the
spec's :func:`~dynamokv.spec.merkle.diff` keys (= :func:`~dynamokv.spec.merkle.differing_keys`)
comparing exactly as many node pairs.

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

import dataclasses
import functools
import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import msgpack
from dynamokv.errors import ArgumentError, check_at_least, invariant
from dynamokv.spec.ring import DEFAULT_PARTITION_COUNT, md5_position, partition_start

__all__ = [
    "NODE_HASH_BYTES",
    "AntiEntropy",
    "AntiEntropyConfig",
    "AntiEntropyEffect",
    "AntiEntropyMetrics",
    "BucketSlice",
    "ExchangeFinished",
    "MerkleArgumentError",
    "MerkleBucketsReply",
    "MerkleBucketsRequest",
    "MerkleCompareReply",
    "MerkleCompareRequest",
    "MerkleMessage",
    "MerkleSend",
    "PartitionMerkleTree",
    "RepairKeys",
    "RepairTraffic",
    "inner_hash",
    "measure_repair_traffic",
    "pair_digest",
    "wire_bytes",
]

NODE_HASH_BYTES = 16
"""Every node hash is a 128-bit BLAKE2b digest."""

DEPTH_MAX = 16
"""The spec's bound on the depth; 2**16 buckets per partition is plenty."""


class MerkleArgumentError(ArgumentError):
    """A public argument is out of range (a key of another partition, a bad depth)."""


@functools.lru_cache(maxsize=4096)
def _partition_start(partition: int, partition_count: int) -> int:
    """:func:`dynamokv.spec.ring.partition_start`, memoised: trees are made on every
    restart and every exchange, and the spec's contracts are checked on each call."""
    return partition_start(partition, partition_count)


@functools.lru_cache(maxsize=DEPTH_MAX + 1)
def _empty_levels(depth: int) -> tuple[tuple[bytes, ...], ...]:
    """The levels of an empty tree of ``depth``, memoised: copied, not rehashed, per tree."""
    empty = [EMPTY_LEAF]
    for _ in range(depth):
        empty.append(inner_hash(empty[-1], empty[-1]))
    return tuple((empty[depth - d],) * (1 << d) for d in range(depth + 1))


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=NODE_HASH_BYTES).digest()


def pair_digest(key: bytes, value_hash: bytes) -> bytes:
    """``H(key, value_hash)``: one key's contribution to its leaf (XORed in).

    Length-prefixed, so ``(key, value_hash)`` pairs never encode alike.
    """
    return _digest(b"P" + len(key).to_bytes(4, "big") + key + value_hash)


def inner_hash(left: bytes, right: bytes) -> bytes:
    """An inner node's hash from its two children's."""
    return _digest(b"I" + left + right)


def _xor(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).to_bytes(NODE_HASH_BYTES, "big")


EMPTY_LEAF = bytes(NODE_HASH_BYTES)
"""The hash of an empty bucket: the XOR of nothing."""


class PartitionMerkleTree:
    """The incremental Merkle tree of one partition's contents (Dynamo §4.7).

    Holds ``key -> value_hash`` for every key the replica stores in the partition
    (tombstones included: they are versions too); ``value_hash`` is whatever the
    replication layer hashes a key's version set to.

    Args:
        partition: the strategy-3 partition this tree covers.
        partition_count: Q.
        depth: the tree has ``2**depth`` leaf buckets (0 to 16).
        position_of: key -> ring position; MD5 as everywhere (Dynamo §4.2).
    """

    def __init__(
        self,
        partition: int,
        *,
        partition_count: int = DEFAULT_PARTITION_COUNT,
        depth: int = 10,
        position_of: Callable[[bytes], int] = md5_position,
    ) -> None:
        """Create an empty tree; see the class docstring."""
        if not 0 <= depth <= DEPTH_MAX:
            raise MerkleArgumentError(f"depth must be in [0, {DEPTH_MAX}]")
        if not 0 <= partition < partition_count:
            raise MerkleArgumentError("partition must be in [0, partition_count)")
        self.partition = partition
        self.partition_count = partition_count
        self.depth = depth
        self._position_of = position_of
        self._start = _partition_start(partition, partition_count)
        self._width = _partition_start(partition + 1, partition_count) - self._start
        # levels[d] holds the 2**d hashes at depth d; levels[depth] are the leaves.
        self._levels: list[list[bytes]] = [list(level) for level in _empty_levels(depth)]
        self._buckets: list[dict[bytes, bytes]] = [{} for _ in range(1 << depth)]
        self._dirty: set[int] = set()
        self._size = 0

    def bucket_of(self, key: bytes) -> int:
        """The leaf bucket of ``key``: the top ``depth`` bits of its offset in the partition.

        Raises:
            MerkleArgumentError: the key belongs to another partition.
        """
        offset = self._position_of(key) - self._start
        if not 0 <= offset < self._width:
            raise MerkleArgumentError(f"key {key!r} is not in partition {self.partition}")
        return (offset << self.depth) // self._width

    def __len__(self) -> int:
        """The number of keys in the tree."""
        return self._size

    def value_hash(self, key: bytes) -> bytes | None:
        """The value hash stored for ``key``, or ``None``."""
        return self._buckets[self.bucket_of(key)].get(key)

    def put(self, key: bytes, value_hash: bytes) -> None:
        """Record that ``key``'s version set now hashes to ``value_hash``: O(1) now, O(depth) lazily."""
        bucket = self.bucket_of(key)
        contents = self._buckets[bucket]
        old = contents.get(key)
        if old == value_hash:
            return
        leaf = self._levels[self.depth][bucket]
        if old is not None:
            leaf = _xor(leaf, pair_digest(key, old))
        else:
            self._size += 1
        contents[key] = value_hash
        self._levels[self.depth][bucket] = _xor(leaf, pair_digest(key, value_hash))
        self._dirty.add(bucket)

    def remove(self, key: bytes) -> bool:
        """Forget ``key`` (its tombstone was reaped). Returns whether it was present."""
        bucket = self.bucket_of(key)
        old = self._buckets[bucket].pop(key, None)
        if old is None:
            return False
        self._size -= 1
        leaf = self._levels[self.depth][bucket]
        self._levels[self.depth][bucket] = _xor(leaf, pair_digest(key, old))
        self._dirty.add(bucket)
        return True

    def _flush(self) -> None:
        # Recompute the ancestors of dirty leaves, one level at a time: each inner
        # node on a dirty path is hashed once however many of its leaves changed.
        dirty = self._dirty
        for level in range(self.depth, 0, -1):
            below, above = self._levels[level], self._levels[level - 1]
            parents = {index >> 1 for index in dirty}
            for parent in parents:
                above[parent] = inner_hash(below[2 * parent], below[2 * parent + 1])
            dirty = parents
        self._dirty = set()

    def root(self) -> bytes:
        """The root hash: equal roots mean equal contents (up to hash collisions)."""
        return self.node_hash(0, 0)

    def node_hash(self, level: int, index: int) -> bytes:
        """The hash of node ``index`` at depth ``level`` (``level == depth``: a leaf)."""
        if self._dirty:
            self._flush()
        return self._levels[level][index]

    def level(self, level: int) -> tuple[bytes, ...]:
        """Every hash at depth ``level``, left to right."""
        if self._dirty:
            self._flush()
        return tuple(self._levels[level])

    def bucket(self, index: int) -> Mapping[bytes, bytes]:
        """The ``key -> value_hash`` pairs of leaf ``index`` (read-only view)."""
        return dict(self._buckets[index])

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, value_hash)`` in the tree, bucket by bucket."""
        for contents in self._buckets:
            yield from contents.items()

    def check(self) -> None:
        """Recompute every hash from the contents and compare: a test and debugging aid.

        Raises:
            dynamokv.errors.InvariantError: an incremental update went wrong.
        """
        self._flush()
        level = []
        for index, contents in enumerate(self._buckets):
            leaf = EMPTY_LEAF
            for key, value_hash in contents.items():
                leaf = _xor(leaf, pair_digest(key, value_hash))
                invariant(self.bucket_of(key) == index, "merkle: key in the wrong bucket")
            level.append(leaf)
        for depth in range(self.depth, -1, -1):
            invariant(level == self._levels[depth], "merkle: incremental hash differs")
            level = [inner_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        invariant(sum(map(len, self._buckets)) == self._size, "merkle: size count is off")


# ---------------------------------------------------------------------- messages


@dataclass(frozen=True)
class MerkleCompareRequest:
    """Initiator -> responder: my hashes of these nodes at one level.

    Attributes:
        exchange_id: chosen by the initiator; echoed in the reply.
        request_id: the request within the exchange; echoed.
        sender: the initiator's node id.
        partition: whose tree.
        depth: the initiator's tree depth (must equal the responder's).
        level: the depth of the nodes compared (0: the root).
        indexes: the nodes' indexes at that level.
        hashes: the initiator's hashes of those nodes, in the same order.
    """

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    depth: int
    level: int
    indexes: tuple[int, ...]
    hashes: tuple[bytes, ...]


@dataclass(frozen=True)
class MerkleCompareReply:
    """Responder -> initiator: which of the compared nodes differ.

    ``ok`` is false when the responder holds no tree for the partition or its
    depth differs; the initiator then abandons the exchange.
    """

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    level: int
    differing: tuple[int, ...]
    ok: bool


@dataclass(frozen=True)
class BucketSlice:
    """The initiator's pairs of one bucket within a key range.

    Attributes:
        bucket: the leaf index.
        key_low: the first key the slice covers (inclusive).
        key_high: the end of the range (exclusive), or ``None``: to the bucket's end.
        entries: the initiator's ``(key, value_hash)`` pairs in the range, sorted by key.
    """

    bucket: int
    key_low: bytes
    key_high: bytes | None
    entries: tuple[tuple[bytes, bytes], ...]


@dataclass(frozen=True)
class MerkleBucketsRequest:
    """Initiator -> responder: my contents of differing buckets, to be diffed key by key."""

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    depth: int
    slices: tuple[BucketSlice, ...]


@dataclass(frozen=True)
class MerkleBucketsReply:
    """Responder -> initiator: the keys on which the slices differ (either side)."""

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    keys: tuple[bytes, ...]
    ok: bool


MerkleMessage = (
    MerkleCompareRequest | MerkleCompareReply | MerkleBucketsRequest | MerkleBucketsReply
)


@dataclass(frozen=True)
class MerkleSend:
    """Effect: send ``message`` to node ``destination``."""

    destination: str
    message: MerkleMessage


@dataclass(frozen=True)
class RepairKeys:
    """Effect: send this replica's versions of ``keys`` (those it holds) to ``peer``.

    The peer merges them with its own by vector clock (Dynamo §4.4), never overwrites.
    """

    peer: str
    partition: int
    keys: tuple[bytes, ...]


@dataclass(frozen=True)
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


def _plain(value: object) -> object:
    """``dataclasses.astuple`` without its deep copies: msgpack packs the same bytes."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [_plain(getattr(value, f.name)) for f in dataclasses.fields(value)]
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return value


def wire_bytes(message: MerkleMessage) -> int:
    """The message's size as msgpack of its fields (the node-to-node codec's body)."""
    packed: bytes = msgpack.packb(_plain(message), use_bin_type=True)
    return len(packed)


@dataclass(frozen=True, kw_only=True)
class AntiEntropyConfig:
    """Pacing and bounds of anti-entropy.

    Attributes:
        exchanges_in_flight_max: exchanges this node runs as initiator at once.
        exchange_requests_in_flight_max: requests outstanding within one exchange.
        exchange_nodes_per_message_max: hashes (or buckets) in one request.
        exchange_entries_per_message_max: ``(key, value_hash)`` pairs in one request.
        exchange_timeout_ticks: an exchange with no answer for this long is abandoned.
    """

    exchanges_in_flight_max: int = 2
    exchange_requests_in_flight_max: int = 4
    exchange_nodes_per_message_max: int = 256
    exchange_entries_per_message_max: int = 1024
    exchange_timeout_ticks: int = 100

    def __post_init__(self) -> None:
        check_at_least(
            self,
            (
                "exchanges_in_flight_max",
                "exchange_requests_in_flight_max",
                "exchange_nodes_per_message_max",
                "exchange_entries_per_message_max",
                "exchange_timeout_ticks",
            ),
        )


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
        self.compared: dict[int, tuple[int, ...]] = {}  # request id -> node indexes sent
        self.next_request_id = 0
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
        self._next_exchange_id = 0

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
        exchange = _Exchange(self._next_exchange_id, peer, tree, now)
        self._next_exchange_id += 1
        self._exchanges[exchange.exchange_id] = exchange
        self.metrics.trees_compared += 1
        return self._pump(exchange)

    def _pump(self, exchange: _Exchange) -> list[AntiEntropyEffect]:
        """Send requests for queued work while the exchange's window has room."""
        config = self.config
        tree = exchange.tree
        effects: list[AntiEntropyEffect] = []
        while len(exchange.outstanding) < config.exchange_requests_in_flight_max:
            request_id = exchange.next_request_id
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
                exchange.compared[request_id] = tuple(indexes)
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
            elif exchange.buckets:
                message = MerkleBucketsRequest(
                    exchange.exchange_id,
                    request_id,
                    self.node_id,
                    tree.partition,
                    tree.depth,
                    self._slices(exchange),
                )
            else:
                break
            exchange.next_request_id += 1
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
            if len(pending) <= budget:
                slices.append(BucketSlice(bucket, low, None, tuple(pending)))
                budget -= len(pending)
                exchange.buckets.popleft()
                exchange.resume_key = b""
            else:
                high = pending[budget][0]
                slices.append(BucketSlice(bucket, low, high, tuple(pending[:budget])))
                exchange.resume_key = high
                budget = 0
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
        if isinstance(message, MerkleCompareReply):
            compared = exchange.compared.pop(message.request_id, ())
            nodes, leaves = self._descend(
                message.level, exchange.tree.depth, compared, message.differing
            )
            exchange.frontier.extend(nodes)
            exchange.buckets.extend(leaves)
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


# ---------------------------------------------------------------------- measurement


@dataclass(frozen=True)
class RepairTraffic:
    """Anti-entropy traffic against a full copy, for one divergence scenario.

    Attributes:
        keys: keys on the first replica.
        divergent: keys that differ between the replicas.
        partitions: trees compared (one per partition).
        depth: tree depth.
        keys_repaired: differing keys the exchanges found.
        nodes_exchanged: node hashes sent.
        merkle_bytes: bytes of all exchange messages, both directions.
        repair_bytes: ``merkle_bytes`` plus the repaired keys' values, both directions.
        full_copy_bytes: the bytes of sending every key and value once.
    """

    keys: int
    divergent: int
    partitions: int
    depth: int
    keys_repaired: int
    nodes_exchanged: int
    merkle_bytes: int
    repair_bytes: int
    full_copy_bytes: int

    @property
    def fraction(self) -> float:
        """``repair_bytes / full_copy_bytes``."""
        return self.repair_bytes / self.full_copy_bytes


def measure_repair_traffic(
    *,
    keys: int = 100_000,
    divergent: int = 100,
    value_bytes: int = 100,
    depth: int = 10,
    partition_count: int = 1,
    config: AntiEntropyConfig | None = None,
    descend: Callable[
        [int, int, Sequence[int], Sequence[int]],
        tuple[tuple[tuple[int, int], ...], tuple[int, ...]],
    ] = merkle_descend,
) -> RepairTraffic:
    """Two replicas of ``keys`` keys, ``divergent`` of them different; repair by exchange.

    The divergence is deterministic: every ``keys // divergent``-th key is, in turn,
    missing on the second replica, stale there (another value), or present only
    there. Values are ``value_bytes`` bytes; ``value_hash`` is their BLAKE2b. The
    replicas hold ``partition_count`` partitions (1: the whole ring is one key range,
    as in Dynamo's per-key-range trees) and compare one tree pair per non-empty
    partition. Messages are delivered in process, in order. ``descend`` is the
    top-down walk's step (a lab measures its own).
    """
    if not 0 <= divergent <= keys or keys < 1 or value_bytes < 0:
        raise MerkleArgumentError("need keys >= 1 and 0 <= divergent <= keys")

    def value_of(index: int, variant: int) -> bytes:
        seed = hashlib.blake2b(f"{index}/{variant}".encode(), digest_size=64).digest()
        return (seed * (value_bytes // 64 + 1))[:value_bytes]

    def tree_of(position: int) -> int:
        return (position * partition_count) >> 128

    first: dict[int, PartitionMerkleTree] = {}
    second: dict[int, PartitionMerkleTree] = {}
    values_first: dict[bytes, bytes] = {}
    values_second: dict[bytes, bytes] = {}
    stride = keys // divergent if divergent else keys + 1
    chosen = 0
    for index in range(keys):
        key = f"key-{index:08d}".encode()
        partition = tree_of(md5_position(key))
        value = value_of(index, 0)
        values_first[key] = value
        kind = -1
        if index % stride == 0 and chosen < divergent:
            kind, chosen = chosen % 3, chosen + 1
        if kind != 0:  # 0: missing on the second replica
            values_second[key] = value_of(index, 1) if kind == 1 else value
        if kind == 2:  # present only on the second replica
            del values_first[key]
    for values, trees in ((values_first, first), (values_second, second)):
        for key, value in values.items():
            partition = tree_of(md5_position(key))
            if partition not in trees:
                trees[partition] = PartitionMerkleTree(
                    partition, partition_count=partition_count, depth=depth
                )
            trees[partition].put(key, hashlib.blake2b(value, digest_size=16).digest())

    initiator = AntiEntropy("replica-a", config, descend=descend)
    responder = AntiEntropy("replica-b", config, descend=descend)
    found: set[bytes] = set()
    for partition in sorted(first.keys() | second.keys()):
        mine = first.get(partition) or PartitionMerkleTree(
            partition, partition_count=partition_count, depth=depth
        )
        queue: deque[MerkleSend] = deque()
        started = initiator.start_exchange("replica-b", mine, 0)
        invariant(started is not None, "merkle: measurement runs one exchange at a time")
        effects: list[AntiEntropyEffect] = list(started or [])
        while True:
            for effect in effects:
                if isinstance(effect, MerkleSend):
                    queue.append(effect)
                elif isinstance(effect, RepairKeys):
                    found.update(effect.keys)
            if not queue:
                break
            send = queue.popleft()
            if send.destination == "replica-b":
                effects = responder.receive(send.message, 0, second.get(partition))
            else:
                effects = initiator.receive(send.message, 0, mine)
    merkle_bytes = initiator.metrics.bytes_sent + responder.metrics.bytes_sent

    def record_bytes(key: bytes, value: bytes) -> int:
        return len(msgpack.packb((key, value), use_bin_type=True))

    value_bytes_sent = sum(
        record_bytes(key, values[key])
        for key in found
        for values in (values_first, values_second)
        if key in values
    )
    return RepairTraffic(
        keys=len(values_first),
        divergent=divergent,
        partitions=initiator.metrics.trees_compared,
        depth=depth,
        keys_repaired=len(found),
        nodes_exchanged=initiator.metrics.nodes_exchanged,
        merkle_bytes=merkle_bytes,
        repair_bytes=merkle_bytes + value_bytes_sent,
        full_copy_bytes=sum(record_bytes(key, value) for key, value in values_first.items()),
    )
