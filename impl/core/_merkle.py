"""Merkle trees: an incremental hash tree per partition, kept current by every write (Dynamo §4.7).

Replicas drift apart when a hint is dropped at its bound or lost with a crashed
substitute. Dynamo repairs them in the background: "each node maintains a
separate Merkle tree for each key range ... two nodes exchange the root of the
Merkle tree corresponding to the key ranges that they host in common" and
descend only where hashes differ (Dynamo §4.7). The traffic is proportional to
the difference, not to the data. The trees are compared by
:mod:`~dynamokv.impl.core._anti_entropy`; this module keeps them.

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

Keeping them current
--------------------

:class:`MerkleTrees` holds a node's trees, one per partition it stores keys of, built
once from storage when the node starts. :class:`MerkleTracking` decorates the node's
storage (:class:`~dynamokv.impl.core._storage.LocalStore`): every version set the node
writes, whatever writes it (a put, a replica's merge, a transfer, a repair, a handoff's
drop), updates its key's leaf with :func:`value_hash` of the set. So the trees never
need rebuilding, and no other code needs to remember them.

A start rebuilds the trees from every stored key, and the replicas of a partition
compute the same hashes again and again: a write reaches N replicas, and each hashes
the same leaf path up to the same root. A :class:`MerkleHashCache` shared by the nodes
and their restarts (the simulator gives one to all of its nodes) remembers both: the
value hash of each version set by the set's identity (the sets a restarted node reads
back from its disk are the very tuples it hashed when it wrote them), and each inner
node's hash by its two children's (a pure function: equal children, equal parent); and
each key's pair digest and ring position. The
hashes are the same with or without it; only their cost changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from dynamokv.spec.errors import ArgumentError, invariant
from dynamokv.spec.ring import DEFAULT_PARTITION_COUNT, RING_SIZE, md5_position

from ._outbox import AfterPersist
from ._storage import LocalStore
from ._versions import Version

__all__ = [
    "EMPTY_LEAF",
    "NODE_HASH_BYTES",
    "MerkleArgumentError",
    "MerkleHashCache",
    "MerkleTracking",
    "MerkleTrees",
    "PartitionMerkleTree",
    "empty_hashes",
    "inner_hash",
    "pair_digest",
    "value_hash",
    "version_bytes",
]

NODE_HASH_BYTES = 16
"""Every node hash is a 128-bit BLAKE2b digest."""

DEPTH_MAX = 16
"""The spec's bound on the depth; 2**16 buckets per partition is plenty."""

HASH_CACHE_ENTRIES_MAX = 1 << 16
"""Version sets, and inner hashes, a :class:`MerkleHashCache` remembers of each before it
starts that part over (it holds the version sets it remembers)."""


class MerkleArgumentError(ArgumentError):
    """A public argument is out of range (a key of another partition, a bad depth)."""


