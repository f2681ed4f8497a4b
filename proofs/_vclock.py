"""Vector-clock theorems for clocks of any dimension (Dynamo §4.4; interview Q2).

Why arrays: a clock is a map from node id to counter with 0 for a missing node, so
it is modelled as a Z3 array ``Int -> Int``. An array has a value at every one of
infinitely many node ids: one query speaks about clocks of every dimension at once,
where a tuple encoding would need one query per size. The laws are proved for *all*
arrays, a superset of the valid clocks (finitely many positive entries), so they hold
for every clock the spec can build.

Counterexamples and witnesses are searched among *decodable* clocks: non-negative,
and zero outside nodes ``0 .. D-1`` for a small D. Such a model turns into a plain
``dict`` (``{"n0": 2, "n1": 1}``) that is replayed through
:mod:`dynamokv.spec.vclock`. Each proved law is also checked exhaustively against the
spec on every clock over two nodes with counters up to 2, so a bug planted in the
spec fails the row even though the Z3 encoding is right.

Each encoding of an operation (``descends``, ``merge``, ``increment``) is a plain
function, and the theorems take it as a keyword argument: the negative controls and
the tests substitute a wrong one (merge as the entrywise *min*) and must see the
theorem refuted.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TypeAlias

import z3
from dynamokv.spec import vclock as spec_vclock

from ._result import (
    Kind,
    ProofResult,
    Replay,
    SolverOutcome,
    Status,
    Stopwatch,
    check_exists,
    check_forall,
    model_int,
    result_from,
)

__all__ = [
    "Clock",
    "DescendsEncoding",
    "MergeEncoding",
    "compare_exactly_one",
    "compare_exactly_one_control",
    "descends_all",
    "descends_antisymmetric",
    "descends_antisymmetric_control",
    "descends_one_entry",
    "descends_reflexive",
    "descends_reflexive_control",
    "descends_strict",
    "descends_transitive",
    "descends_transitive_control",
    "increment_dominates",
    "increment_dominates_control",
    "merge_is_least_upper_bound",
    "merge_is_least_upper_bound_control",
    "merge_max",
    "merge_min",
    "truncation_can_order_concurrent",
    "truncation_can_order_concurrent_control",
    "truncation_can_order_concurrent_control_no_truncation",
]

REFERENCE = "Dynamo §4.4"
DIMENSION_MAX = 3
"""Counterexamples are sought among clocks over nodes n0 .. n2."""
COUNTER_MAX = 3
"""... and counters up to this, so that they read easily."""
SPEC_CHECK_COUNTER_MAX = 2
"""Proved laws are replayed on every clock over two nodes with counters up to this."""
SPEC_CHECK_NODES = ("x", "y")

Clock: TypeAlias = z3.ArrayRef
DescendsEncoding = Callable[[Clock, Clock], z3.BoolRef]
MergeEncoding = Callable[[Clock, Clock], Clock]

_INT = z3.IntSort()


def clock(name: str) -> Clock:
    """A fresh clock: an array from node id to counter."""
    return z3.Array(name, _INT, _INT)


def descends_all(a: Clock, b: Clock) -> z3.BoolRef:
    """``a`` descends from ``b``: ``a[k] >= b[k]`` for every node ``k`` (the spec's rule)."""
    k = z3.FreshInt("k")
    return z3.ForAll([k], a[k] >= b[k])


def descends_strict(a: Clock, b: Clock) -> z3.BoolRef:
    """A planted bug: ``>`` instead of ``>=`` (no clock would descend from itself)."""
    k = z3.FreshInt("k")
    return z3.ForAll([k], a[k] > b[k])


def descends_one_entry(a: Clock, b: Clock) -> z3.BoolRef:
    """A planted bug: compare one node's entry (node 0) instead of every entry."""
    return a[0] >= b[0]


def merge_max(a: Clock, b: Clock) -> Clock:
    """The spec's merge: the entrywise maximum."""
    k = z3.FreshInt("k")
    return z3.Lambda([k], z3.If(a[k] >= b[k], a[k], b[k]))


def merge_min(a: Clock, b: Clock) -> Clock:
    """A planted bug: the entrywise minimum."""
    k = z3.FreshInt("k")
    return z3.Lambda([k], z3.If(a[k] <= b[k], a[k], b[k]))


def increment(c: Clock, node: z3.ArithRef) -> Clock:
    """The spec's increment: the coordinator's entry goes up by one."""
    return z3.Store(c, node, c[node] + 1)


def _concurrent(a: Clock, b: Clock, descends: DescendsEncoding = descends_all) -> z3.BoolRef:
    return z3.And(z3.Not(descends(a, b)), z3.Not(descends(b, a)))


# --- decoding and replay ---------------------------------------------------------


def _decodable(*clocks: Clock) -> list[z3.BoolRef]:
    """Clocks that are non-negative and zero outside nodes ``0 .. DIMENSION_MAX-1``."""
    constraints: list[z3.BoolRef] = []
    for c in clocks:
        k = z3.FreshInt("k")
        constraints.append(z3.ForAll([k], z3.And(c[k] >= 0, c[k] <= COUNTER_MAX)))
        constraints.append(z3.ForAll([k], z3.Or(z3.And(k >= 0, k < DIMENSION_MAX), c[k] == 0)))
    return constraints


def _to_dict(model: z3.ModelRef, c: Clock) -> dict[str, int]:
    counters = {f"n{k}": model_int(model, c[k]) for k in range(DIMENSION_MAX)}
    return {node: counter for node, counter in counters.items() if counter > 0}


def _all_spec_clocks() -> list[dict[str, int]]:
    """Every valid clock over two nodes with counters up to ``SPEC_CHECK_COUNTER_MAX``."""
    counters = range(SPEC_CHECK_COUNTER_MAX + 1)
    return [
        {node: c for node, c in zip(SPEC_CHECK_NODES, values, strict=True) if c > 0}
        for values in itertools.product(counters, repeat=len(SPEC_CHECK_NODES))
    ]


def _spec_check(law: str, holds: Callable[..., bool], arity: int) -> Replay:
    """Replay a law on every tuple of small clocks through the spec."""
    clocks = _all_spec_clocks()
    checked = 0
    for args in itertools.product(clocks, repeat=arity):
        if not holds(*args):
            return Replay(False, f"the spec breaks {law} on {list(args)}")
        checked += 1
    return Replay(True, f"spec.vclock obeys {law} on all {checked} tuples of 2-node clocks")


def _descends(a: spec_vclock.VectorClock, b: spec_vclock.VectorClock) -> bool:
    # Looked up at call time so that a test can plant a bug in the spec module.
    return spec_vclock.descends(a, b)


# --- the order laws --------------------------------------------------------------


def descends_reflexive(*, descends: DescendsEncoding = descends_all) -> ProofResult:
    """Every clock descends from itself: re-reading a version never makes it stale."""
    return _reflexive("vclock.descends_reflexive", "theorem", descends)


def descends_reflexive_control() -> ProofResult:
    """Negative control: with ``>`` instead of ``>=``, no clock descends from itself."""
    return _reflexive("vclock.descends_reflexive.control", "control", descends_strict)


def _reflexive(name: str, kind: Kind, descends: DescendsEncoding) -> ProofResult:
    stopwatch = Stopwatch()
    a = clock("a")
    assuming = _decodable(a) if kind == "control" else []
    outcome = check_forall(descends(a, a), assuming=assuming)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        value = _to_dict(model, a)
        agreed = _descends(value, value)
        return f"a = {value} does not strictly exceed itself", Replay(
            agreed, f"descends({value}, {value}) is {agreed}: the spec is reflexive"
        )

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim="descends(a, a)" + ("" if kind == "theorem" else " (descends with > for ≥)"),
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=lambda: _spec_check("reflexivity", lambda x: _descends(x, x), 1),
    )


