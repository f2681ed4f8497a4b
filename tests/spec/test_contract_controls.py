"""Every contract of the spec has a wrong answer that it, and only a correct contract, rejects.

A postcondition is only worth its line if some wrong result fails it. Hypothesis
tests call the real bodies, which are right, so a contract that was weakened (``==``
turned into ``<=``) or deleted would go unnoticed by them. Each row here is a call
with a *wrong result* chosen so that the one contract it targets rejects it while
the others accept it; every postcondition of the function is evaluated on that
result directly, the way icontract would after a body that returned it.

The controls: the real result of the same call passes every postcondition, and a
call that breaks one precondition raises ``ViolationError``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from typing import Any

import icontract
import pytest
from contract_helpers import WrongResult, check_wrong_result
from dynamokv.spec import kv, lamport, merkle, quorum, ring, vclock


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def first_byte(key: bytes) -> int:
    return key[0]


def tree(leaves: Mapping[bytes, bytes], depth: int) -> merkle.MerkleTree:
    return merkle.build(leaves, depth=depth, bucket_of=first_byte, hash_fn=sha256)


def building(leaves: Mapping[bytes, bytes], depth: int) -> dict[str, Any]:
    return {"leaves": leaves, "depth": depth, "bucket_of": first_byte, "hash_fn": sha256}


ONE = {b"k": b"v"}
OTHER = {b"k": b"w"}
TWO = {b"k": b"v", b"m": b"v"}


X = kv.make_version(b"x", "a", 1, {})
Y = kv.make_version(b"y", "b", 1, {})
X_THEN_Z = kv.make_version(b"z", "a", 2, {"a": 1})
BAD_DOT = kv.Version(value=b"x", dot=("a", 0))
STALE_DOT = kv.Version(value=b"x", dot=("a", 1), context=(("a", 2),))
"""Invalid (the dot is not above the context), though its clock is a valid clock."""

R3 = ((10, "a"), (20, "b"), (30, "c"))
ABAB = ("a", "b", "a", "b")
ONES = {"a": 1, "b": 1, "c": 1}

MALFORMED = merkle.MerkleTree(
    depth=1, levels=(tree(ONE, 1).levels[0],), buckets=tree(ONE, 1).buckets
)

WRONG_RESULTS = [
    WrongResult(vclock.increment, {"clock": {"a": 1}, "node": "a"}, {"a": 3}, "counter +2"),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 1, "b": 3}, "node": "a"},
        {"a": 2, "b": 2},
        "another node's counter went down",
    ),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 1, "b": 3}, "node": "a"},
        {"a": 2, "b": 5},
        "another node's counter went up",
    ),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 1, "b": 3}, "node": "b"},
        {"a": 2, "b": 4},
        "the counter of a node sorting before it went up",
    ),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 1}, "node": "b"},
        {"a": 1, "b": 1, "c": 1},
        "an entry for a third node appeared",
    ),
    WrongResult(
        vclock.increment,
        {"clock": {"a": 1, "c": 1}, "node": "a"},
        {"a": 2, "c": 1, "z": 0},
        "a zero entry (not a valid clock)",
    ),
    WrongResult(vclock.descends, {"a": {"a": 1}, "b": {"a": 2}}, True, "a smaller clock descends"),
    WrongResult(vclock.descends, {"a": {"a": 2}, "b": {"a": 1}}, False, "a larger clock does not"),
    WrongResult(
        vclock.merge,
        {"a": {"a": 2}, "b": {"b": 1}},
        {"a": 1, "b": 1},
        "the merge is below one side",
    ),
    WrongResult(
        vclock.merge,
        {"a": {"a": 1}, "b": {"b": 1}},
        {"a": 1, "b": 1, "c": 1},
        "the merge names a node neither side has",
    ),
    WrongResult(
        vclock.compare,
        {"a": {"a": 1}, "b": {"a": 1}},
        vclock.Order.AFTER,
        "equal clocks placed after",
    ),
    WrongResult(
        vclock.compare,
        {"a": {"a": 1}, "b": {"a": 2}},
        vclock.Order.EQUAL,
        "different clocks called equal",
    ),
    WrongResult(
        vclock.compare,
        {"a": {"a": 1}, "b": {"b": 1}},
        vclock.Order.BEFORE,
        "concurrent clocks ordered",
    ),
    WrongResult(
        vclock.compare,
        {"a": {"a": 1}, "b": {"a": 2}},
        vclock.Order.CONCURRENT,
        "ordered clocks called concurrent",
    ),
    WrongResult(
        vclock.truncate,
        {"clock": {"a": 1, "b": 1}, "stamps": {"a": 1, "b": 2}, "threshold": 2},
        {"a": 1, "b": 5},
        "a kept counter changed",
    ),
    WrongResult(
        vclock.truncate,
        {"clock": {"a": 1, "b": 1}, "stamps": {"a": 1, "b": 2}, "threshold": 1},
        {},
        "more entries dropped than the threshold asks",
    ),
    WrongResult(
        vclock.truncate,
        {"clock": {"a": 1, "b": 1}, "stamps": {"a": 1, "b": 2}, "threshold": 1},
        {"a": 1, "b": 1},
        "nothing dropped past the threshold",
    ),
    WrongResult(lamport.increment, {"clock": 3}, 5, "a step of two"),
    WrongResult(lamport.increment, {"clock": 3}, 3, "no step"),
    WrongResult(
        lamport.receive,
        {"clock": 5, "message": 2},
        3,
        "the receive is not after the receiver's past",
    ),
    WrongResult(
        lamport.receive, {"clock": 2, "message": 5}, 3, "the receive is not after the send"
    ),
    WrongResult(lamport.receive, {"clock": 2, "message": 5}, 9, "a jump past max + 1"),
    WrongResult(
        quorum.read_write_quorums_intersect, {"n": 3, "r": 1, "w": 2}, True, "R + W = N intersect"
    ),
    WrongResult(
        quorum.read_write_quorums_intersect,
        {"n": 3, "r": 2, "w": 2},
        False,
        "R + W > N do not intersect",
    ),
    WrongResult(quorum.write_quorums_intersect, {"n": 4, "w": 2}, True, "2W = N intersect"),
    WrongResult(quorum.write_quorums_intersect, {"n": 3, "w": 2}, False, "2W > N do not"),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "c"], "healthy": {"a", "b", "c"}, "n": 1},
        (("a", None), ("b", "c")),
        "more than N nodes",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b"], "healthy": {"b"}, "n": 1},
        (("a", None),),
        "an unhealthy node chosen",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b"], "healthy": {"a", "b"}, "n": 1},
        (("b", None),),
        "a substitute without a hint",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b"], "healthy": {"a", "b"}, "n": 1},
        (("a", "b"),),
        "an owner holding a hint",
    ),
    WrongResult(
        quorum.sloppy_quorum,
        {"extended_preference_list": ["a", "b", "c", "d"], "healthy": {"c", "d"}, "n": 2},
        (("c", "a"), ("d", "a")),
        "two substitutes for one owner",
    ),
    WrongResult(
        quorum.strict_quorum,
        {"preference_list": ["a", "b"], "healthy": {"a", "b"}, "n": 1},
        ("b",),
        "a node past the first N",
    ),
    WrongResult(merkle.build, building(ONE, 1), tree(ONE, 2), "the wrong depth"),
    WrongResult(
        merkle.build,
        building(ONE, 1),
        merkle.MerkleTree(depth=1, levels=(tree(ONE, 1).levels[0],), buckets=tree(ONE, 1).buckets),
        "a level missing",
    ),
    WrongResult(merkle.build, building(ONE, 1), tree({}, 1), "a leaf lost"),
    WrongResult(merkle.build, building(ONE, 1), tree(TWO, 1), "a leaf invented"),
    WrongResult(
        merkle.diff,
        {"a": tree(ONE, 1), "b": tree(ONE, 1)},
        merkle.MerkleDiff(keys=frozenset(), nodes_compared=3),
        "equal roots, yet the walk went down",
    ),
    WrongResult(
        merkle.diff,
        {"a": tree(ONE, 1), "b": tree(OTHER, 1)},
        merkle.MerkleDiff(keys=frozenset({b"k"}), nodes_compared=1),
        "different roots, yet the walk stopped at them",
    ),
    WrongResult(
        merkle.diff,
        {"a": tree(ONE, 0), "b": tree(OTHER, 0)},
        merkle.MerkleDiff(keys=frozenset({b"k"}), nodes_compared=3),
        "a tree of depth 0 has one node to compare",
    ),
    WrongResult(
        merkle.diff,
        {"a": tree(ONE, 1), "b": tree(ONE, 1)},
        merkle.MerkleDiff(keys=frozenset({b"k"}), nodes_compared=1),
        "equal trees, yet a differing key",
    ),
    WrongResult(
        kv.make_version,
        {"value": b"x", "coordinator": "a", "counter": 2, "context": {}},
        kv.Version(value=b"x", dot=("a", 3)),
        "another dot",
    ),
    WrongResult(
        kv.make_version,
        {"value": b"x", "coordinator": "a", "counter": 2, "context": {"b": 1}},
        kv.Version(value=b"x", dot=("a", 2)),
        "the context forgotten: the version does not come after it",
    ),
    WrongResult(kv.supersedes, {"x": X, "y": X}, True, "a version supersedes itself"),
    WrongResult(kv.reconcile, {"versions": [X]}, frozenset({Y}), "a version from nowhere"),
    WrongResult(
        kv.reconcile,
        {"versions": [X, X_THEN_Z]},
        frozenset({X, X_THEN_Z}),
        "a superseded version kept",
    ),
    WrongResult(kv.context_of, {"versions": [X_THEN_Z]}, {"a": 1}, "below a sibling's clock"),
    WrongResult(
        kv.next_counter,
        {"coordinator": "a", "context": {"a": 3}, "held": []},
        3,
        "a counter the context has seen",
    ),
    WrongResult(
        kv.next_counter,
        {"coordinator": "a", "context": {}, "held": [kv.make_version(b"x", "a", 3, {})]},
        3,
        "a counter a held version has",
    ),
    WrongResult(
        kv.next_counter,
        {"coordinator": "a", "context": {}, "held": [kv.make_version(b"x", "a", 3, {})]},
        2,
        "a counter below one a held version has",
    ),
    WrongResult(
        kv.cart_update,
        {"siblings": [], "item": b"i", "stamp": 5, "last_write_wins": False},
        (4, b"i"),
        "another stamp",
    ),
    WrongResult(
        kv.cart_update,
        {"siblings": [], "item": b"i", "stamp": 5, "last_write_wins": False},
        (5, b"j"),
        "the item not added",
    ),
    WrongResult(
        kv.cart_update,
        {"siblings": [(1, b"a"), (2, b"b")], "item": b"i", "stamp": 5, "last_write_wins": False},
        (5, b"a\ni"),
        "a sibling's item lost by the union",
    ),
    WrongResult(
        ring.extended_preference_list, {"ring": R3, "position": 15}, ("b", "c"), "a node left out"
    ),
    WrongResult(
        ring.extended_preference_list,
        {"ring": R3, "position": 15},
        ("b", "c", "a", "d"),
        "a node not on the ring",
    ),
    WrongResult(
        ring.extended_preference_list,
        {"ring": R3, "position": 15},
        ("b", "b", "c"),
        "a node twice",
    ),
    WrongResult(ring.preference_list, {"ring": R3, "position": 15, "n": 2}, ("b",), "too short"),
    WrongResult(
        ring.preference_list, {"ring": R3, "position": 15, "n": 2}, ("b", "c", "a"), "too long"
    ),
    WrongResult(
        ring.preference_list, {"ring": R3, "position": 15, "n": 2}, ("b", "b"), "a node twice"
    ),
    WrongResult(
        ring.random_tokens,
        {"weights": {"a": 1, "b": 1}, "hash_fn": ring.md5_position},
        ((20, "a"), (10, "b")),
        "tokens out of order",
    ),
    WrongResult(
        ring.partition_of,
        {"position": ring.partition_start(2, 4), "q": 4},
        3,
        "the partition after",
    ),
    WrongResult(ring.assign_partitions, {"nodes": ["a", "b"], "q": 4}, ("a", "b", "a"), "Q - 1"),
    WrongResult(
        ring.assign_partitions, {"nodes": ["a", "b"], "q": 4}, ("a", "b", "a", "b", "a"), "Q + 1"
    ),
    WrongResult(
        ring.assign_partitions, {"nodes": ["a", "b"], "q": 4}, ("a", "a", "a", "b"), "unbalanced"
    ),
    WrongResult(
        ring.join_partitions,
        {"assignment": ABAB, "new_node": "c"},
        ("b", "b", "a", "c"),
        "a partition moved between old nodes",
    ),
    WrongResult(
        ring.join_partitions,
        {"assignment": ABAB, "new_node": "c"},
        ABAB,
        "nothing stolen",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("a", "a", "a", "b", "c"), "node": "a"},
        ("a", "a", "b", "b", "c"),
        "the node kept partitions",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("a", "b", "c", "a"), "node": "a"},
        ("c", "c", "b", "b"),
        "a partition moved between staying nodes",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("a", "b", "c") * 2, "node": "a"},
        ("b", "b", "c", "b", "b", "c"),
        "every partition to one heir",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("c", "b", "c", "a"), "node": "a"},
        ("c", "b", "c"),
        "the node's partition dropped instead of handed on",
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": ONES, "q": 4},
        {"a": 1, "b": 1, "c": 1, "d": 1},
        "a quota for a node without a weight",
    ),
    WrongResult(
        ring.weighted_quotas, {"weights": ONES, "q": 4}, {"a": 2, "b": 2, "c": 2}, "Σ quotas ≠ Q"
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 4},
        {"a": 3, "b": 1},
        "a quota a partition off its share",
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 6},
        {"a": 5, "b": 1},
        "a quota two partitions off its share",
    ),
    WrongResult(
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 1}, "q": 4},
        ("a", "a", "a", "b"),
        "not the quotas",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ABAB, "weights": ONES, "new_node": "c"},
        ("c", "a", "a", "b"),
        "a partition moved between old nodes",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ABAB, "weights": ONES, "new_node": "c"},
        ("c", "c", "a", "b"),
        "more than the new node's quota stolen",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b", "a"), "weights": ONES, "new_node": "c"},
        ("a", "b", "a"),
        "less than the new node's quota stolen",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b") * 6, "weights": ONES, "new_node": "c"},
        ("c", "b", "c", "b", "c", "b", "c", "b", "a", "b", "a", "b"),
        "every steal from one donor",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "a", "a", "b", "c"), "weights": ONES, "node": "a"},
        ("a", "a", "b", "b", "c"),
        "the node kept partitions",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b", "c") * 2, "weights": ONES, "node": "a"},
        ("c", "c", "b", "b", "b", "c"),
        "a partition moved between staying nodes",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b", "c") * 4, "weights": ONES, "node": "a"},
        ("b", "b", "c") * 4,
        "every partition to one heir",
    ),
    WrongResult(
        ring.partition_ring, {"assignment": ("a", "b")}, ((5, "a"),), "a partition missing"
    ),
    WrongResult(
        ring.partition_ring, {"assignment": ("a", "b")}, ((5, "a"), (3, "b")), "not a ring"
    ),
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_a_wrong_result_fails_a_postcondition_and_the_real_one_none(row: WrongResult) -> None:
    check_wrong_result(row)


@pytest.mark.parametrize(
    "call",
    [
        lambda: vclock.increment({"a": 0}, "a"),
        lambda: vclock.descends({"a": 0}, {}),
        lambda: vclock.descends({}, {"a": 0}),
        lambda: vclock.merge({"a": 0}, {}),
        lambda: vclock.merge({}, {"a": 0}),
        lambda: vclock.compare({"a": 0}, {}),
        lambda: vclock.compare({}, {"a": 0}),
        lambda: vclock.truncate({"a": 0}, {"a": 1}, 1),
        lambda: vclock.truncate({"a": 1}, {"a": 1}, 0),
        lambda: vclock.truncate({"a": 1}, {}, 1),
        lambda: lamport.increment(-1),
        lambda: lamport.receive(-1, 1),
        lambda: lamport.receive(0, 0),
        lambda: quorum.quorums(2, 3),
        lambda: quorum.quorums(2, -1),
        lambda: quorum.quorums(13, 1),
        lambda: quorum.read_write_quorums_intersect(3, 0, 1),
        lambda: quorum.read_write_quorums_intersect(3, 1, 0),
        lambda: quorum.read_write_quorums_intersect(3, 1, 4),
        lambda: quorum.read_write_quorums_intersect(9, 1, 1),
        lambda: quorum.write_quorums_intersect(3, 0),
        lambda: quorum.write_quorums_intersect(3, 4),
        lambda: quorum.write_quorums_intersect(9, 1),
        lambda: quorum.sloppy_quorum(["a"], {"a"}, 0),
        lambda: quorum.strict_quorum(["a"], {"a"}, 0),
        lambda: quorum.QuorumConfig(n=0, r=1, w=1),
        lambda: quorum.QuorumConfig(n=3, r=0, w=1),
        lambda: quorum.QuorumConfig(n=3, r=4, w=1),
        lambda: quorum.QuorumConfig(n=3, r=1, w=0),
        lambda: quorum.QuorumConfig(n=3, r=1, w=4),
        lambda: tree(ONE, -1),
        lambda: tree(ONE, 17),
        lambda: merkle.diff(MALFORMED, tree(ONE, 1)),
        lambda: merkle.diff(tree(ONE, 1), MALFORMED),
        lambda: merkle.diff(tree(ONE, 1), tree(ONE, 2)),
        lambda: kv.make_version(b"x", "a", 1, {"b": 0}),
        lambda: kv.make_version(b"x", "a", 1, {"a": 1}),
        lambda: kv.supersedes(STALE_DOT, X),
        lambda: kv.supersedes(X, STALE_DOT),
        lambda: kv.reconcile([X, STALE_DOT]),
        lambda: kv.context_of([X, STALE_DOT]),
        lambda: kv.next_counter("a", {}, [X, STALE_DOT]),
        lambda: kv.cart_update([], b"", 1, last_write_wins=False),
        lambda: kv.cart_update([], b"a\nb", 1, last_write_wins=False),
        lambda: ring.extended_preference_list((), 0),
        lambda: ring.extended_preference_list(R3, -1),
        lambda: ring.extended_preference_list(R3, ring.RING_SIZE),
        lambda: ring.preference_list((), 0, 1),
        lambda: ring.preference_list(R3, ring.RING_SIZE, 1),
        lambda: ring.preference_list(R3, -1, 1),
        lambda: ring.random_tokens({}, ring.md5_position),
        lambda: ring.random_tokens({"a": 0}, ring.md5_position),
        lambda: ring.partition_start(0, 0),
        lambda: ring.partition_start(-1, 4),
        lambda: ring.partition_start(5, 4),
        lambda: ring.partition_of(-1, 4),
        lambda: ring.partition_of(0, 0),
        lambda: ring.assign_partitions([], 1),
        lambda: ring.assign_partitions(["a", "a"], 2),
        lambda: ring.assign_partitions(["a", "b"], 1),
        lambda: ring.join_partitions((), "c"),
        lambda: ring.join_partitions(ABAB, "a"),
        lambda: ring.leave_partitions(ABAB, "c"),
        lambda: ring.weighted_quotas({}, 4),
        lambda: ring.weighted_quotas({"a": 1.0}, 4),
        lambda: ring.weighted_quotas({"a": 1, "b": 3}, 3),
        lambda: ring.assign_partitions_weighted({}, 4),
        lambda: ring.assign_partitions_weighted({"a": 0}, 4),
        lambda: ring.assign_partitions_weighted({"a": 1, "b": 3}, 3),
        lambda: ring.join_partitions_weighted((), ONES, "c"),
        lambda: ring.join_partitions_weighted(ABAB, ONES, "a"),
        lambda: ring.join_partitions_weighted(ABAB, {"a": 1, "c": 1}, "c"),
        lambda: ring.join_partitions_weighted(ABAB, {"a": 1, "b": 1, "c": 0}, "c"),
        lambda: ring.join_partitions_weighted(ABAB, {"a": 1, "b": 1, "c": 3}, "c"),
        lambda: ring.leave_partitions_weighted(ABAB, ONES, "c"),
        lambda: ring.leave_partitions_weighted(ABAB, {"a": 1}, "a"),
        lambda: ring.leave_partitions_weighted(ABAB, {"a": 1, "b": 0}, "a"),
        lambda: ring.partition_ring(()),
        lambda: ring.keys_that_move((), R3, [], 1),
        lambda: ring.keys_that_move(R3, (), [], 1),
        lambda: ring.keys_that_move(R3, R3, [], 0),
        lambda: ring.keys_that_move(R3, R3, [ring.RING_SIZE], 1),
        lambda: ring.keys_that_move(R3, R3, [-1], 1),
    ],
    ids=[
        "increment-invalid",
        "descends-invalid-a",
        "descends-invalid-b",
        "merge-invalid-a",
        "merge-invalid-b",
        "compare-invalid-a",
        "compare-invalid-b",
        "truncate-invalid",
        "truncate-threshold-0",
        "truncate-no-stamp",
        "lamport-increment-negative",
        "lamport-receive-negative-clock",
        "lamport-receive-message-0",
        "quorums-size-above-n",
        "quorums-size-negative",
        "quorums-n-13",
        "rw-intersect-r-0",
        "rw-intersect-w-0",
        "rw-intersect-w-above-n",
        "rw-intersect-n-9",
        "w-intersect-w-0",
        "w-intersect-w-above-n",
        "w-intersect-n-9",
        "sloppy-n-0",
        "strict-n-0",
        "config-n-0",
        "config-r-0",
        "config-r-above-n",
        "config-w-0",
        "config-w-above-n",
        "build-depth-negative",
        "build-depth-17",
        "diff-malformed-a",
        "diff-malformed-b",
        "diff-depths-differ",
        "make-version-invalid-context",
        "make-version-counter-seen",
        "supersedes-invalid-x",
        "supersedes-invalid-y",
        "reconcile-invalid",
        "context-of-invalid",
        "next-counter-invalid",
        "cart-update-empty-item",
        "cart-update-two-lines",
        "epl-empty-ring",
        "epl-position-negative",
        "epl-position-off-ring",
        "pl-empty-ring",
        "pl-position-off-ring",
        "pl-position-negative",
        "tokens-no-node",
        "tokens-weight-0",
        "start-q-0",
        "start-partition-negative",
        "start-partition-above-q",
        "of-position-negative",
        "of-q-0",
        "assign-no-node",
        "assign-node-twice",
        "assign-q-below-s",
        "join-empty",
        "join-member",
        "leave-stranger",
        "quotas-no-node",
        "quotas-weight-not-int",
        "quotas-no-room",
        "assign-weighted-no-node",
        "assign-weighted-weight-0",
        "assign-weighted-no-room",
        "join-weighted-empty",
        "join-weighted-member",
        "join-weighted-unweighted-member",
        "join-weighted-weight-0",
        "join-weighted-no-room",
        "leave-weighted-stranger",
        "leave-weighted-unweighted-member",
        "leave-weighted-weight-0",
        "partition-ring-empty",
        "move-before-empty",
        "move-after-empty",
        "move-n-0",
        "move-position-off-ring",
        "move-position-negative",
    ],
)
def test_one_broken_precondition_raises(call: Callable[[], object]) -> None:
    with pytest.raises(icontract.ViolationError):
        call()


def test_a_tree_of_another_shape_is_not_well_formed() -> None:
    good = tree(ONE, 1)
    assert merkle.is_well_formed(good)
    assert merkle.is_well_formed(tree(ONE, 0))
    deepest = merkle.MerkleTree(
        depth=16,
        levels=tuple((b"",) * (1 << depth) for depth in range(17)),
        buckets=((),) * (1 << 16),
    )
    assert merkle.is_well_formed(deepest)
    malformed = [
        merkle.MerkleTree(depth=-1, levels=(), buckets=()),
        merkle.MerkleTree(depth=17, levels=good.levels, buckets=good.buckets),
        merkle.MerkleTree(depth=1, levels=good.levels[:1], buckets=good.buckets),
        merkle.MerkleTree(depth=1, levels=good.levels + good.levels[1:], buckets=good.buckets),
        merkle.MerkleTree(
            depth=1, levels=(good.levels[0], good.levels[1][:1]), buckets=good.buckets
        ),
        merkle.MerkleTree(depth=1, levels=(good.levels[1], good.levels[1]), buckets=good.buckets),
        merkle.MerkleTree(depth=1, levels=good.levels, buckets=good.buckets[:1]),
        merkle.MerkleTree(depth=1, levels=good.levels, buckets=good.buckets * 2),
    ]
    for shape in malformed:
        assert not merkle.is_well_formed(shape), shape


def test_a_version_is_valid_only_with_a_fresh_positive_dot_and_a_valid_context() -> None:
    assert kv.is_valid_version(kv.Version(value=b"x", dot=("a", 1)))
    assert kv.is_valid_version(kv.Version(value=b"x", dot=("a", 2), context=(("a", 1),)))
    assert not kv.is_valid_version(BAD_DOT)
    assert not kv.is_valid_version(STALE_DOT)
    assert not kv.is_valid_version(kv.Version(value=b"x", dot=("a", 1), context=(("a", 1),)))
    assert not kv.is_valid_version(kv.Version(value=b"x", dot=("a", 2), context=(("b", 0),)))


def test_a_ring_is_non_empty_sorted_distinct_and_on_the_circle() -> None:
    assert ring.is_ring(R3)
    assert ring.is_ring(((0, "a"), (ring.RING_SIZE - 1, "b")))
    assert not ring.is_ring(())
    assert not ring.is_ring(((-1, "a"),))
    assert not ring.is_ring(((ring.RING_SIZE, "a"),))
    assert not ring.is_ring(((20, "a"), (10, "b")))
    assert not ring.is_ring(((10, "a"), (10, "b")))


def test_balance_means_within_one_partition_of_q_over_s() -> None:
    assert ring.is_balanced(("a", "b", "a"), ["a", "b"])
    assert not ring.is_balanced(("a", "a", "a", "b"), ["a", "b"])
    assert not ring.is_balanced(("a", "b", "c"), ["a", "b"])
    assert not ring.is_balanced(("a", "b"), [])
    assert ring.is_weighted_balanced(("a", "a", "b"), {"a": 2, "b": 1})
    assert ring.is_weighted_balanced(("a", "b", "a"), ONES)
    assert not ring.is_weighted_balanced(("a", "a", "a", "a"), {"a": 1, "b": 1})
    assert not ring.is_weighted_balanced(("a", "c"), {"a": 1, "b": 1})
    assert not ring.is_weighted_balanced(("a", "b"), {"a": 1, "b": 0})


@pytest.mark.parametrize("nodes", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("q", [12, 16, 24, 64])
def test_a_joining_node_steals_partitions_spread_round_the_ring(nodes: int, q: int) -> None:
    """Dynamo §6.2, strategy 3: the stolen partitions are spread evenly and never adjacent
    (while there is room), plain and weighted alike; the contracts say only what moves."""
    members = [f"n{index}" for index in range(nodes)]
    before = ring.assign_partitions(members, q)
    weights = dict.fromkeys([*members, "new"], 1)
    for after in (
        ring.join_partitions(before, "new"),
        ring.join_partitions_weighted(before, weights, "new"),
    ):
        stolen = [index for index, owner in enumerate(after) if owner == "new"]
        assert stolen
        if len(stolen) == 1:
            continue
        gaps = [(stolen[(k + 1) % len(stolen)] - stolen[k]) % q for k in range(len(stolen))]
        assert min(gaps) >= 2, (after, gaps)
        assert max(gaps) <= 2 * -(-q // len(stolen)), (after, gaps)


def test_a_steal_past_the_top_of_the_ring_is_not_next_to_the_first() -> None:
    """The ring wraps: partition Q-1 is next to partition 0, on both sides of the check."""
    before = ("a", "a", "a", "b", "b", "a")
    for after in (
        ring.join_partitions(before, "z"),
        ring.join_partitions_weighted(before, {"a": 1, "b": 1, "z": 1}, "z"),
    ):
        stolen = [index for index, owner in enumerate(after) if owner == "z"]
        assert len(stolen) == 2
        assert all(after[(index + 1) % len(after)] != "z" for index in stolen), after
        assert all(after[(index - 1) % len(after)] != "z" for index in stolen), after


def test_keys_that_move_refuses_a_position_off_the_ring_by_its_own_precondition() -> None:
    """The end of the ring, RING_SIZE, is refused at keys_that_move's own door, naming its
    ``positions`` argument, before any preference list is asked for it."""
    with pytest.raises(icontract.ViolationError, match="for p in positions"):
        ring.keys_that_move(R3, R3, [ring.RING_SIZE], 1)


def test_preference_list_refuses_a_position_off_the_ring_by_its_own_precondition() -> None:
    """Its own precondition refuses the end of the ring, RING_SIZE, not only the same
    condition of extended_preference_list behind it: the error points at the function
    called."""
    (own,) = [
        contract
        for group in ring.preference_list.__preconditions__  # type: ignore[attr-defined]
        for contract in group
        if contract.condition_args == ["position"]
    ]
    with pytest.raises(icontract.ViolationError) as refused:
        ring.preference_list(R3, ring.RING_SIZE, 1)
    assert str(refused.value).startswith(f"{own.location}:")


def test_a_weighted_join_of_a_node_already_there_is_refused_before_it_runs() -> None:
    """A node that owns partitions already cannot join: the precondition that says so
    refuses the call, rather than a postcondition once the steals are done."""
    with pytest.raises(icontract.ViolationError, match="new_node not in assignment"):
        ring.join_partitions_weighted(ABAB, ONES, "a")
