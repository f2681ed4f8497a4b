"""Fixtures for the cluster tests: every node process started here is gone afterwards.

Each test's :class:`~dynamokv.impl.runtime._local_cluster.LocalCluster` stops its processes in
``__exit__``, even when the test fails. As a second line of defence, the session ends by
looking through ``/proc`` for any process whose command line names a config file under
pytest's temporary directory, and SIGKILLs it: ``make test`` leaves no process behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest


def processes_under(directory: Path) -> list[int]:
    """Pids of live processes whose command line mentions a path under ``directory``."""
    needle = str(directory).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if needle in cmdline and b"--config" in cmdline and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    base = tmp_path_factory.getbasetemp()
    for pid in processes_under(base):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
