"""Measured answers to the interview questions, from whole simulated clusters.

``dynamokv sim --preset q1|q4|gossip`` runs these. Each drives complete
:class:`~dynamokv.impl.core.Node` s in the deterministic simulator, so the
numbers come from data actually moving between simulated nodes, not from
arithmetic on assignments (which :func:`~dynamokv.impl.sim._measurements.q1_table` and
:func:`~dynamokv.impl.sim._gossip_sim.convergence_table` do, and which the
tables print beside the measurement).

* **Q1** ("add an 11th node to a 10-node cluster: what fraction of the keys
  moves?", Dynamo §4.8.1, §6.2): load keys through the request path, join an
  11th node by admin command, let the partition transfers finish, and count the
  replica copies the transfers delivered, against the copies stored.
* **Q4** ("a node was down for 3 hours: how does it catch up?", Dynamo §4.6,
  §4.7): five nodes, one down for 3 simulated hours under a steady write load
  with a small hint bound, a substitute whose hints are lost with its disk's
  hint volume; then the node returns, hints replay, and Merkle anti-entropy
  repairs the rest until every replica is identical.
* **gossip**: the convergence table for 8 to 256 nodes (Dynamo §4.8), from
  :mod:`~dynamokv.impl.sim._gossip_sim` (gossip views alone: a 256-node cluster
  of full nodes would measure the same epidemic, slower).

A tick stands for 100 ms here (the gossip period is 10 ticks: 1 s).
"""

from __future__ import annotations

from dataclasses import dataclass

from dynamokv.errors import DynamoKVError
from dynamokv.impl.core import (
    DEFAULT_SEAMS,
    MemberConfig,
    NodeConfig,
    PutRequest,
    PutResult,
    Result,
    Seams,
    Version,
)
from dynamokv.impl.core import versions as _versions

from ._ladder import render_ladder
from ._measurements import q1_table
from ._simulated_cluster import Cluster, NetworkConfig

__all__ = [
    "PRESETS",
    "Q1Measurement",
    "Q4Measurement",
    "measure_q1",
    "measure_q4",
    "print_gossip",
    "print_q1",
    "print_q4",
]

PRESETS = ("q1", "q4", "gossip")
"""The presets ``dynamokv sim --preset`` accepts."""

TICKS_PER_SECOND = 10
"""Simulated ticks per second in the presets (gossip period 10 ticks = 1 s)."""


@dataclass(frozen=True)
class Q1Measurement:
    """What joining one node moved, measured in the simulator.

    Attributes:
        nodes_before: S.
        keys: keys written before the join.
        copies_before: replica copies stored before the join (about keys x N).
        copies_moved: replica copies the transfers delivered and the newcomer holds.
        copies_to_others: copies delivered to any node but the newcomer (0: only
            partitions that change owner move, and only to it).
        keys_coordinator_changed: keys whose first owner (coordinator) changed.
        partitions_changed: partitions whose preference list changed.
        partitions: Q.
        ticks: simulated ticks from the join until every transfer finished.
    """

    nodes_before: int
    keys: int
    copies_before: int
    copies_moved: int
    copies_to_others: int
    keys_coordinator_changed: int
    partitions_changed: int
    partitions: int
    ticks: int

    @property
    def copies_moved_fraction(self) -> float:
        """Replica copies moved / copies stored before."""
        return self.copies_moved / self.copies_before

    @property
    def coordinators_changed_fraction(self) -> float:
        """Keys whose coordinator changed / keys."""
        return self.keys_coordinator_changed / self.keys


def _drive(cluster: Cluster, done: list[Result], count: int, limit_ticks: int) -> None:
    deadline = cluster.now + limit_ticks
    while len(done) < count and cluster.now < deadline:
        cluster.run(until=cluster.now + 10)