def descends_antisymmetric(*, descends: DescendsEncoding = descends_all) -> ProofResult:
    """Two clocks that descend from each other are equal: the order is a partial order."""
    return _antisymmetric("vclock.descends_antisymmetric", "theorem", descends)


def descends_antisymmetric_control() -> ProofResult:
    """Negative control: comparing a single entry (a scalar clock in disguise) is not antisymmetric."""
    return _antisymmetric("vclock.descends_antisymmetric.control", "control", descends_one_entry)


def _antisymmetric(name: str, kind: Kind, descends: DescendsEncoding) -> ProofResult:
    stopwatch = Stopwatch()
    a, b = clock("a"), clock("b")
    assuming = _decodable(a, b) if kind == "control" else []
    outcome = check_forall(
        z3.Implies(z3.And(descends(a, b), descends(b, a)), a == b), assuming=assuming
    )

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        x, y = _to_dict(model, a), _to_dict(model, b)
        order = spec_vclock.compare(x, y)
        return f"a = {x}, b = {y} tie on n0 yet differ", Replay(
            order is not spec_vclock.Order.EQUAL and x != y,
            f"compare(a, b) is {order.value}: the spec does not take them for equal",
        )

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim="descends(a, b) ∧ descends(b, a) ⇒ a = b"
        + ("" if kind == "theorem" else " (descends comparing n0 only)"),
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=lambda: _spec_check(
            "antisymmetry",
            lambda x, y: not (_descends(x, y) and _descends(y, x)) or dict(x) == dict(y),
            2,
        ),
    )


