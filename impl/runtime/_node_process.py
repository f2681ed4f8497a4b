"""One Dynamo node as a real process: the trio driver of the sans-IO core.

:class:`NodeProcess` does for one :class:`~dynamokv.impl.core.Node` (the request path,
gossip membership, phi-accrual failure detection, partition transfer and Merkle
anti-entropy) what the simulator
(:mod:`dynamokv.impl.sim._simulated_cluster`) does for many, with real IO: it steps events into the
core and carries out the effects, in order. Everything the node *decides* stays in the
core; this module only moves bytes and time.

One request, from the HTTP handler to the WAL and back
------------------------------------------------------
Follow ``curl -X PUT --data-binary v http://127.0.0.1:7101/kv/cart`` on node A, where the
key's preference list (Dynamo §4.3) is A, B, C:

1. ``_http.HttpServer`` (httptools) parses the request on A's connection task and calls
   :meth:`NodeApi.handle <dynamokv.impl.runtime._api.NodeApi.handle>` (``_api.py``), which
   decodes the key (percent-encoded bytes), the ``X-Dynamo-Context`` header and ``?w=`` into
   a :class:`~dynamokv.impl.core.PutRequest` and awaits :meth:`NodeProcess.submit`.
2. :meth:`NodeProcess.submit` gives the request an id, registers a waiter and steps
   ``ClientRequest(id, request)`` into the core. The core (``_node.py``, Dynamo §4.5) sees
   that A is on the preference list, issues a new dot, merges the new version into what A
   holds, and returns effects: ``Persist`` (A's own write), a ``WriteRequest`` to send to B
   and one to C (a peer message is its own effect), and a ``SetTimer`` for the replica
   timeout. (Had A not been an owner, the effect would have been a ``ForwardRequest`` to an
   owner, which coordinates instead.)
3. :meth:`_execute` carries them out: ``Persist`` goes to :meth:`StoreWriter.apply
   <dynamokv.impl.runtime.StoreWriter.apply>`, which applies it to the node's
   :class:`~dynamokv.impl.persist.StoreAdapter` (pending writes, visible to the core's next
   read at once) and wakes the writer loop; each
   peer message is encoded by ``_codec.py``, framed by ``_frames.py`` and held by
   ``_peers.PeerPool``, which writes a step's frames with one non-blocking ``send`` per peer
   when the step is done (never blocking the step).
4. The writer loop (``_store_writer.py``) takes every persist applied since its last
   round, appends each store's records as one WAL record and has the store write and
   fsync them once (group commit, ``impl/storage``: WAL + memtable; on the event loop
   while the disk is fast, else on a worker thread), then steps
   ``PersistDone`` for each, in one ``_step``. Meanwhile B and C do
   the same with the ``WriteRequest``: their drivers step ``Receive``, persist, and only
   after *their* ``PersistDone`` does their core emit a ``WriteAck``.
5. The acks arrive on A's peer listener: :meth:`_on_peer_message` decodes and checks each
   one and steps ``Receive(WriteAck)``. Once W durable acks are in (A's own included), the
   core emits ``Reply(id, PutResult)``; :meth:`_execute` wakes the waiter, and the handler
   answers ``204`` with the new version's context in ``X-Dynamo-Context``.

Time: the core counts ticks. ``tick_ms`` of wall time is one tick (:meth:`now_ticks`); the
core asks for a wake-up with ``SetTimer(at)`` and the timer task steps ``Tick`` then.

Per-request cost is kept low on purpose (the cluster aims to out-write etcd): no
log line per request (logs are for significant events), no thread hop per request (nor,
while the disk is fast, per group commit), no cancel scope with a deadline per request (a
sweep task is the safety net), one ``send`` per peer per step, metrics are attribute
increments, and a waiter's ``trio.Event`` is made only if the reply did not come within the
same step. ``docs/benchmarks.md`` has the measurements.

Logs: one JSON object per line on stderr, ``{"ts", "node", "event", ...}``. Every module
logs ``"event key=value ..."`` through :mod:`logging`; :class:`JsonLogFormatter` turns such a
message into fields, so the transports need not know the format.
"""

from __future__ import annotations

import collections
import gc
import hashlib
import json
import logging
import random as random_module
import ssl
import sys
import time
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from dynamokv.impl.core import (
    ClientRequest,
    ForwardRequest,
    ForwardResponse,
    GetRequest,
    GetResult,
    GossipConfig,
    GossipMembership,
    GossipPacket,
    HealthView,
    MemberConfig,
    Message,
    Node,
    NodeConfig,
    PartitionRing,
    PeerInputError,
    Persist,
    PersistDone,
    PutRequest,
    PutResult,
    ReadRequest,
    ReadResponse,
    Receive,
    Reply,
    Request,
    Result,
    SetTimer,
    StoreVersions,
    Tick,
    WriteAck,
    WriteRequest,
)
from dynamokv.impl.storage import KEY_BYTES_MAX
from dynamokv.impl.storage import VALUE_BYTES_MAX as STORED_VALUE_BYTES_MAX
from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import ArgumentError

from ._codec import decode_message, encode_message
from ._config import NodeProcessConfig
from ._faults import FaultLayer, PeerFaults
from ._frames import FrameError
from ._http import HttpHandler, HttpLimits, HttpServer
from ._metrics import (
    HINTS_PENDING_METRIC,
    KEYS_METRIC,
    PARTITIONS_OWNED_METRIC,
    TOMBSTONES_HELD_METRIC,
    MetricsRegistry,
)
from ._peers import InboundPeer, PeerAddress, PeerPool, PeerPoolOptions
from ._store_writer import StoreWriter, memtable_scale_for_node
from ._tls import (
    NodeCertificatePaths,
    http_server_ssl_context,
    peer_client_ssl_context,
    peer_server_ssl_context,
)

__all__ = ["REPLY_TIMEOUT_SECONDS", "JsonLogFormatter", "NodeProcess", "configure_logging"]

