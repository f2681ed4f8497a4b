"""The runtime's writer loop: group commits of the node's persists, on the event loop.

The node's storage is :class:`~dynamokv.impl.persist.StoreAdapter`, the same class the
simulator drives. This module adds only what a trio process needs around it: a loop that
wakes when the core has persisted something, makes everything applied since the last round
durable as one group commit, and reports it durable (``on_durable``) so that the driver
steps :class:`~dynamokv.impl.core.PersistDone`. While one round writes, the persists the
node emits queue up, and the next round takes them all: at N concurrent puts that is about
one fsync per N persists instead of N (an fsync is ~0.16 ms on this kind of machine).

Why the write runs on the event loop (``inline_writes``, the default), as Redis does its
``appendfsync always``: a worker thread shares the GIL with the trio thread, and each time
it needs the GIL back while the trio thread runs Python, one of them waits for the other.
Measured with 3 nodes (``docs/benchmarks.md``), CPU per put fell by about a fifth and
throughput rose by about 15 % against a worker thread per batch. The price is that the node
answers nothing during an fsync; so :data:`INLINE_SLOW_WRITES_IN_A_ROW_MAX` rounds in a row
slower than :data:`INLINE_WRITE_SECONDS_MAX` (a slow disk) send the following rounds to a
worker thread (``trio.to_thread``, once per *round*) for
:data:`THREADED_AFTER_SLOW_WRITE_SECONDS`, logged and counted. Encoding always stays on the
trio thread (:meth:`~dynamokv.impl.persist.StoreAdapter.prepare`).

A storage error propagates out of :meth:`StoreWriter.run` and the node process stops.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import trio
from dynamokv.impl.core import Persist
from dynamokv.impl.persist import StoreAdapter
from dynamokv.impl.storage import StoreOptions

from ._metrics import SIZE_BUCKETS, MetricsRegistry

__all__ = [
    "BACKGROUND_DUTY",
    "INLINE_SLOW_WRITES_IN_A_ROW_MAX",
    "INLINE_WRITE_SECONDS_MAX",
    "MEMTABLE_SCALE_MAX",
    "MEMTABLE_SCALE_MIN",
    "THREADED_AFTER_SLOW_WRITE_SECONDS",
    "StoreWriter",
    "memtable_scale_for_node",
]

INLINE_WRITE_SECONDS_MAX = 0.02
"""A group commit written on the event loop is *slow* past this. One slow round is normal
(a memtable rotation preallocates and syncs the next WAL file, every few MiB written);
:data:`INLINE_SLOW_WRITES_IN_A_ROW_MAX` in a row mean a slow or stalled disk, and the next
rounds go to a worker thread for :data:`THREADED_AFTER_SLOW_WRITE_SECONDS`."""

INLINE_SLOW_WRITES_IN_A_ROW_MAX = 2

THREADED_AFTER_SLOW_WRITE_SECONDS = 30.0

LAST_BATCH_IDS_MAX = 4096
"""Persist ids whose write time :attr:`StoreWriter.last_batch_ms` remembers (for traces)."""

BACKGROUND_DUTY = 0.25
"""The share of its time a node's store flushes and compacts between pauses
(:attr:`~dynamokv.impl.storage.StoreOptions.background_duty`): a flush or compaction then
takes about four times as long, and the event loop, which shares the GIL with the flusher
and compactor threads, has it to itself three quarters of that time. Measured in one
process serving a paced load while a thread flushed 8 MiB memtables (``docs/benchmarks.md``).
"""

MEMTABLE_SCALE_MIN = 0.75
MEMTABLE_SCALE_MAX = 1.25
"""The range of :func:`memtable_scale_for_node`."""

_log = logging.getLogger("dynamokv.runtime.store")


def memtable_scale_for_node(name: str, members: Iterable[str]) -> float:
    """A node's memtable size, as a fraction of the store's default: its members spread evenly.

    Every replica of a key receives the same writes (N of them, Dynamo §4.3), so nodes with
    equal memtables fill them at the same moment and flush them, then compact the
    segments, all at once: each flush and compaction is tens to hundreds of milliseconds of
    Python on the node's flusher or compactor thread, sharing the GIL with the event loop.
    A put needs W of the N replicas; with every replica busy at once there is none to route
    around, and on a machine with fewer cores than nodes they also compete for the cores.
    Memtables of different sizes flush at different moments and with different periods,
    so the nodes' background work drifts apart (measured, ``docs/benchmarks.md``). The
    members sorted by name divide :data:`MEMTABLE_SCALE_MIN`..:data:`MEMTABLE_SCALE_MAX`
    into equal parts and each takes the middle of its own (three nodes: 0.83, 1 and 1.17);
    a node that is not among them takes 1.

    Args:
        name: the node's name.
        members: the names of the cluster's configured members.
    """
    ordered = sorted(set(members))
    if name not in ordered:
        return 1.0
    share = (ordered.index(name) + 0.5) / len(ordered)
    return MEMTABLE_SCALE_MIN + (MEMTABLE_SCALE_MAX - MEMTABLE_SCALE_MIN) * share


class StoreWriter:
    """The node's storage adapter, and the trio loop that makes its persists durable.

    Args:
        adapter: the node's storage (its core reads through it).
        metrics: where to count rounds, their sizes and their latency.
        inline_writes: write group commits on the event loop while they are fast (see the
            module docstring); ``False``: always on a worker thread (tests that stall the
            store's writes on purpose need that).
        clock: seconds, monotonic: how long a round took and until when writes stay
            threaded (tests give a clock that only their slow disk moves).
    """

    def __init__(
        self,
        adapter: StoreAdapter,
        *,
        metrics: MetricsRegistry,
        inline_writes: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.adapter = adapter
        self._clock = clock
        self._inline_writes = inline_writes
        self._threaded_until = 0.0
        self._slow_in_a_row = 0
        self._wakeup = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._writing = False
        self.last_batch_ms: dict[int, float] = {}
        """Milliseconds the write+fsync of each of the latest persists took (for traces)."""
        self._batch_sizes = metrics.histogram(
            "dynamokv_wal_group_commit_persists",
            "Persists written and fsynced together by one group commit",
            SIZE_BUCKETS,
        )
        self._batch_seconds = metrics.histogram(
            "dynamokv_wal_batch_seconds", "Time to write and fsync one group commit"
        )
        self._syncs = metrics.counter(
            "dynamokv_wal_fsyncs_total",
            "Group commits (each is one fsync per store under 'always')",
        )
        self._records = metrics.counter("dynamokv_wal_records_total", "Records persisted")
        self._slow_inline_writes = metrics.counter(
            "dynamokv_wal_slow_inline_writes_total",
            "Group commits written on the event loop that took longer than "
            "INLINE_WRITE_SECONDS_MAX (several in a row: the next go to a worker thread)",
        )

    @classmethod
    def open(
        cls,
        directory: str,
        *,
        fsync: str,
        metrics: MetricsRegistry,
        memtable_scale: float = 1.0,
    ) -> StoreWriter:
        """Open (or create) the node's stores under ``directory`` and recover them.

        Args:
            directory: where the node's stores live.
            fsync: the stores' fsync policy.
            metrics: where the writer loop counts.
            memtable_scale: the stores' memtable size as a fraction of the default
                (see :func:`memtable_scale_for_node`).
        """
        memtable_bytes_max = round(StoreOptions.memtable_bytes_max * memtable_scale)
        options = StoreOptions(
            fsync=fsync,  # type: ignore[arg-type]  # checked by config
            memtable_bytes_max=memtable_bytes_max,
            background_duty=BACKGROUND_DUTY,
        )
        return cls(StoreAdapter.open(directory, options=options), metrics=metrics)

    def apply(self, persist: Persist) -> None:
        """Make ``persist`` visible to the core's reads now; the loop makes it durable."""
        self.adapter.apply(persist)
        self._records.inc(len(persist.records))
        if self._idle.is_set():
            self._idle = trio.Event()
        self._wakeup.set()

    @property
    def pending_count(self) -> int:
        """Persists applied but not yet durable."""
        return self.adapter.pending_count

    async def run(
        self,
        on_durable: Callable[[list[int]], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The writer loop: one group commit per round, then ``on_durable(persist ids)``.

        Runs until cancelled; a :class:`~dynamokv.impl.storage.StorageError` propagates.
        """
        adapter = self.adapter
        task_status.started()
        # Runs for the node's lifetime; each iteration makes one non-empty round durable.
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            prepared = adapter.prepare()
            ids = prepared.persist_ids
            if not ids:
                if adapter.pending_count == 0:
                    self._idle.set()
                continue
            self._writing = True
            started = self._clock()
            inline = self._inline_writes and started >= self._threaded_until
            try:
                if inline:
                    adapter.write(prepared)
                else:
                    await trio.to_thread.run_sync(adapter.write, prepared)
            finally:
                self._writing = False
            elapsed = self._clock() - started
            if inline:
                self._note_inline_write(elapsed)
            self._syncs.inc()
            self._batch_sizes.observe(len(ids))
            self._batch_seconds.observe(elapsed)
            adapter.settle(ids)
            if len(self.last_batch_ms) > LAST_BATCH_IDS_MAX:
                self.last_batch_ms.clear()
            elapsed_ms = elapsed * 1000
            for persist_id in ids:
                self.last_batch_ms[persist_id] = elapsed_ms
            on_durable(list(ids))
            if adapter.pending_count == 0:
                self._idle.set()

    def _note_inline_write(self, elapsed: float) -> None:
        if elapsed <= INLINE_WRITE_SECONDS_MAX:
            self._slow_in_a_row = 0
            return
        self._slow_inline_writes.inc()
        self._slow_in_a_row += 1
        if self._slow_in_a_row >= INLINE_SLOW_WRITES_IN_A_ROW_MAX:
            # The disk is slow: stop blocking the event loop on it for a while.
            self._slow_in_a_row = 0
            self._threaded_until = self._clock() + THREADED_AFTER_SLOW_WRITE_SECONDS
            _log.warning(
                "wal.slow_writes ms=%.1f threaded_for_s=%.0f",
                elapsed * 1000,
                THREADED_AFTER_SLOW_WRITE_SECONDS,
            )

    async def wait_idle(self) -> None:
        """Return once every applied persist is durable (graceful shutdown)."""
        while self.adapter.pending_count or self._writing:
            await self._idle.wait()

    def close(self) -> None:
        """Close the stores (their WALs are synced on close)."""
        self.adapter.close()

    def stats_samples(self) -> list[tuple[str, str, str, tuple[tuple[str, str], ...], float]]:
        """Store-level gauges for ``/metrics``."""
        samples: list[tuple[str, str, str, tuple[tuple[str, str], ...], float]] = []
        stores = (("data", self.adapter.data), ("meta", self.adapter.meta))
        for name, store in stores:
            stats: Any = getattr(store, "stats", None)
            if stats is None:
                continue
            snapshot = stats()
            labels = (("store", name),)
            samples.append(
                (
                    "dynamokv_store_syncs_total",
                    "counter",
                    "fsyncs by the store",
                    labels,
                    snapshot.syncs_count,
                )
            )
            samples.append(
                (
                    "dynamokv_store_segments",
                    "gauge",
                    "Sorted segment files of the store",
                    labels,
                    snapshot.segments_count,
                )
            )
        samples.append(
            (
                "dynamokv_wal_pending_persists",
                "gauge",
                "Persists applied, not yet durable",
                (),
                self.pending_count,
            )
        )
        return samples
