"""Every contract of :mod:`dynamokv.spec.ring` at its boundaries, and the bodies at their edges.

For each precondition, a call with the extreme valid value (no precondition rejects it
and the real call returns) and a call just past it that exactly that precondition
rejects. For each postcondition, a wrong result just past the boundary it states that
exactly that postcondition rejects, while the real result passes them all; where two
contracts state the same bound, a row says both reject. The bodies are held to exact
answers at the edges: positions 0 and ``RING_SIZE - 1``, the walk wrapping past the top
of the ring, Q equal to the number of nodes, ties, weights at the limit of room, a new
node sorting before the old ones, and steals kept off the new node's neighbours until
no other partition is left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pytest
from contract_helpers import (
    Call,
    WrongResult,
    check_call,
    check_wrong_result,
    contract_source,
    rejecting_postconditions,
    rejecting_preconditions,
)
from dynamokv.spec import ring
from dynamokv.spec.ring import RING_SIZE

TOP = RING_SIZE - 1
R3 = ((10, "a"), (20, "b"), (30, "c"))
EDGES = ((0, "a"), (TOP, "b"))
THIRD = (RING_SIZE + 2) // 3
"""The first position of partition 1 of 3: RING_SIZE / 3 rounded up (RING_SIZE % 3 == 1)."""
TWO_THIRDS = (2 * RING_SIZE + 1) // 3
"""The first position of partition 2 of 3: 2 * RING_SIZE / 3 rounded up."""
ONES = {"a": 1, "b": 1, "c": 1}
NINE = ("a", "b", "a", "b", "a", "b", "a", "b", "a")

HASHES = {b"a/0": 5, b"a/1": TOP, b"b/0": RING_SIZE + 3, b"c/0": 5}


def table_hash(data: bytes) -> int:
    """A hash known in advance: ``b/0`` lies past the top and wraps to 3, ``c/0`` collides."""
    return HASHES[data]


def seven(_data: bytes) -> int:
    return 7


CALLS = [
    # extended_preference_list
    Call(ring.extended_preference_list, {"ring": R3, "position": 0}, None, "position 0"),
    Call(ring.extended_preference_list, {"ring": R3, "position": TOP}, None, "the top position"),
    Call(ring.extended_preference_list, {"ring": R3, "position": -1}, "lambda position", "below 0"),
    Call(
        ring.extended_preference_list,
        {"ring": R3, "position": RING_SIZE},
        "lambda position",
        "RING_SIZE is off the ring",
    ),
    Call(ring.extended_preference_list, {"ring": (), "position": 0}, "is_ring", "an empty ring"),
    Call(
        ring.extended_preference_list,
        {"ring": ((20, "a"), (10, "b")), "position": 0},
        "is_ring",
        "tokens out of order",
    ),
    Call(
        ring.extended_preference_list,
        {"ring": R3, "position": RING_SIZE + 1},
        "lambda position",
        "past RING_SIZE",
    ),
    # preference_list
    Call(ring.preference_list, {"ring": R3, "position": 0, "n": 1}, None, "n = 1"),
    Call(ring.preference_list, {"ring": R3, "position": TOP, "n": 4}, None, "n above the nodes"),
    Call(ring.preference_list, {"ring": R3, "position": 0, "n": 0}, "lambda n", "n = 0"),
    Call(ring.preference_list, {"ring": R3, "position": -1, "n": 1}, "lambda position", "below 0"),
    Call(
        ring.preference_list,
        {"ring": R3, "position": RING_SIZE, "n": 1},
        "lambda position",
        "RING_SIZE is off the ring",
    ),
    Call(
        ring.preference_list,
        {"ring": R3, "position": RING_SIZE + 1, "n": 1},
        "lambda position",
        "past RING_SIZE",
    ),
    Call(
        ring.preference_list,
        {"ring": ((10, "a"), (10, "b")), "position": 0, "n": 1},
        "is_ring",
        "two tokens at one position",
    ),
    # random_tokens
    Call(ring.random_tokens, {"weights": {"a": 1}, "hash_fn": seven}, None, "one node, one token"),
    Call(ring.random_tokens, {"weights": {}, "hash_fn": seven}, "len(weights)", "no node"),
    Call(ring.random_tokens, {"weights": {"a": 1, "b": 0}, "hash_fn": seven}, "count", "no token"),
    # partition_start
    Call(ring.partition_start, {"partition": 0, "q": 1}, None, "Q = 1, partition 0"),
    Call(ring.partition_start, {"partition": 1, "q": 1}, None, "partition Q, the end"),
    Call(ring.partition_start, {"partition": 0, "q": 0}, "lambda q:", "Q = 0"),
    Call(ring.partition_start, {"partition": -1, "q": 4}, "lambda partition", "partition -1"),
    Call(ring.partition_start, {"partition": 5, "q": 4}, "lambda partition", "partition Q + 1"),
    # partition_of
    Call(ring.partition_of, {"position": 0, "q": 1}, None, "Q = 1, position 0"),
    Call(ring.partition_of, {"position": TOP, "q": 4}, None, "the top position"),
    Call(ring.partition_of, {"position": 0, "q": 0}, "lambda q:", "Q = 0"),
    Call(ring.partition_of, {"position": -1, "q": 4}, "lambda position", "below 0"),
    Call(ring.partition_of, {"position": RING_SIZE, "q": 4}, "lambda position", "RING_SIZE"),
    Call(ring.partition_of, {"position": RING_SIZE + 1, "q": 4}, "lambda position", "past it"),
    # assign_partitions
    Call(ring.assign_partitions, {"nodes": ["a"], "q": 1}, None, "one node, Q = 1"),
    Call(ring.assign_partitions, {"nodes": ["a", "b", "c"], "q": 3}, None, "Q = S"),
    Call(ring.assign_partitions, {"nodes": [], "q": 1}, "lambda nodes:", "no node"),
    Call(ring.assign_partitions, {"nodes": ["a", "a"], "q": 2}, "lambda nodes:", "a node twice"),
    Call(ring.assign_partitions, {"nodes": ["a", "b", "c"], "q": 2}, "lambda nodes, q", "Q < S"),
    # join_partitions
    Call(
        ring.join_partitions,
        {"assignment": ("a", "b", "a"), "new_node": "c"},
        None,
        "one node owns two partitions: enough to steal one",
    ),
    Call(
        ring.join_partitions,
        {"assignment": ("a", "b"), "new_node": "c"},
        "lambda assignment:",
        "every node owns one partition: nothing to steal",
    ),
    Call(
        ring.join_partitions,
        {"assignment": ("a", "a", "b", "b"), "new_node": "a"},
        "new_node",
        "the new node already owns partitions",
    ),
    # leave_partitions
    Call(
        ring.leave_partitions,
        {"assignment": ("a", "b"), "node": "a"},
        None,
        "two nodes, one leaves",
    ),
    Call(
        ring.leave_partitions,
        {"assignment": ("a", "a"), "node": "a"},
        "lambda assignment:",
        "the last node cannot leave",
    ),
    Call(
        ring.leave_partitions,
        {"assignment": ("a", "b"), "node": "c"},
        "lambda assignment, node",
        "the node owns nothing",
    ),
    # weighted_quotas
    Call(ring.weighted_quotas, {"weights": {"a": 1}, "q": 1}, None, "one node, Q = 1"),
    Call(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 2}, "q": 3},
        None,
        "Q·min(w) = Σw: the lightest node's share is exactly one partition",
    ),
    Call(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 2}, "q": 2},
        "_room_for",
        "Q·min(w) = Σw - 1: the lightest node's share is under one partition",
    ),
    Call(ring.weighted_quotas, {"weights": {"a": 0}, "q": 5}, "_valid_weights", "weight 0"),
    Call(ring.weighted_quotas, {"weights": {"a": True}, "q": 1}, "_valid_weights", "a bool"),
    Call(ring.weighted_quotas, {"weights": {"a": 1.0}, "q": 1}, "_valid_weights", "a float"),
    # assign_partitions_weighted
    Call(ring.assign_partitions_weighted, {"weights": {"a": 1}, "q": 1}, None, "one node, Q = 1"),
    Call(
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 2}, "q": 3},
        None,
        "room for exactly one partition of the lightest",
    ),
    Call(
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 2}, "q": 2},
        "_room_for",
        "no room for the lightest",
    ),
    Call(
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 1.0}, "q": 5},
        "_valid_weights",
        "a weight that is not an int",
    ),
    # join_partitions_weighted
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b", "a"), "weights": ONES, "new_node": "c"},
        None,
        "Q = S after the join: room for exactly one partition each",
    ),
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b", "a"), "weights": {**ONES, "z": 9}, "new_node": "c"},
        None,
        "a weight for a node not in the ring is ignored",
    ),
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b"), "weights": ONES, "new_node": "c"},
        "_room_for",
        "Q = S - 1 after the join",
    ),
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a",), "weights": {"a": 1, "c": 1}, "new_node": "c"},
        "_room_for",
        "one partition for two nodes",
    ),
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1, "b": 1}, "new_node": "a"},
        "lambda assignment, new_node",
        "the new node already owns partitions",
    ),
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"b": 1, "c": 1}, "new_node": "c"},
        "lambda assignment, weights:",
        "an old node has no weight",
    ),
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1, "b": 1}, "new_node": "c"},
        "lambda weights, new_node",
        "the new node has no weight",
    ),
    Call(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b", "a"), "weights": {**ONES, "z": 0}, "new_node": "c"},
        "lambda weights, new_node",
        "a weight 0, even of a node not in the ring",
    ),
    # leave_partitions_weighted
    Call(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1, "b": 1}, "node": "a"},
        None,
        "two nodes, one leaves",
    ),
    Call(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1, "b": 1, "z": 1}, "node": "a"},
        None,
        "a weight for a node not in the ring",
    ),
    Call(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1, "b": 1}, "node": "c"},
        "lambda assignment, node",
        "the node owns nothing",
    ),
    Call(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "a"), "weights": {"a": 1}, "node": "a"},
        "lambda assignment:",
        "the last node cannot leave",
    ),
    Call(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1}, "node": "a"},
        "lambda assignment, weights",
        "a node in the ring has no weight",
    ),
    Call(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1, "b": 1, "z": 0}, "node": "a"},
        "_valid_weights",
        "a weight 0",
    ),
    # partition_ring
    Call(ring.partition_ring, {"assignment": ("a",)}, None, "one partition"),
    Call(ring.partition_ring, {"assignment": ()}, "lambda assignment", "no partition"),
    # keys_that_move
    Call(
        ring.keys_that_move,
        {"before": R3, "after": EDGES, "positions": [0, TOP], "n": 1},
        None,
        "positions 0 and the top, n = 1",
    ),
    Call(
        ring.keys_that_move,
        {"before": R3, "after": R3, "positions": [0], "n": 0},
        "lambda n",
        "n = 0",
    ),
    Call(
        ring.keys_that_move,
        {"before": R3, "after": R3, "positions": [0, -1], "n": 1},
        "lambda positions",
        "a key below 0",
    ),
    Call(
        ring.keys_that_move,
        {"before": R3, "after": R3, "positions": [RING_SIZE], "n": 1},
        "lambda positions",
        "a key at RING_SIZE",
    ),
    Call(
        ring.keys_that_move,
        {"before": R3, "after": R3, "positions": [RING_SIZE + 1], "n": 1},
        "lambda positions",
        "a key past RING_SIZE",
    ),
    Call(
        ring.keys_that_move,
        {"before": (), "after": R3, "positions": [0], "n": 1},
        "lambda before, after",
        "the ring before is empty",
    ),
    Call(
        ring.keys_that_move,
        {"before": R3, "after": (), "positions": [0], "n": 1},
        "lambda before, after",
        "the ring after is empty",
    ),
]


@pytest.mark.parametrize("call", CALLS, ids=str)
def test_each_precondition_at_its_boundary(call: Call) -> None:
    check_call(call)


PR3 = ring.partition_ring(("a", "b"))
"""Tokens at RING_SIZE/2 - 1 and at the top."""

WRONG_RESULTS = [
    # extended_preference_list
    WrongResult(
        ring.extended_preference_list,
        {"ring": R3, "position": 15},
        ("b", "c"),
        "a node left out",
        "nodes_of",
    ),
    WrongResult(
        ring.extended_preference_list,
        {"ring": R3, "position": 15},
        ("b", "c", "a", "d"),
        "one node more than the ring holds",
        "nodes_of",
    ),
    WrongResult(
        ring.extended_preference_list,
        {"ring": R3, "position": 15},
        ("b", "b", "c"),
        "a node twice, the length right",
        "_distinct(result)",
    ),
    # preference_list
    WrongResult(
        ring.preference_list,
        {"ring": R3, "position": 15, "n": 2},
        ("b",),
        "n - 1 nodes",
        "min(n",
    ),
    WrongResult(
        ring.preference_list,
        {"ring": R3, "position": 15, "n": 2},
        ("b", "c", "a"),
        "n + 1 nodes",
        "min(n",
    ),
    WrongResult(
        ring.preference_list,
        {"ring": R3, "position": 15, "n": 4},
        ("b", "c"),
        "n above the nodes: one node left out",
        "min(n",
    ),
    WrongResult(
        ring.preference_list,
        {"ring": R3, "position": 15, "n": 4},
        ("b", "c", "a", "d"),
        "n above the nodes: n nodes, one not on the ring",
        "min(n",
    ),
    WrongResult(
        ring.preference_list,
        {"ring": R3, "position": 15, "n": 2},
        ("b", "b"),
        "a node twice",
        "_distinct(result)",
    ),
    # random_tokens
    WrongResult(
        ring.random_tokens,
        {"weights": {"a": 1, "b": 1}, "hash_fn": table_hash},
        ((5, "a"), (3, "b")),
        "tokens out of order",
        "is_ring",
    ),
    WrongResult(
        ring.random_tokens,
        {"weights": {"a": 1}, "hash_fn": seven},
        (),
        "no token",
        "is_ring",
    ),
    # partition_of
    WrongResult(
        ring.partition_of,
        {"position": TWO_THIRDS - 1, "q": 3},
        2,
        "the last position of partition 1 put in partition 2",
        "partition_start",
    ),
    WrongResult(
        ring.partition_of,
        {"position": 0, "q": 3},
        1,
        "position 0 put in partition 1",
        "partition_start",
    ),
    # assign_partitions
    WrongResult(
        ring.assign_partitions,
        {"nodes": ["a", "b"], "q": 4},
        ("a", "a", "a", "b"),
        "one node over Q/S + 1",
        "is_balanced",
    ),
    WrongResult(
        ring.assign_partitions,
        {"nodes": ["a", "b", "c"], "q": 3},
        ("a", "b", "d"),
        "Q = S, a node left out for one not asked for (both rules reject: see below)",
        None,
    ),
    WrongResult(
        ring.assign_partitions,
        {"nodes": ["a", "b"], "q": 4},
        ("a", "b", "a"),
        "Q - 1 partitions, balanced",
        "len(result)",
    ),
    WrongResult(
        ring.assign_partitions,
        {"nodes": ["a", "b"], "q": 4},
        ("a", "b", "a", "b", "a"),
        "Q + 1 partitions, balanced",
        "len(result)",
    ),
    # join_partitions
    WrongResult(
        ring.join_partitions,
        {"assignment": ("a", "a", "b", "b"), "new_node": "c"},
        ("c", "b", "b", "a"),
        "two old nodes swap partitions: balanced, and the new node's one steal right",
        "zip(",
    ),
    WrongResult(
        ring.join_partitions,
        {"assignment": ("a", "a", "b", "b"), "new_node": "c"},
        ("c", "a", "b", "b", "c"),
        "a partition more: balanced, but not partition by partition the assignment",
        "zip(",
    ),
    WrongResult(
        ring.join_partitions,
        {"assignment": ("a", "a", "b", "b"), "new_node": "c"},
        ("c", "c", "b", "b"),
        "from a balanced assignment, an old node left with Q/S - 1",
        "is_balanced(result",
    ),
    # leave_partitions
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("a", "a", "a", "b"), "node": "a"},
        ("a", "b", "b", "b"),
        "from an unbalanced assignment, the leaving node keeps a partition",
        "node not in result",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "node": "a"},
        ("b", "c", "b", "c", "b", "c"),
        "a staying node's partition moved",
        "zip(",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "node": "a"},
        ("b", "b", "c", "c", "b", "c", "b"),
        "a partition more",
        "zip(",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "node": "a"},
        ("b", "b", "c", "b", "b", "c"),
        "from a balanced assignment, one heir takes everything",
        "is_balanced(result",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("c", "a", "b"), "node": "b"},
        ("c", "c", "a"),
        "a staying partition moved to a node sorting after its owner, the rest valid",
        "zip(",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("c", "a", "b"), "node": "b"},
        ("a", "a", "c"),
        "a staying partition moved to a node sorting before its owner, the rest valid",
        "zip(",
    ),
    # weighted_quotas
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 3},
        {"a": 1, "b": 1, "d": 1},
        "a node that has no weight gets a quota",
        "set(result)",
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 3},
        {"a": 2, "b": 2},
        "Q + 1 partitions, each within one of its share",
        "sum(result.values()) ",
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 3},
        {"a": 1, "b": 1},
        "Q - 1 partitions, each within one of its share",
        "sum(result.values()) ",
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 4},
        {"a": 3, "b": 1},
        "a quota exactly one partition from its share",
        "abs(",
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 3}, "q": 4},
        {"a": 2, "b": 2},
        "a quota one over and one under a share of a whole number of partitions",
        "abs(",
    ),
    WrongResult(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 6},
        {"a": 5, "b": 1},
        "a quota two partitions over its share",
        "abs(",
    ),
    # assign_partitions_weighted
    WrongResult(
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 2}, "q": 3},
        ("a", "a", "b"),
        "the right length, the quotas swapped",
        "Counter(result)",
    ),
    # join_partitions_weighted
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b", "a", "b"), "weights": ONES, "new_node": "c"},
        ("c", "a", "a", "b"),
        "an old node's partition moved to another old node",
        "zip(",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b", "a", "b"), "weights": ONES, "new_node": "c"},
        ("c", "b", "a", "b", "a"),
        "a partition more",
        "zip(",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b") * 3, "weights": ONES, "new_node": "c"},
        ("c", "b", "a", "b", "a", "b"),
        "the new node one under its quota",
        "Counter(result)[new_node]",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b") * 3, "weights": ONES, "new_node": "c"},
        ("c", "b", "a", "c", "c", "b"),
        "the new node one over its quota",
        "Counter(result)[new_node]",
    ),
    WrongResult(
        ring.join_partitions_weighted,
        {"assignment": NINE, "weights": ONES, "new_node": "c"},
        ("a", "c", "a", "c", "a", "c", "a", "b", "a"),
        "from a balanced assignment, all steals from one node",
        "is_weighted_balanced(result",
    ),
    WrongResult(
        ring.leave_partitions,
        {"assignment": ("c", "a", "b", "c", "a", "b"), "node": "c"},
        ("a", "b", "b", "b", "a", "a"),
        "the leaving node sorts last: partitions of nodes sorting before it moved",
        "zip(",
    ),
    # leave_partitions_weighted
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "a", "a", "a", "b"), "weights": {"a": 1, "b": 1}, "node": "a"},
        ("a", "b", "b", "b", "b"),
        "from an unbalanced assignment, the leaving node keeps a partition",
        "node not in result",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "weights": ONES, "node": "a"},
        ("b", "c", "c", "b", "b", "c"),
        "a staying node's partition moved",
        "zip(",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "weights": ONES, "node": "a"},
        ("b", "b", "c", "c", "b", "c", "b"),
        "a partition more",
        "zip(",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {
            "assignment": ("a", "b", "a", "c", "a", "b"),
            "weights": {"a": 2, "b": 1, "c": 1},
            "node": "a",
        },
        ("b", "b", "b", "c", "b", "b"),
        "from a balanced assignment, one heir takes everything",
        "is_weighted_balanced(result",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("c", "a", "b"), "weights": ONES, "node": "b"},
        ("c", "c", "a"),
        "a staying partition moved to a node sorting after its owner, the rest valid",
        "zip(",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("c", "a", "b"), "weights": ONES, "node": "b"},
        ("a", "a", "c"),
        "a staying partition moved to a node sorting before its owner, the rest valid",
        "zip(",
    ),
    WrongResult(
        ring.leave_partitions_weighted,
        {"assignment": ("c", "a", "b", "c", "a", "b"), "weights": ONES, "node": "c"},
        ("a", "b", "b", "b", "a", "a"),
        "the leaving node sorts last: partitions of nodes sorting before it moved",
        "zip(",
    ),
    # partition_ring
    WrongResult(
        ring.partition_ring,
        {"assignment": ("a", "b")},
        ((0, "a"), *PR3),
        "a token more",
        "len(result)",
    ),
    WrongResult(
        ring.partition_ring,
        {"assignment": ("a", "b")},
        PR3[1:],
        "a token less",
        "len(result)",
    ),
    WrongResult(
        ring.partition_ring,
        {"assignment": ("a", "b")},
        (PR3[1], PR3[0]),
        "tokens out of order",
        "is_ring",
    ),
    WrongResult(
        ring.partition_ring,
        {"assignment": ("a", "b")},
        (PR3[0], (RING_SIZE, "b")),
        "the last token at RING_SIZE, off the ring",
        "is_ring",
    ),
]


@pytest.mark.parametrize("row", WRONG_RESULTS, ids=str)
def test_each_postcondition_rejects_a_result_just_past_it(row: WrongResult) -> None:
    check_wrong_result(row)


@dataclass(frozen=True)
class Twice:
    """A call (and a wrong result, for postconditions) that exactly the contracts named by
    ``breaks`` reject: two contracts that state the same bound must both say so."""

    function: Callable[..., Any]
    arguments: Mapping[str, Any]
    breaks: tuple[str, ...]
    why: str
    wrong: Any = None

    def __str__(self) -> str:
        return f"{self.function.__name__}: {self.why}"


TWICE = [
    Twice(
        ring.join_partitions_weighted,
        {"assignment": (), "weights": {"c": 1}, "new_node": "c"},
        ("lambda assignment:", "_room_for"),
        "no partition: neither there is one, nor room for the new node",
    ),
    Twice(
        ring.join_partitions_weighted,
        {"assignment": ("a", "b"), "weights": {"a": 1, "b": 3}, "new_node": "a"},
        ("lambda assignment, new_node", "_room_for"),
        "the new node already there, and no room for it and the other",
    ),
    Twice(
        ring.weighted_quotas,
        {"weights": {}, "q": 1},
        ("_valid_weights", "_room_for"),
        "no weight",
    ),
    Twice(
        ring.assign_partitions,
        {"nodes": ["a", "b", "c"], "q": 3},
        ("set(result)", "is_balanced"),
        "Q = S, a node left out for one not asked for",
        ("a", "b", "d"),
    ),
    Twice(
        ring.assign_partitions,
        {"nodes": ["a", "b", "c"], "q": 3},
        ("set(result)", "is_balanced"),
        "Q = S, a node left out, another twice",
        ("a", "b", "b"),
    ),
    Twice(
        ring.assign_partitions,
        {"nodes": ["a", "b", "c"], "q": 4},
        ("set(result)", "is_balanced"),
        "every node there, and one not asked for",
        ("a", "b", "c", "d"),
    ),
    Twice(
        ring.partition_of,
        {"position": TOP, "q": 4},
        ("0 <= result", "partition_start"),
        "partition Q: past the last partition",
        4,
    ),
    Twice(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 3},
        ("set(result)", "abs("),
        "a node left out",
        {"a": 3},
    ),
    Twice(
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 1}, "q": 2},
        ("for quota", "abs("),
        "a node with no partition",
        {"a": 0, "b": 2},
    ),
    Twice(
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 2}, "q": 3},
        ("len(result)", "Counter(result)"),
        "Q - 1 partitions",
        ("b", "b"),
    ),
    Twice(
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 2}, "q": 3},
        ("len(result)", "Counter(result)"),
        "Q + 1 partitions",
        ("b", "a", "b", "b"),
    ),
    Twice(
        ring.leave_partitions,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "node": "a"},
        ("node not in result", "is_balanced(result"),
        "from a balanced assignment, the leaving node keeps a partition",
        ("a", "b", "c", "c", "b", "c"),
    ),
]


def _named(rejected: list[str], breaks: tuple[str, ...], what: str) -> None:
    assert len(rejected) == len(breaks), f"{what}: expected {breaks}, got {rejected}"
    for fragment in breaks:
        assert sum(fragment in source for source in rejected) == 1, f"{what}: {rejected}"


@pytest.mark.parametrize("row", TWICE, ids=str)
def test_contracts_that_state_the_same_bound_both_reject(row: Twice) -> None:
    if row.wrong is None:
        _named(rejecting_preconditions(row.function, row.arguments), row.breaks, str(row))
    else:
        assert (
            rejecting_postconditions(row.function, row.arguments, row.function(**row.arguments))
            == []
        )
        _named(
            rejecting_postconditions(row.function, row.arguments, row.wrong), row.breaks, str(row)
        )


def _postcondition(function: Callable[..., Any], fragment: str) -> Callable[..., Any]:
    (contract,) = [
        contract
        for contract in function.__postconditions__  # type: ignore[attr-defined]
        if fragment in contract_source(contract)
    ]
    return contract.condition


def test_partition_of_rejects_a_negative_partition() -> None:
    """``partition_start`` refuses partition -1, so only the range check can be asked."""
    in_range = _postcondition(ring.partition_of, "0 <= result")
    assert not in_range(q=4, result=-1)
    assert in_range(q=4, result=0)
    assert in_range(q=4, result=3)
    assert not in_range(q=4, result=5)


def test_default_partition_count() -> None:
    """Strategy 3's default Q: 16,384 partitions."""
    assert ring.DEFAULT_PARTITION_COUNT == 16_384


