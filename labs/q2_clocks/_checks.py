"""The checks of lab q2: vector clocks (Dynamo Figure 3) and Lamport clocks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dynamokv.spec.vclock import TRUNCATION_THRESHOLD, Order
from hypothesis import strategies as st

from .._model import CheckContext, Verdict
from .._tiers import Case, diffbehavior, differential, unit_cases

# Dynamo Figure 3: the versions of one object, coordinated by Sx, Sy and Sz.
D1 = {"Sx": 1}
D2 = {"Sx": 2}
D3 = {"Sx": 2, "Sy": 1}
D4 = {"Sx": 2, "Sz": 1}
D5 = {"Sx": 3, "Sy": 1, "Sz": 1}

CLOCKS = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(1, 4), max_size=4)

# Clocks around Dynamo's truncation threshold (Dynamo §4.4: "say 10"): increment and
# merge keep every entry however many there are, so the property checks of part 1
# also draw clocks that reach past it. Truncation is a step of its own, by the time
# each node last updated the item, which a clock does not carry.
_WIDE_NODES = [chr(ord("a") + index) for index in range(TRUNCATION_THRESHOLD + 3)]
WIDE_CLOCKS = st.one_of(
    CLOCKS,
    st.dictionaries(
        st.sampled_from(_WIDE_NODES[:-1]),
        st.integers(1, 4),
        min_size=TRUNCATION_THRESHOLD - 1,
        max_size=TRUNCATION_THRESHOLD + 2,
    ),
)
WIDE_NODES = st.sampled_from(_WIDE_NODES)


@dataclass(frozen=True)
class _ChangedArgument:
    """A result returned by a function that also changed one of its arguments."""

    result: Any
    argument: Any


def show_clock(clock: Any) -> str:
    """``[(Sx, 2), (Sy, 1)]``: the paper's notation, entries sorted."""
    if isinstance(clock, _ChangedArgument):
        return (
            f"{show_clock(clock.result)}, and changed its argument to {show_clock(clock.argument)}"
        )
    if isinstance(clock, Mapping):
        return (
            "[" + ", ".join(f"({node}, {counter})" for node, counter in sorted(clock.items())) + "]"
        )
    if isinstance(clock, Order):
        return clock.value
    return repr(clock)


def _same_clock(result: Any, expected: Any) -> bool:
    if isinstance(result, Mapping) and isinstance(expected, Mapping):
        return dict(result) == dict(expected)
    return bool(result == expected)


# -- part 1 -------------------------------------------------------------------------------


def check_figure_3_versions(ctx: CheckContext) -> Verdict:
    """1.1: the clocks of Figure 3, built with increment and merge."""
    cases = [
        Case("increment", ({}, "Sx"), D1, "D1: Sx handles the first write, increment({}, Sx)"),
        Case("increment", (D1, "Sx"), D2, "D2: Sx handles an update, increment([(Sx, 1)], Sx)"),
        Case("increment", (D2, "Sy"), D3, "D3: Sy handles an update, increment([(Sx, 2)], Sy)"),
        Case("increment", (D2, "Sz"), D4, "D4: Sz handles another, increment([(Sx, 2)], Sz)"),
        Case(
            "merge",
            (D3, D4),
            {"Sx": 2, "Sy": 1, "Sz": 1},
            "the client reads D3 and D4: merge(D3, D4)",
        ),
        Case("merge", ({}, D1), D1, "merge([], [(Sx, 1)])"),
        Case(
            "increment",
            ({"Sx": 2, "Sy": 1, "Sz": 1}, "Sx"),
            D5,
            "D5: Sx writes the reconciled version, increment(merge(D3, D4), Sx)",
        ),
    ]
    return unit_cases(ctx, cases, show=show_clock, equal=_same_clock)


def _call_keeping_arguments(function: Callable[..., Any], *clocks: Any) -> Any:
    """Call ``function`` on copies of the clocks; a changed argument is part of the result."""
    arguments = [dict(clock) if isinstance(clock, Mapping) else clock for clock in clocks]
    before = [dict(a) if isinstance(a, dict) else a for a in arguments]
    result = function(*arguments)
    for argument, original in zip(arguments, before, strict=True):
        if argument != original:
            return _ChangedArgument(result, argument)
    return result


def check_increment_differential(ctx: CheckContext) -> Verdict:
    """1.2: increment equals the answer key on generated clocks (up to 12 entries).

    It must also leave its argument alone.
    """
    return differential(
        ctx,
        st.tuples(WIDE_CLOCKS, WIDE_NODES),
        call=lambda function, value: _call_keeping_arguments(function, value[0], value[1]),
        function="increment",
        show_input=lambda value: f"increment({show_clock(value[0])}, {value[1]})",
        show_output=show_clock,
        equal=_same_clock,
    )


