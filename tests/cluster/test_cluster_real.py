"""Real node processes on loopback: put/get, a SIGKILL under load, a full restart, and the
simulator's history checkers over a history recorded from real processes.

Every test runs its own cluster in ``tmp_path`` (ports picked free, 127.0.0.1 only) inside a
:class:`LocalCluster` context manager, which stops every process even when the test fails.
The fault tests are in the slow tier (``make test`` runs them; ``make test-fast`` does not).
"""

from __future__ import annotations

import itertools
import random
import socket
import threading
import time
from pathlib import Path

import pytest
from cluster_helpers import Recorder, stored_versions, wait_for
from conftest import processes_under
from dynamokv.impl.cli import main
from dynamokv.impl.client import Client, ClientError, union
from dynamokv.impl.core import covers
from dynamokv.impl.runtime._local_cluster import LocalCluster
from dynamokv.impl.sim._checkers import History

HINTS_DRAIN_SECONDS = 60.0


def _preference_list(cluster: LocalCluster, key: bytes) -> list[str]:
    with Client(cluster.http_address(1)) as client:
        document = client.json(f"/cluster/ring?key={key.decode()}")
    return list(document["key"]["preference_list"])


def test_a_put_on_one_node_is_read_on_every_node(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, nodes=3) as cluster:
        cluster.up()
        with Client(cluster.http_address("node-1")) as writer:
            context = writer.put("greeting", b"hello")
        assert context
        for name in cluster.names:
            with Client(cluster.http_address(name)) as reader:
                reply = reader.get("greeting")
                assert reply.values == (b"hello",)
        # The curl path: raw body in, raw body out, the context in a header.
        from dynamokv.impl.runtime._local_cluster import http_request

        status, headers, _ = http_request(
            cluster.http_address(2), "PUT", "/kv/curl-key", body=b"raw bytes"
        )
        assert status == 204 and headers["x-dynamo-context"]
        status, _, body = http_request(cluster.http_address(3), "GET", "/kv/curl-key")
        assert (status, body) == (200, b"raw bytes")


def test_cluster_up_then_down_leaves_no_process_behind(tmp_path: Path) -> None:
    directory = str(tmp_path / "cli")
    try:
        assert main(["cluster", "up", "--nodes", "3", "--dir", directory]) == 0
        assert len(processes_under(tmp_path)) == 3
        assert main(["cluster", "status", "--dir", directory]) == 0
        assert main(["cluster", "up", "--nodes", "3", "--dir", directory]) == 0  # reused
        assert len(processes_under(tmp_path)) == 3
    finally:
        assert main(["cluster", "down", "--dir", directory]) == 0
    assert processes_under(tmp_path) == []


def test_a_failed_cluster_up_stops_the_node_it_started_and_leaves_the_running_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """node-1 and node-3 are down, node-2 runs; node-3's HTTP port is taken. ``cluster up``
    starts node-1, fails on node-3, stops node-1 again, and leaves node-2 running."""
    directory = tmp_path / "cli"
    with LocalCluster(directory, nodes=3) as cluster:
        cluster.up()
        cluster.kill("node-1")
        cluster.kill("node-3")
        running = cluster.processes["node-2"].pid
        port = cluster.processes["node-3"].http_port
        with socket.socket() as taken:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            taken.bind(("127.0.0.1", port))
            taken.listen()
            capsys.readouterr()
            assert main(["cluster", "up", "--dir", str(directory)]) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err
        errors = [line for line in err.splitlines() if line.startswith("dynamokv")]
        assert errors == [
            f"dynamokv: error: node-3: port {port} on 127.0.0.1 is taken by another process; "
            "`dynamokv cluster down --wipe` and `up` again to pick new ports"
        ]
        assert err.endswith(errors[0] + "\n")
        assert "node-1: started pid" in err
        assert processes_under(tmp_path) == [running]
        assert LocalCluster(directory).processes["node-1"].pid is None


@pytest.mark.slow
def test_sigkill_under_write_load_writes_continue_then_hints_drain_and_replicas_converge(
    tmp_path: Path,
) -> None:
    """Four nodes (N=3), so a dead owner's writes have a substitute to hold them as hints."""
    with LocalCluster(tmp_path, nodes=4) as cluster:
        cluster.up()
        victim = "node-2"
        writers = [name for name in cluster.names if name != victim]
        acked: dict[bytes, bytes] = {}
        failures: list[str] = []
        stop = threading.Event()
        killed_at: list[int] = []

        def write_load(writer_index: int) -> None:
            with Client(cluster.http_address(writers[writer_index]), timeout_seconds=10) as client:
                for sequence in itertools.count():
                    if stop.is_set() or sequence >= 400:
                        return
                    key = b"load-%d-%d" % (writer_index, sequence)
                    value = b"value-%d-%d" % (writer_index, sequence)
                    try:
                        client.put(key, value, w=2)
                        acked[key] = value
                    except ClientError as error:
                        failures.append(f"{key!r}: {error}")

        threads = [threading.Thread(target=write_load, args=(i,)) for i in range(len(writers))]
        for thread in threads:
            thread.start()
        try:
            wait_for(lambda: len(acked) >= 60, 30, "60 writes before the kill")
            cluster.kill(victim)
            killed_at.append(len(acked))
            wait_for(lambda: len(acked) >= killed_at[0] + 150, 60, "150 writes after the kill")
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        after_kill = len(acked) - killed_at[0]
        assert after_kill >= 150
        assert len(failures) <= len(acked) // 20, failures[:5]
        pending = cluster.hints_pending()
        assert pending is not None and pending > 0, "writes for the dead owner left hints"

        cluster.restart(victim)
        wait_for(lambda: cluster.hints_pending() == 0, HINTS_DRAIN_SECONDS, "hints drain")

        keys = sorted(acked)
        owners = {key: _preference_list(cluster, key) for key in keys}
        cluster.down()
        held = {
            name: stored_versions(cluster.processes[name].data_dir, keys) for name in cluster.names
        }
        for key in keys:
            replicas = {name: held[name][key] for name in owners[key]}
            assert len(set(replicas.values())) == 1, f"owners of {key!r} disagree: {replicas}"
            values = {version.value for version in next(iter(replicas.values()))}
            assert acked[key] in values, f"{key!r} lost its acknowledged value"


