"""Merkle trees: finding what two replicas disagree on (Dynamo §4.7, interview Q4).

Each replica keeps a hash tree over a key range. A leaf is a *bucket*: the hash
of the sorted ``(key, value_hash)`` pairs whose key falls in it. An inner node
is the hash of its two children, so equal roots mean (up to hash collisions)
equal contents. Two replicas compare roots; where they differ they descend into
the children, and only under differing leaves do they compare keys. The work is
proportional to the difference, not to the data (Dynamo §4.7: "Merkle trees
minimize the amount of data that needs to be transferred for synchronization").

The tree's shape is fixed: ``2**depth`` buckets chosen by a ``bucket_of``
function of the key (in the implementation, bits of the key's ring position), so
two replicas with different key sets still build trees of the same shape.

Hashes are parameters: the spec stays pure, and the proofs model the hash as an
injective function (and show what breaks when it collides).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import icontract

__all__ = [
    "BucketFn",
    "BytesHashFn",
    "MerkleDiff",
    "MerkleTree",
    "build",
    "diff",
    "differing_keys",
    "is_well_formed",
    "root",
]

BucketFn = Callable[[bytes], int]
"""Maps a key to its leaf bucket (taken modulo ``2**depth``)."""

BytesHashFn = Callable[[bytes], bytes]
"""The hash of tree nodes; the proofs model it as injective."""


@dataclass(frozen=True)
class MerkleTree:
    """A complete binary hash tree with ``2**depth`` leaf buckets.

    Attributes:
        depth: the number of levels below the root.
        levels: ``levels[d]`` holds the ``2**d`` node hashes at depth ``d``
            (``levels[0][0]`` is the root, ``levels[depth]`` the buckets).
        buckets: the ``(key, value_hash)`` pairs of each leaf, sorted by key.
    """

    depth: int
    levels: tuple[tuple[bytes, ...], ...]
    buckets: tuple[tuple[tuple[bytes, bytes], ...], ...]


@dataclass(frozen=True)
class MerkleDiff:
    """The result of comparing two trees top-down.

    Attributes:
        keys: every key whose value hash differs, or that one side lacks.
        nodes_compared: how many node pairs were compared (the exchange cost).
    """

    keys: frozenset[bytes]
    nodes_compared: int


def _leaf_payload(pairs: tuple[tuple[bytes, bytes], ...]) -> bytes:
    # Length-prefix every field so that different bucket contents never encode
    # to the same bytes (the encoding is injective).
    parts = [len(pairs).to_bytes(8, "big")]
    for key, value_hash in pairs:
        parts += [len(key).to_bytes(8, "big"), key, len(value_hash).to_bytes(8, "big"), value_hash]
    return b"L" + b"".join(parts)


def _inner_payload(left: bytes, right: bytes) -> bytes:
    return b"I" + len(left).to_bytes(8, "big") + left + right


@icontract.require(lambda depth: 0 <= depth <= 16)
@icontract.ensure(lambda depth, result: result.depth == depth and is_well_formed(result))
@icontract.ensure(lambda leaves, result: sum(len(b) for b in result.buckets) == len(leaves))
def build(
    leaves: Mapping[bytes, bytes], *, depth: int, bucket_of: BucketFn, hash_fn: BytesHashFn
) -> MerkleTree:
    """Build the tree over ``leaves`` (key -> value hash).

    Args:
        leaves: the key range's contents, each key with the hash of its value.
        depth: the tree has ``2**depth`` leaf buckets.
        bucket_of: key -> bucket index in ``[0, 2**depth)``.
        hash_fn: the hash of nodes (SHA-256 or MD5 in practice).
    """
    bucket_count = 1 << depth
    grouped: list[list[tuple[bytes, bytes]]] = [[] for _ in range(bucket_count)]
    for key, value_hash in leaves.items():
        grouped[bucket_of(key) % bucket_count].append((key, value_hash))
    buckets = tuple(tuple(sorted(pairs)) for pairs in grouped)
    level = tuple(hash_fn(_leaf_payload(pairs)) for pairs in buckets)
    levels = [level]
    for _ in range(depth):  # each level up halves the one below, up to the root
        level = tuple(
            hash_fn(_inner_payload(level[i], level[i + 1])) for i in range(0, len(level), 2)
        )
        levels.append(level)
    return MerkleTree(depth=depth, levels=tuple(reversed(levels)), buckets=buckets)


def root(tree: MerkleTree) -> bytes:
    """The root hash: equal roots mean equal contents (for an injective hash)."""
    (top,) = tree.levels[0]
    return top


def differing_keys(a: Mapping[bytes, bytes], b: Mapping[bytes, bytes]) -> frozenset[bytes]:
    """The keys on which two key ranges disagree, by direct comparison (no tree)."""
    return frozenset(key for key in set(a) | set(b) if a.get(key) != b.get(key))


def is_well_formed(tree: MerkleTree) -> bool:
    """Whether ``tree`` has the shape :func:`build` gives: level ``d`` has ``2**d`` hashes."""
    return (
        0 <= tree.depth <= 16
        and len(tree.levels) == tree.depth + 1
        and all(len(level) == 1 << d for d, level in enumerate(tree.levels))
        and len(tree.buckets) == 1 << tree.depth
    )


@icontract.require(lambda a, b: is_well_formed(a) and is_well_formed(b))
@icontract.require(lambda a, b: a.depth == b.depth)
@icontract.ensure(
    lambda a, b, result: (result.nodes_compared == 1) == (root(a) == root(b) or a.depth == 0)
)
@icontract.ensure(lambda a, b, result: root(a) != root(b) or not result.keys)
def diff(a: MerkleTree, b: MerkleTree) -> MerkleDiff:
    """Compare two trees top-down; descend only into node pairs whose hashes differ.

    The walk starts at the roots. Each node pair it compares (``levels[d][i]`` of
    both trees) counts once in ``nodes_compared``; equal hashes end the walk there,
    differing inner nodes send it to both children (``2i`` and ``2i + 1`` of level
    ``d + 1``), and at a differing leaf the two buckets are compared key by key
    (:func:`differing_keys`). Under an injective hash the result's keys equal
    :func:`differing_keys` of the two trees' contents (soundness and completeness,
    proved up to a depth in ``dynamokv.proofs``).
    """
    compared = 0
    frontier = [(0, 0)]  # (depth, index) of node pairs still to compare
    differing_buckets: list[int] = []
    while frontier:
        level, index = frontier.pop()
        compared += 1
        if a.levels[level][index] == b.levels[level][index]:
            continue
        if level == a.depth:
            differing_buckets.append(index)
        else:
            frontier += [(level + 1, 2 * index), (level + 1, 2 * index + 1)]
    keys: set[bytes] = set()
    for index in differing_buckets:
        keys |= differing_keys(dict(a.buckets[index]), dict(b.buckets[index]))
    return MerkleDiff(keys=frozenset(keys), nodes_compared=compared)
