"""The checks of lab q3: quorum arithmetic, the sloppy quorum, and the coordinator's rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dynamokv.impl.core import Seams
from dynamokv.impl.sim import SimConfig
from dynamokv.spec.quorum import QuorumConfig
from hypothesis import strategies as st

from .._model import CheckContext, Status, Verdict
from .._simulation import simulation_check
from .._solution import LearnerError
from .._tiers import Case, diffbehavior, differential, unit_cases

FAULTS = ("crash", "partition", "drop", "dup", "reorder")


def _config(n: int, r: int, w: int) -> QuorumConfig:
    return QuorumConfig(n=n, r=r, w=w)


# -- part 1 -------------------------------------------------------------------------------


def check_quorum_arithmetic(ctx: CheckContext) -> Verdict:
    """1.1: the configurations Dynamo §4.5 discusses."""
    cases = [
        Case(
            "is_strict_consistent",
            (_config(3, 2, 2),),
            True,
            "(N, R, W) = (3, 2, 2), Dynamo's common choice",
        ),
        Case("is_strict_consistent", (_config(3, 1, 3),), True, "(3, 1, 3): read one, write all"),
        Case("is_strict_consistent", (_config(3, 1, 2),), False, "(3, 1, 2): R + W = N"),
        Case(
            "is_strict_consistent",
            (_config(3, 1, 1),),
            False,
            "(3, 1, 1): fast, eventually consistent",
        ),
        Case(
            "read_write_quorums_intersect", (3, 2, 2), True, "read_write_quorums_intersect(3, 2, 2)"
        ),
        Case(
            "read_write_quorums_intersect",
            (3, 1, 2),
            False,
            "read_write_quorums_intersect(3, 1, 2)",
        ),
        Case(
            "read_write_quorums_intersect", (5, 3, 3), True, "read_write_quorums_intersect(5, 3, 3)"
        ),
        Case(
            "read_write_quorums_intersect",
            (5, 2, 3),
            False,
            "read_write_quorums_intersect(5, 2, 3)",
        ),
    ]
    return unit_cases(ctx, cases)


def check_intersection_differential(ctx: CheckContext) -> Verdict:
    """1.2: read_write_quorums_intersect equals the answer key for every N up to 6."""
    inputs = st.integers(1, 6).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(1, n), st.integers(1, n))
    )
    return differential(
        ctx,
        inputs,
        call=lambda function, value: function(*value),
        function="read_write_quorums_intersect",
        show_input=lambda value: f"N={value[0]}, R={value[1]}, W={value[2]}",
    )


def check_strict_symbolic(ctx: CheckContext) -> Verdict:
    """1.3: CrossHair finds no (N, R, W) where is_strict_consistent differs."""
    return diffbehavior(
        ctx,
        "dynamokv.labs.q3_quorum._symbolic.is_strict_consistent_yours",
        "dynamokv.labs.q3_quorum._symbolic.is_strict_consistent_answer",
    )


# -- part 2 -------------------------------------------------------------------------------

_RING = ("A", "B", "C", "D", "E")


def _show_pairs(pairs: Any) -> str:
    if isinstance(pairs, tuple | list):
        return (
            "["
            + ", ".join(
                f"{node}" + (f" (hint for {hint})" if hint else "")
                for node, hint in (
                    tuple(p) if isinstance(p, tuple | list) else (p, None) for p in pairs
                )
            )
            + "]"
        )
    return repr(pairs)


def _same_pairs(result: Any, expected: Any) -> bool:
    """The same (node, hinted_for) pairs, in any order: the docstring fixes none."""

    def normal(pairs: Any) -> Any:
        if not isinstance(pairs, tuple | list):
            return pairs
        return sorted(
            (tuple(pair) if isinstance(pair, tuple | list) else pair for pair in pairs), key=repr
        )

    return bool(normal(result) == normal(expected))


def check_sloppy_quorum_from_the_paper(ctx: CheckContext) -> Verdict:
    """2.1: Dynamo §4.6's example: A is down, D takes its replica with a hint."""
    cases = [
        Case(
            "sloppy_quorum",
            (_RING, frozenset(_RING), 3),
            (("A", None), ("B", None), ("C", None)),
            "every node healthy: N=3, extended list A B C D E",
        ),
        Case(
            "sloppy_quorum",
            (_RING, frozenset({"B", "C", "D", "E"}), 3),
            (("B", None), ("C", None), ("D", "A")),
            "A is down (Dynamo §4.6): N=3, extended list A B C D E",
        ),
        Case(
            "sloppy_quorum",
            (_RING, frozenset({"C", "D", "E"}), 3),
            (("C", None), ("D", "A"), ("E", "B")),
            "A and B are down: N=3, extended list A B C D E",
        ),
    ]
    return unit_cases(ctx, cases, show=_show_pairs, equal=_same_pairs)


