"""A SIGTERM to a command that started node processes stops them on the way out.

``timeout``, CI runners and ``kill`` end a command with SIGTERM, not Ctrl-C. A benchmark
that starts a real cluster must then stop it, as its ``with`` blocks do on Ctrl-C, and exit
with the status a shell gives a process killed by SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from conftest import processes_under
from dynamokv.impl.cli._main import EXIT_TERMINATED

NODES = 3
STARTUP_SECONDS_MAX = 120.0
EXIT_SECONDS_MAX = 120.0


def _wait_for_nodes(process: subprocess.Popen[str], directory: Path) -> list[int]:
    """The node pids once all of them run; fails if the command ends first (bounded)."""
    deadline = time.monotonic() + STARTUP_SECONDS_MAX
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the command ended before its nodes ran: {process.stderr}")
        pids = processes_under(directory)
        if len(pids) == NODES:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"{NODES} node processes did not start in {STARTUP_SECONDS_MAX} s")


def _line_with(stream: IO[str], text: str) -> str:
    """What ``stream`` gave up to and including the first line holding ``text`` (bounded:
    the command's stderr ends when it exits)."""
    seen = []
    for line in stream:
        seen.append(line)
        if text in line:
            break
    return "".join(seen)


def test_sigterm_to_a_benchmark_stops_the_nodes_it_started(tmp_path: Path) -> None:
    directory = tmp_path / "reap"
    # Far more keys than the test waits for: the command is still loading them when the
    # signal arrives, whatever the machine's speed (it is stopped long before it ends).
    command = [sys.executable, "-m", "dynamokv.impl.cli", "bench", "reap"]
    command += ["--nodes", str(NODES), "--keys", "1000000", "--dir", str(directory)]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        pids = _wait_for_nodes(process, directory)
        process.send_signal(signal.SIGTERM)
        # A second SIGTERM once the command is stopping (``timeout`` signals the process
        # and then its group) must not cut its cleanup short.
        assert process.stderr is not None
        first = _line_with(process.stderr, "terminated (SIGTERM)")
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=EXIT_SECONDS_MAX)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = first + rest
    assert process.returncode == EXIT_TERMINATED, stderr
    assert stderr.count("terminated (SIGTERM)") == 1
    assert "Traceback" not in stderr
    # The cluster's stop waited for its nodes: none outlives the command.
    assert pids
    assert processes_under(directory) == []
