"""Bad input on every port of a real node, while it keeps serving everyone else.

One node of a three-node cluster gets a bounded barrage: on its peer port random bytes,
frames cut short, a length prefix of 4 GiB, well-framed messages of no known type,
messages of known types that no correct node sends (two versions under one dot, a
partition off the ring, a dot of the node's own it never issued), a TLS client hello,
and a thousand silent connections; on its HTTP port slow-loris requests and
10,000 idle connections. Meanwhile a prober asks ``/health`` and writes through that node,
and must be answered every time; afterwards every acknowledged write reads back, each
refusal left a log line, idle and half-sent connections were cut off, and the node's peak
resident memory stayed under 512 MiB.
"""

from __future__ import annotations

import json
import random
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import msgpack
import pytest
from cluster_helpers import wait_for
from dynamokv.impl.client import Client, ClientError
from dynamokv.impl.core import RepairPush, Version, WriteRequest
from dynamokv.impl.runtime import FRAME_MAGIC, FRAME_VERSION, encode_frame, encode_message
from dynamokv.impl.runtime._local_cluster import LocalCluster

TIMEOUT_SECONDS = 3
IDLE_HTTP_CONNECTIONS = 10_000
IDLE_PEER_CONNECTIONS = 1_000
RSS_BYTES_MAX = 512 * 1024 * 1024


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def _send_and_close(address: tuple[str, int], payload: bytes) -> None:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(payload)
        sock.settimeout(10)
        # The node closes the connection once it has judged the bytes.
        while sock.recv(4096):
            pass