_log = logging.getLogger("dynamokv.runtime.node")

REPLY_TIMEOUT_SECONDS = 30.0
"""A safety net: the core answers every request within its own timeouts (ticks); a request
still unanswered after this long is failed by the driver (and counted as a bug)."""

REPLY_REAPER_SECONDS = 1.0
"""How often the safety net looks for requests past :data:`REPLY_TIMEOUT_SECONDS`. One sweep
task instead of a cancel scope with a deadline per request: registering a deadline costs
trio ~8 µs (measured), paid by every request for a timeout that should never fire."""

DRAIN_SECONDS_MAX = 10.0
"""Graceful shutdown: longest wait for in-flight persists to become durable."""

GIL_SWITCH_INTERVAL_SECONDS = 0.0002
"""How long a thread may keep the GIL while another waits for it (Python's default: 5 ms),
set by :meth:`NodeProcess.run` for the process.

The trio thread shares the GIL with the group-commit writer and the store's flush and
compaction threads, which run long stretches of Python (encoding, building segments).
Each time the trio thread comes back from ``epoll_wait`` or a socket call while one of them
runs, it waited up to the whole interval before it could handle the bytes that woke it: a
convoy that put milliseconds on every request while the node's CPU sat idle. Measured on
this machine (3 nodes, bench W, wrk 16 connections, same CPU per put): 5 ms ~1,280 puts/s,
0.5 ms ~1,440, 0.05-0.2 ms ~1,600-1,660."""

GC_FULL_COLLECTION_SECONDS = 600.0
"""How often a serving node runs a full garbage collection (:meth:`NodeProcess.run`).

Python's collector also runs a full collection on its own whenever a quarter more objects
have survived into the oldest generation since the last one, and a full collection walks
every tracked object the node holds: its stored versions cached decoded, Merkle trees,
the ring. On a node holding 10,000 keys that is 20-130 ms of CPU (measured, 3-node bench
W, ``docs/benchmarks.md``), with nothing else running on the event loop meanwhile, once
every 10-20 s under writes: the longest steps the event loop took, and with them the
tail of every request scheduled during one. While serving, the node turns that automatic
full collection off (the young generations, 0.2-1.4 ms each, still run as usual), freezes
what exists when it starts serving (modules, configuration, recovered state: never
garbage, never walked again) and collects fully on this period instead, so garbage in
reference cycles that lived long enough to reach the oldest generation is still freed."""

GC_OLDEST_GENERATION_THRESHOLD_NEVER = 2**31 - 1
"""A threshold for the oldest generation that the collector never reaches on its own."""

_MEMBER_DEFAULTS = MemberConfig()

ANTI_ENTROPY_SLICES = 8
"""A node process compares its Merkle roots with a peer in rounds this many times smaller,
and this many times more often, than :class:`~dynamokv.impl.core.MemberConfig`'s defaults
(128 partitions every 5 ticks instead of 1,024 every 40): the same partitions per second
(Dynamo §4.7), in steps an eighth as long. A roots round reads the root of every partition
it names, and a root read first rehashes the partition's tree if it was written since
(its dirty paths); under writes a round of 1,024 made 72 % of a 4-4.6 ms timer step on the
sender, and as long a step on the peer that compares them, during which the event loop
answered nothing. In rounds of 128, the event loop's steps over 1 ms of CPU are less than
half as many as in rounds of 256 (measured, 3-node bench W, ``docs/benchmarks.md``)."""


class _CollectorWhileServing:
    """The collector's settings while any node of this process serves (tests run several).

    The first node to serve saves the thresholds, freezes what exists and turns the
    automatic full collection off; the last one to stop restores them and unfreezes.
    """

    def __init__(self) -> None:
        self._serving = 0
        self._threshold_before = gc.get_threshold()

    def enter(self) -> None:
        if self._serving == 0:
            self._threshold_before = gc.get_threshold()
            gc.freeze()
            young, middle, _ = self._threshold_before
            gc.set_threshold(young, middle, GC_OLDEST_GENERATION_THRESHOLD_NEVER)
        self._serving += 1

    def exit(self) -> None:
        self._serving -= 1
        if self._serving == 0:
            gc.set_threshold(*self._threshold_before)
            gc.unfreeze()


_collector_while_serving = _CollectorWhileServing()

TRACES_MAX = 64
"""Traced requests (``?trace=1``) in flight at once; more are served untraced."""


# -- logging -----------------------------------------------------------------------------


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record: ``{"ts", "node", "level", "event", key: value, ...}``.

    A message ``"peer.connected peer=127.0.0.1:7201"`` becomes
    ``{"event": "peer.connected", "peer": "127.0.0.1:7201"}``; a value that does not parse
    as ``key=value`` is kept under ``"message"``.
    """

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        text = record.getMessage()
        event, _, rest = text.partition(" ")
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "node": self.node,
            "level": record.levelname.lower(),
            "event": event,
        }
        extra: list[str] = []
        for part in _split_fields(rest):
            name, sep, value = part.partition("=")
            if sep and name.isidentifier() and name not in entry:
                entry[name] = value
            else:
                extra.append(part)
        if extra:
            entry["message"] = " ".join(extra)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


def _split_fields(text: str) -> list[str]:
    """``a=1 b=x y`` -> ``["a=1", "b=x y"]``: a value runs until the next ``name=``."""
    fields: list[str] = []
    for token in text.split(" "):
        if not token:
            continue
        name, sep, _ = token.partition("=")
        if (sep and name.isidentifier()) or not fields:
            fields.append(token)
        else:
            fields[-1] += " " + token
    return fields


def configure_logging(node: str, *, level: int = logging.INFO) -> None:
    """Send every ``dynamokv`` log record to stderr as one JSON line."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLogFormatter(node))
    root = logging.getLogger("dynamokv")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


# -- traces (?trace=1) ---------------------------------------------------------------------


