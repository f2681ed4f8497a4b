"""A node's disk in the simulator: what is synced survives a crash, the rest is lost.

Every :class:`~dynamokv.impl.core.Persist` is applied at once to an *unsynced*
overlay (the memtable: the node reads its own writes) and becomes *synced* when
the simulator delivers its :class:`~dynamokv.impl.core.PersistDone`, in the
order the persists were issued, as a write-ahead log with group commit would.
:meth:`SimDisk.crash` drops the overlay and every persist not yet done.

The checkers read the synced layer directly (:meth:`SimDisk.synced_versions`),
the omniscient view a real cluster cannot have.
"""

from __future__ import annotations

from collections.abc import Iterable

from dynamokv.impl.core import (
    DeleteHint,
    Hint,
    MemberStorageView,
    Persist,
    Record,
    StoreGeneration,
    StoreHint,
    StoreLease,
    StoreRing,
    StoreVersions,
)
from dynamokv.spec.kv import Version

__all__ = ["SimDisk"]


class SimDisk(MemberStorageView):
    """In-memory storage with synced and unsynced layers."""

    __slots__ = (
        "_generation",
        "_generation_overlay",
        "_hints",
        "_hints_overlay",
        "_lease",
        "_lease_overlay",
        "_overlay",
        "_pending",
        "_ring",
        "_ring_overlay",
        "_versions",
    )

    def __init__(self) -> None:
        self._versions: dict[bytes, tuple[Version, ...]] = {}
        self._hints: dict[int, Hint] = {}
        self._lease = 0
        self._overlay: dict[bytes, tuple[tuple[Version, ...], int]] = {}
        self._hints_overlay: dict[int, tuple[Hint | None, int]] = {}
        self._lease_overlay = 0
        self._pending: dict[int, tuple[Record, ...]] = {}
        self._ring: StoreRing | None = None
        self._ring_overlay: StoreRing | None = None
        self._generation = 0
        self._generation_overlay = 0

    # -- StorageView ------------------------------------------------------------------

    def read_versions(self, key: bytes) -> tuple[Version, ...]:
        """Unsynced writes first, as the node's memtable would."""
        entry = self._overlay.get(key)
        if entry is not None:
            return entry[0]
        return self._versions.get(key, ())

    def read_hints(self) -> Iterable[Hint]:
        """The hints on disk, overlay applied."""
        hints = dict(self._hints)
        for hint_id, (hint, _) in self._hints_overlay.items():
            if hint is None:
                hints.pop(hint_id, None)
            else:
                hints[hint_id] = hint
        return [hints[i] for i in sorted(hints)]

    def read_lease(self) -> int:
        """The largest lease persisted."""
        return max(self._lease, self._lease_overlay)

    def scan_versions(self) -> Iterable[tuple[bytes, tuple[Version, ...]]]:
        """Every key with versions, overlay applied."""
        keys = set(self._versions) | set(self._overlay)
        for key in sorted(keys):
            versions = self.read_versions(key)
            if versions:
                yield key, versions

    def read_ring(self) -> StoreRing | None:
        """The last ring persisted (unsynced included)."""
        return self._ring_overlay or self._ring

    def read_generation(self) -> int:
        """The largest generation persisted."""
        return max(self._generation, self._generation_overlay)

    # -- driven by the simulator ---------------------------------------------------------

    def apply(self, persist: Persist) -> None:
        """Apply a persist to the unsynced overlay."""
        pid = persist.persist_id
        self._pending[pid] = persist.records
        for record in persist.records:
            if isinstance(record, StoreVersions):
                self._overlay[record.key] = (record.versions, pid)
            elif isinstance(record, StoreHint):
                self._hints_overlay[record.hint.hint_id] = (record.hint, pid)
            elif isinstance(record, DeleteHint):
                self._hints_overlay[record.hint_id] = (None, pid)
            elif isinstance(record, StoreRing):
                self._ring_overlay = record
            elif isinstance(record, StoreGeneration):
                self._generation_overlay = max(self._generation_overlay, record.generation)
            else:
                self._lease_overlay = max(self._lease_overlay, record.counter_max)

    def sync(self, persist_id: int) -> None:
        """Persist ``persist_id`` is durable: move its records to the synced layer."""
        records = self._pending.pop(persist_id, None)
        if records is None:
            return
        for record in records:
            if isinstance(record, StoreVersions):
                key = record.key
                self._versions[key] = record.versions
                entry = self._overlay.get(key)
                if entry is not None and entry[1] == persist_id:
                    del self._overlay[key]
            elif isinstance(record, StoreLease):
                self._lease = max(self._lease, record.counter_max)
            elif isinstance(record, StoreRing):
                if self._ring is None or record.version >= self._ring.version:
                    self._ring = record
                if self._ring_overlay is record:
                    self._ring_overlay = None
            elif isinstance(record, StoreGeneration):
                self._generation = max(self._generation, record.generation)
            else:
                if isinstance(record, StoreHint):
                    hint_id = record.hint.hint_id
                    self._hints[hint_id] = record.hint
                else:
                    hint_id = record.hint_id
                    self._hints.pop(hint_id, None)
                entry_h = self._hints_overlay.get(hint_id)
                if entry_h is not None and entry_h[1] == persist_id:
                    del self._hints_overlay[hint_id]

    def crash(self) -> int:
        """Lose everything not synced; return how many persists were lost."""
        lost = len(self._pending)
        self._pending.clear()
        self._overlay.clear()
        self._hints_overlay.clear()
        self._lease_overlay = self._lease
        self._ring_overlay = None
        self._generation_overlay = self._generation
        return lost

    def lose_hints(self) -> int:
        """The hint store's volume is lost (a replaced substitute, the Q4 preset).

        Returns how many hints were lost. Only the simulator does this to a disk.
        """
        lost = len(self._hints)
        self._hints.clear()
        self._hints_overlay.clear()
        return lost

    # -- omniscient reads for the checkers --------------------------------------------

    def synced_versions(self, key: bytes) -> tuple[Version, ...]:
        """What survives a crash for ``key``."""
        return self._versions.get(key, ())

    def synced_hints(self) -> tuple[Hint, ...]:
        """The hints that survive a crash."""
        return tuple(self._hints.values())

    def synced_keys(self) -> tuple[bytes, ...]:
        """Every key with synced versions."""
        return tuple(self._versions)

    def hint(self, hint_id: int) -> Hint | None:
        """The hint ``hint_id``, overlay included."""
        entry = self._hints_overlay.get(hint_id)
        if entry is not None:
            return entry[0]
        return self._hints.get(hint_id)
