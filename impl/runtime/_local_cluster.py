"""The local cluster manager: real node processes on loopback, started from one directory.

``dynamokv cluster up`` and the real-process tests need the same thing: start N node
processes on 127.0.0.1, each with its own TOML file, data directory and log files, wait
until every node serves and agrees on the ring, and later kill, restart or stop them. This
module does it once, as a library (:class:`LocalCluster`); the CLI (``impl/cli/_cluster_command.py``)
and the demo are thin layers over it.

Why it is built this way:

* **Everything lives in one directory** (``./.dynamokv`` by default): ``cluster.json`` (the
  nodes, their addresses, pids, data and config paths, which ``dynamokv get/put`` read to
  find the cluster), ``NAME/node.toml``, ``NAME/data/`` and ``logs/NAME.out|.log``. The
  directory *is* the cluster: running ``cluster up`` again finds the running processes and
  reuses them (idempotent), and restarts only the ones that died.
* **Processes are detached** (``start_new_session=True``) so a Ctrl-C in the terminal that
  ran ``cluster up`` does not kill the cluster, and the manager's own exit does not either.
  The library's context manager, by contrast, always stops what it started in ``__exit__``,
  so a failing test never leaves a process behind.
* **A pid is trusted only with its command line.** A pid recorded in ``cluster.json`` may
  have died and been reused by an unrelated process; a pid counts as our node only while
  ``/proc/PID/cmdline`` names our config file and the process is not a zombie. We never
  signal a pid that fails that check.
* **Readiness is observed, not assumed:** the node prints ``READY http=… peer=…`` on stdout
  once it serves; then every node's ``/cluster/ring`` must agree. Both waits are bounded.
* **Ports are picked by binding, below the ephemeral range**: a port is free if
  ``bind(("127.0.0.1", port))`` succeeds. Ports are drawn at random below the kernel's
  range for outgoing connections (``ip_local_port_range``), because a port picked inside
  it can be taken by any client's or peer's connection before its node binds it. All
  sockets of one pick are held open until every port is chosen, so no two nodes get the
  same port. Only loopback is ever used.
* HTTP here is the standard library's ``http.client``: the manager's few requests (health,
  ring, metrics) do not need the node's client, and the import rules (docs/architecture.md) keep
  ``impl/runtime`` below the client.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from dynamokv.spec.errors import DynamoKVError

from ._faults import FaultSpecError, PeerFaults, partition_faults
from ._metrics import HINTS_PENDING_METRIC, KEYS_METRIC, PARTITIONS_OWNED_METRIC
from ._netns import NetnsError, NetnsHosts
from ._tls import (
    CertificateError,
    generate_cluster_certificates,
    http_client_ssl_context,
    issue_node_certificate,
    node_certificate_paths,
)

__all__ = [
    "CLUSTER_FILE_NAME",
    "DEFAULT_CLUSTER_DIRECTORY",
    "ClusterError",
    "LocalCluster",
    "NodeStatus",
    "ProcessInfo",
    "http_request",
    "node_number",
    "parse_metrics",
    "pick_free_ports",
    "ports_to_pick",
    "wait_until_serving",
]

DEFAULT_CLUSTER_DIRECTORY = ".dynamokv"
CLUSTER_FILE_NAME = "cluster.json"
HOST = "127.0.0.1"
NETNS_HTTP_PORT = 7100
NETNS_PEER_PORT = 7200
"""Ports of every node on a network-namespace host: each host has its own address."""

CLIENT_CERTIFICATE = "client"
"""The name of the client certificate a ``--tls`` cluster makes for the manager and CLI."""

READY_KEY = "dynamokv-ready"
"""The key ``up`` writes through every node as its last readiness check (one small value
per replica; ``status`` counts it among the keys)."""

NODES_COUNT_MAX = 64
READY_TIMEOUT_SECONDS = 60.0
RING_TIMEOUT_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0
KILL_WAIT_SECONDS = 5.0
HTTP_TIMEOUT_SECONDS = 5.0
POLL_SECONDS = 0.05
PORT_PICK_ATTEMPTS_MAX = 64
PORT_PICK_LOW = 10_000
"""The lowest port :func:`pick_free_ports` draws: above the ports common services listen on."""
EPHEMERAL_PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
PORT_RANGE_VARIABLE = "DYNAMOKV_PORT_RANGE"
"""``LOW-HIGH`` (both included): the ports :func:`pick_free_ports` draws from instead of
its default range, for a firewall that opens only some, or for runs side by side that
must never draw the same port (each gets its own range)."""
LOG_TAIL_LINES = 8

Progress = Callable[[str], None]


class ClusterError(DynamoKVError):
    """An operating error of the local cluster (a node would not start, a port is taken…).

    The message is one line that the CLI prints as it is.
    """


@dataclass
class ProcessInfo:
    """One node of a local cluster as recorded in ``cluster.json``.

    Attributes:
        name: the node's name (``node-1`` …), also its id on the ring.
        http: ``127.0.0.1:PORT`` of the HTTP API.
        peer: ``127.0.0.1:PORT`` of the node-to-node listener.
        pid: the process id of the last start (``None`` once stopped).
        data_dir: absolute path of the node's data directory.
        config: absolute path of the node's TOML file.
        stdout: the file the node's stdout goes to (``READY`` line).
        stderr: the file the node's JSON log lines go to.
        faults: the peer faults ``cluster partition`` set on the node (the JSON of
            :class:`~dynamokv.impl.runtime._faults.PeerFaults`), applied again when the
            node restarts; ``None``: none.
        netns: the network namespace the node runs in (its host), or ``None`` on loopback.
        weight: the node's share of the partitions relative to the others'.
        joining: the node was added by ``join``: it started outside the ring, with the
            others as seeds.
    """

    name: str
    http: str
    peer: str
    pid: int | None
    data_dir: str
    config: str
    stdout: str
    stderr: str
    faults: dict[str, Any] | None = None
    netns: str | None = None
    weight: int = 1
    joining: bool = False

    @property
    def host(self) -> str:
        """The address both of the node's listeners bind."""
        return self.http.rpartition(":")[0]

    @property
    def http_port(self) -> int:
        """The port of :attr:`http`."""
        return int(self.http.rpartition(":")[2])

    @property
    def peer_port(self) -> int:
        """The port of :attr:`peer`."""
        return int(self.peer.rpartition(":")[2])


def _check_process_info(info: ProcessInfo) -> None:
    """Raise ValueError unless a node read from the cluster file has usable fields (a file
    edited by hand, or written half)."""
    for field_name in ("name", "http", "peer", "data_dir", "config", "stdout", "stderr"):
        if not isinstance(getattr(info, field_name), str):
            raise ValueError(f"a node's {field_name!r} is {getattr(info, field_name)!r}")
    for address in (info.http, info.peer):
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"{info.name}: {address!r} is not HOST:PORT")
    if info.pid is not None and (not isinstance(info.pid, int) or isinstance(info.pid, bool)):
        raise ValueError(f"{info.name}: pid {info.pid!r} is not a process id")


