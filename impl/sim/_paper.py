"""The Dynamo paper's own measurements of §6.2 and §6.3, reproduced from this code.

``dynamokv sim --preset fig8`` and ``--preset divergence`` print these.

* **§6.2, Figure 8**: load-balancing efficiency (the mean load of a node over the
  load of the hottest node) of the three partitioning strategies against the
  size of the membership metadata each node keeps, for S = 30 nodes and N = 3.
  The load of a node is the share of the key space it holds a replica of: with
  keys requested uniformly, that is its share of the requests. It is computed
  exactly, range by range, from each strategy's placement: strategy 1 (T random
  tokens per node, ranges between tokens), strategy 2 (T random tokens per node,
  Q equal partitions, each placed on the first N nodes clockwise from its end)
  and strategy 3 (Q equal partitions, Q/S per node, built by joining the 30
  nodes one by one through the join a cluster's admin command runs,
  preference lists from :class:`~dynamokv.impl.core.PartitionRing`). Metadata is counted in
  entries: S x T token positions for strategies 1 and 2, Q partition owners for
  strategy 3 (Dynamo §6.2 compares "the same amount of space to maintain their
  membership information").
* **§6.3**: how many versions a read sees in a shopping-cart workload, against
  the number of clients writing the same cart at once. Each client loops
  get, union of the siblings plus one item, put with the context (Dynamo §4.4),
  through a random node (a load balancer), on a fault-free simulated cluster of
  the request-path cores with (N, R, W) = (3, 2, 2). Divergence comes only from
  concurrent read-modify-writes racing, the cause Dynamo §6.3 names.
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dynamokv.impl.core import (
    GetRequest,
    GetResult,
    NodeConfig,
    PartitionRing,
    PutRequest,
    PutResult,
    Result,
    partitions,
)
from dynamokv.spec.kv import union_resolve
from dynamokv.spec.ring import RING_BITS, assign_partitions

from ._simulated_cluster import Cluster

__all__ = [
    "DIVERGENCE_WRITERS",
    "FIG8_METADATA_SIZES",
    "PAPER_VERSIONS_PER_READ",
    "DivergenceRow",
    "Fig8Row",
    "fig8_table",
    "load_efficiency",
    "measure_divergence",
    "print_divergence",
    "print_fig8",
    "strategy1_loads",
    "strategy2_loads",
    "strategy3_loads",
]

RING_SIZE = 1 << RING_BITS

FIG8_NODES = 30
"""S in Dynamo §6.2's experiment."""

FIG8_METADATA_SIZES = (480, 960, 1920, 3840, 7680, 15360, 30720)
"""Metadata entries per node compared (multiples of 30 and of 2**k, up to about
Figure 8's 35,000)."""

STRATEGY2_PARTITIONS_PER_TOKEN = 8
"""Strategy 2's Q is set to this many times S x T ("Q >> S*T", Dynamo §6.2)."""

DIVERGENCE_WRITERS = (1, 2, 3, 4, 8)
"""Concurrent writers per cart compared."""

PAPER_VERSIONS_PER_READ = {1: 0.9994, 2: 0.0000057, 3: 0.0000047, 4: 0.0000009}
"""Dynamo §6.3, 24 hours of the shopping cart service: the fraction of reads that saw
1, 2, 3 and 4 versions, as printed (99.94 %, 0.00057 %, 0.00047 %, 0.00009 %)."""


# -- §6.2, Figure 8 ----------------------------------------------------------------------


def load_efficiency(loads: dict[str, float]) -> float:
    """Dynamo §6.2: mean requests per node over the requests of the hottest node."""
    return (sum(loads.values()) / len(loads)) / max(loads.values())


def _random_tokens(
    nodes: Sequence[str], tokens_per_node: int, rng: random.Random
) -> list[tuple[int, str]]:
    ring = sorted(
        (rng.getrandbits(RING_BITS), node) for node in nodes for _ in range(tokens_per_node)
    )
    return ring


def _walk(ring: list[tuple[int, str]], start: int, n: int) -> tuple[str, ...]:
    """The first n distinct nodes clockwise from token index ``start``."""
    chosen: list[str] = []
    index = start
    while len(chosen) < n:
        node = ring[index % len(ring)][1]
        if node not in chosen:
            chosen.append(node)
        index += 1
    return tuple(chosen)


def strategy1_loads(
    nodes: Sequence[str], *, tokens_per_node: int, n: int, rng: random.Random
) -> dict[str, float]:
    """Strategy 1: each range between two tokens is held by the first N distinct nodes
    from its closing token clockwise (Dynamo §4.2, §4.3)."""
    ring = _random_tokens(nodes, tokens_per_node, rng)
    loads = dict.fromkeys(nodes, 0.0)
    for index, (position, _) in enumerate(ring):
        previous = ring[index - 1][0] if index else ring[-1][0] - RING_SIZE
        share = (position - previous) / RING_SIZE
        for node in _walk(ring, index, n):
            loads[node] += share
    return loads