def descends_transitive(*, descends: DescendsEncoding = descends_all) -> ProofResult:
    """If c ≤ b and b ≤ a then c ≤ a: a version superseded twice is superseded."""
    stopwatch = Stopwatch()
    a, b, c = clock("a"), clock("b"), clock("c")
    outcome = check_forall(
        z3.Implies(z3.And(descends(a, b), descends(b, c)), descends(a, c)),
    )
    return result_from(
        outcome,
        name="vclock.descends_transitive",
        kind="theorem",
        claim="descends(a, b) ∧ descends(b, c) ⇒ descends(a, c)",
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=_decode_triple(a, b, c),
        replay_when_proved=lambda: _spec_check(
            "transitivity",
            lambda x, y, z: not (_descends(x, y) and _descends(y, z)) or _descends(x, z),
            3,
        ),
    )


def descends_transitive_control() -> ProofResult:
    """Negative control: concurrency is *not* transitive (a ∥ b and b ∥ c, yet c ≤ a)."""
    stopwatch = Stopwatch()
    a, b, c = clock("a"), clock("b"), clock("c")
    outcome = check_forall(
        z3.Implies(z3.And(_concurrent(a, b), _concurrent(b, c), a != c), _concurrent(a, c)),
        assuming=_decodable(a, b, c),
    )

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        x, y, z = (_to_dict(model, v) for v in (a, b, c))
        orders = [spec_vclock.compare(p, q) for p, q in ((x, y), (y, z), (x, z))]
        concurrent = spec_vclock.Order.CONCURRENT
        agreed = orders[0] is concurrent and orders[1] is concurrent and orders[2] is not concurrent
        return f"a = {x}, b = {y}, c = {z}", Replay(
            agreed, "compare: a ∥ b, b ∥ c, but a and c are " + orders[2].value
        )

    return result_from(
        outcome,
        name="vclock.descends_transitive.control",
        kind="control",
        claim="concurrency is transitive: a ∥ b ∧ b ∥ c ∧ a ≠ c ⇒ a ∥ c",
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
    )


