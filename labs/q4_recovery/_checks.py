"""The checks of lab q4: hinted handoff, the Merkle diff, and a node down for 3 hours."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from dynamokv.impl.core import Hint, Version, hint_size_bytes
from dynamokv.impl.sim._presets import measure_q4
from dynamokv.spec.errors import InvariantError
from dynamokv.spec.kv import make_version
from dynamokv.spec.merkle import MerkleDiff, MerkleTree, build
from hypothesis import strategies as st

from .._model import CheckContext, Status, Verdict
from .._solution import LearnerError
from .._tiers import Case, differential, unit_cases
from ._run import seams_of

VERSION = Version(b"cart: book", ("n1", 4), ())
VERSION_2 = Version(b"cart: book, pen", ("n2", 7), (("n1", 4),))
SIZE = hint_size_bytes(b"cart", (VERSION,))


def _hint_case(shown: str, expected: Any, **bounds: int) -> Case:
    keywords = {
        "hint_id": 7,
        "hints_count": 0,
        "hints_bytes": 0,
        "count_max": 10,
        "bytes_max": 10_000,
    }
    keywords.update(bounds)
    return Case("hint_to_store", (("n3", b"cart", (VERSION,)), keywords), expected, shown)


def _call_hint(function: Callable[..., Any], value: Any) -> Any:
    args, keywords = value
    return function(*args, **keywords)


def check_handoff_cases(ctx: CheckContext) -> Verdict:
    """1.1: a hint for the owner, refusals at the bounds, deletion only after every ack."""
    hint = Hint(7, "n3", b"cart", (VERSION,), SIZE)
    stores = [
        _hint_case("n3 is down: store a hint for it (id 7)", hint),
        _hint_case("the store holds count_max hints already", None, hints_count=10),
        _hint_case("the hint would pass bytes_max", None, hints_bytes=10_000 - SIZE + 1),
    ]
    for case in stores:
        try:
            result = _call_hint(ctx.solution["hint_to_store"], case.args)
        except LearnerError as error:
            return Verdict(Status.FAILED, str(error), case.shown, "", repr(case.expected))
        if result != case.expected:
            return Verdict(Status.FAILED, "", case.shown, repr(result), repr(case.expected))
    dots = {VERSION.dot, VERSION_2.dot}
    deletes = [
        Case("hint_may_be_deleted", (dots, ()), False, "a hint of two versions, just replayed"),
        Case("hint_may_be_deleted", (dots, {VERSION.dot}), False, "the owner acked one of two"),
        Case("hint_may_be_deleted", (dots, dots), True, "the owner acked both"),
        Case("hint_may_be_deleted", ({VERSION.dot}, dots), True, "the owner acked more"),
    ]
    return unit_cases(ctx, deletes, source="of hinted handoff (Dynamo §4.6)")


def check_handoff_differential(ctx: CheckContext) -> Verdict:
    """1.2: both rules equal the answer key on generated writes, bounds and acks."""
    versions = st.lists(
        st.builds(
            make_version,
            st.binary(max_size=20),
            st.sampled_from(["n1", "n2", "n3"]),
            st.integers(1, 9),
            st.just({}),
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda version: version.dot,
    ).map(tuple)
    writes = st.tuples(st.sampled_from(["n3", "n4"]), st.binary(min_size=1, max_size=8), versions)

    def with_bounds(write: tuple[str, bytes, tuple[Any, ...]]) -> st.SearchStrategy[Any]:
        # A bound is where an off-by-one hides, and independent draws seldom land on it:
        # a third of the byte bounds are what the store would hold with this hint in it,
        # give or take one byte.
        size = hint_size_bytes(write[1], write[2])
        return st.fixed_dictionaries(
            {
                "hint_id": st.integers(1, 100),
                "hints_count": st.integers(0, 5),
                "hints_bytes": st.integers(0, 400),
                "count_max": st.integers(1, 5),
            }
        ).flatmap(
            lambda bounds: st.tuples(
                st.just(write),
                st.one_of(
                    st.integers(1, 400),
                    st.integers(-1, 1).map(lambda off: bounds["hints_bytes"] + size + off),
                ).map(lambda bytes_max: {**bounds, "bytes_max": bytes_max}),
            )
        )

    stores = writes.flatmap(with_bounds)
    stored = differential(
        ctx,
        stores,
        call=_call_hint,
        function="hint_to_store",
        show_input=lambda value: (
            f"owner={value[0][0]}, key={value[0][1]!r}, {len(value[0][2])} versions, {value[1]}"
        ),
    )
    if stored.status is not Status.PASSED:
        return stored
    dots = st.frozensets(st.tuples(st.sampled_from(["n1", "n2"]), st.integers(1, 4)))
    return differential(
        ctx,
        st.tuples(dots, dots),
        call=lambda function, value: function(value[0], value[1]),
        function="hint_may_be_deleted",
        show_input=lambda value: f"hint_dots={sorted(value[0])}, acked_dots={sorted(value[1])}",
    )


# -- part 2 -------------------------------------------------------------------------------


def _tree(leaves: dict[bytes, bytes], depth: int) -> MerkleTree:
    return build(
        leaves,
        depth=depth,
        bucket_of=lambda key: hashlib.md5(key).digest()[0],
        hash_fn=lambda data: hashlib.sha256(data).digest(),
    )


def _show_diff(value: Any) -> str:
    if isinstance(value, MerkleDiff):
        return f"keys {sorted(value.keys)}, {value.nodes_compared} node pairs compared"
    return repr(value)


def check_diff_cases(ctx: CheckContext) -> Verdict:
    """2.1: equal trees, one stale key, a key on one side only; one step of the walk."""
    base = {b"cart-%d" % i: b"v%d" % i for i in range(8)}
    stale = {**base, b"cart-3": b"newer"}
    extra = {**base, b"cart-9": b"v9"}
    cases = [
        Case(
            "diff",
            (_tree(base, 2), _tree(base, 2)),
            MerkleDiff(frozenset(), 1),
            "equal trees of depth 2",
        ),
        Case(
            "diff",
            (_tree(base, 2), _tree(stale, 2)),
            MerkleDiff(frozenset({b"cart-3"}), 5),
            "cart-3 stale on one replica, depth 2",
        ),
        Case(
            "diff",
            (_tree(base, 3), _tree(extra, 3)),
            MerkleDiff(frozenset({b"cart-9"}), 7),
            "cart-9 on one replica only, depth 3",
        ),
        Case(
            "diff",
            (_tree(base, 0), _tree(stale, 0)),
            MerkleDiff(frozenset({b"cart-3"}), 1),
            "depth 0: the root is the only leaf",
        ),
        Case("merkle_descend", (0, 3, (0,), (0,)), (((1, 0), (1, 1)), ()), "roots differ, depth 3"),
        Case(
            "merkle_descend",
            (2, 3, (4, 5), (5,)),
            (((3, 10), (3, 11)), ()),
            "level 2: node 5 of 4, 5 differs",
        ),
        Case("merkle_descend", (3, 3, (4, 5), (5,)), ((), (5,)), "leaf 5 differs"),
        Case("merkle_descend", (1, 3, (0, 1), ()), ((), ()), "nothing differs at level 1"),
    ]

    def same(result: Any, expected: Any) -> bool:
        if isinstance(expected, MerkleDiff):
            return isinstance(result, MerkleDiff) and (
                frozenset(result.keys),
                result.nodes_compared,
            ) == (expected.keys, expected.nodes_compared)
        try:
            nodes, leaves = result
            return bool((tuple(map(tuple, nodes)), tuple(leaves)) == expected)
        except (TypeError, ValueError):
            return False

    return unit_cases(ctx, cases, show=_show_diff, equal=same, source="of the top-down walk")


def check_diff_differential(ctx: CheckContext) -> Verdict:
    """2.2: diff and merkle_descend equal the answer key on generated replicas."""
    leaves = st.dictionaries(st.binary(min_size=1, max_size=4), st.binary(max_size=3), max_size=12)
    trees = st.tuples(leaves, leaves, st.integers(0, 4))
    walked = differential(
        ctx,
        trees,
        call=lambda function, v: _show_diff(function(_tree(v[0], v[2]), _tree(v[1], v[2]))),
        function="diff",
        show_input=lambda v: f"replica a={v[0]}, replica b={v[1]}, depth {v[2]}",
    )
    if walked.status is not Status.PASSED:
        return walked
    steps = st.integers(0, 5).flatmap(
        lambda depth: st.tuples(
            st.integers(0, depth),
            st.just(depth),
            st.lists(st.integers(0, 31), unique=True, max_size=6).flatmap(
                lambda compared: st.tuples(
                    st.just(tuple(compared)),
                    st.sets(st.sampled_from(compared)) if compared else st.just(set()),
                )
            ),
        )
    )
    return differential(
        ctx,
        steps,
        call=lambda function, v: _normal_step(
            function(v[0], v[1], v[2][0], tuple(sorted(v[2][1])))
        ),
        function="merkle_descend",
        show_input=lambda v: (
            f"level={v[0]}, depth={v[1]}, compared={v[2][0]}, differing={tuple(sorted(v[2][1]))}"
        ),
    )


def _normal_step(result: Any) -> Any:
    try:
        nodes, leaves = result
        return (tuple(map(tuple, nodes)), tuple(leaves))
    except (TypeError, ValueError):
        return result


# -- part 3 -------------------------------------------------------------------------------

DOWN_TICKS = (12_000, 36_000, 108_000)
"""20 minutes, one hour, three hours (a tick is 100 ms)."""

_KEY = re.compile(r"b'[^']*'")


def check_node_down_three_hours(ctx: CheckContext) -> Verdict:
    """3.1: your handoff and Merkle walk while a node is down, up to 3 simulated hours."""
    seams = seams_of(ctx.solution)
    for down in DOWN_TICKS:
        what = (
            f"seed {ctx.seed}: 5 nodes, n5 down {down / 600:g} min under a write every 5 s, "
            f"hint bound 100, the busiest substitute crashing with its hints"
        )
        try:
            measured = measure_q4(seed=ctx.seed, down_ticks=down, seams=seams)
        except InvariantError as error:
            return Verdict(
                Status.FAILED,
                f"a node's own invariant failed: {error} (your rule broke a bound the node "
                "asserts)",
                counterexample=what,
            )
        problems = list(measured.violations)
        if not measured.identical:
            problems.append("the replicas were not identical 1 simulated hour after n5 returned")
        if measured.hints_replayed != measured.hints_pending_at_return:
            problems.append(
                f"{measured.hints_pending_at_return} hints were held for n5 when it returned, "
                f"but {measured.hints_replayed} were handed off and acknowledged"
            )
        if not problems:
            continue
        match = _KEY.search(problems[0])
        details = ""
        if match is not None:
            key = match.group(0)[2:-1].encode()
            traced = measure_q4(seed=ctx.seed, down_ticks=down, seams=seams, trace_key=key)
            lines = traced.ladder.splitlines()
            details = "\n".join(
                [f"ladder of {key!r} (its last messages):", *lines[:1], *lines[-40:]]
            )
        more = len(problems) - 1
        return Verdict(
            Status.FAILED,
            problems[0] + (f" (and {more} more)" if more else ""),
            counterexample=what,
            details=details,
        )
    return Verdict(
        Status.PASSED,
        f"n5 down 20 min, 1 h and 3 h: no acknowledged write lost, every replica identical, "
        f"{measured.hints_replayed} hints handed off and {measured.keys_repaired} keys repaired "
        f"by Merkle after 3 h",
    )


CHECK_FUNCTIONS: dict[str, Callable[[CheckContext], Verdict]] = {
    "1.1": check_handoff_cases,
    "1.2": check_handoff_differential,
    "2.1": check_diff_cases,
    "2.2": check_diff_differential,
    "3.1": check_node_down_three_hours,
}
