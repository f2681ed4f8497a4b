"""Merkle-diff theorems (Dynamo §4.7; interview Q4).

Why an uninterpreted hash: what makes the top-down diff right is not SHA-256 but
one property of it, that different inputs give different hashes. The proofs model
the hash as uninterpreted functions ``leaf_hash(Content)`` and ``node_hash(Hash,
Hash)`` and state injectivity by inverse functions (``left(node_hash(x, y)) = x``),
a standard encoding that keeps quantifier instantiation trivial. The tree is
unrolled for each depth up to ``DEPTH_MAX``, so these results hold up to that
depth (16 buckets), not for all depths.

The diff is encoded as the spec runs it: a pair of nodes is compared when its
parent pair differed, and a bucket is *visited* when every pair on its path from
the root differs. Within a visited bucket the spec compares keys directly, so:

* **soundness**: a visited bucket really differs (no work, no transfer, for equal
  data) — this needs only that the hash is a function, so it is proved for *any*
  hash, injective or not;
* **completeness**: every differing bucket is visited, so every differing key is
  found — this needs injectivity, and the control with a colliding hash fails it.

Each proof is replayed against :func:`dynamokv.spec.merkle.diff`: exhaustively on
small key ranges for the theorems, and on the decoded counterexample for the
controls (with a colliding ``hash_fn`` for the completeness control).
"""

from __future__ import annotations

import hashlib
import itertools

import z3
from dynamokv.spec import merkle as spec_merkle

from ._result import (
    Kind,
    ProofResult,
    Replay,
    SolverOutcome,
    Status,
    Stopwatch,
    check_forall,
    model_bool,
    result_from,
)

__all__ = [
    "diff_is_complete",
    "diff_is_complete_control",
    "diff_is_sound",
    "diff_is_sound_control",
]

REFERENCE = "Dynamo §4.7"
DEPTH_MAX = 4
SPEC_CHECK_DEPTH = 2
SPEC_CHECK_KEYS = (b"\x00", b"\x01", b"\x02")


class _Trees:
    """Two symbolic trees of one depth over abstract bucket contents.

    Args:
        depth: levels below the root (``2**depth`` buckets).
        injective: add the inverse-function axioms (the hash never collides).
        stop_early: plant a bug in the diff: treat depth ``depth-1`` as the leaves,
            so both buckets under a differing parent are visited.
    """

    def __init__(self, depth: int, *, injective: bool, stop_early: bool = False) -> None:
        self.depth = depth
        content = z3.DeclareSort("Content")
        hash_sort = z3.DeclareSort("Hash")
        leaf_hash = z3.Function("leaf_hash", content, hash_sort)
        node_hash = z3.Function("node_hash", hash_sort, hash_sort, hash_sort)
        self.axioms: list[z3.BoolRef] = []
        if injective:
            unleaf = z3.Function("unleaf", hash_sort, content)
            left = z3.Function("left", hash_sort, hash_sort)
            right = z3.Function("right", hash_sort, hash_sort)
            c = z3.Const("c", content)
            x, y = z3.Consts("x y", hash_sort)
            self.axioms += [
                z3.ForAll([c], unleaf(leaf_hash(c)) == c),
                z3.ForAll([x, y], z3.And(left(node_hash(x, y)) == x, right(node_hash(x, y)) == y)),
            ]
        buckets = 1 << depth
        self.a = [z3.Const(f"a_{b}", content) for b in range(buckets)]
        self.b = [z3.Const(f"b_{b}", content) for b in range(buckets)]

        def levels(contents: list[z3.ExprRef]) -> list[list[z3.ExprRef]]:
            level = [leaf_hash(c) for c in contents]
            result = [level]
            while len(level) > 1:
                level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
                result.append(level)
            return list(reversed(result))  # result[d][i]: depth d, index i

        levels_a, levels_b = levels(self.a), levels(self.b)
        last = depth - 1 if stop_early and depth > 0 else depth
        # visited[i]: every node pair on bucket i's path, down to depth `last`, differs.
        self.visited = [
            z3.And(
                [
                    levels_a[d][i >> (depth - d)] != levels_b[d][i >> (depth - d)]
                    for d in range(last + 1)
                ]
            )
            for i in range(buckets)
        ]

    def differs(self, bucket: int) -> z3.BoolRef:
        return self.a[bucket] != self.b[bucket]

    def decode(self, model: z3.ModelRef) -> tuple[list[bool], list[bool]]:
        differing = [model_bool(model, self.differs(i)) for i in range(1 << self.depth)]
        visited = [model_bool(model, v) for v in self.visited]
        return differing, visited


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _colliding(data: bytes) -> bytes:
    del data
    return b"\x00"


def _first_byte(key: bytes) -> int:
    return key[0]


def _concrete(differing: list[bool]) -> tuple[dict[bytes, bytes], dict[bytes, bytes]]:
    """One key per bucket; its value hash differs between the replicas where the model says so."""
    a = {bytes([i]): b"same" for i in range(len(differing))}
    b = {bytes([i]): (b"other" if d else b"same") for i, d in enumerate(differing)}
    return a, b


def _spec_diff(
    a: dict[bytes, bytes],
    b: dict[bytes, bytes],
    depth: int,
    *,
    hash_fn: spec_merkle.BytesHashFn = _sha256,
) -> spec_merkle.MerkleDiff:
    def tree(leaves: dict[bytes, bytes]) -> spec_merkle.MerkleTree:
        return spec_merkle.build(leaves, depth=depth, bucket_of=_first_byte, hash_fn=hash_fn)

    return spec_merkle.diff(tree(a), tree(b))


