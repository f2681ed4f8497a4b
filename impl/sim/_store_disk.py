"""The real store of issue 3 under the simulator: WAL, memtable and segments over
:class:`~dynamokv.impl.storage.FaultyFiles`.

:class:`StoreDisk` is a :class:`~dynamokv.impl.sim.SimDisk` whose reads come from a
:class:`~dynamokv.impl.storage.Store`: every :class:`~dynamokv.impl.core.Persist`
becomes one atomic ``write_batch`` (one WAL record), every sync an fsync of the
WAL, and a crash is :meth:`FaultyFiles.crash <dynamokv.impl.storage.FaultyFiles.crash>`
(unsynced bytes dropped or torn at a random cut) followed by the store's own
recovery. The inherited in-memory layers shadow what has been synced, for the
checkers; after a crash they are rebuilt from what the store recovered, which may
include a prefix of the unsynced writes (a torn tail that happened to be whole).

Records are encoded with msgpack under ``v/`` + key for versions, ``h/`` + id for
hints, ``lease`` for the counter lease, ``ring`` and ``generation`` for the
composite node's membership state.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

import msgpack
from dynamokv.impl.core import (
    DeleteHint,
    Hint,
    Persist,
    Record,
    StoreGeneration,
    StoreHint,
    StoreLease,
    StoreRing,
    StoreVersions,
)
from dynamokv.impl.storage import FaultyFiles, Operation, Store, StoreOptions
from dynamokv.spec.kv import Version

from ._disk import SimDisk

__all__ = ["StoreDisk"]

_LEASE = b"lease"
_RING = b"ring"
_GENERATION = b"generation"


def _pack_versions(versions: tuple[Version, ...]) -> list[Any]:
    return [[v.value, v.dot[0], v.dot[1], [list(pair) for pair in v.context]] for v in versions]


def _unpack_versions(items: list[Any]) -> tuple[Version, ...]:
    return tuple(
        Version(value, (node, counter), tuple((n, c) for n, c in context))
        for value, node, counter, context in items
    )


def _operation(record: Record) -> Operation:
    if isinstance(record, StoreVersions):
        return (b"v/" + record.key, msgpack.packb(_pack_versions(record.versions)))
    if isinstance(record, StoreHint):
        hint = record.hint
        value = [hint.owner, hint.key, _pack_versions(hint.versions), hint.size_bytes]
        return (b"h/%d" % hint.hint_id, msgpack.packb(value))
    if isinstance(record, DeleteHint):
        return (b"h/%d" % record.hint_id, None)
    if isinstance(record, StoreRing):
        return (_RING, msgpack.packb([record.version, record.issuer, list(record.owners)]))
    if isinstance(record, StoreGeneration):
        return (_GENERATION, msgpack.packb(record.generation))
    assert isinstance(record, StoreLease)
    return (_LEASE, msgpack.packb(record.counter_max))


class StoreDisk(SimDisk):
    """A node's disk backed by the production store on a fault-injecting file layer."""

    __slots__ = ("files", "store")

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.files = FaultyFiles(rng, torn_probability=0.5)
        self.store = self._open()

    def _open(self) -> Store:
        options = StoreOptions(fsync="none", background=False)
        return Store.open("/node", options=options, files=self.files)

    # -- StorageView, from the real store --------------------------------------------

    def read_versions(self, key: bytes) -> tuple[Version, ...]:
        raw = self.store.get(b"v/" + key)
        return () if raw is None else _unpack_versions(msgpack.unpackb(raw))

    def read_hints(self) -> Iterable[Hint]:
        hints = []
        for key, raw in self.store.scan(0, 0):
            if key.startswith(b"h/"):
                owner, hint_key, versions, size = msgpack.unpackb(raw)
                hint_id = int(key[2:])
                hints.append(Hint(hint_id, owner, hint_key, _unpack_versions(versions), size))
        return sorted(hints, key=lambda hint: hint.hint_id)

    def read_lease(self) -> int:
        raw = self.store.get(_LEASE)
        return 0 if raw is None else int(msgpack.unpackb(raw))

    def read_ring(self) -> StoreRing | None:
        raw = self.store.get(_RING)
        if raw is None:
            return None
        version, issuer, owners = msgpack.unpackb(raw)
        return StoreRing(int(version), str(issuer), tuple(owners))

    def read_generation(self) -> int:
        raw = self.store.get(_GENERATION)
        return 0 if raw is None else int(msgpack.unpackb(raw))

    def scan_versions(self) -> Iterable[tuple[bytes, tuple[Version, ...]]]:
        for key, raw in self.store.scan(0, 0):
            if key.startswith(b"v/"):
                versions = _unpack_versions(msgpack.unpackb(raw))
                if versions:
                    yield key[2:], versions

    # -- driven by the simulator -------------------------------------------------------

    def apply(self, persist: Persist) -> None:
        """Write the records as one WAL record, and shadow them."""
        super().apply(persist)
        self.store.write_batch([_operation(record) for record in persist.records])

    def sync(self, persist_id: int) -> None:
        """fsync the WAL (group commit: everything written so far becomes durable)."""
        super().sync(persist_id)
        self.store.sync()

    def crash(self) -> int:
        """Power loss, then the store's recovery; the shadow becomes what survived."""
        lost = super().crash()
        self.files.crash()
        self.store = self._open()
        self._versions = {}
        self._hints = {}
        for key, raw in self.store.scan(0, 0):
            if key.startswith(b"v/"):
                self._versions[key[2:]] = _unpack_versions(msgpack.unpackb(raw))
        for hint in self.read_hints():
            self._hints[hint.hint_id] = hint
        self._lease = self.read_lease()
        self._lease_overlay = self._lease
        self._ring = self.read_ring()
        self._generation = self._generation_overlay = self.read_generation()
        return lost
