"""A stateful Hypothesis model: the store against a dict, through crashes and disk faults.

Every acknowledged write (fsync policy ``always``) must survive a crash that loses all
unsynced bytes (torn at a random byte); a write that raised must not appear; reads and ring
scans must match the model at every step. Flushes and compactions run inline
(``background=False``) with tiny bounds, so they happen constantly.
"""

from __future__ import annotations

import errno
import random

import pytest
from dynamokv.impl.storage import (
    RING_POSITIONS_COUNT,
    FaultyFiles,
    StorageWriteError,
    Store,
    StoreOptions,
    ring_position,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

OPTIONS = StoreOptions(
    background=False, memtable_bytes_max=4096, block_bytes_target=256, compaction_fanout=2
)
DIRECTORY = "/node"
keys = st.sampled_from([f"key-{n}".encode() for n in range(24)])
values = st.binary(max_size=300)
positions = st.integers(min_value=0, max_value=RING_POSITIONS_COUNT - 1) | st.sampled_from(
    [0, RING_POSITIONS_COUNT - 1, RING_POSITIONS_COUNT // 2]
)


class StoreAgainstDict(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.files = FaultyFiles(random.Random(0))
        self.store = Store.open(DIRECTORY, options=OPTIONS, files=self.files)
        self.model: dict[bytes, bytes] = {}
        self.fault_armed = False

    def _write(self, operations: list[tuple[bytes, bytes | None]]) -> None:
        try:
            self.store.write_batch(operations)
        except StorageWriteError as error:
            assert self.fault_armed, f"write failed without an injected fault: {error}"
            assert not error.indeterminate
            return
        finally:
            self.fault_armed = False
            self.files.clear_faults()
        for key, value in operations:
            if value is None:
                self.model.pop(key, None)
            else:
                self.model[key] = value

    @rule(key=keys, value=values)
    def put(self, key: bytes, value: bytes) -> None:
        self._write([(key, value)])

    @rule(key=keys)
    def delete(self, key: bytes) -> None:
        self._write([(key, None)])

    @rule(operations=st.lists(st.tuples(keys, st.none() | values), min_size=1, max_size=8))
    def batch(self, operations: list[tuple[bytes, bytes | None]]) -> None:
        self._write(operations)

    @rule(seed=st.integers(0, 2**32), torn=st.booleans())
    def arm_write_fault(self, seed: int, torn: bool) -> None:
        """The next file write (WAL, segment or manifest) fails with ENOSPC or EIO."""
        self.files.rng.seed(seed)
        self.files.fail_next_writes(
            1, error_number=random.Random(seed).choice([errno.ENOSPC, errno.EIO]), torn=torn
        )
        self.fault_armed = True

    @rule()
    def flush(self) -> None:
        try:
            self.store.flush()
        except StorageWriteError:
            assert self.fault_armed
        self.fault_armed = False
        self.files.clear_faults()

    @rule()
    def compact(self) -> None:
        try:
            self.store.compact()
        except StorageWriteError:
            assert self.fault_armed
        self.fault_armed = False
        self.files.clear_faults()

    @rule()
    def reopen(self) -> None:
        self.files.clear_faults()
        self.fault_armed = False
        self.store.close()
        self.store = Store.open(DIRECTORY, options=OPTIONS, files=self.files)
        assert self.store.recovery.clean

    @rule(seed=st.integers(0, 2**32))
    def crash(self, seed: int) -> None:
        """Power loss: unsynced bytes are lost or torn; the process's store is abandoned."""
        self.files.rng.seed(seed)
        self.files.crash()
        self.fault_armed = False
        self.store = Store.open(DIRECTORY, options=OPTIONS, files=self.files)

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def get_present(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.model)))
        assert self.store.get(key) == self.model[key]

    @rule(low=positions, high=positions)
    def scan(self, low: int, high: int) -> None:
        ordered = sorted(self.model.items(), key=lambda kv: (ring_position(kv[0]), kv[0]))
        if low < high:
            expected = [kv for kv in ordered if low <= ring_position(kv[0]) < high]
        elif low == high:
            expected = ordered
        else:
            expected = [kv for kv in ordered if ring_position(kv[0]) >= low]
            expected += [kv for kv in ordered if ring_position(kv[0]) < high]
        assert list(self.store.scan(low, high)) == expected

    @invariant()
    def every_key_reads_as_the_model(self) -> None:
        for n in range(24):
            key = f"key-{n}".encode()
            assert self.store.get(key) == self.model.get(key), key

    def teardown(self) -> None:
        self.store.close()


StoreAgainstDict.TestCase.settings = settings(
    settings(), stateful_step_count=40, max_examples=settings().max_examples // 2
)
test_store_against_dict = StoreAgainstDict.TestCase


class LongStoreAgainstDict(StoreAgainstDict):
    """The same model, more and longer runs (slow tier)."""


LongStoreAgainstDict.TestCase.settings = settings(
    settings(), stateful_step_count=80, max_examples=300
)
test_store_against_dict_long = pytest.mark.slow(LongStoreAgainstDict.TestCase)
