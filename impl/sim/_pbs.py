"""PBS: how stale is a partial quorum? Measured on the real core in the simulator.

Bailis et al., "Probabilistically Bounded Staleness for Practical Partial
Quorums" (VLDB 2012), asks how likely a read issued ``t`` ms after a write was
acknowledged is to return that write, when R + W <= N. Their *WARS* model
(PBS §4.1) draws four one-way latencies per replica: the write request (W), its
acknowledgement (A), the read request (R) and the read response (S). A read is
stale when each of its first R responders received the read request before the
write. PBS §5.5 fits W, A, R and S to production latencies (PBS Table 3): two
LinkedIn Voldemort clusters (``LNKD-SSD``, ``LNKD-DISK``), Yammer's Riak
(``YMMR``), and a wide-area case (``WAN``: ``LNKD-DISK`` plus 75 ms each way to
every replica but the one in the coordinator's datacenter).

Theory of operation
-------------------
``dynamokv sim --preset pbs`` runs the project's own :class:`~dynamokv.impl.core.Node`
in the simulator, with :class:`WarsDelay` as the network's
:attr:`~dynamokv.impl.sim.NetworkConfig.delay_sampler`: every WriteRequest,
WriteAck, ReadRequest and ReadResponse is delayed by a draw from the fit, in
nanosecond ticks. Each trial writes a fresh key once through one of its owners
and reads it back from a node that owns no replica, at several times ``t`` after
the put was acknowledged; a read is consistent when it returns the write's
version. The quorum is strict and read repair off: WARS models neither sloppy
quorums nor repair (PBS §4.2), and with a fresh key per trial nothing else can
have written it.

Where the core and WARS differ, and why: Dynamo's put coordinator is one of
the key's N owners and writes its own replica locally (Dynamo §4.5), so one of
the N writes takes no network time and the coordinator's acknowledgement counts
towards W at once. WARS sends all N writes over the network. So two Monte
Carlo models are kept, each a few lines of sampling with no core:

* :func:`monte_carlo` with ``coordinator_is_replica=True`` is the protocol the
  core runs; the core's probabilities must agree with it within a 99 % binomial
  interval (the preset prints whether they do; a test asserts it);
* with ``coordinator_is_replica=False`` it is PBS's own WARS, and reproduces the
  paper's published figures (:data:`PAPER_T_VISIBILITY_MS`).

A third check needs no simulation at all: with writes held at exactly W replicas
(the others never receive them), a read right after the acknowledgement is
consistent with probability ``1 - C(N-W, R) / C(N, R)`` (PBS §3.1, k = 1):
:func:`closed_form_consistency`.

*Finding the 99.9 % time.* A measured probability is a point per ``t``, so the
preset measures in two stages: a pilot over a coarse grid (0, then 0.125 ms
doubling to 2 s) brackets the crossing, then the main run reads at the reported
times (0, 1, 10, 100 ms) and a fine geometric grid around the bracket, and the
crossing is interpolated between the two grid points around it.
"""

from __future__ import annotations

import bisect
import functools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dynamokv.errors import ArgumentError
from dynamokv.impl.core import (
    GetRequest,
    GetResult,
    Message,
    NodeConfig,
    PutRequest,
    PutResult,
    ReadRequest,
    Result,
    WriteAck,
    WriteRequest,
)

from ._simulated_cluster import Cluster, NetworkConfig

__all__ = [
    "CONSISTENCY_TARGET",
    "FITS",
    "PAPER_CONSISTENT_AT_COMMIT",
    "PAPER_T_VISIBILITY_MS",
    "QUORUMS",
    "REPORT_TIMES_MS",
    "TICKS_PER_MS",
    "CoreMeasurement",
    "Mixture",
    "MonteCarlo",
    "PbsRow",
    "WarsDelay",
    "WarsFit",
    "closed_form_consistency",
    "held_writes_check",
    "measure_core",
    "measure_row",
    "monte_carlo",
    "pbs_table",
    "print_pbs",
    "trials_per_row",
    "wilson_interval",
]

TICKS_PER_MS = 1_000_000
"""Nanosecond ticks: fine enough that a write and a read almost never arrive at
a replica in the same tick (the fits' spreads are tens of microseconds and up)."""

