"""Security in one flag: ``cluster up --tls``.

The manager makes the cluster CA, a certificate per node naming its real address and a
client certificate, and starts every node with mutual TLS between peers and HTTPS that
requires a client certificate. A peer or a client without a cluster certificate is refused
at the handshake and logged; the CLI, the manager and the chaos harness work either way.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from cluster_helpers import wait_for
from dynamokv.impl.chaos import ChaosConfig, run_chaos
from dynamokv.impl.client import Client, ClientError
from dynamokv.impl.runtime import (
    NodeCertificatePaths,
    generate_cluster_certificates,
    node_certificate_paths,
    peer_client_ssl_context,
)
from dynamokv.impl.runtime._local_cluster import LocalCluster


def _log_events(cluster: LocalCluster, node: str) -> list[dict[str, object]]:
    lines = Path(cluster.processes[node].stderr).read_text().splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def _handshake(address: str, context: ssl.SSLContext, server_hostname: str) -> bool:
    """Whether a TLS handshake to ``address`` with ``context`` completes and the server keeps
    the connection (TLS 1.3 reports a refused client certificate only on the first read)."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
                tls.settimeout(1.0)
                try:
                    return tls.recv(1) != b""
                except TimeoutError:
                    return True  # the server is waiting for us: the handshake was accepted
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            return False


@pytest.mark.slow
def test_a_tls_cluster_serves_its_clients_and_refuses_strangers(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    with LocalCluster(directory, nodes=3, tls=True) as cluster:
        cluster.up()
        certs = cluster.certificates_directory
        assert {path.name for path in certs.iterdir()} >= {"ca.crt", "node-1.crt", "client.crt"}
        address = cluster.http_address("node-1")
        # The CLI finds the CA and the client certificate in cluster.json and speaks HTTPS.
        command = [sys.executable, "-m", "dynamokv.impl.cli"]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        cli_dir = tmp_path / "cli"
        (cli_dir / ".dynamokv").mkdir(parents=True)
        (cli_dir / ".dynamokv" / "cluster.json").write_text(cluster.cluster_file.read_text())
        done = subprocess.run(
            [*command, "put", "greeting", "hello"],
            cwd=cli_dir,
            capture_output=True,
            text=True,
            timeout=60,
            env=environment,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        with Client(address, ssl_context=cluster.ssl_context) as client:
            assert client.get("greeting").values == (b"hello",)

        # A client that trusts the CA but has no client certificate: refused, and logged.
        anonymous = ssl.create_default_context(cafile=str(certs / "ca.crt"))
        with pytest.raises(ClientError), Client(address, ssl_context=anonymous) as client:
            client.get("greeting")
        with pytest.raises(ClientError), Client(address) as plain:  # plain HTTP: no answer
            plain.get("greeting")
        wait_for(
            lambda: any(
                event["event"] == "http.tls_handshake_failed"
                for event in _log_events(cluster, "node-1")
            ),
            10,
            "the refused HTTP client is logged",
        )

        # A peer with a certificate from another CA, and a client certificate of this
        # cluster used as a peer: both refused at the peer port, each with a log line.
        stranger = generate_cluster_certificates(tmp_path / "other-ca", ["node-9"])
        assert stranger
        peer = cluster.processes["node-2"].peer
        foreign = peer_client_ssl_context(node_certificate_paths(tmp_path / "other-ca", "node-9"))
        foreign.check_hostname = False
        foreign.verify_mode = ssl.CERT_NONE  # only the server's judgement is under test
        assert not _handshake(peer, foreign, "node-2")
        as_client = peer_client_ssl_context(
            NodeCertificatePaths(certs / "ca.crt", certs / "client.crt", certs / "client.key")
        )
        assert not _handshake(peer, as_client, "node-2")
        member = peer_client_ssl_context(node_certificate_paths(certs, "node-3"))
        assert _handshake(peer, member, "node-2")  # the control: a node's certificate passes

        def refusals() -> list[dict[str, object]]:
            return [e for e in _log_events(cluster, "node-2") if e["event"] == "peer.tls_refused"]

        wait_for(lambda: len(refusals()) >= 2, 10, "both refused peers are logged")
        assert any("client certificate" in str(event.get("error")) for event in refusals())


@pytest.mark.slow
def test_the_carts_workload_loses_nothing_on_a_tls_cluster(tmp_path: Path) -> None:
    report = run_chaos(
        ChaosConfig(
            workload="carts",
            nemesis=("kill", "partition"),
            seconds=20.0,
            seed=5,
            directory=tmp_path / "run",
            tls=True,
            fault_seconds=3.5,
            quiet_seconds=2.0,
            acknowledged_adds_min=100,
        )
    )
    assert report.violations == [] and report.carts["union"]["lost"] == 0
    assert report.carts["union"]["acknowledged"] >= 100