def _decode_triple(
    a: Clock, b: Clock, c: Clock
) -> Callable[[z3.ModelRef], tuple[str, Replay | None]]:
    def decode(model: z3.ModelRef) -> tuple[str, Replay | None]:
        return f"a = {model.eval(a)}, b = {model.eval(b)}, c = {model.eval(c)}", None

    return decode


# --- merge and increment ---------------------------------------------------------


def merge_is_least_upper_bound(*, merge: MergeEncoding = merge_max) -> ProofResult:
    """merge(a, b) descends from a and b, and from nothing more: the least upper bound.

    Dynamo §4.4: a client that saw several siblings writes back under their merged
    clock, so the new version supersedes exactly what it has seen.
    """
    return _merge_lub("vclock.merge_is_least_upper_bound", "theorem", merge)


def merge_is_least_upper_bound_control() -> ProofResult:
    """Negative control: merge as the entrywise *min* is not an upper bound."""
    return _merge_lub("vclock.merge_is_least_upper_bound.control", "control", merge_min)


def _merge_lub(name: str, kind: Kind, merge: MergeEncoding) -> ProofResult:
    stopwatch = Stopwatch()
    a, b, u = clock("a"), clock("b"), clock("u")
    m = merge(a, b)
    upper = z3.And(descends_all(m, a), descends_all(m, b))
    least = z3.Implies(z3.And(descends_all(u, a), descends_all(u, b)), descends_all(u, m))
    assuming = _decodable(a, b, u) if kind == "control" else []
    outcome = check_forall(z3.And(upper, least), assuming=assuming)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        x, y = _to_dict(model, a), _to_dict(model, b)
        # A node missing from either clock has the minimum 0: the variant leaves it out.
        wrong = {node: min(x[node], y[node]) for node in x.keys() & y.keys()}
        merged = spec_vclock.merge(x, y)
        agreed = not (_descends(wrong, x) and _descends(wrong, y)) and (
            _descends(merged, x) and _descends(merged, y)
        )
        return f"a = {x}, b = {y}: the variant gives {wrong}", Replay(
            agreed, f"spec.merge gives {merged}, which descends from both; the variant does not"
        )

    def law(
        x: spec_vclock.VectorClock, y: spec_vclock.VectorClock, z: spec_vclock.VectorClock
    ) -> bool:
        m = spec_vclock.merge(x, y)
        is_upper = _descends(m, x) and _descends(m, y)
        is_least = not (_descends(z, x) and _descends(z, y)) or _descends(z, m)
        return is_upper and is_least

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim="merge(a, b) ⊒ a, b and every u ⊒ a, b has u ⊒ merge(a, b)"
        + ("" if kind == "theorem" else " (merge as entrywise min)"),
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=lambda: _spec_check("least upper bound", law, 3),
    )


def increment_dominates() -> ProofResult:
    """increment(c, node) strictly descends from c: a coordinated put supersedes its context."""
    stopwatch = Stopwatch()
    c = clock("c")
    node = z3.Int("node")
    bumped = increment(c, node)
    outcome = check_forall(z3.And(descends_all(bumped, c), bumped != c))

    def law(x: spec_vclock.VectorClock) -> bool:
        return all(
            spec_vclock.compare(spec_vclock.increment(x, n), x) is spec_vclock.Order.AFTER
            for n in SPEC_CHECK_NODES
        )

    return result_from(
        outcome,
        name="vclock.increment_dominates",
        kind="theorem",
        claim="descends(increment(c, n), c) ∧ increment(c, n) ≠ c",
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        replay_when_proved=lambda: _spec_check("strict domination by increment", law, 1),
    )


