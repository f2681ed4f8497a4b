"""Laws of :mod:`dynamokv.spec.merkle`: anti-entropy by hash trees (Dynamo §4.7, interview Q4)."""

from __future__ import annotations

import dataclasses
import hashlib

from dynamokv.spec import merkle
from dynamokv.spec.merkle import MerkleTree
from hypothesis import given
from hypothesis import strategies as st

KEYS = st.binary(min_size=1, max_size=3)
VALUE_HASHES = st.binary(min_size=1, max_size=2)
LEAVES = st.dictionaries(KEYS, VALUE_HASHES, max_size=12)
DEPTHS = st.integers(0, 4)


def bucket_of(key: bytes) -> int:
    """Spread keys by their MD5, as the implementation spreads them by ring position."""
    return int.from_bytes(hashlib.md5(key).digest()[:4], "big")


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def build(leaves: dict[bytes, bytes], depth: int) -> MerkleTree:
    return merkle.build(leaves, depth=depth, bucket_of=bucket_of, hash_fn=sha256)


@st.composite
def replica_pairs(draw: st.DrawFn) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    """Two replicas of a key range: mostly shared contents, a few edits apart."""
    shared = draw(LEAVES)
    other = dict(shared)
    for key in draw(st.lists(KEYS, max_size=4)):
        if key in other and draw(st.booleans()):
            del other[key]
        else:
            other[key] = draw(VALUE_HASHES)
    return shared, other


@given(LEAVES, DEPTHS)
def test_build_puts_every_leaf_in_its_bucket_sorted(leaves: dict[bytes, bytes], depth: int) -> None:
    tree = build(leaves, depth)
    assert merkle.is_well_formed(tree) and tree.depth == depth
    assert {pair for bucket in tree.buckets for pair in bucket} == set(leaves.items())
    for index, bucket in enumerate(tree.buckets):
        assert list(bucket) == sorted(bucket)
        assert all(bucket_of(key) % (1 << depth) == index for key, _ in bucket)


@given(LEAVES, DEPTHS)
def test_is_well_formed_rejects_a_tree_of_the_wrong_shape(
    leaves: dict[bytes, bytes], depth: int
) -> None:
    tree = build(leaves, depth)
    assert not merkle.is_well_formed(dataclasses.replace(tree, depth=depth + 1))
    assert not merkle.is_well_formed(dataclasses.replace(tree, levels=tree.levels[1:]))
    assert not merkle.is_well_formed(dataclasses.replace(tree, buckets=(*tree.buckets, ())))


@given(LEAVES, DEPTHS)
def test_equal_contents_have_equal_roots_whatever_the_insertion_order(
    leaves: dict[bytes, bytes], depth: int
) -> None:
    reordered = dict(reversed(list(leaves.items())))
    assert merkle.root(build(leaves, depth)) == merkle.root(build(reordered, depth))


@given(replica_pairs(), DEPTHS)
def test_different_contents_have_different_roots(
    pair: tuple[dict[bytes, bytes], dict[bytes, bytes]], depth: int
) -> None:
    a, b = pair
    same_root = merkle.root(build(a, depth)) == merkle.root(build(b, depth))
    assert same_root == (a == b)  # SHA-256 does not collide on these


@given(replica_pairs())
def test_differing_keys_are_exactly_what_to_copy_to_make_replicas_equal(
    pair: tuple[dict[bytes, bytes], dict[bytes, bytes]],
) -> None:
    a, b = pair
    keys = merkle.differing_keys(a, b)
    assert keys == merkle.differing_keys(b, a)
    assert (not keys) == (a == b)
    repaired = {k: v for k, v in a.items() if k not in keys} | {k: b[k] for k in keys if k in b}
    assert repaired == b


@given(replica_pairs(), DEPTHS)
def test_diff_finds_exactly_the_differing_keys(
    pair: tuple[dict[bytes, bytes], dict[bytes, bytes]], depth: int
) -> None:
    """Soundness and completeness (theorems ``merkle.diff_is_sound``, ``merkle.diff_is_complete``)."""
    a, b = pair
    result = merkle.diff(build(a, depth), build(b, depth))
    assert result.keys == merkle.differing_keys(a, b)
    assert 1 <= result.nodes_compared <= (1 << (depth + 1)) - 1


@given(LEAVES, DEPTHS)
def test_identical_trees_cost_one_comparison(leaves: dict[bytes, bytes], depth: int) -> None:
    result = merkle.diff(build(leaves, depth), build(dict(leaves), depth))
    assert result == merkle.MerkleDiff(keys=frozenset(), nodes_compared=1)


@given(replica_pairs(), DEPTHS)
def test_diff_cost_is_bounded_by_the_differing_buckets(
    pair: tuple[dict[bytes, bytes], dict[bytes, bytes]], depth: int
) -> None:
    """Dynamo §4.7: the exchange is proportional to the difference, not to the data."""
    a, b = pair
    buckets = {bucket_of(key) % (1 << depth) for key in merkle.differing_keys(a, b)}
    assert merkle.diff(build(a, depth), build(b, depth)).nodes_compared <= 1 + 2 * depth * len(
        buckets
    )


@given(LEAVES, KEYS, st.integers(1, 6))
def test_one_differing_key_costs_one_path_however_much_data(
    leaves: dict[bytes, bytes], key: bytes, depth: int
) -> None:
    """1 differing key in ``2**depth`` buckets: the root, then two children per level."""
    changed = {**leaves, key: leaves.get(key, b"") + b"!"}
    result = merkle.diff(build(leaves, depth), build(changed, depth))
    assert result.keys == {key}
    assert result.nodes_compared == 2 * depth + 1


def test_a_colliding_hash_hides_every_difference() -> None:
    """Why the hash must be collision-resistant (negative control of ``merkle.diff_is_complete``)."""

    def constant(_: bytes) -> bytes:
        return b"\x00"

    a = merkle.build({b"k": b"1"}, depth=2, bucket_of=bucket_of, hash_fn=constant)
    b = merkle.build({b"k": b"2"}, depth=2, bucket_of=bucket_of, hash_fn=constant)
    assert merkle.root(a) == merkle.root(b)
    assert merkle.diff(a, b) == merkle.MerkleDiff(keys=frozenset(), nodes_compared=1)