def _partition_start(partition: int, partition_count: int) -> int:
    """:func:`dynamokv.spec.ring.partition_start` without its contracts (a tree is made on
    every restart and every exchange); the differential tests hold the two equal."""
    return -(-partition * RING_SIZE // partition_count)


def empty_hashes(depth: int) -> tuple[bytes, ...]:
    """The hash of every node of an empty tree of ``depth``, level by level from the root
    (:class:`MerkleTrees` computes them once for all of a node's trees)."""
    empty = [EMPTY_LEAF]
    for _ in range(depth):
        empty.append(inner_hash(empty[-1], empty[-1]))
    return tuple(reversed(empty))


_blake2b = hashlib.blake2b


def pair_digest(key: bytes, value_hash: bytes) -> bytes:
    """``H(key, value_hash)``: one key's contribution to its leaf (XORed in).

    Length-prefixed, so ``(key, value_hash)`` pairs never encode alike.
    """
    return _blake2b(
        b"P" + len(key).to_bytes(4, "big") + key + value_hash, digest_size=NODE_HASH_BYTES
    ).digest()


def _pair_number(key: bytes, value_hash: bytes) -> int:
    """:func:`pair_digest` read as a big-endian integer (what a leaf XORs)."""
    return int.from_bytes(
        _blake2b(
            b"P" + len(key).to_bytes(4, "big") + key + value_hash, digest_size=NODE_HASH_BYTES
        ).digest(),
        "big",
    )


def inner_hash(left: bytes, right: bytes) -> bytes:
    """An inner node's hash from its two children's."""
    return _blake2b(b"I" + left + right, digest_size=NODE_HASH_BYTES).digest()


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
        empty: :func:`empty_hashes` of ``depth``, if the caller has them already.
        hashes: where hashes are remembered, shared with other trees (default: nowhere).

    Attributes:
        size: the number of keys in the tree (``len(tree)``, without the call).
    """

    __slots__ = (
        "_buckets",
        "_dirty",
        "_empty",
        "_inner_hashes",
        "_leaf_base",
        "_leaf_sums",
        "_nodes",
        "_pair_number",
        "_position_of",
        "_start",
        "_width",
        "depth",
        "partition",
        "partition_count",
        "size",
    )

    def __init__(
        self,
        partition: int,
        *,
        partition_count: int = DEFAULT_PARTITION_COUNT,
        depth: int = 10,
        position_of: Callable[[bytes], int] = md5_position,
        empty: tuple[bytes, ...] | None = None,
        hashes: MerkleHashCache | None = None,
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
        # The empty tree's hash at each depth.
        self._empty = empty_hashes(depth) if empty is None else empty
        # Every node hash in one dict, numbered as in a binary heap: node ``index`` at
        # depth ``d`` is ``2**d + index``, so a node's parent is its number halved. Sparse:
        # a node absent from it holds the empty tree's hash at its depth, so a tree costs
        # memory and time only for the buckets it uses (a node makes one per partition it
        # stores keys of, on every start).
        self._nodes: dict[int, bytes] = {}
        # Each leaf's XOR of its pairs' digests, as an integer (XOR of ints is one
        # operation; the bytes are made once per leaf when the tree is next read).
        self._leaf_sums: dict[int, int] = {}
        self._leaf_base = 1 << depth
        self._buckets: dict[int, dict[bytes, bytes]] = {}
        self._dirty: set[int] = set()
        self.size = 0
        self._inner_hashes = None if hashes is None else hashes.inner
        self._pair_number: Callable[[bytes, bytes], int] = (
            _pair_number if hashes is None else hashes.pair_number
        )

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
        return self.size

    def value_hash(self, key: bytes) -> bytes | None:
        """The value hash stored for ``key``, or ``None``."""
        contents = self._buckets.get(self.bucket_of(key))
        return None if contents is None else contents.get(key)

    def put(self, key: bytes, value_hash: bytes) -> None:
        """Record that ``key``'s version set now hashes to ``value_hash``: O(1) now, O(depth) lazily."""
        bucket = self.bucket_of(key)
        contents = self._buckets.get(bucket)
        if contents is None:
            contents = self._buckets[bucket] = {}
        old = contents.get(key)
        if old == value_hash:
            return
        leaf = self._leaf_base | bucket
        pair_number = self._pair_number
        change = pair_number(key, value_hash)
        if old is not None:
            change ^= pair_number(key, old)
        else:
            self.size += 1
        contents[key] = value_hash
        sums = self._leaf_sums
        sums[leaf] = sums.get(leaf, 0) ^ change
        self._dirty.add(leaf)

    def remove(self, key: bytes) -> bool:
        """Forget ``key`` (its tombstone was reaped). Returns whether it was present."""
        bucket = self.bucket_of(key)
        contents = self._buckets.get(bucket)
        old = None if contents is None else contents.pop(key, None)
        if old is None:
            return False
        if not contents:
            del self._buckets[bucket]
        self.size -= 1
        leaf = self._leaf_base | bucket
        self._leaf_sums[leaf] ^= self._pair_number(key, old)
        self._dirty.add(leaf)
        return True

    def _flush(self) -> None:
        dirty = self._dirty
        self._dirty = set()
        sums = self._leaf_sums
        if len(dirty) == 1:
            # The common case (one write between two reads): walk the leaf's path to the
            # root without a set per level.
            (leaf,) = dirty
            self._nodes[leaf] = sums[leaf].to_bytes(NODE_HASH_BYTES, "big")
            self._rehash_path(leaf)
            return
        # Recompute the ancestors of dirty leaves, one level at a time: each inner
        # node on a dirty path is hashed once however many of its leaves changed.
        empty = self._empty
        nodes = self._nodes
        get = nodes.get
        for leaf in dirty:
            nodes[leaf] = sums[leaf].to_bytes(NODE_HASH_BYTES, "big")
        for level in range(self.depth, 0, -1):
            empty_below = empty[level]
            parents = {number >> 1 for number in dirty}
            for parent in parents:
                left = parent << 1
                nodes[parent] = self._inner(
                    b"I" + get(left, empty_below) + get(left | 1, empty_below)
                )
            dirty = parents

    def _rehash_path(self, leaf: int) -> None:
        """Recompute the inner hashes from ``leaf``'s parent up to the root."""
        empty = self._empty
        nodes = self._nodes
        get = nodes.get
        remembered = self._inner_hashes
        level = self.depth
        number = leaf
        while number > 1:
            empty_below = empty[level]
            left = number & ~1
            # inner_hash, inlined: this loop is most of a tree's upkeep.
            children = b"I" + get(left, empty_below) + get(left | 1, empty_below)
            number >>= 1
            level -= 1
            if remembered is None:
                nodes[number] = _blake2b(children, digest_size=NODE_HASH_BYTES).digest()
                continue
            digest = remembered.get(children)
            if digest is None:
                digest = _blake2b(children, digest_size=NODE_HASH_BYTES).digest()
                if len(remembered) >= HASH_CACHE_ENTRIES_MAX:
                    remembered.clear()
                remembered[children] = digest
            nodes[number] = digest

    def _inner(self, children: bytes) -> bytes:
        """The hash of ``b"I" + left + right``, remembered if the tree shares a cache."""
        remembered = self._inner_hashes
        if remembered is None:
            return _blake2b(children, digest_size=NODE_HASH_BYTES).digest()
        digest = remembered.get(children)
        if digest is None:
            digest = _blake2b(children, digest_size=NODE_HASH_BYTES).digest()
            if len(remembered) >= HASH_CACHE_ENTRIES_MAX:
                remembered.clear()
            remembered[children] = digest
        return digest

    def root(self) -> bytes:
        """The root hash: equal roots mean equal contents (up to hash collisions)."""
        if self._dirty:
            self._flush()
        return self._nodes.get(1, self._empty[0])

    def node_hash(self, level: int, index: int) -> bytes:
        """The hash of node ``index`` at depth ``level`` (``level == depth``: a leaf)."""
        if self._dirty:
            self._flush()
        return self._nodes.get((1 << level) | index, self._empty[level])

    def level(self, level: int) -> tuple[bytes, ...]:
        """Every hash at depth ``level``, left to right."""
        if self._dirty:
            self._flush()
        nodes, empty, first = self._nodes, self._empty[level], 1 << level
        return tuple(nodes.get(first | index, empty) for index in range(first))

    def bucket(self, index: int) -> Mapping[bytes, bytes]:
        """The ``key -> value_hash`` pairs of leaf ``index`` (read-only view)."""
        return dict(self._buckets.get(index, {}))

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, value_hash)`` in the tree, bucket by bucket."""
        buckets = self._buckets
        for index in sorted(buckets):
            yield from buckets[index].items()

    def check(self) -> None:
        """Recompute every hash from the contents and compare: a test and debugging aid.

        Raises:
            dynamokv.spec.errors.InvariantError: an incremental update went wrong.
        """
        self._flush()
        level = []
        for index in range(1 << self.depth):
            leaf = EMPTY_LEAF
            for key, value_hash in self._buckets.get(index, {}).items():
                leaf = _xor(leaf, pair_digest(key, value_hash))
                invariant(self.bucket_of(key) == index, "merkle: key in the wrong bucket")
            level.append(leaf)
        for depth in range(self.depth, -1, -1):
            invariant(level == list(self.level(depth)), "merkle: incremental hash differs")
            level = [inner_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        invariant(sum(map(len, self._buckets.values())) == self.size, "merkle: size count is off")
        invariant(all(self._buckets.values()), "merkle: an empty bucket is kept")


def value_hash(versions: tuple[Version, ...]) -> bytes:
    """The Merkle leaf value of a key: a 128-bit hash of its whole version set.

    Versions are sorted by dot (the core keeps them so), so equal sets hash alike.
    """
    return _blake2b(
        b"".join([version_bytes(version) for version in versions]), digest_size=NODE_HASH_BYTES
    ).digest()


def version_bytes(version: Version) -> bytes:
    """One version's part of what :func:`value_hash` hashes: value, dot and context,
    each length-prefixed, so that no two version sets encode alike."""
    value = version.value
    node, counter = version.dot
    parts = [
        b"T" if value is None else b"V%d:%s" % (len(value), value),
        b"%d:%s%d;" % (len(node), node.encode(), counter),
    ]
    for entry_node, entry_counter in version.context:
        parts.append(b"%d:%s%d," % (len(entry_node), entry_node.encode(), entry_counter))
    return b"".join(parts)


class MerkleHashCache:
    """Merkle hashes remembered across trees, nodes and restarts (see the module docstring).

    A version set is an immutable tuple, so the set a key's leaf was computed from keeps
    its value hash for as long as it lives, and a version its bytes; the cache holds each
    set and version it remembers (an id is never reused while its object lives). An inner hash and a key's pair digest are
    remembered by the bytes they hash, a key's MD5 position by the key. Each part starts over after
    ``HASH_CACHE_ENTRIES_MAX`` entries.
    """

    __slots__ = ("_pairs", "_positions", "_values", "_versions", "inner")

    def __init__(self) -> None:
        self._values: dict[int, tuple[tuple[Version, ...], bytes]] = {}
        self._versions: dict[int, tuple[Version, bytes]] = {}
        self._positions: dict[bytes, int] = {}
        self._pairs: dict[bytes, int] = {}
        self.inner: dict[bytes, bytes] = {}
        """``b"I" + left + right`` -> the inner node's hash (``PartitionMerkleTree._flush``)."""

    def pair_number(self, key: bytes, value_hash: bytes) -> int:
        """:func:`pair_digest` as an integer (what a leaf XORs), computed once per pair."""
        pairs = self._pairs
        data = b"P" + len(key).to_bytes(4, "big") + key + value_hash
        number = pairs.get(data)
        if number is None:
            number = int.from_bytes(_blake2b(data, digest_size=NODE_HASH_BYTES).digest(), "big")
            if len(pairs) >= HASH_CACHE_ENTRIES_MAX:
                pairs.clear()
            pairs[data] = number
        return number

    def position_of(self, key: bytes) -> int:
        """:func:`~dynamokv.spec.ring.md5_position` of ``key`` (a tree's bucket needs it)."""
        positions = self._positions
        position = positions.get(key)
        if position is None:
            position = md5_position(key)
            if len(positions) >= HASH_CACHE_ENTRIES_MAX:
                positions.clear()
            positions[key] = position
        return position

    def value_hash(self, versions: tuple[Version, ...]) -> bytes:
        """:func:`value_hash` of ``versions``, computed once per version set."""
        values = self._values
        entry = values.get(id(versions))
        if entry is not None and entry[0] is versions:
            return entry[1]
        # A new set, usually of versions seen before (the replicas of a write hold the
        # same Version objects in sets of their own): each version's bytes are made once.
        encoded = self._versions
        parts: list[bytes] = []
        for version in versions:
            known = encoded.get(id(version))
            if known is None or known[0] is not version:
                if len(encoded) >= HASH_CACHE_ENTRIES_MAX:
                    encoded.clear()
                known = encoded[id(version)] = (version, version_bytes(version))
            parts.append(known[1])
        digest = _blake2b(b"".join(parts), digest_size=NODE_HASH_BYTES).digest()
        if len(values) >= HASH_CACHE_ENTRIES_MAX:
            values.clear()
        values[id(versions)] = (versions, digest)
        return digest


