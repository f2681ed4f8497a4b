"""One chaos run: a real cluster, a client workload, a nemesis, and the checkers.

The run starts a cluster (loopback, or network-namespace hosts), lets the client threads
work while the nemesis opens and heals fault windows, then stops the faults and the clients,
waits until the cluster is whole again (every node back, hints handed off), reads every key
one last time from all its replicas, stops the nodes and reads what each replica holds on
disk. The verdict comes from the simulator's own history checkers
(:class:`~dynamokv.impl.sim.History`) over the recorded requests, and, for carts, from
counting the acknowledged items the final carts lack.

A run is *valid* only if it could have found a problem: enough acknowledged adds, a
request failed or timed out inside every fault window (so the faults bit), and the
last-write-wins carts lost something (so losses are observable at all). An invalid run is
reported as such, never as a pass.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dynamokv.impl.client import Client, GetReply
from dynamokv.impl.core import NodeConfig, Version, covers
from dynamokv.impl.runtime._local_cluster import LocalCluster
from dynamokv.impl.runtime._metrics import TOMBSTONES_HELD_METRIC, TOMBSTONES_REAPED_METRIC
from dynamokv.impl.sim import History, OpRecord
from dynamokv.spec.errors import ArgumentError

from ._nemesis import Nemesis
from ._recorder import Recorder
from ._workloads import (
    LWW,
    UNION,
    Workload,
    final_items,
    run_cart_client,
    run_register_client,
    summarize_adds,
)

__all__ = [
    "WORKLOADS",
    "ChaosConfig",
    "ChaosReport",
    "cluster_client_factory",
    "run_chaos",
    "stored_versions",
]

WORKLOADS = ("carts", "register")
SETTLE_SECONDS_MAX = 120.0
"""After the faults: the longest wait for every node to be back and the hints drained."""

REAP_SECONDS_MAX = 60.0
"""With ``reap_grace_seconds``: how much longer than the grace to wait for the last reaps."""

FINAL_READER = 1_000
"""The client id of the reads made after the reaps."""

Say = Callable[[str], None]


@dataclass(frozen=True, kw_only=True)
class ChaosConfig:
    """What one run does.

    Attributes:
        workload: ``carts`` or ``register``.
        nemesis: fault kinds (``partition``, ``one-way``, ``kill``, ``pause``, and
            ``membership`` for carts), in turn.
        seconds: how long the clients work while the nemesis runs.
        seed: every random choice of the run (schedule, victims, client keys).
        directory: where the cluster, its logs and the history are kept.
        nodes: cluster size.
        clients: client threads per family (carts: union and LWW each; register: total).
        keys: carts per family, or registers.
        netns: network-namespace hosts instead of loopback (root).
        tls: mutual TLS between peers and HTTPS for the clients.
        fault_seconds: how long each fault is held.
        quiet_seconds: healthy time before each fault.
        timeout_seconds: a client's timeout per request.
        acknowledged_adds_min: fewer acknowledged union adds make the run invalid.
        r: the cluster's read quorum (default 2).
        w: the cluster's write quorum (default 2); ``r + w <= 3`` on a register run is a
            planted weakness that the checker must catch (stale reads).
        reap_grace_seconds: the nodes' ``tombstone_grace_seconds``: with a few seconds, a
            register run's deleted keys are reaped while the nemesis works, and a value a
            reaped tombstone deleted that came back would be a stale read. ``None``: the
            nodes' default (an hour: nothing is reaped within a run).
    """

    workload: str
    nemesis: tuple[str, ...]
    seconds: float
    seed: int
    directory: Path
    nodes: int = 5
    clients: int = 6
    keys: int = 3
    netns: bool = False
    tls: bool = False
    fault_seconds: float = 6.0
    quiet_seconds: float = 3.0
    timeout_seconds: float = 3.0
    acknowledged_adds_min: int = 2000
    r: int = 2
    w: int = 2
    reap_grace_seconds: int | None = None

    def __post_init__(self) -> None:
        if self.workload not in WORKLOADS:
            raise ArgumentError(f"workload must be one of {', '.join(WORKLOADS)}")
        if not 3 <= self.nodes <= 16:
            raise ArgumentError("nodes must be in 3..16")
        if not 1 <= self.clients <= 64 or not 1 <= self.keys <= 64:
            raise ArgumentError("clients and keys must be in 1..64")
        if not (1 <= self.r <= 3 and 1 <= self.w <= 3):
            raise ArgumentError("r and w must be in 1..3 (N = 3)")
        if not 1 <= self.seconds <= 24 * 3600:
            raise ArgumentError("seconds must be in 1..86400")
        if self.reap_grace_seconds is not None:
            if self.workload != "register":
                raise ArgumentError("reap grace is for the register workload (carts never delete)")
            if not 1 <= self.reap_grace_seconds <= 86400:
                raise ArgumentError("reap grace must be in 1..86400 seconds")
        if self.workload == "register" and "membership" in self.nemesis:
            raise ArgumentError(
                "the register workload cannot take the membership nemesis: a strict "
                "quorum's read-your-writes holds only on a ring that does not change "
                "(Dynamo §4.8.1); use it with the carts workload"
            )


@dataclass
class ChaosReport:
    """What a run found; :meth:`to_json` is what ``dynamokv chaos --json`` prints."""

    config: ChaosConfig
    windows: list[dict[str, Any]] = field(default_factory=list)
    availability: list[dict[str, Any]] = field(default_factory=list)
    carts: dict[str, Any] = field(default_factory=dict)
    register: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    invalid_reasons: list[str] = field(default_factory=list)
    nemesis_errors: list[str] = field(default_factory=list)
    history_path: str = ""
    logs_path: str = ""
    requests: int = 0
    elapsed_seconds: float = 0.0

    @property
    def valid(self) -> bool:
        """Whether the run could have found a problem (see the module docstring)."""
        return not self.invalid_reasons

    @property
    def passed(self) -> bool:
        """No checker violation and no acknowledged union item lost."""
        lost = self.carts.get(UNION, {}).get("lost", 0)
        return not self.violations and not lost

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        config = self.config
        return {
            "workload": config.workload,
            "nemesis": list(config.nemesis),
            "seconds": config.seconds,
            "seed": config.seed,
            "nodes": config.nodes,
            "r": config.r,
            "w": config.w,
            "netns": config.netns,
            "tls": config.tls,
            "valid": self.valid,
            "passed": self.passed,
            "invalid_reasons": self.invalid_reasons,
            "violations": self.violations,
            "carts": self.carts,
            "register": self.register,
            "availability": self.availability,
            "windows": self.windows,
            "nemesis_errors": self.nemesis_errors,
            "requests": self.requests,
            "history": self.history_path,
            "logs": self.logs_path,
            "elapsed_seconds": round(self.elapsed_seconds, 1),
        }


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def _availability(
    records: list[OpRecord], windows: list[dict[str, Any]], adds_by_kind: dict[str, list[bool]]
) -> list[dict[str, Any]]:
    """One row per fault kind (and ``none``): requests and writes acknowledged, latency."""
    spans = [(w["kind"], w["start_ns"], w["end_ns"] or math.inf) for w in windows]

    def kind_at(at_ns: int) -> str:
        for kind, start, end in spans:
            if start <= at_ns < end:
                return str(kind)
        return "none"

    rows: dict[str, dict[str, Any]] = {}
    latencies: dict[str, list[float]] = {}
    for record in records:
        kind = kind_at(record.start)
        row = rows.setdefault(
            kind, {"fault": kind, "requests": 0, "ok": 0, "writes": 0, "writes_ok": 0}
        )
        row["requests"] += 1
        row["ok"] += record.ok
        if record.kind != "get":
            row["writes"] += 1
            row["writes_ok"] += record.ok
            if record.ok and record.end is not None:
                latencies.setdefault(kind, []).append((record.end - record.start) / 1e6)
    result = []
    for kind in ["none", *sorted(k for k in rows if k != "none")]:
        if kind not in rows:
            continue
        row = rows[kind]
        outcomes = adds_by_kind.get(kind, [])
        row["requests_ok_fraction"] = row["ok"] / row["requests"] if row["requests"] else None
        row["writes_ok_fraction"] = row["writes_ok"] / row["writes"] if row["writes"] else None
        row["client_writes"] = len(outcomes)
        row["client_writes_ok"] = sum(outcomes)
        row["client_writes_ok_fraction"] = sum(outcomes) / len(outcomes) if outcomes else None
        row["write_latency_ms_p50"] = _percentile(latencies.get(kind, []), 0.50)
        row["write_latency_ms_p99"] = _percentile(latencies.get(kind, []), 0.99)
        row["windows"] = sum(1 for w in windows if w["kind"] == kind)
        result.append(row)
    return result


def run_chaos(
    config: ChaosConfig,
    *,
    say: Say = lambda _line: None,
    on_second: Callable[[float], None] = lambda _elapsed: None,
) -> ChaosReport:
    """Run ``config`` and return its report (the cluster is stopped on return).

    Args:
        config: the run.
        say: called with one line per step (cluster start, each fault, settling).
        on_second: called about once a second with the seconds the workload has run.
    """
    started = time.monotonic()
    report = ChaosReport(config)
    rng = random.Random(config.seed)
    directory = config.directory
    directory.mkdir(parents=True, exist_ok=True)
    strict = config.workload == "register"
    recorder = Recorder()
    with LocalCluster(
        directory / "cluster",
        nodes=config.nodes,
        r=config.r,
        w=config.w,
        strict=strict,
        netns=config.netns,
        tls=config.tls,
        progress=say,
        cluster_options=(
            {}
            if config.reap_grace_seconds is None
            else {"tombstone_grace_seconds": config.reap_grace_seconds}
        ),
    ) as cluster:
        cluster.up()
        report.logs_path = str(cluster.directory / "logs")
        addresses = {name: cluster.http_address(name) for name in cluster.names}
        client_factory = cluster_client_factory(cluster)
        workload = Workload(
            addresses,
            recorder,
            deadline=time.monotonic() + config.seconds,
            timeout_seconds=config.timeout_seconds,
            client_factory=client_factory,
        )
        if config.workload == "carts":
            families = {
                b"cart-%s-%d" % (family.encode(), index): family
                for family in (UNION, LWW)
                for index in range(config.keys)
            }
            workload_keys = sorted(families)
            carts_of = {
                family: [cart for cart, f in families.items() if f == family]
                for family in (UNION, LWW)
            }
            specs = [family for family in (UNION, LWW) for _ in range(config.clients)]
            threads = [
                threading.Thread(
                    target=run_cart_client,
                    args=(workload, client_id, family, carts_of[family], rng.getrandbits(64)),
                    name=f"{family}-{client_id}",
                    daemon=True,
                )
                for client_id, family in enumerate(specs)
            ]
        else:
            registers = [b"register-%d" % index for index in range(config.keys)]
            workload_keys = registers
            threads = [
                threading.Thread(
                    target=run_register_client,
                    args=(workload, client_id, registers, rng.getrandbits(64)),
                    name=f"register-{client_id}",
                    daemon=True,
                )
                for client_id in range(config.clients)
            ]
        nemesis = Nemesis(
            cluster,
            config.nemesis,
            random.Random(rng.getrandbits(64)),
            fault_seconds=config.fault_seconds,
            quiet_seconds=config.quiet_seconds,
            say=say,
            preference_lists=list(_owners(cluster, workload_keys, client_factory).values()),
            deadline=workload.deadline,
        )
        say(
            f"{len(threads)} clients for {config.seconds:.0f} s, nemesis {','.join(config.nemesis)}"
        )
        for thread in threads:
            thread.start()
        nemesis.start()
        began = time.monotonic()
        try:
            while time.monotonic() < workload.deadline:
                time.sleep(min(1.0, max(0.0, workload.deadline - time.monotonic())))
                on_second(time.monotonic() - began)
        finally:
            nemesis.stop()
            workload.stop.set()
            for thread in threads:
                thread.join(timeout=config.timeout_seconds * 4 + 30)
        report.nemesis_errors = list(nemesis.errors)
        report.windows = [
            {"kind": w.kind, "detail": w.detail, "start_ns": w.start_ns, "end_ns": w.end_ns}
            for w in nemesis.windows
        ]
        say("faults over: waiting for every node to be back and every hint handed off")
        _settle(cluster, say)
        if config.reap_grace_seconds is not None:
            _await_reaping(cluster, config.reap_grace_seconds, say)
            # Reads after the reaps, judged with the rest: a deleted value that came back
            # is a read older than the delete acknowledged before it.
            with client_factory(cluster.http_address(1), config.timeout_seconds * 4) as client:
                for register in registers:
                    recorder.get(client, FINAL_READER, "node-1", register, None)
        keys = sorted({record.key for record in recorder.records})
        owners = _owners(cluster, keys, client_factory)
        if config.workload == "carts":
            final = final_items(
                lambda key: _read_all(cluster, key, client_factory, config.nodes), families
            )
            report.carts = summarize_adds(workload.adds, final)
        # Counted by each node since it last started: a lower bound over the run.
        tombstones_reaped = (
            sum(int(cluster.metrics(n).get(TOMBSTONES_REAPED_METRIC, 0)) for n in cluster.names)
            if strict
            else 0
        )
        cluster.down()
        held = {
            name: stored_versions(cluster.processes[name].data_dir, keys) for name in cluster.names
        }
    recorder.finish()
    reaping = config.reap_grace_seconds is not None
    history = History(
        records=recorder.records,
        vector_clock_threshold=NodeConfig().vector_clock_threshold,
        reaping=reaping,
    )
    history.check_phantoms()
    history.check_false_siblings()
    if strict:
        history.check_read_your_writes()
        gets = [r for r in recorder.records if r.kind == "get"]
        puts = [r for r in recorder.records if r.kind != "get"]
        report.register = {
            "reads": len(gets),
            "reads_ok": sum(r.ok for r in gets),
            "writes": len(puts),
            "writes_ok": sum(r.ok for r in puts),
            "deletes_ok": sum(r.ok for r in puts if r.kind == "delete"),
            "tombstones_reaped": tombstones_reaped,
            "stale_reads": sum("property 4" in v for v in history.violations),
        }
    _check_durable(recorder, owners, held, history, reaping=reaping)
    report.violations = list(history.violations)
    report.requests = len(recorder.records)
    adds_by_kind = _adds_by_kind(workload.adds, report.windows)
    report.availability = _availability(recorder.records, report.windows, adds_by_kind)
    report.invalid_reasons = _invalid_reasons(config, report, recorder)
    history_path = directory / "history.jsonl"
    recorder.write_jsonl(
        history_path,
        extra=[{"windows": report.windows, "seed": config.seed, "workload": config.workload}],
    )
    report.history_path = str(history_path)
    report.elapsed_seconds = time.monotonic() - started
    (directory / "report.json").write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return report


def cluster_client_factory(cluster: LocalCluster) -> Callable[[str, float], Client]:
    """``factory(address, timeout_seconds)`` -> a client that speaks ``cluster``'s protocol
    (HTTPS with the cluster's client certificate when it runs with TLS)."""
    context = cluster.ssl_context

    def factory(address: str, timeout_seconds: float) -> Client:
        return Client(address, timeout_seconds=timeout_seconds, ssl_context=context)

    return factory


def _adds_by_kind(adds: list[Any], windows: list[dict[str, Any]]) -> dict[str, list[bool]]:
    by_kind: dict[str, list[bool]] = {}
    for add in adds:
        kind = "none"
        for window in windows:
            if window["start_ns"] <= add.start_ns < (window["end_ns"] or math.inf):
                kind = window["kind"]
                break
        by_kind.setdefault(kind, []).append(add.acknowledged)
    return by_kind


def _settle(cluster: LocalCluster, say: Say) -> None:
    """Every node running, resumed, healed; then wait until no hint is pending."""
    for name in cluster.names:
        if cluster.is_paused(name):
            cluster.resume(name)
        elif not cluster.is_up(name):
            cluster.restart(name)
    cluster.heal()
    deadline = time.monotonic() + SETTLE_SECONDS_MAX
    while time.monotonic() < deadline:
        if cluster.hints_pending() == 0:
            return
        time.sleep(0.5)
    say(f"hints still pending after {SETTLE_SECONDS_MAX:.0f} s")


def _await_reaping(cluster: LocalCluster, grace_seconds: int, say: Say) -> None:
    """Until no node holds a tombstone (every deleted key reaped), bounded."""
    deadline = time.monotonic() + grace_seconds + REAP_SECONDS_MAX
    say("waiting until every deleted register is reaped")
    # Bounded by the deadline; each try reads every node's metrics once.
    while time.monotonic() < deadline:
        held = sum(
            int(cluster.metrics(name).get(TOMBSTONES_HELD_METRIC, 1)) for name in cluster.names
        )
        if held == 0:
            return
        time.sleep(0.5)
    say(f"tombstones still held {grace_seconds + REAP_SECONDS_MAX:.0f} s after the faults")


def _owners(
    cluster: LocalCluster, keys: list[bytes], client_factory: Callable[[str, float], Client]
) -> dict[bytes, list[str]]:
    from urllib.parse import quote

    with client_factory(cluster.http_address(1), 10.0) as client:
        return {
            key: list(client.json(f"/cluster/ring?key={quote(key)}")["key"]["preference_list"])
            for key in keys
        }


def _read_all(
    cluster: LocalCluster, key: bytes, client_factory: Callable[[str, float], Client], n: int
) -> GetReply | None:
    """A read with R = N (every replica answers, so every sibling is seen), retried."""
    deadline = time.monotonic() + 60
    # Bounded by the deadline; each try is one request per node.
    while time.monotonic() < deadline:
        for name in cluster.names:
            try:
                with client_factory(cluster.http_address(name), 10.0) as client:
                    return client.get(key, r=min(3, n))
            except Exception:
                continue
        time.sleep(0.5)
    return None


def stored_versions(data_dir: str, keys: list[bytes]) -> dict[bytes, frozenset[Any]]:
    """What one stopped node holds for ``keys``, read from its store on disk."""
    from dynamokv.impl.persist import StoreAdapter
    from dynamokv.impl.storage import StoreOptions

    adapter = StoreAdapter.open(data_dir, options=StoreOptions(fsync="none"))
    try:
        return {key: frozenset(adapter.read_versions(key)) for key in keys}
    finally:
        adapter.close()


def _check_durable(
    recorder: Recorder,
    owners: dict[bytes, list[str]],
    held: dict[str, dict[bytes, frozenset[Any]]],
    history: History,
    *,
    reaping: bool,
) -> None:
    """Property 1 at rest: every owner holds each acknowledged version or a successor.

    With ``reaping`` a delete's tombstone may be gone, so what a delete superseded is
    checked instead: a version an acknowledged delete superseded need not be held (its
    absence is the point), and an acknowledged tombstone is kept if no value it deleted is
    held.
    """
    # Per key, every acknowledged tombstone. None is left out for being superseded by a
    # later one: supersession is not transitive across a reap. A put after the reap starts
    # from an empty context, and its dot's counter (node-wide) still covers the reaped
    # tombstone's dot from the same node, though not what that tombstone deleted.
    deletes: dict[bytes, list[Version]] = {}
    if reaping:
        for record in recorder.acked():
            tombstone = record.version
            if record.kind == "delete" and tombstone is not None:
                deletes.setdefault(record.key, []).append(tombstone)
    missing: dict[tuple[bytes, str], int] = {}
    for record in recorder.acked():
        version = record.version
        assert version is not None
        deleted_by = tuple(deletes.get(record.key, ()))
        for owner in owners.get(record.key, []):
            stored = held[owner][record.key]
            if reaping and version.value is None:
                if not any(v.value is not None and covers((version,), v) for v in stored):
                    continue
            elif reaping and covers(deleted_by, version):
                continue
            if not covers(stored, version):
                missing[(record.key, owner)] = missing.get((record.key, owner), 0) + 1
    for (key, owner), count in sorted(missing.items()):
        history.violations.append(
            f"property 1: {owner} lacks {count} acknowledged version(s) of {key!r}"
        )


def _invalid_reasons(config: ChaosConfig, report: ChaosReport, recorder: Recorder) -> list[str]:
    reasons = []
    if not report.windows:
        reasons.append("no fault window ran (is --seconds longer than the quiet time?)")
    for window in report.windows:
        if window["kind"] == "membership":
            continue  # a join or a leave breaks nothing: no request need fail
        end = window["end_ns"] or math.inf
        # A request that failed while the fault was on, even one sent just before it began
        # (a request in flight when a node is paused times out inside the window).
        bit = any(
            not record.ok
            and record.start < end
            and (record.end if record.end is not None else math.inf) >= window["start_ns"]
            for record in recorder.records
        )
        if not bit:
            reasons.append(f"no request failed during {window['kind']} ({window['detail']})")
    if config.workload == "carts":
        acknowledged = report.carts.get(UNION, {}).get("acknowledged", 0)
        if acknowledged < config.acknowledged_adds_min:
            reasons.append(
                f"{acknowledged} acknowledged union adds (< {config.acknowledged_adds_min})"
            )
        if not report.carts.get(LWW, {}).get("lost"):
            reasons.append("the last-write-wins carts lost nothing")
    else:
        # The registers' checks compare gets with the writes acknowledged before them:
        # without one such pair a run checks nothing, whatever else it did.
        first_ack: dict[bytes, int] = {}
        for record in recorder.records:
            if record.ok and record.kind != "get" and record.end is not None:
                first_ack[record.key] = min(first_ack.get(record.key, record.end), record.end)
        if not any(
            record.ok
            and record.kind == "get"
            and record.start > first_ack.get(record.key, math.inf)
            for record in recorder.records
        ):
            reasons.append(
                "no successful get started after an acknowledged write of its key: nothing"
                " was compared (try a longer --seconds, or a milder nemesis)"
            )
        if config.reap_grace_seconds is not None and not report.register.get("tombstones_reaped"):
            reasons.append(
                "no tombstone was reaped: none stayed a register's newest version for the grace"
                " (try a shorter --reap-grace, more --keys or a longer --seconds)"
            )
    if report.nemesis_errors:
        reasons.append(f"the nemesis failed: {report.nemesis_errors[0]}")
    return reasons
