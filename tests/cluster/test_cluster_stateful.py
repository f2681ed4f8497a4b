"""A thin stateful Hypothesis model against three real node processes, held to ``spec.kv``.

The simulator's stateful model (``tests/sim/test_sim_stateful.py``) explores faults
thoroughly and cheaply; this one checks that the real processes (trio, sockets, the WAL on
disk, the HTTP API) keep the same contract under a few of the same rules: put, delete and get
with the contexts of earlier gets, and SIGKILL plus restart of one node at a time.

Every acknowledged write is applied to :class:`dynamokv.spec.kv.KVModel`, the ideal
converged store. After every get: no value that no put wrote (no phantom). At the end,
with every node up and hints drained, a get with R = N of each key returns versions that
cover everything the model holds: no acknowledged write was lost.

Few examples and few steps: each step is a real request (a kill or restart costs a second),
so the model stays in the slow tier.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from cluster_helpers import Recorder, wait_for
from dynamokv.impl.client import Client
from dynamokv.impl.core import covers
from dynamokv.impl.runtime._api import encode_context
from dynamokv.impl.runtime._local_cluster import LocalCluster
from dynamokv.spec.kv import KVModel
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

KEYS = (b"a", b"b", b"c")
NODES = ("node-1", "node-2", "node-3")


class RealClusterAgainstSpec(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = tempfile.mkdtemp(prefix="dynamokv-stateful-", dir=_BASE[0])
        self.cluster = LocalCluster(self.directory, nodes=3)
        self.cluster.up()
        self.clients = {
            name: Client(self.cluster.http_address(name), timeout_seconds=5) for name in NODES
        }
        self.recorder = Recorder()
        self.model = KVModel()
        self.contexts: dict[bytes, str] = {}
        self.down: str | None = None
        self.sequence = 0

    def _node(self, node: str) -> str:
        return node if node != self.down else next(n for n in NODES if n != self.down)

    @rule(key=st.sampled_from(KEYS), node=st.sampled_from(NODES))
    def put(self, key: bytes, node: str) -> None:
        node = self._node(node)
        self.sequence += 1
        value = b"item%d-%d" % (self.sequence, time.monotonic_ns())
        record = self.recorder.put(
            self.clients[node], 0, node, key, value, self.contexts.get(key, ""), 2
        )
        if record.ok and record.version is not None:
            self.model = self.model.apply(key, [record.version])

    @rule(key=st.sampled_from(KEYS), node=st.sampled_from(NODES))
    def delete(self, key: bytes, node: str) -> None:
        node = self._node(node)
        record = self.recorder.put(
            self.clients[node], 0, node, key, None, self.contexts.get(key, ""), 2
        )
        if record.ok and record.version is not None:
            self.model = self.model.apply(key, [record.version])

    @rule(key=st.sampled_from(KEYS), node=st.sampled_from(NODES), forget=st.booleans())
    def get(self, key: bytes, node: str, forget: bool) -> None:
        node = self._node(node)
        record, _reply = self.recorder.get(self.clients[node], 0, node, key, 2)
        if not record.ok:
            return
        written = set(self.recorder.context_of_value)
        for version in record.versions:
            assert version.value is None or version.value in written, "phantom value"
        if not forget:
            self.contexts[key] = encode_context(record.context)

    @precondition(lambda self: self.down is None)
    @rule(node=st.sampled_from(NODES))
    def kill(self, node: str) -> None:
        self.cluster.kill(node)
        self.clients[node].close()
        self.down = node

    @precondition(lambda self: self.down is not None)
    @rule()
    def restart(self) -> None:
        assert self.down is not None
        self.cluster.restart(self.down)
        self.down = None

    def teardown(self) -> None:
        try:
            if self.down is not None:
                self.cluster.restart(self.down)
            wait_for(lambda: self.cluster.hints_pending() == 0, 60, "hints drain")
            with Client(self.cluster.http_address(1), timeout_seconds=10) as client:
                for key in KEYS:
                    # A restarted node may still be suspected by its peers for a moment.
                    record, _reply = self.recorder.get(client, 1, "node-1", key, 3)
                    deadline = time.monotonic() + 15
                    while not record.ok and time.monotonic() < deadline:
                        time.sleep(0.2)
                        record, _reply = self.recorder.get(client, 1, "node-1", key, 3)
                    assert record.ok, f"get of {key!r} with r=3 failed with every node up"
                    self.recorder.finish()
                    held = record.versions
                    for version in self.model.data.get(key, frozenset()):
                        assert covers(held, version), (
                            f"acknowledged {version.dot} of {key!r} is lost: held {held}"
                        )
        finally:
            for client in self.clients.values():
                client.close()
            self.cluster.down()


_BASE: list[str] = [tempfile.gettempdir()]


@pytest.mark.slow
def test_real_cluster_against_the_kv_spec(tmp_path: Path) -> None:
    _BASE[0] = str(tmp_path)
    run_state_machine_as_test(
        RealClusterAgainstSpec,
        settings=settings(
            max_examples=3,
            stateful_step_count=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