def measure_q1(
    *, nodes: int = 10, keys: int = 20_000, q: int = 1024, seed: int = 1
) -> Q1Measurement:
    """Write ``keys`` keys to ``nodes`` nodes, join one more, measure what moved.

    Anti-entropy is off, so every copy the newcomer holds came by partition transfer.
    """
    member = MemberConfig(anti_entropy_enabled=False, transfers_in_flight_max=16)
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=2, disk_delay_ticks_max=1)
    cluster = Cluster(
        nodes,
        seed=seed,
        config=NodeConfig(w=3),
        q=q,
        network=network,
        membership="gossip",
        member_config=member,
        spares=1,
    )
    cluster.run(until=50)
    done: list[Result] = []
    names = cluster.initial
    batch = 500
    for start in range(0, keys, batch):
        for index in range(start, min(keys, start + batch)):
            key = b"key-%d" % index
            cluster.submit(names[index % len(names)], PutRequest(key, b"v%d" % index), done.append)
        _drive(cluster, done, min(keys, start + batch), 2000)
    failed = sum(1 for result in done if not result.ok)
    if failed or len(done) < keys:
        raise DynamoKVError(f"q1: {failed + keys - len(done)} of {keys} loading puts failed")
    cluster.run(until=cluster.now + 50)
    before = cluster.ring
    all_keys = [b"key-%d" % index for index in range(keys)]
    copies_before = sum(
        1 for name in names for key in all_keys if cluster.disks[name].synced_versions(key)
    )
    newcomer = cluster.names[-1]
    cluster.restart(newcomer)
    cluster.run(until=cluster.now + 60)
    if not cluster.join(newcomer, via=names[0]):
        raise DynamoKVError("q1: the newcomer was not known to the seed by gossip")
    joined_at = cluster.now
    for _ in range(400):
        cluster.run(until=cluster.now + 20)
        live = [n for n in cluster.nodes.values() if (n is not None and n.gossip_mode)]
        if all(
            n.ring_state.version == 2
            and not n.transfers_in_flight
            and not n.holds_data_it_does_not_own()
            for n in live
        ):
            break
    cluster.run(until=cluster.now + 20)
    after = cluster.ring
    moved = sum(1 for key in all_keys if cluster.disks[newcomer].synced_versions(key))
    copies_after = sum(
        1 for name in cluster.names for key in all_keys if cluster.disks[name].synced_versions(key)
    )
    return Q1Measurement(
        nodes_before=nodes,
        keys=keys,
        copies_before=copies_before,
        copies_moved=moved,
        copies_to_others=copies_after - copies_before,
        keys_coordinator_changed=sum(
            1 for key in all_keys if before.preference_list(key)[0] != after.preference_list(key)[0]
        ),
        partitions_changed=sum(
            1
            for p in range(q)
            if before.partition_preference_list(p) != after.partition_preference_list(p)
        ),
        partitions=q,
        ticks=cluster.now - joined_at,
    )


def print_q1(measurement: Q1Measurement) -> list[str]:
    """The Q1 table: the simulator's measurement, then the arithmetic of ``q1_table``."""
    m = measurement
    lines = [
        f"Q1: add an 11th node to {m.nodes_before} (N=3, Q={m.partitions}), "
        f"{m.keys:,} keys written first",
        f"{'scheme':48} {'replica copies moved':>21} {'coordinators changed':>21}",
        f"{'simulator: partition transfer, measured':48} "
        f"{m.copies_moved_fraction:>21.2%} {m.coordinators_changed_fraction:>21.2%}",
    ]
    for row in q1_table(nodes_before=m.nodes_before, q=m.partitions):
        scheme = f"{row.scheme} ({row.sample})"
        lines.append(
            f"{scheme:48} {row.copies_moved_fraction:>21.2%} "
            f"{row.coordinators_changed_fraction:>21.2%}"
        )
    lines += [
        f"theory 1/{m.nodes_before + 1} = {1 / (m.nodes_before + 1):.2%}",
        f"copies moved {m.copies_moved:,} of {m.copies_before:,}; copies sent to nodes other "
        f"than the newcomer: {m.copies_to_others}; partitions whose preference list "
        f"changed: {m.partitions_changed} of {m.partitions}; transfers took "
        f"{m.ticks / TICKS_PER_SECOND:.1f} simulated s",
    ]
    return lines