def strategy2_loads(
    nodes: Sequence[str], *, tokens_per_node: int, q: int, n: int, rng: random.Random
) -> dict[str, float]:
    """Strategy 2: Q equal partitions, each on the first N distinct nodes clockwise
    from the partition's end (Dynamo §6.2)."""
    ring = _random_tokens(nodes, tokens_per_node, rng)
    positions = [position for position, _ in ring]
    loads = dict.fromkeys(nodes, 0.0)
    for partition in range(q):
        end = ((partition + 1) * RING_SIZE) // q
        start = bisect.bisect_left(positions, end) % len(ring)
        for node in _walk(ring, start, n):
            loads[node] += 1 / q
    return loads


def strategy3_loads(nodes: Sequence[str], *, q: int, n: int) -> dict[str, float]:
    """Strategy 3: Q equal partitions, Q/S per node, the nodes joined one by one."""
    assignment = assign_partitions(nodes[:1], q)
    for node in nodes[1:]:
        assignment = partitions.join(assignment, node)
    ring = PartitionRing(assignment, n=n)
    loads = dict.fromkeys(nodes, 0.0)
    for partition in range(q):
        for node in ring.partition_preference_list(partition):
            loads[node] += 1 / q
    return loads


@dataclass(frozen=True)
class Fig8Row:
    """Load-balancing efficiency at one metadata size (means over the seeds).

    Attributes:
        metadata_entries: entries each node keeps about the ring.
        tokens_per_node: T of strategies 1 and 2 (metadata / S).
        strategy2_partitions: Q of strategy 2.
        strategy1: efficiency of strategy 1.
        strategy2: efficiency of strategy 2.
        strategy3: efficiency of strategy 3 (Q = metadata).
        seeds: random token placements averaged for strategies 1 and 2.
    """

    metadata_entries: int
    tokens_per_node: int
    strategy2_partitions: int
    strategy1: float
    strategy2: float
    strategy3: float
    seeds: int