@dataclass(slots=True)
class _Trace:
    """What the driver saw of one traced request, from the core's effects and messages."""

    key: bytes
    is_put: bool
    started: float
    request_id: int = 0
    op_id: int | None = None
    persist_id: int | None = None
    persist_at: float = 0.0
    fsync_ms: float | None = None
    durable_ms: float | None = None
    forwarded_to: str | None = None
    targets: list[tuple[str, str | None]] = field(default_factory=list)
    responses: list[tuple[str, float]] = field(default_factory=list)
    reply_ms: float | None = None


@dataclass(slots=True)
class _Waiter:
    deadline: float
    result: Result | None = None
    event: trio.Event | None = None


def _bootstrap_owners(config: NodeProcessConfig) -> tuple[str, ...]:
    """The ring every initial member starts with: strategy 3 over the configured members,
    weighted when any member carries a weight other than 1."""
    weights = {member.name: member.weight for member in config.members}
    if len(set(weights.values())) == 1:
        return spec_ring.assign_partitions(sorted(weights), config.partition_count)
    return spec_ring.assign_partitions_weighted(weights, config.partition_count)


def _parse_address(text: str) -> PeerAddress | None:
    """``"host:port"`` (as gossiped) as a :class:`PeerAddress`, or None if malformed."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return PeerAddress(host.strip("[]"), int(port))


# -- the driver ----------------------------------------------------------------------------


class NodeProcess:
    """A node: the core, its storage, its peer connections, its HTTP API and its timer.

    Args:
        config: the validated configuration.
        store: the storage and its writer loop (default: :meth:`StoreWriter.open` on
            ``config.data_dir``);
            tests pass a wrapped store to slow down or observe fsyncs.
        node_config: the core's knobs (default: N, R, W and strict from ``config``).
        random: the core's only source of randomness (default: seeded from the OS).
        message_types: peer message types this node's core accepts (default: the core's
            :data:`~dynamokv.impl.core.Message`); anything else closes the connection.
        member_config: gossip, failure detection, handoff and anti-entropy knobs
            (default: the core's, with ``partition_count`` from ``config``).
    """

    def __init__(
        self,
        config: NodeProcessConfig,
        *,
        store: StoreWriter | None = None,
        node_config: NodeConfig | None = None,
        random: random_module.Random | None = None,
        message_types: Iterable[type] | None = None,
        member_config: MemberConfig | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.metrics = MetricsRegistry()
        self.random = random or random_module.Random()
        self.store = store or StoreWriter.open(
            config.data_dir,
            fsync=config.fsync,
            metrics=self.metrics,
            memtable_scale=memtable_scale_for_node(
                config.name, (member.name for member in config.members)
            ),
        )
        # N as configured: the core caps it at each ring's node count, so every node agrees
        # on a ring's N (its preference lists) whatever members it started with; a node of
        # a 2-node cluster that a third joins replicates to 3 like the newcomer. R and W are
        # capped at the starting count, so that a cluster started smaller than R or W answers.
        self.node_config = node_config or NodeConfig(
            n=config.n,
            r=min(config.r, config.replication_factor),
            w=min(config.w, config.replication_factor),
            strict_quorum=config.strict,
        )
        if self.node_config.version_set_bytes_max > STORED_VALUE_BYTES_MAX:
            # A key's versions are one record of the store: a merge the store would refuse
            # must be refused by the core first, never reach the writer.
            raise ArgumentError(
                f"version_set_bytes_max ({self.node_config.version_set_bytes_max}) must not "
                f"exceed the store's largest record, {STORED_VALUE_BYTES_MAX} bytes"
            )
        self.peer_addresses = {
            m.name: PeerAddress(m.host, m.peer_port) for m in config.members if m.name != self.name
        }
        # A fresh cluster from TOML: the configured members own ring version 1 and are the
        # seeds; a restart ignores the bootstrap ring and rejoins with the one it persisted.
        self.node = Node(
            self.name,
            config=self.node_config,
            storage=self.store.adapter,
            random=self.random,
            member_config=member_config
            or MemberConfig(
                gossip=GossipConfig(
                    partition_count=config.partition_count,
                    gossip_period_ticks=config.gossip_period_ticks,
                ),
                anti_entropy_interval_ticks=max(
                    1, _MEMBER_DEFAULTS.anti_entropy_interval_ticks // ANTI_ENTROPY_SLICES
                ),
                roots_per_message_max=max(
                    1, _MEMBER_DEFAULTS.roots_per_message_max // ANTI_ENTROPY_SLICES
                ),
                tombstone_grace_ticks=(
                    config.tombstone_grace_seconds * 1000 // config.tick_ms
                    if config.tombstone_grace_seconds
                    else None
                ),
            ),
            # Peers reach this node where its member entry says, which need not be the
            # address it binds (0.0.0.0 binds every interface; peers need one of them).
            address=f"{config.member.host}:{config.peer_port}",
            seeds={m.name: f"{m.host}:{m.peer_port}" for m in config.members},
            bootstrap_owners=None if config.joining else _bootstrap_owners(config),
            now=0,
            weight=config.weight,
        )
        self._peer_input = self.node.peer_input(key_bytes_max=KEY_BYTES_MAX)
        self.http_addresses = {m.name: f"{m.host}:{m.http_port}" for m in config.members}
        self.message_types = tuple(message_types or typing.get_args(Message))
        self.tick_seconds = config.tick_ms / 1000
        self.http_port = 0
        self.peer_port = 0
        self.started_at = time.time()
        self.state = "starting"
        self._epoch = 0.0
        self._events: collections.deque[Any] = collections.deque()
        self._stepping = False
        self._request_seq = 0
        self._waiting: dict[int, _Waiter] = {}
        # Persists an admin command waits on, by id: set once durable.
        self._durable_events: dict[int, trio.Event] = {}
        self._timer_at: int | None = None
        self._timer_changed = trio.Event()
        self._traces: dict[int, _Trace] = {}
        self._shutdown = trio.Event()
        self._pool: PeerPool | None = None
        self._http: HttpServer | None = None
        self.faults = FaultLayer(enabled=config.fault_injection)
        self._faults_active = False
        self._faults_changed = trio.Event()
        self._effect_handlers: dict[type, Callable[[Any], None]] = {
            # A peer message is its own effect: send it.
            **dict.fromkeys(typing.get_args(Message), self._do_send),
            Persist: self._do_persist,
            Reply: self._do_reply,
            SetTimer: self._do_set_timer,
        }
        self._init_metrics()

    @property
    def ring(self) -> PartitionRing:
        """The ring this node has adopted (by gossip, or the bootstrap one)."""
        return self.node.ring

    def peer_connected(self, name: str) -> bool | None:
        """Whether the connection to configured peer ``name`` is up (None: not a peer)."""
        address = self.peer_addresses.get(name)
        if address is None or self._pool is None:
            return None
        return self._pool.is_connected(address)

    @property
    def health(self) -> HealthView:
        """The request path's health view: phi-accrual suspicion plus request timeouts."""
        return self.node.health

    @property
    def gossip(self) -> GossipMembership:
        """The node's gossip membership (a node process always runs gossip)."""
        gossip = self.node.gossip
        assert gossip is not None
        return gossip

    # -- metrics -------------------------------------------------------------------------

    def _init_metrics(self) -> None:
        metrics = self.metrics
        self.unroutable = metrics.counter(
            "dynamokv_messages_unroutable_total", "Messages to a node with no known address"
        )
        self.misrouted = metrics.counter(
            "dynamokv_messages_misrouted_total", "Messages received for another node (dropped)"
        )
        self.rejected = metrics.counter(
            "dynamokv_messages_rejected_total",
            "Inbound messages refused (unknown type, bad field, wrong sender); closes the connection",
        )
        self.reply_timeouts = metrics.counter(
            "dynamokv_reply_timeouts_total", "Requests the core never answered (a bug if non-zero)"
        )
        metrics.add_collector(self._collect)

    def _collect(self) -> Iterable[tuple[str, str, str, tuple[tuple[str, str], ...], float]]:
        stats = self.node.stats
        for name, help_text in (
            ("gets_coordinated", "Gets this node coordinated"),
            ("puts_coordinated", "Puts this node coordinated"),
            ("puts_forwarded", "Puts forwarded to an owner (Dynamo §4.5)"),
            ("siblings_returned", "Gets that returned more than one sibling"),
            ("hints_stored", "Hints stored for an unreachable owner (Dynamo §4.6)"),
            ("hints_refused", "Hints refused because the hint store was full"),
            (
                "hints_replayed",
                "Hints handed off and acknowledged by their owner (a hint whose deletion a "
                "crash lost is handed off, and counted, again)",
            ),
            ("read_repairs", "Stale replicas repaired after a get"),
            ("truncations", "Vector clocks truncated (Dynamo §4.4)"),
            ("leases_persisted", "Counter leases persisted"),
            ("substitutions", "Replicas replaced by a substitute (sloppy quorum)"),
        ):
            yield (f"dynamokv_{name}_total", "counter", help_text, (), getattr(stats, name))
        node = self.node
        yield (
            HINTS_PENDING_METRIC,
            "gauge",
            "Hints kept for other owners",
            (),
            len(node.hints),
        )
        yield (
            "dynamokv_requests_in_flight",
            "gauge",
            "Requests the core is coordinating or forwarding",
            (),
            node.requests_in_flight,
        )
        yield (
            KEYS_METRIC,
            "gauge",
            "Keys this node stores (with at least one version; tombstones included)",
            (),
            len(node.trees),
        )
        ring_state = node.ring_state
        me = self.name
        yield (
            PARTITIONS_OWNED_METRIC,
            "gauge",
            "Partitions whose coordinator (first owner) is this node in the adopted ring",
            (),
            sum(1 for owner in ring_state.owners if owner == me),
        )
        yield (
            "dynamokv_ring_version",
            "gauge",
            "Version of the adopted ring",
            (),
            ring_state.version,
        )
        yield (
            "dynamokv_gossip_generation",
            "gauge",
            "This node's incarnation (one more on every start)",
            (),
            node.generation,
        )
        yield (
            "dynamokv_gossip_members",
            "gauge",
            "Members this node knows of by gossip (itself included)",
            (),
            len(self.gossip.members),
        )
        yield (
            "dynamokv_gossip_suspected_peers",
            "gauge",
            "Peers the phi-accrual failure detector suspects",
            (),
            len(node.health.suspected()),
        )
        yield (
            "dynamokv_transfers_in_flight",
            "gauge",
            "Partition transfers running or queued here",
            (),
            node.transfers_in_flight,
        )
        yield (
            TOMBSTONES_HELD_METRIC,
            "gauge",
            "Deleted keys stored here as tombstones only, waiting to be reaped",
            (),
            len(node.reaper.stored_since),
        )
        yield (
            "dynamokv_member_tombstones_remembered",
            "gauge",
            "Reaped keys remembered, so that a late copy of their tombstones is not stored",
            (),
            len(node.reaper.reaped),
        )
        for name, value in vars(self.gossip.metrics).items():
            yield (
                f"dynamokv_gossip_{name}_total",
                "counter",
                f"Gossip: {name.replace('_', ' ')}",
                (),
                value,
            )
        ae = node.anti_entropy.metrics
        for name, help_text in (
            ("trees_compared", "Merkle trees compared with a replica (Dynamo §4.7)"),
            ("nodes_exchanged", "Merkle tree nodes exchanged"),
            ("keys_repaired", "Differing keys found by exchanges this node started"),
            ("bytes_sent", "Bytes of Merkle exchange messages sent"),
            ("messages_sent", "Merkle exchange messages sent"),
            ("exchanges_completed", "Merkle exchanges run to the end"),
            ("exchanges_abandoned", "Merkle exchanges dropped on timeout or refusal"),
        ):
            yield (
                f"dynamokv_anti_entropy_{name}_total",
                "counter",
                help_text,
                (),
                getattr(ae, name),
            )
        member_stats = node.stats_member
        for metric, help_text, value in (
            (
                "roots_compared",
                "Partition roots sent for anti-entropy comparison",
                member_stats.roots_compared,
            ),
            (
                "keys_pushed",
                "Keys pushed to a replica after a Merkle exchange",
                member_stats.keys_repaired,
            ),
            (
                "keys_repair_applied",
                "Keys whose stored versions a received repair changed",
                member_stats.keys_repair_applied,
            ),
        ):
            yield (f"dynamokv_anti_entropy_{metric}_total", "counter", help_text, (), value)
        for name, help_text in (
            ("rings_adopted", "Ring versions adopted"),
            ("transfers_started", "Partition transfers begun"),
            ("transfers_completed", "Partition transfers acknowledged in full"),
            ("keys_transferred", "Replica copies acknowledged by new owners"),
            ("keys_dropped", "Keys forgotten after their handoff"),
            ("tombstones_reaped", "Deleted keys forgotten once every owner held the tombstone"),
            ("tombstones_asked", "Deleted keys this reaper asked the other owners about"),
            ("peers_recovered", "Suspicions lifted (each replays that owner's hints)"),
        ):
            yield (
                f"dynamokv_member_{name}_total",
                "counter",
                help_text,
                (),
                getattr(member_stats, name),
            )
        for name, value in vars(self.faults.stats).items():
            yield (
                f"dynamokv_faults_{name.removesuffix('_count')}_total",
                "counter",
                f"Peer fault layer: messages {name.removesuffix('_count').replace('_', ' ')}",
                (),
                value,
            )
        yield from self.store.stats_samples()
        pool = self._pool
        if pool is not None:
            for name, value in vars(pool.stats).items():
                yield (
                    f"dynamokv_peer_{name.removesuffix('_count')}_total",
                    "counter",
                    f"Peer pool: {name.removesuffix('_count').replace('_', ' ')}",
                    (),
                    value,
                )
        http = self._http
        if http is not None:
            for name, value in vars(http.stats).items():
                kind = "gauge" if name == "connections_open_count" else "counter"
                base = name.removesuffix("_count")
                yield (
                    f"dynamokv_http_{base}" + ("" if kind == "gauge" else "_total"),
                    kind,
                    f"HTTP server: {base.replace('_', ' ')}",
                    (),
                    value,
                )
        for member in sorted(self.peer_addresses):
            yield (
                "dynamokv_peer_healthy",
                "gauge",
                "1 if the health view believes the peer is up",
                (("peer", member),),
                1 if self.health.is_healthy(member, self.now_ticks()) else 0,
            )

    # -- time ----------------------------------------------------------------------------

    def now_ticks(self) -> int:
        """The core's clock: whole ticks since the process started."""
        return int((trio.current_time() - self._epoch) / self.tick_seconds)

    # -- stepping the core ---------------------------------------------------------------

    def _step(self, event: Any) -> None:
        """Step ``event`` (and any it causes locally) into the core; carry out the effects.

        Not reentrant by design: an effect that causes another event (a message to
        ourselves) queues it, and this loop steps it next, so the core always finishes one
        step before it sees the next event.
        """
        events = self._events
        events.append(event)
        if self._stepping:
            return
        self._stepping = True
        try:
            node = self.node
            while events:
                effects = node.step(events.popleft(), self.now_ticks())
                if effects:
                    self._execute(effects)
        finally:
            self._stepping = False
            # The sends of every event stepped here go out together: one write per peer.
            if self._pool is not None:
                self._pool.flush()

    def _execute(self, effects: list[Any]) -> None:
        handlers = self._effect_handlers
        traces = self._traces
        for effect in effects:
            handler = handlers.get(type(effect))
            if handler is None:
                raise TypeError(
                    f"the core emitted an effect the runtime cannot carry out: "
                    f"{type(effect).__name__} (add a handler to NodeProcess._effect_handlers)"
                )
            if traces:
                self._trace_effect(effect)
            handler(effect)

    def _do_send(self, message: Message) -> None:
        destination = getattr(message, "dst", None)
        if destination is None:
            destination = getattr(message, "destination", None)
        if destination == self.name:
            self._events.append(Receive(message))
            return
        if self._faults_active:
            faults = self.faults
            if faults.drops_outbound(destination):  # type: ignore[arg-type]
                return
            if faults.delay_seconds(destination) > 0:  # type: ignore[arg-type]
                faults.hold(destination, message, now=trio.current_time())  # type: ignore[arg-type]
                self._faults_changed.set()
                return
        self._transmit(destination, message)  # type: ignore[arg-type]

    def _transmit(self, destination: str, message: Message) -> None:
        """Frame ``message`` for the peer pool (flushed at the end of the step)."""
        address = self.peer_addresses.get(destination)
        if address is None:
            address = self._gossiped_address(destination, message)
        pool = self._pool
        if address is None or pool is None:
            self.unroutable.inc()
            return
        if not pool.running:
            # Shutting down: the pool has stopped while the writer loop still reports a
            # last group commit durable. The message is lost, as the network may lose any.
            return
        try:
            pool.send(address, encode_message(message), flush=False)  # flushed by _step
        except FrameError as error:
            # Too big to frame: lost, as the network may lose any message; the core's
            # timeouts handle it. Logged, since it means a bound is mis-sized.
            _log.error("peer.send_refused peer=%s error=%s", destination, error)

    def _gossiped_address(self, destination: str, message: Message) -> PeerAddress | None:
        """Where a node missing from the configuration listens: a node that joined later
        (its gossiped ``host:port``), or the one a gossip packet names."""
        entry = self.gossip.entry(destination)
        if entry is not None and entry.address:
            address = _parse_address(entry.address)
            if address is not None:
                return address
        if message.__class__ is GossipPacket:
            return _parse_address(message.dst_address)
        return None

    def _do_persist(self, effect: Persist) -> None:
        self.store.apply(effect)

    def _do_reply(self, effect: Reply) -> None:
        waiter = self._waiting.pop(effect.request_id, None)
        if waiter is None:
            return  # the driver already gave up on it (REPLY_TIMEOUT_SECONDS)
        waiter.result = effect.result
        if waiter.event is not None:
            waiter.event.set()

    def _do_set_timer(self, effect: SetTimer) -> None:
        if self._timer_at is None or effect.at < self._timer_at:
            self._timer_at = effect.at
            self._timer_changed.set()

    def _on_durable(self, persist_ids: list[int]) -> None:
        if self._durable_events:
            for persist_id in persist_ids:
                event = self._durable_events.pop(persist_id, None)
                if event is not None:
                    event.set()
        if self._traces:
            for trace in self._traces.values():
                if trace.persist_id in persist_ids:
                    trace.fsync_ms = self.store.last_batch_ms.get(trace.persist_id)
                    trace.durable_ms = (time.perf_counter() - trace.started) * 1000
        # One _step for the whole group commit: each PersistDone is still stepped on its
        # own, in order, but the acknowledgements they release leave in one write per peer.
        self._events.extend([PersistDone(persist_id) for persist_id in persist_ids[:-1]])
        if persist_ids:
            self._step(PersistDone(persist_ids[-1]))

    async def _on_peer_message(self, peer: InboundPeer, value: object) -> None:
        message = decode_message(value)  # FrameError closes the connection
        if not isinstance(message, self.message_types):
            self.rejected.inc()
            raise FrameError(f"{type(message).__name__} is not a message this node accepts")
        sender = getattr(message, "src", None) or getattr(message, "sender", None)
        if peer.node_name is not None and sender != peer.node_name:
            self.rejected.inc()
            raise FrameError(
                f"message claims sender {sender!r} but the certificate says {peer.node_name!r}"
            )
        destination = getattr(message, "dst", self.name)
        if destination != self.name:
            self.misrouted.inc()
            return
        if self._faults_active and self.faults.drops_inbound(str(sender)):
            return
        try:
            self._peer_input.check(message)
        except PeerInputError as error:  # impossible from a correct peer: refused whole
            self.rejected.inc()
            raise FrameError(f"{type(message).__name__}: {error}") from error
        if self._traces:
            self._trace_message(message)
        self._step(Receive(message))

    async def change_membership(self, kind: str, node_id: str) -> int:
        """Admin command (Dynamo §4.8.1): ``kind`` ``"join"`` or ``"leave"`` for ``node_id``,
        served by this node's core; the new ring is adopted here and gossiped.

        Returns once the new ring is durable here (Dynamo §4.8.1: the node that serves
        the request "writes the membership change and its time of issue to persistent
        store"): an operator told the change was made does not see it vanish with a
        crash of this node before its ring reached the disk or another node.

        Returns:
            The version of the ring this node holds afterwards.

        Raises:
            dynamokv.impl.core.MembershipArgumentError: the core refused (the node is
                unknown here, already in the ring, the last one, ...).
        """
        now = self.now_ticks()
        if kind == "join":
            effects = self.node.request_join(node_id, now)
        elif kind == "leave":
            effects = self.node.request_leave(node_id, now)
        else:
            raise ValueError(f"kind must be join or leave, got {kind!r}")
        _log.warning("node.membership_change kind=%s node=%s", kind, node_id)
        durable = [
            self._durable_events.setdefault(effect.persist_id, trio.Event())
            for effect in effects
            if effect.__class__ is Persist
        ]
        self._execute(effects)
        version = self.node.ring_state.version
        if self._events:
            self._step(self._events.popleft())
        elif self._pool is not None:
            self._pool.flush()
        for event in durable:
            await event.wait()
        return version

    def set_peer_faults(self, faults: PeerFaults) -> None:
        """Drop or delay peer traffic from now on (an empty value heals); see ``_faults.py``.

        Raises:
            PermissionError: the node's configuration does not enable fault injection.
        """
        if not self.faults.enabled:
            raise PermissionError("fault injection is off in this node's configuration")
        self.faults.set(faults)
        self._faults_active = faults.active
        self._faults_changed.set()
        _log.log(
            logging.WARNING if faults.active else logging.INFO,
            "node.peer_faults drop_to=%s drop_from=%s delay_ms=%s",
            ",".join(sorted(faults.drop_to)) or "-",
            ",".join(sorted(faults.drop_from)) or "-",
            ",".join(f"{peer}:{ms}" for peer, ms in sorted(faults.delay_ms.items())) or "-",
        )

    async def _delay_loop(self) -> None:
        """Send the messages the fault layer held back once their delay has passed."""
        # Runs for the node's lifetime; each iteration waits for a due time or a change.
        faults = self.faults
        while True:
            self._faults_changed = trio.Event()
            due_at = faults.next_due()
            if due_at is None:
                await self._faults_changed.wait()
                continue
            with trio.move_on_at(due_at):
                await self._faults_changed.wait()
                continue
            for destination, message in faults.due(now=trio.current_time()):
                # A partition set while the message waited applies to it too.
                if not faults.drops_outbound(destination):
                    self._transmit(destination, message)  # type: ignore[arg-type]
            if self._pool is not None:
                self._pool.flush()

    async def _timer_loop(self) -> None:
        """Step a ``Tick`` whenever the core's earliest ``SetTimer`` falls due."""
        # Runs for the node's lifetime; each iteration waits for a timer or a change of it.
        while True:
            self._timer_changed = trio.Event()
            at = self._timer_at
            if at is None:
                await self._timer_changed.wait()
                continue
            # A hair past the tick boundary, so that now_ticks() is at least ``at``.
            deadline = self._epoch + (at + 0.001) * self.tick_seconds
            with trio.move_on_at(deadline):
                await self._timer_changed.wait()
                continue
            self._timer_at = None
            self._step(Tick())

    async def _reap_waiters(self) -> None:
        """Wake requests the core has not answered within :data:`REPLY_TIMEOUT_SECONDS`."""
        # Runs for the node's lifetime, one sweep per REPLY_REAPER_SECONDS.
        while True:
            await trio.sleep(REPLY_REAPER_SECONDS)
            now = time.monotonic()
            expired = [i for i, w in self._waiting.items() if w.deadline < now]
            for request_id in expired:
                waiter = self._waiting.pop(request_id)
                if waiter.event is not None:
                    waiter.event.set()  # result stays None: submit reports the timeout

    async def _collect_garbage(self) -> None:
        """Collect every generation once per :data:`GC_FULL_COLLECTION_SECONDS`."""
        # Runs for the node's lifetime; the collector's own full collections are off.
        while True:
            await trio.sleep(GC_FULL_COLLECTION_SECONDS)
            started = time.perf_counter()
            collected = gc.collect()
            _log.info(
                "node.gc_full collected=%d ms=%.1f",
                collected,
                (time.perf_counter() - started) * 1000,
            )

    # -- the client-facing API -------------------------------------------------------------

    async def submit(
        self, request: Request, *, trace: bool = False
    ) -> tuple[Result, list[dict[str, Any]] | None]:
        """Run ``request`` through the core and wait for its result.

        Args:
            request: a :class:`~dynamokv.impl.core.GetRequest` or
                :class:`~dynamokv.impl.core.PutRequest`.
            trace: also return the request's journey (``?trace=1``), as steps.

        Returns:
            The core's result, and the trace steps (``None`` unless ``trace``).
        """
        self._request_seq += 1
        request_id = self._request_seq
        waiter = _Waiter(time.monotonic() + REPLY_TIMEOUT_SECONDS)
        self._waiting[request_id] = waiter
        traced: _Trace | None = None
        if trace and len(self._traces) < TRACES_MAX:
            traced = _Trace(
                request.key, isinstance(request, PutRequest), time.perf_counter(), request_id
            )
            self._traces[request_id] = traced
        try:
            self._step(ClientRequest(request_id, request))
            if waiter.result is None:
                waiter.event = trio.Event()
                await waiter.event.wait()  # set by the reply, or by _reap_waiters
        finally:
            self._waiting.pop(request_id, None)
            if traced is not None:
                del self._traces[request_id]
        result = waiter.result
        if result is None:
            self.reply_timeouts.inc()
            _log.error("node.reply_timeout request_id=%d", request_id)
            error = "timeout: the node did not answer"
            result = (
                GetResult(False, error=error)
                if isinstance(request, GetRequest)
                else PutResult(False, error=error)
            )
        if traced is None:
            return result, None
        traced.reply_ms = (time.perf_counter() - traced.started) * 1000
        return result, self._trace_steps(traced, request, result)

    # -- tracing -------------------------------------------------------------------------

    def _trace_effect(self, effect: Any) -> None:
        for trace in self._traces.values():
            if isinstance(effect, Persist):
                if trace.is_put and trace.persist_id is None and trace.forwarded_to is None:
                    for record in effect.records:
                        if isinstance(record, StoreVersions) and record.key == trace.key:
                            trace.persist_id = effect.persist_id
                            trace.persist_at = time.perf_counter()
            elif isinstance(effect, WriteRequest | ReadRequest | ForwardRequest):
                message = effect
                if isinstance(message, WriteRequest | ReadRequest) and message.key == trace.key:
                    if trace.op_id is None:
                        trace.op_id = message.op_id
                    if message.op_id == trace.op_id:
                        owner = message.hinted_for if isinstance(message, WriteRequest) else None
                        trace.targets.append((message.dst, owner))
                elif isinstance(message, ForwardRequest) and message.request.key == trace.key:
                    trace.forwarded_to = message.dst
                    trace.op_id = message.op_id

    def _trace_message(self, message: Any) -> None:
        for trace in self._traces.values():
            if (
                isinstance(message, WriteAck | ReadResponse | ForwardResponse)
                and message.op_id == trace.op_id
            ):
                trace.responses.append(
                    (message.src, round((time.perf_counter() - trace.started) * 1000, 3))
                )

    def _trace_steps(self, trace: _Trace, request: Request, result: Result) -> list[dict[str, Any]]:
        key = trace.key
        position = spec_ring.md5_position(key)
        partition = self.ring.partition_of(key)
        q = self.ring.q
        preference = list(self.ring.preference_list(key))
        steps: list[dict[str, Any]] = [
            {
                "step": "md5",
                "md5": hashlib.md5(key).hexdigest(),
                "position": position,
                "ring_fraction": position / spec_ring.RING_SIZE,
            },
            {
                "step": "partition",
                "partition": partition,
                "partition_count": q,
                "range_start": spec_ring.partition_start(partition, q),
                "owner": self.ring.assignment[partition],
                "note": "strategy 3 (Dynamo §6.2): Q equal partitions are the virtual nodes",
            },
            {"step": "preference_list", "nodes": preference, "n": self.ring.n},
        ]
        if trace.forwarded_to is not None:
            steps.append(
                {
                    "step": "coordinator",
                    "node": trace.forwarded_to,
                    "entry_node": self.name,
                    "forwarded": True,
                    "http": self.http_addresses.get(trace.forwarded_to),
                    "note": "not an owner: the put is forwarded to one (Dynamo §4.5); "
                    "send the traced request to that node to see its WAL and replication",
                }
            )
        else:
            steps.append(
                {
                    "step": "coordinator",
                    "node": self.name,
                    "entry_node": self.name,
                    "forwarded": False,
                }
            )
        if trace.is_put and trace.forwarded_to is None:
            steps.append(
                {
                    "step": "wal",
                    "node": self.name,
                    "persist_id": trace.persist_id,
                    "fsync_ms": None if trace.fsync_ms is None else round(trace.fsync_ms, 3),
                    "durable_after_ms": None
                    if trace.durable_ms is None
                    else round(trace.durable_ms, 3),
                    "fsync": self.config.fsync,
                    "note": "write-ahead log + memtable; one fsync per group commit",
                }
            )
        if trace.forwarded_to is None:
            quorum = (
                (request.w or self.node_config.w)
                if isinstance(request, PutRequest)
                else (request.r or self.node_config.r)
            )
            steps.append(
                {
                    "step": "replicate" if trace.is_put else "read",
                    "to": [{"node": node, "hinted_for": owner} for node, owner in trace.targets],
                    # The coordinator's own durable write is one of the W (Dynamo §4.5).
                    "acks": (
                        [{"node": self.name, "ms": round(trace.durable_ms, 3), "local": True}]
                        if trace.durable_ms is not None
                        else []
                    )
                    + [{"node": node, "ms": ms} for node, ms in trace.responses],
                    "w" if trace.is_put else "r": quorum,
                }
            )
        ack: dict[str, Any] = {
            "step": "ack",
            "ok": result.ok,
            "latency_ms": round(trace.reply_ms or 0.0, 3),
        }
        if isinstance(result, PutResult):
            ack["acks"] = result.acks
        else:
            ack["replies"] = result.replies
        if result.error:
            ack["error"] = result.error
        steps.append(ack)
        return steps

    # -- lifecycle -----------------------------------------------------------------------

    def shutdown(self) -> None:
        """Begin a graceful shutdown (idempotent): see :meth:`run`."""
        self._shutdown.set()

    async def run(
        self,
        *,
        http_handler: HttpHandler,
        task_status: trio.TaskStatus[tuple[int, int]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve until :meth:`shutdown`; then stop accepting, drain, flush and close.

        Args:
            http_handler: the HTTP application, usually
                ``NodeApi(process).handle`` (:class:`~dynamokv.impl.runtime.NodeApi`, built
                on this process as its :class:`~dynamokv.impl.runtime.NodeView`).
            task_status: started with ``(http_port, peer_port)`` once both listeners are open.
        """
        config = self.config
        tls = config.tls
        server_ctx: ssl.SSLContext | None = None
        client_ctx: ssl.SSLContext | None = None
        http_ctx: ssl.SSLContext | None = None
        if tls is not None:
            paths = NodeCertificatePaths(Path(tls.ca), Path(tls.cert), Path(tls.key))
            server_ctx = peer_server_ssl_context(paths)
            client_ctx = peer_client_ssl_context(paths)
            if tls.http_tls:
                http_ctx = http_server_ssl_context(paths, client_auth=tls.http_client_auth)
        self._epoch = trio.current_time()
        switch_interval_before = sys.getswitchinterval()
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
        _collector_while_serving.enter()
        pool = PeerPool(
            self._on_peer_message,
            random=random_module.Random(self.random.getrandbits(64)),
            options=PeerPoolOptions(inbound_idle_timeout_seconds=config.peer_idle_timeout_seconds),
            server_ssl_context=server_ctx,
            client_ssl_context=client_ctx,
        )
        self._pool = pool
        http = HttpServer(
            http_handler,
            limits=HttpLimits(
                idle_timeout_seconds=config.http_timeout_seconds,
                request_timeout_seconds=config.http_timeout_seconds,
            ),
            ssl_context=http_ctx,
        )
        self._http = http
        try:
            peer_listeners = await trio.open_tcp_listeners(config.peer_port, host=config.host)
            self.peer_port = peer_listeners[0].socket.getsockname()[1]
            async with trio.open_nursery() as nursery:
                await nursery.start(self.store.run, self._on_durable)
                await nursery.start(pool.run, peer_listeners)
                # Connections to the configured peers open now, not with the first
                # request: a request right after start finds them ready.
                for address in self.peer_addresses.values():
                    pool.connect(address)
                nursery.start_soon(self._timer_loop)
                nursery.start_soon(self._reap_waiters)
                nursery.start_soon(self._collect_garbage)
                nursery.start_soon(self._delay_loop)
                self._step(Tick())  # "Drivers step one at boot."
                http_done = trio.Event()

                async def serve_http(
                    *, task_status: trio.TaskStatus[list[trio.SocketListener]]
                ) -> None:
                    try:
                        await http.serve_tcp(
                            config.http_port, host=config.host, task_status=task_status
                        )
                    finally:
                        http_done.set()

                listeners = await nursery.start(serve_http)
                self.http_port = listeners[0].socket.getsockname()[1]
                self.state = "serving"
                _log.info(
                    "node.ready http=%s:%d peer=%s:%d members=%d partitions=%d n=%d",
                    config.host,
                    self.http_port,
                    config.host,
                    self.peer_port,
                    len(config.members),
                    self.ring.q,
                    self.node_config.n,
                )
                task_status.started((self.http_port, self.peer_port))
                await self._shutdown.wait()
                self.state = "draining"
                _log.info("node.draining in_flight=%d", self.node.requests_in_flight)
                http.shutdown()
                # serve_tcp returns once in-flight HTTP requests are answered; the peer
                # pool and the timer keep running meanwhile, since those requests need them.
                await http_done.wait()
                with trio.move_on_after(DRAIN_SECONDS_MAX):
                    await self.store.wait_idle()
                nursery.cancel_scope.cancel()
        finally:
            self.state = "stopped"
            with trio.CancelScope(shield=True):
                await trio.to_thread.run_sync(self.store.close)
            sys.setswitchinterval(switch_interval_before)
            _collector_while_serving.exit()
            _log.info("node.stopped")