def check_merge_differential(ctx: CheckContext) -> Verdict:
    """1.3: merge equals the answer key on generated clocks (up to 12 entries).

    It must also leave its arguments alone.
    """
    return differential(
        ctx,
        st.tuples(WIDE_CLOCKS, WIDE_CLOCKS),
        call=lambda function, value: _call_keeping_arguments(function, value[0], value[1]),
        function="merge",
        show_input=lambda value: f"merge({show_clock(value[0])}, {show_clock(value[1])})",
        show_output=show_clock,
        equal=_same_clock,
    )


# -- part 2 -------------------------------------------------------------------------------


def check_figure_3_order(ctx: CheckContext) -> Verdict:
    """2.1: how Figure 3's versions relate."""
    cases = [
        Case("compare", (D2, D1), Order.AFTER, "compare(D2, D1): D2 overwrites D1"),
        Case("compare", (D1, D3), Order.BEFORE, "compare(D1, D3)"),
        Case("compare", (D3, D4), Order.CONCURRENT, "compare(D3, D4): two branches"),
        Case("compare", (D5, D4), Order.AFTER, "compare(D5, D4): the reconciliation"),
        Case("compare", (D3, dict(D3)), Order.EQUAL, "compare(D3, D3), two equal copies"),
        Case("descends", (D3, D2), True, "descends(D3, D2)"),
        Case("descends", (D2, D3), False, "descends(D2, D3): D2 has not seen Sy's write"),
        Case("descends", (D3, D4), False, "descends(D3, D4)"),
        Case("descends", ({}, {}), True, "descends([], []): every clock descends from itself"),
    ]
    return unit_cases(ctx, cases, show=show_clock)


def check_compare_differential(ctx: CheckContext) -> Verdict:
    """2.2: descends and compare equal the answer key on generated pairs of clocks.

    Like increment and merge, they must leave their arguments alone: the clocks
    they are given are the stored versions' own.
    """
    descends = differential(
        ctx,
        st.tuples(CLOCKS, CLOCKS),
        call=lambda function, value: _call_keeping_arguments(function, value[0], value[1]),
        function="descends",
        show_input=lambda value: f"descends({show_clock(value[0])}, {show_clock(value[1])})",
        show_output=show_clock,
    )
    if descends.status.value != "passed":
        return descends
    return differential(
        ctx,
        st.tuples(CLOCKS, CLOCKS),
        call=lambda function, value: _call_keeping_arguments(function, value[0], value[1]),
        function="compare",
        show_input=lambda value: f"compare({show_clock(value[0])}, {show_clock(value[1])})",
        show_output=show_clock,
    )


def check_descends_symbolic(ctx: CheckContext) -> Verdict:
    """2.3: CrossHair finds no pair of two-node clocks where descends differs."""
    return diffbehavior(
        ctx,
        "dynamokv.labs.q2_clocks._symbolic.descends_yours",
        "dynamokv.labs.q2_clocks._symbolic.descends_answer",
        per_condition_seconds=20.0,
    )


# -- part 3 -------------------------------------------------------------------------------


def check_lamport_cases(ctx: CheckContext) -> Verdict:
    """3.1: local events and receives, as Lamport (1978) defines them."""
    cases = [
        Case("lamport_increment", (0,), 1, "the first event of a process: lamport_increment(0)"),
        Case("lamport_increment", (4,), 5, "lamport_increment(4)"),
        Case("lamport_increment", (7,), 8, "lamport_increment(7): one more, whatever the bits"),
        Case("lamport_receive", (1, 5), 6, "a message stamped 5 reaches a process at 1"),
        Case("lamport_receive", (7, 2), 8, "a message stamped 2 reaches a process at 7"),
    ]
    return unit_cases(ctx, cases)


def check_lamport_symbolic(ctx: CheckContext) -> Verdict:
    """3.2: CrossHair finds no clock and message where lamport_receive differs."""
    return diffbehavior(
        ctx,
        "dynamokv.labs.q2_clocks._symbolic.lamport_receive_yours",
        "dynamokv.labs.q2_clocks._symbolic.lamport_receive_answer",
    )


CHECK_FUNCTIONS: dict[str, Callable[[CheckContext], Verdict]] = {
    "1.1": check_figure_3_versions,
    "1.2": check_increment_differential,
    "1.3": check_merge_differential,
    "2.1": check_figure_3_order,
    "2.2": check_compare_differential,
    "2.3": check_descends_symbolic,
    "3.1": check_lamport_cases,
    "3.2": check_lamport_symbolic,
}