def _spec_check() -> Replay:
    """Every pair of key ranges over 3 keys, values absent / v1 / v2, depth 2, SHA-256.

    The spec's diff must return exactly the differing keys, after comparing exactly
    the node pairs whose parents differ (1 + 2 per differing inner node).
    """
    values = (None, b"v1", b"v2")
    ranges = [
        {k: v for k, v in zip(SPEC_CHECK_KEYS, choice, strict=True) if v is not None}
        for choice in itertools.product(values, repeat=len(SPEC_CHECK_KEYS))
    ]
    depth = SPEC_CHECK_DEPTH
    checked = 0
    for a, b in itertools.product(ranges, repeat=2):
        result = _spec_diff(a, b, depth)
        expected = spec_merkle.differing_keys(a, b)
        differing_buckets = {key[0] for key in expected}
        inner_differing = sum(
            1
            for d in range(depth)
            for i in range(1 << d)
            if any(bucket >> (depth - d) == i for bucket in differing_buckets)
        )
        if result.keys != expected or result.nodes_compared != 1 + 2 * inner_differing:
            return Replay(False, f"diff({a}, {b}) = {result}, expected keys {set(expected)}")
        checked += 1
    return Replay(
        True,
        f"spec.merkle.diff returns exactly the differing keys, comparing only differing "
        f"subtrees, on all {checked} pairs of 3-key ranges (depth {depth})",
    )


def _check_depths(
    claim_of: type[_Trees], *, complete: bool, injective: bool, stop_early: bool
) -> tuple[SolverOutcome, _Trees]:
    # Controls start at depth 1 so that their counterexamples show a tree, not a lone leaf.
    first = 0 if injective and not stop_early else 1
    for depth in range(first, DEPTH_MAX + 1):
        trees = claim_of(depth, injective=injective, stop_early=stop_early)
        buckets = range(1 << depth)
        if complete:
            claim = z3.And([z3.Implies(trees.differs(i), trees.visited[i]) for i in buckets])
        else:
            claim = z3.And([z3.Implies(trees.visited[i], trees.differs(i)) for i in buckets])
        outcome = check_forall(claim, assuming=trees.axioms)
        if outcome.status is not Status.PROVED:
            break
    return outcome, trees


def _sound(name: str, kind: Kind) -> ProofResult:
    stopwatch = Stopwatch()
    buggy = kind == "control"
    # Soundness needs no injectivity: it holds for *any* hash function, so none is assumed.
    outcome, trees = _check_depths(_Trees, complete=False, injective=False, stop_early=buggy)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        differing, visited = trees.decode(model)
        a, b = _concrete(differing)
        wasted = [i for i in range(len(differing)) if visited[i] and not differing[i]]
        result = _spec_diff(a, b, trees.depth)
        agreed = bool(wasted) and result.keys == spec_merkle.differing_keys(a, b)
        text = (
            f"depth {trees.depth}: buckets {[i for i, d in enumerate(differing) if d]} differ, "
            f"the variant also visits equal bucket(s) {wasted}"
        )
        return text, Replay(
            agreed, f"spec.diff visits only differing buckets: keys {sorted(result.keys)}"
        )

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim="the diff visits a bucket only if the replicas' contents there differ"
        + (" (diff stopping one level early)" if buggy else ""),
        scope=f"up to depth {DEPTH_MAX}",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=_spec_check,
    )


def _complete(name: str, kind: Kind) -> ProofResult:
    stopwatch = Stopwatch()
    injective = kind == "theorem"
    outcome, trees = _check_depths(_Trees, complete=True, injective=injective, stop_early=False)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        differing, visited = trees.decode(model)
        missed = [i for i in range(len(differing)) if differing[i] and not visited[i]]
        a, b = _concrete(differing)
        colliding = _spec_diff(a, b, trees.depth, hash_fn=_colliding)
        honest = _spec_diff(a, b, trees.depth)
        truth = spec_merkle.differing_keys(a, b)
        agreed = bool(missed) and not colliding.keys and honest.keys == truth
        text = (
            f"depth {trees.depth}: bucket(s) {missed} differ but their hashes collide on the way up"
        )
        return text, Replay(
            agreed,
            f"spec.diff with a colliding hash_fn finds {sorted(colliding.keys)}, "
            f"with SHA-256 {sorted(honest.keys)}",
        )

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim="every bucket whose contents differ is visited, so every differing key is found"
        + ("" if injective else " (hash may collide)"),
        scope=f"up to depth {DEPTH_MAX}",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=_spec_check,
    )


def diff_is_sound() -> ProofResult:
    """The diff descends only where the replicas differ: equal data costs nothing."""
    return _sound("merkle.diff_is_sound", "theorem")


def diff_is_sound_control() -> ProofResult:
    """Negative control: a diff that stops one level early visits equal buckets."""
    return _sound("merkle.diff_is_sound.control", "control")


def diff_is_complete() -> ProofResult:
    """With an injective hash, the diff finds every bucket (hence key) that differs."""
    return _complete("merkle.diff_is_complete", "theorem")


def diff_is_complete_control() -> ProofResult:
    """Negative control: with a hash that may collide, the diff can miss a difference."""
    return _complete("merkle.diff_is_complete.control", "control")
