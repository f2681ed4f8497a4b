"""A node's disk in the simulator: what is synced survives a crash, the rest is lost.

Every :class:`~dynamokv.impl.core.Persist` is applied at once to the node's pending
writes (:class:`~dynamokv.impl.persist.PendingWrites`, the class the production adapter
uses: the node reads its own writes) and becomes *synced* when the simulator delivers its
:class:`~dynamokv.impl.core.PersistDone`, in the order the persists were issued, as a
write-ahead log with group commit would. :meth:`SimDisk.crash` drops the pending writes.

This is the fast in-memory model (``--storage memory``). ``--storage store`` runs the
production storage instead (:class:`~dynamokv.impl.sim.StoreDisk`), and keeps this model
beside it as the checkers' view. The checkers read the synced layer directly
(:meth:`SimDisk.synced_versions`), the omniscient view a real cluster cannot have.
"""

from __future__ import annotations

from collections.abc import Iterable

from dynamokv.impl.core import (
    Hint,
    MemberStorageView,
    MerkleTrees,
    Persist,
    StoreGeneration,
    StoreHint,
    StoreLease,
    StoreRing,
    StoreVersions,
    Version,
)
from dynamokv.impl.persist import PendingWrites

__all__ = ["SimDisk"]


class SimDisk(MemberStorageView):
    """In-memory storage with a synced layer and the pending writes over it."""

    __slots__ = (
        "_generation",
        "_hints",
        "_lease",
        "_pending",
        "_ring",
        "_versions",
        "kept_trees",
        "pending",
    )

    def __init__(self) -> None:
        self._versions: dict[bytes, tuple[Version, ...]] = {}
        self._hints: dict[int, Hint] = {}
        self._lease = 0
        self._ring: StoreRing | None = None
        self._generation = 0
        self.pending = PendingWrites()
        self._pending: dict[int, Persist] = {}
        self.kept_trees: MerkleTrees | None = None
        """The Merkle trees of what this disk holds, kept from the node's last crash for its
        next start (:meth:`Cluster.crash <dynamokv.impl.sim.Cluster.crash>`); None when the
        start must build them from the keys."""

    @property
    def view(self) -> MemberStorageView:
        """What the node reads through: this model itself."""
        return self

    # -- StorageView ------------------------------------------------------------------

    def read_versions(self, key: bytes) -> tuple[Version, ...]:
        """Pending writes first, as the node's memtable would."""
        entry = self.pending.versions.get(key)
        if entry is not None:
            return entry[0]
        return self._versions.get(key, ())

    def read_hints(self) -> Iterable[Hint]:
        """The hints on disk, pending writes applied."""
        return self.pending.hints_over(self._hints)

    def read_lease(self) -> int:
        """The largest lease persisted."""
        return max(self._lease, self.pending.lease)

    def scan_versions(self) -> Iterable[tuple[bytes, tuple[Version, ...]]]:
        """Every key with versions, pending writes applied."""
        keys = set(self._versions) | set(self.pending.versions)
        for key in sorted(keys):
            versions = self.read_versions(key)
            if versions:
                yield key, versions

    def read_ring(self) -> StoreRing | None:
        """The last ring persisted (unsynced included)."""
        pending = self.pending.ring
        return self._ring if pending is None else pending[0]

    def read_generation(self) -> int:
        """The largest generation persisted."""
        return max(self._generation, self.pending.generation)

    # -- driven by the simulator ---------------------------------------------------------

    def apply(self, persist: Persist) -> None:
        """Apply a persist to the pending writes."""
        self._pending[persist.persist_id] = persist
        self.pending.apply(persist)

    def sync(self, persist_id: int) -> None:
        """Persist ``persist_id`` is durable: move its records to the synced layer."""
        persist = self._pending.pop(persist_id, None)
        if persist is None:
            return
        for record in persist.records:
            kind = record.__class__
            if kind is StoreVersions:
                self._versions[record.key] = record.versions  # type: ignore[union-attr]
            elif kind is StoreLease:
                self._lease = max(self._lease, record.counter_max)  # type: ignore[union-attr]
            elif kind is StoreRing:
                self._ring = record  # type: ignore[assignment]
            elif kind is StoreGeneration:
                self._generation = max(self._generation, record.generation)  # type: ignore[union-attr]
            elif kind is StoreHint:
                self._hints[record.hint.hint_id] = record.hint  # type: ignore[union-attr]
            else:
                self._hints.pop(record.hint_id, None)  # type: ignore[union-attr]
        self.pending.settle(persist)

    def unsynced_keys(self) -> tuple[bytes, ...]:
        """The keys written since their last sync: what a crash may change."""
        return tuple(self.pending.versions)

    def crash(self) -> int:
        """Lose everything not synced; return how many persists were lost."""
        lost = len(self._pending)
        self._pending.clear()
        self.pending.clear()
        return lost

    def lose_versions(self, keys: Iterable[bytes]) -> None:
        """The disk loses what it synced for ``keys`` behind the node's back (a damaged
        disk, an operator's mistake): only anti-entropy can bring them back. The kept
        Merkle trees no longer match, so they go too. Only tests do this to a disk."""
        for key in keys:
            self._versions.pop(key, None)
        self.kept_trees = None

    def lose_hints(self) -> int:
        """The hint store's volume is lost (a replaced substitute, the Q4 preset).

        Returns how many hints were lost. Only the simulator does this to a disk.
        """
        lost = len(self._hints)
        self._hints.clear()
        self.pending.hints.clear()
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
        """The hint ``hint_id``, pending writes included."""
        entry = self.pending.hints.get(hint_id)
        if entry is not None:
            return entry[0]
        return self._hints.get(hint_id)
