"""Writes the node has made but that are not durable yet: what its reads must see first.

The core reads its storage synchronously and expects to see every
:class:`~dynamokv.impl.core.Persist` it emitted at once, durable or not (the contract of
:class:`~dynamokv.impl.core.StorageView`, "as a memtable does"). A driver applies each
persist here the moment the core emits it and *settles* it once it is durable; a read
looks here before it looks at what is durable. An entry is dropped at settling only if no
later persist replaced it meanwhile (each entry remembers the persist that wrote it). A
crash forgets everything here, which is exactly the writes a crash may lose.

Both the production adapter (:class:`~dynamokv.impl.persist.StoreAdapter`) and the
simulator's in-memory disk model keep their pending writes in this one class.
"""

from __future__ import annotations

from dynamokv.impl.core import (
    DeleteHint,
    Hint,
    Persist,
    StoreGeneration,
    StoreHint,
    StoreLease,
    StoreRing,
    StoreVersions,
    Version,
)

__all__ = ["PendingWrites"]


class PendingWrites:
    """The latest not-yet-durable value of each key, hint, lease, ring and generation."""

    __slots__ = ("generation", "hints", "lease", "ring", "versions")

    def __init__(self) -> None:
        self.versions: dict[bytes, tuple[tuple[Version, ...], int]] = {}
        """Key -> (versions, persist id that wrote them)."""
        self.hints: dict[int, tuple[Hint | None, int]] = {}
        """Hint id -> (hint, or None for a deletion; persist id)."""
        self.lease = 0
        """The largest lease applied (0: none since the last crash)."""
        self.ring: tuple[StoreRing, int] | None = None
        """The last ring applied, with its persist id."""
        self.generation = 0
        """The largest generation applied (0: none since the last crash)."""

    def apply(self, persist: Persist) -> None:
        """``persist`` was just emitted: its records shadow what is durable, from now on."""
        persist_id = persist.persist_id
        for record in persist.records:
            kind = record.__class__
            if kind is StoreVersions:
                self.versions[record.key] = (record.versions, persist_id)  # type: ignore[union-attr]
            elif kind is StoreHint:
                hint = record.hint  # type: ignore[union-attr]
                self.hints[hint.hint_id] = (hint, persist_id)
            elif kind is DeleteHint:
                self.hints[record.hint_id] = (None, persist_id)  # type: ignore[union-attr]
            elif kind is StoreLease:
                self.lease = max(self.lease, record.counter_max)  # type: ignore[union-attr]
            elif kind is StoreRing:
                self.ring = (record, persist_id)  # type: ignore[assignment]
            else:
                assert kind is StoreGeneration
                self.generation = max(self.generation, record.generation)  # type: ignore[union-attr]

    def settle(self, persist: Persist) -> None:
        """``persist`` is durable: forget its entries that no later persist replaced."""
        persist_id = persist.persist_id
        versions = self.versions
        hints = self.hints
        for record in persist.records:
            kind = record.__class__
            if kind is StoreVersions:
                entry = versions.get(record.key)  # type: ignore[union-attr]
                if entry is not None and entry[1] == persist_id:
                    del versions[record.key]  # type: ignore[union-attr]
            elif kind is StoreHint or kind is DeleteHint:
                hint_id = (
                    record.hint.hint_id  # type: ignore[union-attr]
                    if kind is StoreHint
                    else record.hint_id  # type: ignore[union-attr]
                )
                entry_h = hints.get(hint_id)
                if entry_h is not None and entry_h[1] == persist_id:
                    del hints[hint_id]
            elif kind is StoreRing and self.ring is not None and self.ring[1] == persist_id:
                self.ring = None

    def clear(self) -> int:
        """A crash: forget everything pending; return how many keys and hints were pending."""
        lost = len(self.versions) + len(self.hints)
        self.versions.clear()
        self.hints.clear()
        self.lease = 0
        self.ring = None
        self.generation = 0
        return lost

    def hints_over(self, durable: dict[int, Hint]) -> list[Hint]:
        """The durable hints with the pending ones applied, by id."""
        merged = dict(durable)
        for hint_id, (hint, _) in self.hints.items():
            if hint is None:
                merged.pop(hint_id, None)
            else:
                merged[hint_id] = hint
        return [merged[i] for i in sorted(merged)]
