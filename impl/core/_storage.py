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

The simulator implements the view over an in-memory disk with synced and
unsynced layers; the trio runtime (issue 6) over :class:`dynamokv.impl.storage.Store`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from dynamokv.spec.kv import Version

from ._messages import Hint, StoreRing

__all__ = ["MemberStorageView", "StorageView"]


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
    """What the composite :class:`~dynamokv.impl.core.DynamoNode` also reads, once, at start.

    A plain :class:`~dynamokv.impl.core.Node` needs only :class:`StorageView`; the
    composite rebuilds its Merkle trees from every stored key and rejoins with the
    ring and the generation it persisted (:class:`~dynamokv.impl.core.StoreRing`,
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