@pytest.mark.slow
def test_a_full_cluster_restart_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    with LocalCluster(tmp_path, nodes=3) as cluster:
        cluster.up()
        written = {}
        with Client(cluster.http_address(1)) as client:
            for index in range(100):
                key = f"durable-{index}"
                written[key] = f"value-{index}".encode()
                client.put(key, written[key])
        cluster.down()
        assert processes_under(tmp_path) == []
        cluster.up()
        for name in cluster.names:
            with Client(cluster.http_address(name)) as client:
                for key, value in written.items():
                    assert client.get(key).values == (value,), (name, key)


@pytest.mark.slow
def test_history_of_real_processes_with_kills_and_restarts_passes_the_checkers(
    tmp_path: Path,
) -> None:
    """Cart clients read-modify-write a few keys on random nodes while nodes are killed and
    restarted; the simulator's checkers (phantoms, false siblings) run over the history, and
    at rest every owner holds every acknowledged version (property 1) and the owners agree
    (property 5), read from their stores on disk."""
    keys = [b"cart-a", b"cart-b", b"cart-c"]
    recorder = Recorder()
    with LocalCluster(tmp_path, nodes=4) as cluster:
        cluster.up()
        names = cluster.names
        stop = threading.Event()
        items = itertools.count()

        def cart_client(client_id: int) -> None:
            rng = random.Random(client_id)
            clients: dict[str, Client] = {}
            try:
                while not stop.is_set():
                    node = rng.choice(names)
                    client = clients.setdefault(
                        node, Client(cluster.http_address(node), timeout_seconds=5)
                    )
                    key = rng.choice(keys)
                    read, _reply = recorder.get(client, client_id, node, key, 2)
                    if not read.ok:
                        time.sleep(0.05)
                        continue
                    values = [v.value for v in read.versions if v.value is not None]
                    item = b"c%d-item%d" % (client_id, next(items))
                    if rng.random() < 0.1:
                        recorder.put(client, client_id, node, key, None, _context(read), 2)
                    else:
                        merged = union([_sibling(v) for v in read.versions]) if values else None
                        value = (merged + b"\n" if merged else b"") + item
                        recorder.put(client, client_id, node, key, value, _context(read), 2)
            finally:
                for client in clients.values():
                    client.close()

        threads = [threading.Thread(target=cart_client, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        try:
            rng = random.Random(7)
            for _round in range(3):
                time.sleep(1.5)
                victim = rng.choice(names)
                cluster.kill(victim)
                time.sleep(1.5)
                cluster.restart(victim)
            time.sleep(1.0)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        wait_for(lambda: cluster.hints_pending() == 0, HINTS_DRAIN_SECONDS, "hints drain")
        # Read repair with R = N of every key (as the simulator's quiescence does): it makes
        # the replicas agree now, instead of after anti-entropy's next rounds.
        with Client(cluster.http_address(1)) as client:
            for key in keys:
                client.get(key, r=3)
        time.sleep(0.5)
        owners = {key: _preference_list(cluster, key) for key in keys}
        cluster.down()
        held = {name: stored_versions(cluster.processes[name].data_dir, keys) for name in names}

    recorder.finish()
    history = History(records=recorder.records)
    history.check_phantoms()
    history.check_false_siblings()
    acked = recorder.acked()
    assert len(acked) >= 20, f"only {len(acked)} writes acknowledged"
    for record in acked:
        assert record.version is not None
        for owner in owners[record.key]:
            if not covers(held[owner][record.key], record.version):
                history.violations.append(
                    f"property 1: {record.version.dot} of {record.key!r} missing on {owner}"
                )
    for key in keys:
        distinct = {held[owner][key] for owner in owners[key]}
        if len(distinct) > 1:
            history.violations.append(f"property 5: owners of {key!r} disagree")
    assert history.violations == [], "\n".join(history.violations[:10])


def _context(record: object) -> str:
    from dynamokv.impl.runtime._api import encode_context

    return encode_context(record.context) if record.context else ""  # type: ignore[attr-defined]


def _sibling(version: object) -> object:
    from dynamokv.impl.client import Sibling

    return Sibling(version.value, version.clock, version.dot)  # type: ignore[attr-defined]
