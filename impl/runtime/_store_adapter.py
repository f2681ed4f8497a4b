"""The core's storage on real disks: two :class:`~dynamokv.impl.storage.Store` instances,
an in-memory overlay, and a writer loop that group-commits persists (on the event loop
while the disk is fast, else on a worker thread).

Layout (one directory per node)::

    DATA_DIR/data/   key -> the key's version set (msgpack)     one entry per client key
    DATA_DIR/meta/   b"h" + hint id (8 bytes, big-endian) -> hint; b"lease" -> counter;
                     b"ring" -> the adopted ring; b"generation" -> the node's incarnation

``StoreVersions(key, ())`` deletes the key from the data store (a partition handed off,
:class:`~dynamokv.impl.core.DropKeys`).

Why two stores and not one with key prefixes: the store orders keys by the MD5 of the
*stored* key (:mod:`dynamokv.impl.storage`), so that a Dynamo partition is one contiguous
range for :meth:`~dynamokv.impl.storage.Store.scan`, which anti-entropy and partition
transfer need (Dynamo §4.7, §4.9). A prefix (``d/`` + key) would change every key's MD5 and
scatter a partition over the whole file; and every byte string is a possible client key,
so no prefix could keep the node's own records apart. The meta store is small (hints are
bounded by ``hints_count_max``, the lease is one record). The price: a persist that held
records for both stores would not be atomic across them; the core never emits one (each of
its persists is one record), and :class:`PersistDone` is stepped only when both are durable.

Why an overlay: the core reads its storage synchronously and expects to see every persist
it emitted at once, durable or not (the contract of :class:`~dynamokv.impl.core.StorageView`,
"as a memtable does"). :meth:`StoreAdapter.apply` puts a persist's records in an in-memory
overlay and queues them; the store sees them only when the writer thread has written and
synced them, and an overlay entry is dropped once the store holds it (unless a later
persist replaced it meanwhile).

Why one writer loop (group commit): while one batch is appended and fsynced, every persist
the node emits queues up; the next batch takes them all, as one ``write_batch`` (one WAL
record, one ``fsync``). At N concurrent puts that is about one fsync per N persists instead
of N (DESIGN.md §9: an fsync is ~0.16 ms here). Only then does the loop step
:class:`~dynamokv.impl.core.PersistDone` into the node: persist before acknowledge.

Why the write runs on the event loop (``inline_writes``, the default), as Redis does its
``appendfsync always``: a worker thread shares the GIL with the trio thread, and each of
the several times per batch that it needs the GIL back while the trio thread runs Python,
one of them waits for the other and both pay a forced switch. Measured with 3 nodes under
bench W (wrk, 16 connections, 1 KiB values, CPU of the node processes per put, 2 runs
each): ``trio.to_thread`` per batch 750-768 µs, a dedicated writer thread 712-743 µs, on
the event loop 594-616 µs, with ~15 % more puts/s and a lower p50, although batches are
smaller (~4.5 persists instead of ~6.2): while the loop waits on the disk, the other
processes run and the next round finds more work per wake-up. The price is that the node
answers nothing during an fsync; so :data:`INLINE_SLOW_WRITES_IN_A_ROW_MAX` batches in a row
that take longer than :data:`INLINE_WRITE_SECONDS_MAX` (a slow disk) send the following
batches to a worker thread (``trio.to_thread``, once per *batch*) for
:data:`THREADED_AFTER_SLOW_WRITE_SECONDS`, logged and counted. Encoding stays on the trio
thread either way (:meth:`StoreAdapter._encode`).

Measured alternative: a dedicated writer thread that hands batches back with
``TrioToken.run_sync_soon`` and starts the next batch at once cut a batch's wall time from
~1.2 ms to ~0.5 ms, but made batches smaller (~4 persists instead of ~8) and single-node
PUT throughput *fell* from ~5,700/s to ~4,400/s (wrk, 16 connections, 1 KiB values): with
one GIL, each extra batch's Python work (encoding, the store's bookkeeping) is taken from
the request path. Waiting for the loop's round to finish is what makes batches large.

Why a cache of decoded version sets: the core reads a key's versions before every write it
merges (coordinator and replicas alike), and once a persist is durable its overlay entry is
gone, so the next write to that key would go to the store: a segment ``pread``, a CRC and a
msgpack decode into new :class:`~dynamokv.spec.kv.Version` objects, ~25 µs on the request
path. Every write to the data store passes through this adapter, so it can keep what it
wrote (and what it read) as decoded values, bounded by :data:`CACHE_BYTES_MAX` and evicted
oldest first. Under a skewed key distribution nearly every read of a hot key is a hit.

A storage error (disk full, a failed fsync) is not something the core can handle: it has
no "persist failed" event, and acknowledging would be a lie. The writer loop raises, and the
node process stops (fail-stop; a restart recovers from the WAL).
"""