def check_sloppy_quorum_differential(ctx: CheckContext) -> Verdict:
    """2.2: sloppy_quorum equals the answer key on random lists and health."""
    nodes = ["A", "B", "C", "D", "E", "F", "G"]
    inputs = st.permutations(nodes).flatmap(
        lambda order: st.tuples(
            st.integers(1, 7).map(lambda size: tuple(order[:size])),
            st.frozensets(st.sampled_from(nodes)),
            st.integers(1, 5),
        )
    )

    def call(
        function: Callable[..., Any], value: tuple[tuple[str, ...], frozenset[str], int]
    ) -> Any:
        result = function(*value)
        return tuple(tuple(pair) for pair in result) if isinstance(result, tuple | list) else result

    return differential(
        ctx,
        inputs,
        call=call,
        function="sloppy_quorum",
        show_input=lambda value: (
            f"N={value[2]}, extended list {' '.join(value[0])}, "
            f"healthy {{{', '.join(sorted(value[1]))}}}"
        ),
        show_output=_show_pairs,
        equal=_same_pairs,
    )


# -- part 3 -------------------------------------------------------------------------------

_OWNERS: dict[str, str | None] = {"n2": None, "n3": None, "n4": None}
_HINTED: dict[str, str | None] = {"n2": None, "n3": None, "n5": "n4"}
# n4 was slow, so the coordinator also sent its copy to n5; then n4 answered as well.
_LATE_OWNER: dict[str, str | None] = {"n2": None, "n3": None, "n4": None, "n5": "n4"}


def check_rules_from_the_paper(ctx: CheckContext) -> Verdict:
    """3.1: R replies, W durable acks with the coordinator's own, strict or sloppy."""
    cases: list[tuple[str, tuple[Any, ...], dict[str, Any], bool, str]] = [
        (
            "read_may_answer",
            ({"n2", "n3"}, _OWNERS),
            {"r": 2, "strict": True},
            True,
            "get, R=2: n2 and n3 replied",
        ),
        (
            "read_may_answer",
            ({"n2"}, _OWNERS),
            {"r": 2, "strict": True},
            False,
            "get, R=2: only n2 replied",
        ),
        (
            "read_may_answer",
            ({"n3", "n5"}, _HINTED),
            {"r": 2, "strict": False},
            True,
            "sloppy get, R=2: owner n3 and substitute n5 replied",
        ),
        (
            "read_may_answer",
            ({"n3", "n5"}, _HINTED),
            {"r": 2, "strict": True},
            False,
            "strict get, R=2: n5 is a substitute, only n3 counts",
        ),
        (
            "write_may_answer",
            ({"n2", "n3"}, _OWNERS),
            {"w": 2, "coordinator": "n2", "strict": True},
            True,
            "put by n2, W=2: n2 (its own write) and n3 acked",
        ),
        (
            "write_may_answer",
            ({"n3", "n4"}, _OWNERS),
            {"w": 2, "coordinator": "n2", "strict": True},
            False,
            "put by n2, W=2: n3 and n4 acked, n2's own write is not durable yet",
        ),
        (
            "write_may_answer",
            ({"n2"}, _OWNERS),
            {"w": 2, "coordinator": "n2", "strict": False},
            False,
            "put by n2, W=2: only n2 acked",
        ),
        (
            "write_may_answer",
            ({"n2", "n5"}, _HINTED),
            {"w": 2, "coordinator": "n2", "strict": False},
            True,
            "sloppy put by n2, W=2: n2 and the hinted copy on n5",
        ),
        (
            "write_may_answer",
            ({"n2", "n5"}, _HINTED),
            {"w": 2, "coordinator": "n2", "strict": True},
            False,
            "strict put by n2, W=2: a hinted copy does not count",
        ),
        (
            "write_may_answer",
            ({"n2", "n4", "n5"}, _LATE_OWNER),
            {"w": 3, "coordinator": "n2", "strict": False},
            False,
            "sloppy put by n2, W=3: n4 answered late and n5 holds n4's hint: one replica",
        ),
        (
            "write_may_answer",
            ({"n2", "n3", "n5"}, _LATE_OWNER),
            {"w": 3, "coordinator": "n2", "strict": False},
            True,
            "sloppy put by n2, W=3: n2, n3, and n5 for n4",
        ),
    ]
    for function, args, keywords, expected, shown in cases:
        try:
            result = ctx.solution[function](*args, **keywords)
        except LearnerError as error:
            return Verdict(Status.FAILED, str(error), shown, "", repr(expected))
        if result is not expected and result != expected:
            return Verdict(Status.FAILED, "", shown, repr(result), repr(expected))
    return Verdict(Status.PASSED, f"{len(cases)} cases from Dynamo §4.5 and §4.6")