@dataclass(frozen=True)
class Q4Measurement:
    """What a node's 3-hour absence cost and how it caught up.

    Attributes:
        down_ticks: how long the node was down.
        writes: puts acknowledged while it was down.
        hints_stored: hints substitutes stored for it (and others).
        hints_refused: hints refused at the hint bound (``hints_count_max``).
        hints_lost: hints lost with the crashed substitute's hint volume.
        hints_replayed: hints handed off after it returned.
        keys_repaired: keys whose versions a Merkle repair changed after it returned.
        convergence_ticks: from its restart until every replica is identical.
        identical: every partition's owners hold identical version sets.
        deliveries: messages delivered in the whole run.
        acknowledged_lost: acknowledged versions some owner lacks at the end (0).
        violations: what the simulator's own checks reported (a hint deleted before its
            owner held it durably, a core invariant), and each lost acknowledged version.
        ladder: the traced key's messages as a ladder diagram (when one was traced).
        hints_pending_at_return: hints substitutes held when the node came back.
        keys_missed: keys the node owns that were written while it was down.
        keys_in_hints: those of them that a hint held for it when it came back.
    """

    down_ticks: int
    writes: int
    hints_stored: int
    hints_refused: int
    hints_lost: int
    hints_replayed: int
    keys_repaired: int
    convergence_ticks: int
    identical: bool
    deliveries: int
    acknowledged_lost: int = 0
    violations: tuple[str, ...] = ()
    ladder: str = ""
    hints_pending_at_return: int = 0
    keys_missed: int = 0
    keys_in_hints: int = 0


Q4_DOWN_TICKS = 3 * 3600 * TICKS_PER_SECOND
"""Three simulated hours."""


def _roots_agree(cluster: Cluster, partition: int) -> bool:
    roots = set()
    for owner in cluster.ring.partition_preference_list(partition):
        node = cluster.nodes[owner]
        if node is not None and node.gossip_mode:
            roots.add(node.root(partition))
    return len(roots) <= 1


def _all_replicas_identical(cluster: Cluster, keys: list[bytes]) -> bool:
    return all(len(set(cluster.holders(key).values())) == 1 for key in keys)


