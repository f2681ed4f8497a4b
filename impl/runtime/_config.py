"""A node process's configuration: one TOML file, overridable by command-line flags.

The file names this node and every member of the cluster, so that a node knows at start
where its peers listen (the seeds of gossip, and ring version 1 of a fresh cluster)::

    [node]
    name = "node-1"
    host = "127.0.0.1"
    http_port = 7101
    peer_port = 7201
    data_dir = ".dynamokv/node-1"
    fsync = "always"          # "always" (fsync before ack), "batch" or "none"
    tick_ms = 20              # the core's tick (its timeouts are counted in ticks)
    fault_injection = false   # PUT /admin/faults may drop or delay peer traffic (learning)
    http_timeout_seconds = 30 # an HTTP connection idle, or sending one request, this long: closed
    peer_idle_timeout_seconds = 60  # a peer connection silent, or mid-frame, this long: closed
    weight = 1                # this node's share of the partitions, relative to the others'
    joining = false           # start outside the ring; `cluster join` (POST /admin/join) adds it

    [cluster]
    n = 3
    r = 2
    w = 2
    partition_count = 16384
    strict = false            # strict quorum: never substitutes, never hints
    gossip_period_ticks = 10  # one gossip round per this many ticks (200 ms at 20 ms a tick)
    tombstone_grace_seconds = 3600  # a deleted key is reaped once every owner holds its
                              # tombstone and this long has passed (0: never reap)
    members = [               # the initial ring's nodes (weight defaults to 1); for a
        { name = "node-1", host = "127.0.0.1", peer_port = 7201, http_port = 7101 },
        ...                   # joining node: itself and the seeds it finds the ring through
    ]

    [tls]                     # optional; see docs/security.md
    ca = ".dynamokv/certs/ca.crt"
    cert = ".dynamokv/certs/node-1.crt"
    key = ".dynamokv/certs/node-1.key"
    http_tls = false          # HTTPS on the client API
    http_client_auth = false  # ... and a client certificate from the CA required

Why strict parsing: a typo (``parition_count``) silently ignored would run a cluster with
the default and surprise its operator much later. Every unknown key and every bad value is
a :class:`ConfigError` with one line naming the key, which ``dynamokv node run`` prints
before exiting 1.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dynamokv.impl.core._gossip import GossipConfig
from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import ArgumentError

__all__ = ["ConfigError", "MemberAddress", "NodeProcessConfig", "TlsConfig", "load_config"]

PARTITION_COUNT_MAX = 1 << 20
"""Largest Q accepted (the ring precomputes one preference list per partition)."""

WEIGHT_MAX = 1000
"""Largest weight a node may carry (its share is Q·w/Σw partitions)."""

TICK_MS_DEFAULT = 20
"""Default length of one core tick: replica timeout 8 ticks = 160 ms, request 40 = 0.8 s."""

GOSSIP_PERIOD_TICKS_DEFAULT = GossipConfig().gossip_period_ticks
"""Default gossip period, the core's: 10 ticks, 200 ms at the default tick."""

TOMBSTONE_GRACE_SECONDS_DEFAULT = 3600
"""An hour: longer than a node restart or a partition usually lasts (hints replay first)."""

FSYNC_POLICIES = ("always", "batch", "none")


