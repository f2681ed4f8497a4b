"""Helpers for the node-process tests: in-process trio clusters and real-process clusters.

In-process: :func:`open_cluster` starts several :class:`NodeProcess` objects in one trio
run, each in its own cancel scope (so a test can stop one), on 127.0.0.1 ports picked by
binding port 0. Real processes: :class:`ProcessCluster` runs ``dynamokv node run``
subprocesses and kills every one of them on exit, even when the test fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio
from dynamokv.impl.core import NodeConfig
from dynamokv.impl.runtime import (
    MemberAddress,
    MetricsRegistry,
    NodeApi,
    NodeProcess,
    NodeProcessConfig,
    StoreWriter,
)
from dynamokv.impl.runtime._local_cluster import pick_free_ports

LOOPBACK = "127.0.0.1"

PATIENT_TIMEOUT_TICKS = 6000
"""A minute at 10 ms ticks: request and replica timeouts for tests whose requests must
not time out on a busy machine (the default, 40 ticks, is 0.4 s; an fsync alone took
0.15 s at load 12)."""


def patient_node_config(*, n: int = 3, r: int = 2, w: int = 2) -> NodeConfig:
    """The core's defaults but for request and replica timeouts of a minute (for a test
    that does not wait for a timeout to fire: a sloppy-quorum test must keep them short)."""
    return NodeConfig(
        n=n,
        r=r,
        w=w,
        request_timeout_ticks=PATIENT_TIMEOUT_TICKS,
        replica_timeout_ticks=PATIENT_TIMEOUT_TICKS,
    )


def cluster_members(count: int) -> tuple[MemberAddress, ...]:
    ports = pick_free_ports(2 * count)
    return tuple(
        MemberAddress(
            name=f"node-{i + 1}", host=LOOPBACK, peer_port=ports[2 * i], http_port=ports[2 * i + 1]
        )
        for i in range(count)
    )


def toml_for(members: tuple[MemberAddress, ...], *, q: int = 64, extra: str = "") -> str:
    rows = ",\n".join(
        f'  {{ name = "{m.name}", host = "{m.host}", peer_port = {m.peer_port}, '
        f"http_port = {m.http_port} }}"
        for m in members
    )
    return f"[cluster]\npartition_count = {q}\n{extra}members = [\n{rows}\n]\n"


@dataclass
class RunningNode:
    process: NodeProcess
    scope: trio.CancelScope
    stopped: trio.Event = field(default_factory=trio.Event)

    @property
    def http(self) -> str:
        return f"{LOOPBACK}:{self.process.http_port}"


StoreFactory = Callable[[str, MetricsRegistry], StoreWriter]


@asynccontextmanager
async def open_cluster(
    tmp_path: Path,
    count: int = 3,
    *,
    q: int = 64,
    n: int = 3,
    w: int = 2,
    r: int = 2,
    tick_ms: int = 10,
    fault_injection: bool = False,
    store_factory: Callable[[str, NodeProcessConfig], StoreWriter | None] | None = None,
    node_config: NodeConfig | None = None,
) -> AsyncIterator[list[RunningNode]]:
    """Start ``count`` nodes in this trio run; cancel them all on exit.

    ``node_config`` replaces the core's defaults (timeouts in ticks of ``tick_ms``) on
    every node; its N, R and W must match ``n``, ``r`` and ``w``.
    """
    members = cluster_members(count)
    nodes: list[RunningNode] = []
    async with trio.open_nursery() as nursery:
        for member in members:
            config = NodeProcessConfig(
                name=member.name,
                host=LOOPBACK,
                http_port=member.http_port,
                peer_port=member.peer_port,
                data_dir=str(tmp_path / member.name),
                members=members,
                n=n,
                r=r,
                w=w,
                partition_count=q,
                tick_ms=tick_ms,
                fault_injection=fault_injection,
            )
            store = store_factory(member.name, config) if store_factory else None
            process = NodeProcess(config, store=store, node_config=node_config)
            running = RunningNode(process, trio.CancelScope())
            nodes.append(running)
            await nursery.start(_run_node, running)
        await _wait_connected(nodes)
        try:
            yield nodes
        finally:
            nursery.cancel_scope.cancel()


async def _wait_connected(nodes: list[RunningNode], *, timeout_seconds: float = 30.0) -> None:
    """Until every node has an open connection to every other: a request right after
    start must not race the connects (a busy machine makes that race long)."""
    with trio.fail_after(timeout_seconds):
        while True:
            pools = [running.process._pool for running in nodes]
            if all(
                pool is not None and pool.is_connected(address)
                for running, pool in zip(nodes, pools, strict=True)
                for address in running.process.peer_addresses.values()
            ):
                return
            await trio.sleep(0.01)


async def _run_node(running: RunningNode, *, task_status: Any) -> None:
    try:
        with running.scope:
            await running.process.run(
                http_handler=NodeApi(running.process).handle, task_status=task_status
            )
    finally:
        running.stopped.set()


async def stop_node(running: RunningNode) -> None:
    """Graceful stop (as on SIGTERM); waits until the node has closed its store."""
    running.process.shutdown()
    with trio.fail_after(15):
        await running.stopped.wait()


# -- real processes ----------------------------------------------------------------------------


class ProcessCluster:
    """``dynamokv node run`` subprocesses on loopback; every one is killed on exit.

    Use as a context manager. :meth:`start` waits (bounded) for each node's READY line.
    """

    def __init__(self, tmp_path: Path, count: int = 3, *, q: int = 64) -> None:
        self.tmp_path = tmp_path
        self.members = cluster_members(count)
        self.config_path = tmp_path / "cluster.toml"
        self.config_path.write_text(toml_for(self.members, q=q))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def __enter__(self) -> ProcessCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()

    def http(self, name: str) -> str:
        member = next(m for m in self.members if m.name == name)
        return f"{member.host}:{member.http_port}"

    def start(self, name: str, *, timeout_seconds: float = 120.0) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "dynamokv.impl.cli",
            "node",
            "run",
            "--config",
            str(self.config_path),
            "--name",
            name,
            "--data-dir",
            str(self.tmp_path / name),
        ]
        stderr_path = self.tmp_path / f"{name}.stderr"
        with stderr_path.open("wb") as stderr_file:
            process = subprocess.Popen(
                command,
                stdout=subprocess.PIPE,
                stderr=stderr_file,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        self.processes[name] = process
        assert process.stdout is not None
        deadline = time.monotonic() + timeout_seconds
        line = b""
        # Bounded: one line, or the process exits, or the deadline passes (the kill in
        # __exit__ then ends a process stuck before READY).
        os.set_blocking(process.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() < deadline:
            chunk = process.stdout.read() or b""
            buffer += chunk
            if b"\n" in buffer:
                line = buffer.split(b"\n", 1)[0]
                break
            if process.poll() is not None:
                break
            time.sleep(0.02)
        if not line.startswith(b"READY "):
            raise AssertionError(
                f"{name} did not print READY: {buffer!r}; stderr: "
                f"{stderr_path.read_text(errors='replace')[-2000:]}"
            )
        return process

    def wait_serving(self, *, timeout_seconds: float = 60.0) -> None:
        """Until the started nodes are connected to each other and a quorum write goes
        through each (what ``cluster up`` waits for; a READY line alone is not enough)."""
        from dynamokv.impl.runtime._local_cluster import wait_until_serving

        wait_until_serving(
            {name: self.http(name) for name in self.processes}, timeout_seconds=timeout_seconds
        )

    def terminate(self, name: str, *, timeout_seconds: float = 20.0) -> int:
        """SIGTERM ``name`` and return its exit status."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        return process.wait(timeout=timeout_seconds)

    def stderr(self, name: str) -> str:
        return (self.tmp_path / f"{name}.stderr").read_text(errors="replace")