class MerkleTrees:
    """A node's Merkle trees, one per partition it stores keys of (created on first use).

    Args:
        partition_count: Q.
        depth: each tree has ``2**depth`` leaf buckets.
        partition_of: key -> its partition (the ring's MD5 scaled to Q, Dynamo §4.2).
        hashes: where value and inner hashes are remembered (default: nowhere).
        position_of: key -> its MD5 ring position, when the caller remembers positions
            (the node passes its ring's, which routing has already computed); default:
            ``hashes``' cache if given, else MD5 on every call.
    """

    __slots__ = (
        "_empty",
        "_empty_root",
        "_hashes",
        "_position_of",
        "_value_hash",
        "by_partition",
        "depth",
        "partition_count",
        "partition_of",
        "touched",
    )

    def __init__(
        self,
        *,
        partition_count: int,
        depth: int,
        partition_of: Callable[[bytes], int],
        hashes: MerkleHashCache | None = None,
        position_of: Callable[[bytes], int] | None = None,
    ) -> None:
        self.partition_count = partition_count
        self.depth = depth
        self.partition_of = partition_of
        self._hashes = hashes
        self._value_hash: Callable[[tuple[Version, ...]], bytes] = (
            value_hash if hashes is None else hashes.value_hash
        )
        if position_of is None:
            position_of = md5_position if hashes is None else hashes.position_of
        self._position_of: Callable[[bytes], int] = position_of
        self.by_partition: dict[int, PartitionMerkleTree] = {}
        self.touched: set[int] = set()
        """Partitions written since the orphan sweep last looked at them (it clears this)."""
        self._empty = empty_hashes(depth)
        self._empty_root = self._empty[0]

    def tree(self, partition: int) -> PartitionMerkleTree:
        """The tree of ``partition`` (an empty one is made and kept if there is none)."""
        tree = self.by_partition.get(partition)
        if tree is None:
            tree = PartitionMerkleTree(
                partition,
                partition_count=self.partition_count,
                depth=self.depth,
                empty=self._empty,
                position_of=self._position_of,
                hashes=self._hashes,
            )
            self.by_partition[partition] = tree
        return tree

    def update(self, key: bytes, versions: tuple[Version, ...]) -> None:
        """``key`` now holds ``versions`` (none: the key is gone)."""
        partition = self.partition_of(key)
        self.touched.add(partition)
        tree = self.by_partition.get(partition)
        if tree is None:
            tree = self.tree(partition)
        if versions:
            tree.put(key, self._value_hash(versions))
        else:
            tree.remove(key)

    def root(self, partition: int) -> bytes:
        """The root of ``partition`` (the empty root if nothing is stored there)."""
        tree = self.by_partition.get(partition)
        return self._empty_root if tree is None else tree.root()

    def roots(self, partitions: Iterable[int]) -> list[bytes]:
        """The roots of ``partitions``, in order."""
        trees = self.by_partition
        empty = self._empty_root
        roots = []
        for partition in partitions:
            tree = trees.get(partition)
            if tree is None:
                roots.append(empty)
                continue
            # PartitionMerkleTree.root, inlined: a roots round reads dozens of trees.
            if tree._dirty:
                tree._flush()
            roots.append(tree._nodes.get(1, empty))
        return roots

    def value_hash(self, partition: int, key: bytes) -> bytes | None:
        """The leaf value of ``key`` in ``partition``'s tree, or None if absent."""
        tree = self.by_partition.get(partition)
        return None if tree is None else tree.value_hash(key)

    def non_empty(self) -> list[tuple[int, PartitionMerkleTree]]:
        """The partitions holding keys here, with their trees, by partition."""
        return [(p, tree) for p, tree in sorted(self.by_partition.items()) if len(tree)]

    def __len__(self) -> int:
        """Keys held, over every partition."""
        return sum(len(tree) for tree in self.by_partition.values())

    def as_built_from_storage(self) -> MerkleTrees:
        """These trees as a start would build them from the keys they hold: the empty ones
        dropped, every partition holding keys marked touched (a driver hands them to the
        next incarnation of the node, whose storage holds exactly those keys)."""
        self.by_partition = {p: tree for p, tree in self.by_partition.items() if len(tree)}
        self.touched = set(self.by_partition)
        return self