from __future__ import annotations

import logging
import os
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import msgpack
import trio
from dynamokv.impl.core import (
    DeleteHint,
    Hint,
    MemberStorageView,
    Persist,
    StoreGeneration,
    StoreHint,
    StoreLease,
    StoreRing,
    StoreVersions,
)
from dynamokv.impl.storage import VALUE_BYTES_MAX, Store, StoreOptions
from dynamokv.spec.kv import Version

from ._metrics import SIZE_BUCKETS, MetricsRegistry

__all__ = ["StoreAdapter", "StoreLike", "decode_versions", "encode_versions"]

BATCH_RECORDS_MAX = 4096
"""Records written as one WAL record; a larger batch is split (each part synced)."""

BATCH_BYTES_MAX = 16 << 20
"""Encoded bytes written as one WAL record (the store allows 64 MiB)."""

CACHE_BYTES_MAX = 32 << 20
"""Value bytes of decoded version sets kept in memory for reads (oldest evicted first)."""

_CACHE_ENTRY_BYTES = 64
"""Bytes charged per cached key besides its values (key, tuples, clocks: a rough floor)."""

INLINE_WRITE_SECONDS_MAX = 0.02
"""A group commit written on the event loop is *slow* past this. One slow batch is normal
(a memtable rotation preallocates and syncs the next WAL file, every few MiB written);
:data:`INLINE_SLOW_WRITES_IN_A_ROW_MAX` in a row mean a slow or stalled disk, and the next
batches go to a worker thread for :data:`THREADED_AFTER_SLOW_WRITE_SECONDS`."""

INLINE_SLOW_WRITES_IN_A_ROW_MAX = 2

THREADED_AFTER_SLOW_WRITE_SECONDS = 30.0

_log = logging.getLogger("dynamokv.runtime.store")

Operation = tuple[bytes, bytes | None]
"""A store put ``(key, value)`` or delete ``(key, None)``."""

_LEASE_KEY = b"lease"
_RING_KEY = b"ring"
_GENERATION_KEY = b"generation"
_HINT_PREFIX = b"h"
_HINT_ID = struct.Struct(">Q")


class StoreLike(Protocol):
    """What the adapter needs of a :class:`~dynamokv.impl.storage.Store` (tests wrap one)."""

    def get(self, key: bytes) -> bytes | None: ...  # pragma: no cover - protocol

    def scan(self, low: int, high: int) -> Iterable[tuple[bytes, bytes]]: ...  # pragma: no cover

    def write_batch(
        self, operations: Sequence[tuple[bytes, bytes | None]]
    ) -> None: ...  # pragma: no cover

    def close(self) -> None: ...  # pragma: no cover - protocol


def encode_versions(versions: tuple[Version, ...]) -> bytes:
    """A version set as stored: ``[[value, node, counter, [[node, counter], ...]], ...]``."""
    packed: bytes = msgpack.packb(
        [[v.value, v.dot[0], v.dot[1], v.context] for v in versions], use_bin_type=True
    )
    return packed


def decode_versions(raw: bytes) -> tuple[Version, ...]:
    """The inverse of :func:`encode_versions`."""
    return tuple(
        Version(value, (node, counter), tuple([(n, c) for n, c in context]))
        for value, node, counter, context in msgpack.unpackb(raw, raw=False)
    )


def _encode_hint(hint: Hint) -> bytes:
    packed: bytes = msgpack.packb(
        [hint.owner, hint.key, encode_versions(hint.versions), hint.size_bytes], use_bin_type=True
    )
    return packed


def _decode_hint(hint_id: int, raw: bytes) -> Hint:
    owner, key, versions, size_bytes = msgpack.unpackb(raw, raw=False)
    return Hint(hint_id, owner, key, decode_versions(versions), size_bytes)


def _pop_oldest(
    cache: dict[bytes, tuple[tuple[Version, ...], int]],
) -> tuple[bytes, tuple[tuple[Version, ...], int]]:
    key = next(iter(cache))
    return key, cache.pop(key)


def _hint_key(hint_id: int) -> bytes:
    return _HINT_PREFIX + _HINT_ID.pack(hint_id)


