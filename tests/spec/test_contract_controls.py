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
from dataclasses import dataclass
from typing import Any

import icontract
import pytest
from dynamokv.spec import kv, lamport, merkle, quorum, vclock


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


@dataclass(frozen=True)
class WrongResult:
    """A call and a result the function must never return for it."""

    function: Callable[..., Any]
    arguments: Mapping[str, Any]
    wrong: Any
    why: str

    def __str__(self) -> str:
        return f"{self.function.__name__}: {self.why}"


def rejecting_postconditions(
    function: Callable[..., Any], arguments: Mapping[str, Any], result: Any
) -> list[str]:
    """The source of every postcondition of ``function`` that ``result`` fails."""
    values = {**arguments, "result": result}
    failed = []
    for contract in function.__postconditions__:  # type: ignore[attr-defined]
        condition_values = {name: values[name] for name in contract.condition_args}
        if not contract.condition(**condition_values):
            failed.append(str(contract.location))
    return failed


X = kv.make_version(b"x", "a", 1, {})
Y = kv.make_version(b"y", "b", 1, {})
X_THEN_Z = kv.make_version(b"z", "a", 2, {"a": 1})
BAD_DOT = kv.Version(value=b"x", dot=("a", 0))

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
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_a_wrong_result_fails_a_postcondition(row: WrongResult) -> None:
    assert rejecting_postconditions(row.function, row.arguments, row.wrong), (
        f"{row}: no postcondition rejects {row.wrong!r}"
    )


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_the_real_result_passes_every_postcondition(row: WrongResult) -> None:
    """Control: the rows' calls are valid and the real answer is accepted."""
    real = row.function(**row.arguments)
    assert real != row.wrong
    assert rejecting_postconditions(row.function, row.arguments, real) == []


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
        lambda: kv.supersedes(BAD_DOT, X),
        lambda: kv.supersedes(X, BAD_DOT),
        lambda: kv.reconcile([X, BAD_DOT]),
        lambda: kv.context_of([X, BAD_DOT]),
        lambda: kv.next_counter("a", {}, [X, BAD_DOT]),
        lambda: kv.cart_update([], b"", 1, last_write_wins=False),
        lambda: kv.cart_update([], b"a\nb", 1, last_write_wins=False),
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
    assert not kv.is_valid_version(kv.Version(value=b"x", dot=("a", 0)))
    assert not kv.is_valid_version(kv.Version(value=b"x", dot=("a", 1), context=(("a", 1),)))
    assert not kv.is_valid_version(kv.Version(value=b"x", dot=("a", 2), context=(("b", 0),)))