def _rule_inputs() -> st.SearchStrategy[
    tuple[frozenset[str], dict[str, str | None], int, str, bool]
]:
    nodes = ["n1", "n2", "n3", "n4", "n5", "n6"]

    def build(targets: dict[str, str | None]) -> st.SearchStrategy[Any]:
        # R or W may exceed the nodes asked (a cluster smaller than N): every one of
        # them answering is still not enough, and the request times out instead.
        names = sorted(targets)
        return st.tuples(
            st.frozensets(st.sampled_from(names)),
            st.just(targets),
            st.integers(1, len(names) + 1),
            st.sampled_from(names),
            st.booleans(),
        )

    def stand_in_for_owners(targets: dict[str, str | None]) -> st.SearchStrategy[Any]:
        # A substitute mostly stands in for an owner that was asked too (a slow owner the
        # coordinator replaced, which may still answer): the two are one replica.
        owners = sorted(node for node, owner in targets.items() if owner is None)
        substitutes = sorted(node for node, owner in targets.items() if owner is not None)
        if not owners or not substitutes:
            return st.just(targets)
        hinted = st.one_of(st.sampled_from(owners), st.sampled_from(nodes))
        return st.lists(hinted, min_size=len(substitutes), max_size=len(substitutes)).map(
            lambda owners_of: {**targets, **dict(zip(substitutes, owners_of, strict=True))}
        )

    targets = st.dictionaries(
        st.sampled_from(nodes), st.one_of(st.none(), st.sampled_from(nodes)), min_size=1, max_size=5
    )
    return targets.flatmap(stand_in_for_owners).flatmap(build)


def _show_rule_input(value: tuple[frozenset[str], dict[str, str | None], int, str, bool]) -> str:
    answered, targets, size, coordinator, strict = value
    shown_targets = ", ".join(
        f"{node}" + (f" (hint for {hint})" if hint else "")
        for node, hint in sorted(targets.items())
    )
    return (
        f"answered {{{', '.join(sorted(answered))}}}, targets {{{shown_targets}}}, "
        f"R or W = {size}, coordinator {coordinator}, strict={strict}"
    )


def check_rules_differential(ctx: CheckContext) -> Verdict:
    """3.2: both rules equal the answer key on random replies, targets and quorums."""
    read = differential(
        ctx,
        _rule_inputs(),
        call=lambda function, v: function(set(v[0]), dict(v[1]), r=v[2], strict=v[4]),
        function="read_may_answer",
        show_input=lambda v: "get: " + _show_rule_input(v),
    )
    if read.status is not Status.PASSED:
        return read
    return differential(
        ctx,
        _rule_inputs(),
        call=lambda function, v: function(
            set(v[0]), dict(v[1]), w=v[2], coordinator=v[3], strict=v[4]
        ),
        function="write_may_answer",
        show_input=lambda v: "put: " + _show_rule_input(v),
    )


def _learner_seams(ctx: CheckContext) -> Seams:
    return Seams(
        read_may_answer=ctx.solution["read_may_answer"],
        write_may_answer=ctx.solution["write_may_answer"],
    )


def check_rules_in_the_simulator(ctx: CheckContext) -> Verdict:
    """3.3: your rules in every node of a simulated cluster under faults, strict then sloppy."""
    seams = _learner_seams(ctx)
    strict = simulation_check(
        ctx,
        SimConfig(nodes=5, strict=True, n=3, r=2, w=2, membership="static", faults=FAULTS),
        seams,
        what="5 nodes, strict quorum N=3 R=2 W=2, crashes, partitions, drops, duplicates, "
        "reordering; checked: no acknowledged write lost (property 1), no phantom (2), "
        "read-your-writes (4)",
    )
    if strict.status is not Status.PASSED:
        return strict
    sloppy = simulation_check(
        ctx,
        SimConfig(nodes=5, strict=False, n=3, r=2, w=2, membership="static", faults=FAULTS),
        seams,
        what="5 nodes, sloppy quorum N=3 R=2 W=2 with hinted handoff, the same faults; "
        "checked: properties 1, 2, 3 and hints drained (5)",
    )
    if sloppy.status is not Status.PASSED:
        return sloppy
    return Verdict(Status.PASSED, f"strict: {strict.summary}; sloppy: {sloppy.summary}")


CHECK_FUNCTIONS: dict[str, Callable[[CheckContext], Verdict]] = {
    "1.1": check_quorum_arithmetic,
    "1.2": check_intersection_differential,
    "1.3": check_strict_symbolic,
    "2.1": check_sloppy_quorum_from_the_paper,
    "2.2": check_sloppy_quorum_differential,
    "3.1": check_rules_from_the_paper,
    "3.2": check_rules_differential,
    "3.3": check_rules_in_the_simulator,
}
