"""Breaking the loopback cluster without root: ``cluster partition|heal|pause|resume``.

Five real node processes (N=3, W=2, sloppy quorum). A put during a partition is
acknowledged through a substitute on the coordinator's side, waits there as a hint, and is
read back from its owner across the partition after ``heal``; a paused node (SIGSTOP) is
written around and catches up once resumed.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from cluster_helpers import wait_for
from dynamokv.impl.cli import main
from dynamokv.impl.client import Client
from dynamokv.impl.runtime._local_cluster import LocalCluster, http_json

HINTS_DRAIN_SECONDS = 60.0


def _key_with(cluster: LocalCluster, wanted: object) -> tuple[str, list[str]]:
    """A key whose preference list satisfies ``wanted(list)``, and that list."""
    with Client(cluster.http_address(1)) as client:
        for index in itertools.count():
            assert index < 2000, "no key with the wanted preference list"
            key = f"k{index}"
            preference = client.json(f"/cluster/ring?key={key}")["key"]["preference_list"]
            if wanted(preference):  # type: ignore[operator]
                return key, preference
    raise AssertionError("unreachable")


def _faults(cluster: LocalCluster, node: str) -> dict[str, object]:
    status, document = http_json(cluster.http_address(node), "GET", "/admin/faults")
    assert status == 200
    return document  # type: ignore[no-any-return]


def test_a_put_during_a_partition_is_acknowledged_by_sloppy_quorum_and_read_after_heal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(tmp_path / "cluster")
    with LocalCluster(directory, nodes=5) as cluster:
        cluster.up()
        side_a, side_b = {"node-1", "node-2"}, {"node-3", "node-4", "node-5"}
        # Coordinated on side A (node-2 first), its other two owners on side B: W=2 needs
        # node-1, the next node of the ring on side A, as a substitute, which keeps the
        # copy as a hint for an owner in B.
        key, preference = _key_with(cluster, lambda p: p[0] == "node-2" and set(p[1:]) <= side_b)
        assert main(["cluster", "partition", "1,2/3,4,5", "--dir", directory]) == 0
        assert "node-1: drops messages to node-3, node-4, node-5" in capsys.readouterr().out
        assert set(_faults(cluster, "node-4")["drop_from"]) == side_a  # type: ignore[arg-type]
        with Client(cluster.http_address("node-2"), timeout_seconds=10) as client:
            client.put(key, b"written-in-a-partition", w=2)
        assert (cluster.hints_pending() or 0) >= 1
        owner_b = preference[1]
        with Client(cluster.http_address(owner_b)) as client:
            assert client.get(key, r=1).values == ()  # the owner across the cut never saw it
        assert main(["cluster", "status", "--dir", directory]) == 0
        assert "partitioned" in capsys.readouterr().out

        assert main(["cluster", "heal", "--dir", directory]) == 0
        assert _faults(cluster, "node-1")["drop_to"] == []
        wait_for(lambda: cluster.hints_pending() == 0, HINTS_DRAIN_SECONDS, "hints drain")
        with Client(cluster.http_address(owner_b)) as client:
            assert client.get(key, r=2).values == (b"written-in-a-partition",)

        def every_owner_holds_it() -> bool:
            for owner in preference:
                with Client(cluster.http_address(owner)) as client:
                    if client.get(key, r=1).values != (b"written-in-a-partition",):
                        return False
            return True

        # The hinted owner got it by handoff, the other by read repair or anti-entropy.
        wait_for(every_owner_holds_it, HINTS_DRAIN_SECONDS, "every owner holds the write")


def test_a_paused_node_is_written_around_and_catches_up_after_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(tmp_path / "cluster")
    with LocalCluster(directory, nodes=4) as cluster:
        cluster.up()
        key, preference = _key_with(cluster, lambda p: p[0] != "node-4" and "node-4" in p)
        assert main(["cluster", "pause", "node-4", "--dir", directory]) == 0
        assert cluster.is_paused("node-4")
        assert main(["cluster", "status", "--dir", directory]) == 0
        assert "paused" in capsys.readouterr().out
        with Client(cluster.http_address(preference[0]), timeout_seconds=10) as client:
            client.put(key, b"while-paused", w=2)
        assert main(["cluster", "resume", "4", "--dir", directory]) == 0
        assert not cluster.is_paused("node-4")
        wait_for(lambda: cluster.hints_pending() == 0, HINTS_DRAIN_SECONDS, "hints drain")
        with Client(cluster.http_address("node-4")) as client:
            assert client.get(key, r=1).values == (b"while-paused",)


def test_partition_commands_refuse_bad_groups_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(tmp_path / "none")
    assert main(["cluster", "heal", "--dir", directory]) == 1
    assert "no cluster" in capsys.readouterr().err