def increment_dominates_control() -> ProofResult:
    """Negative control: incrementing one sibling's clock does *not* supersede the other.

    Only a put whose context is the merge of both siblings does (Dynamo §4.4).
    """
    stopwatch = Stopwatch()
    a, b = clock("a"), clock("b")
    node = z3.Int("node")
    bumped = increment(a, node)
    outcome = check_forall(
        z3.Implies(_concurrent(a, b), z3.And(descends_all(bumped, b), bumped != b)),
        assuming=[*_decodable(a, b), node >= 0, node < DIMENSION_MAX],
    )

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        x, y = _to_dict(model, a), _to_dict(model, b)
        who = f"n{model_int(model, node)}"
        after = spec_vclock.increment(x, who)
        before_order = spec_vclock.compare(x, y)
        after_order = spec_vclock.compare(after, y)
        agreed = (
            before_order is spec_vclock.Order.CONCURRENT
            and after_order is not spec_vclock.Order.AFTER
        )
        return f"a = {x} ∥ b = {y}, increment(a, {who}) = {after}", Replay(
            agreed, f"compare(increment(a, {who}), b) is {after_order.value}, not after"
        )

    return result_from(
        outcome,
        name="vclock.increment_dominates.control",
        kind="control",
        claim="a ∥ b ⇒ increment(a, n) strictly descends from b",
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
    )


# --- compare ---------------------------------------------------------------------


def _orders(a: Clock, b: Clock) -> tuple[z3.BoolRef, z3.BoolRef, z3.BoolRef, z3.BoolRef]:
    """before, after, equal, concurrent, defined from descends as the spec's compare does."""
    ab, ba = descends_all(a, b), descends_all(b, a)
    return (
        z3.And(ba, z3.Not(ab)),
        z3.And(ab, z3.Not(ba)),
        a == b,
        z3.And(z3.Not(ab), z3.Not(ba)),
    )


def compare_exactly_one() -> ProofResult:
    """For any two clocks exactly one of before, after, equal and concurrent holds."""
    stopwatch = Stopwatch()
    a, b = clock("a"), clock("b")
    orders = _orders(a, b)
    exactly_one = z3.PbEq([(o, 1) for o in orders], 1)
    outcome = check_forall(exactly_one)

    def law(x: spec_vclock.VectorClock, y: spec_vclock.VectorClock) -> bool:
        ab, ba = _descends(x, y), _descends(y, x)
        truth = {
            spec_vclock.Order.BEFORE: ba and not ab,
            spec_vclock.Order.AFTER: ab and not ba,
            spec_vclock.Order.EQUAL: dict(x) == dict(y),
            spec_vclock.Order.CONCURRENT: not ab and not ba,
        }
        return sum(truth.values()) == 1 and truth[spec_vclock.compare(x, y)]

    return result_from(
        outcome,
        name="vclock.compare_exactly_one",
        kind="theorem",
        claim="exactly one of before, after, equal, concurrent holds for (a, b)",
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        replay_when_proved=lambda: _spec_check("exactly-one-order", law, 2),
    )


def compare_exactly_one_control() -> ProofResult:
    """Negative control: "clocks are totally ordered" (as Lamport timestamps are)."""
    stopwatch = Stopwatch()
    a, b = clock("a"), clock("b")
    before, after, equal, _ = _orders(a, b)
    outcome = check_forall(z3.Or(before, after, equal), assuming=_decodable(a, b))

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        x, y = _to_dict(model, a), _to_dict(model, b)
        order = spec_vclock.compare(x, y)
        return f"a = {x}, b = {y}", Replay(
            order is spec_vclock.Order.CONCURRENT, f"compare(a, b) is {order.value}"
        )

    return result_from(
        outcome,
        name="vclock.compare_exactly_one.control",
        kind="control",
        claim="any two clocks are ordered: before, after or equal",
        scope="all dimensions",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
    )


# --- truncation ------------------------------------------------------------------

TRUNCATION_NODES = 3