class ConfigError(ArgumentError):
    """The configuration is unusable; the message is one line naming the culprit."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberAddress:
    """Where one cluster member listens, and its weight in the initial ring."""

    name: str
    host: str
    peer_port: int
    http_port: int
    weight: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    """Paths of the cluster CA, this node's certificate and key, whether HTTP uses TLS, and
    whether HTTP clients must present a certificate the cluster CA signed."""

    ca: str
    cert: str
    key: str
    http_tls: bool = False
    http_client_auth: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeProcessConfig:
    """Everything ``dynamokv node run`` needs, validated.

    Attributes:
        name: this node's id on the ring; must be one of ``members``.
        host: the address both listeners bind (``0.0.0.0``: every interface); peers and
            clients use this node's entry in ``members``, which is what it advertises.
        http_port: the HTTP API's port (0: pick a free one).
        peer_port: the peer listener's port (0: pick a free one).
        data_dir: the node's store directory.
        fsync: the WAL's fsync policy (``"always"``: fsync before ack, Dynamo's durability).
        tick_ms: milliseconds per core tick.
        fault_injection: whether ``PUT /admin/faults`` may make this node drop or delay
            its peer traffic (the local cluster turns it on; see ``_faults.py``).
        weight: this node's share of the partitions relative to the others' (weighted
            strategy 3: Q·wᵢ/Σw partitions); gossiped, and used when it joins.
        joining: start outside the ring, with the other members as seeds, and wait for an
            administrator's join (``POST /admin/join``, ``dynamokv cluster join``).
        http_timeout_seconds: how long an HTTP connection may sit idle between requests,
            or take to send one request, before it is closed (slow senders, slowloris).
        peer_idle_timeout_seconds: how long an inbound peer connection may stay silent, or
            take to finish a frame it began, before it is closed (a live peer gossips far
            more often; a reconnect costs it one connect).
        members: every member of the cluster, this node included.
        n: replicas per key.
        r: default read quorum.
        w: default write quorum.
        partition_count: Q, the ring's equal partitions (Dynamo §6.2 strategy 3).
        strict: strict quorum (no substitutes, no hints).
        gossip_period_ticks: one gossip round (and heartbeat) per this many ticks; every
            member should use the same period, since the failure detector learns it.
        tombstone_grace_seconds: a deleted key is reaped (forgotten, then compacted away)
            once every owner holds its tombstone and it has been stored this long, with
            no member leaving meanwhile; it must outlast any outage a node holding a hint
            for the key may come back from (0: never reap).
        tls: mutual TLS between peers (and optionally HTTPS), or ``None``.
    """

    name: str
    host: str = "127.0.0.1"
    http_port: int = 0
    peer_port: int = 0
    data_dir: str = ""
    fsync: str = "always"
    tick_ms: int = TICK_MS_DEFAULT
    fault_injection: bool = False
    weight: int = 1
    joining: bool = False
    http_timeout_seconds: int = 30
    peer_idle_timeout_seconds: int = 60
    members: tuple[MemberAddress, ...] = ()
    n: int = 3
    r: int = 2
    w: int = 2
    partition_count: int = spec_ring.DEFAULT_PARTITION_COUNT
    strict: bool = False
    gossip_period_ticks: int = GOSSIP_PERIOD_TICKS_DEFAULT
    tombstone_grace_seconds: int = TOMBSTONE_GRACE_SECONDS_DEFAULT
    tls: TlsConfig | None = None

    def __post_init__(self) -> None:
        _check_name("node.name", self.name)
        _check_port("node.http_port", self.http_port, zero_ok=True)
        _check_port("node.peer_port", self.peer_port, zero_ok=True)
        if not self.host:
            raise ConfigError("node.host must not be empty")
        if not self.data_dir:
            raise ConfigError("node.data_dir is required")
        if self.fsync not in FSYNC_POLICIES:
            raise ConfigError(f"node.fsync must be one of {', '.join(FSYNC_POLICIES)}")
        if not 1 <= self.tick_ms <= 10_000:
            raise ConfigError("node.tick_ms must be in 1..10000")
        if not 1 <= self.gossip_period_ticks <= 100_000:
            raise ConfigError("cluster.gossip_period_ticks must be in 1..100000")
        if not 0 <= self.tombstone_grace_seconds <= 10**8:
            raise ConfigError("cluster.tombstone_grace_seconds must be in 0..100000000")
        if not 1 <= self.weight <= WEIGHT_MAX:
            raise ConfigError(f"node.weight must be in 1..{WEIGHT_MAX}")
        for key in ("http_timeout_seconds", "peer_idle_timeout_seconds"):
            if not 1 <= getattr(self, key) <= 3600:
                raise ConfigError(f"node.{key} must be in 1..3600")
        names = [m.name for m in self.members]
        if len(set(names)) != len(names):
            raise ConfigError("cluster.members has a duplicate name")
        if self.name not in names:
            raise ConfigError(f"node.name {self.name!r} is not one of cluster.members")
        if not self.n >= 1:
            raise ConfigError("cluster.n must be at least 1")
        if not 1 <= self.r <= self.n or not 1 <= self.w <= self.n:
            raise ConfigError("cluster.r and cluster.w must be in 1..n")
        if not len(self.members) <= self.partition_count <= PARTITION_COUNT_MAX:
            raise ConfigError(
                f"cluster.partition_count must be in {len(self.members)}..{PARTITION_COUNT_MAX}"
            )

    @property
    def member(self) -> MemberAddress:
        """This node's own entry of ``members``."""
        return next(m for m in self.members if m.name == self.name)

    @property
    def replication_factor(self) -> int:
        """N as the ring can honour it: at most the number of members."""
        return min(self.n, len(self.members))