class StoreAdapter(MemberStorageView):
    """The :class:`~dynamokv.impl.core.MemberStorageView` of a node process, and its writer.

    Args:
        data: the store of version sets, keyed by client key.
        meta: the store of hints and the counter lease.
        metrics: where to count batches, their sizes and their latency.
        inline_writes: write group commits on the event loop while they are fast (see the
            module docstring); ``False``: always on a worker thread (tests that stall the
            store's writes on purpose need that).
    """

    def __init__(
        self,
        data: StoreLike,
        meta: StoreLike,
        *,
        metrics: MetricsRegistry,
        inline_writes: bool = True,
    ) -> None:
        self.data = data
        self._inline_writes = inline_writes
        self._threaded_until = 0.0
        self._slow_in_a_row = 0
        self.meta = meta
        self._versions_overlay: dict[bytes, tuple[tuple[Version, ...], int]] = {}
        self._hints_overlay: dict[int, tuple[Hint | None, int]] = {}
        self._cache: dict[bytes, tuple[tuple[Version, ...], int]] = {}
        self._cache_bytes = 0
        self._lease = self._read_stored_lease()
        self._ring = self._read_stored_ring()
        self._generation = self._read_stored_generation()
        self._queue: list[Persist] = []
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
            "dynamokv_wal_fsyncs_total", "WAL write_batch calls (each is one fsync under 'always')"
        )
        self._records = metrics.counter("dynamokv_wal_records_total", "Records persisted")
        self._slow_inline_writes = metrics.counter(
            "dynamokv_wal_slow_inline_writes_total",
            "Group commits written on the event loop that took longer than "
            "INLINE_WRITE_SECONDS_MAX (several in a row: the next go to a worker thread)",
        )

    @classmethod
    def open(cls, directory: str, *, fsync: str, metrics: MetricsRegistry) -> StoreAdapter:
        """Open (or create) ``directory/data`` and ``directory/meta`` and recover them."""
        os.makedirs(directory, exist_ok=True)
        options = StoreOptions(fsync=fsync)  # type: ignore[arg-type]  # checked by config
        data = Store.open(os.path.join(directory, "data"), options=options)
        try:
            meta = Store.open(os.path.join(directory, "meta"), options=options)
        except BaseException:
            data.close()
            raise
        return cls(data, meta, metrics=metrics)

    # -- StorageView (called on the trio thread, synchronously, by the core) ---------------

    def read_versions(self, key: bytes) -> tuple[Version, ...]:
        """The overlay's versions of ``key`` if a persist is pending, else the store's."""
        entry = self._versions_overlay.get(key)
        if entry is not None:
            return entry[0]
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        raw = self.data.get(key)
        versions = () if raw is None else decode_versions(raw)
        self._cache_put(key, versions)
        return versions

    def _cache_put(self, key: bytes, versions: tuple[Version, ...]) -> None:
        """Remember that the data store holds ``versions`` for ``key`` (evicting the oldest)."""
        cache = self._cache
        old = cache.pop(key, None)
        if old is not None:
            self._cache_bytes -= old[1]
        size = len(key) + _CACHE_ENTRY_BYTES
        for version in versions:
            size += _CACHE_ENTRY_BYTES + len(version.value or b"")
        if size > CACHE_BYTES_MAX:
            return
        cache[key] = (versions, size)
        self._cache_bytes += size
        # Bounded: each iteration removes one entry; dicts iterate oldest insertion first.
        while self._cache_bytes > CACHE_BYTES_MAX:
            _, (_, evicted) = _pop_oldest(cache)
            self._cache_bytes -= evicted

    def read_hints(self) -> Iterable[Hint]:
        """Every hint in the meta store, overlay applied, by id."""
        hints: dict[int, Hint] = {}
        for key, raw in self.meta.scan(0, 0):
            if key.startswith(_HINT_PREFIX) and len(key) == 1 + _HINT_ID.size:
                hint_id = _HINT_ID.unpack_from(key, 1)[0]
                hints[hint_id] = _decode_hint(hint_id, raw)
        for hint_id, (hint, _) in self._hints_overlay.items():
            if hint is None:
                hints.pop(hint_id, None)
            else:
                hints[hint_id] = hint
        return [hints[i] for i in sorted(hints)]

    def read_lease(self) -> int:
        """The largest lease persisted (pending ones included)."""
        return self._lease

    def _read_stored_lease(self) -> int:
        raw = self.meta.get(_LEASE_KEY)
        return 0 if raw is None else int(msgpack.unpackb(raw))

    def scan_versions(self) -> Iterable[tuple[bytes, tuple[Version, ...]]]:
        """Every stored key with its versions, overlay applied (read once, at start)."""
        overlay = self._versions_overlay
        for key, raw in self.data.scan(0, 0):
            if key in overlay:
                continue
            versions = decode_versions(raw)
            if versions:
                yield key, versions
        for key, (versions, _) in list(overlay.items()):
            if versions:
                yield key, versions

    def read_ring(self) -> StoreRing | None:
        """The last ring persisted (pending ones included), or None."""
        return self._ring

    def read_generation(self) -> int:
        """The last generation persisted (pending ones included), 0 if none."""
        return self._generation

    def _read_stored_ring(self) -> StoreRing | None:
        raw = self.meta.get(_RING_KEY)
        if raw is None:
            return None
        version, issuer, owners = msgpack.unpackb(raw, raw=False)
        return StoreRing(int(version), str(issuer), tuple(owners))

    def _read_stored_generation(self) -> int:
        raw = self.meta.get(_GENERATION_KEY)
        return 0 if raw is None else int(msgpack.unpackb(raw))

    # -- the write side ----------------------------------------------------------------------

    def apply(self, persist: Persist) -> None:
        """Make ``persist`` visible to reads now and queue it for the writer loop."""
        persist_id = persist.persist_id
        for record in persist.records:
            if isinstance(record, StoreVersions):
                self._versions_overlay[record.key] = (record.versions, persist_id)
            elif isinstance(record, StoreHint):
                self._hints_overlay[record.hint.hint_id] = (record.hint, persist_id)
            elif isinstance(record, DeleteHint):
                self._hints_overlay[record.hint_id] = (None, persist_id)
            elif isinstance(record, StoreLease):
                self._lease = max(self._lease, record.counter_max)
            elif isinstance(record, StoreRing):
                self._ring = record
            elif isinstance(record, StoreGeneration):
                self._generation = max(self._generation, record.generation)
            else:
                raise TypeError(
                    f"unknown record type {type(record).__name__}: the store adapter "
                    "does not know how to persist it"
                )
        self._queue.append(persist)
        if self._idle.is_set():
            self._idle = trio.Event()
        self._wakeup.set()

    @property
    def pending_count(self) -> int:
        """Persists applied but not yet durable."""
        return len(self._queue) + (1 if self._writing else 0)

    async def run(
        self,
        on_durable: Callable[[list[int]], None],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """The writer loop: batch queued persists, write them on a thread, report them durable.

        Runs until cancelled; a :class:`~dynamokv.impl.storage.StorageError` propagates.
        """
        task_status.started()
        # Runs for the node's lifetime; each iteration writes one non-empty batch.
        while True:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
            batch, self._queue = self._queue, []
            if not batch:
                continue
            self._writing = True
            started = time.perf_counter()
            inline = self._inline_writes and time.monotonic() >= self._threaded_until
            try:
                writes = self._encode(batch)
                if inline:
                    self._write(writes)
                else:
                    await trio.to_thread.run_sync(self._write, writes)
            finally:
                self._writing = False
            elapsed = time.perf_counter() - started
            if inline:
                if elapsed <= INLINE_WRITE_SECONDS_MAX:
                    self._slow_in_a_row = 0
                else:
                    self._slow_inline_writes.inc()
                    self._slow_in_a_row += 1
                    if self._slow_in_a_row >= INLINE_SLOW_WRITES_IN_A_ROW_MAX:
                        # The disk is slow: stop blocking the event loop on it for a while.
                        self._slow_in_a_row = 0
                        self._threaded_until = time.monotonic() + THREADED_AFTER_SLOW_WRITE_SECONDS
                        _log.warning(
                            "wal.slow_writes ms=%.1f threaded_for_s=%.0f",
                            elapsed * 1000,
                            THREADED_AFTER_SLOW_WRITE_SECONDS,
                        )
            self._batch_sizes.observe(len(batch))
            self._batch_seconds.observe(elapsed)
            ids = [persist.persist_id for persist in batch]
            self._settle(batch)
            if len(self.last_batch_ms) > 4096:
                self.last_batch_ms.clear()
            elapsed_ms = elapsed * 1000
            for persist_id in ids:
                self.last_batch_ms[persist_id] = elapsed_ms
            on_durable(ids)
            if not self._queue:
                self._idle.set()

    async def wait_idle(self) -> None:
        """Return once every applied persist is durable (graceful shutdown)."""
        while self._queue or self._writing:
            await self._idle.wait()

    def _encode(self, batch: list[Persist]) -> list[tuple[StoreLike, list[Operation]]]:
        """The batch's records as store operations, in as few WAL records as limits allow.

        Runs on the trio thread, so that the worker thread needs the GIL as little as
        possible: every time it needs it while the trio thread runs, one of them waits for
        the other (Python's GIL switch interval), which is latency on every request.
        """
        writes: list[tuple[StoreLike, list[Operation]]] = []
        data_ops: list[Operation] = []
        meta_ops: list[Operation] = []
        data_bytes = 0
        records = 0
        for persist in batch:
            for record in persist.records:
                records += 1
                if isinstance(record, StoreVersions) and not record.versions:
                    # No versions left: the key was handed off (DropKeys); delete it.
                    if len(data_ops) >= BATCH_RECORDS_MAX:
                        writes.append((self.data, data_ops))
                        data_ops, data_bytes = [], 0
                    data_ops.append((record.key, None))
                elif isinstance(record, StoreVersions):
                    encoded = encode_versions(record.versions)
                    if len(encoded) > VALUE_BYTES_MAX:
                        raise ValueError(
                            f"the version set of a key encodes to {len(encoded)} bytes, over "
                            f"the store's VALUE_BYTES_MAX={VALUE_BYTES_MAX}"
                        )
                    if (
                        len(data_ops) >= BATCH_RECORDS_MAX
                        or data_bytes + len(encoded) > BATCH_BYTES_MAX
                    ):
                        writes.append((self.data, data_ops))
                        data_ops, data_bytes = [], 0
                    data_ops.append((record.key, encoded))
                    data_bytes += len(encoded) + len(record.key)
                elif isinstance(record, StoreHint):
                    meta_ops.append((_hint_key(record.hint.hint_id), _encode_hint(record.hint)))
                elif isinstance(record, DeleteHint):
                    meta_ops.append((_hint_key(record.hint_id), None))
                elif isinstance(record, StoreRing):
                    meta_ops.append(
                        (
                            _RING_KEY,
                            msgpack.packb(
                                [record.version, record.issuer, list(record.owners)],
                                use_bin_type=True,
                            ),
                        )
                    )
                elif isinstance(record, StoreGeneration):
                    meta_ops.append((_GENERATION_KEY, msgpack.packb(record.generation)))
                else:
                    assert isinstance(record, StoreLease)
                    meta_ops.append((_LEASE_KEY, msgpack.packb(record.counter_max)))
        self._records.inc(records)
        for start in range(0, len(meta_ops), BATCH_RECORDS_MAX):
            writes.append((self.meta, meta_ops[start : start + BATCH_RECORDS_MAX]))
        if data_ops:
            writes.append((self.data, data_ops))
        return writes

    def _write(self, writes: list[tuple[StoreLike, list[Operation]]]) -> None:
        """On the worker thread: one ``write_batch`` (one WAL record, one fsync) per entry."""
        for store, operations in writes:
            store.write_batch(operations)
            self._syncs.inc()

    def _settle(self, batch: list[Persist]) -> None:
        """The store now holds ``batch``: drop overlay entries no later persist replaced."""
        versions_overlay = self._versions_overlay
        hints_overlay = self._hints_overlay
        for persist in batch:
            persist_id = persist.persist_id
            for record in persist.records:
                if isinstance(record, StoreVersions):
                    # The store now holds exactly these versions (batches are written in
                    # order, so the last record of a key wins here as on disk).
                    self._cache_put(record.key, record.versions)
                    entry = versions_overlay.get(record.key)
                    if entry is not None and entry[1] == persist_id:
                        del versions_overlay[record.key]
                elif isinstance(record, StoreHint | DeleteHint):
                    hint_id = (
                        record.hint.hint_id if isinstance(record, StoreHint) else record.hint_id
                    )
                    entry_h = hints_overlay.get(hint_id)
                    if entry_h is not None and entry_h[1] == persist_id:
                        del hints_overlay[hint_id]

    def close(self) -> None:
        """Close both stores (their WALs are synced on close)."""
        try:
            self.data.close()
        finally:
            self.meta.close()

    def stats_samples(self) -> list[tuple[str, str, str, tuple[tuple[str, str], ...], float]]:
        """Store-level gauges for ``/metrics``."""
        samples: list[tuple[str, str, str, tuple[tuple[str, str], ...], float]] = []
        for name, store in (("data", self.data), ("meta", self.meta)):
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
        for name, store in (("data", self.data), ("meta", self.meta)):
            stats = getattr(store, "stats", None)
            if stats is None:
                continue
            snapshot = stats()
            samples.append(
                (
                    "dynamokv_store_segments",
                    "gauge",
                    "Sorted segment files of the store",
                    (("store", name),),
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
