"""The local cluster manager (``LocalCluster`` and ``dynamokv cluster``), on stand-in nodes.

A stand-in node (``fake_node.py``) starts in milliseconds and speaks the process side of
the node contract, so these tests are in the fast tier. They check what the manager owns:
files under the cluster directory, idempotent ``up``, stale pids, kill and restart by name
or number, ``down`` (with and without ``--wipe``), and that nothing outlives a failing test.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
from conftest import processes_under
from dynamokv.impl.cli import main
from dynamokv.impl.runtime._local_cluster import (
    KILL_WAIT_SECONDS,
    PORT_RANGE_VARIABLE,
    ClusterError,
    LocalCluster,
    parse_metrics,
    pick_free_ports,
    port_is_free,
    ports_to_pick,
    process_alive,
)

FAKE_NODE = [sys.executable, str(Path(__file__).with_name("fake_node.py"))]


def fake_cluster(directory: Path, nodes: int = 3) -> LocalCluster:
    return LocalCluster(directory, nodes=nodes, node_command=FAKE_NODE, ring_timeout_seconds=10)


def test_up_writes_cluster_json_configs_and_logs(tmp_path: Path) -> None:
    with fake_cluster(tmp_path) as cluster:
        started = cluster.up()
        assert started == ["node-1", "node-2", "node-3"]
        data = json.loads((tmp_path / "cluster.json").read_text())
        assert [node["name"] for node in data["nodes"]] == started
        for node in data["nodes"]:
            assert node["http"].startswith("127.0.0.1:")
            assert process_alive(node["pid"], node["config"])
            assert Path(node["data_dir"]).is_dir()
            assert "READY" in Path(node["stdout"]).read_text()
        config = (tmp_path / "node-2" / "node.toml").read_text()
        assert 'name = "node-2"' in config and "w = 2" in config and "members = [" in config
        ports = {node["http"] for node in data["nodes"]} | {node["peer"] for node in data["nodes"]}
        assert len(ports) == 6
    assert processes_under(tmp_path) == []


def test_up_again_reuses_the_running_cluster(tmp_path: Path) -> None:
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        pids = [info.pid for info in cluster.processes.values()]
        again = fake_cluster(tmp_path)
        assert again.up() == []
        assert [info.pid for info in again.processes.values()] == pids


def test_a_stale_pid_is_detected_and_the_node_restarted(tmp_path: Path) -> None:
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        victim = cluster.processes["node-2"]
        assert victim.pid is not None
        os.kill(victim.pid, signal.SIGKILL)
        os.waitpid(victim.pid, 0)
        old_port = victim.http
        other = fake_cluster(tmp_path)
        assert not other.is_up("node-2")
        assert other.up() == ["node-2"]
        assert other.processes["node-2"].http == old_port
        other.down()


def test_a_reused_pid_of_another_process_is_not_ours(tmp_path: Path) -> None:
    assert not process_alive(os.getpid(), str(tmp_path / "node-1" / "node.toml"))
    assert not process_alive(None, "x")


def test_kill_and_restart_by_name_or_number(tmp_path: Path) -> None:
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        assert cluster.kill(2) == "node-2"
        assert not cluster.is_up("node-2")
        statuses = {row.name: row for row in cluster.status()}
        assert not statuses["node-2"].up and statuses["node-1"].up
        assert statuses["node-1"].hints_pending == 0 and statuses["node-1"].keys == 3
        assert cluster.restart("node-2") == "node-2"
        assert cluster.is_up(2)
        with pytest.raises(ClusterError, match="no node 'node-9'"):
            cluster.kill("node-9")


def test_a_number_names_the_node_with_that_number_after_another_has_left(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After node-2 leaves, `kill 3` is node-3 and `kill 2` no node (not the second row)."""
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        # What `leave` does once node-2 has handed its data off: stop it, forget it.
        cluster._stop(["node-2"])
        del cluster.processes["node-2"]
        cluster._save()
        assert cluster.resolve(3) == "node-3"
        with pytest.raises(ClusterError, match="no node '2'"):
            cluster.resolve(2)
        capsys.readouterr()
        assert main(["cluster", "kill", "2", "--dir", str(tmp_path)]) == 1
        assert "no node '2'" in capsys.readouterr().err
        assert cluster.is_up("node-1") and cluster.is_up("node-3")
        assert main(["cluster", "kill", "3", "--dir", str(tmp_path)]) == 0
        # The command's own manager saw node-3 go (an exiting process's command line reads
        # empty before it is a zombie); this one, its parent, waits to reap it, bounded.
        assert cluster._wait_exit(["node-3"], KILL_WAIT_SECONDS) == []
        assert cluster.is_up("node-1")
        capsys.readouterr()
        assert main(["cluster", "status", "--json", "--dir", str(tmp_path)]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [(row["index"], row["node"]) for row in rows] == [(1, "node-1"), (3, "node-3")]


def test_up_without_nodes_reuses_a_cluster_of_any_size_and_refuses_another_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cluster grown (or shrunk) by join and leave is not the default 5 nodes."""
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        pids = [info.pid for info in cluster.processes.values()]
        capsys.readouterr()
        assert main(["cluster", "up", "--dir", str(tmp_path)]) == 0
        assert "reused the running cluster" in capsys.readouterr().out
        assert [info.pid for info in fake_cluster(tmp_path).processes.values()] == pids
        assert main(["cluster", "up", "--nodes", "5", "--dir", str(tmp_path)]) == 1
        assert "holds a 3-node cluster" in capsys.readouterr().err


def test_down_keeps_data_and_wipe_removes_it(tmp_path: Path) -> None:
    cluster = fake_cluster(tmp_path)
    cluster.up()
    marker = Path(cluster.processes["node-1"].data_dir) / "marker"
    marker.write_text("x")
    assert sorted(cluster.down()) == ["node-1", "node-2", "node-3"]
    assert processes_under(tmp_path) == []
    assert marker.exists()
    assert all(
        node["pid"] is None for node in json.loads(cluster.cluster_file.read_text())["nodes"]
    )
    cluster.up()
    cluster.down(wipe=True)
    assert not marker.exists() and not cluster.cluster_file.exists()


def test_exit_stops_the_processes_even_when_the_test_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), fake_cluster(tmp_path) as cluster:
        cluster.up()
        raise RuntimeError("a failing test")
    assert processes_under(tmp_path) == []


def test_a_node_that_exits_early_is_reported_with_its_log(tmp_path: Path) -> None:
    broken = [sys.executable, "-c", "import sys; print('bad config', file=sys.stderr); sys.exit(3)"]
    with (
        LocalCluster(tmp_path, nodes=1, node_command=broken) as cluster,
        pytest.raises(ClusterError, match=r"exited .*bad config"),
    ):
        cluster.up()


def test_a_failed_up_stops_the_nodes_it_started(tmp_path: Path) -> None:
    """node-3 exits before READY: node-1 and node-2, started by the same call, are stopped."""
    fails_as_node_3 = [
        sys.executable,
        "-c",
        "import runpy, sys\n"
        "if sys.argv[-1].endswith('node-3/node.toml'):\n"
        "    sys.exit('node-3 refuses to start')\n"
        f"runpy.run_path({str(FAKE_NODE[1])!r}, run_name='__main__')\n",
    ]
    with LocalCluster(tmp_path, nodes=3, node_command=fails_as_node_3) as cluster:
        with pytest.raises(ClusterError, match=r"node-3 exited .*node-3 refuses to start"):
            cluster.up()
        assert processes_under(tmp_path) == []
        recorded = json.loads(cluster.cluster_file.read_text())["nodes"]
        assert [node["pid"] for node in recorded] == [None, None, None]


def test_a_restart_that_times_out_says_the_node_still_runs_and_how_to_stop_it(
    tmp_path: Path,
) -> None:
    """A node that is slow to print READY (a long log to replay) is left running when the
    manager gives up waiting: the error must say so, not read as "the node is down"."""
    hangs_once_marked = [
        sys.executable,
        "-c",
        "import runpy, sys, time, pathlib\n"
        f"if pathlib.Path({str(tmp_path / 'hang')!r}).exists():\n"
        "    time.sleep(120)\n"
        f"runpy.run_path({str(FAKE_NODE[1])!r}, run_name='__main__')\n",
    ]
    with LocalCluster(
        tmp_path, nodes=1, node_command=hangs_once_marked, ring_timeout_seconds=10
    ) as cluster:
        cluster.up()
        (tmp_path / "hang").touch()
        cluster.ready_timeout_seconds = 0.5  # READY never comes: this is a bound, not a wait
        with pytest.raises(ClusterError) as caught:
            cluster.restart("node-1")
        pid = cluster.processes["node-1"].pid
        assert pid is not None and process_alive(pid, cluster.processes["node-1"].config)
        assert f"still running as pid {pid}" in str(caught.value)
        assert "dynamokv cluster kill node-1" in str(caught.value)
        cluster.kill("node-1")
        assert not cluster.is_up("node-1")
    # `up` stops what it started when it fails, so its error does not say "still running".
    with LocalCluster(
        tmp_path / "again", nodes=1, node_command=hangs_once_marked, ring_timeout_seconds=10
    ) as cluster:
        cluster.ready_timeout_seconds = 0.5
        with pytest.raises(ClusterError, match="not READY after") as caught:
            cluster.up()
        assert "still running" not in str(caught.value)
        assert processes_under(tmp_path / "again") == []


def test_leave_of_a_node_that_is_down_does_not_claim_its_data_was_handed_off(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dead node hands nothing off; the command says where its keys are instead."""
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        cluster.kill("node-3")
        assert main(["cluster", "leave", "3", "--dir", str(tmp_path)]) == 0
        out = capsys.readouterr().out
        assert "node-3 was down, so it left the ring without handing its data off" in out
        assert "its data is on the other nodes" not in out


def test_base_port_in_use_is_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ClusterError, match=f"port {port}"):
            LocalCluster(tmp_path, nodes=1, base_port=port, node_command=FAKE_NODE).up()


