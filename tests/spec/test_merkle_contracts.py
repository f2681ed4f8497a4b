"""Merkle trees: each contract of ``spec/merkle.py`` at its boundaries, and the bodies' exact answers.

Every precondition of :func:`merkle.build` and :func:`merkle.diff` gets a valid call at its
extreme (depth 0, depth 16) and an invalid one just past it that breaks that precondition
alone; every postcondition gets a wrong result that it alone rejects, on either side of the
boundary it states. :func:`merkle.is_well_formed` is checked conjunct by conjunct. The bodies
are checked by exact answers: the bytes a tree hashes (with the identity as hash, the root
*is* the encoding), the bucket a key wraps into, and the keys and node pairs a diff compares
when two trees differ in their first bucket, their last one, every one, or none.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping
from typing import Any

import pytest
from contract_helpers import Call, WrongResult, check_call, check_wrong_result
from dynamokv.spec import merkle


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def identity(data: bytes) -> bytes:
    return data


def first_byte(key: bytes) -> int:
    return key[0]


def big_endian(key: bytes) -> int:
    return int.from_bytes(key, "big")


def u64(n: int) -> bytes:
    """The 8-byte big-endian length prefix of the tree's encoding."""
    return n.to_bytes(8, "big")


def leaf(*pairs: tuple[bytes, bytes]) -> bytes:
    """The encoding of a bucket: its pair count, then each key and value hash length-prefixed."""
    fields = b"".join(u64(len(k)) + k + u64(len(v)) + v for k, v in pairs)
    return b"L" + u64(len(pairs)) + fields


def inner(left: bytes, right: bytes) -> bytes:
    return b"I" + u64(len(left)) + left + right


def tree(leaves: Mapping[bytes, bytes], depth: int) -> merkle.MerkleTree:
    return merkle.build(leaves, depth=depth, bucket_of=first_byte, hash_fn=sha256)


def building(leaves: Mapping[bytes, bytes], depth: int) -> dict[str, Any]:
    return {"leaves": leaves, "depth": depth, "bucket_of": first_byte, "hash_fn": sha256}


def shape(depth: int, extra_level: bool = False) -> merkle.MerkleTree:
    """A tree of the right shape for ``depth`` (all hashes empty), built by hand."""
    levels = tuple((b"",) * (1 << d) for d in range(depth + 1 + extra_level))
    return merkle.MerkleTree(depth=depth, levels=levels, buckets=((),) * (1 << depth))


@functools.cache
def deep(leaves: tuple[tuple[bytes, bytes], ...]) -> merkle.MerkleTree:
    """A depth-16 tree (65536 buckets, the deepest allowed), keyed by two bytes."""
    return merkle.build(dict(leaves), depth=16, bucket_of=big_endian, hash_fn=sha256)


ONE = {b"k": b"v"}
OTHER = {b"k": b"w"}
TWO = {b"k": b"v", b"m": b"v"}
D1 = tree(ONE, 1)
D2 = tree(ONE, 2)
MISSING_LEVEL = merkle.MerkleTree(depth=1, levels=D1.levels[:1], buckets=D1.buckets)
DEEP_FIRST = ((b"\x00\x00", b"w"), (b"\xff\xff", b"v"))
DEEP_LAST = ((b"\x00\x00", b"v"), (b"\xff\xff", b"w"))


# --- is_well_formed, conjunct by conjunct ------------------------------------------------

WELL_FORMED = [
    (shape(0), True, "depth 0: one level of one hash, one bucket"),
    (shape(1), True, "depth 1: levels of 1 and 2 hashes, 2 buckets"),
    (shape(3), True, "depth 3: levels of 1, 2, 4, 8 hashes, 8 buckets"),
    (shape(16), True, "depth 16, the deepest allowed"),
    (shape(17), False, "depth 17, one past the deepest, though of the right shape"),
    (
        merkle.MerkleTree(depth=-1, levels=(), buckets=()),
        False,
        "depth -1, the first below 0",
    ),
    (MISSING_LEVEL, False, "depth 1 with the root level only: a level missing"),
    (shape(1, extra_level=True), False, "depth 1 with a third level: a level too many"),
    (
        merkle.MerkleTree(depth=1, levels=((b"",), (b"",)), buckets=((), ())),
        False,
        "level 1 with one hash instead of 2",
    ),
    (
        merkle.MerkleTree(depth=1, levels=((b"",), (b"",) * 3), buckets=((), ())),
        False,
        "level 1 with three hashes instead of 2",
    ),
    (
        merkle.MerkleTree(depth=1, levels=((b"", b""), (b"", b"")), buckets=((), ())),
        False,
        "two roots",
    ),
    (
        merkle.MerkleTree(depth=2, levels=shape(2).levels, buckets=((),) * 3),
        False,
        "depth 2 with 3 buckets instead of 4",
    ),
    (
        merkle.MerkleTree(depth=2, levels=shape(2).levels, buckets=((),) * 5),
        False,
        "depth 2 with 5 buckets instead of 4",
    ),
]


