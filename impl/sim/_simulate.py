"""One seeded run: a workload, faults, quiescence, repair and the checkers.

A run has three phases:

1. **Faults.** ``clients`` concurrent clients issue ``ops`` requests to random
   nodes (a load balancer, Dynamo §4.5) over keys drawn from a zipfian
   distribution. Most requests are shopping-cart read-modify-writes: get the
   cart, merge its siblings with :func:`dynamokv.spec.kv.union_resolve`, add an
   item, put it back with the context; some are blind puts with the client's
   last context, plain gets and deletes. Meanwhile the chosen faults strike:
   crashes and restarts, symmetric and asymmetric partitions, message drops,
   duplicates and reordering.
   With ``churn``, nodes also join and leave by explicit admin commands (Dynamo
   §4.8.1) while the workload runs: a spare node starts, announces itself by
   gossip and is joined through a ring member; a member is asked to leave, hands
   its partitions off, marks itself ``left`` and may later rejoin.
2. **Quiescence.** Faults stop, partitions heal, every node restarts, and the
   cluster runs until every hint is handed off (property 5, bounded by
   ``drain_ticks_max``).
3. **Repair.** With ``membership="gossip"`` (the default) nothing is done by the
   checker: gossip spreads the last ring, transfers finish, and Merkle
   anti-entropy repairs the replicas until every partition's owners have equal
   roots, within ``converge_ticks_max`` (property 5); property 6 holds transfers
   to the owners of the ring they were computed under and the ring's spread to a
   gossip bound. With ``tombstone_grace_ticks`` set the nodes reap deleted keys, and
   property 7 holds that no deleted value comes back: no get begun after a reap returns
   a value the reaped tombstone had deleted, and no owner holds one at rest; and that
   deletes are forgotten: once the cluster has converged, no node holds a key's
   tombstones past the grace period and ``REAP_ROUNDS_MAX`` reaping rounds (a tombstone
   that comes back after its reap, from a replayed hint or a repair, is reaped again).
   With ``membership="static"`` (no anti-entropy) repair is a get with R = N of every
   key, whose read repair brings every owner up to date.
   Then the checkers of :mod:`~dynamokv.impl.sim._checkers` run.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
from dataclasses import dataclass, field

from dynamokv.impl.core import (
    DEFAULT_SEAMS,
    GetRequest,
    GetResult,
    MemberConfig,
    NodeConfig,
    NodeStats,
    PutRequest,
    PutResult,
    Result,
    Seams,
    Version,
    covers,
)
from dynamokv.spec.errors import ArgumentError, InvariantError
from dynamokv.spec.kv import union_resolve

from ._checkers import History, OpRecord
from ._planted import PLANTED_BUGS
from ._simulated_cluster import Cluster, NetworkConfig
from ._store_disk import StoreDisk

__all__ = [
    "DEFAULT_FAULTS",
    "FAULTS",
    "STORAGES",
    "SimConfig",
    "SimReport",
    "read_your_writes_checked",
    "simulate",
]

FAULTS = ("crash", "partition", "drop", "dup", "reorder", "churn")
"""The fault kinds ``--faults`` accepts (``churn``: joins and leaves, gossip only)."""

DEFAULT_FAULTS = ("crash", "partition", "drop", "dup", "reorder")
"""What a run injects unless told otherwise (churn is opt-in: it is slower)."""

RING_ROUNDS_PER_LOG2_MAX = 6
"""Property 6's bound: after faults stop, the newest ring reaches every live node
within ``RING_ROUNDS_PER_LOG2_MAX * ceil(log2 n) + RING_ROUNDS_SLACK`` gossip rounds."""

RING_ROUNDS_SLACK = 10
"""Rounds for restarted nodes to be noticed before the epidemic starts."""

STORAGES = ("memory", "store")
"""``memory``: :class:`SimDisk`; ``store``: the WAL store over fault-injecting files."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """Everything a run depends on besides the seed."""

    nodes: int = 5
    ops: int = 2000
    clients: int = 8
    keys: int = 64
    zipf_s: float = 1.1
    faults: tuple[str, ...] = DEFAULT_FAULTS
    strict: bool = False
    n: int = 3
    r: int = 2
    w: int = 2
    q: int = 1024
    drop: float = 0.05
    dup: float = 0.03
    reorder: float = 0.1
    fault_interval_ticks: int = 60
    crash_ticks_max: int = 150
    partition_ticks_max: int = 200
    client_timeout_ticks: int = 150
    think_ticks_max: int = 4
    drain_ticks_max: int = 3000
    vector_clock_threshold: int = 10
    planted_bug: str = ""
    storage: str = "memory"
    membership: str = "gossip"
    churn_events_max: int = 4
    spares: int = 2
    converge_ticks_max: int = 6000
    tombstone_grace_ticks: int | None = None


@dataclass(slots=True)
class SimReport:
    """What a run did and found."""

    seed: int
    ops: int = 0
    acks: int = 0
    failures: int = 0
    gets_ok: int = 0
    siblings_seen: int = 0
    ticks: int = 0
    trace_hash: str = ""
    violations: list[str] = field(default_factory=list)
    node_stats: NodeStats = field(default_factory=NodeStats)
    deliveries: int = 0
    dropped: int = 0
    duplicated: int = 0
    crashes: int = 0
    lost_persists: int = 0
    excused_truncations: int = 0
    joins: int = 0
    leaves: int = 0
    keys_transferred: int = 0
    keys_repaired: int = 0
    tombstones_reaped: int = 0
    convergence_ticks: int = 0
    tombstones_cleared_ticks: int = 0
    ring_rounds: int = 0


class _Workload:
    def __init__(self, cluster: Cluster, config: SimConfig, history: History) -> None:
        self.cluster = cluster
        self.config = config
        self.history = history
        self.rng = cluster.random
        self.issued = 0
        self.active = config.clients
        weights = [1.0 / (rank + 1) ** config.zipf_s for rank in range(config.keys)]
        self.cumulative = list(itertools.accumulate(weights))
        self.contexts: dict[tuple[int, bytes], tuple[tuple[str, int], ...]] = {}
        self.seen: dict[tuple[int, bytes], tuple[Version, ...]] = {}
        self.item_seq = 0

    def node(self) -> str:
        """A load balancer's choice: any member of the newest ring."""
        return self.rng.choice(self.cluster.members())

    def key(self) -> bytes:
        point = self.rng.random() * self.cumulative[-1]
        return b"k%03d" % min(bisect.bisect_left(self.cumulative, point), self.config.keys - 1)

    def start(self) -> None:
        for client in range(self.config.clients):
            self.cluster.call_at(self.rng.randint(0, 5), functools.partial(self.next, client))

    def next(self, client: int) -> None:
        if self.issued >= self.config.ops:
            self.active -= 1
            return
        choice = self.rng.random()
        key = self.key()
        if choice < 0.55:
            self.get(client, key, then="cart")
        elif choice < 0.75:
            self.put(
                client,
                key,
                self.new_cart(client, []),
                self.contexts.get((client, key), ()),
                self.seen.get((client, key), ()),
            )
        elif choice < 0.95:
            self.get(client, key, then=None)
        else:
            self.get(client, key, then="delete")

    def new_cart(self, client: int, values: list[bytes]) -> bytes:
        self.item_seq += 1
        item = b"c%d-item%d" % (client, self.item_seq)
        return union_resolve([*values, item])

    def after(self, client: int) -> None:
        self.cluster.call_at(
            self.cluster.now + self.rng.randint(0, self.config.think_ticks_max),
            lambda: self.next(client),
        )

    def request(
        self, client: int, record: OpRecord, request: PutRequest | GetRequest, done: object
    ) -> None:
        self.issued += 1
        self.history.records.append(record)
        cluster = self.cluster

        def on_reply(result: Result) -> None:
            record.end = cluster.now
            done(result)  # type: ignore[operator]

        request_id = cluster.submit(record.node, request, on_reply)

        def timeout() -> None:
            if cluster.abandon(request_id):
                record.end = cluster.now
                record.ok = False
                self.after(client)

        cluster.call_at(cluster.now + self.config.client_timeout_ticks, timeout)

    def get(self, client: int, key: bytes, *, then: str | None) -> None:
        node = self.node()
        record = OpRecord(client, "get", key, node, self.cluster.now, self.config.r)

        def done(result: Result) -> None:
            assert isinstance(result, GetResult)
            record.ok = result.ok
            record.versions = result.versions
            if not result.ok:
                self.after(client)
                return
            self.contexts[(client, key)] = result.context
            self.seen[(client, key)] = result.versions
            if then is None or self.issued >= self.config.ops:
                self.after(client)
                return
            if then == "cart":
                values = [v.value for v in result.versions if v.value is not None]
                self.put(
                    client, key, self.new_cart(client, values), result.context, result.versions
                )
            else:
                self.put(client, key, None, result.context, result.versions)

        self.request(client, record, GetRequest(key), done)

    def put(
        self,
        client: int,
        key: bytes,
        value: bytes | None,
        context: tuple[tuple[str, int], ...],
        seen: tuple[Version, ...],
    ) -> None:
        node = self.node()
        kind = "put" if value is not None else "delete"
        record = OpRecord(client, kind, key, node, self.cluster.now, self.config.w, value, context)
        record.seen = seen

        def done(result: Result) -> None:
            assert isinstance(result, PutResult)
            record.ok = result.ok
            record.version = result.version
            if result.ok and result.version is not None:
                self.check_durable(record)
            self.after(client)

        self.request(client, record, PutRequest(key, value, context), done)

    def check_durable(self, record: OpRecord) -> None:
        """Property 1 at the moment of the ack: W of its replicas are durable.

        A replica is durable when its owner's disk holds the version, or when a node
        keeps it as a hint for that owner (Dynamo §4.6): each replica counts once, so an
        owner and a substitute holding its hint are one, as the write rule counts them,
        and a node that holds its own copy and a hint for another owner (a leaving
        owner handed the key to a hint holder) holds two.

        The disks of the key's preference list are counted first, in its order: they
        usually hold the put, so the count reaches W after fewer of them.
        """
        version = record.version
        assert version is not None
        cluster = self.cluster
        covered = cluster.covered
        key = record.key
        disks = cluster.disks
        names = cluster.ring.extended_preference_list(key)
        if len(names) < len(disks):
            names = (*names, *(name for name in disks if name not in names))
        replicas: set[str] = set()
        for name in names:
            disk = disks[name]
            if covered(key, disk.synced_versions(key), version):
                replicas.add(name)
            replicas.update(
                hint.owner
                for hint in disk.synced_hints()
                if hint.key == key and covered(key, hint.versions, version)
            )
            if len(replicas) >= record.r_or_w:
                return
        self.history.violations.append(
            f"property 1: {record.kind} of {record.key!r} acknowledged at t={self.cluster.now} "
            f"with {version.dot} in {len(replicas)} durable replicas, fewer than "
            f"w={record.r_or_w}"
        )


