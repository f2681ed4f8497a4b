"""Join and leave on real processes (Dynamo §4.8.1), under a write load.

``cluster join`` starts a node outside the ring that finds the cluster through its seeds;
a member adds it by admin command and the old owners stream it the stolen partitions in
batches while they keep serving. ``cluster leave`` hands a node's partitions off and stops
it. Writes go on throughout; every acknowledged one must be on every owner of the final
ring afterwards, read from the stores on disk.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from cluster_helpers import stored_versions, wait_for
from conftest import processes_under
from dynamokv.impl.cli import main
from dynamokv.impl.client import Client, ClientError
from dynamokv.impl.runtime._local_cluster import LocalCluster


class _Writer:
    """Puts fresh keys through the given nodes until stopped (bounded: 20,000 puts)."""

    def __init__(self, cluster: LocalCluster, nodes: list[str]) -> None:
        self.addresses = [cluster.http_address(node) for node in nodes]
        self.acknowledged: dict[bytes, bytes] = {}
        self.failures = 0
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(index,), daemon=True)
            for index in range(len(self.addresses))
        ]

    def __enter__(self) -> _Writer:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, index: int) -> None:
        with Client(self.addresses[index], timeout_seconds=10) as client:
            for sequence in itertools.count():
                if self._stop.is_set() or sequence >= 20_000:
                    return
                key, value = b"w%d-%d" % (index, sequence), b"value-%d-%d" % (index, sequence)
                try:
                    client.put(key, value, w=2)
                except ClientError:
                    self.failures += 1
                    continue
                self.acknowledged[key] = value


@pytest.mark.slow
def test_a_join_and_a_leave_under_a_write_load_lose_no_acknowledged_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(tmp_path / "cluster")
    with LocalCluster(directory, nodes=4) as cluster:
        cluster.up()
        with _Writer(cluster, ["node-1", "node-3", "node-4"]) as writer:
            wait_for(lambda: len(writer.acknowledged) >= 300, 60, "writes before the join")
            assert main(["cluster", "join", "--dir", directory]) == 0
            assert "node-5 joined the ring" in capsys.readouterr().out
            during_join = len(writer.acknowledged)
            assert main(["cluster", "leave", "node-2", "--dir", directory]) == 0
            wait_for(
                lambda: len(writer.acknowledged) >= during_join + 200, 60, "writes after the leave"
            )
        cluster._load_if_changed()  # the CLI changed the cluster file
        assert cluster.names == ["node-1", "node-3", "node-4", "node-5"]
        members = cluster.member_view()
        assert members["node-5"]["status"] == "normal" and members["node-5"]["in_ring"]
        assert not members.get("node-2", {}).get("in_ring", False)
        assert cluster.metrics("node-5").get("dynamokv_keys", 0) > 0  # it received data
        wait_for(lambda: cluster.hints_pending() == 0, 60, "hints drain")
        keys = sorted(writer.acknowledged)
        with Client(cluster.http_address(1)) as client:
            owners = {
                key: client.json(f"/cluster/ring?key={key.decode()}")["key"]["preference_list"]
                for key in keys
            }
        cluster.down()
        held = {
            name: stored_versions(cluster.processes[name].data_dir, keys)
            for name in owners[keys[0]] + cluster.names
        }
    missing = [
        (key, owner)
        for key in keys
        for owner in owners[key]
        if writer.acknowledged[key] not in {v.value for v in held[owner][key]}
    ]
    assert missing == [], f"{len(missing)} acknowledged copies missing, e.g. {missing[:3]}"
    assert len(keys) >= 500
    assert processes_under(tmp_path) == []


def test_join_and_leave_refuse_bad_arguments_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(tmp_path / "none")
    assert main(["cluster", "join", "--weight", "0", "--dir", directory]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["cluster", "leave", "node-1", "--dir", directory]) == 1
    assert "no cluster" in capsys.readouterr().err


@pytest.mark.slow
def test_a_weighted_join_gives_every_node_its_share_of_the_partitions(tmp_path: Path) -> None:
    """Heterogeneous nodes (Dynamo §2): with weights 1, 1, 2 and a newcomer of weight 2,
    every node first-owns Q·wᵢ/Σw ± 1 partitions of the ring all nodes adopted."""
    q = 120
    with LocalCluster(
        tmp_path / "cluster", nodes=3, weights=[1, 1, 2], partition_count=q
    ) as cluster:
        cluster.up()
        newcomer = cluster.join(weight=2)
        counts = {row.name: row.partitions for row in cluster.status()}
    weights = {"node-1": 1, "node-2": 1, "node-3": 2, newcomer: 2}
    for name, weight in weights.items():
        share = q * weight / sum(weights.values())
        assert counts[name] is not None and abs(counts[name] - share) <= 1, (counts, name, share)
    assert counts[newcomer] == 40  # an equal share would be 30
    assert processes_under(tmp_path) == []


def test_a_cluster_started_smaller_than_n_replicates_to_n_once_a_node_joins(
    tmp_path: Path,
) -> None:
    """N is the configured one, capped by each ring's nodes: after a third node joins a
    2-node cluster (N = 3), every node serves the same ring with N = 3, so they agree on
    every preference list, and a write can wait for three replicas."""
    with LocalCluster(tmp_path / "cluster", nodes=2, partition_count=64) as cluster:
        cluster.up()
        with Client(cluster.http_address("node-1"), timeout_seconds=10) as client:
            assert client.json("/cluster/ring")["n"] == 2
            assert _largest_quorum_documented(client) == 2
        newcomer = cluster.join()
        rings = []
        for name in cluster.names:
            with Client(cluster.http_address(name), timeout_seconds=10) as client:
                rings.append(client.json("/cluster/ring"))
        assert all(ring == rings[0] for ring in rings), rings
        assert rings[0]["n"] == 3 and newcomer in rings[0]["nodes"]
        with Client(cluster.http_address("node-1"), timeout_seconds=10) as client:
            client.put(b"three-copies", b"v", w=3)  # raises unless three replicas acknowledge
            assert _largest_quorum_documented(client) == 3
    assert processes_under(tmp_path) == []


def _largest_quorum_documented(client: Client) -> int:
    """The ``maximum`` of ``w`` in the node's OpenAPI document (the ring's N)."""
    document = client.json("/openapi.json")
    for path in document["paths"].values():
        for operation in path.values():
            for parameter in operation.get("parameters", ()) if isinstance(operation, dict) else ():
                if parameter.get("name") == "w":
                    return int(parameter["schema"]["maximum"])
    raise AssertionError("no w parameter in the OpenAPI document")


@pytest.mark.slow
def test_a_leave_held_up_by_a_partition_can_be_healed_meanwhile_and_retried(
    tmp_path: Path,
) -> None:
    """A leave whose handoff a partition holds up: `cluster heal` from another shell must
    not wait for it, and a leave that ran out of time must be retried to its end (the node
    already out of the ring), not refused because the node owns no partition any more."""
    from dynamokv.impl.runtime._local_cluster import ClusterError

    directory = tmp_path / "cluster"
    with LocalCluster(directory, nodes=4) as cluster:
        cluster.up()
        with Client(cluster.http_address(1), timeout_seconds=10) as client:
            for index in range(30):
                client.put(b"k%d" % index, b"v%d" % index, w=3)

        def status_of(name: str) -> object:
            return cluster.member_view("node-1").get(name, {}).get("status")

        # A leave waiting for its handoff, and a heal from another manager meanwhile.
        cluster.partition([["node-4"], ["node-1", "node-2", "node-3"]])
        leaver = LocalCluster(directory, ring_timeout_seconds=30)
        outcome: list[object] = []

        def leave_node_4() -> None:
            try:
                outcome.append(leaver.leave("node-4"))
            except ClusterError as error:
                outcome.append(error)

        leaving = threading.Thread(target=leave_node_4, daemon=True)
        leaving.start()
        wait_for(lambda: status_of("node-4") == "leaving", 60, "node-4 leaving")
        healer = LocalCluster(directory)
        healing = threading.Thread(target=healer.heal, daemon=True)
        healing.start()
        healing.join(timeout=30)
        assert not healing.is_alive(), "`cluster heal` waited for the leave to end"
        leaving.join(timeout=120)
        assert outcome == ["node-4"]

        # A leave that runs out of time, then the same leave again once healed.
        cluster._load_if_changed()
        cluster.partition([["node-3"], ["node-1", "node-2"]])
        impatient = LocalCluster(directory, ring_timeout_seconds=1)
        with pytest.raises(ClusterError, match="has not finished handing its data off"):
            impatient.leave("node-3")
        assert status_of("node-3") == "leaving"
        cluster.heal()
        assert LocalCluster(directory, ring_timeout_seconds=10).leave("node-3") == "node-3"
        cluster._load_if_changed()
        assert cluster.names == ["node-1", "node-2"]
        with Client(cluster.http_address(1), timeout_seconds=10) as client:
            for index in range(30):
                assert client.get(b"k%d" % index, r=2).values == (b"v%d" % index,)
    assert processes_under(tmp_path) == []


@pytest.mark.slow
def test_a_join_waits_for_a_paused_node_and_lets_another_shell_resume_it(
    tmp_path: Path,
) -> None:
    """A paused node may owe the newcomer partitions it cannot report: the join is not over
    while it stays paused, and `cluster resume` from another shell must not wait for the
    join. Once resumed, the join ends with every key readable through the newcomer."""
    directory = tmp_path / "cluster"
    with LocalCluster(directory, nodes=3, partition_count=64) as cluster:
        cluster.up()
        with Client(cluster.http_address(1), timeout_seconds=10) as client:
            for index in range(30):
                client.put(b"k%d" % index, b"v%d" % index, w=3)
        cluster.pause("node-2")
        said: list[str] = []
        joiner = LocalCluster(directory, progress=said.append)
        outcome: list[object] = []

        def join() -> None:
            try:
                outcome.append(joiner.join())
            except Exception as error:  # reported through the assertion below
                outcome.append(error)

        joining = threading.Thread(target=join, daemon=True)
        joining.start()
        wait_for(
            lambda: any("waiting for node-2 to resume" in line for line in said),
            120,
            "the join waiting for the paused node-2",
        )
        assert joining.is_alive() and outcome == []
        resumer = LocalCluster(directory)
        resuming = threading.Thread(target=resumer.resume, args=("node-2",), daemon=True)
        resuming.start()
        resuming.join(timeout=30)
        assert not resuming.is_alive(), "`cluster resume` waited for the join to end"
        joining.join(timeout=180)
        assert outcome == ["node-4"], outcome
        cluster._load_if_changed()
        with Client(cluster.http_address("node-4"), timeout_seconds=10) as client:
            for index in range(30):
                assert client.get(b"k%d" % index, r=2).values == (b"v%d" % index,)
    assert processes_under(tmp_path) == []


def test_a_node_that_left_never_lends_its_name_to_a_newcomer(tmp_path: Path) -> None:
    """Every member remembers a departed node as ``left`` and its directory keeps its files,
    so the next join gets a fresh name (and a fresh directory) and the ring takes it in."""
    with LocalCluster(tmp_path / "cluster", nodes=3, partition_count=64) as cluster:
        cluster.up()
        assert cluster.join() == "node-4"
        assert cluster.leave("node-4") == "node-4"
        assert cluster.next_node_name() == "node-5"
        assert cluster.join() == "node-5"
        assert "node-5" in cluster.member_view("node-1")
        assert cluster.member_view("node-1")["node-5"]["status"] == "normal"
    assert processes_under(tmp_path) == []