REPORT_TIMES_MS = (0.0, 1.0, 10.0, 100.0)
"""The times after the write's acknowledgement the table reports."""

CONSISTENCY_TARGET = 0.999
"""The probability whose time the table reports (PBS Table 4's p_st = .001)."""

QUORUMS = ((1, 1), (1, 2), (2, 1), (2, 2))
"""The (R, W) settings measured, with N = 3."""

Z_99 = 2.5758293035489
"""The standard normal quantile of a two-sided 99 % interval."""

_HOUR_TICKS = 3600 * 1000 * TICKS_PER_MS


@dataclass(frozen=True, slots=True)
class Mixture:
    """A latency distribution: exponential with probability ``exponential_weight``,
    else Pareto (PBS §5.5's fits: a Pareto body and an exponential tail).

    Attributes:
        exponential_weight: probability of drawing from the exponential.
        exponential_rate_per_ms: the exponential's rate (lambda, per ms).
        pareto_scale_ms: the Pareto's minimum x_m.
        pareto_shape: the Pareto's shape alpha.
    """

    exponential_weight: float
    exponential_rate_per_ms: float
    pareto_scale_ms: float
    pareto_shape: float

    def sample_ms(self, rng: random.Random) -> float:
        """One draw, in milliseconds."""
        if rng.random() < self.exponential_weight:
            return rng.expovariate(self.exponential_rate_per_ms)
        return self.pareto_scale_ms * rng.paretovariate(self.pareto_shape)


@dataclass(frozen=True, slots=True)
class WarsFit:
    """The four WARS distributions of one production setting (PBS Table 3).

    Attributes:
        name: as the paper names it.
        write: W, coordinator to replica carrying the write.
        ack: A, the replica's acknowledgement back.
        read: R, coordinator to replica carrying the read request.
        response: S, the replica's read response back.
        remote_delay_ms: added to every one-way message between datacenters
            (``WAN``: each replica in its own datacenter, 75 ms apart).
    """

    name: str
    write: Mixture
    ack: Mixture
    read: Mixture
    response: Mixture
    remote_delay_ms: float = 0.0


_SSD = Mixture(0.0878, 1.66, 0.235, 10.0)
_DISK_WRITE = Mixture(0.62, 0.183, 1.05, 1.51)
_YAMMER_WRITE = Mixture(0.061, 0.0028, 3.0, 3.35)
_YAMMER_OTHER = Mixture(0.018, 0.0217, 1.5, 3.8)

FITS: dict[str, WarsFit] = {
    "LNKD-SSD": WarsFit("LNKD-SSD", _SSD, _SSD, _SSD, _SSD),
    "LNKD-DISK": WarsFit("LNKD-DISK", _DISK_WRITE, _SSD, _SSD, _SSD),
    "YMMR": WarsFit("YMMR", _YAMMER_WRITE, _YAMMER_OTHER, _YAMMER_OTHER, _YAMMER_OTHER),
    "WAN": WarsFit("WAN", _DISK_WRITE, _SSD, _SSD, _SSD, remote_delay_ms=75.0),
}
"""PBS Table 3's fits, by the paper's names."""

PAPER_T_VISIBILITY_MS: dict[tuple[str, int, int], float] = {
    ("LNKD-SSD", 1, 1): 1.85,
    ("LNKD-SSD", 1, 2): 1.79,
    ("LNKD-SSD", 2, 1): 0.0,
    ("LNKD-SSD", 2, 2): 0.0,
    ("LNKD-DISK", 1, 1): 45.5,
    ("LNKD-DISK", 1, 2): 43.3,
    ("LNKD-DISK", 2, 1): 13.6,
    ("LNKD-DISK", 2, 2): 0.0,
    ("YMMR", 1, 1): 1364.0,
    ("YMMR", 1, 2): 1352.0,
    ("YMMR", 2, 1): 202.0,
    ("YMMR", 2, 2): 0.0,
    ("WAN", 1, 1): 113.0,
    ("WAN", 1, 2): 0.0,
    ("WAN", 2, 1): 30.2,
    ("WAN", 2, 2): 0.0,
}
"""PBS Table 4: the t (ms) at which reads are consistent with probability 99.9 %,
keyed by (fit, R, W), N = 3; the paper's own WARS Monte Carlo."""