def _check_name(where: str, name: object) -> None:
    if not isinstance(name, str) or not name or len(name) > 64 or not name.isprintable():
        raise ConfigError(f"{where} must be a printable string of 1 to 64 characters")


def _check_port(where: str, port: object, *, zero_ok: bool = False) -> None:
    if (
        not isinstance(port, int)
        or isinstance(port, bool)
        or not (0 if zero_ok else 1) <= port <= 65535
    ):
        raise ConfigError(f"{where} must be a port number, got {port!r}")


_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "host": (str,),
    "http_port": (int,),
    "peer_port": (int,),
    "data_dir": (str,),
    "fsync": (str,),
    "tick_ms": (int,),
    "fault_injection": (bool,),
    "weight": (int,),
    "joining": (bool,),
    "http_timeout_seconds": (int,),
    "peer_idle_timeout_seconds": (int,),
    "n": (int,),
    "r": (int,),
    "w": (int,),
    "partition_count": (int,),
    "strict": (bool,),
    "gossip_period_ticks": (int,),
    "tombstone_grace_seconds": (int,),
}

_NODE_KEYS = (
    "name",
    "host",
    "http_port",
    "peer_port",
    "data_dir",
    "fsync",
    "tick_ms",
    "fault_injection",
    "weight",
    "joining",
    "http_timeout_seconds",
    "peer_idle_timeout_seconds",
)
_CLUSTER_KEYS = (
    "members",
    "n",
    "r",
    "w",
    "partition_count",
    "strict",
    "gossip_period_ticks",
    "tombstone_grace_seconds",
)
_MEMBER_KEYS = ("name", "host", "peer_port", "http_port", "weight")
_TLS_KEYS = ("ca", "cert", "key", "http_tls", "http_client_auth")


