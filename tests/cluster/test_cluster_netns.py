"""Nodes on several hosts: Linux network namespaces on a bridge (root only).

Each test makes its own hosts (a per-run suffix on every name and subnet), and checks at
the end that no namespace, bridge or process of its run is left. Without root these tests
skip with one line; with ``CI`` set they fail instead (CI runs as root).
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cluster_helpers import wait_for
from conftest import processes_under
from dynamokv.impl.cli import main
from dynamokv.impl.client import Client, ClientError
from dynamokv.impl.runtime._local_cluster import ClusterError, LocalCluster
from dynamokv.impl.runtime._netns import NetnsHosts, leftovers

pytestmark = pytest.mark.usefixtures("netns_required")


def _reaches(hosts: NetnsHosts, source: int, target: int) -> bool:
    """Whether a TCP connect from host ``source`` to a listener on host ``target`` works."""
    import subprocess
    import sys

    listener = subprocess.Popen(
        [
            *hosts.exec_prefix(target),
            sys.executable,
            "-c",
            "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, "
            "socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], 9000)); s.listen(); print(1, "
            "flush=True); s.settimeout(5); s.accept()",
            hosts.address(target),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == b"1"
        done = subprocess.run(
            [
                *hosts.exec_prefix(source),
                sys.executable,
                "-c",
                "import socket,sys; socket.create_connection((sys.argv[1], 9000), timeout=1)",
                hosts.address(target),
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
        return done.returncode == 0
    finally:
        listener.kill()
        listener.wait()
        assert listener.stdout is not None
        listener.stdout.close()


def _comes_back(hosts: NetnsHosts, source: int, target: int) -> bool:
    """Whether ``source`` reaches ``target`` within a few tries (a port set up again
    forwards after a moment)."""
    return any(_reaches(hosts, source, target) for _ in range(10))


def test_hosts_reach_each_other_until_partitioned_and_nothing_is_left(tmp_path: Path) -> None:
    hosts = NetnsHosts(3)
    with hosts:
        assert hosts.bridge(0).endswith("b0") and len(hosts.port(2)) <= 15
        # Nothing listens on port 9: a refusal proves the host answered through the bridge.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((hosts.address(0), 9), timeout=5).close()
    assert leftovers([hosts.suffix]) == ([], [])


@pytest.fixture
def three_hosts() -> object:
    hosts = NetnsHosts(3)
    hosts.create()
    try:
        yield hosts
    finally:
        hosts.destroy()
        assert leftovers([hosts.suffix]) == ([], [])


def test_a_bridge_partition_and_an_isolated_port_cut_real_traffic(three_hosts: NetnsHosts) -> None:
    hosts = three_hosts
    assert _comes_back(hosts, 0, 1) and _comes_back(hosts, 1, 2)
    hosts.partition([[0], [1, 2]])
    assert not _reaches(hosts, 0, 1) and _comes_back(hosts, 1, 2)
    assert hosts.client_reaches(0) and not hosts.client_reaches(1)
    hosts.heal()
    hosts.isolate(2)
    assert _comes_back(hosts, 0, 1) and not _reaches(hosts, 0, 2)
    hosts.heal()
    assert _comes_back(hosts, 0, 2)


@pytest.mark.slow
def test_a_netns_cluster_serves_survives_a_partition_and_is_torn_down(tmp_path: Path) -> None:
    """Five hosts; each node binds 0.0.0.0 in its namespace and advertises its address."""
    directory = str(tmp_path / "cluster")
    with LocalCluster(directory, nodes=5, netns=True) as cluster:
        cluster.up()
        assert cluster.hosts is not None
        suffix = cluster.hosts.suffix
        addresses = [info.host for info in cluster.processes.values()]
        assert len(set(addresses)) == 5 and not any(a.startswith("127.") for a in addresses)
        assert 'host = "0.0.0.0"' in Path(cluster.processes["node-1"].config).read_text()

        def gossiped_address() -> object:
            with Client(cluster.http_address(2)) as client:
                members = client.json("/cluster/members")["members"]
            return {m["name"]: m["address"] for m in members}["node-3"]

        # node-2 learns where node-3 listens from node-3's own gossip.
        wait_for(
            lambda: gossiped_address() == cluster.processes["node-3"].peer,
            30,
            "node-3's advertised address reaches node-2 by gossip",
        )
        with Client(cluster.http_address(1)) as client:
            client.put("before", b"1")
        # A majority and a minority on separate bridges: the majority, with the clients,
        # keeps writing (sloppy quorum); the minority cannot be reached at all.
        assert main(["cluster", "partition", "1,2,3/4,5", "--dir", directory]) == 0
        acknowledged = []
        with Client(cluster.http_address(1), timeout_seconds=10) as client:
            for index in range(20):
                client.put(f"during-{index}", b"x", w=2)
                acknowledged.append(f"during-{index}")
        with pytest.raises(ClientError), Client(cluster.http_address(4), timeout_seconds=2) as c:
            c.get("before")
        assert main(["cluster", "isolate", "2", "--dir", directory]) == 0
        assert main(["cluster", "heal", "--dir", directory]) == 0
        wait_for(lambda: cluster.hints_pending() == 0, 90, "hints drain after the heal")
        with Client(cluster.http_address(5)) as client:
            for key in acknowledged:
                assert client.get(key, r=3).values == (b"x",), key
    assert leftovers([suffix]) == ([], [])
    assert processes_under(tmp_path) == []


def test_a_netns_cluster_that_fails_to_start_leaves_nothing(tmp_path: Path) -> None:
    cluster = LocalCluster(
        tmp_path / "broken",
        nodes=2,
        netns=True,
        node_command=["/bin/false"],
        ready_timeout_seconds=5,
    )
    with pytest.raises(ClusterError, match="exited"):
        cluster.up()
    assert cluster.hosts is not None and leftovers([cluster.hosts.suffix]) == ([], [])