def fig8_table(
    *,
    sizes: Sequence[int] = FIG8_METADATA_SIZES,
    nodes: int = FIG8_NODES,
    n: int = 3,
    seeds: int = 5,
    seed: int = 1,
    on_row: Callable[[], None] | None = None,
) -> list[Fig8Row]:
    """Figure 8's curves: efficiency of the three strategies at each metadata size."""
    names = [f"node-{index:02d}" for index in range(nodes)]
    rows = []
    for size in sizes:
        tokens = max(1, size // nodes)
        q2 = STRATEGY2_PARTITIONS_PER_TOKEN * tokens * nodes
        one = two = 0.0
        for offset in range(seeds):
            rng = random.Random(seed * 1_000_003 + size * 101 + offset)
            one += load_efficiency(strategy1_loads(names, tokens_per_node=tokens, n=n, rng=rng))
            two += load_efficiency(
                strategy2_loads(names, tokens_per_node=tokens, q=q2, n=n, rng=rng)
            )
        three = load_efficiency(strategy3_loads(names, q=size, n=n))
        rows.append(Fig8Row(size, tokens, q2, one / seeds, two / seeds, three, seeds))
        if on_row is not None:
            on_row()
    return rows


def print_fig8(rows: Sequence[Fig8Row]) -> list[str]:
    """The Figure 8 table."""
    seeds = rows[0].seeds if rows else 0
    lines = [
        f"Dynamo §6.2 / Figure 8: load-balancing efficiency (mean load / hottest node), "
        f"S={FIG8_NODES}, N=3; strategies 1 and 2 averaged over {seeds} token placements",
        f"{'metadata entries':>16} {'T':>5} {'strategy 1':>11} {'strategy 2':>11} "
        f"{'(Q)':>8} {'strategy 3':>11}",
    ]
    for row in rows:
        lines.append(
            f"{row.metadata_entries:>16,} {row.tokens_per_node:>5} {row.strategy1:>11.3f} "
            f"{row.strategy2:>11.3f} {row.strategy2_partitions:>8,} {row.strategy3:>11.3f}"
        )
    lines.append(
        "strategy 1: T random tokens per node; strategy 2: T random tokens, Q equal "
        "partitions; strategy 3: Q/S tokens per node, Q equal partitions (Q = metadata)"
    )
    return lines


# -- §6.3, divergent versions ----------------------------------------------------------


@dataclass(frozen=True)
class DivergenceRow:
    """Versions seen by the reads of one run.

    Attributes:
        writers: clients writing each cart at once.
        carts: carts in the run.
        reads: successful gets that found the cart (its first read finds nothing).
        versions_seen: reads by the number of versions they returned.
        failed: requests that failed (expected 0: no faults).
        items_lost: cart items some client added and acknowledged that the final
            merged carts lack (expected 0: union never loses an item).
    """

    writers: int
    carts: int
    reads: int
    versions_seen: dict[int, int]
    failed: int
    items_lost: int

    def fraction(self, versions: int) -> float:
        """The fraction of reads that saw exactly ``versions`` versions."""
        return self.versions_seen.get(versions, 0) / self.reads if self.reads else 0.0


def measure_divergence(
    *,
    writers: int,
    carts: int = 50,
    rounds: int = 40,
    seed: int = 1,
    nodes: int = 5,
    think_ticks_max: int = 60,
) -> DivergenceRow:
    """Run ``writers`` clients per cart for ``rounds`` read-modify-writes each.

    Args:
        writers: clients writing each cart concurrently.
        carts: carts, each with its own clients.
        rounds: read-modify-writes per client.
        seed: the simulator's seed.
        nodes: cluster size.
        think_ticks_max: a client waits uniformly up to this long between rounds.
    """
    cluster = Cluster(nodes, seed=seed, config=NodeConfig(n=3, r=2, w=2), membership="static")
    rng = cluster.random
    names = cluster.names
    histogram: Counter[int] = Counter()
    failed = [0]
    acked_items: dict[bytes, set[bytes]] = {}
    remaining = [carts * writers]

    def client(cart: bytes, who: int) -> None:
        left = [rounds]

        def get() -> None:
            if left[0] == 0:
                remaining[0] -= 1
                return
            left[0] -= 1
            cluster.submit(rng.choice(names), GetRequest(cart), on_get)

        def on_get(result: Result) -> None:
            if not (isinstance(result, GetResult) and result.ok):
                failed[0] += 1
                cluster.call_at(cluster.now + 1 + rng.randrange(think_ticks_max), get)
                return
            if result.versions:  # a cart's first read finds nothing: not a version count
                histogram[len(result.versions)] += 1
            values = [v.value for v in result.versions if v.value is not None]
            item = b"item-%d-%d" % (who, left[0])
            value = union_resolve([*values, item])
            cluster.submit(
                rng.choice(names),
                PutRequest(cart, value, result.context),
                lambda reply: on_put(reply, item),
            )

        def on_put(result: Result, item: bytes) -> None:
            if isinstance(result, PutResult) and result.ok:
                acked_items.setdefault(cart, set()).add(item)
            else:
                failed[0] += 1
            cluster.call_at(cluster.now + 1 + rng.randrange(think_ticks_max), get)

        cluster.call_at(cluster.now + rng.randrange(think_ticks_max + 1), get)

    for index in range(carts):
        for who in range(writers):
            client(b"cart-%d" % index, who)
    cluster.run(stop=lambda: remaining[0] == 0)
    cluster.run(until=cluster.now + 200)
    items_lost = 0
    for cart, items in acked_items.items():
        held: set[bytes] = set()
        for versions in cluster.holders(cart).values():
            for version in versions:
                if version.value is not None:
                    held.update(union_resolve([version.value]).split(b"\n"))
        items_lost += len(items - held)
    return DivergenceRow(
        writers=writers,
        carts=carts,
        reads=sum(histogram.values()),
        versions_seen=dict(histogram),
        failed=failed[0],
        items_lost=items_lost,
    )


def print_divergence(rows: Sequence[DivergenceRow]) -> list[str]:
    """The §6.3 table: the paper's distribution, then ours against concurrent writers."""
    columns = range(1, 5)
    lines = [
        "Dynamo §6.3: versions a read sees, shopping-cart workload, (N,R,W)=(3,2,2), no faults",
        f"{'':26}"
        + "".join(f"{f'{k} version' + ('s' if k > 1 else ''):>12}" for k in columns)
        + f"{'5+':>8} {'reads':>8}",
        f"{'Dynamo §6.3 (24 h, cart)':26}"
        + "".join(f"{PAPER_VERSIONS_PER_READ[k]:>12.5%}" for k in columns),
    ]
    for row in rows:
        more = sum(c for k, c in row.versions_seen.items() if k >= 5) / max(1, row.reads)
        label = f"{row.writers} writer{'s' if row.writers > 1 else ''} per cart"
        lines.append(
            f"{label:26}"
            + "".join(f"{row.fraction(k):>12.3%}" for k in columns)
            + f"{more:>8.3%} {row.reads:>8,}"
        )
    lost = sum(row.items_lost for row in rows)
    failed = sum(row.failed for row in rows)
    lines.append(
        f"acknowledged cart items lost after union merges: {lost}; failed requests: {failed}"
    )
    return lines
