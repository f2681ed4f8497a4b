"""The checks of lab q5: the two resolvers, the client's step, and carts under partitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .._model import CheckContext, Status, Verdict
from .._tiers import Case, differential, unit_cases
from ._carts import run_carts

ITEM = st.sampled_from([b"book", b"pen", b"cup", b"lamp", b"hat", b"red pen"])
"""One item has a space in its name: an item is a whole line."""
CART = st.lists(ITEM, max_size=4).map(lambda items: b"\n".join(sorted(set(items))))
SIBLINGS_MAX = 6
"""More siblings than a learner tries by hand: six clients can leave five or six."""
SIBLINGS = st.lists(st.tuples(st.integers(1, 9), CART), max_size=SIBLINGS_MAX)


def check_resolver_cases(ctx: CheckContext) -> Verdict:
    """1.1: the paper's cart merged by union; last-write-wins by timestamp."""
    cases = [
        Case(
            "union_resolve",
            ([b"book\npen", b"book\ncup"],),
            b"book\ncup\npen",
            "two branches of one cart (Dynamo §4.4)",
        ),
        Case("union_resolve", ([],), b"", "no sibling: an empty cart"),
        Case("union_resolve", ([b"pen", b"pen"],), b"pen", "the same item twice"),
        Case(
            "union_resolve",
            ([b"red pen", b"pen"],),
            b"pen\nred pen",
            "an item with a space in its name: one line is one item",
        ),
        Case("lww_resolve", ([(3, b"book"), (5, b"pen")],), b"pen", "timestamps 3 and 5"),
        Case(
            "lww_resolve", ([(5, b"pen"), (3, b"book")],), b"pen", "the same, the other way round"
        ),
        Case("lww_resolve", ([(4, b"book"), (4, b"pen")],), b"pen", "a tie: the larger value wins"),
        Case(
            "lww_resolve",
            ([(4, b"pen"), (4, b"book")],),
            b"pen",
            "the same tie, the other way round: not the sibling that came last",
        ),
    ]
    return unit_cases(ctx, cases, source="of the shopping cart")


def check_resolver_differential(ctx: CheckContext) -> Verdict:
    """1.2: both resolvers equal the answer key on generated siblings."""
    union = differential(
        ctx,
        st.lists(CART, max_size=SIBLINGS_MAX),
        call=lambda function, values: function(list(values)),
        function="union_resolve",
        show_input=lambda values: f"values={values}",
    )
    if union.status is not Status.PASSED:
        return union
    return differential(
        ctx,
        st.lists(st.tuples(st.integers(1, 9), CART), min_size=1, max_size=SIBLINGS_MAX),
        call=lambda function, versions: function(list(versions)),
        function="lww_resolve",
        show_input=lambda versions: f"versions={versions}",
    )


def check_update_cases(ctx: CheckContext) -> Verdict:
    """2.1: a client reads two branches, adds a cup, writes back; by union and by LWW."""
    siblings = [(3, b"book"), (5, b"pen")]
    cases = [
        Case(
            "cart_update",
            (siblings, b"cup", 6),
            (6, b"book\ncup\npen"),
            "union: branches book and pen, add cup at 6",
        ),
        Case("cart_update", ([], b"cup", 1), (1, b"cup"), "a new cart, add cup at 1"),
    ]
    union = unit_cases(
        ctx, cases, source="of the client's step", call_keywords={"last_write_wins": False}
    )
    if union.status is not Status.PASSED:
        return union
    lww_cases = [
        Case(
            "cart_update",
            (siblings, b"cup", 6),
            (6, b"cup\npen"),
            "LWW: branches book (3) and pen (5), add cup at 6",
        ),
        Case(
            "cart_update",
            (siblings, b"cup", 4),
            (4, b"cup\npen"),
            "LWW: the same branches, add cup at 4 (this client's clock runs behind pen's)",
        ),
    ]
    return unit_cases(
        ctx, lww_cases, source="of the client's step", call_keywords={"last_write_wins": True}
    )