def test_base_port_gives_node_1_the_base_port_as_its_help_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """node-1 gets P and P+1, node-2 P+2 and P+3: the help of --base-port says the same,
    so that a user who counts from node-1 finds the ports where the help puts them."""
    candidates = ports_to_pick()
    base = next(
        port
        for port in range(candidates.start, candidates.stop - 4, 4)
        if all(port_is_free(port + offset) for offset in range(4))
    )
    with LocalCluster(
        tmp_path, nodes=2, base_port=base, node_command=FAKE_NODE, ring_timeout_seconds=10
    ) as cluster:
        cluster.up()
        assert [(info.http, info.peer) for info in cluster.processes.values()] == [
            (f"127.0.0.1:{base}", f"127.0.0.1:{base + 1}"),
            (f"127.0.0.1:{base + 2}", f"127.0.0.1:{base + 3}"),
        ]
    with pytest.raises(SystemExit):
        main(["cluster", "up", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "node-i gets HTTP port P+2(i-1) and peer port P+2(i-1)+1: node-1 has P and P+1" in (
        help_text
    )


def test_status_help_names_every_column_and_state(capsys: pytest.CaptureFixture[str]) -> None:
    """The help of `cluster status` names what the table shows: every state a node can be
    in and the member and transfers columns, not only up and down."""
    with pytest.raises(SystemExit):
        main(["cluster", "status", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for shown in ("up", "down", "paused", "partitioned", "cut off", "member", "transfers"):
        assert shown in help_text, shown


def test_pick_free_ports_are_distinct() -> None:
    ports = pick_free_ports(20)
    assert len(set(ports)) == 20


def test_picked_ports_lie_below_the_ephemeral_range() -> None:
    """An outgoing connection never takes a picked port before its node binds it."""
    candidates = ports_to_pick()
    assert len(candidates) >= 64 * 20  # 10,000 up to Linux's ephemeral range
    assert all(port in candidates for port in pick_free_ports(20))


def test_a_chosen_port_range_is_the_only_one_drawn_from(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_RANGE_VARIABLE, "20000-21999")
    assert ports_to_pick() == range(20_000, 22_000)
    assert all(20_000 <= port <= 21_999 for port in pick_free_ports(20))


@pytest.mark.parametrize("text", ["20000", "2000-1000", "0-10", "1-65536", "a-b", "-"])
def test_a_malformed_port_range_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    monkeypatch.setenv(PORT_RANGE_VARIABLE, text)
    with pytest.raises(ClusterError, match=f"{PORT_RANGE_VARIABLE}='{text}' is not a port range"):
        ports_to_pick()


def test_parse_metrics_keeps_labels_and_skips_comments() -> None:
    metrics = parse_metrics(
        '# HELP x y\n# TYPE x counter\nx_total{op="get"} 3\nx_total{op="put"} 4\nhints 2.5\n'
    )
    assert metrics == {'x_total{op="get"}': 3.0, 'x_total{op="put"}': 4.0, "hints": 2.5}


def test_cli_status_without_a_cluster_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "status", "--dir", str(tmp_path)]) == 1
    assert "no cluster in" in capsys.readouterr().err


def test_cli_kill_of_an_unknown_node_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        assert main(["cluster", "kill", "7", "--dir", str(tmp_path)]) == 1
        assert "no node '7'" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["kill", "1"],
        ["restart", "node-1"],
        ["pause", "1"],
        ["leave", "1"],
        ["join"],
        ["partition", "1/2"],
    ],
)
def test_a_command_against_a_directory_without_a_cluster_is_one_line_and_creates_nothing(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "never-started"
    assert main(["cluster", *argv, "--dir", str(directory)]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and "no cluster in" in captured.err
    assert captured.out == ""  # no progress line left behind either
    assert not directory.exists()


@pytest.mark.parametrize("groups", ["1,2/", "/", "1//2", "1,,2/3", ""])
def test_a_partition_with_an_empty_group_says_so_instead_of_naming_a_node(
    groups: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "partition", groups, "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has an empty group or node name" in err
    assert "no node ''" not in err


def test_leave_of_an_unknown_node_is_one_line_with_no_progress_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        capsys.readouterr()
        assert main(["cluster", "leave", "node-9", "--dir", str(tmp_path)]) == 1
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        assert "no node 'node-9'" in captured.err
    assert processes_under(tmp_path) == []


def test_a_partition_is_recorded_applied_again_on_restart_and_forgotten_by_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dynamokv.impl.runtime._local_cluster import http_json

    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        cluster.partition([["node-1"], [2, "node-3"]])
        recorded = json.loads((tmp_path / "cluster.json").read_text())["nodes"]
        assert recorded[0]["faults"]["drop_to"] == ["node-2", "node-3"]
        cluster.restart("node-2")  # a restarted node gets its recorded faults back
        status, document = http_json(cluster.http_address("node-2"), "GET", "/admin/faults")
        assert status == 200 and document["drop_from"] == ["node-1"]
        for bad in ("1,2", "1/1", "1/9"):
            assert main(["cluster", "partition", bad, "--dir", str(tmp_path)]) == 1
            assert capsys.readouterr().err.count("\n") == 1
        assert cluster.heal() == ["node-1", "node-2", "node-3"]
        cluster.partition([["node-1"], ["node-2"]], one_way=True)
        cluster.down()
        assert all(
            not node["faults"] for node in json.loads(cluster.cluster_file.read_text())["nodes"]
        )
    assert processes_under(tmp_path) == []


def test_pause_and_resume_stop_and_continue_the_process(tmp_path: Path) -> None:
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        cluster.pause(2)
        assert cluster.is_paused("node-2") and cluster.is_up("node-2")
        assert [row.paused for row in cluster.status()] == [False, True, False]
        cluster.resume("node-2")
        assert not cluster.is_paused("node-2")
        cluster.pause(3)  # down() must stop a paused node too, without waiting for SIGKILL
    assert processes_under(tmp_path) == []


def test_cli_status_json_and_the_table_on_an_80_column_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with fake_cluster(tmp_path) as cluster:
        cluster.up()
        cluster.kill("node-3")
        assert main(["cluster", "status", "--json", "--dir", str(tmp_path)]) == 0
        rows = json.loads(capsys.readouterr().out)
        assert [row["node"] for row in rows] == ["node-1", "node-2", "node-3"]
        assert [row["state"] for row in rows] == ["up", "up", "down"]
        assert rows[0]["http"] == cluster.http_address("node-1")
        assert rows[0]["keys"] == 3 and rows[0]["hints_pending"] == 0  # the node's /metrics
        assert rows[2]["pid"] is None and rows[2]["keys"] is None
        # A terminal 80 columns wide: nothing is cut short (the lines run long instead).
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        monkeypatch.setenv("COLUMNS", "80")
        assert main(["cluster", "status", "--dir", str(tmp_path)]) == 0
        table = capsys.readouterr().out
        for name in cluster.names:
            assert cluster.http_address(name) in table
            assert cluster.processes[name].peer in table
        assert "down" in table and "…" not in table
        assert str(cluster.processes["node-1"].pid) in table


def test_a_node_number_is_the_one_in_its_name() -> None:
    from dynamokv.impl.runtime._local_cluster import node_number

    assert [node_number(name) for name in ("node-3", "n12", "node-x", "seed", "node-")] == [
        3,
        12,
        None,
        None,
        None,
    ]


def test_the_command_line_looks_for_clusters_where_the_manager_keeps_them() -> None:
    from dynamokv.impl.cli._types import CLUSTER_DIRECTORY
    from dynamokv.impl.runtime._local_cluster import DEFAULT_CLUSTER_DIRECTORY

    assert CLUSTER_DIRECTORY == DEFAULT_CLUSTER_DIRECTORY
