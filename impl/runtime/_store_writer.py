"""The runtime's writer loop: group commits of the node's persists, on a writer thread.

The node's storage is :class:`~dynamokv.impl.persist.StoreAdapter`, the same class the
simulator drives. This module adds only what a trio process needs around it: a loop that
wakes when the core has persisted something, makes everything applied since the last round
durable as one group commit, and reports it durable (``on_durable``) so that the driver
steps :class:`~dynamokv.impl.core.PersistDone`. While one round writes, the persists the
node emits queue up, and the next round takes them all: at N concurrent puts that is about
one fsync per N persists instead of N (an fsync is ~0.16 ms on this kind of machine).

Why a writer thread: an ``fsync`` blocks whoever calls it for as long as the disk takes,
from a tenth of a millisecond to hundreds on a busy disk, and a node whose event loop
waits on its disk answers nothing meanwhile: every request scheduled during that wait is
late, which is what a constant-rate load's p99 counts. So the event loop never writes: it
encodes each round (:meth:`~dynamokv.impl.persist.StoreAdapter.prepare`, Python that needs
the GIL anyway) and hands it to one long-lived thread, which writes and syncs it
(:meth:`~dynamokv.impl.persist.StoreAdapter.write`, mostly system calls that release the
GIL) and hands the result back with one :meth:`trio.lowlevel.TrioToken.run_sync_soon` per
round. One thread for the node's lifetime, fed by a queue, and not ``trio.to_thread`` per
round: starting a worker for each round costs the event loop more than the round's write
(``docs/benchmarks.md``, "Where the time goes").

Persist before acknowledge holds as before: a round's persists are reported durable only
after its write returned. A storage error propagates out of :meth:`StoreWriter.run` and
the node process stops.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import trio
from dynamokv.impl.core import Persist
from dynamokv.impl.persist import Prepared, StoreAdapter
from dynamokv.impl.storage import StoreOptions

from ._metrics import SIZE_BUCKETS, MetricsRegistry

__all__ = ["StoreWriter"]

LAST_BATCH_IDS_MAX = 4096
"""Persist ids whose write time :attr:`StoreWriter.last_batch_ms` remembers (for traces)."""

_log = logging.getLogger("dynamokv.runtime.store")


class StoreWriter:
    """The node's storage adapter, and the loop and thread that make its persists durable.

    Args:
        adapter: the node's storage (its core reads through it).
        metrics: where to count rounds, their sizes and their latency.
    """

    def __init__(self, adapter: StoreAdapter, *, metrics: MetricsRegistry) -> None:
        self.adapter = adapter
        self._wakeup = trio.Event()
        self._idle = trio.Event()
        self._idle.set()
        self._writing = False
        self._rounds: queue.SimpleQueue[Prepared | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._written = trio.Event()
        self._outcome: float | BaseException = 0.0
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

    @classmethod
    def open(cls, directory: str, *, fsync: str, metrics: MetricsRegistry) -> StoreWriter:
        """Open (or create) the node's stores under ``directory`` and recover them."""
        options = StoreOptions(fsync=fsync)  # type: ignore[arg-type]  # checked by config
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

        Starts the writer thread, and stops it when cancelled (a round being written is
        waited for first); a :class:`~dynamokv.impl.storage.StorageError` propagates.
        """
        adapter = self.adapter
        thread = threading.Thread(
            target=self._write_rounds,
            args=(trio.lowlevel.current_trio_token(),),
            name="dynamokv-store-writer",
            daemon=True,
        )
        thread.start()
        self._thread = thread
        task_status.started()
        try:
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
                self._written = written = trio.Event()
                self._rounds.put(prepared)
                try:
                    # The round is on disk or failed only when the thread says so: a
                    # cancellation (the node stopping) waits for it rather than leave a
                    # write running under a store about to close.
                    with trio.CancelScope(shield=True):
                        await written.wait()
                finally:
                    self._writing = False
                outcome = self._outcome
                if isinstance(outcome, BaseException):
                    raise outcome
                self._syncs.inc()
                self._batch_sizes.observe(len(ids))
                self._batch_seconds.observe(outcome)
                adapter.settle(ids)
                if len(self.last_batch_ms) > LAST_BATCH_IDS_MAX:
                    self.last_batch_ms.clear()
                elapsed_ms = outcome * 1000
                for persist_id in ids:
                    self.last_batch_ms[persist_id] = elapsed_ms
                on_durable(list(ids))
                if adapter.pending_count == 0:
                    self._idle.set()
        finally:
            self._rounds.put(None)  # the thread ends once it sees this

    def _write_rounds(self, token: trio.lowlevel.TrioToken) -> None:
        """The writer thread: write each round handed over, hand back its time or error."""
        rounds = self._rounds
        write = self.adapter.write
        clock = time.monotonic
        # Bounded by the node's lifetime: ends at the None that run() or close() queues.
        while True:
            prepared = rounds.get()
            if prepared is None:
                return
            started = clock()
            outcome: float | BaseException
            try:
                write(prepared)
                outcome = clock() - started
            except BaseException as error:  # handed to the loop, which raises it
                outcome = error
            try:
                token.run_sync_soon(self._round_written, outcome)
            except trio.RunFinishedError:  # the trio run ended under us: nobody waits
                _log.warning("wal.round_written_after_stop")
                return

    def _round_written(self, outcome: float | BaseException) -> None:
        """On the event loop: the writer thread finished the round in flight."""
        self._outcome = outcome
        self._written.set()

    async def wait_idle(self) -> None:
        """Return once every applied persist is durable (graceful shutdown)."""
        while self.adapter.pending_count or self._writing:
            await self._idle.wait()

    def close(self) -> None:
        """Stop the writer thread, then close the stores (their WALs are synced on close)."""
        thread = self._thread
        if thread is not None:
            self._rounds.put(None)
            thread.join()
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