PAPER_CONSISTENT_AT_COMMIT: dict[str, float] = {
    "LNKD-SSD": 0.974,
    "LNKD-DISK": 0.439,
    "YMMR": 0.893,
    "WAN": 0.33,
}
"""PBS §5.6: probability of a consistent read right after commit, R = W = 1, N = 3."""


class WarsDelay:
    """A :class:`~dynamokv.impl.sim.DelaySampler` drawing WARS latencies in nanosecond ticks.

    Args:
        fit: the distributions.
        datacenter_of: each node's datacenter; messages between two datacenters
            take ``fit.remote_delay_ms`` more.
        ticks_per_ms: the simulator's tick resolution.

    Write requests draw from W, write acknowledgements from A, read requests
    from R; read responses, and any other one-way message, from S.
    """

    __slots__ = ("_datacenter_of", "_fit", "_remote_ticks", "_ticks_per_ms")

    def __init__(
        self,
        fit: WarsFit,
        *,
        datacenter_of: Mapping[str, int],
        ticks_per_ms: int = TICKS_PER_MS,
    ) -> None:
        self._fit = fit
        self._datacenter_of = dict(datacenter_of)
        self._ticks_per_ms = ticks_per_ms
        self._remote_ticks = round(fit.remote_delay_ms * ticks_per_ms)

    def __call__(self, message: Message, rng: random.Random) -> int:
        """The delay of ``message``, in ticks (at least one)."""
        fit = self._fit
        kind = message.__class__
        if kind is WriteRequest:
            distribution = fit.write
        elif kind is WriteAck:
            distribution = fit.ack
        elif kind is ReadRequest:
            distribution = fit.read
        else:
            distribution = fit.response
        ticks = round(distribution.sample_ms(rng) * self._ticks_per_ms)
        datacenter_of = self._datacenter_of
        if self._remote_ticks and datacenter_of[message.src] != datacenter_of[message.dst]:
            ticks += self._remote_ticks
        return max(1, ticks)


# -- the independent checks: Monte Carlo and closed form ------------------------------


def _window_ms(
    rng: random.Random,
    fit: WarsFit,
    *,
    n: int,
    r: int,
    w: int,
    coordinator_is_replica: bool,
    hold_writes_at_w: bool,
) -> float:
    """One WARS trial: the smallest t (ms after commit) at which its read is consistent.

    PBS §5.1: a read at ``t`` is consistent when one of its first R responders
    received the write no later than the read request, ``W[i] <= commit + t + R[i]``.
    Replica ``coordinator`` is in the write coordinator's datacenter, replica
    ``reader`` in the read coordinator's (both drawn at random, as in PBS's WAN).
    """
    remote = fit.remote_delay_ms
    coordinator = rng.randrange(n)
    reader = rng.randrange(n)
    others = [i for i in range(n) if i != coordinator]
    rng.shuffle(others)
    holders = set(range(n))
    if hold_writes_at_w:
        holders = {coordinator, *others[: w - 1]}
    arrive: list[float] = []
    acked: list[float] = []
    for i in range(n):
        if coordinator_is_replica and i == coordinator:
            write_at, ack_at = 0.0, 0.0
        else:
            extra = remote if i != coordinator else 0.0
            write_at = fit.write.sample_ms(rng) + extra
            ack_at = write_at + fit.ack.sample_ms(rng) + extra
        arrive.append(write_at if i in holders else math.inf)
        if i in holders:
            acked.append(ack_at)
    commit = sorted(acked)[w - 1]
    responses = []
    for i in range(n):
        extra = remote if i != reader else 0.0
        request = fit.read.sample_ms(rng) + extra
        responses.append((request + fit.response.sample_ms(rng) + extra, request, i))
    responses.sort()
    return min(arrive[i] - commit - request for _, request, i in responses[:r])


@dataclass(frozen=True)
class MonteCarlo:
    """Sorted consistency windows of many WARS trials (see :func:`monte_carlo`)."""

    windows_ms: tuple[float, ...]

    def consistent_probability(self, t_ms: float) -> float:
        """The fraction of trials whose read at ``t_ms`` after commit is consistent."""
        return bisect.bisect_right(self.windows_ms, t_ms) / len(self.windows_ms)

    def t_visibility_ms(self, target: float = CONSISTENCY_TARGET) -> float:
        """The smallest t at which at least ``target`` of the reads are consistent."""
        index = math.ceil(target * len(self.windows_ms)) - 1
        return max(0.0, self.windows_ms[index])


