"""The production storage under the simulator: the node's own adapter over fault-injecting files.

:class:`StoreDisk` gives the node the very :class:`~dynamokv.impl.persist.StoreAdapter` the
runtime gives it (pending writes, the record format, group commit through
:class:`~dynamokv.impl.storage.Store`, the read cache), over
:class:`~dynamokv.impl.storage.FaultyFiles` instead of the operating system's files. Each
persist is written as soon as it is applied (unsynced: the stores run with fsync policy
``"none"``) and synced when the simulator delivers its group commit, so a crash in between
tears what was written (:meth:`FaultyFiles.crash
<dynamokv.impl.storage.FaultyFiles.crash>`: unsynced bytes dropped or cut at a random
offset), and the node restarts over what the stores recover, which may include a prefix
of the unsynced writes.

The in-memory model it extends (:class:`~dynamokv.impl.sim.SimDisk`) runs beside it as the
checkers' omniscient view of what is synced; after a crash it is rebuilt from what the
stores recovered. The node never reads the model: its storage view is the adapter.
"""

from __future__ import annotations

import random

from dynamokv.impl.core import MemberStorageView, Persist
from dynamokv.impl.persist import StoreAdapter
from dynamokv.impl.storage import FaultyFiles, StoreOptions

from ._disk import SimDisk

__all__ = ["StoreDisk"]

_DIRECTORY = "/node"
_OPTIONS = StoreOptions(fsync="none", background=False)
"""Never sync on write (the simulator syncs at group commit), flush and compact inline."""


class StoreDisk(SimDisk):
    """A node's disk: the production storage adapter over a fault-injecting file layer."""

    __slots__ = ("adapter", "files")

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.files = FaultyFiles(rng, torn_probability=0.5)
        self.adapter = StoreAdapter.open(_DIRECTORY, options=_OPTIONS, files=self.files)

    @property
    def view(self) -> MemberStorageView:
        """What the node reads through: the production adapter."""
        return self.adapter

    def apply(self, persist: Persist) -> None:
        """Apply the persist to the adapter and write it (unsynced); shadow it in the model."""
        super().apply(persist)
        adapter = self.adapter
        adapter.apply(persist)
        adapter.write(adapter.prepare())

    def sync(self, persist_id: int) -> None:
        """fsync both stores (group commit: everything written so far becomes durable)."""
        super().sync(persist_id)
        adapter = self.adapter
        adapter.sync()
        adapter.settle((persist_id,))

    def crash(self) -> int:
        """Power loss, then the stores' recovery; the model becomes what survived."""
        lost = super().crash()
        self.files.crash()
        self.adapter = adapter = StoreAdapter.open(_DIRECTORY, options=_OPTIONS, files=self.files)
        self._versions = dict(adapter.scan_versions())
        self._hints = {hint.hint_id: hint for hint in adapter.read_hints()}
        self._lease = adapter.read_lease()
        self._ring = adapter.read_ring()
        self._generation = adapter.read_generation()
        return lost
