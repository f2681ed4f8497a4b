"""The experiment of lab q1: add an 11th node to 10 and count what moves.

Measured with the solution's own functions: its ``md5_position`` places 100,000
keys, its ``preference_list`` says which nodes hold each one before and after
the join (the rings are strategy 3's, Q = 1,024 equal partitions, built with the
project's ``assign_partitions`` and ``join_partitions``), and its
``keys_that_move`` says which keys gain a replica. Every position of one
partition has one preference list, so the lists are computed once per partition.

Theory (Dynamo §4.2, §6.2): a join takes 1/(S+1) of the ring, so 1/11 ≈ 9.09% of
the keys change coordinator and 1/11 of the replica copies move; each moved
partition appears in N preference lists, so N/11 of the keys gain one replica.
Hash mod n instead changes the coordinator of 10/11 ≈ 90.9% of the keys. With T
random tokens per node (strategy 1) the load of a node is a sum of T random arcs,
whose spread (standard deviation over mean) is about 1/√T.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from typing import Any

from dynamokv.spec import ring as spec_ring

from .._model import ExperimentContext, ExperimentReport, ExperimentRow

NODES_BEFORE = 10
N = 3
Q = 1024
KEYS = 100_000
SPREAD_NODES = 400
TOKENS_PER_NODE = (1, 4, 16, 64, 256)
MOVED_TOLERANCE_POINTS = 0.5
MODULO_TOLERANCE_POINTS = 1.0
KEYS_MOVED_TOLERANCE_POINTS = 1.0
SPREAD_TOLERANCE_RELATIVE = 0.2

_partition_of = getattr(spec_ring.partition_of, "__wrapped__", spec_ring.partition_of)
"""The project's partition_of without its contracts: the experiment groups 100,000 keys."""


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.2f}%"


def _row(quantity: str, measured: float, theory: float, tolerance_points: float) -> ExperimentRow:
    within = abs(measured - theory) * 100 <= tolerance_points
    return ExperimentRow(
        quantity,
        _percent(measured),
        _percent(theory),
        f"± {tolerance_points:g} points",
        within,
    )


def _lists_per_partition(
    preference_list: Callable[..., Any], ring: spec_ring.Ring, positions: Sequence[int]
) -> dict[int, tuple[str, ...]]:
    """The solution's preference list of each partition, at the first key seen in it."""
    lists: dict[int, tuple[str, ...]] = {}
    for position in positions:
        partition = _partition_of(position, Q)
        if partition not in lists:
            lists[partition] = tuple(preference_list(ring, position, N))
    return lists


def _spread(md5_position: Callable[[bytes], int], tokens: int, seed: int) -> float:
    """Standard deviation over mean of the nodes' shares of the ring, T random tokens each."""
    weights = {f"s{seed}-node{i}": tokens for i in range(SPREAD_NODES)}
    ring = spec_ring.random_tokens(weights, lambda data: md5_position(data) % spec_ring.RING_SIZE)
    share = dict.fromkeys(weights, 0)
    previous = ring[-1][0] - spec_ring.RING_SIZE
    for position, node in ring:
        share[node] += position - previous
        previous = position
    loads = list(share.values())
    return statistics.pstdev(loads) / statistics.fmean(loads)


def run(ctx: ExperimentContext) -> ExperimentReport:
    """Measure the join of an 11th node, hash mod n, and the load spread of strategy 1."""
    solution = ctx.solution
    md5_position = solution["md5_position"]
    keys = KEYS
    positions = [md5_position(b"s%d-key%d" % (ctx.seed, index)) for index in range(keys)]
    nodes = [f"n{i}" for i in range(1, NODES_BEFORE + 1)]
    before = spec_ring.assign_partitions(nodes, Q)
    after = spec_ring.join_partitions(before, f"n{NODES_BEFORE + 1}")
    ring_before = spec_ring.partition_ring(before)
    ring_after = spec_ring.partition_ring(after)
    lists_before = _lists_per_partition(solution["preference_list"], ring_before, positions)
    lists_after = _lists_per_partition(solution["preference_list"], ring_after, positions)
    first_position: dict[int, int] = {}
    for position in positions:
        first_position.setdefault(_partition_of(position, Q), position)
    moved_firsts = solution["keys_that_move"](
        ring_before, ring_after, list(first_position.values()), N
    )
    moved_partitions = {
        partition for partition, position in first_position.items() if position in moved_firsts
    }
    coordinator_changed = 0
    copies_moved = 0
    keys_moved = 0
    modulo_changed = 0
    for position in positions:
        partition = _partition_of(position, Q)
        old, new = lists_before[partition], lists_after[partition]
        coordinator_changed += old[0] != new[0]
        copies_moved += len(set(new) - set(old))
        keys_moved += partition in moved_partitions
        modulo_changed += position % NODES_BEFORE != position % (NODES_BEFORE + 1)
    s = NODES_BEFORE
    rows = [
        _row(
            "keys whose coordinator changes",
            coordinator_changed / keys,
            1 / (s + 1),
            MOVED_TOLERANCE_POINTS,
        ),
        _row(
            "replica copies moved", copies_moved / (keys * N), 1 / (s + 1), MOVED_TOLERANCE_POINTS
        ),
        _row(
            "keys that gain a replica (keys_that_move)",
            keys_moved / keys,
            N / (s + 1),
            KEYS_MOVED_TOLERANCE_POINTS,
        ),
        _row(
            "hash mod n: keys whose node changes",
            modulo_changed / keys,
            s / (s + 1),
            MODULO_TOLERANCE_POINTS,
        ),
    ]
    for tokens in TOKENS_PER_NODE:
        spread = _spread(md5_position, tokens, ctx.seed)
        theory = 1 / math.sqrt(tokens)
        rows.append(
            ExperimentRow(
                f"load spread, T={tokens} random tokens per node",
                f"{spread:.3f}",
                f"1/√T = {theory:.3f}",
                f"± {SPREAD_TOLERANCE_RELATIVE:.0%} of theory",
                abs(spread - theory) <= SPREAD_TOLERANCE_RELATIVE * theory,
            )
        )
    notes = (
        f"S = {s} nodes + 1, N = {N}, strategy 3 with Q = {Q} partitions, {keys:,} keys "
        f"(b'sSEED-keyI'), seed {ctx.seed}",
        f"load spread: {SPREAD_NODES} nodes with T tokens each (strategy 1), "
        "standard deviation over mean of their shares of the ring",
    )
    return ExperimentReport("add an 11th node to a 10-node cluster", tuple(rows), notes)
