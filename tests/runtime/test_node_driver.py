"""The trio driver of the core, with three (or four) node processes in one trio run.

Real sockets on 127.0.0.1 and real WAL stores under ``tmp_path``; only the processes are
shared. Each test is bounded by :func:`run_bounded`; nodes are cancelled on exit.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import pytest
import trio
from dynamokv.impl.client import AsyncClient, QuorumError
from dynamokv.impl.persist import StoreAdapter
from dynamokv.impl.runtime import MetricsRegistry, NodeProcessConfig, StoreWriter
from dynamokv.impl.runtime._node_process import GC_OLDEST_GENERATION_THRESHOLD_NEVER
from dynamokv.impl.runtime._store_writer import (
    BACKGROUND_DUTY,
    MEMTABLE_SCALE_MAX,
    MEMTABLE_SCALE_MIN,
    memtable_scale_for_node,
)
from dynamokv.impl.storage import Store, StoreOptions
from node_helpers import open_cluster, patient_node_config, stop_node
from runtime_helpers import trio_test


def _key_not_owned_by(nodes: list[Any], name: str) -> bytes:
    ring = nodes[0].process.ring
    for i in range(10_000):
        key = b"key-%d" % i
        if name not in ring.preference_list(key):
            return key
    raise AssertionError("no such key")


def _key_owned_by(nodes: list[Any], name: str) -> bytes:
    ring = nodes[0].process.ring
    for i in range(10_000):
        key = b"key-%d" % i
        if ring.preference_list(key)[0] == name:
            return key
    raise AssertionError("no such key")


@trio_test
async def test_put_on_one_node_is_read_from_another(tmp_path: Path) -> None:
    async with open_cluster(tmp_path) as nodes:  # noqa: SIM117 - the clients need the nodes
        async with AsyncClient(nodes[0].http) as first, AsyncClient(nodes[1].http) as second:
            context = await first.put("cart", b"milk")
            assert context
            reply = await second.get("cart")
            assert reply.values == (b"milk",)
            # A put with the context supersedes: still one sibling.
            await second.put("cart", b"milk\neggs", reply.context)
            reply = await first.get("cart")
            assert reply.values == (b"milk\neggs",)
            # Two blind puts are concurrent: siblings.
            await first.put("cart", b"a")
            reply = await second.get("cart")
            assert sorted(reply.values) == [b"a", b"milk\neggs"]


@trio_test
async def test_a_serving_node_leaves_full_collections_to_its_own_period(tmp_path: Path) -> None:
    before = gc.get_threshold()
    assert before[2] != GC_OLDEST_GENERATION_THRESHOLD_NEVER
    async with open_cluster(tmp_path) as nodes:  # noqa: SIM117 - the client needs the nodes
        async with AsyncClient(nodes[0].http) as client:
            await client.put("cart", b"milk")
            assert gc.get_threshold() == (
                before[0],
                before[1],
                GC_OLDEST_GENERATION_THRESHOLD_NEVER,
            )
            assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


@trio_test
async def test_the_nodes_memtables_differ_so_replicas_flush_at_different_moments(
    tmp_path: Path,
) -> None:
    async with open_cluster(tmp_path) as nodes:
        sizes = []
        for node in nodes:
            for store in (node.process.store.adapter.data, node.process.store.adapter.meta):
                assert store.options.background_duty == BACKGROUND_DUTY
            sizes.append(node.process.store.adapter.data.options.memtable_bytes_max)
    default = StoreOptions().memtable_bytes_max
    assert len(set(sizes)) == len(nodes)
    assert all(
        MEMTABLE_SCALE_MIN * default <= size <= MEMTABLE_SCALE_MAX * default for size in sizes
    )


def test_memtable_scales_spread_the_members_evenly() -> None:
    members = ["c", "a", "b"]
    scales = [memtable_scale_for_node(name, members) for name in ("a", "b", "c")]
    assert scales == pytest.approx([0.75 + 0.5 / 6, 1.0, 1.25 - 0.5 / 6])
    assert memtable_scale_for_node("d", members) == 1.0
    assert memtable_scale_for_node("a", ["a"]) == 1.0


@trio_test
async def test_a_non_owner_forwards_the_put_to_an_owner(tmp_path: Path) -> None:
    async with open_cluster(tmp_path, n=2, w=2, r=1) as nodes:
        key = _key_not_owned_by(nodes, "node-3")
        async with AsyncClient(nodes[2].http) as client:
            await client.put(key, b"v")
            assert nodes[2].process.node.stats.puts_forwarded == 1
            owners = nodes[0].process.ring.preference_list(key)
            coordinated = sum(
                n.process.node.stats.puts_coordinated for n in nodes if n.process.name in owners
            )
            assert coordinated == 1
            assert (await client.get(key)).values == (b"v",)


@trio_test
async def test_sloppy_quorum_acks_with_w2_when_an_owner_is_down(tmp_path: Path) -> None:
    async with open_cluster(tmp_path, count=4) as nodes:
        key = _key_owned_by(nodes, "node-1")
        preference = nodes[0].process.ring.preference_list(key)
        await stop_node(nodes[0])
        entry = next(n for n in nodes if n.process.name == preference[1])
        async with AsyncClient(entry.http) as client:
            await client.put(key, b"while node-1 is down")
            # The fourth node stands in for node-1 and keeps a hint (Dynamo §4.6); the
            # substitution happens after one replica timeout, so wait for it (bounded).
            with trio.fail_after(5):
                while not any(n.process.node.hints for n in nodes[1:]):
                    await trio.sleep(0.02)
            holder = next(n for n in nodes[1:] if n.process.node.hints)
            assert holder.process.name not in preference
            assert holder.process.node.hints[0].owner == "node-1"
            assert (await client.get(key)).values == (b"while node-1 is down",)


class _StoreInFront:
    """A store's reads and batches passed through; subclasses change how it commits."""

    store: Store

    def get(self, key: bytes) -> bytes | None:
        return self.store.get(key)

    def scan(self, low: int, high: int) -> Any:
        return self.store.scan(low, high)

    def append_batch(self, operations: Any) -> None:
        self.store.append_batch(operations)