class _TruncatedClock:
    """A clock over ``TRUNCATION_NODES`` nodes with a distinct stamp per entry, truncated.

    An entry survives :func:`dynamokv.spec.vclock.truncate` when it is present and
    fewer than ``threshold`` present entries have a newer stamp. Stamps are only
    compared with each other, so they are any distinct integers (no range needed),
    decoded as their ranks (:func:`_stamp_ranks`).
    """

    def __init__(self, name: str, threshold: z3.ArithRef) -> None:
        self.counters = [z3.Int(f"{name}_{k}") for k in range(TRUNCATION_NODES)]
        self.stamps = [z3.Int(f"{name}_stamp_{k}") for k in range(TRUNCATION_NODES)]
        self.truncated: list[z3.ArithRef] = []
        for k in range(TRUNCATION_NODES):
            newer = z3.Sum(
                [
                    z3.If(z3.And(self.counters[j] > 0, self.stamps[j] > self.stamps[k]), 1, 0)
                    for j in range(TRUNCATION_NODES)
                    if j != k
                ]
            )
            kept = z3.And(self.counters[k] > 0, newer < threshold)
            self.truncated.append(z3.If(kept, self.counters[k], 0))

    def constraints(self) -> list[z3.BoolRef]:
        return [
            *(z3.And(c >= 0, c <= COUNTER_MAX) for c in self.counters),
            z3.Distinct(*self.stamps),
        ]

    def decode(self, model: z3.ModelRef) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        counters = {f"n{k}": model_int(model, c) for k, c in enumerate(self.counters)}
        clock_value = {node: c for node, c in counters.items() if c > 0}
        stamps = _stamp_ranks(model, self.stamps)
        truncated = {f"n{k}": model_int(model, t) for k, t in enumerate(self.truncated)}
        return clock_value, stamps, {node: c for node, c in truncated.items() if c > 0}


def _stamp_ranks(model: z3.ModelRef, stamps: list[z3.ArithRef]) -> dict[str, int]:
    """Each node's stamp as its rank, 0 for the oldest: truncation only compares stamps
    with each other, so their order is all a witness needs to show."""
    values = [model_int(model, s) for s in stamps]
    ranked = sorted(values)
    return {f"n{k}": ranked.index(value) for k, value in enumerate(values)}


def _pointwise_descends(a: list[z3.ArithRef], b: list[z3.ArithRef]) -> z3.BoolRef:
    return z3.And([x >= y for x, y in zip(a, b, strict=True)])


def _truncation_outcome(
    *, threshold_min: int = 1
) -> tuple[SolverOutcome, Callable[[z3.ModelRef], tuple[str, Replay]]]:
    """Look for concurrent clocks that truncation leaves strictly ordered.

    ``threshold_min`` bounds the threshold from below: at ``TRUNCATION_NODES`` no
    entry is ever dropped, and no witness may exist (a negative control).
    """
    threshold = z3.Int("threshold")
    # Looked up at call time, so that a test can break the encoding and see the row fail.
    a, b = _TruncatedClock("a", threshold), _TruncatedClock("b", threshold)
    concurrent_before = z3.And(
        z3.Not(_pointwise_descends(a.counters, b.counters)),
        z3.Not(_pointwise_descends(b.counters, a.counters)),
    )
    ordered_after = z3.Or(
        _pointwise_descends(a.truncated, b.truncated),
        _pointwise_descends(b.truncated, a.truncated),
    )
    # Strictly ordered afterwards: one of the two versions would be discarded as stale.
    differ = z3.Or([x != y for x, y in zip(a.truncated, b.truncated, strict=True)])
    assuming = [threshold >= threshold_min, *a.constraints(), *b.constraints(), concurrent_before]
    outcome = check_exists(z3.And(ordered_after, differ), assuming=assuming)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        t = model_int(model, threshold)
        x, x_stamps, x_cut = a.decode(model)
        y, y_stamps, y_cut = b.decode(model)
        return _replay_truncation(t, (x, x_stamps, x_cut), (y, y_stamps, y_cut))

    return outcome, decode


_Decoded = tuple[dict[str, int], dict[str, int], dict[str, int]]
"""A decoded clock, its stamps, and what the encoding says truncation leaves of it."""


