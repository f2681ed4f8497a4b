"""Disk faults: a failed write is an error value, existing data survives, reads go on."""

from __future__ import annotations

import errno
import random

import pytest
from dynamokv.impl.storage import (
    FaultyFiles,
    StorageDiskFullError,
    StorageReadOnlyError,
    StorageWriteError,
    Store,
    StoreOptions,
)

OPTIONS = StoreOptions(background=False, memtable_bytes_max=4096, block_bytes_target=256)
DIRECTORY = "/node"


def _filled(files: FaultyFiles, count: int = 50) -> tuple[Store, dict[bytes, bytes]]:
    store = Store.open(DIRECTORY, options=OPTIONS, files=files)
    model = {f"k{n}".encode(): f"v{n}".encode() * 5 for n in range(count)}
    for key, value in model.items():
        store.put(key, value)
    return store, model


def test_disk_full_on_wal_write_is_reported_and_nothing_is_lost() -> None:
    files = FaultyFiles(random.Random(1))
    store, model = _filled(files)
    files.fail_next_writes(1, error_number=errno.ENOSPC, torn=True)
    with pytest.raises(StorageDiskFullError) as caught:
        store.put(b"new", b"value")
    assert caught.value.errno == errno.ENOSPC
    assert not caught.value.indeterminate
    assert store.get(b"new") is None
    assert all(store.get(k) == v for k, v in model.items())
    store.put(b"after", b"space freed")  # the store keeps working once writes succeed
    files.crash()
    with Store.open(DIRECTORY, options=OPTIONS, files=files) as reopened:
        assert dict(reopened.scan(0, 0)) == {**model, b"after": b"space freed"}


def test_failed_fsync_makes_the_store_read_only_until_reopened() -> None:
    files = FaultyFiles(random.Random(2))
    store, model = _filled(files)
    files.fail_next_syncs(1)
    with pytest.raises(StorageReadOnlyError) as caught:
        store.put(b"maybe", b"value")
    assert caught.value.indeterminate
    with pytest.raises(StorageReadOnlyError):
        store.put(b"refused", b"value")
    assert all(store.get(k) == v for k, v in model.items())
    store.close()
    files.crash()
    with Store.open(DIRECTORY, options=OPTIONS, files=files) as reopened:
        found = dict(reopened.scan(0, 0))
        found.pop(b"maybe", None)  # indeterminate: either outcome is allowed
        assert found == model
        reopened.put(b"refused", b"now accepted")


def test_a_failed_fsync_when_the_wal_rotates_makes_the_store_read_only() -> None:
    """Under ``"none"`` the WAL is first synced when it rotates; that fsync failing may
    have dropped the unsynced pages while marking them clean, so a later fsync would
    report lost data as durable: the store refuses writes, and a sync, until reopened."""
    files = FaultyFiles(random.Random(5))
    store = Store.open(
        DIRECTORY,
        options=StoreOptions(background=False, memtable_bytes_max=4096, fsync="none"),
        files=files,
    )
    files.fail_next_syncs(1)
    with pytest.raises(StorageReadOnlyError):
        for n in range(200):  # bounded: 4 KiB of WAL rotates well before 200 puts
            store.put(f"k{n}".encode(), b"v" * 100)
    with pytest.raises(StorageReadOnlyError):
        store.put(b"refused", b"value")
    with pytest.raises(StorageReadOnlyError):
        store.sync()
    store.close()


def test_failed_flush_keeps_data_readable_and_a_later_flush_succeeds() -> None:
    files = FaultyFiles(random.Random(3))
    store, model = _filled(files, count=20)
    files.fail_next_writes(1, error_number=errno.ENOSPC)
    with pytest.raises(StorageWriteError):
        store.flush()
    assert all(store.get(k) == v for k, v in model.items())
    store.flush()
    assert store.stats().segments_count >= 1
    files.crash()
    with Store.open(DIRECTORY, options=OPTIONS, files=files) as reopened:
        assert dict(reopened.scan(0, 0)) == model


def test_small_disk_fills_up_without_corrupting_anything() -> None:
    files = FaultyFiles(random.Random(4), disk_bytes_max=60_000)
    store = Store.open(DIRECTORY, options=OPTIONS, files=files)
    acknowledged: dict[bytes, bytes] = {}
    failures = 0
    for n in range(2000):
        key, value = f"k{n % 300}".encode(), f"value-{n}".encode() * 4
        try:
            store.put(key, value)
        except StorageWriteError:
            failures += 1
            continue
        acknowledged[key] = value
    assert failures > 0
    assert all(store.get(k) == v for k, v in acknowledged.items())
    files.crash()
    files.disk_bytes_max = None
    with Store.open(DIRECTORY, options=OPTIONS, files=files) as reopened:
        assert dict(reopened.scan(0, 0)) == acknowledged


def test_crash_loses_only_unsynced_writes_under_policy_none() -> None:
    files = FaultyFiles(random.Random(5), torn_probability=1.0)
    options = StoreOptions(background=False, fsync="none", memtable_bytes_max=1 << 20)
    store = Store.open(DIRECTORY, options=options, files=files)
    history: list[tuple[bytes, bytes]] = []
    for n in range(40):
        store.put(f"k{n}".encode(), b"v")
        history.append((f"k{n}".encode(), b"v"))
        if n == 19:
            store.sync()
    files.crash()
    with Store.open(DIRECTORY, options=options, files=files) as reopened:
        found = dict(reopened.scan(0, 0))
    # What survives is a prefix of the history that includes every synced write.
    assert 20 <= len(found) <= 40
    assert found == dict(history[: len(found)])


def test_bit_rot_in_the_middle_of_the_wal_stops_the_open_and_salvage_reports_it() -> None:
    from dynamokv.impl.storage import StorageCorruptionError

    files = FaultyFiles(random.Random(6))
    store, model = _filled(files, count=10)
    wal_path = store._wal.path
    files.crash()  # abandon the store without a clean close
    data = files.read_all(wal_path)
    offset = data.find(b"k3")
    files.corrupt(wal_path, offset)
    with pytest.raises(StorageCorruptionError) as caught:
        Store.open(DIRECTORY, options=OPTIONS, files=files)
    assert caught.value.path == wal_path
    with Store.open(DIRECTORY, options=OPTIONS, files=files, salvage=True) as salvaged:
        assert [damage.path for damage in salvaged.recovery.salvaged] == [wal_path]
        del model[b"k3"]
        assert dict(salvaged.scan(0, 0)) == model


def test_a_page_torn_crash_keeps_every_byte_in_place() -> None:
    """With ``page_bytes`` a crash keeps some unsynced pages and not others; each byte
    of the file is then the synced byte or the written one at the same offset, also
    after an unsynced truncation made the written file shorter than the synced one."""
    for seed in range(20):
        files = FaultyFiles(random.Random(seed), torn_probability=1.0, page_bytes=512)
        files.make_directory("d")
        file = files.create("d/f")
        durable = bytes(range(256)) * 8
        file.write(durable)
        file.sync()
        files.sync_directory("d")
        file.truncate(700)
        file.write(b"\xff" * 1000)  # unsynced: 700 old bytes, then 1,000 new ones
        written = durable[:700] + b"\xff" * 1000
        files.crash()
        after = files.read_all("d/f")
        assert len(after) == max(len(durable), len(written))
        for offset, byte in enumerate(after):
            options = {durable[offset] if offset < len(durable) else 0}
            if offset < len(written):
                options.add(written[offset])
            assert byte in options, (seed, offset)