class _GatedStore(_StoreInFront):
    """A store whose writes block until the test opens the gate (a slow fsync)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.gate = threading.Event()
        self.gate.set()
        self.writes_started = threading.Event()

    def commit(self) -> None:
        self.writes_started.set()
        if not self.gate.wait(timeout=20):
            raise AssertionError("gate never opened")
        self.store.commit()

    def sync(self) -> None:
        self.store.sync()

    def close(self) -> None:
        self.gate.set()
        self.store.close()


@trio_test
async def test_no_ack_before_the_coordinators_write_is_durable(tmp_path: Path) -> None:
    gated: dict[str, _GatedStore] = {}

    def factory(name: str, config: NodeProcessConfig) -> StoreWriter:
        options = StoreOptions(fsync="always")
        data = _GatedStore(Store.open(str(tmp_path / name / "data"), options=options))
        meta = Store.open(str(tmp_path / name / "meta"), options=options)
        gated[name] = data
        # The gate stalls the write itself, as a hung disk would: only a worker thread can
        # wait on it while the event loop goes on (the writer's fallback for slow disks).
        adapter = StoreAdapter(data, meta)
        return StoreWriter(adapter, metrics=MetricsRegistry(), inline_writes=False)

    # The put waits while the gate is shut: the request must not time out meanwhile (the
    # default, 40 ticks of 10 ms, is shorter than a busy machine takes to get there), nor
    # the replicas be suspected, so both timeouts are a minute here.
    patient = patient_node_config()
    async with open_cluster(tmp_path, store_factory=factory, node_config=patient) as nodes:
        coordinator = nodes[0]
        key = _key_owned_by(nodes, coordinator.process.name)
        gate = gated[coordinator.process.name]
        gate.gate.clear()
        answered = trio.Event()
        async with AsyncClient(coordinator.http) as client:

            async def put() -> None:
                await client.put(key, b"durable first")
                answered.set()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(put)
                with trio.fail_after(60):
                    while not gate.writes_started.is_set():
                        await trio.sleep(0.01)
                # The two other replicas have acked by now (W=2 is met by count), but
                # the coordinator's own write is not durable: no 204 yet.
                with trio.fail_after(60):
                    while sum(1 for n in nodes[1:] if n.process.store.pending_count == 0) < 2:
                        await trio.sleep(0.01)
                await trio.sleep(0.3)
                assert not answered.is_set()
                gate.gate.set()
                with trio.fail_after(60):
                    await answered.wait()
            assert (await client.get(key)).values == (b"durable first",)


@trio_test
async def test_an_admin_ring_change_answers_once_the_ring_is_durable(tmp_path: Path) -> None:
    """Dynamo §4.8.1: the node serving a membership change writes it to persistent store.
    Answered before that, a crash of the node could lose a change its operator was told
    was made (the ring lived only in its memory)."""
    gated: dict[str, _GatedStore] = {}

    def factory(name: str, config: NodeProcessConfig) -> StoreWriter:
        options = StoreOptions(fsync="always")
        data = Store.open(str(tmp_path / name / "data"), options=options)
        meta = _GatedStore(Store.open(str(tmp_path / name / "meta"), options=options))
        gated[name] = meta
        # The ring goes to the meta store, whose write the gate stalls on a worker thread.
        return StoreWriter(StoreAdapter(data, meta), metrics=MetricsRegistry(), inline_writes=False)

    async with open_cluster(tmp_path, node_config=patient_node_config(), store_factory=factory) as (
        nodes
    ):
        process = nodes[0].process
        gate = gated[process.name]
        gate.writes_started.clear()
        gate.gate.clear()
        answered = trio.Event()
        versions: list[int] = []

        async def leave() -> None:
            versions.append(await process.change_membership("leave", nodes[2].process.name))
            answered.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(leave)
            with trio.fail_after(60):
                while not gate.writes_started.is_set():
                    await trio.sleep(0.01)
            # The new ring is adopted in memory and its write has begun, but not ended.
            assert not answered.is_set()
            assert nodes[2].process.name not in process.node.ring_state.nodes()
            gate.gate.set()
            with trio.fail_after(60):
                await answered.wait()
        assert versions == [process.node.ring_state.version]


class _SlowStore(_StoreInFront):
    """A store whose writes take ``seconds`` of its own clock (a slow fsync), recording when
    each returned. Only these writes move the clock, so how long the others take on a busy
    machine cannot make them look slow."""

    def __init__(self, store: Store, seconds: float) -> None:
        self.store = store
        self.seconds = seconds
        self.now = 1000.0
        self.written_at: list[float] = []

    def clock(self) -> float:
        return self.now

    def commit(self) -> None:
        self.now += self.seconds
        self.store.commit()
        self.written_at.append(self.now)

    def sync(self) -> None:
        self.store.sync()

    def close(self) -> None:
        self.store.close()


@trio_test
async def test_inline_writes_ack_only_after_the_write_returned_and_slow_disks_go_threaded(
    tmp_path: Path,
) -> None:
    slow: dict[str, _SlowStore] = {}
    adapters: dict[str, StoreWriter] = {}

    def factory(name: str, config: NodeProcessConfig) -> StoreWriter:
        options = StoreOptions(fsync="always")
        data = _SlowStore(Store.open(str(tmp_path / name / "data"), options=options), 0.0)
        meta = Store.open(str(tmp_path / name / "meta"), options=options)
        slow[name] = data
        adapters[name] = StoreWriter(
            StoreAdapter(data, meta), metrics=MetricsRegistry(), clock=data.clock
        )
        return adapters[name]

    async with open_cluster(tmp_path, store_factory=factory) as nodes:
        coordinator = nodes[0]
        name = coordinator.process.name
        key = _key_owned_by(nodes, name)
        store = slow[name]
        async with AsyncClient(coordinator.http) as client:
            await client.put(key, b"fast")
            assert adapters[name]._threaded_until == 0.0  # fast writes stay inline
            store.seconds = 0.05  # over INLINE_WRITE_SECONDS_MAX
            written_before = len(store.written_at)
            await client.put(key, b"slow")
            # The coordinator's own write returned before the 204 (persist before ack).
            assert len(store.written_at) > written_before
            assert adapters[name]._threaded_until == 0.0  # one slow batch: still inline
            await client.put(key, b"slow again")
            assert adapters[name]._threaded_until > store.clock()  # now on a thread
            store.seconds = 0.0
            await client.put(key, b"after")
            assert b"after" in (await client.get(key)).values  # blind puts: siblings


@trio_test
async def test_quorum_failure_is_a_503_and_the_node_keeps_serving(tmp_path: Path) -> None:
    async with open_cluster(tmp_path, n=3, w=3) as nodes:
        await stop_node(nodes[2])
        await stop_node(nodes[1])
        async with AsyncClient(nodes[0].http) as client:
            with pytest.raises(QuorumError):
                await client.put("k", b"v", w=3)
            health = await client.json("/health")
            assert health["status"] == "ok"


@trio_test
async def test_graceful_shutdown_leaves_every_write_in_the_store(tmp_path: Path) -> None:
    async with open_cluster(tmp_path) as nodes:
        async with AsyncClient(nodes[0].http) as client:
            for i in range(20):
                await client.put(f"k{i}", b"v%d" % i)
        for node in nodes:
            await stop_node(node)
    # Node-1 coordinated every put (with N=3 of 3 nodes it owns every key), so its own
    # store must hold all of them after a graceful stop.
    adapter = StoreAdapter.open(str(tmp_path / "node-1"), options=StoreOptions())
    try:
        assert all(adapter.read_versions(b"k%d" % i) for i in range(20))
        assert adapter.read_lease() > 0
    finally:
        adapter.close()


@trio_test
async def test_the_composite_node_persists_ring_and_generation_and_exports_its_counters(
    tmp_path: Path,
) -> None:
    # Ten puts in a row: on a busy machine one took longer than the default 0.4 s.
    async with open_cluster(tmp_path, node_config=patient_node_config()) as nodes:
        async with AsyncClient(nodes[0].http) as client:
            for i in range(10):
                await client.put(f"k{i}", b"v%d" % i)
            members = await client.json("/cluster/members")
            ring = await client.json("/cluster/ring")
        assert {m["status"] for m in members["members"]} <= {"normal", "unknown"}
        assert ring["version"] == 1
        text = nodes[0].process.metrics.render()
        for name in (
            "dynamokv_keys ",
            "dynamokv_ring_version 1",
            "dynamokv_gossip_suspected_peers ",
            "dynamokv_anti_entropy_trees_compared_total ",
            "dynamokv_anti_entropy_nodes_exchanged_total ",
            "dynamokv_anti_entropy_keys_repaired_total ",
            "dynamokv_anti_entropy_bytes_sent_total ",
            "dynamokv_hints_pending ",
        ):
            assert name in text, name
        assert nodes[0].process.metrics.render().count("dynamokv_keys 10") == 1
        for node in nodes:
            await stop_node(node)
    adapter = StoreAdapter.open(str(tmp_path / "node-1"), options=StoreOptions())
    try:
        stored = adapter.read_ring()
        assert stored is not None and stored.version == 1 and len(stored.owners) > 0
        assert adapter.read_generation() == 1
        assert len(list(adapter.scan_versions())) == 10
    finally:
        adapter.close()


def test_a_store_versions_record_without_versions_deletes_the_key(tmp_path: Path) -> None:
    from dynamokv.impl.core import Persist, StoreGeneration, StoreRing, StoreVersions
    from dynamokv.spec.kv import Version

    adapter = StoreAdapter.open(str(tmp_path / "n"), options=StoreOptions())
    try:
        version = Version(b"v", ("n", 1), ())
        adapter.apply(Persist(1, (StoreVersions(b"a", (version,)),)))
        adapter.apply(Persist(-1, (StoreRing(3, "n", ("n", "n")), StoreGeneration(4))))
        assert adapter.commit() == [1, -1]
        adapter.apply(Persist(2, (StoreVersions(b"a", ()),)))
        assert adapter.commit() == [2]
    finally:
        adapter.close()
    adapter = StoreAdapter.open(str(tmp_path / "n"), options=StoreOptions())
    try:
        assert adapter.data.get(b"a") is None
        assert adapter.read_versions(b"a") == ()
        assert adapter.read_ring() == StoreRing(3, "n", ("n", "n"))
        assert adapter.read_generation() == 4
        assert list(adapter.scan_versions()) == []
    finally:
        adapter.close()


def test_the_cache_of_decoded_versions_keeps_the_newest_within_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dynamokv.impl.core import Persist, StoreVersions, Version
    from dynamokv.impl.persist import _adapter

    monkeypatch.setattr(_adapter, "CACHE_BYTES_MAX", 2_000)  # about 8 of these keys
    adapter = StoreAdapter.open(str(tmp_path / "n"), options=StoreOptions(fsync="none"))
    try:
        written = {}
        for index in range(40):
            key = b"k%02d" % (index % 20)  # each key twice: a rewrite makes it the newest
            versions = (Version(b"v%03d" % index * 25, ("n", index + 1), ()),)
            written[key] = versions
            adapter.apply(Persist(index + 1, (StoreVersions(key, versions),)))
            adapter.commit()
            assert adapter._cache_bytes <= 2_000
        cached = list(adapter._cache)
        assert 5 <= len(cached) < 20
        assert cached == [b"k%02d" % index for index in range(20 - len(cached), 20)]
        # Evicted or not, every key reads back what was written last.
        assert all(adapter.read_versions(key) == versions for key, versions in written.items())
    finally:
        adapter.close()