def monte_carlo(
    fit: WarsFit,
    *,
    r: int,
    w: int,
    n: int = 3,
    trials: int,
    seed: int,
    coordinator_is_replica: bool,
    hold_writes_at_w: bool = False,
) -> MonteCarlo:
    """PBS's WARS Monte Carlo (PBS §5.1), independent of the core.

    Args:
        fit: the latency distributions.
        r: read quorum.
        w: write quorum.
        n: replicas.
        trials: writes sampled, each with one read.
        seed: the sampler's seed.
        coordinator_is_replica: the write coordinator is one of the N replicas and
            writes its own copy without network delay (Dynamo §4.5; what the core
            does); False is PBS's model, where all N writes cross the network.
        hold_writes_at_w: only W replicas ever receive the write.
    """
    rng = random.Random(seed)
    windows = sorted(
        _window_ms(
            rng,
            fit,
            n=n,
            r=r,
            w=w,
            coordinator_is_replica=coordinator_is_replica,
            hold_writes_at_w=hold_writes_at_w,
        )
        for _ in range(trials)
    )
    return MonteCarlo(tuple(windows))


def closed_form_consistency(*, n: int, r: int, w: int, k: int = 1) -> float:
    """PBS k-staleness (PBS §3.1): with writes held at W replicas, the probability
    that a read quorum of R meets one of the last k writes, ``1 - (C(N-W,R)/C(N,R))**k``."""
    return 1.0 - (math.comb(n - w, r) / math.comb(n, r)) ** k