Read = tuple[list[tuple[int, bytes]], bytes, int, bool]


def _update(function: Callable[..., Any], read: Read) -> tuple[Any, ...]:
    """``cart_update`` on a copy of the siblings; a copy it changed is shown beside its result."""
    siblings, item, stamp, last_write_wins = read
    given = list(siblings)
    result = tuple(function(given, item, stamp, last_write_wins=last_write_wins))
    if given != siblings:
        return (*result, f"and the siblings it was given became {given}")
    return result


def check_update_differential(ctx: CheckContext) -> Verdict:
    """2.2: cart_update equals the answer key on generated reads."""
    return differential(
        ctx,
        st.tuples(SIBLINGS, ITEM, st.integers(1, 20), st.booleans()),
        call=_update,
        function="cart_update",
        show_input=lambda v: (
            f"siblings={v[0]}, item={v[1]!r}, stamp={v[2]}, last_write_wins={v[3]}"
        ),
    )


OPERATIONS = (60, 120, 240)
PARTITION_SHARE = 0.5


def check_carts_under_partitions(ctx: CheckContext) -> Verdict:
    """3.1: your client code in 6 clients under partitions: union loses nothing; LWW loses."""
    what = (
        f"seed {ctx.seed}: 6 clients, 3 carts, 5 nodes (N=3 R=2 W=2, sloppy), partitions in "
        f"{PARTITION_SHARE:.0%} of fault intervals, 2% of messages lost"
    )
    for operations in OPERATIONS:
        run = run_carts(
            ctx.solution,
            seed=ctx.seed,
            last_write_wins=False,
            partition_share=PARTITION_SHARE,
            operations=operations,
        )
        if run.violations:
            return Verdict(
                Status.FAILED,
                f"the history checkers found the store wrong under union carts: "
                f"{run.violations[0]}",
                counterexample=f"{what}, {operations} client operations",
            )
        if run.adds_lost and run.lost_example is not None:
            key, item = run.lost_example
            traced = run_carts(
                ctx.solution,
                seed=ctx.seed,
                last_write_wins=False,
                partition_share=PARTITION_SHARE,
                operations=operations,
                trace_key=key,
            )
            lines = traced.ladder.splitlines()
            return Verdict(
                Status.FAILED,
                f"union merge lost {run.adds_lost} of {run.adds_acknowledged} acknowledged "
                f"adds: {item!r} is missing from {key!r}",
                counterexample=f"{what}, {operations} client operations",
                details="\n".join(
                    [f"ladder of {key!r} (its last messages):", *lines[:1], *lines[-40:]]
                ),
            )
    lww = run_carts(
        ctx.solution, seed=ctx.seed, last_write_wins=True, partition_share=PARTITION_SHARE
    )
    if lww.violations:
        return Verdict(
            Status.FAILED,
            f"the history checkers found the store wrong under LWW carts: {lww.violations[0]}",
            counterexample=f"{what}, {OPERATIONS[-1]} client operations, resolved by timestamp",
        )
    if not lww.adds_lost:
        return Verdict(
            Status.FAILED,
            f"last-write-wins lost none of {lww.adds_acknowledged} acknowledged adds across "
            f"{lww.siblings_seen} reads with siblings: your LWW does not pick one writer",
            counterexample=f"{what}, {OPERATIONS[-1]} client operations, resolved by timestamp",
        )
    return Verdict(
        Status.PASSED,
        f"union: 0 of {run.adds_acknowledged} acknowledged adds lost; last-write-wins: "
        f"{lww.adds_lost} of {lww.adds_acknowledged} lost ({lww.siblings_seen} reads saw "
        f"siblings); the history checkers found the store right in both",
    )


CHECK_FUNCTIONS: dict[str, Callable[[CheckContext], Verdict]] = {
    "1.1": check_resolver_cases,
    "1.2": check_resolver_differential,
    "2.1": check_update_cases,
    "2.2": check_update_differential,
    "3.1": check_carts_under_partitions,
}