class MerkleTracking:
    """The node's storage, decorated so that every version set written updates the trees.

    Same methods as :class:`~dynamokv.impl.core._storage.LocalStore`, which it wraps;
    whatever writes a key (a put, a replica's merge, a transfer, a repair, a drop after a
    handoff) goes through here, so the trees always match what the node stores.
    """

    __slots__ = ("inner", "trees", "watch")

    def __init__(
        self,
        inner: LocalStore,
        trees: MerkleTrees,
        *,
        watch: Callable[[bytes, tuple[Version, ...]], None] | None = None,
    ) -> None:
        self.inner = inner
        self.trees = trees
        # Told every version set stored too (the tombstone reaper), when set.
        self.watch = watch

    def read(self, key: bytes) -> tuple[Version, ...]:
        """What the node stores for ``key``, this step's writes included."""
        return self.inner.read(key)

    def write(self, key: bytes, versions: tuple[Version, ...], *after: AfterPersist) -> None:
        """Store ``versions`` for ``key`` and update its leaf."""
        self.inner.write(key, versions, *after)
        self.trees.update(key, versions)
        watch = self.watch
        if watch is not None:
            watch(key, versions)

    def write_many(
        self, items: Sequence[tuple[bytes, tuple[Version, ...]]], *after: AfterPersist
    ) -> None:
        """Store several keys' version sets in one persist and update their leaves."""
        self.inner.write_many(items, *after)
        update = self.trees.update
        for key, versions in items:
            update(key, versions)
        watch = self.watch
        if watch is not None:
            for key, versions in items:
                watch(key, versions)

    def drop(self, keys: Sequence[bytes]) -> None:
        """Forget ``keys`` (one persist) and remove them from the trees."""
        self.inner.drop(keys)
        update = self.trees.update
        watch = self.watch
        for key in keys:
            update(key, ())
            if watch is not None:
                watch(key, ())
