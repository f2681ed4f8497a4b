"""Gossip alone, simulated: how many rounds until everyone knows (Dynamo §4.8, property 6).

The contract promises that gossip converges in O(log n) rounds (property 6). This
module measures it by driving n :class:`~dynamokv.impl.core._gossip.GossipMembership`
cores, and nothing else, under one seed: a simulated network with a one-tick
latency and optional message loss, ticks of simulated time, no trio, no clock.
The same seed gives the same run, message for message (:attr:`GossipRun.trace_digest`).

One run has four phases, each timed in gossip rounds (periods) from its start:

1. **cold start**: every node knows only itself and the seed nodes (and the
   bootstrap ring); until every view lists all n members;
2. **a join announced**: a new node starts with status ``joining`` and the seeds;
   until every view lists it;
3. **a ring change**: an administrator runs ``request_join`` for it on a random
   node (Dynamo §4.8.1); until every view has adopted the new ring version;
4. **a crash**: one node stops; until every live view suspects it (phi accrual).

Along the way it counts *false suspicions*: a live node suspected by anyone.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dynamokv.impl.core import DEFAULT_SEAMS, Seams
from dynamokv.impl.core._gossip import (
    GossipConfig,
    GossipEffect,
    GossipMembership,
    GossipMessage,
    GossipPacket,
    GossipSyn,
    RingState,
    SuspicionChanged,
)
from dynamokv.spec.errors import ArgumentError, DynamoKVError
from dynamokv.spec.ring import DEFAULT_PARTITION_COUNT, assign_partitions

from ._measurements import measure_repair_traffic, q1_table

__all__ = ["ConvergenceRow", "GossipRun", "convergence_table", "main", "run_gossip"]


@dataclass(frozen=True)
class GossipRun:
    """The measurements of one seeded run.

    Attributes:
        nodes: n, the nodes at cold start (one more joins).
        seed: the run's seed.
        membership_rounds: cold start until every view has all n members.
        join_visible_rounds: a joining node's start until every view lists it.
        ring_rounds: an admin's ring change until every view adopted it.
        detection_rounds: a crash until every live view suspects the crashed node.
        false_suspicions: times a live node was suspected by some view.
        messages: gossip messages sent in the whole run.
        trace_digest: SHA-256 over every delivered message, for replay checks.
    """

    nodes: int
    seed: int
    membership_rounds: int
    join_visible_rounds: int
    ring_rounds: int
    detection_rounds: int
    false_suspicions: int
    messages: int
    trace_digest: str


def _trace_line(tick: int, destination: str, message: GossipMessage) -> bytes:
    # What identifies a delivery, cheaply: repr() of a ring of 16,384 owners is not cheap.
    if isinstance(message, GossipSyn):
        body = ",".join(f"{d.node_id}:{d.generation}:{d.heartbeat}" for d in message.digests)
        return f"{tick}|{destination}|syn|{message.sender}|{body}|{message.ring_version}".encode()
    ring = message.ring.version if message.ring is not None else -1
    body = ",".join(f"{e.node_id}:{e.generation}:{e.heartbeat}:{e.status}" for e in message.entries)
    kind = type(message).__name__
    return f"{tick}|{destination}|{kind}|{message.sender}|{body}|{ring}".encode()


class _GossipNetwork:
    """The nodes, a latency queue and a seeded loss model."""

    def __init__(
        self, *, seed: int, loss: float, config: GossipConfig, seams: Seams = DEFAULT_SEAMS
    ) -> None:
        self.config = config
        self.seams = seams
        self.loss = loss
        self.net_rng = random.Random(f"gossip-net/{seed}")
        self.seed = seed
        self.views: dict[str, GossipMembership] = {}
        self.crashed: set[str] = set()
        self.queue: list[tuple[int, int, str, GossipMessage]] = []
        self.sequence = 0
        self.tick = 0
        self.messages = 0
        self.false_suspicions = 0
        self.trace = hashlib.sha256()

    def add(
        self, node_id: str, seeds: dict[str, str], *, status: str, ring: RingState | None
    ) -> None:
        self.views[node_id] = GossipMembership(
            node_id,
            f"sim://{node_id}",
            generation=1,
            seeds=seeds,
            rng=random.Random(f"gossip-node/{self.seed}/{node_id}"),
            config=self.config,
            status="normal" if status == "normal" else "joining",
            ring=ring,
            now=self.tick,
            merge_rule=self.seams.merge_entries,
            choose_peer=self.seams.choose_gossip_peer,
            phi_rule=self.seams.phi_of_silence,
        )

    def handle(self, effects: Iterable[GossipEffect]) -> None:
        for effect in effects:
            if isinstance(effect, GossipPacket):
                self.messages += 1
                if self.loss and self.net_rng.random() < self.loss:
                    continue
                self.sequence += 1
                item = (self.tick + 1, self.sequence, effect.dst, effect.body)
                heapq.heappush(self.queue, item)
            elif (
                isinstance(effect, SuspicionChanged)
                and effect.suspected
                and effect.node_id not in self.crashed
            ):
                self.false_suspicions += 1

    def step(self) -> None:
        while self.queue and self.queue[0][0] <= self.tick:
            _, _, destination, message = heapq.heappop(self.queue)
            if destination in self.crashed or destination not in self.views:
                continue
            self.trace.update(_trace_line(self.tick, destination, message))
            self.handle(self.views[destination].receive(message, self.tick))
        for node_id, view in self.views.items():
            if node_id not in self.crashed:
                self.handle(view.tick(self.tick))
        self.tick += 1

    def rounds_until(self, done: Callable[[], bool], *, rounds_max: int) -> int:
        """Step until ``done()``; the elapsed time in gossip periods, rounded up."""
        start = self.tick
        period = self.config.gossip_period_ticks
        while not done():
            if self.tick - start > rounds_max * period:
                raise DynamoKVError(f"gossip did not converge in {rounds_max} rounds")
            self.step()
        return math.ceil((self.tick - start) / period)

    def live(self) -> list[GossipMembership]:
        return [view for node_id, view in self.views.items() if node_id not in self.crashed]


def run_gossip(
    nodes: int,
    *,
    seed: int,
    loss: float = 0.0,
    seed_count: int = 2,
    partition_count: int = DEFAULT_PARTITION_COUNT,
    config: GossipConfig | None = None,
    rounds_max: int = 200,
    seams: Seams = DEFAULT_SEAMS,
) -> GossipRun:
    """Run the four phases for ``nodes`` nodes under ``seed``; see the module docstring.

    Args:
        nodes: cluster size n at cold start (at least 2).
        seed: everything random derives from it.
        loss: probability that the network drops a message.
        seed_count: how many of the nodes are seeds (Dynamo §4.8.2).
        partition_count: Q of the bootstrap ring.
        config: gossip parameters (its ``partition_count`` is overridden).
        rounds_max: a phase that takes longer raises ``RuntimeError``.
        seams: the gossip rules every view uses (a lab's learner code, a planted bug).
    """
    if nodes < 2 or not 0.0 <= loss < 1.0 or seed_count < 1:
        raise ArgumentError("run_gossip: need nodes >= 2, 0 <= loss < 1, seed_count >= 1")
    base = config if config is not None else GossipConfig()
    config = GossipConfig(
        gossip_period_ticks=base.gossip_period_ticks,
        members_max=base.members_max,
        digest_entries_max=base.digest_entries_max,
        partition_count=partition_count,
        pending_changes_max=base.pending_changes_max,
        change_watch_ticks=base.change_watch_ticks,
        phi=base.phi,
    )
    network = _GossipNetwork(seed=seed, loss=loss, config=config, seams=seams)
    ids = [f"n{index:03d}" for index in range(nodes)]
    seeds = {node_id: f"sim://{node_id}" for node_id in ids[:seed_count]}
    bootstrap = RingState(1, "bootstrap", assign_partitions(ids, partition_count))
    for node_id in ids:
        network.add(node_id, seeds, status="normal", ring=bootstrap)

    membership_rounds = network.rounds_until(
        lambda: all(len(view.members) == nodes for view in network.views.values()),
        rounds_max=rounds_max,
    )

    newcomer = f"n{nodes:03d}"
    network.add(newcomer, seeds, status="joining", ring=None)
    join_visible_rounds = network.rounds_until(
        lambda: all(newcomer in view.members for view in network.views.values()),
        rounds_max=rounds_max,
    )

    admin = network.views[ids[random.Random(f"gossip-admin/{seed}").randrange(nodes)]]
    network.handle(admin.request_join(newcomer, network.tick))
    version = admin.ring.version
    ring_rounds = network.rounds_until(
        lambda: all(view.ring.version == version for view in network.views.values()),
        rounds_max=rounds_max,
    )

    # Let the detectors learn the rhythm of the converged cluster, then crash a node.
    for _ in range(10 * config.gossip_period_ticks):
        network.step()
    victim = ids[-1]
    network.crashed.add(victim)
    detection_rounds = network.rounds_until(
        lambda: all(view.is_suspected(victim, network.tick) for view in network.live()),
        rounds_max=rounds_max,
    )
    return GossipRun(
        nodes=nodes,
        seed=seed,
        membership_rounds=membership_rounds,
        join_visible_rounds=join_visible_rounds,
        ring_rounds=ring_rounds,
        detection_rounds=detection_rounds,
        false_suspicions=network.false_suspicions,
        messages=network.messages,
        trace_digest=network.trace.hexdigest(),
    )


@dataclass(frozen=True)
class ConvergenceRow:
    """One line of the convergence table: n nodes over several seeds.

    Attributes:
        nodes: n.
        runs: seeds run.
        membership_rounds_mean: mean rounds until every view has every member.
        membership_rounds_max: the worst seed.
        ring_rounds_mean: mean rounds until a ring change reached every view.
        ring_rounds_max: the worst seed.
        detection_rounds_mean: mean rounds until a crashed node is suspected by all.
        false_suspicions: total over the seeds (should be 0).
        log2_nodes: log2(n), the O(log n) yardstick.
    """

    nodes: int
    runs: int
    membership_rounds_mean: float
    membership_rounds_max: int
    ring_rounds_mean: float
    ring_rounds_max: int
    detection_rounds_mean: float
    false_suspicions: int
    log2_nodes: float


def convergence_table(
    sizes: Sequence[int] = (8, 32, 128, 256),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    *,
    loss: float = 0.0,
    partition_count: int = DEFAULT_PARTITION_COUNT,
) -> list[ConvergenceRow]:
    """Run :func:`run_gossip` for every size and seed; one row per size."""
    rows = []
    for size in sizes:
        runs = [
            run_gossip(size, seed=seed, loss=loss, partition_count=partition_count)
            for seed in seeds
        ]
        rows.append(
            ConvergenceRow(
                nodes=size,
                runs=len(runs),
                membership_rounds_mean=sum(r.membership_rounds for r in runs) / len(runs),
                membership_rounds_max=max(r.membership_rounds for r in runs),
                ring_rounds_mean=sum(r.ring_rounds for r in runs) / len(runs),
                ring_rounds_max=max(r.ring_rounds for r in runs),
                detection_rounds_mean=sum(r.detection_rounds for r in runs) / len(runs),
                false_suspicions=sum(r.false_suspicions for r in runs),
                log2_nodes=math.log2(size),
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Print the membership measurements: ``python -m dynamokv.impl.sim._gossip_sim``.

    The gossip convergence table, the Q1 table and the Merkle repair traffic, as
    quoted in the membership and anti-entropy docs pages.
    """
    parser = argparse.ArgumentParser(prog="python -m dynamokv.impl.sim._gossip_sim")
    parser.add_argument("--sizes", default="8,32,128,256", help="cluster sizes (comma-separated)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per size")
    parser.add_argument("--loss", type=float, default=0.0, help="message loss probability")
    parser.add_argument(
        "--only", choices=("convergence", "q1", "merkle"), help="print one table only"
    )
    args = parser.parse_args(argv)
    if args.only in (None, "convergence"):
        sizes = [int(size) for size in args.sizes.split(",")]
        print(f"gossip convergence, {args.seeds} seeds per size, loss {args.loss:.0%}")
        print("nodes  membership mean/max  ring change mean/max  detection  false  log2(n)")
        for row in convergence_table(sizes, range(args.seeds), loss=args.loss):
            print(
                f"{row.nodes:5d}  {row.membership_rounds_mean:12.1f} /{row.membership_rounds_max:3d}"
                f"  {row.ring_rounds_mean:13.1f} /{row.ring_rounds_max:3d}"
                f"  {row.detection_rounds_mean:9.1f}  {row.false_suspicions:5d}"
                f"  {row.log2_nodes:7.1f}"
            )
    if args.only in (None, "q1"):
        print("Q1: add an 11th node to 10")
        for q1 in q1_table():
            print(
                f"{q1.scheme:32} {q1.sample:>16}  copies moved {q1.copies_moved_fraction:7.2%}"
                f"  coordinators changed {q1.coordinators_changed_fraction:7.2%}"
            )
    if args.only in (None, "merkle"):
        print("Merkle repair: 100,000 keys, 100 divergent, 100-byte values")
        for depth, partitions in ((10, 1), (14, 1), (6, 1024), (4, 16384)):
            traffic = measure_repair_traffic(depth=depth, partition_count=partitions)
            print(
                f"partitions {partitions:5d} depth {depth:2d}: repaired {traffic.keys_repaired}"
                f"  hashes {traffic.nodes_exchanged:6d}  merkle {traffic.merkle_bytes:9,d} B"
                f"  repair {traffic.repair_bytes:9,d} B  full copy {traffic.full_copy_bytes:,d} B"
                f"  = {traffic.fraction:.2%}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