def wilson_interval(successes: int, trials: int, *, z: float = Z_99) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (99 % by default)."""
    if trials <= 0:
        raise ArgumentError("wilson_interval needs at least one trial")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    return max(0.0, centre - half), min(1.0, centre + half)


# -- the core in the simulator ---------------------------------------------------------


@dataclass(frozen=True)
class CoreMeasurement:
    """Reads of the real core at several times after each write's acknowledgement.

    Attributes:
        fit: the fit's name.
        r: read quorum.
        w: write quorum.
        trials: writes (each read once at every time).
        times_ms: the read times after the acknowledgement, ascending.
        consistent: per time, the reads that returned the write.
        failures: requests that failed (a timeout; expected 0).
    """

    fit: str
    r: int
    w: int
    trials: int
    times_ms: tuple[float, ...]
    consistent: tuple[int, ...]
    failures: int

    def probability(self, t_ms: float) -> float:
        """The measured probability of a consistent read at ``t_ms`` (a measured time)."""
        return self.consistent[self.times_ms.index(t_ms)] / self.trials

    def interval(self, t_ms: float) -> tuple[float, float]:
        """Its 99 % Wilson interval."""
        return wilson_interval(self.consistent[self.times_ms.index(t_ms)], self.trials)

    def t_visibility_ms(self, target: float = CONSISTENCY_TARGET) -> float | None:
        """The time at which the measured probability first reaches ``target``,
        interpolated between the grid points around it; None if it never does."""
        previous: tuple[float, float] | None = None
        for t, count in zip(self.times_ms, self.consistent, strict=True):
            p = count / self.trials
            if p >= target:
                if previous is None or previous[1] >= p:
                    return t
                t0, p0 = previous
                return t0 + (target - p0) * (t - t0) / (p - p0)
            previous = (t, p)
        return None


def _trial_keys(cluster: Cluster, datacenter_of: Mapping[str, int], count: int) -> list[bytes]:
    """Keys whose N owners are in N different datacenters (so WAN is one replica per
    datacenter); the same keys serve the single-datacenter fits."""
    keys: list[bytes] = []
    index = 0
    ring = cluster.static_ring
    while len(keys) < count:
        key = b"pbs-%d" % index
        index += 1
        owners = ring.preference_list(key)
        if len({datacenter_of[o] for o in owners}) == len(owners):
            keys.append(key)
    return keys


def measure_core(
    fit: WarsFit,
    *,
    r: int,
    w: int,
    n: int = 3,
    times_ms: Sequence[float],
    trials: int,
    seed: int,
    hold_writes_at_w: bool = False,
    batch: int = 200,
    on_trials: Callable[[int], None] | None = None,
) -> CoreMeasurement:
    """Write ``trials`` fresh keys through the core, read each back at ``times_ms``.

    2N nodes: node ``n{i}`` is in datacenter ``(i - 1) % N``, so every key chosen
    has one owner per datacenter and one non-owner per datacenter. Each trial
    puts through a random owner (the put coordinator, Dynamo §4.5) and reads
    through a random non-owner, so every read request crosses the network as in
    WARS. ``hold_writes_at_w`` blocks the coordinator's link to N - W of the other
    owners for the trial, so the write reaches exactly W replicas.

    Args:
        fit: the latency distributions.
        r: read quorum.
        w: write quorum.
        n: replicas.
        times_ms: read times after the acknowledgement.
        trials: writes.
        seed: the simulator's seed.
        hold_writes_at_w: see above (trials then run one at a time).
        batch: trials in flight together (they share nothing but the nodes).
        on_trials: called with the number of trials just finished, for progress.
    """
    if not (1 <= r <= n and 1 <= w <= n and trials >= 1):
        raise ArgumentError("need 1 <= r, w <= n and trials >= 1")
    times = tuple(sorted(set(times_ms)))
    node_count = 2 * n
    datacenter_of = {f"n{i + 1}": i % n for i in range(node_count)}
    config = NodeConfig(
        n=n,
        r=r,
        w=w,
        strict_quorum=True,
        read_repair=False,
        replica_timeout_ticks=_HOUR_TICKS,
        request_timeout_ticks=_HOUR_TICKS,
        forward_timeout_ticks=_HOUR_TICKS,
        requests_in_flight_max=1 << 20,
    )
    network = NetworkConfig(
        delay_sampler=WarsDelay(fit, datacenter_of=datacenter_of), disk_delay_ticks_max=0
    )
    cluster = Cluster(
        node_count,
        seed=seed,
        config=config,
        network=network,
        suspect_ticks=_HOUR_TICKS,
        membership="static",
    )
    rng = cluster.random
    names = cluster.names
    ring = cluster.static_ring
    keys = _trial_keys(cluster, datacenter_of, trials)
    read_ticks = [round(t * TICKS_PER_MS) for t in times]
    consistent = [0] * len(times)
    failures = [0]
    pending = [0]
    cluster.run(until=cluster.now + TICKS_PER_MS)  # every node's counter lease is durable

    def read(reader: str, key: bytes, dot: tuple[str, int], index: int) -> None:
        def on_get(result: Result) -> None:
            pending[0] -= 1
            if not (isinstance(result, GetResult) and result.ok):
                failures[0] += 1
            elif any(version.dot == dot for version in result.versions):
                consistent[index] += 1

        cluster.submit(reader, GetRequest(key, r=r), on_get)

    def start(key: bytes) -> None:
        owners = ring.preference_list(key)
        coordinator = rng.choice(owners)
        reader = rng.choice([name for name in names if name not in owners])
        if hold_writes_at_w:
            others = [o for o in owners if o != coordinator]
            rng.shuffle(others)
            for owner in others[w - 1 :]:
                cluster.block(coordinator, owner)

        def on_put(result: Result) -> None:
            pending[0] -= 1
            if not (isinstance(result, PutResult) and result.ok and result.version):
                failures[0] += 1
                pending[0] -= len(read_ticks)
                return
            dot = result.version.dot
            acked_at = cluster.now
            for index, ticks in enumerate(read_ticks):
                # submit() delivers one tick later: the read reaches the node at acked_at + t.
                cluster.call_at(
                    acked_at + ticks - 1, functools.partial(read, reader, key, dot, index)
                )

        pending[0] += 1 + len(read_ticks)
        cluster.submit(coordinator, PutRequest(key, b"x", (), w=w), on_put)

    step = 10 * 1000 * TICKS_PER_MS
    size = 1 if hold_writes_at_w else batch
    for first in range(0, trials, size):
        chunk = keys[first : first + size]
        for key in chunk:
            start(key)
        for _ in range(10_000):
            if not pending[0]:
                break
            cluster.run(until=cluster.now + step)
        if pending[0]:
            raise RuntimeError(f"pbs: {pending[0]} requests never answered (seed {seed})")
        if hold_writes_at_w:
            cluster.heal()
        if on_trials is not None:
            on_trials(len(chunk))
    return CoreMeasurement(
        fit=fit.name,
        r=r,
        w=w,
        trials=trials,
        times_ms=times,
        consistent=tuple(consistent),
        failures=failures[0],
    )


# -- the preset's table ---------------------------------------------------------------

PILOT_TIMES_MS = (0.0, *(0.125 * 2**k for k in range(15)))
"""The pilot's coarse grid: 0, then 0.125 ms doubling to 2,048 ms."""