class _Churn:
    """Joins and leaves by admin command while the workload runs (Dynamo §4.8.1)."""

    JOIN_RETRY_TICKS = 20
    JOIN_ATTEMPTS_MAX = 30
    JOIN_CHECK_TICKS = 100
    """After an accepted join the driver looks again, as an operator would: if the ring
    its node issued was lost in a crash before it was stored or gossiped, the join is
    sent again."""

    def __init__(self, cluster: Cluster, config: SimConfig, report: SimReport) -> None:
        self.cluster = cluster
        self.config = config
        self.report = report
        self.events = 0

    def strike(self) -> None:
        cluster = self.cluster
        rng = cluster.random
        if self.events >= self.config.churn_events_max:
            return
        members = cluster.members()
        outside = [
            name
            for name in cluster.names
            if name not in members and cluster.status_of(name) in ("down", "left")
        ]
        floor = max(self.config.n + 1, 3)
        if outside and (len(members) <= floor or rng.random() < 0.5):
            name = rng.choice(outside)
            self.events += 1
            # A node that left rejoins in a new generation: a restart gives it one.
            cluster.crash(name)
            cluster.restart(name)
            self.try_join(name, 0)
        elif len(members) > floor:
            name = rng.choice(members)
            vias = [m for m in members if cluster.is_up(m)]
            if vias and cluster.leave(name, via=rng.choice(vias)):
                self.events += 1
                self.report.leaves += 1

    def try_join(self, name: str, attempt: int) -> None:
        cluster = self.cluster
        if attempt >= self.JOIN_ATTEMPTS_MAX or name in cluster.members():
            return
        vias = [m for m in cluster.members() if cluster.is_up(m)]
        if cluster.is_up(name) and vias:
            via = cluster.random.choice(vias)
            if cluster.join(name, via=via):
                self.report.joins += 1
                issued = cluster.nodes[via]
                assert issued is not None
                ring = (issued.ring_state.version, issued.ring_state.issuer)
                cluster.call_at(
                    cluster.now + self.JOIN_CHECK_TICKS,
                    lambda: (
                        self.try_join(name, attempt + 1) if ring in cluster.rings_lost else None
                    ),
                )
                return
        cluster.call_at(
            cluster.now + self.JOIN_RETRY_TICKS, lambda: self.try_join(name, attempt + 1)
        )


