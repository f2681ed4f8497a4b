"""The experiment of lab q3: how often a read right after an acknowledged write is stale.

Measured in the simulator with the solution's own coordinator rules in every node
(strict quorum, N replicas, one cluster of N nodes per N). Each trial writes a
fresh key through a random owner, and the network lets the write reach exactly W
replicas (the coordinator and W-1 others drawn at random); once the write is
acknowledged, a read through a random owner hears back from exactly R replicas
(itself and R-1 others drawn at random). The read is stale when it misses the
write.

Theory (Dynamo §4.5): the read misses the write exactly when the R replicas it
hears from avoid the W that hold it. Both sets are uniform, so the stale-read rate
is C(N−W, R) / C(N, R), which is 0 when R + W > N. Each measurement is judged
against an exact binomial acceptance interval of the closed form; the intervals
are Bonferroni-corrected so that the whole table is at 99% (a correct solution
fails the table by chance on about one seed in a hundred). The solution's
``is_strict_consistent`` must call a configuration consistent exactly when the
closed form is 0.

Then a sloppy quorum under a partition (Dynamo §4.6): the owners of the key are
cut off from the client's coordinator, the write is acknowledged by substitutes
holding hints, and a read on the other side of the partition misses it, although
R + W > N (the exhibit ``quorum.sloppy_can_miss_strict`` proves it can happen).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from typing import Any

from dynamokv.impl.core import (
    GetRequest,
    GetResult,
    NodeConfig,
    PutRequest,
    PutResult,
    Result,
    Seams,
    covers,
)
from dynamokv.impl.sim import Cluster, NetworkConfig
from dynamokv.spec.quorum import QuorumConfig

from .._model import ExperimentContext, ExperimentReport, ExperimentRow

REPLICATION = (3, 5)
TRIALS = 200
TABLE_CONFIDENCE = 0.99
SLOPPY_TRIALS = 40
REQUEST_TICKS_MAX = 400


def _seams(solution: Mapping[str, Callable[..., Any]]) -> Seams:
    return Seams(
        read_may_answer=solution["read_may_answer"],
        write_may_answer=solution["write_may_answer"],
    )


def stale_rate(n: int, r: int, w: int) -> float:
    """C(N−W, R) / C(N, R): the chance that R uniform replicas miss W uniform ones."""
    return math.comb(n - w, r) / math.comb(n, r)


def acceptance_interval(trials: int, p: float, confidence: float) -> tuple[int, int]:
    """The central ``confidence`` interval of Binomial(trials, p), as counts [low, high]."""
    if p <= 0.0:
        return (0, 0)
    if p >= 1.0:
        return (trials, trials)
    tail = (1 - confidence) / 2
    cumulative = 0.0
    low = 0
    for k in range(trials + 1):
        cumulative += math.comb(trials, k) * p**k * (1 - p) ** (trials - k)
        if cumulative > tail:
            low = k
            break
    cumulative = 0.0
    high = trials
    for k in range(trials, -1, -1):
        cumulative += math.comb(trials, k) * p**k * (1 - p) ** (trials - k)
        if cumulative > tail:
            high = k
            break
    return (low, high)


def _request(cluster: Cluster, node: str, request: GetRequest | PutRequest) -> Result | None:
    done: list[Result] = []
    cluster.submit(node, request, done.append)
    deadline = cluster.now + REQUEST_TICKS_MAX
    while not done and cluster.now < deadline:
        cluster.run(until=cluster.now + 2)
    return done[0] if done else None


def _trial(cluster: Cluster, rng: random.Random, key: bytes, r: int, w: int) -> bool | None:
    """One write held at exactly W replicas, then a read of exactly R: stale? None: no ack."""
    owners = list(cluster.static_ring.preference_list(key))
    writer = rng.choice(owners)
    holders = {writer, *rng.sample([o for o in owners if o != writer], w - 1)}
    for owner in owners:
        if owner not in holders:
            cluster.block(writer, owner)
    put = _request(cluster, writer, PutRequest(key, b"v-" + key, (), w))
    cluster.heal()
    if not isinstance(put, PutResult) or not put.ok or put.version is None:
        return None
    reader = rng.choice(owners)
    heard = {reader, *rng.sample([o for o in owners if o != reader], r - 1)}
    for owner in owners:
        if owner not in heard:
            cluster.block(owner, reader)
    got = _request(cluster, reader, GetRequest(key, r))
    cluster.heal()
    if not isinstance(got, GetResult) or not got.ok:
        return None
    return not covers(got.versions, put.version)


def _strict_cluster(n: int, seed: int, seams: Seams) -> Cluster:
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=3, disk_delay_ticks_max=1)
    config = NodeConfig(n=n, r=1, w=1, strict_quorum=True)
    return Cluster(n, seed=seed, config=config, q=64, network=network, seams=seams)


def _sloppy_trial(seed: int, seams: Seams, *, strict: bool) -> tuple[bool, bool | None]:
    """A partition cuts two owners off: (write acknowledged?, read stale? None: no read)."""
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=2, disk_delay_ticks_max=1)
    cluster = Cluster(
        5,
        seed=seed,
        config=NodeConfig(n=3, r=2, w=2, strict_quorum=strict),
        q=64,
        network=network,
        seams=seams,
    )
    key = b"cart-%d" % seed
    owners = list(cluster.static_ring.preference_list(key))
    others = [name for name in cluster.names if name not in owners]
    writer, cut_off = owners[0], owners[1:]
    cluster.partition((writer, *others), tuple(cut_off))
    put = _request(cluster, writer, PutRequest(key, b"added", (), 2))
    if not isinstance(put, PutResult) or not put.ok or put.version is None:
        return False, None
    got = _request(cluster, cut_off[0], GetRequest(key, 2))
    if not isinstance(got, GetResult) or not got.ok:
        return True, None
    return True, not covers(got.versions, put.version)


def run(ctx: ExperimentContext) -> ExperimentReport:
    """Sweep R and W for N = 3 and N = 5, then the sloppy quorum under a partition."""
    seams = _seams(ctx.solution)
    rng = random.Random(ctx.seed)
    consistent = ctx.solution["is_strict_consistent"]
    cells = [(n, r, w) for n in REPLICATION for r in range(1, n + 1) for w in range(1, n + 1)]
    random_cells = sum(1 for n, r, w in cells if 0 < stale_rate(n, r, w) < 1)
    confidence = 1 - (1 - TABLE_CONFIDENCE) / max(1, random_cells)
    rows: list[ExperimentRow] = []
    for n in REPLICATION:
        cluster = _strict_cluster(n, ctx.seed, seams)
        for r in range(1, n + 1):
            for w in range(1, n + 1):
                stale = 0
                done = 0
                for trial in range(TRIALS):
                    outcome = _trial(cluster, rng, b"n%d-r%d-w%d-%d" % (n, r, w, trial), r, w)
                    if outcome is None:
                        continue
                    done += 1
                    stale += outcome
                theory = stale_rate(n, r, w)
                low, high = acceptance_interval(done, theory, confidence)
                says = bool(consistent(QuorumConfig(n=n, r=r, w=w)))
                within = done == TRIALS and low <= stale <= high and says == (theory == 0)
                rows.append(
                    ExperimentRow(
                        f"N={n} R={r} W={w}  (yours: R+W>N is {says})",
                        f"{stale}/{done} = {stale / done:.3f}" if done else "no acknowledged write",
                        f"C({n - w},{r})/C({n},{r}) = {theory:.3f}",
                        f"[{low / TRIALS:.3f}, {high / TRIALS:.3f}]",
                        within,
                    )
                )
    for strict in (False, True):
        acknowledged = 0
        stale = 0
        for trial in range(SLOPPY_TRIALS):
            acked, outcome = _sloppy_trial(ctx.seed * 1000 + trial, seams, strict=strict)
            acknowledged += acked
            stale += bool(outcome)
        kind = "strict" if strict else "sloppy"
        if strict:
            within = stale == 0
            expected = "0 (the write is refused instead)"
            tolerance = "exactly 0 stale"
        else:
            within = acknowledged > 0 and stale > 0
            expected = "> 0 although R+W > N (quorum.sloppy_can_miss_strict)"
            tolerance = "> 0"
        rows.append(
            ExperimentRow(
                f"{kind} quorum N=3 R=2 W=2, two owners partitioned away: stale reads",
                f"{stale}/{SLOPPY_TRIALS} ({acknowledged} writes acknowledged)",
                expected,
                tolerance,
                within,
            )
        )
    notes = (
        f"{TRIALS} trials per cell, seed {ctx.seed}; intervals: exact binomial, "
        f"{confidence:.4%} per cell = {TABLE_CONFIDENCE:.0%} for the table "
        f"(Bonferroni over its {random_cells} cells with 0 < p < 1)",
        f"sloppy quorum: {SLOPPY_TRIALS} clusters of 5 nodes; the write goes through the "
        "key's first owner, the read through a partitioned owner",
    )
    return ExperimentReport("stale reads right after an acknowledged write", tuple(rows), notes)
