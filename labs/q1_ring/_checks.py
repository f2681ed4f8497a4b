"""The checks of lab q1: positions, partitions, preference lists, keys that move."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from dynamokv.spec.ring import RING_SIZE, Ring, partition_start
from hypothesis import strategies as st

from .._model import CheckContext, Verdict
from .._tiers import Case, diffbehavior, differential, unit_cases

NODES = ("A", "B", "C", "D", "E", "F")

# Dynamo Figure 2: nodes A to G clockwise; B, C and D store the keys in (A, B].
FIGURE_2: Ring = (
    (100, "A"),
    (200, "B"),
    (300, "C"),
    (400, "D"),
    (500, "E"),
    (600, "F"),
    (700, "G"),
)
# Three physical nodes, five virtual nodes: A holds three tokens (Dynamo §4.2).
VIRTUAL: Ring = ((10, "A"), (20, "A"), (30, "B"), (40, "A"), (50, "C"))
# Figure 2 after node X joins between A and B.
FIGURE_2_WITH_X: Ring = tuple(sorted((*FIGURE_2, (150, "X"))))


def show_ring(ring: Ring) -> str:
    """``A@100 B@200 ...``: each token as node@position."""
    return " ".join(f"{node}@{position}" for position, node in ring)


def _ring_text(ring: Ring) -> str:
    nodes = len({node for _, node in ring})
    return f"ring of {nodes} nodes, {len(ring)} tokens: {show_ring(ring)}"


RINGS: st.SearchStrategy[Ring] = st.lists(
    st.tuples(st.integers(0, 999), st.sampled_from(NODES)),
    min_size=1,
    max_size=18,
    unique_by=lambda token: token[0],
).map(lambda tokens: tuple(sorted(tokens)))


def _positions_near(ring: Ring) -> st.SearchStrategy[int]:
    """Any position, with the tokens' own positions (the edge of an arc) drawn often."""
    return st.one_of(st.sampled_from([position for position, _ in ring]), st.integers(0, 999))


def _reassigned(ring: Ring) -> st.SearchStrategy[Ring]:
    """The same token positions with their nodes shuffled: a rebalanced ring."""
    positions = [position for position, _ in ring]
    return st.permutations([node for _, node in ring]).map(
        lambda nodes: tuple(zip(positions, nodes, strict=True))
    )


# -- part 1: positions -------------------------------------------------------------------