ANSWERS = [
    # is_ring, nodes_of, md5_position
    (ring.is_ring, {"ring": ()}, False, "an empty ring"),
    (ring.is_ring, {"ring": ((0, "a"),)}, True, "one token at 0"),
    (ring.is_ring, {"ring": ((TOP, "a"),)}, True, "one token at the top"),
    (ring.is_ring, {"ring": ((-1, "a"),)}, False, "a token below 0"),
    (ring.is_ring, {"ring": ((RING_SIZE, "a"),)}, False, "a token at RING_SIZE"),
    (ring.is_ring, {"ring": ((RING_SIZE + 1, "a"),)}, False, "a token past RING_SIZE"),
    (ring.is_ring, {"ring": EDGES}, True, "tokens at 0 and the top"),
    (ring.is_ring, {"ring": ((1, "a"), (1, "b"))}, False, "two tokens at one position"),
    (ring.is_ring, {"ring": ((2, "a"), (1, "b"))}, False, "tokens out of order"),
    (ring.is_ring, {"ring": ((1, "a"), (2, "a"), (0, "b"))}, False, "the last out of order"),
    (ring.nodes_of, {"ring": ((1, "a"), (2, "b"), (3, "a"))}, frozenset("ab"), "virtual nodes"),
    (
        ring.md5_position,
        {"key": b""},
        0xD41D8CD98F00B204E9800998ECF8427E,
        "MD5 of nothing, big-endian",
    ),
    # extended_preference_list and preference_list
    (ring.extended_preference_list, {"ring": R3, "position": 0}, ("a", "b", "c"), "before all"),
    (ring.extended_preference_list, {"ring": R3, "position": 10}, ("a", "b", "c"), "on a"),
    (ring.extended_preference_list, {"ring": R3, "position": 11}, ("b", "c", "a"), "after a"),
    (ring.extended_preference_list, {"ring": R3, "position": 30}, ("c", "a", "b"), "on the last"),
    (ring.extended_preference_list, {"ring": R3, "position": 31}, ("a", "b", "c"), "wraps"),
    (ring.extended_preference_list, {"ring": R3, "position": TOP}, ("a", "b", "c"), "top wraps"),
    (ring.extended_preference_list, {"ring": EDGES, "position": 0}, ("a", "b"), "token at 0"),
    (ring.extended_preference_list, {"ring": EDGES, "position": 1}, ("b", "a"), "past 0"),
    (ring.extended_preference_list, {"ring": EDGES, "position": TOP}, ("b", "a"), "top token"),
    (
        ring.extended_preference_list,
        {"ring": ((1, "a"), (2, "a"), (3, "b"), (4, "a"), (5, "c")), "position": 2},
        ("a", "b", "c"),
        "virtual nodes met again are skipped",
    ),
    (ring.preference_list, {"ring": R3, "position": 31, "n": 1}, ("a",), "n = 1 wraps"),
    (ring.preference_list, {"ring": R3, "position": 25, "n": 2}, ("c", "a"), "n = 2 wraps"),
    (ring.preference_list, {"ring": R3, "position": 25, "n": 3}, ("c", "a", "b"), "n = S"),
    (ring.preference_list, {"ring": R3, "position": 25, "n": 9}, ("c", "a", "b"), "n > S"),
    # random_tokens
    (
        ring.random_tokens,
        {"weights": {"b": 1, "a": 2}, "hash_fn": table_hash},
        ((3, "b"), (5, "a"), (TOP, "a")),
        "positions taken modulo RING_SIZE, sorted",
    ),
    (
        ring.random_tokens,
        {"weights": {"c": 1, "a": 1}, "hash_fn": table_hash},
        ((5, "a"),),
        "a collision goes to the node sorting first",
    ),
    (
        ring.random_tokens,
        {"weights": {"b": 3, "a": 1}, "hash_fn": seven},
        ((7, "a"),),
        "all tokens collide",
    ),
    (
        ring.random_tokens,
        {"weights": {"a": 1}, "hash_fn": ring.md5_position},
        ((ring.md5_position(b"a/0"), "a"),),
        "strategy 1 names the token a/0",
    ),
    # partition_start and partition_of
    (ring.partition_start, {"partition": 0, "q": 3}, 0, "partition 0 starts at 0"),
    (ring.partition_start, {"partition": 1, "q": 3}, THIRD, "RING_SIZE/3 rounded up"),
    (ring.partition_start, {"partition": 2, "q": 3}, TWO_THIRDS, "2·RING_SIZE/3 rounded up"),
    (ring.partition_start, {"partition": 3, "q": 3}, RING_SIZE, "partition Q: the end"),
    (ring.partition_start, {"partition": 1, "q": 4}, RING_SIZE // 4, "an exact quarter"),
    (ring.partition_of, {"position": 0, "q": 3}, 0, "position 0"),
    (ring.partition_of, {"position": THIRD - 1, "q": 3}, 0, "the last position of partition 0"),
    (ring.partition_of, {"position": THIRD, "q": 3}, 1, "the first position of partition 1"),
    (ring.partition_of, {"position": TWO_THIRDS - 1, "q": 3}, 1, "the last of partition 1"),
    (ring.partition_of, {"position": TWO_THIRDS, "q": 3}, 2, "the first of partition 2"),
    (ring.partition_of, {"position": TOP, "q": 3}, 2, "the top position"),
    (ring.partition_of, {"position": TOP, "q": 1}, 0, "Q = 1"),
    # assign_partitions and is_balanced
    (ring.assign_partitions, {"nodes": ["b", "a", "c"], "q": 3}, ("b", "a", "c"), "Q = S"),
    (
        ring.assign_partitions,
        {"nodes": ["b", "a", "c"], "q": 5},
        ("b", "a", "c", "b", "a"),
        "round-robin in the order given",
    ),
    (
        ring.assign_partitions,
        {"nodes": ["a", "b"], "q": 5},
        ("a", "b", "a", "b", "a"),
        "Q > 2S: round-robin goes round more than twice",
    ),
    (ring.is_balanced, {"assignment": ("a",), "nodes": []}, False, "no node"),
    (ring.is_balanced, {"assignment": ("a", "b"), "nodes": "ab"}, True, "Q/S each"),
    (ring.is_balanced, {"assignment": ("a", "a", "b"), "nodes": "ab"}, True, "Q/S + 1/2"),
    (ring.is_balanced, {"assignment": ("a", "a", "a", "b"), "nodes": "ab"}, False, "Q/S ± 1"),
    (
        ring.is_balanced,
        {"assignment": ("a", "a", "a", "b", "b"), "nodes": "ab"},
        True,
        "Q/S rounded down and up",
    ),
    (
        ring.is_balanced,
        {"assignment": ("a", "a", "a", "a", "b"), "nodes": "ab"},
        False,
        "Q/S rounded down + 2",
    ),
    (
        ring.is_balanced,
        {"assignment": ("a", "a", "a", "b", "c"), "nodes": "abc"},
        False,
        "one node at Q/S rounded down + 2, the others at Q/S rounded down",
    ),
    (ring.is_balanced, {"assignment": ("a",), "nodes": "ab"}, True, "Q < S: 0 or 1 each"),
    (ring.is_balanced, {"assignment": ("a", "b", "c"), "nodes": "ab"}, False, "an owner not in"),
    # join_partitions
    (
        ring.join_partitions,
        {"assignment": ("a", "b", "a"), "new_node": "c"},
        ("c", "b", "a"),
        "Q = S after the join: the first partition of the most loaded",
    ),
    (
        ring.join_partitions,
        {"assignment": ("b", "a", "a"), "new_node": "c"},
        ("b", "c", "a"),
        "only a most loaded node gives",
    ),
    (
        ring.join_partitions,
        {"assignment": ("a",) * 4, "new_node": "b"},
        ("b", "a", "b", "a"),
        "the steals spread round the ring",
    ),
    (
        ring.join_partitions,
        {"assignment": ("a", "b") * 4, "new_node": "c"},
        ("c", "b", "a", "b", "a", "c", "a", "b"),
        "the second steal starts half way round",
    ),
    (
        ring.join_partitions,
        {"assignment": ("a", "b", "c") * 3, "new_node": "d"},
        ("d", "b", "c", "a", "d", "c", "a", "b", "c"),
        "each steal from a node most loaded at that time",
    ),
    (
        ring.join_partitions,
        {"assignment": ("a", "a", "b", "b", "a", "b"), "new_node": "c"},
        ("c", "a", "b", "c", "a", "b"),
        "two steals from the two most loaded",
    ),
    (
        ring.join_partitions,
        {"assignment": ("b", "b"), "new_node": "a"},
        ("a", "b"),
        "a new node sorting before the old ones steals all the same",
    ),
    (
        ring.join_partitions,
        {"assignment": ("b", "b", "b", "c", "c", "b"), "new_node": "a"},
        ("a", "b", "a", "c", "c", "b"),
        "the second steal passes over the partitions next to the first, across the wrap",
    ),
    (
        ring.join_partitions,
        {"assignment": ("b", "b", "b", "c", "b", "c"), "new_node": "a"},
        ("a", "b", "b", "c", "a", "c"),
        "a steal lowers the donor's count by one: b, 4 then 3, still gives the second",
    ),
    (
        ring.join_partitions,
        {"assignment": ("b", "b", "b", "b", "b", "c", "c", "c", "b"), "new_node": "a"},
        ("a", "b", "b", "a", "b", "c", "c", "c", "a"),
        "every partition of the most loaded next to the new node's: the last steal lands there",
    ),
    # leave_partitions
    (
        ring.leave_partitions,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "node": "a"},
        ("b", "b", "c", "c", "b", "c"),
        "the least loaded inherits, ties by id",
    ),
    (ring.leave_partitions, {"assignment": ("a", "c", "b"), "node": "a"}, ("b", "c", "b"), "tie"),
    (
        ring.leave_partitions,
        {"assignment": ("c", "a", "b", "b", "a"), "node": "c"},
        ("a", "a", "b", "b", "a"),
        "the last partition's node leaves... the first",
    ),
    (
        ring.leave_partitions,
        {"assignment": ("a", "b", "b", "c", "a"), "node": "a"},
        ("c", "b", "b", "c", "b"),
        "the heirs' partitions counted before the first heir is chosen",
    ),
    (
        ring.leave_partitions,
        {"assignment": ("c", "b", "b", "a", "c"), "node": "c"},
        ("a", "b", "b", "a", "a"),
        "the leaving node sorts last: the heirs' partitions counted all the same",
    ),
    # weighted_quotas and is_weighted_balanced
    (ring.weighted_quotas, {"weights": {"a": 5}, "q": 1}, {"a": 1}, "one node, Q = 1"),
    (ring.weighted_quotas, {"weights": ONES, "q": 3}, ONES, "Q = S"),
    (
        ring.weighted_quotas,
        {"weights": {"c": 1, "b": 1, "a": 1}, "q": 4},
        {"a": 2, "b": 1, "c": 1},
        "ties by node id",
    ),
    (
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 3}, "q": 5},
        {"a": 1, "b": 4},
        "the largest remainder gets the leftover",
    ),
    (
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 9}, "q": 10},
        {"a": 1, "b": 9},
        "at the limit of room: the lightest gets exactly one",
    ),
    (
        ring.weighted_quotas,
        {"weights": {"a": 2, "b": 3, "c": 5}, "q": 7},
        {"a": 1, "b": 2, "c": 4},
        "two leftovers to the two largest remainders",
    ),
    (
        ring.weighted_quotas,
        {"weights": {"a": 3, "b": 5}, "q": 5},
        {"a": 2, "b": 3},
        "the leftover to the largest remainder, not to the largest share",
    ),
    (
        ring.weighted_quotas,
        {"weights": {"a": 1, "b": 2}, "q": 4},
        {"a": 1, "b": 3},
        "the leftover to the larger fractional part of Q·w/Σw: 8/3 before 4/3",
    ),
    (ring.is_weighted_balanced, {"assignment": (), "weights": {}}, False, "no weight"),
    (ring.is_weighted_balanced, {"assignment": ("a",), "weights": {"a": 0}}, False, "weight 0"),
    (ring.is_weighted_balanced, {"assignment": ("a", "b"), "weights": ONES}, True, "Q < S"),
    (
        ring.is_weighted_balanced,
        {"assignment": ("a", "a", "a", "b"), "weights": {"a": 1, "b": 1}},
        True,
        "exactly one partition over and under the share",
    ),
    (
        ring.is_weighted_balanced,
        {"assignment": ("a", "a", "a", "a", "b"), "weights": {"a": 1, "b": 1}},
        False,
        "one and a half over",
    ),
    (
        ring.is_weighted_balanced,
        {"assignment": ("a", "b", "c"), "weights": {"a": 1, "b": 1}},
        False,
        "an owner without weight",
    ),
    (
        ring.is_weighted_balanced,
        {"assignment": ("a", "b", "b", "b"), "weights": {"a": 1, "b": 3}},
        True,
        "each exactly at its share",
    ),
    # join_partitions_weighted
    (
        ring.join_partitions_weighted,
        {"assignment": ("a", "b", "a"), "weights": ONES, "new_node": "c"},
        ("c", "b", "a"),
        "Q = S after the join: one steal from the node over its share",
    ),
    (
        ring.join_partitions_weighted,
        {"assignment": ("a", "b") * 3, "weights": ONES, "new_node": "c"},
        ("c", "b", "a", "c", "a", "b"),
        "the second steal half way round, not next to the first",
    ),
    (
        ring.join_partitions_weighted,
        {"assignment": NINE, "weights": ONES, "new_node": "c"},
        ("c", "b", "a", "b", "c", "b", "a", "c", "a"),
        "each steal from the node furthest above its share, ties by id",
    ),
    (
        ring.join_partitions_weighted,
        {
            "assignment": ("b", "b", "a", "b", "b", "b", "a", "b"),
            "weights": {"a": 1, "b": 3, "c": 4},
            "new_node": "c",
        },
        ("c", "b", "a", "c", "b", "b", "c", "c"),
        "a heavy new node at the limit of room: the last steal lands next to another",
    ),
    (
        ring.join_partitions_weighted,
        {
            "assignment": ("b", "a", "b", "a", "b", "b"),
            "weights": {"a": 1, "b": 2, "c": 3},
            "new_node": "c",
        },
        ("c", "a", "b", "c", "c", "b"),
        "weights 1, 2, 3: half the ring to the new node",
    ),
    (
        ring.join_partitions_weighted,
        {"assignment": ("b", "a", "a", "a"), "weights": {"a": 1, "b": 1, "c": 2}, "new_node": "c"},
        ("b", "c", "a", "c"),
        "only the node above its share gives",
    ),
    (
        ring.join_partitions_weighted,
        {"assignment": ("b", "b"), "weights": {"a": 1, "b": 1}, "new_node": "a"},
        ("a", "b"),
        "a new node sorting before the old ones steals all the same",
    ),
    (
        ring.join_partitions_weighted,
        {"assignment": ("b", "b", "b", "b"), "weights": {"a": 2, "b": 1}, "new_node": "a"},
        ("a", "b", "a", "a"),
        "the second steal passes over the partition after the first; the third has no choice",
    ),
    # leave_partitions_weighted
    (
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b", "c", "a", "b", "c"), "weights": ONES, "node": "a"},
        ("b", "b", "c", "c", "b", "c"),
        "equal weights: the least loaded inherits, ties by id",
    ),
    (
        ring.leave_partitions_weighted,
        {
            "assignment": ("a", "b", "a", "c", "a", "b"),
            "weights": {"a": 2, "b": 1, "c": 1},
            "node": "a",
        },
        ("c", "b", "b", "c", "c", "b"),
        "the node furthest below its share inherits",
    ),
    (
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b", "c", "a"), "weights": {"a": 1, "b": 1, "c": 3}, "node": "a"},
        ("c", "b", "c", "c"),
        "the heavier node inherits both",
    ),
    (
        ring.leave_partitions_weighted,
        {"assignment": ("a", "a", "b", "c"), "weights": {"a": 1, "b": 2, "c": 1}, "node": "a"},
        ("b", "b", "b", "c"),
        "the heavier node inherits both, from the first position",
    ),
    (
        ring.leave_partitions_weighted,
        {"assignment": ("c", "a", "b", "b", "a"), "weights": ONES, "node": "c"},
        ("a", "a", "b", "b", "a"),
        "the first partition's node leaves",
    ),
    (
        ring.leave_partitions_weighted,
        {"assignment": ("a", "b", "b", "c", "a"), "weights": ONES, "node": "a"},
        ("c", "b", "b", "c", "b"),
        "the heirs' partitions counted before the first heir is chosen",
    ),
    (
        ring.leave_partitions_weighted,
        {"assignment": ("c", "b", "b", "a", "c"), "weights": ONES, "node": "c"},
        ("a", "b", "b", "a", "a"),
        "the leaving node sorts last: the heirs' partitions counted all the same",
    ),
    (
        ring.leave_partitions_weighted,
        {"assignment": ("a", "a", "b", "c"), "weights": {"a": 1, "b": 2, "c": 3}, "node": "a"},
        ("c", "b", "b", "c"),
        "weights 1, 2, 3: each heir the node furthest below its share at that time",
    ),
    # partition_ring and keys_that_move
    (ring.partition_ring, {"assignment": ("a",)}, ((TOP, "a"),), "Q = 1: one token at the top"),
    (
        ring.partition_ring,
        {"assignment": ("a", "b", "c")},
        ((THIRD - 1, "a"), (TWO_THIRDS - 1, "b"), (TOP, "c")),
        "each token at its partition's last position",
    ),
    (
        ring.keys_that_move,
        {
            "before": ((10, "a"), (20, "b")),
            "after": ((10, "a"), (15, "c"), (20, "b")),
            "positions": [0, 12, 15, 16, 25, TOP],
            "n": 1,
        },
        frozenset({12, 15}),
        "n = 1: the keys the new token takes, its own position included",
    ),
    (
        ring.keys_that_move,
        {
            "before": ((10, "a"), (20, "b")),
            "after": ((10, "a"), (15, "c"), (20, "b")),
            "positions": [0, 12, 16, 25],
            "n": 2,
        },
        frozenset({0, 12, 25}),
        "n = 2: every key whose two replicas include the new node, wrapping",
    ),
    (
        ring.keys_that_move,
        {"before": R3, "after": R3, "positions": [], "n": 1},
        frozenset(),
        "no key",
    ),
    # assign_partitions_weighted
    (ring.assign_partitions_weighted, {"weights": ONES, "q": 3}, ("a", "b", "c"), "Q = S"),
    (
        ring.assign_partitions_weighted,
        {"weights": {"c": 1, "b": 1, "a": 1}, "q": 5},
        ("a", "b", "c", "a", "b"),
        "equal quotas: round-robin in node order",
    ),
    (
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 2}, "q": 6},
        ("b", "a", "b", "b", "a", "b"),
        "smooth weighted round-robin",
    ),
    (
        ring.assign_partitions_weighted,
        {"weights": {"a": 1, "b": 9}, "q": 10},
        ("b",) * 4 + ("a",) + ("b",) * 5,
        "at the limit of room: the lightest's one partition half way",
    ),
]


@pytest.mark.parametrize(
    ("function", "arguments", "expected", "why"),
    ANSWERS,
    ids=[f"{row[0].__name__}: {row[3]}" for row in ANSWERS],
)
def test_exact_answer_at_the_edges(
    function: Callable[..., Any], arguments: Mapping[str, Any], expected: Any, why: str
) -> None:
    assert function(**arguments) == expected, why