FINE_POINTS = 16
"""Grid points of the main run around the pilot's crossing."""


def _fine_grid(pilot: CoreMeasurement) -> tuple[float, ...]:
    """A geometric grid from half the last pilot time below the target to twice the first
    at or above it (empty when the pilot is consistent enough already at t = 0)."""
    times = pilot.times_ms
    crossing = next(
        (i for i, c in enumerate(pilot.consistent) if c / pilot.trials >= CONSISTENCY_TARGET),
        None,
    )
    if crossing == 0:
        return ()
    if crossing is None:
        low, high = times[-1], times[-1] * 4
    else:
        low, high = max(times[crossing - 1], times[1]) / 2, times[crossing] * 2
    ratio = (high / low) ** (1 / (FINE_POINTS - 1))
    return tuple(low * ratio**i for i in range(FINE_POINTS))


@dataclass(frozen=True)
class PbsRow:
    """One (fit, R, W) line of the PBS table.

    Attributes:
        core: the core's measurement (main run).
        core_t_visibility_ms: the time the core's reads reach 99.9 % (None: beyond the grid).
        model: Monte Carlo of the protocol the core runs (coordinator is a replica).
        wars: Monte Carlo of PBS's own WARS (all N writes cross the network).
        paper_t_visibility_ms: PBS Table 4.
        agrees: at every reported time, ``model``'s probability lies in the core's 99 % interval.
    """

    core: CoreMeasurement
    core_t_visibility_ms: float | None
    model: MonteCarlo
    wars: MonteCarlo
    paper_t_visibility_ms: float

    @property
    def agrees(self) -> bool:
        """Whether the core agrees with its Monte Carlo model at every reported time."""
        return not self.disagreements()

    def disagreements(self) -> list[float]:
        """The reported times at which the model lies outside the core's 99 % interval."""
        out = []
        for t in REPORT_TIMES_MS:
            low, high = self.core.interval(t)
            if not low <= self.model.consistent_probability(t) <= high:
                out.append(t)
        return out