def _table(document: Mapping[str, Any], name: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    table = document.get(name, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{name}] must be a table")
    for key in table:
        if key not in allowed:
            raise ConfigError(f"unknown key {name}.{key} (allowed: {', '.join(allowed)})")
    return dict(table)


def _typed(section: str, table: dict[str, Any]) -> dict[str, Any]:
    for key, value in table.items():
        expected = _TYPES.get(key)
        if expected is None:
            continue
        if not isinstance(value, expected) or (expected == (int,) and isinstance(value, bool)):
            raise ConfigError(f"{section}.{key} must be a {expected[0].__name__}, got {value!r}")
    return table


def load_config(
    path: str | None = None,
    *,
    text: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> NodeProcessConfig:
    """Read and validate a node's configuration.

    Args:
        path: the TOML file.
        text: the TOML text itself (instead of ``path``).
        overrides: ``[node]`` keys from command-line flags (``name``, ``http_port``,
            ``peer_port``, ``data_dir``); ``None`` values are ignored. A port override also
            updates this node's entry in ``cluster.members``.

    Raises:
        ConfigError: the file is missing or unreadable, not TOML, or has an unknown key or
            a bad value.
    """
    if text is None:
        if path is None:
            raise ConfigError("no configuration given")
        try:
            with open(path, "rb") as file:
                document = tomllib.load(file)
        except OSError as error:
            raise ConfigError(f"cannot read {path}: {error.strerror or error}") from error
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{path} is not valid TOML: {error}") from error
    else:
        try:
            document = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"not valid TOML: {error}") from error
    for key in document:
        if key not in ("node", "cluster", "tls"):
            raise ConfigError(f"unknown table or key {key!r} (allowed: node, cluster, tls)")
    node = _typed("node", _table(document, "node", _NODE_KEYS))
    cluster = _typed("cluster", _table(document, "cluster", _CLUSTER_KEYS))
    for key, value in (overrides or {}).items():
        if key not in _NODE_KEYS:
            raise ConfigError(f"unknown override {key!r}")
        if value is not None:
            node[key] = value
    node = _typed("node", node)
    if "name" not in node:
        raise ConfigError("node.name is required (in [node] or with --name)")
    members_raw = cluster.pop("members", None)
    if not isinstance(members_raw, list) or not members_raw:
        raise ConfigError("cluster.members must be a non-empty list of tables")
    members = []
    for index, raw in enumerate(members_raw):
        where = f"cluster.members[{index}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} must be a table")
        for key in raw:
            if key not in _MEMBER_KEYS:
                raise ConfigError(f"unknown key {where}.{key} (allowed: {', '.join(_MEMBER_KEYS)})")
        for key in _MEMBER_KEYS:
            if key not in raw and key not in ("host", "weight"):
                raise ConfigError(f"{where}.{key} is required")
        _check_name(f"{where}.name", raw["name"])
        host = raw.get("host", "127.0.0.1")
        if not isinstance(host, str) or not host:
            raise ConfigError(f"{where}.host must be a non-empty string")
        _check_port(f"{where}.peer_port", raw["peer_port"])
        _check_port(f"{where}.http_port", raw["http_port"])
        weight = raw.get("weight", 1)
        if type(weight) is not int or not 1 <= weight <= WEIGHT_MAX:
            raise ConfigError(f"{where}.weight must be an integer in 1..{WEIGHT_MAX}")
        members.append(
            MemberAddress(
                name=raw["name"],
                host=host,
                peer_port=raw["peer_port"],
                http_port=raw["http_port"],
                weight=weight,
            )
        )
    # This node listens where its own member entry says, unless a flag says otherwise; a
    # flag also moves the entry, so the two never disagree.
    for index, member in enumerate(members):
        if member.name == node["name"]:
            node.setdefault("http_port", member.http_port)
            node.setdefault("peer_port", member.peer_port)
            node.setdefault("host", member.host)
            node.setdefault("weight", member.weight)
            members[index] = dataclasses.replace(
                member,
                http_port=node["http_port"],
                peer_port=node["peer_port"],
                weight=node["weight"],
            )
    tls = None
    if "tls" in document:
        tls_table = _table(document, "tls", _TLS_KEYS)
        for key in ("ca", "cert", "key"):
            if not isinstance(tls_table.get(key), str) or not tls_table[key]:
                raise ConfigError(f"tls.{key} must be a path")
        http_tls = tls_table.get("http_tls", False)
        http_client_auth = tls_table.get("http_client_auth", False)
        if not isinstance(http_tls, bool) or not isinstance(http_client_auth, bool):
            raise ConfigError("tls.http_tls and tls.http_client_auth must be booleans")
        if http_client_auth and not http_tls:
            raise ConfigError("tls.http_client_auth needs tls.http_tls = true")
        tls = TlsConfig(
            ca=tls_table["ca"],
            cert=tls_table["cert"],
            key=tls_table["key"],
            http_tls=http_tls,
            http_client_auth=http_client_auth,
        )
    return NodeProcessConfig(members=tuple(members), tls=tls, **node, **cluster)
