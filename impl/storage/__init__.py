"""The node's durable store: write-ahead log, memtable and sorted segment files.

A write's last step on each replica: "write to the WAL and the memtable". One :class:`Store`
per node maps a key to an opaque value (the serialized version set, or a tombstone),
ordered by ring position (MD5 of the key, Dynamo §4.2), so that a partition's keys are one
contiguous range (:meth:`Store.scan`) for hinted handoff and Merkle trees (Dynamo §4.6,
§4.7).

Everything on disk goes through a :class:`Files` layer: :class:`OsFiles` for real, or
:class:`FaultyFiles` for the deterministic simulator (torn writes, lost unsynced data,
injected write errors). The design and its recovery rules are in ``docs/storage.md``. The
WAL's framing and recovery rule are replaceable through :class:`WalSeams` (labs, tests).

This package imports nothing else from dynamokv but the error root (:mod:`dynamokv.spec.errors`), nor trio: the trio runtime calls it on a
worker thread and the simulator calls it directly.
"""

from __future__ import annotations

from ._errors import (
    StorageArgumentError,
    StorageClosedError,
    StorageCorruptionError,
    StorageDiskFullError,
    StorageError,
    StorageReadOnlyError,
    StorageWriteError,
)
from ._files import FaultyFiles, Files, OsFiles, ReadableFile, WritableFile
from ._format import (
    BATCH_OPERATIONS_MAX,
    KEY_BYTES_MAX,
    RING_POSITIONS_COUNT,
    VALUE_BYTES_MAX,
    WAL_RECORD_BYTES_MAX,
    Operation,
    frame_wal_record,
    read_wal_records,
    ring_position,
)
from ._group_commit import GroupCommit
from ._seams import DEFAULT_WAL_SEAMS, WalSeams
from ._store import FSYNC_POLICIES, FsyncPolicy, MayDrop, Store, StoreOptions, StoreStats
from ._wal import RecoveryReport, SalvagedDamage, TornTail

__all__ = [
    "BATCH_OPERATIONS_MAX",
    "DEFAULT_WAL_SEAMS",
    "FSYNC_POLICIES",
    "KEY_BYTES_MAX",
    "RING_POSITIONS_COUNT",
    "VALUE_BYTES_MAX",
    "WAL_RECORD_BYTES_MAX",
    "FaultyFiles",
    "Files",
    "FsyncPolicy",
    "GroupCommit",
    "MayDrop",
    "Operation",
    "OsFiles",
    "ReadableFile",
    "RecoveryReport",
    "SalvagedDamage",
    "StorageArgumentError",
    "StorageClosedError",
    "StorageCorruptionError",
    "StorageDiskFullError",
    "StorageError",
    "StorageReadOnlyError",
    "StorageWriteError",
    "Store",
    "StoreOptions",
    "StoreStats",
    "TornTail",
    "WalSeams",
    "WritableFile",
    "frame_wal_record",
    "read_wal_records",
    "ring_position",
]