@dataclass
class NodeStatus:
    """One row of ``dynamokv cluster status``; ``None`` where the node did not say."""

    name: str
    http: str
    pid: int | None
    up: bool
    paused: bool = False
    cut_off: bool = False
    partitions: int | None = None
    keys: int | None = None
    hints_pending: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def http_request(
    address: str,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = HTTP_TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 request to ``address`` (``host:port``) on a fresh connection (HTTPS
    with ``ssl_context``).

    Returns:
        ``(status, headers, body)``; header names are lower-cased.

    Raises:
        OSError: the node is not reachable (refused, reset, timed out).
    """
    host, _, port = address.rpartition(":")
    connection = (
        http.client.HTTPSConnection(host, int(port), timeout=timeout, context=ssl_context)
        if ssl_context is not None
        else http.client.HTTPConnection(host, int(port), timeout=timeout)
    )
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return (
            response.status,
            {name.lower(): value for name, value in response.getheaders()},
            data,
        )
    except http.client.HTTPException as error:
        raise OSError(f"bad HTTP response from {address}: {error!r}") from error
    finally:
        connection.close()


def http_json(
    address: str,
    method: str,
    path: str,
    *,
    document: object = None,
    timeout: float = HTTP_TIMEOUT_SECONDS,
    ssl_context: ssl.SSLContext | None = None,
) -> tuple[int, Any]:
    """One request with an optional JSON body; returns ``(status, decoded JSON or None)``.

    Raises:
        OSError: the node is not reachable.
    """
    body = None if document is None else json.dumps(document).encode()
    headers = {"content-type": "application/json"} if body is not None else {}
    status, _headers, data = http_request(
        address, method, path, body=body, headers=headers, timeout=timeout, ssl_context=ssl_context
    )
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, None


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text format to ``{"name{labels}": value}`` (comments skipped).

    Labels are kept in the key as written, so ``sum_metric(metrics, "x")`` can add
    up every labelled series of ``x``.
    """
    metrics: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.rpartition(" ") if "}" not in line else _split_labelled(line)
        if not name:
            continue
        try:
            metrics[name] = float(rest.split()[0])
        except (ValueError, IndexError):
            continue
    return metrics


def _split_labelled(line: str) -> tuple[str, str, str]:
    close = line.rindex("}")
    return line[: close + 1], " ", line[close + 1 :].strip()


def sum_metric(metrics: dict[str, float], name: str) -> float | None:
    """The sum of every series named ``name`` (with any labels); ``None`` if absent."""
    found = [value for key, value in metrics.items() if key == name or key.startswith(name + "{")]
    return sum(found) if found else None


def ports_to_pick() -> range:
    """The ports :func:`pick_free_ports` draws from: :data:`PORT_RANGE_VARIABLE` when it is
    set, else from :data:`PORT_PICK_LOW` up to the kernel's ephemeral range (empty when that
    range starts lower)."""
    chosen = os.environ.get(PORT_RANGE_VARIABLE)
    if chosen:
        return _parse_port_range(chosen)
    try:
        ephemeral_low = int(EPHEMERAL_PORT_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32_768  # Linux's default
    return range(PORT_PICK_LOW, ephemeral_low)


def _parse_port_range(text: str) -> range:
    low_text, dash, high_text = text.partition("-")
    try:
        low, high = int(low_text), int(high_text)
    except ValueError:
        low = high = 0
    if not dash or not 1 <= low <= high <= 65_535:
        raise ClusterError(
            f"{PORT_RANGE_VARIABLE}={text!r} is not a port range LOW-HIGH with 1 <= LOW <= HIGH <= 65535"
        )
    return range(low, high + 1)


def pick_free_ports(count: int, *, avoid: Sequence[int] = ()) -> list[int]:
    """``count`` distinct ports on 127.0.0.1 that accept a bind right now.

    Drawn at random from :func:`ports_to_pick`, where the kernel never puts an outgoing
    connection; when that range is too small for a random draw, the kernel chooses (port 0).
    The sockets of one pick stay bound until all are chosen, so no port comes twice.
    """
    candidates = ports_to_pick()
    draw = random.SystemRandom() if len(candidates) >= 64 * count else None
    sockets: list[socket.socket] = []
    ports: list[int] = []
    try:
        attempts = 0
        while len(ports) < count:
            attempts += 1
            if attempts > count + PORT_PICK_ATTEMPTS_MAX:
                raise ClusterError(f"could not find {count} free ports on {HOST}")
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            try:
                sock.bind((HOST, 0 if draw is None else draw.choice(candidates)))
            except OSError:
                continue  # taken: draw again
            port = sock.getsockname()[1]
            if port not in avoid and port not in ports:
                ports.append(port)
        return ports
    finally:
        for sock in sockets:
            sock.close()


def port_is_free(port: int) -> bool:
    """Whether ``bind(("127.0.0.1", port))`` succeeds now (SO_REUSEADDR, as servers use)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def node_number(name: str) -> int | None:
    """The number in a node's name (``node-3`` and ``n3`` are 3), or None if it has none.

    What ``cluster kill 3`` means and what ``status`` shows: it stays the node's own after
    another node has left, unlike a position in the list.
    """
    for prefix in ("node-", "n"):
        number = name.removeprefix(prefix)
        if number != name and number.isdigit():
            return int(number)
    return None


def process_alive(pid: int | None, config: str) -> bool:
    """Whether ``pid`` is a live (non-zombie) process whose command line names ``config``."""
    if pid is None or pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    state = stat.rpartition(")")[2].split()[0]
    if state in ("Z", "X", "x"):
        return False
    return config.encode() in cmdline.split(b"\0")


def describe_faults(faults: PeerFaults) -> str:
    """What a node does to its peer traffic, in words (``unaffected`` if nothing)."""
    parts = []
    if faults.drop_to:
        parts.append(f"drops messages to {', '.join(sorted(faults.drop_to))}")
    if faults.drop_from:
        parts.append(f"drops messages from {', '.join(sorted(faults.drop_from))}")
    if faults.delay_ms:
        delays = ", ".join(f"{peer} by {ms} ms" for peer, ms in sorted(faults.delay_ms.items()))
        parts.append(f"delays messages to {delays}")
    return "; ".join(parts) or "unaffected"


def process_stopped(pid: int | None) -> bool:
    """Whether ``pid`` is stopped by a signal (SIGSTOP: ``cluster pause``)."""
    if pid is None or pid <= 0:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] in ("T", "t")


def _toml_value(value: int | bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else _toml_string(value)


def _toml_string(value: str) -> str:
    # A TOML basic string; JSON's escaping of quotes, backslashes and controls is valid TOML.
    return json.dumps(value)


def render_node_toml(
    node: ProcessInfo,
    members: Sequence[ProcessInfo],
    *,
    n: int,
    r: int,
    w: int,
    partition_count: int,
    strict: bool,
    fsync: str,
    fault_injection: bool = True,
    node_options: Mapping[str, int | bool | str] | None = None,
    cluster_options: Mapping[str, int | bool | str] | None = None,
    extra: str = "",
) -> str:
    """The TOML file of one node (the node contract's ``[node]`` and ``[cluster]`` tables)."""
    lines = [
        "# Written by `dynamokv cluster up`; edit and `dynamokv cluster restart NODE` to apply.",
        "[node]",
        f"name = {_toml_string(node.name)}",
        # On a namespace host the node binds every interface of its host and advertises
        # its address through its member entry; on loopback it binds 127.0.0.1 only.
        f"host = {_toml_string('0.0.0.0' if node.netns else node.host)}",
        f"http_port = {node.http_port}",
        f"peer_port = {node.peer_port}",
        f"data_dir = {_toml_string(node.data_dir)}",
        f"fsync = {_toml_string(fsync)}",
        f"fault_injection = {'true' if fault_injection else 'false'}",
        *([f"weight = {node.weight}"] if node.weight != 1 else []),
        *(["joining = true"] if node.joining else []),
        *(f"{key} = {_toml_value(value)}" for key, value in (node_options or {}).items()),
        "",
        "[cluster]",
        f"n = {n}",
        f"r = {r}",
        f"w = {w}",
        f"partition_count = {partition_count}",
        f"strict = {'true' if strict else 'false'}",
        *(f"{key} = {_toml_value(value)}" for key, value in (cluster_options or {}).items()),
        "members = [",
    ]
    for member in members:
        lines.append(
            f"  {{ name = {_toml_string(member.name)}, host = {_toml_string(member.host)}, "
            f"peer_port = {member.peer_port}, http_port = {member.http_port}"
            + (f", weight = {member.weight}" if member.weight != 1 else "")
            + " },"
        )
    lines.append("]")
    if extra:
        lines += ["", extra.strip()]
    return "\n".join(lines) + "\n"


def _ring_fingerprint(body: bytes) -> str:
    """What must be equal on every node for the ring to count as agreed.

    The node's own name (and anything else about the answering node) is left out, so
    only the ring itself is compared.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return hashlib.sha256(body).hexdigest()
    if isinstance(data, dict):
        for key in ("hash", "digest", "ring_hash", "fingerprint"):
            if isinstance(data.get(key), str):
                return str(data[key])
        data = {
            key: value
            for key, value in data.items()
            if key not in ("node", "self", "name", "local", "now", "time")
        }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.splitlines()[-lines:] if line.strip())


def _unready_links(
    http_addresses: Mapping[str, str],
    cut: Callable[[str, str], bool],
    ssl_context: ssl.SSLContext | None,
) -> list[str]:
    """``"a -> b"`` for every pair not ``cut`` where node ``a`` has no open connection to
    ``b`` or does not believe ``b`` healthy (from ``a``'s ``/cluster/members``)."""
    missing: list[str] = []
    for name, address in http_addresses.items():
        try:
            status, document = http_json(
                address, "GET", "/cluster/members", ssl_context=ssl_context
            )
        except OSError:
            missing.append(f"{name} (no answer)")
            continue
        if status != 200 or not isinstance(document, dict):
            missing.append(f"{name} (status {status})")
            continue
        seen = {
            str(member.get("name")): member
            for member in document.get("members", [])
            if isinstance(member, dict)
        }
        for peer in http_addresses:
            if peer == name or cut(name, peer):
                continue
            member = seen.get(peer)
            if member is None or member.get("connected") is False or not member.get("healthy"):
                missing.append(f"{name} -> {peer}")
    return missing


def _quorum_write(
    name: str,
    address: str,
    *,
    deadline: float,
    timeout_seconds: float,
    ssl_context: ssl.SSLContext | None,
) -> None:
    """Read, then write with that context, :data:`READY_KEY` through ``name`` (W acks)."""
    path = "/kv/" + READY_KEY
    last = "no answer"
    while True:
        try:
            status, headers, _body = http_request(address, "GET", path, ssl_context=ssl_context)
            if status in (200, 300, 404):
                context = headers.get("x-dynamo-context", "")
                status, _headers, _body = http_request(
                    address,
                    "PUT",
                    path,
                    body=name.encode(),
                    headers={"x-dynamo-context": context} if context else {},
                    ssl_context=ssl_context,
                )
                if status == 204:
                    return
            last = f"status {status}"
        except OSError as error:
            last = str(error)
        if time.monotonic() > deadline:
            raise ClusterError(
                f"{name}: no quorum write succeeded within {timeout_seconds:.0f} s ({last})"
            )
        time.sleep(POLL_SECONDS * 2)


def wait_until_serving(
    http_addresses: Mapping[str, str],
    *,
    timeout_seconds: float = READY_TIMEOUT_SECONDS,
    cut: Callable[[str, str], bool] = lambda source, target: False,
    quorum_write: bool = True,
    progress: Progress | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Return once the nodes can serve a client: the last step of starting a cluster.

    A node that printed ``READY`` listens, but its peers may not be connected to it yet,
    nor trust it (a restarted node is suspected until its heartbeats arrive), and a write
    that lands in that window can miss its quorum. So this waits until every node has an
    open connection to every other (pairs ``cut`` by a partition excepted) and believes it
    healthy, then writes :data:`READY_KEY` through each node with W acknowledgements.

    Args:
        http_addresses: node name -> ``host:port`` of its HTTP API, for the running nodes.
        timeout_seconds: the bound on the whole wait.
        cut: whether a partition keeps the first node's messages from the second.
        quorum_write: whether to end with the write through each node.
        progress: called with one line per step.
        ssl_context: for HTTPS nodes (trusting the cluster CA, with a client certificate).

    Raises:
        ClusterError: not within ``timeout_seconds`` (naming what is missing).
    """
    if not http_addresses:
        return
    deadline = time.monotonic() + timeout_seconds
    if progress is not None:
        progress("waiting for every node to connect to its peers")
    while True:
        missing = _unready_links(http_addresses, cut, ssl_context)
        if not missing:
            break
        if time.monotonic() > deadline:
            raise ClusterError(
                f"peers not connected after {timeout_seconds:.0f} s: {', '.join(missing[:6])}"
            )
        time.sleep(POLL_SECONDS * 2)
    if not quorum_write:
        if progress is not None:
            progress("a partition is set: no quorum write through every node")
        return
    for name, address in http_addresses.items():
        _quorum_write(
            name,
            address,
            deadline=deadline,
            timeout_seconds=timeout_seconds,
            ssl_context=ssl_context,
        )
    if progress is not None:
        progress(f"a quorum write succeeded through each of {len(http_addresses)} node(s)")


# --------------------------------------------------------------------------- the cluster


class LocalCluster:
    """N node processes on loopback, managed from one directory.

    Use as a context manager in tests (every process it started is stopped on exit, even
    when the test fails), or call :meth:`up` and leave the cluster running (the CLI)::

        with LocalCluster(tmp_path, nodes=3) as cluster:
            cluster.up()
            cluster.kill("node-2")
            cluster.restart("node-2")

    Args:
        directory: the cluster directory (created); ``cluster.json`` lives there.
        nodes: how many nodes ``up`` starts when there is no cluster yet.
        n, r, w: replication factor and default quorums written to every node's config.
        partition_count: Q, the number of fixed partitions (Dynamo strategy 3).
        strict: strict quorum (no sloppy substitutes).
        fsync: the nodes' WAL fsync policy (``always`` acknowledges only synced writes).
        base_port: node ``i`` (from 0) gets HTTP port ``base_port + 2i`` and peer port
            ``base_port + 2i + 1``; ``None`` picks free ports.
        extra_toml: appended verbatim to every node's TOML (e.g. a ``[tls]`` table).
        progress: called with one line per step (the CLI shows it); ``None``: silent.
        stop_on_exit: whether ``__exit__`` stops the processes (default ``True``).
        python: the interpreter the nodes run on (default: this one).
        node_command: the argv that starts a node, ``--config PATH`` appended (default:
            ``python -m dynamokv.impl.cli node run``); tests of the manager itself pass a
            stand-in node here.
        netns: give each node a host of its own, a Linux network namespace on a bridge
            made for this cluster (root only; ``_netns.py``); ``down`` removes them.
        tls: mutual TLS between the nodes and HTTPS with client certificates for the
            clients, with a cluster CA and certificates made in ``DIRECTORY/certs``.
        node_options: more keys of every node's ``[node]`` table (e.g.
            ``{"http_timeout_seconds": 5}``).
        cluster_options: more keys of every node's ``[cluster]`` table (e.g.
            ``{"tombstone_grace_seconds": 2}``).
        weights: node *i*'s weight in the initial ring (default: all 1); a node of weight
            2 owns twice the partitions of a node of weight 1 (weighted strategy 3).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] = DEFAULT_CLUSTER_DIRECTORY,
        *,
        nodes: int = 3,
        n: int = 3,
        r: int = 2,
        w: int = 2,
        partition_count: int = 16384,
        strict: bool = False,
        fsync: str = "always",
        base_port: int | None = None,
        extra_toml: str = "",
        progress: Progress | None = None,
        stop_on_exit: bool = True,
        python: str | None = None,
        node_command: Sequence[str] | None = None,
        ready_timeout_seconds: float = READY_TIMEOUT_SECONDS,
        ring_timeout_seconds: float = RING_TIMEOUT_SECONDS,
        netns: bool = False,
        tls: bool = False,
        node_options: Mapping[str, int | bool | str] | None = None,
        cluster_options: Mapping[str, int | bool | str] | None = None,
        weights: Sequence[int] | None = None,
    ) -> None:
        if not 1 <= nodes <= NODES_COUNT_MAX:
            raise ClusterError(f"nodes must be between 1 and {NODES_COUNT_MAX}, got {nodes}")
        if n < 1:
            raise ClusterError(f"n must be at least 1, got {n}")
        if not (1 <= r <= n and 1 <= w <= n):
            raise ClusterError(f"r and w must be between 1 and n={n}, got r={r} w={w}")
        if base_port is not None and not 1024 <= base_port <= 65535 - 2 * nodes:
            # Both bounds named: a port below 1024 is refused too, and a message about
            # room alone would leave the user of --base-port 80 guessing why.
            raise ClusterError(
                f"--base-port must be in 1024..{65535 - 2 * nodes} ({nodes} nodes take "
                f"{2 * nodes} ports from it on), got {base_port}"
            )
        self.directory = Path(directory).absolute()
        self.nodes_count = nodes
        self.n, self.r, self.w = n, r, w
        self.partition_count = partition_count
        self.strict = strict
        self.fsync = fsync
        self.base_port = base_port
        self.extra_toml = extra_toml
        self.progress = progress
        self.stop_on_exit = stop_on_exit
        self.python = python or sys.executable
        self.node_command = list(
            node_command or [self.python, "-m", "dynamokv.impl.cli", "node", "run"]
        )
        self.ready_timeout_seconds = ready_timeout_seconds
        self.ring_timeout_seconds = ring_timeout_seconds
        self.netns = netns
        self.tls = tls
        self.node_options = dict(node_options or {})
        self.cluster_options = dict(cluster_options or {})
        if weights is not None and (
            len(weights) != nodes or not all(1 <= weight <= 1000 for weight in weights)
        ):
            raise ClusterError(f"weights must be {nodes} integers in 1..1000, got {list(weights)}")
        self.weights = list(weights or [1] * nodes)
        # Home directories of nodes that left the ring (removed by ``down --wipe``).
        self.left: list[str] = []
        self._ssl_context: ssl.SSLContext | None = None
        self.hosts: NetnsHosts | None = None
        self.processes: dict[str, ProcessInfo] = {}
        # Pids this object spawned, by node, and the exit status of those that ended.
        self._children: dict[str, int] = {}
        self._exit_status: dict[int, int] = {}
        # Where each node's stdout ended before its last start: READY is looked for after it.
        self._ready_offsets: dict[str, int] = {}
        self._load()

    # ---------------------------------------------------------------- context manager

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.stop_on_exit:
            self.down()

    # ---------------------------------------------------------------- paths and state

    @property
    def cluster_file(self) -> Path:
        """``DIRECTORY/cluster.json``."""
        return self.directory / CLUSTER_FILE_NAME

    @property
    def names(self) -> list[str]:
        """The node names, in order."""
        return list(self.processes)

    def _say(self, message: str) -> None:
        if self.progress is not None:
            self.progress(message)

    def _load(self) -> None:
        """Read the cluster file into :attr:`processes` (empty when there is none).

        The map is built aside and put in place by one assignment: a thread that looks a
        node up while another reloads (a workload's clients beside a nemesis that kills
        and restarts nodes) sees the old map or the new one, never a half-built one.
        """
        try:
            data = json.loads(self.cluster_file.read_text())
        except FileNotFoundError:
            self.processes = {}
            return
        except (OSError, ValueError) as error:
            raise ClusterError(f"cannot read {self.cluster_file}: {error}") from error
        processes: dict[str, ProcessInfo] = {}
        try:
            for node in data["nodes"]:
                info = ProcessInfo(
                    **{key: node.get(key) for key in ProcessInfo.__dataclass_fields__}
                )
                _check_process_info(info)
                processes[info.name] = info
            settings = data.get("settings", {})
        except (KeyError, TypeError, ValueError) as error:
            raise ClusterError(f"{self.cluster_file} is not a cluster file: {error}") from error
        self.processes = processes
        self.n = int(settings.get("n", self.n))
        self.r = int(settings.get("r", self.r))
        self.w = int(settings.get("w", self.w))
        self.partition_count = int(settings.get("partition_count", self.partition_count))
        self.strict = bool(settings.get("strict", self.strict))
        self.fsync = str(settings.get("fsync", self.fsync))
        self.tls = bool(settings.get("tls", self.tls))
        self.left = [str(home) for home in settings.get("left", [])]
        self.cluster_options = dict(settings.get("cluster_options", self.cluster_options))
        hosts = settings.get("netns")
        if isinstance(hosts, dict):
            self.hosts = NetnsHosts.from_json(hosts)
            self.netns = True

    def _save(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {
            "nodes": [asdict(info) for info in self.processes.values()],
            "settings": {
                "n": self.n,
                "r": self.r,
                "w": self.w,
                "partition_count": self.partition_count,
                "strict": self.strict,
                "fsync": self.fsync,
                "netns": None if self.hosts is None else self.hosts.to_json(),
                "tls": self._client_tls_json(),
                "left": self.left,
                "cluster_options": self.cluster_options,
            },
            "directory": str(self.directory),
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        temporary = self.cluster_file.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(temporary, self.cluster_file)

    def _client_tls_json(self) -> dict[str, str] | None:
        """What a client (``dynamokv get``) needs to reach a ``--tls`` cluster."""
        if not self.tls:
            return None
        paths = node_certificate_paths(self.certificates_directory, CLIENT_CERTIFICATE)
        return {
            "ca": str(paths.ca_cert_path),
            "cert": str(paths.cert_path),
            "key": str(paths.key_path),
        }

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One manager at a time per directory (two ``cluster up`` must not race)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def resolve(self, node: str | int) -> str:
        """A node's name from its name or its number (3 is ``node-3``, as ``status`` shows).

        A number is the one in the node's name, never a position in the list: after
        ``node-2`` has left, ``2`` names no node rather than the node listed second.

        Raises:
            ClusterError: no such node.
        """
        text = str(node)
        if text in self.processes:
            return text
        if text.isdigit():
            for name in self.processes:
                if node_number(name) == int(text):
                    return name
        known = ", ".join(self.names) or "none (run `dynamokv cluster up`)"
        raise ClusterError(f"no node {text!r} in {self.directory}; nodes: {known}")

    def http_address(self, node: str | int) -> str:
        """``127.0.0.1:PORT`` of a node's HTTP API."""
        return self.processes[self.resolve(node)].http

    def http_addresses(self) -> list[str]:
        """Every node's HTTP address, in node order."""
        return [info.http for info in self.processes.values()]

    def is_up(self, node: str | int) -> bool:
        """Whether the node's recorded process is alive (not whether it serves)."""
        info = self.processes[self.resolve(node)]
        if info.pid is not None and self._children.get(info.name) == info.pid:
            # Our own child: reap it if it ended, so it never lingers as a zombie.
            return self._poll_child(info.pid) is None
        return process_alive(info.pid, info.config)

    def _poll_child(self, pid: int) -> int | None:
        """The exit status of a child this object spawned, or ``None`` while it runs."""
        if pid in self._exit_status:
            return self._exit_status[pid]
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            self._exit_status[pid] = -1  # reaped elsewhere: it has ended
            return -1
        if reaped == 0:
            return None
        self._exit_status[pid] = os.waitstatus_to_exitcode(status)
        return self._exit_status[pid]

    # ---------------------------------------------------------------- lifecycle

    def _plan(self) -> None:
        """Choose names, ports and paths for a new cluster and write the TOML files."""
        count = self.nodes_count
        if self.netns:
            self._plan_hosts(count)
            return
        if self.base_port is not None:
            ports = list(range(self.base_port, self.base_port + 2 * count))
            taken = [port for port in ports if not port_is_free(port)]
            if taken:
                raise ClusterError(
                    f"port {taken[0]} on {HOST} is in use; choose another --base-port"
                )
        else:
            ports = pick_free_ports(2 * count)
        logs = self.directory / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.processes = {}
        for index in range(count):
            name = f"node-{index + 1}"
            home = self.directory / name
            self.processes[name] = ProcessInfo(
                name=name,
                http=f"{HOST}:{ports[2 * index]}",
                peer=f"{HOST}:{ports[2 * index + 1]}",
                pid=None,
                data_dir=str(home / "data"),
                config=str(home / "node.toml"),
                stdout=str(logs / f"{name}.out"),
                stderr=str(logs / f"{name}.log"),
                weight=self.weights[index],
            )
        self._write_configs()
        self._save()

    def _plan_hosts(self, count: int) -> None:
        """One network-namespace host per node (see ``_netns.py``), on fixed ports."""
        hosts = NetnsHosts(count)
        self._say(f"making {count} hosts (network namespaces) on bridge {hosts.bridge(0)}")
        try:
            hosts.create()
        except NetnsError as error:
            raise ClusterError(str(error)) from error
        self.hosts = hosts
        logs = self.directory / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.processes = {}
        for index in range(count):
            name = f"node-{index + 1}"
            home = self.directory / name
            address = hosts.address(index)
            self.processes[name] = ProcessInfo(
                name=name,
                http=f"{address}:{NETNS_HTTP_PORT}",
                peer=f"{address}:{NETNS_PEER_PORT}",
                pid=None,
                data_dir=str(home / "data"),
                config=str(home / "node.toml"),
                stdout=str(logs / f"{name}.out"),
                stderr=str(logs / f"{name}.log"),
                netns=hosts.namespace(index),
                weight=self.weights[index],
            )
        self._write_configs()
        self._save()

    def _ensure_hosts(self) -> None:
        """Make the recorded hosts again if they are gone (after ``down``), same names
        and addresses, so the nodes' configs stay valid."""
        hosts = self.hosts
        if hosts is None or Path(f"/run/netns/{hosts.namespace(0)}").exists():
            return
        self._say(f"making the hosts of {self.directory} again (suffix {hosts.suffix})")
        try:
            hosts.create()
        except NetnsError as error:
            raise ClusterError(str(error)) from error
        expected = [info.host for info in self.processes.values() if info.netns]
        if expected != [hosts.address(i) for i in range(len(expected))]:
            hosts.destroy()
            raise ClusterError(
                f"the hosts' subnet is taken now; `dynamokv cluster down --wipe --dir "
                f"{self.directory}` and `up --netns` again"
            )
        self._save()

    def _write_configs(self) -> None:
        members = list(self.processes.values())
        if self.tls:
            self._make_certificates()
        for info in members:
            self._write_config(info, members)

    def _write_config(self, info: ProcessInfo, members: Sequence[ProcessInfo]) -> None:
        """Write ``info``'s TOML (its data directory made): this cluster's quorums,
        options and TLS table, with ``members`` as the nodes it starts from."""
        extra = self.extra_toml
        if self.tls:
            extra = "\n".join([extra, self._tls_table(info.name)])
        Path(info.data_dir).mkdir(parents=True, exist_ok=True)
        Path(info.config).write_text(
            render_node_toml(
                info,
                members,
                n=self.n,
                r=self.r,
                w=self.w,
                partition_count=self.partition_count,
                strict=self.strict,
                fsync=self.fsync,
                node_options=self.node_options,
                cluster_options=self.cluster_options,
                extra=extra,
            )
        )

    # ---------------------------------------------------------------- TLS

    @property
    def certificates_directory(self) -> Path:
        """Where ``--tls`` keeps the cluster CA and the node and client certificates."""
        return self.directory / "certs"

    def _make_certificates(self) -> None:
        """The cluster CA, a certificate per node naming its real address, and the client
        certificate the manager and the CLI present; made once, when missing."""
        directory = self.certificates_directory
        if (directory / "ca.crt").exists() and all(
            (directory / f"{name}.crt").exists() for name in [*self.names, CLIENT_CERTIFICATE]
        ):
            return
        self._say(f"making a cluster CA and certificates in {directory}")
        try:
            generate_cluster_certificates(
                directory,
                self.names,
                force=True,
                addresses={name: [info.host] for name, info in self.processes.items()},
                clients=[CLIENT_CERTIFICATE],
            )
        except CertificateError as error:
            raise ClusterError(str(error)) from error

    def _tls_table(self, name: str) -> str:
        paths = node_certificate_paths(self.certificates_directory, name)
        return "\n".join(
            [
                "[tls]",
                f"ca = {_toml_string(str(paths.ca_cert_path))}",
                f"cert = {_toml_string(str(paths.cert_path))}",
                f"key = {_toml_string(str(paths.key_path))}",
                "http_tls = true",
                "http_client_auth = true",
            ]
        )

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        """The HTTPS client context of a ``--tls`` cluster (``None``: plain HTTP): trusts the
        cluster CA only and presents the client certificate."""
        if not self.tls:
            return None
        if self._ssl_context is None:
            paths = node_certificate_paths(self.certificates_directory, CLIENT_CERTIFICATE)
            try:
                self._ssl_context = http_client_ssl_context(paths)
            except CertificateError as error:
                raise ClusterError(str(error)) from error
        return self._ssl_context

    def up(self) -> list[str]:
        """Start the cluster, or reuse it if it is already running from this directory.

        Nodes whose recorded process is gone (or is some other process now) are started
        again with the same ports and data. Waits until every node printed ``READY`` and
        every node's ``/cluster/ring`` agrees.

        A call that fails (a node exits or is not ready in time, a port is taken, Ctrl-C)
        stops the node processes it started itself and leaves the nodes that were already
        running alone: a half-started cluster is not left behind, and neither is one taken
        down by a failed attempt to restart one of its nodes.

        Returns:
            The names of the nodes this call started (empty: everything was running).

        Raises:
            ClusterError: a node exited or did not get ready in time (with its log tail).
        """
        with self._locked():
            self._load_if_changed()
            planned = not self.processes
            started: list[str] = []
            try:
                self._up(planned, started)
            except BaseException:
                self._stop_started(started)
                if planned and self.hosts is not None:
                    # A cluster that never came up leaves no namespace behind.
                    self.hosts.destroy()
                raise
            return started

    def _stop_started(self, started: Sequence[str]) -> None:
        """Stop the nodes a failed :meth:`up` started, and record them as down."""
        if not started:
            return
        self._say(f"stopping {', '.join(started)}, started by this call")
        self._stop(started)
        for name in started:
            self.processes[name].pid = None
        self._save()

    def _up(self, planned: bool, started: list[str]) -> None:
        """Start every node that is down, appending each to ``started`` as it starts (so
        :meth:`up` knows what to stop if a later step fails), and wait for the cluster."""
        if planned:
            self._say(f"planning {self.nodes_count} nodes in {self.directory}")
            self._plan()
        elif not Path(next(iter(self.processes.values())).config).exists():
            self._write_configs()
        self._ensure_hosts()
        for name, info in self.processes.items():
            if self.is_up(name):
                continue
            if info.pid is not None:
                self._say(f"{name}: recorded pid {info.pid} is not running; restarting it")
            self._start(name)
            started.append(name)
        if started:
            self._save()
            self._wait_ready(started, stopped_on_failure=True)
        else:
            self._say(f"reusing the running cluster in {self.directory}")
        self._wait_ring()
        for name in started:
            if self.processes[name].faults:
                self._apply_recorded_faults(name)
        self._wait_serving()

    def _load_if_changed(self) -> None:
        before = {name: info.pid for name, info in self.processes.items()}
        self.hosts = None
        self._load()
        if not self.processes and before:
            # The file was removed under us: forget the old plan.
            self._children.clear()

    def _start(self, name: str) -> None:
        info = self.processes[name]
        for port in () if info.netns else (info.http_port, info.peer_port):
            if not port_is_free(port):
                raise ClusterError(
                    f"{name}: port {port} on {HOST} is taken by another process; "
                    "`dynamokv cluster down --wipe` and `up` again to pick new ports"
                )
        Path(info.data_dir).mkdir(parents=True, exist_ok=True)
        Path(info.stdout).parent.mkdir(parents=True, exist_ok=True)
        command = [*self.node_command, "--config", info.config]
        if info.netns is not None:
            # ip execs the node after entering the namespace: the pid is the node's.
            command = ["ip", "netns", "exec", info.netns, *command]
        environment = dict(os.environ, PYTHONUNBUFFERED="1")
        # posix_spawn, not Popen: the node must outlive this object (``cluster up`` exits at
        # once), and a Popen dropped while its child runs is a ResourceWarning. glibc's
        # posix_spawn returns after the exec, so /proc/PID/cmdline already names the config.
        # setsid: a Ctrl-C in this terminal does not reach the node.
        with open(info.stdout, "ab") as out:
            self._ready_offsets[name] = out.tell()
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        pid = os.posix_spawn(
            command[0] if os.path.isabs(command[0]) else _which(command[0]),
            command,
            environment,
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, info.stdout, flags, 0o644),
                (os.POSIX_SPAWN_OPEN, 2, info.stderr, flags, 0o644),
            ],
            setsid=True,
        )
        self._children[name] = pid
        info.pid = pid
        self._say(f"{name}: started pid {pid} (http {info.http}, peer {info.peer})")

    def _ready_line_seen(self, name: str) -> bool:
        info = self.processes[name]
        try:
            with open(info.stdout, "rb") as out:
                out.seek(self._ready_offsets.get(name, 0))
                text = out.read()
        except OSError:
            return False
        return b"READY " in text

    def _wait_ready(self, names: Sequence[str], *, stopped_on_failure: bool = False) -> None:
        """Until each of ``names`` printed ``READY``; ``stopped_on_failure``: the caller
        stops the processes it started when this fails (``up`` does)."""
        deadline = time.monotonic() + self.ready_timeout_seconds
        waiting = list(names)
        self._say(f"waiting for {', '.join(waiting)} to print READY")
        while waiting:
            for name in list(waiting):
                if self._ready_line_seen(name):
                    waiting.remove(name)
                    self._say(f"{name}: READY on {self.processes[name].http}")
                elif not self.is_up(name):
                    info = self.processes[name]
                    code = self._poll_child(info.pid) if info.pid is not None else None
                    raise ClusterError(
                        f"{name} exited (status {code}) before it was ready; "
                        f"{info.stderr}: {_tail(info.stderr) or _tail(info.stdout) or 'empty'}"
                    )
            if not waiting:
                break
            if time.monotonic() > deadline:
                name = waiting[0]
                info = self.processes[name]
                running = (
                    ""
                    if stopped_on_failure
                    # Left running (it may be replaying a long log): say so, and how to
                    # stop it, rather than let the error read as "it is down".
                    else f" and still running as pid {info.pid} (`dynamokv cluster status` "
                    f"shows when it serves, `dynamokv cluster kill {name}` stops it)"
                )
                raise ClusterError(
                    f"{name} not READY after {self.ready_timeout_seconds:.0f} s{running}; "
                    f"{info.stderr}: {_tail(info.stderr)}"
                )
            time.sleep(POLL_SECONDS)

    def ring_fingerprints(self) -> dict[str, str | None]:
        """Each node's ring, as a fingerprint (``None``: the node did not answer)."""
        fingerprints: dict[str, str | None] = {}
        for name, info in self.processes.items():
            if self.is_paused(name):
                fingerprints[name] = None
                continue
            try:
                status, _headers, body = http_request(
                    info.http, "GET", "/cluster/ring", ssl_context=self.ssl_context
                )
            except OSError:
                fingerprints[name] = None
                continue
            fingerprints[name] = _ring_fingerprint(body) if status == 200 else None
        return fingerprints

    def _wait_ring(self, names: Sequence[str] | None = None) -> None:
        """Until every live node answers ``/cluster/ring`` with the same ring."""
        deadline = time.monotonic() + self.ring_timeout_seconds
        self._say("waiting for every node to agree on the ring")
        while True:
            live = [name for name in (names or self.names) if self.is_serving(name)]
            fingerprints = {
                name: fingerprint
                for name, fingerprint in self.ring_fingerprints().items()
                if name in live
            }
            values = set(fingerprints.values())
            if live and None not in values and len(values) == 1:
                self._say(f"ring agreed on {len(live)} node(s)")
                return
            if time.monotonic() > deadline:
                silent = [name for name, value in fingerprints.items() if value is None]
                detail = (
                    f"no answer from {', '.join(silent)}"
                    if silent
                    else f"{len(values)} different rings"
                )
                raise ClusterError(
                    f"the ring did not converge within {self.ring_timeout_seconds:.0f} s ({detail})"
                )
            time.sleep(POLL_SECONDS * 4)

    def _host_index(self, name: str) -> int:
        return self.names.index(name)

    def _bridged_apart(self) -> bool:
        """Whether a bridge partition or an isolated host is in place."""
        hosts = self.hosts
        return hosts is not None and (
            bool(hosts.isolated) or any(number for number in hosts.attached.values())
        )

    def _cut(self, source: str, target: str) -> bool:
        """Whether a recorded fault keeps ``source``'s messages from reaching ``target``."""
        if self.hosts is not None and not self.hosts.reachable(
            self._host_index(source), self._host_index(target)
        ):
            return True
        source_faults = self.processes[source].faults or {}
        target_faults = self.processes[target].faults or {}
        return (
            target in source_faults.get("drop_to", ())
            or source in target_faults.get("drop_from", ())
            or target in source_faults.get("drop_from", ())
            or source in target_faults.get("drop_to", ())
        )

    def _wait_serving(self) -> None:
        """:func:`wait_until_serving` over the live nodes; no quorum write while a
        partition is recorded (a node cut off from W-1 others cannot write, which is the
        point of the partition)."""
        hosts = self.hosts
        live = {
            name: self.processes[name].http
            for name in self.names
            if self.is_serving(name)
            and (hosts is None or hosts.client_reaches(self._host_index(name)))
        }
        wait_until_serving(
            live,
            timeout_seconds=self.ready_timeout_seconds,
            cut=self._cut,
            quorum_write=not any(info.faults for info in self.processes.values())
            and not self._bridged_apart(),
            progress=self.progress,
            ssl_context=self.ssl_context,
        )

    def is_paused(self, node: str | int) -> bool:
        """Whether the node's process is stopped by ``cluster pause`` (SIGSTOP)."""
        info = self.processes[self.resolve(node)]
        return self.is_up(info.name) and process_stopped(info.pid)

    def is_serving(self, node: str | int) -> bool:
        """Whether the node runs and is not paused."""
        return self.is_up(node) and not self.is_paused(node)

    def pause(self, node: str | int) -> str:
        """SIGSTOP one node: it holds its sockets but answers nothing (a long GC pause, a
        hung disk). Returns its name."""
        with self._locked():
            self._load_if_changed()
            name = self.resolve(node)
            info = self.processes[name]
            if not self.is_up(name):
                raise ClusterError(f"{name} is down; `dynamokv cluster restart {name}` first")
            assert info.pid is not None
            self._signal(info.pid, signal.SIGSTOP)
            self._wait_stopped(info.pid, stopped=True)
            self._say(f"{name}: paused pid {info.pid} (SIGSTOP)")
            return name

    def resume(self, node: str | int) -> str:
        """SIGCONT a paused node. Returns its name."""
        with self._locked():
            self._load_if_changed()
            name = self.resolve(node)
            info = self.processes[name]
            if not self.is_up(name):
                raise ClusterError(f"{name} is down; `dynamokv cluster restart {name}` first")
            assert info.pid is not None
            self._signal(info.pid, signal.SIGCONT)
            self._wait_stopped(info.pid, stopped=False)
            self._say(f"{name}: resumed pid {info.pid} (SIGCONT)")
            return name

    def _wait_stopped(self, pid: int, *, stopped: bool) -> None:
        """Until the kernel shows ``pid`` stopped (or running again): signals are
        delivered asynchronously. Bounded by :data:`KILL_WAIT_SECONDS`."""
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while process_stopped(pid) != stopped and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS / 5)

    def partition(
        self,
        groups: Sequence[Sequence[str | int]],
        *,
        one_way: bool = False,
        delay_ms: int | None = None,
    ) -> list[str]:
        """Cut (or slow down) traffic between groups of nodes.

        On loopback, through the nodes' peer fault layer
        (:func:`~dynamokv.impl.runtime._faults.partition_faults`): nodes in no group keep
        talking to everyone, and clients reach every node. On network-namespace hosts, a
        symmetric partition moves each group but the first to a bridge of its own (nodes
        in no group stay with the first group and the clients); one-way cuts and delays
        still go through the fault layer. Replaces any partition set before.

        Returns:
            One line per node saying what it now does.

        Raises:
            ClusterError: an unknown node, a bad partition, or a running node that refused
                the faults.
        """
        with self._locked():
            self._load_if_changed()
            resolved = [[self.resolve(node) for node in group] for group in groups]
            try:
                faults = partition_faults(resolved, one_way=one_way, delay_ms=delay_ms)
            except FaultSpecError as error:
                raise ClusterError(str(error)) from error
            hosts = self.hosts
            if hosts is not None and not one_way and delay_ms is None:
                try:
                    hosts.heal()
                    # The fault layers are healed while every node is still reachable.
                    for info in self.processes.values():
                        info.faults = None
                    for name in self.names:
                        self._apply_recorded_faults(name)
                    hosts.partition(
                        [[self._host_index(name) for name in group] for group in resolved]
                    )
                except NetnsError as error:
                    raise ClusterError(str(error)) from error
                self._save()
                self._say(f"bridge partition: {' | '.join(','.join(g) for g in resolved)}")
                return [
                    f"{name}: on bridge {hosts.bridge(hosts.attached.get(index, 0))}"
                    + (" with the clients" if hosts.client_reaches(index) else "")
                    for index, name in enumerate(self.names)
                ]
            for name in self.names:
                fault = faults.get(name, PeerFaults())
                self.processes[name].faults = fault.to_json() if fault.active else None
            self._save()
            for name in self.names:
                self._apply_recorded_faults(name)
            described = " | ".join(",".join(group) for group in resolved)
            kind = "one-way " if one_way else ""
            self._say(f"{kind}{'delay' if delay_ms else 'partition'}: {described}")
            return [
                f"{name}: {describe_faults(faults.get(name, PeerFaults()))}" for name in self.names
            ]

    def isolate(self, node: str | int) -> str:
        """Set a network-namespace host's bridge port down: it reaches nobody and nobody,
        clients included, reaches it. Returns its name.

        Raises:
            ClusterError: a loopback cluster (use :meth:`partition` with a group of one).
        """
        with self._locked():
            self._load_if_changed()
            name = self.resolve(node)
            if self.hosts is None:
                raise ClusterError(
                    f"isolate needs hosts (`cluster up --netns`); on loopback, "
                    f"`cluster partition {name}/<the others>` cuts it off from its peers"
                )
            try:
                self.hosts.isolate(self._host_index(name))
            except NetnsError as error:
                raise ClusterError(str(error)) from error
            self._save()
            self._say(f"{name}: bridge port {self.hosts.port(self._host_index(name))} down")
            return name

    def heal(self) -> list[str]:
        """Remove every peer fault (and the recorded partition). Returns the nodes healed."""
        with self._locked():
            self._load_if_changed()
            healed = [name for name in self.names if self.processes[name].faults]
            hosts = self.hosts
            if hosts is not None:
                healed += [
                    name
                    for index, name in enumerate(self.names)
                    if name not in healed and not hosts.client_reaches(index)
                ]
                try:
                    hosts.heal()
                except NetnsError as error:
                    raise ClusterError(str(error)) from error
            for name in self.names:
                self.processes[name].faults = None
            self._save()
            for name in self.names:
                self._apply_recorded_faults(name)
            self._say("healed: every node talks to every node")
            return healed

    def _apply_recorded_faults(self, name: str) -> None:
        """Send ``name`` the faults recorded for it (none: heal it), if it serves."""
        info = self.processes[name]
        if not self.is_serving(name):
            return
        if self.hosts is not None and not self.hosts.client_reaches(self._host_index(name)):
            return  # behind a bridge partition: healed when it is reachable again
        try:
            if info.faults:
                status, document = http_json(
                    info.http,
                    "PUT",
                    "/admin/faults",
                    document=info.faults,
                    ssl_context=self.ssl_context,
                )
            else:
                status, document = http_json(
                    info.http, "DELETE", "/admin/faults", ssl_context=self.ssl_context
                )
        except OSError as error:
            raise ClusterError(f"{name}: cannot set peer faults ({error})") from error
        if status != 200:
            detail = document.get("error") if isinstance(document, dict) else None
            raise ClusterError(f"{name} refused the peer faults: {detail or status}")

    # ---------------------------------------------------------------- join and leave

    def member_view(self, via: str | int | None = None) -> dict[str, dict[str, Any]]:
        """``/cluster/members`` of ``via`` (default: the first serving node), by name."""
        names = [self.resolve(via)] if via is not None else self.names
        for name in names:
            if not self.is_serving(name):
                continue
            try:
                status, document = http_json(
                    self.processes[name].http,
                    "GET",
                    "/cluster/members",
                    ssl_context=self.ssl_context,
                )
            except OSError:
                continue
            if status == 200 and isinstance(document, dict):
                return {
                    str(member["name"]): member
                    for member in document.get("members", [])
                    if isinstance(member, dict) and "name" in member
                }
        return {}

    def transfers(self) -> dict[str, int]:
        """Partition transfers running or queued, and started and completed so far, summed
        over the live nodes (for a progress bar)."""
        totals = {"in_flight": 0, "started": 0, "completed": 0}
        for name in self.names:
            if not self.is_serving(name):
                continue
            metrics = self.metrics(name)
            totals["in_flight"] += int(metrics.get("dynamokv_transfers_in_flight", 0))
            totals["started"] += int(metrics.get("dynamokv_member_transfers_started_total", 0))
            totals["completed"] += int(metrics.get("dynamokv_member_transfers_completed_total", 0))
        return totals

    def next_node_name(self) -> str:
        """The name :meth:`join` gives the next node: ``node-K``, K one past the node count,
        or past that while the name is taken. A node that left keeps its name: its
        directory holds its files, and every member remembers it as ``left`` (a node never
        comes back under a departed node's identity), so a newcomer gets a fresh one."""
        departed = {Path(home).name for home in self.left}
        index = len(self.processes) + 1
        while (
            f"node-{index}" in self.processes
            or f"node-{index}" in departed
            or (self.directory / f"node-{index}").exists()
        ):
            index += 1
        return f"node-{index}"

    def join(
        self,
        *,
        weight: int = 1,
        on_progress: Callable[[dict[str, int]], None] | None = None,
    ) -> str:
        """Start one more node outside the ring and have the ring take it in (Dynamo §4.8.1).

        The node finds the cluster through the running members (its seeds) and announces
        itself by gossip; then a member serves ``POST /admin/join``, computes the new
        strategy-3 assignment (the newcomer's share is Q·w/Σw partitions) and gossips it;
        the old owners stream the stolen partitions to it in batches while they keep
        serving. Returns once every node holds the new ring and no transfer is left.

        Args:
            weight: the node's weight (its share relative to the others').
            on_progress: called about twice a second with :meth:`transfers`.

        Returns:
            The new node's name.

        Raises:
            ClusterError: no cluster, the node would not start, or the ring would not take it
                in time.
        """
        with self._locked():
            self._load_if_changed()
            if not self.processes:
                raise ClusterError(f"no cluster in {self.directory}; `dynamokv cluster up` first")
            name = self.next_node_name()
            home = self.directory / name
            logs = self.directory / "logs"
            if self.hosts is not None:
                try:
                    host_index = self.hosts.add_host()
                except NetnsError as error:
                    raise ClusterError(str(error)) from error
                address = self.hosts.address(host_index)
                http, peer = f"{address}:{NETNS_HTTP_PORT}", f"{address}:{NETNS_PEER_PORT}"
                netns: str | None = self.hosts.namespace(host_index)
            else:
                taken = [info.http_port for info in self.processes.values()] + [
                    info.peer_port for info in self.processes.values()
                ]
                http_port, peer_port = pick_free_ports(2, avoid=taken)
                http, peer, netns = f"{HOST}:{http_port}", f"{HOST}:{peer_port}", None
            info = ProcessInfo(
                name=name,
                http=http,
                peer=peer,
                pid=None,
                data_dir=str(home / "data"),
                config=str(home / "node.toml"),
                stdout=str(logs / f"{name}.out"),
                stderr=str(logs / f"{name}.log"),
                netns=netns,
                weight=weight,
                joining=True,
            )
            seeds = [self.processes[member] for member in self.names if self.is_serving(member)]
            if not seeds:
                raise ClusterError("no running node to join through")
            self.processes[name] = info
            self._write_node_config(info, [*seeds, info])
            self._save()
            self._start(name)
            self._save()
            self._wait_ready([name])
            self._say(f"{name}: waiting until the ring's members hear of it by gossip")
            via = self._admin_membership("join", name, seeds)
            self._say(f"{name}: {via} issued the ring that takes it in; data moves now")
        # The data's move is awaited without the lock, as a leave's handoff is: a partition,
        # a pause or a crash that holds it up stays healable from another shell meanwhile.
        self._wait_ring()
        self._wait_transfers(on_progress)
        self._wait_serving()
        return name

    def leave(
        self,
        node: str | int,
        *,
        on_progress: Callable[[dict[str, int]], None] | None = None,
    ) -> str:
        """Take a node out of the ring, wait until it has handed off all its data and says
        it has ``left``, then stop it (Dynamo §4.8.1). Returns its name.

        Raises:
            ClusterError: the node is unknown, the ring refuses (the last node), or the
                handoff does not finish in time.
        """
        with self._locked():
            self._load_if_changed()
            name = self.resolve(node)
            others = [
                self.processes[member]
                for member in self.names
                if member != name and self.is_serving(member)
            ]
            if not others:
                raise ClusterError(f"{name} is the only running node; it cannot leave")
            status = self.member_view(others[0].name).get(name, {}).get("status")
            if status in ("leaving", "left"):
                # A leave already issued (one that ran out of time, or was interrupted):
                # the ring no longer has the node, so only the handoff is left to wait for.
                self._say(f"{name} is already out of the ring ({status}); its handoff is awaited")
            else:
                via = self._admin_membership("leave", name, others)
                self._say(f"{via} issued the ring without {name}; it hands its data off now")
        # The handoff is awaited without the lock: a partition that holds it up must stay
        # healable (`cluster heal`) from another shell meanwhile.
        deadline = time.monotonic() + self.ring_timeout_seconds * 5
        while True:
            self._load_if_changed()
            if name not in self.processes or not self.is_up(name):
                break
            own = self.member_view(name).get(name, {}) if self.is_serving(name) else {}
            if own.get("status") == "left":
                break
            if on_progress is not None:
                on_progress({**self.transfers(), "keys_left": self._keys_of(name)})
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{name} has not finished handing its data off; "
                    f"`dynamokv cluster leave {name}` again waits for it"
                )
            time.sleep(POLL_SECONDS * 10)
        with self._locked():
            self._load_if_changed()
            if name not in self.processes:
                raise ClusterError(f"{name} is no longer in {self.directory}")
            self._stop([name])
            self.left.append(str(Path(self.processes[name].config).parent))
            del self.processes[name]
            self._save()
            self._say(f"{name}: left the ring and stopped (its files stay in {self.directory})")
        self._wait_ring()
        return name

    def _keys_of(self, name: str) -> int:
        return int(self.metrics(name).get(KEYS_METRIC, 0))

    def _write_node_config(self, info: ProcessInfo, members: Sequence[ProcessInfo]) -> None:
        """A joining node's config, its certificate issued first under ``--tls``."""
        if self.tls:
            try:
                issue_node_certificate(
                    self.certificates_directory, info.name, addresses=[info.host]
                )
            except CertificateError as error:
                raise ClusterError(str(error)) from error
        self._write_config(info, members)

    def _admin_membership(self, kind: str, name: str, via: Sequence[ProcessInfo]) -> str:
        """``POST /admin/KIND?node=NAME`` to the first of ``via`` that accepts it, retried
        until a member knows the node by gossip; returns the member that served it."""
        deadline = time.monotonic() + self.ring_timeout_seconds
        last = "no answer"
        while True:
            for member in via:
                try:
                    status, document = http_json(
                        member.http,
                        "POST",
                        f"/admin/{kind}?node={name}",
                        ssl_context=self.ssl_context,
                    )
                except OSError as error:
                    last = str(error)
                    continue
                if status == 200:
                    return member.name
                last = str(document.get("error", status) if isinstance(document, dict) else status)
            if time.monotonic() > deadline:
                raise ClusterError(f"the ring would not {kind} {name}: {last}")
            time.sleep(POLL_SECONDS * 4)

    def _wait_transfers(self, on_progress: Callable[[dict[str, int]], None] | None) -> None:
        """Until no node has a partition transfer running or queued."""
        deadline = time.monotonic() + self.ring_timeout_seconds * 5
        quiet_since: float | None = None
        paused_said: list[str] = []
        while True:
            self._load_if_changed()
            totals = self.transfers()
            if on_progress is not None:
                on_progress(totals)
            # A paused node may still owe data that it cannot report: the move is not over
            # until it runs again (a node that is down owes nothing until it restarts).
            paused = [name for name in self.names if self.is_paused(name)]
            if paused and paused != paused_said:
                self._say(
                    f"waiting for {', '.join(paused)} to resume: a paused node may still "
                    "owe partitions (`dynamokv cluster resume NODE` from another shell)"
                )
            paused_said = paused
            if totals["in_flight"] == 0 and not paused:
                # Twice in a row, a second apart: a ring adopted late starts transfers late.
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 1.0:
                    return
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                held = f"; paused: {', '.join(paused)}" if paused else ""
                raise ClusterError(
                    f"partition transfers still running: {totals['in_flight']}{held}"
                )
            time.sleep(POLL_SECONDS * 10)

    def kill(self, node: str | int) -> str:
        """SIGKILL one node (a crash: no flush, no goodbye). Returns its name."""
        with self._locked():
            self._load_if_changed()
            name = self.resolve(node)
            info = self.processes[name]
            if self.is_up(name):
                assert info.pid is not None
                self._signal(info.pid, signal.SIGKILL)
                self._wait_exit([name], KILL_WAIT_SECONDS)
                self._say(f"{name}: killed pid {info.pid} (SIGKILL)")
            else:
                self._say(f"{name}: already down")
            info.pid = None
            self._save()
            return name

    def restart(self, node: str | int) -> str:
        """Start one node again (stopping it first, gracefully, if it runs).

        Waits for its ``READY`` line and for the ring to agree. Returns its name.
        """
        with self._locked():
            self._load_if_changed()
            name = self.resolve(node)
            if self.is_up(name):
                self._stop([name])
            self._start(name)
            self._save()
            self._wait_ready([name])
            self._wait_ring()
            if self.processes[name].faults:
                self._apply_recorded_faults(name)
            self._wait_serving()
            return name

    def start(self, node: str | int) -> str:
        """Start one node that is down (no-op if it runs). Returns its name."""
        with self._locked():
            self._load_if_changed()
            name = self.resolve(node)
            if not self.is_up(name):
                self._start(name)
                self._save()
                self._wait_ready([name])
                self._wait_ring()
                if self.processes[name].faults:
                    self._apply_recorded_faults(name)
                self._wait_serving()
            return name

    def down(self, *, wipe: bool = False) -> list[str]:
        """Stop every node: SIGTERM, wait, then SIGKILL what is left after a bound.

        Data is kept unless ``wipe``; with ``wipe`` the whole cluster directory is removed.

        Returns:
            The names of the nodes that were running.
        """
        with self._locked():
            self._load_if_changed()
            running = [name for name in self.names if self.is_up(name)]
            self._stop(self.names)
            for info in self.processes.values():
                info.pid = None
                info.faults = None  # a cluster started again starts healed
            if self.hosts is not None:
                self._say(f"removing the hosts and bridges with suffix {self.hosts.suffix}")
                self.hosts.destroy()
            if wipe:
                self._wipe()
            elif self.processes:
                self._save()
            return running

    def _wipe(self) -> None:
        import shutil

        for info in self.processes.values():
            shutil.rmtree(Path(info.config).parent, ignore_errors=True)
        for home in self.left:
            shutil.rmtree(home, ignore_errors=True)
        self.left = []
        shutil.rmtree(self.directory / "logs", ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.cluster_file.unlink()
        self.processes = {}
        self.hosts = None
        self._say(f"wiped {self.directory}")

    def _stop(self, names: Sequence[str]) -> None:
        live = [name for name in names if self.is_up(name)]
        for name in live:
            pid = self.processes[name].pid
            assert pid is not None
            self._signal(pid, signal.SIGTERM)
            self._signal(pid, signal.SIGCONT)  # a paused node must run to hear the SIGTERM
        if live:
            self._say(f"sent SIGTERM to {', '.join(live)}")
        left = self._wait_exit(live, STOP_GRACE_SECONDS)
        for name in left:
            pid = self.processes[name].pid
            assert pid is not None
            self._say(f"{name}: still running after {STOP_GRACE_SECONDS:.0f} s; SIGKILL")
            self._signal(pid, signal.SIGKILL)
        self._wait_exit(left, KILL_WAIT_SECONDS)

    def _signal(self, pid: int, signum: int) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            return  # it has already ended
        except OSError as error:
            if error.errno != errno.ESRCH:
                raise ClusterError(f"cannot signal pid {pid}: {error.strerror}") from error

    def _wait_exit(self, names: Sequence[str], seconds: float) -> list[str]:
        deadline = time.monotonic() + seconds
        left = list(names)
        while left and time.monotonic() < deadline:
            left = [name for name in left if self.is_up(name)]
            if left:
                time.sleep(POLL_SECONDS)
        return left

    # ---------------------------------------------------------------- observation

    def metrics(self, node: str | int) -> dict[str, float]:
        """A node's ``/metrics`` parsed (empty if it does not answer)."""
        try:
            status, _headers, body = http_request(
                self.http_address(node), "GET", "/metrics", ssl_context=self.ssl_context
            )
        except OSError:
            return {}
        return parse_metrics(body.decode(errors="replace")) if status == 200 else {}

    def status(self) -> list[NodeStatus]:
        """One :class:`NodeStatus` per node: up or down, and what ``/metrics`` says."""
        rows: list[NodeStatus] = []
        owners = self._ring_owners()
        for name, info in self.processes.items():
            alive = self.is_up(name)
            row = NodeStatus(name=name, http=info.http, pid=info.pid if alive else None, up=False)
            hosts = self.hosts
            if alive and self.is_paused(name):
                row.paused = True
            elif alive and hosts is not None and not hosts.client_reaches(self._host_index(name)):
                row.cut_off = True
            elif alive:
                try:
                    code, _headers, _body = http_request(
                        info.http, "GET", "/health", ssl_context=self.ssl_context
                    )
                    row.up = code == 200
                except OSError:
                    row.up = False
            if row.up:
                row.metrics = self.metrics(name)
                row.partitions = _as_int(sum_metric(row.metrics, PARTITIONS_OWNED_METRIC))
                row.keys = _as_int(sum_metric(row.metrics, KEYS_METRIC))
                row.hints_pending = _as_int(sum_metric(row.metrics, HINTS_PENDING_METRIC))
            if row.partitions is None and name in owners:
                row.partitions = owners[name]
            rows.append(row)
        return rows

    def _ring_owners(self) -> dict[str, int]:
        """Partitions per node as first owner, from the first node that answers ``/cluster/ring``."""
        for name, info in self.processes.items():
            if not self.is_serving(name):
                continue
            try:
                status, _headers, body = http_request(
                    info.http, "GET", "/cluster/ring", ssl_context=self.ssl_context
                )
                data = json.loads(body) if status == 200 else {}
            except (OSError, ValueError):
                continue
            owners = data.get("owners") if isinstance(data, dict) else None
            if isinstance(owners, dict):
                return {str(node): int(count) for node, count in owners.items()}
        return {}

    def hints_pending(self) -> int | None:
        """The sum of every live node's pending hints (``None`` if no node exports it)."""
        values = [row.hints_pending for row in self.status() if row.hints_pending is not None]
        return sum(values) if values else None


def _which(program: str) -> str:
    import shutil

    found = shutil.which(program)
    if found is None:
        raise ClusterError(f"cannot find {program!r} to start a node")
    return found


def _as_int(value: float | None) -> int | None:
    return None if value is None else int(value)