def _faults(cluster: Cluster, config: SimConfig, workload: _Workload, churn: _Churn) -> None:
    rng = cluster.random
    kinds: list[str] = [
        k for k in ("crash", "partition") if k in config.faults and config.nodes > 1
    ]
    if "churn" in config.faults and config.membership == "gossip":
        kinds.append("churn")

    def strike() -> None:
        if workload.active <= 0:
            return
        cluster.call_at(
            cluster.now
            + rng.randint(config.fault_interval_ticks // 2, config.fault_interval_ticks * 3 // 2),
            strike,
        )
        if not kinds:
            return
        kind = rng.choice(kinds)
        names = list(cluster.names)
        if kind == "churn":
            churn.strike()
        elif kind == "crash":
            up = [name for name in names if cluster.is_up(name)]
            if len(up) <= 1:
                return
            victim = rng.choice(up)
            cluster.crash(victim)
            cluster.call_at(
                cluster.now + rng.randint(1, config.crash_ticks_max),
                lambda: cluster.restart(victim),
            )
        else:
            rng.shuffle(names)
            if rng.random() < 0.3:
                cluster.block(names[0], names[1])
            else:
                cut = rng.randint(1, len(names) - 1)
                cluster.partition(tuple(names[:cut]), tuple(names[cut:]))
            cluster.call_at(cluster.now + rng.randint(10, config.partition_ticks_max), cluster.heal)

    cluster.call_at(rng.randint(1, config.fault_interval_ticks), strike)


def read_your_writes_checked(config: SimConfig) -> bool:
    """Whether property 4 holds for ``config``, and so is checked: a strict quorum with
    R + W > N, on a ring that does not change. A join or a leave moves a partition to
    new owners that get its data only as the transfer runs (Dynamo §4.8.1), with no
    quorum between the old owners and the new: a get on the new ring may read R
    replicas that do not hold a write the old ring's owners acknowledged."""
    return (
        config.strict
        and config.r + config.w > config.n
        and not ("churn" in config.faults and config.membership == "gossip")
    )


def simulate(
    seed: int,
    config: SimConfig | None = None,
    *,
    trace_key: bytes | None = None,
    seams: Seams = DEFAULT_SEAMS,
) -> tuple[SimReport, Cluster, History]:
    """Run one seed; return the report, the cluster (for traces) and the history.

    ``seams`` replaces decisions of every node (a lab's learner code, a planted bug).
    """
    config = config or SimConfig()
    network = NetworkConfig(
        drop=config.drop if "drop" in config.faults else 0.0,
        dup=config.dup if "dup" in config.faults else 0.0,
        reorder=config.reorder if "reorder" in config.faults else 0.0,
    )
    if "churn" in config.faults and config.membership != "gossip":
        raise ArgumentError("churn needs membership='gossip'")
    if config.tombstone_grace_ticks is not None and config.membership != "gossip":
        raise ArgumentError("tombstone reaping needs membership='gossip'")
    if config.planted_bug and seams is not DEFAULT_SEAMS:
        raise ArgumentError("give either config.planted_bug or seams, not both")
    if config.planted_bug and config.planted_bug not in PLANTED_BUGS:
        raise ArgumentError(
            f"planted_bug must be one of {', '.join(PLANTED_BUGS)}, got {config.planted_bug!r}"
        )
    node_config = NodeConfig(
        n=config.n,
        r=config.r,
        w=config.w,
        strict_quorum=config.strict,
        vector_clock_threshold=config.vector_clock_threshold,
    )
    cluster = Cluster(
        config.nodes,
        seed=seed,
        config=node_config,
        q=config.q,
        network=network,
        trace_key=trace_key,
        disk_factory=StoreDisk if config.storage == "store" else None,
        membership=config.membership,
        spares=config.spares if "churn" in config.faults else 0,
        member_config=MemberConfig(tombstone_grace_ticks=config.tombstone_grace_ticks),
        seams=PLANTED_BUGS[config.planted_bug] if config.planted_bug else seams,
    )
    history = History(
        vector_clock_threshold=config.vector_clock_threshold,
        reaping=config.tombstone_grace_ticks is not None,
    )
    report = SimReport(seed)
    workload = _Workload(cluster, config, history)
    workload.start()
    _faults(cluster, config, workload, _Churn(cluster, config, report))
    try:
        cluster.run(stop=lambda: workload.active <= 0)
        # Quiescence: faults stop, everything heals and restarts.
        network.drop = network.dup = network.reorder = 0.0
        cluster.heal()
        quiet_since = cluster.now
        for name in sorted(cluster.started):
            cluster.restart(name)
        deadline = cluster.now + config.drain_ticks_max
        # Let requests begun under faults finish and their suspicions lapse, so the
        # repair reads below reach every owner rather than substitutes.
        settle = cluster.config.forward_timeout_ticks + cluster.config.request_timeout_ticks
        cluster.run(until=cluster.now + settle + cluster.suspect_ticks)
        while cluster.hints_pending() and cluster.now < deadline:
            cluster.run(until=cluster.now + 10)
        if cluster.hints_pending():
            history.violations.append(
                f"property 5: {cluster.hints_pending()} hint(s) still pending "
                f"{config.drain_ticks_max} ticks after faults stopped"
            )
        if config.membership == "gossip":
            _converge(cluster, history, config, report, quiet_since)
            if config.tombstone_grace_ticks is not None:
                _check_tombstones_forgotten(cluster, history, config, report)
        else:
            _repair(cluster, history, config)
    except InvariantError as error:
        history.violations.append(f"core invariant failed at t={cluster.now}: {error}")
    history.check_phantoms()
    history.check_false_siblings()
    if cluster.reaped:
        _check_no_deleted_value_returns(cluster, history)
    if read_your_writes_checked(config):
        history.check_read_your_writes()
    if not history.violations and not cluster.node_stats().truncations:
        history.check_no_lost_update(
            lambda key: _held_anywhere(cluster, key),
            lambda key: tuple(version for _, version in cluster.reaped.get(key, ())),
        )
    report.violations = [*cluster.violations, *history.violations]
    report.ops = len(history.records)
    report.acks = sum(1 for r in history.records if r.kind != "get" and r.ok)
    report.failures = sum(1 for r in history.records if not r.ok)
    report.gets_ok = sum(1 for r in history.records if r.kind == "get" and r.ok)
    report.siblings_seen = sum(
        1 for r in history.records if r.kind == "get" and len(r.versions) > 1
    )
    report.ticks = cluster.now
    report.trace_hash = cluster.trace_hash
    report.node_stats = cluster.node_stats()
    report.deliveries = cluster.stats.deliveries
    report.dropped = cluster.stats.dropped
    report.duplicated = cluster.stats.duplicated
    report.crashes = cluster.stats.crashes
    report.lost_persists = cluster.stats.lost_persists
    report.excused_truncations = history.excused_truncations + cluster.transitive_covers
    if config.membership == "gossip":
        member = cluster.member_stats()
        report.keys_transferred = member.keys_transferred
        report.keys_repaired = member.keys_repaired
        report.tombstones_reaped = member.tombstones_reaped
    return report, cluster, history


def _disagreements(cluster: Cluster) -> list[str]:
    """Why the gossip cluster has not converged yet (empty: it has)."""
    live = [node for node in cluster.nodes.values() if (node is not None and node.gossip_mode)]
    reasons: list[str] = []
    newest = cluster.newest_ring()
    lagging = [n.node_id for n in live if (n.ring_state.version, n.ring_state.issuer) != newest]
    if lagging:
        reasons.append(f"ring {newest[0]} not adopted by {','.join(lagging)}")
    if cluster.hints_pending():
        reasons.append(f"{cluster.hints_pending()} hint(s) pending")
    busy = [n.node_id for n in live if n.transfers_in_flight or n.holds_data_it_does_not_own()]
    if busy:
        reasons.append(f"handoff unfinished on {','.join(busy)}")
    if reasons:
        return reasons
    ring = cluster.ring
    partitions = sorted({p for n in live for p, _ in n.trees.non_empty()})
    for partition in partitions:
        owners = ring.partition_preference_list(partition)
        roots = set()
        for owner in owners:
            node = cluster.nodes[owner]
            if node is not None and node.gossip_mode:
                roots.add(node.root(partition))
        if len(roots) > 1:
            reasons.append(f"Merkle roots of partition {partition} differ among {owners}")
    return reasons


CONVERGE_POLL_TICKS = 20
"""How often the quiescent cluster is checked for convergence."""


def _converge(
    cluster: Cluster, history: History, config: SimConfig, report: SimReport, quiet_since: int
) -> None:
    """Properties 5 and 6 with gossip and anti-entropy doing the work."""
    start = cluster.now
    deadline = start + config.converge_ticks_max
    period = cluster.member_config.gossip.gossip_period_ticks
    reasons = _disagreements(cluster)
    while reasons and cluster.now < deadline:
        cluster.run(until=cluster.now + CONVERGE_POLL_TICKS)
        reasons = _disagreements(cluster)
    # Let writes in flight (repairs pushed in the last round) become durable.
    cluster.run(until=cluster.now + 2 * CONVERGE_POLL_TICKS)
    report.convergence_ticks = cluster.now - quiet_since
    for reason in reasons[:5]:
        history.violations.append(
            f"property 5: not converged {config.converge_ticks_max} ticks after faults "
            f"stopped: {reason}"
        )
    live = [name for name, node in cluster.nodes.items() if node is not None]
    up = len(live)
    newest = cluster.newest_ring()[0]
    ring_done = max(cluster.ring_held_since.get(name, start) for name in live)
    rounds = max(0, ring_done - quiet_since) // period
    report.ring_rounds = rounds
    bound = RING_ROUNDS_PER_LOG2_MAX * math.ceil(math.log2(max(up, 2))) + RING_ROUNDS_SLACK
    if rounds > bound:
        history.violations.append(
            f"property 6: ring {newest} took {rounds} gossip rounds to reach all "
            f"{up} nodes after faults stopped (bound {bound})"
        )
    for ring, partition, dst in sorted(cluster.transfer_sends):
        if dst not in cluster.ring_at(ring).partition_preference_list(partition):
            history.violations.append(
                f"property 6: partition {partition} was transferred to {dst}, "
                f"not one of its owners in ring {ring[0]} of {ring[1]}"
            )
            break
    keys = sorted({r.key for r in history.records})
    for key in keys:
        holders = cluster.holders(key)
        if len(set(holders.values())) > 1 and not _reap_in_progress(cluster, key, holders):
            history.violations.append(
                f"property 5: owners of {key!r} disagree after anti-entropy: "
                + "; ".join(f"{name}={[v.dot for v in held]}" for name, held in holders.items())
            )
    _check_acknowledged(cluster, history)


def _reap_in_progress(
    cluster: Cluster, key: bytes, holders: dict[str, tuple[Version, ...]]
) -> bool:
    """Whether the owners of ``key`` differ only because a reap is on its way: some
    already forgot the key, the others hold only tombstones it reaped (the liveness half
    of property 7 then checks that they go)."""
    reaped = tuple(version for _, version in cluster.reaped.get(key, ()))
    return bool(reaped) and all(
        all(version.value is None and covers(reaped, version) for version in held)
        for held in holders.values()
    )


def _held_anywhere(cluster: Cluster, key: bytes) -> tuple[Version, ...]:
    """Every version of ``key`` some node's disk holds (at rest the owners agree)."""
    held: dict[tuple[str, int], Version] = {}
    for versions in cluster.holders(key).values():
        for version in versions:
            held[version.dot] = version
    return tuple(held.values())


def _check_acknowledged(cluster: Cluster, history: History) -> None:
    """Property 1 at rest: every owner covers every acknowledged version."""
    acked = [r for r in history.records if r.kind != "get" and r.ok and r.version is not None]
    # The cluster is at rest: what each owner holds, and what was reaped, is read once per key.
    at_rest: dict[bytes, tuple[dict[str, tuple[Version, ...]], tuple[Version, ...]]] = {}
    for record in acked:
        assert record.version is not None
        known = at_rest.get(record.key)
        if known is None:
            reaped_pairs = cluster.reaped.get(record.key, ())
            known = at_rest[record.key] = (
                cluster.holders(record.key),
                tuple(version for _, version in reaped_pairs),
            )
        holders, reaped = known
        for name, held in holders.items():
            if not cluster.covered(record.key, held, record.version) and not (
                # Deleted, and the delete's tombstone reaped: its absence is the point.
                reaped and cluster.covered(record.key, reaped, record.version)
            ):
                history.violations.append(
                    f"property 1: acknowledged {record.version.dot} of {record.key!r} "
                    f"(t={record.end}) is missing on owner {name} after repair"
                )
                break


REAP_ROUNDS_MAX = 20
"""Property 7's liveness bound: after the cluster converged, every deleted key is
forgotten everywhere within the grace period and this many reaping rounds."""


def _tombstones_held(cluster: Cluster, keys: list[bytes]) -> list[tuple[str, bytes]]:
    """The nodes that durably store only tombstones for one of ``keys``, and the key."""
    held: list[tuple[str, bytes]] = []
    for name, disk in sorted(cluster.disks.items()):
        for key in keys:
            versions = disk.synced_versions(key)
            if versions and all(version.value is None for version in versions):
                held.append((name, key))
    return held


def _check_tombstones_forgotten(
    cluster: Cluster, history: History, config: SimConfig, report: SimReport
) -> None:
    """Property 7, liveness: with faults over and the cluster converged, every node
    forgets every deleted key within the grace period and ``REAP_ROUNDS_MAX`` rounds."""
    grace = config.tombstone_grace_ticks
    assert grace is not None
    start = cluster.now
    bound = grace + REAP_ROUNDS_MAX * cluster.member_config.reap_interval_ticks
    keys = sorted({r.key for r in history.records})
    held = _tombstones_held(cluster, keys)
    while held and cluster.now < start + bound:
        cluster.run(until=cluster.now + CONVERGE_POLL_TICKS)
        held = _tombstones_held(cluster, keys)
    report.tombstones_cleared_ticks = cluster.now - start
    if held:
        name, key = held[0]
        history.violations.append(
            f"property 7: {len(held)} deleted key(s) not forgotten {bound} ticks after the "
            f"cluster converged (grace {grace} + {REAP_ROUNDS_MAX} reaping rounds): "
            f"{name} still holds the tombstones of {key!r}"
        )


def _check_no_deleted_value_returns(cluster: Cluster, history: History) -> None:
    """Property 7: once a key's tombstone is reaped, no value it deleted comes back, in a
    get begun after the reap nor on an owner at rest."""
    for record in history.records:
        reaps = cluster.reaped.get(record.key)
        if record.kind != "get" or not record.ok or not reaps:
            continue
        reaped = tuple(version for tick, version in reaps if tick < record.start)
        for version in record.versions:
            if version.value is not None and reaped and covers(reaped, version):
                history.violations.append(
                    f"property 7: get of {record.key!r} at t={record.end} returned "
                    f"{version.dot}, deleted by a tombstone reaped before it began"
                )
                return
    for key, reaps in sorted(cluster.reaped.items()):
        reaped = tuple(version for _, version in reaps)
        for name, held in cluster.holders(key).items():
            back = [v.dot for v in held if v.value is not None and covers(reaped, v)]
            if back:
                history.violations.append(
                    f"property 7: owner {name} holds {back[0]} of {key!r} at rest, "
                    "deleted by a tombstone that was reaped"
                )
                return


REPAIR_ROUNDS_MAX = 4
"""Read-repair passes after faults stop. One suffices unless clocks were truncated:
then a replica may keep a version that the others dropped because an intermediate
version (which it never held) superseded it, and a second pass spreads it back
as a (false) sibling."""


def _repair(cluster: Cluster, history: History, config: SimConfig) -> None:
    """Read repair of every written key with R = N, then properties 1 and 5 at rest."""
    keys = sorted({r.key for r in history.records})
    n = cluster.ring.n
    failed: list[bytes] = []
    pending = keys
    for _ in range(REPAIR_ROUNDS_MAX):
        failed = []
        for key in pending:
            owner = cluster.ring.preference_list(key)[0]

            def on_reply(result: Result, key: bytes = key, failed: list[bytes] = failed) -> None:
                if not result.ok:
                    failed.append(key)

            cluster.submit(owner, GetRequest(key, r=n), on_reply)
        limit = cluster.now + config.drain_ticks_max
        while not cluster.idle() and cluster.now < limit:
            cluster.run(until=cluster.now + 10)
        cluster.run(until=cluster.now + 5 * cluster.config.request_timeout_ticks)
        pending = [key for key in keys if len(set(cluster.holders(key).values())) > 1]
        if not pending and not failed:
            break
    for key in failed:
        history.violations.append(f"property 5: repair read of {key!r} failed after faults stopped")
    for key in keys:
        holders = cluster.holders(key)
        distinct = set(holders.values())
        if len(distinct) > 1:
            history.violations.append(
                f"property 5: owners of {key!r} disagree after repair: "
                + "; ".join(f"{name}={[v.dot for v in held]}" for name, held in holders.items())
            )
    _check_acknowledged(cluster, history)
