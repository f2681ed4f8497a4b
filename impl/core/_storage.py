"""How the core sees its storage: synchronous reads, writes as effects.

The core never blocks and never does IO, yet a replica must read what it holds
before merging a write into it. So storage is split in two:

* **Reads** go through an injected :class:`StorageView`, synchronously. A view
  must reflect every :class:`~dynamokv.impl.core.Persist` the node has emitted,
  durable or not, as a memtable does.
* **Writes** are :class:`~dynamokv.impl.core.Persist` effects. The driver applies
  them at once (so the next read sees them) and steps
  :class:`~dynamokv.impl.core.PersistDone` once they are durable (fsync, group
  commit). A crash may lose any persist not yet done; the driver then builds a
  new :class:`~dynamokv.impl.core.Node` over what survived.

Within the core, :class:`LocalStore` is the node's own handle on its storage: reads
through the view plus the writes of the step being taken (the driver applies a step's
persists only after the step returns), writes as :class:`~dynamokv.impl.core.Persist`
effects through the node's :class:`~dynamokv.impl.core._outbox.Outbox`. Gossip-mode nodes
decorate it with :class:`~dynamokv.impl.core._merkle.MerkleTracking`.

The simulator implements the view over an in-memory disk with synced and unsynced layers,
or over the production storage (:class:`dynamokv.impl.persist.StoreAdapter`), which the
trio runtime uses too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from ._messages import Hint, StoreRing, StoreVersions
from ._outbox import AfterPersist, Outbox
from ._versions import Version

__all__ = ["LocalStore", "MemberStorageView", "StorageView"]


class StorageView(Protocol):
    """The read side of a node's storage (the protocol the core calls)."""

    def read_versions(self, key: bytes) -> tuple[Version, ...]:
        """The versions stored for ``key`` (sorted by dot), empty if none."""
        ...

    def read_hints(self) -> Iterable[Hint]:
        """Every hint stored (read once, when the node starts)."""
        ...

    def read_lease(self) -> int:
        """The last :class:`~dynamokv.impl.core.StoreLease` counter stored, 0 if none."""
        ...


class MemberStorageView(StorageView, Protocol):
    """What a gossip-mode :class:`~dynamokv.impl.core.Node` also reads, once, at start.

    A node on a fixed ring needs only :class:`StorageView`; a gossip-mode node rebuilds
    its Merkle trees from every stored key and rejoins with the ring and the generation
    it persisted (:class:`~dynamokv.impl.core.StoreRing`,
    :class:`~dynamokv.impl.core.StoreGeneration`).
    """

    def scan_versions(self) -> Iterable[tuple[bytes, tuple[Version, ...]]]:
        """Every stored key with its versions (keys whose versions are empty may be skipped)."""
        ...

    def read_ring(self) -> StoreRing | None:
        """The last :class:`~dynamokv.impl.core.StoreRing` stored, or None."""
        ...

    def read_generation(self) -> int:
        """The last :class:`~dynamokv.impl.core.StoreGeneration` stored, 0 if none."""
        ...


class LocalStore:
    """The node's own storage within a step: reads see the step's writes, writes persist.

    Args:
        view: the driver's storage view (it reflects every persist of earlier steps).
        out: where the writes go, as :class:`~dynamokv.impl.core.Persist` effects.

    Attributes:
        step_writes: the version sets written in the current step, by key (the node
            empties it at the start of each step, as :meth:`begin_step` does).
    """

    __slots__ = ("out", "step_writes", "view")

    def __init__(self, view: StorageView, out: Outbox) -> None:
        self.view = view
        self.out = out
        self.step_writes: dict[bytes, tuple[Version, ...]] = {}

    def begin_step(self) -> None:
        """Forget the previous step's writes: the driver has applied them by now."""
        if self.step_writes:
            self.step_writes = {}

    def read(self, key: bytes) -> tuple[Version, ...]:
        """What the node stores for ``key``, including writes of the current step.

        A second write to one key in the same step (two lease waiters released together)
        must see the first, which the driver applies only after the step returns.
        """
        written = self.step_writes.get(key)
        return self.view.read_versions(key) if written is None else written

    def write(self, key: bytes, versions: tuple[Version, ...], *after: AfterPersist) -> None:
        """Store ``versions`` (already merged) for ``key``; ``after`` waits for durability."""
        self.step_writes[key] = versions
        self.out.persist((StoreVersions(key, versions),), *after)

    def write_many(
        self, items: Sequence[tuple[bytes, tuple[Version, ...]]], *after: AfterPersist
    ) -> None:
        """Store several keys' version sets in one persist (one group commit)."""
        step_writes = self.step_writes
        records = []
        for key, versions in items:
            step_writes[key] = versions
            records.append(StoreVersions(key, versions))
        self.out.persist(tuple(records), *after)

    def drop(self, keys: Sequence[bytes]) -> None:
        """Forget ``keys`` (their partition was handed off), in one persist."""
        if keys:
            self.out.persist(tuple(StoreVersions(key, ()) for key in keys))
            for key in keys:
                self.step_writes[key] = ()
