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


@pytest.fixture(scope="session", autouse=True)
def _no_namespace_left_behind() -> Iterator[None]:
    """Every network namespace and bridge this session made is gone at its end."""
    yield
    from dynamokv.impl.runtime._netns import created_suffixes, netns_available, remove_leftovers

    if netns_available() is None and created_suffixes():
        remove_leftovers(created_suffixes())


@pytest.fixture
def netns_required() -> None:
    """Skip (one line) where namespaces cannot be made; fail instead when ``CI`` is set,
    since CI runs as root and a skip there would hide a broken harness."""
    from dynamokv.impl.runtime._netns import netns_available

    reason = netns_available()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)