def _replay_truncation(threshold: int, a: _Decoded, b: _Decoded) -> tuple[str, Replay]:
    """Run both clocks through ``spec.vclock.truncate`` and ``compare``."""
    x, x_stamps, x_cut = a
    y, y_stamps, y_cut = b
    spec_x = spec_vclock.truncate(x, {n: x_stamps[n] for n in x}, threshold)
    spec_y = spec_vclock.truncate(y, {n: y_stamps[n] for n in y}, threshold)
    before = spec_vclock.compare(x, y)
    after = spec_vclock.compare(spec_x, spec_y)
    agreed = (
        spec_x == x_cut
        and spec_y == y_cut
        and before is spec_vclock.Order.CONCURRENT
        and after is not spec_vclock.Order.CONCURRENT
    )
    text = (
        f"threshold {threshold}: a = {x} (stamps {x_stamps}), b = {y} (stamps {y_stamps}) "
        f"truncate to {x_cut} and {y_cut}"
    )
    return text, Replay(
        agreed,
        f"spec.truncate gives {spec_x}, {spec_y}; compare goes from concurrent to {after.value}",
    )


def truncation_can_order_concurrent() -> ProofResult:
    """Truncating clocks (Dynamo §4.4, threshold 10) can make concurrent versions look ordered.

    The version that then looks older is discarded by syntactic reconciliation: a
    lost update, which the simulator's checkers account for by excusing (and
    counting) puts whose context was truncated.
    """
    stopwatch = Stopwatch()
    outcome, decode = _truncation_outcome()
    return result_from(
        outcome,
        name="vclock.truncation_can_order_concurrent",
        kind="theorem",
        claim="some concurrent a, b have truncate(a), truncate(b) ordered",
        scope=f"exhibit, clocks over {TRUNCATION_NODES} nodes",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
    )


class _RemovedOldest:
    """A clock over ``TRUNCATION_NODES`` nodes, truncated by removing the oldest entry
    again and again, as Dynamo §4.4 words it ("the oldest pair is removed").

    A second encoding of :func:`dynamokv.spec.vclock.truncate`, independent of
    :class:`_TruncatedClock`'s count of newer entries: one removal step per entry
    over the threshold, each dropping the present entry with the smallest stamp (any
    distinct integers, as in :class:`_TruncatedClock`).
    """

    def __init__(self, name: str, threshold: int) -> None:
        self.counters = [z3.Int(f"{name}_{k}") for k in range(TRUNCATION_NODES)]
        self.stamps = [z3.Int(f"{name}_stamp_{k}") for k in range(TRUNCATION_NODES)]
        state: list[z3.ArithRef] = list(self.counters)
        for _ in range(TRUNCATION_NODES):
            present = [c > 0 for c in state]
            over = _count_true(present) > threshold
            oldest = [
                z3.And(
                    present[k],
                    *(
                        z3.Implies(present[j], self.stamps[j] > self.stamps[k])
                        for j in range(TRUNCATION_NODES)
                        if j != k
                    ),
                )
                for k in range(TRUNCATION_NODES)
            ]
            state = [
                z3.If(z3.And(over, oldest[k]), z3.IntVal(0), state[k])
                for k in range(TRUNCATION_NODES)
            ]
        self.truncated = state

    def constraints(self) -> list[z3.BoolRef]:
        return [
            *(z3.And(c >= 0, c <= COUNTER_MAX) for c in self.counters),
            z3.Distinct(*self.stamps),
        ]

    def decode(self, model: z3.ModelRef) -> _Decoded:
        counters = {f"n{k}": model_int(model, c) for k, c in enumerate(self.counters)}
        stamps = _stamp_ranks(model, self.stamps)
        truncated = {f"n{k}": model_int(model, t) for k, t in enumerate(self.truncated)}
        return (
            {node: c for node, c in counters.items() if c > 0},
            stamps,
            {node: c for node, c in truncated.items() if c > 0},
        )


