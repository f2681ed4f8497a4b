"""``dynamokv bench reap`` on a small real cluster: every owner reaps, nothing is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import processes_under

RUN_SECONDS_MAX = 300


def test_reap_on_one_node_writes_to_every_replica_and_deletes_its_temporary_cluster(
    tmp_path: Path,
) -> None:
    """Fewer nodes than N = 3 (so every write waits for one replica, not three), and the
    cluster of a run without ``--dir`` lives in a temporary directory removed at the end."""
    command = [sys.executable, "-m", "dynamokv.impl.cli", "bench", "reap", "--json"]
    command += ["--nodes", "1", "--keys", "20", "--grace-seconds", "1"]
    done = subprocess.run(
        command,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=RUN_SECONDS_MAX,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["deleted"] == 18 and result["deleted_keys_left_on_disk"] == 0
    assert result["directory"] is None
    assert list(tmp_path.glob("dynamokv-reap-*")) == []
    assert processes_under(tmp_path) == []
