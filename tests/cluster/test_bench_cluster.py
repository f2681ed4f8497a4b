"""``dynamokv bench cluster``: its CPU accounting, and its table on a tiny real run."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import pytest
from dynamokv.impl.cli import main
from dynamokv.impl.cli._bench_cluster import process_cpu_seconds

BURN_CPU_SECONDS = 0.2
BURN_WALL_SECONDS_MAX = 60.0


def test_process_cpu_seconds_counts_the_cpu_of_every_thread() -> None:
    burned: list[float] = []

    def burn() -> None:
        started = time.thread_time()
        deadline = time.monotonic() + BURN_WALL_SECONDS_MAX
        while time.thread_time() - started < BURN_CPU_SECONDS and time.monotonic() < deadline:
            pass
        burned.append(time.thread_time() - started)

    before = process_cpu_seconds([os.getpid()])
    thread = threading.Thread(target=burn)
    thread.start()
    thread.join()
    after = process_cpu_seconds([os.getpid()])
    assert burned[0] >= BURN_CPU_SECONDS
    # Clock ticks are 10 ms: allow two of them.
    assert after - before >= burned[0] - 0.02


def test_process_cpu_seconds_of_a_missing_process_is_a_one_line_error() -> None:
    from dynamokv.impl.cli._errors import CliError

    with pytest.raises(CliError, match="CPU time of process"):
        process_cpu_seconds([2**22 + 12345])


@pytest.mark.slow
def test_bench_cluster_prints_cpu_per_op_and_a_constant_rate_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "220")
    results = tmp_path / "cluster.json"
    arguments = ["bench", "cluster", "--workload", "W", "--ops", "160", "--records", "40"]
    assert main([*arguments, "--no-against-etcd", "--json", str(results)]) == 0
    output = capsys.readouterr().out
    for column in ("load", "ops/s", "p99 ms", "CPU µs/op", "vs etcd CPU"):
        assert column in output
    document = json.loads(results.read_text())
    assert document["command"].startswith("dynamokv bench cluster --workload W --duration")
    assert "--paced 0.5" in document["command"] and "--no-against-etcd" in document["command"]
    rows = document["results"]
    assert [(row["workload"], row["system"]) for row in rows] == [("W", "dynamokv")] * 2
    peak, paced = rows
    assert peak["offered_ops_per_second"] == 0 and peak["load"] == "peak"
    assert paced["offered_ops_per_second"] == pytest.approx(peak["ops_per_second"] / 2)
    for row in rows:
        assert row["requests"] >= 160 - 16  # every connection's share, rounded down
        assert row["server_cpu_us_per_op"] > 0
        assert row["unavailable"] == row["failed"] == row["socket_errors"] == 0