@pytest.mark.parametrize(
    ("tree_", "expected", "why"), WELL_FORMED, ids=[why for _, _, why in WELL_FORMED]
)
def test_is_well_formed(tree_: merkle.MerkleTree, expected: bool, why: str) -> None:
    assert merkle.is_well_formed(tree_) is expected, why


# --- preconditions -----------------------------------------------------------------------

CALLS = [
    Call(merkle.build, building(ONE, 0), None, "depth 0, the shallowest allowed"),
    Call(merkle.build, building(ONE, -1), "depth", "depth -1, one below the shallowest"),
    Call(merkle.build, building(ONE, 17), "depth", "depth 17, one past the deepest"),
    Call(merkle.diff, {"a": tree(ONE, 0), "b": tree(OTHER, 0)}, None, "two trees of depth 0"),
    Call(merkle.diff, {"a": D1, "b": D1}, None, "a tree and itself"),
    Call(
        merkle.diff,
        {"a": MISSING_LEVEL, "b": D1},
        "is_well_formed(a)",
        "the first tree lacks a level (same depth as the second)",
    ),
    Call(
        merkle.diff,
        {"a": D1, "b": MISSING_LEVEL},
        "is_well_formed(a)",
        "the second tree lacks a level (same depth as the first)",
    ),
    Call(merkle.diff, {"a": D1, "b": D2}, "b.depth", "the first tree is shallower"),
    Call(merkle.diff, {"a": D2, "b": D1}, "b.depth", "the first tree is deeper"),
]


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_preconditions(call: Call) -> None:
    check_call(call)


# --- postconditions ----------------------------------------------------------------------