def check_positions_from_the_paper(ctx: CheckContext) -> Verdict:
    """1.1: MD5 of a key, and the partitions of Dynamo's 16,384-slot ring."""
    cart = int.from_bytes(hashlib.md5(b"cart").digest(), "big")
    q = 16_384
    cases = [
        Case("md5_position", (b"cart",), cart, 'md5_position(b"cart")'),
        Case(
            "md5_position",
            (b"",),
            int.from_bytes(hashlib.md5(b"").digest(), "big"),
            'md5_position(b"")',
        ),
        Case("partition_of", (0, q), 0, "partition_of(0, q=16384)"),
        Case("partition_of", (RING_SIZE - 1, q), q - 1, "partition_of(RING_SIZE - 1, q=16384)"),
        Case("partition_of", (RING_SIZE // 2, 4), 2, "partition_of(RING_SIZE // 2, q=4)"),
        Case(
            "partition_of",
            (RING_SIZE // 4 - 1, 4),
            0,
            "partition_of(RING_SIZE // 4 - 1, q=4): the last position of partition 0",
        ),
        Case(
            "partition_of", (RING_SIZE // 4 * 3 + 5, 4), 3, "partition_of(3/4 of the ring + 5, q=4)"
        ),
        Case(
            "partition_of",
            (cart, q),
            cart * q // RING_SIZE,
            'partition_of(md5_position(b"cart"), q=16384)',
        ),
    ]
    return unit_cases(ctx, cases)


def check_md5_differential(ctx: CheckContext) -> Verdict:
    """1.2: md5_position equals the answer key on any key."""
    return differential(
        ctx,
        st.binary(max_size=64),
        call=lambda function, key: function(key),
        function="md5_position",
        show_input=lambda key: f"key={key!r}",
    )


def _edges_of_partitions(q: int) -> st.SearchStrategy[int]:
    """The first position of a partition of ``q``, or the last of the one before it.

    A random 128-bit position almost never lands there, yet that is where a float
    (53 bits) or a rounded partition width puts a key in the wrong partition.
    """
    return st.tuples(st.integers(0, q), st.sampled_from([-1, 0])).map(
        lambda edge: min(max(partition_start(edge[0], q) + edge[1], 0), RING_SIZE - 1)
    )


def check_partition_differential(ctx: CheckContext) -> Verdict:
    """1.3: partition_of equals the answer key on any position and any Q."""
    q_values = st.one_of(st.sampled_from([1, 2, 3, 7, 1024, 16_384]), st.integers(1, 1 << 20))
    positions = st.one_of(
        st.integers(0, RING_SIZE - 1),
        st.sampled_from([0, 1, RING_SIZE // 2, RING_SIZE - 1]),
    )
    return differential(
        ctx,
        q_values.flatmap(
            lambda q: st.tuples(st.one_of(positions, _edges_of_partitions(q)), st.just(q))
        ),
        call=lambda function, value: function(*value),
        function="partition_of",
        show_input=lambda value: f"position={value[0]}, q={value[1]}",
    )


def check_partition_symbolic(ctx: CheckContext) -> Verdict:
    """1.4: CrossHair finds no position and Q where partition_of differs."""
    return diffbehavior(
        ctx,
        "dynamokv.labs.q1_ring._symbolic.partition_of_yours",
        "dynamokv.labs.q1_ring._symbolic.partition_of_answer",
    )


# -- part 2: preference lists ------------------------------------------------------------


def check_preference_list_from_the_paper(ctx: CheckContext) -> Verdict:
    """2.1: Figure 2, virtual nodes, and the wrap past the top of the ring."""
    cases = [
        Case(
            "preference_list",
            (FIGURE_2, 150, 3),
            ("B", "C", "D"),
            "Figure 2: key K between A and B, N=3, ring " + show_ring(FIGURE_2),
        ),
        Case(
            "preference_list",
            (FIGURE_2, 650, 3),
            ("G", "A", "B"),
            "a key past the last token wraps: position 650, N=3, ring " + show_ring(FIGURE_2),
        ),
        Case(
            "preference_list",
            (VIRTUAL, 5, 3),
            ("A", "B", "C"),
            "virtual nodes: position 5, N=3, ring " + show_ring(VIRTUAL),
        ),
        Case(
            "preference_list",
            (FIGURE_2, 200, 1),
            ("B",),
            "a key exactly at B's token belongs to B: position 200, N=1, ring "
            + show_ring(FIGURE_2),
        ),
    ]
    return unit_cases(ctx, cases, show=_show_nodes)


def _show_nodes(nodes: Any) -> str:
    """A preference list as ``[A, B, C]``; another type is named, or it would look equal."""
    if isinstance(nodes, tuple):
        return "[" + ", ".join(str(node) for node in nodes) + "]"
    return f"{nodes!r}, a {type(nodes).__name__}: return a tuple"


def _show_keys(keys: Any) -> str:
    """Moved keys as a sorted list; a type other than a set is named, or it would look equal."""
    if isinstance(keys, frozenset | set):
        return repr(sorted(keys))
    return f"{keys!r}, a {type(keys).__name__}: return a frozenset"


def check_preference_list_differential(ctx: CheckContext) -> Verdict:
    """2.2: preference_list equals the answer key on 200 random rings with virtual nodes."""
    inputs = RINGS.flatmap(
        lambda ring: st.tuples(st.just(ring), _positions_near(ring), st.integers(1, 5))
    )
    return differential(
        ctx,
        inputs,
        call=lambda function, value: function(*value),
        function="preference_list",
        show_input=lambda value: f"position={value[1]}, N={value[2]}, {_ring_text(value[0])}",
        show_output=_show_nodes,
    )


# -- part 3: keys that move --------------------------------------------------------------


def check_keys_that_move_from_the_paper(ctx: CheckContext) -> Verdict:
    """3.1: X joins Figure 2's ring between A and B: which keys get a new replica?"""
    positions = (50, 120, 180, 250, 550, 650)
    cases = [
        Case(
            "keys_that_move",
            (FIGURE_2, FIGURE_2_WITH_X, positions, 3),
            frozenset({50, 120, 650}),
            f"X joins at 150: keys at {list(positions)}, N=3, before {show_ring(FIGURE_2)}",
        ),
        Case(
            "keys_that_move",
            (FIGURE_2, FIGURE_2, positions, 3),
            frozenset(),
            "the same ring before and after: nothing moves",
        ),
    ]
    return unit_cases(ctx, cases, show=_show_keys)


def check_keys_that_move_differential(ctx: CheckContext) -> Verdict:
    """3.2: keys_that_move equals the answer key on random pairs of rings."""
    inputs = RINGS.flatmap(
        lambda before: st.tuples(
            st.just(before),
            st.one_of(RINGS, _reassigned(before)),
            st.lists(st.integers(0, 999), max_size=12, unique=True),
            st.integers(1, 4),
        )
    )

    def show(value: tuple[Ring, Ring, list[int], int]) -> str:
        before, after, positions, n = value
        return (
            f"positions={positions}, N={n}\n      before: {show_ring(before)}"
            f"\n      after:  {show_ring(after)}"
        )

    return differential(
        ctx,
        inputs,
        call=lambda function, value: function(value[0], value[1], value[2], value[3]),
        function="keys_that_move",
        show_input=show,
        show_output=_show_keys,
    )


CHECK_FUNCTIONS: dict[str, Callable[[CheckContext], Verdict]] = {
    "1.1": check_positions_from_the_paper,
    "1.2": check_md5_differential,
    "1.3": check_partition_differential,
    "1.4": check_partition_symbolic,
    "2.1": check_preference_list_from_the_paper,
    "2.2": check_preference_list_differential,
    "3.1": check_keys_that_move_from_the_paper,
    "3.2": check_keys_that_move_differential,
}
