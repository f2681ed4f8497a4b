"""Real processes: three ``dynamokv node run`` subprocesses on loopback.

Put and get through the Python client and through the CLI, then SIGTERM every node: each
exits 0 after a graceful drain. Every process is killed by the fixture even on failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dynamokv.impl.client import Client, union
from node_helpers import ProcessCluster


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dynamokv.impl.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_three_node_processes_serve_the_client_and_the_cli_and_stop_on_sigterm(
    tmp_path: Path,
) -> None:
    with ProcessCluster(tmp_path, 3) as cluster:
        for member in cluster.members:
            cluster.start(member.name)
        cluster.wait_serving()
        with Client(cluster.http("node-1")) as first, Client(cluster.http("node-3")) as third:
            first.put("cart", b"milk")
            third.put("cart", b"eggs")  # blind: a concurrent sibling
            assert sorted(third.get("cart").values) == [b"eggs", b"milk"]
            assert third.get_resolved("cart", union) == b"eggs\nmilk"
            assert first.get("cart").values == (b"eggs\nmilk",)
        # The CLI, with --node and with the cluster file the cluster manager writes.
        node = cluster.http("node-2")
        assert _cli("put", "greeting", "hello", "--node", node, cwd=tmp_path).returncode == 0
        done = _cli("get", "greeting", "--node", node, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (0, "hello\n")
        missing = _cli("get", "greeting", cwd=tmp_path)
        assert missing.returncode == 1 and "dynamokv cluster up" in missing.stderr
        state = tmp_path / ".dynamokv"
        state.mkdir()
        (state / "cluster.json").write_text(
            json.dumps({"nodes": [{"name": "node-2", "http": node, "peer": "", "pid": 0}]})
        )
        assert _cli("put", "greeting", "bonjour", "--blind", cwd=tmp_path).returncode == 0
        siblings = _cli("get", "greeting", cwd=tmp_path)
        assert siblings.returncode == 0 and "2 siblings" in siblings.stdout
        assert "hello" in siblings.stdout and "bonjour" in siblings.stdout
        assert _cli("delete", "greeting", cwd=tmp_path).returncode == 0
        assert _cli("get", "greeting", cwd=tmp_path).returncode == 1
        for member in cluster.members:
            assert cluster.terminate(member.name) == 0, cluster.stderr(member.name)
        for member in cluster.members:
            events = [
                json.loads(line)["event"] for line in cluster.stderr(member.name).splitlines()
            ]
            assert events[0] == "node.ready" and events[-1] == "node.stopped"


def test_a_bad_configuration_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[node]\nname = "a"\nparition_count = 3\n')
    done = _cli("node", "run", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "unknown key node.parition_count" in done.stderr