WRONG_RESULTS = [
    WrongResult(
        merkle.build, building(ONE, 1), tree(ONE, 0), "a depth 0 tree for depth 1", "result.depth"
    ),
    WrongResult(merkle.build, building(ONE, 1), D2, "a depth 2 tree for depth 1", "result.depth"),
    WrongResult(
        merkle.build,
        building(ONE, 1),
        MISSING_LEVEL,
        "the right depth, a level missing",
        "result.depth",
    ),
    WrongResult(merkle.build, building(ONE, 1), tree({}, 1), "a leaf lost", "result.buckets"),
    WrongResult(merkle.build, building(ONE, 1), tree(TWO, 1), "a leaf invented", "result.buckets"),
    WrongResult(
        merkle.build,
        building(TWO, 0),
        tree(ONE, 0),
        "depth 0: one of two leaves lost",
        "result.buckets",
    ),
    WrongResult(
        merkle.diff,
        {"a": D1, "b": D1},
        merkle.MerkleDiff(keys=frozenset(), nodes_compared=3),
        "equal roots, yet the walk went down",
        "result.nodes_compared",
    ),
    WrongResult(
        merkle.diff,
        {"a": D1, "b": tree(OTHER, 1)},
        merkle.MerkleDiff(keys=frozenset({b"k"}), nodes_compared=1),
        "different roots, yet the walk stopped at them",
        "result.nodes_compared",
    ),
    WrongResult(
        merkle.diff,
        {"a": tree(ONE, 0), "b": tree(OTHER, 0)},
        merkle.MerkleDiff(keys=frozenset({b"k"}), nodes_compared=2),
        "depth 0, different roots: one node pair to compare, not 2",
        "result.nodes_compared",
    ),
    WrongResult(
        merkle.diff,
        {"a": tree(ONE, 0), "b": tree(ONE, 0)},
        merkle.MerkleDiff(keys=frozenset(), nodes_compared=0),
        "depth 0, equal roots: one node pair to compare, not 0",
        "result.nodes_compared",
    ),
    WrongResult(
        merkle.diff,
        {"a": D1, "b": D1},
        merkle.MerkleDiff(keys=frozenset({b"k"}), nodes_compared=1),
        "equal trees, yet a differing key",
        "not result.keys",
    ),
    WrongResult(
        merkle.diff,
        {"a": tree(ONE, 0), "b": tree(ONE, 0)},
        merkle.MerkleDiff(keys=frozenset({b"k"}), nodes_compared=1),
        "equal trees of depth 0, yet a differing key",
        "not result.keys",
    ),
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_postconditions(row: WrongResult) -> None:
    check_wrong_result(row)


# --- build and root: the exact encoding --------------------------------------------------


def test_a_depth_0_tree_is_one_bucket_whose_hash_is_the_root() -> None:
    built = merkle.build({b"k": b"v"}, depth=0, bucket_of=first_byte, hash_fn=identity)
    assert built == merkle.MerkleTree(
        depth=0, levels=((leaf((b"k", b"v")),),), buckets=(((b"k", b"v"),),)
    )
    assert merkle.root(built) == leaf((b"k", b"v"))


def test_an_empty_bucket_encodes_its_count_only() -> None:
    built = merkle.build({}, depth=0, bucket_of=first_byte, hash_fn=identity)
    assert merkle.root(built) == b"L" + u64(0)


def test_a_depth_1_root_hashes_its_children_left_to_right() -> None:
    left, right = (b"\x00a", b"1"), (b"\x01bc", b"22")
    built = merkle.build(dict([right, left]), depth=1, bucket_of=first_byte, hash_fn=identity)
    assert built.buckets == ((left,), (right,))
    assert built.levels == (
        (inner(leaf(left), leaf(right)),),
        (leaf(left), leaf(right)),
    )
    assert merkle.root(built) == inner(leaf(left), leaf(right))


def test_a_depth_2_tree_pairs_buckets_0_1_and_2_3() -> None:
    pairs = [(bytes([i]), bytes([65 + i]) * (i + 1)) for i in range(4)]
    built = merkle.build(dict(pairs), depth=2, bucket_of=first_byte, hash_fn=identity)
    leaves = tuple(leaf(p) for p in pairs)
    middle = (inner(leaves[0], leaves[1]), inner(leaves[2], leaves[3]))
    assert built.levels == ((inner(*middle),), middle, leaves)
    assert merkle.root(built) == inner(*middle)


def test_a_bucket_holds_its_pairs_sorted_by_key() -> None:
    built = merkle.build(
        {b"\x00z": b"1", b"\x00a": b"2", b"\x00m": b"3"},
        depth=1,
        bucket_of=first_byte,
        hash_fn=identity,
    )
    assert built.buckets == (((b"\x00a", b"2"), (b"\x00m", b"3"), (b"\x00z", b"1")), ())
    assert built.levels[1][0] == leaf((b"\x00a", b"2"), (b"\x00m", b"3"), (b"\x00z", b"1"))


def test_a_bucket_index_wraps_modulo_the_bucket_count() -> None:
    built = merkle.build(
        {b"\x0d": b"a", b"\xff": b"b", b"\x00": b"c", b"\x06": b"d"},
        depth=2,
        bucket_of=first_byte,
        hash_fn=sha256,
    )
    assert built.buckets == (
        ((b"\x00", b"c"),),
        ((b"\x0d", b"a"),),
        ((b"\x06", b"d"),),
        ((b"\xff", b"b"),),
    )


def test_the_deepest_tree_is_allowed_and_has_65536_buckets_and_17_levels() -> None:
    arguments = {
        "leaves": dict(DEEP_FIRST),
        "depth": 16,
        "bucket_of": big_endian,
        "hash_fn": sha256,
    }
    built = check_call(Call(merkle.build, arguments, None, "depth 16, the deepest allowed"))
    assert [len(level) for level in built.levels] == [1 << d for d in range(17)]
    assert built.buckets[0] == ((b"\x00\x00", b"w"),)
    assert built.buckets[-1] == ((b"\xff\xff", b"v"),)
    assert sum(len(b) for b in built.buckets) == 2


# --- differing_keys ------------------------------------------------------------------------


def test_differing_keys_names_changed_and_one_sided_keys_only() -> None:
    a = {b"same": b"1", b"changed": b"1", b"only_a": b"1"}
    b = {b"same": b"1", b"changed": b"2", b"only_b": b"1"}
    assert merkle.differing_keys(a, b) == {b"changed", b"only_a", b"only_b"}
    assert merkle.differing_keys(b, a) == {b"changed", b"only_a", b"only_b"}
    assert merkle.differing_keys(a, a) == frozenset()
    assert merkle.differing_keys({}, {}) == frozenset()
    assert merkle.differing_keys({b"k": b"v"}, {}) == {b"k"}
    assert merkle.differing_keys({}, {b"k": b"v"}) == {b"k"}


# --- diff: exact keys and node pairs compared --------------------------------------------

FOUR = {bytes([i]): b"v" for i in range(4)}
EIGHT = {bytes([i]): b"v" for i in range(8)}


def changed(leaves: Mapping[bytes, bytes], *keys: bytes) -> dict[bytes, bytes]:
    return {**leaves, **dict.fromkeys(keys, b"w")}


DIFFS = [
    (tree(ONE, 0), tree(ONE, 0), set(), 1, "depth 0, equal: the roots only"),
    (tree(ONE, 0), tree(OTHER, 0), {b"k"}, 1, "depth 0, different: the root is the bucket"),
    (tree(ONE, 0), tree({}, 0), {b"k"}, 1, "depth 0, a key on one side only"),
    (tree(FOUR, 2), tree(FOUR, 2), set(), 1, "depth 2, equal: the roots only"),
    (
        tree(FOUR, 2),
        tree(changed(FOUR, b"\x00"), 2),
        {b"\x00"},
        5,
        "depth 2, the first bucket differs: root, 2 children, 2 grandchildren",
    ),
    (
        tree(FOUR, 2),
        tree(changed(FOUR, b"\x03"), 2),
        {b"\x03"},
        5,
        "depth 2, the last bucket differs",
    ),
    (
        tree(FOUR, 2),
        tree(changed(FOUR, b"\x01", b"\x02"), 2),
        {b"\x01", b"\x02"},
        7,
        "depth 2, the two middle buckets differ: all 7 nodes",
    ),
    (
        tree(FOUR, 2),
        tree({}, 2),
        set(FOUR),
        7,
        "depth 2, every bucket differs: all 7 nodes",
    ),
    (
        tree(EIGHT, 3),
        tree(changed(EIGHT, b"\x07"), 3),
        {b"\x07"},
        7,
        "depth 3, the last bucket differs: 1 + 2 * 3 nodes",
    ),
    (
        tree(EIGHT, 3),
        tree(changed(EIGHT, b"\x00"), 3),
        {b"\x00"},
        7,
        "depth 3, the first bucket differs",
    ),
    (
        tree(EIGHT, 3),
        tree(changed(EIGHT, b"\x05"), 3),
        {b"\x05"},
        7,
        "depth 3, bucket 5 differs (right, left, right)",
    ),
    (
        tree(EIGHT, 3),
        tree({**EIGHT, b"\x02x": b"v"}, 3),
        {b"\x02x"},
        7,
        "depth 3, bucket 2 gains a key; its other key agrees",
    ),
]


@pytest.mark.parametrize(
    ("a", "b", "keys", "compared", "why"), DIFFS, ids=[row[-1] for row in DIFFS]
)
def test_diff_exact(
    a: merkle.MerkleTree, b: merkle.MerkleTree, keys: set[bytes], compared: int, why: str
) -> None:
    assert merkle.diff(a, b) == merkle.MerkleDiff(frozenset(keys), compared), why
    assert merkle.diff(b, a) == merkle.MerkleDiff(frozenset(keys), compared), why


def test_diff_unites_the_keys_of_every_differing_bucket() -> None:
    """A key that sits in another bucket on each side (trees built with different bucket
    functions, which no precondition can rule out) differs in both buckets: named once."""
    a = merkle.build(ONE, depth=1, bucket_of=lambda _: 0, hash_fn=sha256)
    b = merkle.build(ONE, depth=1, bucket_of=lambda _: 1, hash_fn=sha256)
    assert merkle.diff(a, b) == merkle.MerkleDiff(frozenset({b"k"}), 3)


def test_diff_of_the_deepest_trees_walks_one_path_per_differing_bucket() -> None:
    assert merkle.diff(deep(DEEP_FIRST), deep(DEEP_LAST)) == merkle.MerkleDiff(
        frozenset({b"\x00\x00", b"\xff\xff"}), 1 + 2 + 2 * (2 * 15)
    ), "the first and the last of 65536 buckets: the root, its children, two paths of 15"


def test_a_tree_and_a_diff_are_frozen() -> None:
    built = merkle.build({}, depth=0, bucket_of=len, hash_fn=bytes)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.depth = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        merkle.MerkleDiff(keys=frozenset(), nodes_compared=1).nodes_compared = 2  # type: ignore[misc]