def _count_true(bits: list[z3.BoolRef]) -> z3.ArithRef:
    return z3.Sum([z3.IntVal(0), *(z3.If(b, 1, 0) for b in bits)])


BELIEF_THRESHOLDS = (1, 2)
"""The belief "truncation preserves concurrency" is put to Z3 at each of these thresholds."""


def truncation_can_order_concurrent_control() -> ProofResult:
    """Negative control: "truncation preserves concurrency".

    Encoded on its own (:class:`_RemovedOldest`, concrete thresholds, its own
    variables), so Z3 refutes it with a counterexample of its own rather than by
    answering the theorem's query again.
    """
    stopwatch = Stopwatch()
    outcome = SolverOutcome(Status.PROVED, None)
    for threshold in BELIEF_THRESHOLDS:
        a, b = _RemovedOldest("x", threshold), _RemovedOldest("y", threshold)

        def concurrent(p: list[z3.ArithRef], q: list[z3.ArithRef]) -> z3.BoolRef:
            return z3.And(z3.Not(_pointwise_descends(p, q)), z3.Not(_pointwise_descends(q, p)))

        outcome = check_forall(
            z3.Implies(concurrent(a.counters, b.counters), concurrent(a.truncated, b.truncated)),
            assuming=[*a.constraints(), *b.constraints()],
        )
        if outcome.status is not Status.PROVED:
            break

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        return _replay_truncation(threshold, a.decode(model), b.decode(model))

    return result_from(
        outcome,
        name="vclock.truncation_can_order_concurrent.control",
        kind="control",
        claim="truncate(a) ∥ truncate(b) whenever a ∥ b (oldest entries removed one by one)",
        scope=f"clocks over {TRUNCATION_NODES} nodes, thresholds {BELIEF_THRESHOLDS}",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
    )


def truncation_can_order_concurrent_control_no_truncation() -> ProofResult:
    """Negative control: with a threshold no smaller than the clock, there must be no witness.

    The theorem's encoding with truncation made a no-op: if this found a witness,
    the encoding would order concurrent clocks for some reason other than
    truncation, and the exhibit would prove nothing about truncation.
    """
    stopwatch = Stopwatch()
    outcome, decode = _truncation_outcome(threshold_min=TRUNCATION_NODES)
    return result_from(
        outcome,
        name="vclock.truncation_can_order_concurrent.control2",
        kind="control",
        claim=f"some concurrent a, b truncated at a threshold ≥ {TRUNCATION_NODES} become ordered",
        scope=f"exhibit, clocks over {TRUNCATION_NODES} nodes",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_refuted=_untruncated_spec_check,
    )


def _untruncated_spec_check() -> Replay:
    """Through the spec: truncating at the clock's length leaves every comparison alone."""
    counters = range(2)
    nodes = [f"n{k}" for k in range(TRUNCATION_NODES)]
    clocks = [
        {node: c for node, c in zip(nodes, values, strict=True) if c > 0}
        for values in itertools.product(counters, repeat=TRUNCATION_NODES)
    ]
    stamp_orders = [
        dict(zip(nodes, order, strict=True))
        for order in itertools.permutations(range(TRUNCATION_NODES))
    ]
    checked = 0
    for x, y in itertools.product(clocks, repeat=2):
        before = spec_vclock.compare(x, y)
        for stamps in stamp_orders:
            cut_x = spec_vclock.truncate(x, stamps, TRUNCATION_NODES)
            cut_y = spec_vclock.truncate(y, stamps, TRUNCATION_NODES)
            if spec_vclock.compare(cut_x, cut_y) is not before:
                return Replay(False, f"truncate changed compare({x}, {y}) with stamps {stamps}")
            checked += 1
    return Replay(
        True,
        f"spec.truncate at threshold {TRUNCATION_NODES} keeps compare on all {checked} "
        "pairs of 3-node clocks and stamp orders",
    )