def measure_q4(
    *,
    seed: int = 1,
    down_ticks: int = Q4_DOWN_TICKS,
    write_interval_ticks: int = 50,
    keys: int = 1000,
    hints_count_max: int = 100,
    seams: Seams = DEFAULT_SEAMS,
    trace_key: bytes | None = None,
) -> Q4Measurement:
    """The Q4 story on five nodes; see the module docstring.

    ``seams`` replaces decisions of every node (a lab measures its learner's handoff
    and Merkle walk); ``trace_key``'s messages are drawn as a ladder diagram.
    """
    config = NodeConfig(hints_count_max=hints_count_max)
    cluster = Cluster(
        5,
        seed=seed,
        config=config,
        q=256,
        membership="gossip",
        seams=seams,
        trace_key=trace_key,
    )
    rng = cluster.random
    victim = "n5"
    key_names = [b"cart-%04d" % index for index in range(keys)]
    contexts: dict[bytes, tuple[tuple[str, int], ...]] = {}
    acked: list[int] = [0]
    acknowledged: list[tuple[bytes, Version]] = []

    def write() -> None:
        if cluster.now >= stop_writes:
            return
        key = key_names[rng.randrange(keys)]
        via = rng.choice([n for n in cluster.members() if cluster.is_up(n)])

        def on_reply(result: Result, key: bytes = key) -> None:
            if isinstance(result, PutResult) and result.ok and result.version is not None:
                acked[0] += 1
                acknowledged.append((key, result.version))
                contexts[key] = _versions.context_of((result.version,))

        value = b"item-%d" % cluster.now
        cluster.submit(via, PutRequest(key, value, contexts.get(key, ())), on_reply)
        cluster.call_at(cluster.now + write_interval_ticks, write)

    cluster.run(until=100)
    down_at = cluster.now
    stop_writes = down_at + down_ticks
    cluster.crash(victim)
    cluster.call_at(cluster.now + 1, write)
    hints_lost = [0]

    def lose_substitute() -> None:
        # The substitute with the most hints crashes, and its hint volume with it.
        holders = [
            (len(node.hints), name)
            for name, node in cluster.nodes.items()
            if node is not None and name != victim
        ]
        _, name = max(holders)
        cluster.crash(name)
        hints_lost[0] = cluster.disks[name].lose_hints()
        cluster.call_at(cluster.now + 600, lambda: cluster.restart(name))

    cluster.call_at(down_at + down_ticks // 2, lose_substitute)
    cluster.run(until=stop_writes)
    writes = acked[0]
    cluster.run(until=cluster.now + 200)
    base = cluster.node_stats()
    member_base = cluster.member_stats()
    restarted_at = cluster.now
    pending_at_return = cluster.hints_pending()
    missed = {key for key, _ in acknowledged if victim in cluster.ring.preference_list(key)}
    in_hints = {
        hint.key
        for node in cluster.nodes.values()
        if node is not None
        for hint in node.hints
        if hint.owner == victim
    }
    cluster.restart(victim)
    identical = False
    while cluster.now < restarted_at + 36_000:
        cluster.run(until=cluster.now + 10)
        if (
            not cluster.hints_pending()
            and all(_roots_agree(cluster, p) for p in range(cluster.q))
            and _all_replicas_identical(cluster, key_names)
        ):
            identical = True
            break
    converged = cluster.now - restarted_at
    lost = [
        (key, version)
        for key, version in acknowledged
        if not all(cluster.covered(key, held, version) for held in cluster.holders(key).values())
    ]
    final = cluster.node_stats()
    member_final = cluster.member_stats()
    return Q4Measurement(
        down_ticks=down_ticks,
        writes=writes,
        hints_stored=base.hints_stored,
        hints_refused=base.hints_refused,
        hints_lost=hints_lost[0],
        hints_replayed=final.hints_replayed - base.hints_replayed,
        keys_repaired=member_final.keys_repair_applied - member_base.keys_repair_applied,
        convergence_ticks=converged,
        identical=identical,
        deliveries=cluster.stats.deliveries,
        acknowledged_lost=len(lost),
        violations=(
            *cluster.violations,
            *(
                f"acknowledged {version.dot} of {key!r} missing at an owner"
                for key, version in lost
            ),
        ),
        ladder=render_ladder(cluster.trace, cluster.names) if trace_key is not None else "",
        hints_pending_at_return=pending_at_return,
        keys_missed=len(missed),
        keys_in_hints=len(in_hints & missed),
    )


def print_q4(measurement: Q4Measurement) -> list[str]:
    """The Q4 report: what was missed, and how it was caught up."""
    m = measurement
    seconds = m.convergence_ticks / TICKS_PER_SECOND
    return [
        f"Q4: 5 nodes, n5 down for {m.down_ticks / TICKS_PER_SECOND / 3600:.1f} simulated hours "
        f"under a steady write load, then back",
        f"  writes acknowledged while n5 was down   {m.writes:>8,}",
        f"  hints stored by substitutes             {m.hints_stored:>8,}",
        f"  hints refused at the hint bound         {m.hints_refused:>8,}",
        f"  hints lost with a crashed substitute    {m.hints_lost:>8,}",
        f"  hints replayed after n5 returned        {m.hints_replayed:>8,}",
        f"  keys repaired by Merkle anti-entropy    {m.keys_repaired:>8,}",
        f"  time to convergence (simulated)         {seconds:>8.1f} s",
        f"  every replica identical afterwards      {'yes' if m.identical else 'NO':>8}",
        f"  messages delivered in the run           {m.deliveries:>8,}",
    ]


def print_gossip(*, seeds: int = 5) -> list[str]:
    """The gossip convergence table (rounds = gossip periods) for 8 to 256 nodes."""
    from ._gossip_sim import convergence_table

    lines = [
        f"gossip convergence, {seeds} seeds per size (rounds = gossip periods)",
        "nodes  membership mean/max  ring change mean/max  detection  false  log2(n)",
    ]
    for row in convergence_table((8, 32, 128, 256), range(seeds)):
        lines.append(
            f"{row.nodes:5d}  {row.membership_rounds_mean:12.1f} /{row.membership_rounds_max:3d}"
            f"  {row.ring_rounds_mean:13.1f} /{row.ring_rounds_max:3d}"
            f"  {row.detection_rounds_mean:9.1f}  {row.false_suspicions:5d}"
            f"  {row.log2_nodes:7.1f}"
        )
    return lines
