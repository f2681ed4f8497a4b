"""The node's storage: the core's storage view over two WAL stores, and its writes' way to disk.

One class serves every driver. The trio runtime (:mod:`dynamokv.impl.runtime`) adds a
writer loop around it; the simulator drives it over fault-injecting files (its ``store``
storage mode), so the seed sweeps run the code that runs in production.

How a persist becomes durable
=============================

1. :meth:`StoreAdapter.apply`: the moment the core emits a
   :class:`~dynamokv.impl.core.Persist`, its records go into the pending writes
   (:class:`~dynamokv.impl.persist.PendingWrites`), so the core's next read sees them.
2. :meth:`StoreAdapter.prepare`: the records of every persist applied since the last
   prepare are encoded (:mod:`~dynamokv.impl.persist._records`) and appended to their
   store as one WAL record per store (:meth:`~dynamokv.impl.storage.Store.append_batch`;
   more only if a store's record limits require it). No IO yet.
3. :meth:`StoreAdapter.write`: each store writes everything appended as one group commit
   (:meth:`~dynamokv.impl.storage.Store.commit`: one ``write``, and one ``fsync`` under the
   ``"always"`` policy). This is the only place a group commit happens: the store's group
   commit, which concurrent writer threads share too.
4. :meth:`StoreAdapter.sync`: an ``fsync`` of anything written but not yet synced (a
   no-op under ``"always"``; the simulator writes unsynced and syncs later, so that a
   crash can tear what was written in between).
5. :meth:`StoreAdapter.settle`: those persists are durable; their pending entries go
   unless a later persist replaced them, and the written version sets enter the cache.
   Only then may the driver step :class:`~dynamokv.impl.core.PersistDone`: persist
   before acknowledging.

:meth:`StoreAdapter.commit` runs steps 2 to 5 at once.

Why two stores and not one with key prefixes
============================================

The store orders keys by the MD5 of the *stored* key (:mod:`dynamokv.impl.storage`), so
that a Dynamo partition is one contiguous range for
:meth:`~dynamokv.impl.storage.Store.scan` (Dynamo §4.7, §4.8). A prefix (``d/`` + key)
would change every key's MD5 and scatter a partition over the whole file; and every byte
string is a possible client key, so no prefix could keep the node's own records apart. The
meta store is small (hints are bounded by ``hints_count_max``, the lease is one record).
The price: a persist holding records for both stores would not be atomic across them; the
core never emits one, and a persist is settled only when both stores made it durable.

The cache of decoded version sets
=================================

The core reads a key's versions before every write it merges (coordinator and replicas
alike), and once a persist is settled its pending entry is gone, so the next write to that
key would go to the store: a segment ``pread``, a CRC and a msgpack decode into new
:class:`~dynamokv.spec.kv.Version` objects, ~25 µs on the request path. Every write to the
data store passes through this adapter, so it keeps what it wrote (and what it read) as
decoded values, bounded by :data:`CACHE_BYTES_MAX`, oldest evicted first.

A storage error (disk full, a failed fsync) is not something the core can handle: it has
no "persist failed" event, and acknowledging would be a lie. It propagates to the driver,
which stops (fail-stop; a restart recovers from the WAL).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from dynamokv.impl.core import Hint, MemberStorageView, Persist, StoreRing, StoreVersions, Version
from dynamokv.impl.storage import (
    BATCH_OPERATIONS_MAX,
    Files,
    Operation,
    Store,
    StoreOptions,
)

from ._pending import PendingWrites
from ._records import (
    GENERATION_KEY,
    LEASE_KEY,
    RING_KEY,
    decode_generation,
    decode_hint,
    decode_lease,
    decode_ring,
    decode_versions,
    hint_id_of,
    record_operation,
)

__all__ = ["CACHE_BYTES_MAX", "Prepared", "StoreAdapter", "StoreLike"]

BATCH_BYTES_MAX = 16 << 20
"""Encoded bytes appended as one batch (a group commit joins its batches into one WAL record,
split past the store's 64 MiB)."""

CACHE_BYTES_MAX = 32 << 20
"""Value bytes of decoded version sets kept in memory for reads (oldest evicted first)."""

_CACHE_ENTRY_BYTES = 64
"""Bytes charged per cached key besides its values (key, tuples, clocks: a rough floor)."""


class StoreLike(Protocol):
    """What the adapter needs of a :class:`~dynamokv.impl.storage.Store` (tests wrap one)."""

    def get(self, key: bytes) -> bytes | None: ...  # pragma: no cover - protocol

    def scan(self, low: int, high: int) -> Iterable[tuple[bytes, bytes]]: ...  # pragma: no cover

    def append_batch(self, operations: Sequence[Operation]) -> None: ...  # pragma: no cover

    def commit(self) -> None: ...  # pragma: no cover - protocol

    def sync(self) -> None: ...  # pragma: no cover - protocol

    def close(self) -> None: ...  # pragma: no cover - protocol


@dataclass(frozen=True, slots=True)
class Prepared:
    """What one :meth:`StoreAdapter.prepare` appended: the persists, and the stores to write.

    Attributes:
        persist_ids: the persists appended, in order.
        stores: the stores that received records (meta first).
    """

    persist_ids: tuple[int, ...]
    stores: tuple[StoreLike, ...]


class StoreAdapter(MemberStorageView):
    """A node's :class:`~dynamokv.impl.core.MemberStorageView` and the way its persists reach disk.

    Not thread-safe by itself: a driver calls every method from one thread, except that
    :meth:`write` and :meth:`sync` may run on a worker thread while that thread goes on
    applying and preparing (the stores serialize their own writes).

    Args:
        data: the store of version sets, keyed by client key.
        meta: the store of hints, the counter lease, the ring and the generation.
    """

    def __init__(self, data: StoreLike, meta: StoreLike) -> None:
        self.data = data
        self.meta = meta
        self.pending = PendingWrites()
        self._applied: dict[int, Persist] = {}
        self._unprepared: list[Persist] = []
        self._cache: dict[bytes, tuple[tuple[Version, ...], int]] = {}
        self._cache_bytes = 0
        self._lease = decode_lease(meta.get(LEASE_KEY))
        self._generation = decode_generation(meta.get(GENERATION_KEY))

    @classmethod
    def open(
        cls, directory: str, *, options: StoreOptions, files: Files | None = None
    ) -> StoreAdapter:
        """Open (or create) ``directory/data`` and ``directory/meta`` and recover them."""
        root = directory.rstrip("/") or "/"
        data = Store.open(f"{root}/data", options=options, files=files)
        try:
            meta = Store.open(f"{root}/meta", options=options, files=files)
        except BaseException:
            data.close()
            raise
        return cls(data, meta)

    # -- the StorageView (what the core reads, synchronously) -----------------------------

    def read_versions(self, key: bytes) -> tuple[Version, ...]:
        """The pending versions of ``key`` if a persist is pending, else the stored ones."""
        entry = self.pending.versions.get(key)
        if entry is not None:
            return entry[0]
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        raw = self.data.get(key)
        versions = () if raw is None else decode_versions(raw)
        self._cache_put(key, versions)
        return versions

    def read_hints(self) -> Iterable[Hint]:
        """Every hint, pending ones applied, by id (read once, when the node starts)."""
        durable: dict[int, Hint] = {}
        for key, raw in self.meta.scan(0, 0):
            hint_id = hint_id_of(key)
            if hint_id is not None:
                durable[hint_id] = decode_hint(hint_id, raw)
        return self.pending.hints_over(durable)

    def read_lease(self) -> int:
        """The largest lease persisted (pending ones included)."""
        return max(self._lease, self.pending.lease)

    def scan_versions(self) -> Iterable[tuple[bytes, tuple[Version, ...]]]:
        """Every stored key with its versions, pending writes applied (read once, at start)."""
        pending = self.pending.versions
        for key, raw in self.data.scan(0, 0):
            if key in pending:
                continue
            versions = decode_versions(raw)
            if versions:
                yield key, versions
        for key, (versions, _) in list(pending.items()):
            if versions:
                yield key, versions

    def read_ring(self) -> StoreRing | None:
        """The last ring persisted (pending ones included), or None."""
        if self.pending.ring is not None:
            return self.pending.ring[0]
        return decode_ring(self.meta.get(RING_KEY))

    def read_generation(self) -> int:
        """The last generation persisted (pending ones included), 0 if none."""
        return max(self._generation, self.pending.generation)

    # -- the write side ---------------------------------------------------------------------

    def apply(self, persist: Persist) -> None:
        """Make ``persist`` visible to reads now; it is written by the next :meth:`prepare`."""
        self.pending.apply(persist)
        self._applied[persist.persist_id] = persist
        self._unprepared.append(persist)

    @property
    def pending_count(self) -> int:
        """Persists applied and not yet settled."""
        return len(self._applied)

    def prepare(self) -> Prepared:
        """Append every persist applied since the last prepare to its store.

        Returns:
            The persists appended, and the stores that now have records to write.

        Raises:
            dynamokv.impl.storage.StorageArgumentError: a version set too large for the
                store (a bug: the core bounds them).
        """
        batch, self._unprepared = self._unprepared, []
        data_ops: list[Operation] = []
        meta_ops: list[Operation] = []
        data_bytes = 0
        stores: list[StoreLike] = []
        for persist in batch:
            for record in persist.records:
                store, key, value = record_operation(record)
                if store == "meta":
                    meta_ops.append((key, value))
                    continue
                size = len(key) + (0 if value is None else len(value))
                if data_ops and (
                    len(data_ops) >= BATCH_OPERATIONS_MAX or data_bytes + size > BATCH_BYTES_MAX
                ):
                    self.data.append_batch(data_ops)
                    data_ops, data_bytes = [], 0
                    if self.data not in stores:
                        stores.append(self.data)
                data_ops.append((key, value))
                data_bytes += size
        if data_ops:
            self.data.append_batch(data_ops)
            if self.data not in stores:
                stores.append(self.data)
        for start in range(0, len(meta_ops), BATCH_OPERATIONS_MAX):
            self.meta.append_batch(meta_ops[start : start + BATCH_OPERATIONS_MAX])
        if meta_ops:
            stores.insert(0, self.meta)
        return Prepared(tuple(persist.persist_id for persist in batch), tuple(stores))

    def write(self, prepared: Prepared) -> None:
        """Write what :meth:`prepare` appended: one group commit per store that has records
        (durable under ``"always"``). May run on a worker thread."""
        for store in prepared.stores:
            store.commit()

    def sync(self) -> None:
        """``fsync`` whatever was written and not synced yet (a no-op under ``"always"``)."""
        self.meta.sync()
        self.data.sync()

    def settle(self, persist_ids: Sequence[int]) -> None:
        """These prepared persists are durable: drop their pending entries, cache their sets."""
        applied = self._applied
        pending = self.pending
        for persist_id in persist_ids:
            persist = applied.pop(persist_id)
            for record in persist.records:
                if record.__class__ is StoreVersions:
                    # The store holds exactly these versions now (persists are written in
                    # order, so the last record of a key wins here as on disk).
                    self._cache_put(record.key, record.versions)
            pending.settle(persist)

    def commit(self) -> list[int]:
        """Prepare, write, sync and settle everything applied; return the durable ids."""
        prepared = self.prepare()
        self.write(prepared)
        self.sync()
        self.settle(prepared.persist_ids)
        return list(prepared.persist_ids)

    def close(self) -> None:
        """Close both stores (their WALs are synced on close)."""
        try:
            self.data.close()
        finally:
            self.meta.close()

    # -- the cache ------------------------------------------------------------------------

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
            evicted = cache.pop(next(iter(cache)))
            self._cache_bytes -= evicted[1]