@contextmanager
def _idle_connections(address: tuple[str, int], count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that never send a byte, opened without waiting for each."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.connect_ex(address)
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def _events(cluster: LocalCluster, node: str) -> Counter[str]:
    lines = Path(cluster.processes[node].stderr).read_text().splitlines()
    return Counter(json.loads(line)["event"] for line in lines if line.startswith("{"))


class _Prober:
    """Asks the target node for ``/health`` and writes through it on fresh connections,
    until stopped (bounded: one round per 0.2 s, each request with a 20 s timeout).

    A new connection waits in the kernel's accept queue behind every flood connection
    queued before it; the node accepts (and evicts) them at a rate the machine's load
    decides, which on two busy cores took up to several seconds for 10,000."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.rounds = 0
        self.failures: list[str] = []
        self.acknowledged: dict[str, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.wait(0.2) and self.rounds < 2000:
            self.rounds += 1
            key, value = f"probe-{self.rounds}", f"value-{self.rounds}".encode()
            try:
                with Client(self.address, timeout_seconds=20) as client:
                    if client.json("/health")["status"] != "ok":
                        self.failures.append(f"round {self.rounds}: not ok")
                    client.put(key, value, w=2)
                    self.acknowledged[key] = value
            except ClientError as error:
                self.failures.append(f"round {self.rounds}: {error}")


@pytest.mark.slow
def test_a_node_under_a_bad_input_barrage_serves_logs_times_out_and_stays_small(
    tmp_path: Path,
) -> None:
    options = {
        "http_timeout_seconds": TIMEOUT_SECONDS,
        "peer_idle_timeout_seconds": TIMEOUT_SECONDS,
    }
    with LocalCluster(tmp_path / "cluster", nodes=3, node_options=options) as cluster:
        cluster.up()
        target = "node-1"
        info = cluster.processes[target]
        assert info.pid is not None
        peer, http = _address(info.peer), _address(info.http)
        rng = random.Random(12)
        with _Prober(info.http) as prober:
            # -- the peer port ------------------------------------------------------------
            for _ in range(100):
                _send_and_close(peer, rng.randbytes(rng.randrange(1, 2048)))
            four_gib = struct.pack(">2sBBI", FRAME_MAGIC, FRAME_VERSION, 0, 0xFFFF_FFFF)
            for _ in range(20):
                _send_and_close(peer, four_gib)
            unknown = encode_frame(["no-such-message", 1, 2]) + encode_frame(msgpack.packb(7))
            for _ in range(20):
                _send_and_close(peer, unknown)
            twins = (Version(b"a", ("node-2", 5)), Version(b"b", ("node-2", 5)))
            impossible = (
                WriteRequest("node-2", target, 1, b"k", twins),
                RepairPush("node-2", target, 1 << 40, ()),
                WriteRequest("node-2", target, 2, b"k", (Version(b"a", (target, 1 << 60)),)),
            )
            for message in impossible:  # each decodes; the node refuses it, and stays up
                _send_and_close(peer, encode_frame(encode_message(message)))
            hello = ssl.create_default_context()
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = hello.wrap_bio(incoming, outgoing, server_hostname="node-1")
            with pytest.raises(ssl.SSLWantReadError):
                tls.do_handshake()
            _send_and_close(peer, outgoing.read())  # a TLS client on a plain peer port
            truncated = encode_frame("x" * 1000)[:300]
            cut_short = []
            for _ in range(30):
                sock = socket.create_connection(peer, timeout=10)
                sock.sendall(truncated)
                cut_short.append(sock)
            with _idle_connections(peer, IDLE_PEER_CONNECTIONS):
                # A node restarting now must still get its peer connections accepted.
                cluster.restart("node-3")

                def cut_off() -> int:
                    events = _events(cluster, target)
                    return events["peer.inbound_timed_out"] + events["peer.inbound_evicted"]

                wait_for(
                    lambda: cut_off() >= IDLE_PEER_CONNECTIONS + len(cut_short),
                    TIMEOUT_SECONDS * 20,
                    "silent and half-sent peer connections are evicted or cut off",
                )
                assert _events(cluster, target)["peer.inbound_timed_out"] >= len(cut_short)
            for sock in cut_short:
                sock.close()

            # -- the HTTP port ------------------------------------------------------------
            slow = []
            for _ in range(100):
                sock = socket.create_connection(http, timeout=10)
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append(sock)
            with _idle_connections(http, IDLE_HTTP_CONNECTIONS):
                before = prober.rounds
                wait_for(
                    lambda: prober.rounds >= before + 20,
                    120,
                    "the prober is answered while 10,000 idle connections are open",
                )
            deadline = time.monotonic() + TIMEOUT_SECONDS * 10
            for sock in slow:  # one byte a second: busy, but the request never ends
                with_time_left = max(0.1, deadline - time.monotonic())
                sock.settimeout(with_time_left)
                with suppress(OSError):
                    sock.sendall(b"a")
            wait_for(
                lambda: _events(cluster, target)["http.connection_timed_out"] >= 100,
                TIMEOUT_SECONDS * 10,
                "slow-loris requests are cut off",
            )
            for sock in slow:
                sock.close()
        assert prober.failures == [], prober.failures[:5]
        assert prober.rounds >= 20
        peak = _peak_rss_bytes(info.pid)
        assert peak < RSS_BYTES_MAX, f"peak RSS {peak / 2**20:.0f} MiB"
        print(f"peak RSS of {target} under the barrage: {peak / 2**20:.1f} MiB")

        events = _events(cluster, target)
        # One line per refusal: every garbage connection above is one malformed frame or
        # message (the TLS hello included), each cut-off connection one line.
        assert events["peer.malformed_frame"] + events["peer.malformed_message"] >= 141 + 3
        assert events["peer.malformed_message"] >= 20 + 3
        assert events["http.connection_evicted"] + events["http.connection_timed_out"] >= (
            IDLE_HTTP_CONNECTIONS - 1024
        )
        metrics = cluster.metrics(target)
        print(
            "HTTP connections accepted",
            metrics.get("dynamokv_http_connections_accepted_total"),
            "evicted",
            metrics.get("dynamokv_http_connections_evicted_total"),
            "peer connections evicted",
            metrics.get("dynamokv_peer_inbound_evicted_total"),
        )
        # No acknowledged write is lost: every probe write reads back, from another node.
        with Client(cluster.http_address("node-2"), timeout_seconds=10) as client:
            for key, value in prober.acknowledged.items():
                assert client.get(key).values == (value,), key