def measure_row(
    fit_name: str,
    *,
    r: int,
    w: int,
    trials: int,
    seed: int,
    model_trials: int = 100_000,
    on_trials: Callable[[int], None] | None = None,
) -> PbsRow:
    """Measure one (fit, R, W): pilot, main run, and both Monte Carlo models.

    The pilot runs ``trials // 8`` writes (at least 100); ``on_trials`` counts both.
    """
    fit = FITS[fit_name]
    pilot = measure_core(
        fit,
        r=r,
        w=w,
        times_ms=PILOT_TIMES_MS,
        trials=max(100, trials // 8),
        seed=seed,
        on_trials=on_trials,
    )
    core = measure_core(
        fit,
        r=r,
        w=w,
        times_ms=(*REPORT_TIMES_MS, *_fine_grid(pilot)),
        trials=trials,
        seed=seed + 1,
        on_trials=on_trials,
    )
    return PbsRow(
        core=core,
        core_t_visibility_ms=core.t_visibility_ms(),
        model=monte_carlo(
            fit, r=r, w=w, trials=model_trials, seed=seed + 2, coordinator_is_replica=True
        ),
        wars=monte_carlo(
            fit, r=r, w=w, trials=model_trials, seed=seed + 3, coordinator_is_replica=False
        ),
        paper_t_visibility_ms=PAPER_T_VISIBILITY_MS[(fit_name, r, w)],
    )


def pbs_table(
    *,
    trials: int = 10_000,
    seed: int = 1,
    fits: Sequence[str] = tuple(FITS),
    quorums: Sequence[tuple[int, int]] = QUORUMS,
    on_trials: Callable[[int], None] | None = None,
) -> list[PbsRow]:
    """Every (fit, R, W) row of the preset, in order."""
    return [
        measure_row(name, r=r, w=w, trials=trials, seed=seed, on_trials=on_trials)
        for name in fits
        for r, w in quorums
    ]


def trials_per_row(trials: int) -> int:
    """Writes one :func:`measure_row` runs (pilot and main), for a progress bar."""
    return max(100, trials // 8) + trials


def _ms(value: float | None) -> str:
    if value is None:
        return "beyond grid"
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def held_writes_check(*, trials: int = 2000, seed: int = 1) -> list[tuple[int, int, float, float]]:
    """Writes held at exactly W replicas, read at once: (R, W, core, closed form) for
    every partial quorum of N = 3 (LNKD-SSD latencies; the closed form needs none)."""
    rows = []
    for r, w in ((1, 1), (1, 2), (2, 1)):
        core = measure_core(
            FITS["LNKD-SSD"],
            r=r,
            w=w,
            times_ms=(0.0,),
            trials=trials,
            seed=seed,
            hold_writes_at_w=True,
        )
        rows.append((r, w, core.probability(0.0), closed_form_consistency(n=3, r=r, w=w)))
    return rows


def print_pbs(
    rows: Sequence[PbsRow], held: Sequence[tuple[int, int, float, float]] = ()
) -> list[str]:
    """The PBS tables: the core beside its Monte Carlo model, PBS's WARS and PBS Table 4."""
    trials = rows[0].core.trials if rows else 0
    header = (
        f"{'fit':10} {'R':>1} {'W':>1} "
        + " ".join(f"{'t=' + format(t, 'g') + 'ms':>8}" for t in REPORT_TIMES_MS)
        + f" {'core':>11} {'model MC':>9} {'WARS MC':>9} {'PBS T4':>7}  model in 99% CI"
    )
    lines = [
        f"PBS: P(a read t ms after the write's ack returns it), N=3, strict quorum; the core "
        f"in the simulator, {trials:,} writes per row",
        f"{'':24}{'P(consistent), core':^35} {'---- t (ms) reaching 99.9% ----':>41}",
        header,
    ]
    for row in rows:
        core = row.core
        cells = " ".join(f"{core.probability(t):>8.2%}" for t in REPORT_TIMES_MS)
        missed = row.disagreements()
        verdict = "yes" if not missed else "NO at t=" + ",".join(f"{t:g}" for t in missed)
        lines.append(
            f"{core.fit:10} {core.r:>1} {core.w:>1} {cells} {_ms(row.core_t_visibility_ms):>11} "
            f"{_ms(row.model.t_visibility_ms()):>9} {_ms(row.wars.t_visibility_ms()):>9} "
            f"{_ms(row.paper_t_visibility_ms):>7}  {verdict}"
        )
    points = len(rows) * len(REPORT_TIMES_MS)
    inside = points - sum(len(row.disagreements()) for row in rows)
    lines.append(
        f"the model lies inside the core's 99% interval at {inside} of {points} points "
        f"(by chance alone about {points / 100:.1f} points fall outside a 99% interval)"
    )
    commit_rows = [row for row in rows if (row.core.r, row.core.w) == (1, 1)]
    if commit_rows:
        lines += [
            "",
            "right after commit (t=0), R=W=1: core, its model, PBS's WARS, PBS §5.6",
            f"{'fit':10} {'core':>8} {'model MC':>9} {'WARS MC':>9} {'PBS §5.6':>9}",
        ]
        for row in commit_rows:
            lines.append(
                f"{row.core.fit:10} {row.core.probability(0.0):>8.2%} "
                f"{row.model.consistent_probability(0.0):>9.2%} "
                f"{row.wars.consistent_probability(0.0):>9.2%} "
                f"{PAPER_CONSISTENT_AT_COMMIT[row.core.fit]:>9.1%}"
            )
    if held:
        lines += [
            "",
            "writes held at exactly W replicas, read at t=0: core vs 1 - C(N-W,R)/C(N,R)",
        ]
        for r, w, core_p, closed in held:
            lines.append(f"  R={r} W={w}  core {core_p:.2%}  closed form {closed:.2%}")
    lines.append(
        "model MC: the protocol the core runs (the put coordinator is a replica and writes "
        "its copy locally); WARS MC: PBS's model (all N writes cross the network)"
    )
    return lines
