"""Recovery rules: torn tails are cut and reported, damage before the tail stops the open."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from dynamokv.impl.storage import (
    FaultyFiles,
    StorageCorruptionError,
    StorageReadOnlyError,
    Store,
    StoreOptions,
    TornTail,
)
from dynamokv.impl.storage._format import WAL_HEADER_BYTES

VALUES = [(f"key-{n}".encode(), f"value-{n}".encode() * 3) for n in range(6)]


def _write_store(directory: Path) -> Path:
    """Six acknowledged puts, one WAL file; returns the WAL file's path."""
    with Store.open(str(directory), options=StoreOptions(background=False)) as store:
        for key, value in VALUES:
            store.put(key, value)
    wals = sorted(directory.glob("wal-*.log"))
    assert len(wals) == 1
    return wals[0]


def _contents(directory: Path) -> dict[bytes, bytes]:
    with Store.open(str(directory), options=StoreOptions(background=False)) as store:
        return dict(store.scan(0, 0))


def test_torn_last_record_is_cut_and_reported_at_every_byte_offset(tmp_path: Path) -> None:
    pristine = tmp_path / "pristine"
    wal = _write_store(pristine)
    data = wal.read_bytes()
    last_record_bytes = 12 + 4 + 9 + len(VALUES[-1][0]) + len(VALUES[-1][1])
    last_start = len(data) - last_record_bytes
    for cut in range(last_start, len(data)):
        trial = tmp_path / f"cut-{cut}"
        shutil.copytree(pristine, trial)
        (trial / wal.name).write_bytes(data[:cut])
        with Store.open(str(trial), options=StoreOptions(background=False)) as store:
            report = store.recovery
            if cut == last_start:
                assert report.torn_tails == ()
            else:
                assert report.torn_tails == (
                    TornTail(str(trial / wal.name), last_start, cut - last_start),
                )
            assert dict(store.scan(0, 0)) == dict(VALUES[:-1])
        # The cut is durable: the next open is clean and the torn file is not the newest.
        with Store.open(str(trial), options=StoreOptions(background=False)) as store:
            assert store.recovery.clean
            assert dict(store.scan(0, 0)) == dict(VALUES[:-1])
        shutil.rmtree(trial)


def test_flipped_byte_anywhere_in_the_wal_is_never_silent(tmp_path: Path) -> None:
    """Every single-byte flip either stops the open, or is reported; data never changes."""
    pristine = tmp_path / "pristine"
    wal = _write_store(pristine)
    data = wal.read_bytes()
    acknowledged = dict(VALUES)
    outcomes = {"error": 0, "torn": 0}
    for offset in range(len(data)):
        trial = tmp_path / "trial"
        shutil.copytree(pristine, trial)
        damaged = bytearray(data)
        damaged[offset] ^= 0x40
        (trial / wal.name).write_bytes(bytes(damaged))
        try:
            with Store.open(str(trial), options=StoreOptions(background=False)) as store:
                found = dict(store.scan(0, 0))
                report = store.recovery
        except StorageCorruptionError as error:
            assert error.path == str(trial / wal.name)
            assert str(error.path) in str(error) and f"offset {error.offset}" in str(error)
            outcomes["error"] += 1
        else:
            # Only damage in the last record can pass as a torn tail, and it is reported.
            assert report.torn_tails, f"flip at {offset} went unreported"
            assert offset >= report.torn_tails[0].offset
            assert found == dict(VALUES[:-1])
            outcomes["torn"] += 1
        shutil.rmtree(trial)
    assert outcomes["error"] > 0 and outcomes["torn"] > 0
    assert acknowledged


def test_corruption_before_the_tail_names_file_and_offset_and_salvage_continues(
    tmp_path: Path,
) -> None:
    wal = _write_store(tmp_path)
    data = bytearray(wal.read_bytes())
    second_record = data.find(b"key-1")
    data[second_record] ^= 0xFF
    wal.write_bytes(bytes(data))
    with pytest.raises(StorageCorruptionError) as caught:
        Store.open(str(tmp_path))
    first_record_end = WAL_HEADER_BYTES + 12 + 4 + 9 + len(VALUES[0][0]) + len(VALUES[0][1])
    assert caught.value.path == str(wal)
    assert caught.value.offset == first_record_end
    with Store.open(str(tmp_path), salvage=True, options=StoreOptions(background=False)) as store:
        assert len(store.recovery.salvaged) == 1
        assert store.recovery.salvaged[0].offset == first_record_end
        expected = dict(VALUES)
        del expected[b"key-1"]
        assert dict(store.scan(0, 0)) == expected


def test_damage_at_the_end_of_an_older_wal_file_is_corruption(tmp_path: Path) -> None:
    wal = _write_store(tmp_path)
    with Store.open(str(tmp_path), options=StoreOptions(background=False)) as store:
        store.put(b"later", b"write")  # goes to a newer WAL file
    data = wal.read_bytes()
    wal.write_bytes(data[:-3])
    with pytest.raises(StorageCorruptionError, match="not the newest"):
        Store.open(str(tmp_path))


def test_missing_wal_file_is_corruption(tmp_path: Path) -> None:
    _write_store(tmp_path)
    for _ in range(2):
        with Store.open(str(tmp_path), options=StoreOptions(background=False)) as store:
            store.put(b"more", b"data")
    wals = sorted(tmp_path.glob("wal-*.log"))
    assert len(wals) == 3
    wals[1].unlink()
    with pytest.raises(StorageCorruptionError, match="missing"):
        Store.open(str(tmp_path))


def test_flipped_byte_in_a_segment_is_detected(tmp_path: Path) -> None:
    options = StoreOptions(background=False, block_bytes_target=256)
    with Store.open(str(tmp_path), options=options) as store:
        store.write_batch([(f"k{n}".encode(), b"v" * 40) for n in range(300)])
        store.flush()
    (segment,) = tmp_path.glob("segment-*.dkv")
    data = segment.read_bytes()
    detected = 0
    for offset in range(0, len(data), max(1, len(data) // 97)):
        damaged = bytearray(data)
        damaged[offset] ^= 0x01
        segment.write_bytes(bytes(damaged))
        try:
            with Store.open(str(tmp_path), options=options) as store:
                for n in range(300):
                    assert store.get(f"k{n}".encode()) == b"v" * 40
                list(store.scan(0, 0))
        except StorageCorruptionError as error:
            assert error.path == str(segment)
            detected += 1
    segment.write_bytes(data)
    assert detected == len(range(0, len(data), max(1, len(data) // 97)))


def test_leftovers_of_an_interrupted_flush_are_removed(tmp_path: Path) -> None:
    _write_store(tmp_path)
    orphan = tmp_path / "segment-0000000099.dkv"
    orphan.write_bytes(b"half a segment")
    (tmp_path / "MANIFEST.tmp").write_bytes(b"half a manifest")
    with Store.open(str(tmp_path)) as store:
        assert str(orphan) in store.recovery.orphan_files_removed
        assert dict(store.scan(0, 0)) == dict(VALUES)
    assert not orphan.exists()
    assert not os.path.exists(tmp_path / "MANIFEST.tmp")


def test_store_files_without_manifest_refuse_to_open(tmp_path: Path) -> None:
    _write_store(tmp_path)
    (tmp_path / "MANIFEST").unlink()
    with pytest.raises(StorageCorruptionError, match="MANIFEST"):
        Store.open(str(tmp_path))


def test_a_manifest_naming_a_missing_segment_removes_no_file(tmp_path: Path) -> None:
    """A MANIFEST that names a segment the directory lacks does not describe the
    directory, so recovery cannot tell orphans from data: it refuses to open and removes
    nothing (not the segments, not the WAL files)."""
    with Store.open(str(tmp_path), options=StoreOptions(background=False)) as store:
        for key, value in VALUES:
            store.put(key, value)
        store.flush()
        store.put(b"after", b"the flush")
    (segment,) = sorted(tmp_path.glob("segment-*.dkv"))
    segment.unlink()
    stray = tmp_path / "segment-0000000099.dkv"
    stray.write_bytes(b"maybe the data the MANIFEST should name")
    before = sorted(path.name for path in tmp_path.iterdir())
    with pytest.raises(StorageCorruptionError, match="named by the MANIFEST is missing"):
        Store.open(str(tmp_path))
    assert sorted(path.name for path in tmp_path.iterdir()) == before


def test_each_directory_the_store_creates_is_synced_in_its_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new store's directories are made durable in their parents, up to the first that
    existed: a directory entry lost on a power failure would take the fsynced files
    inside it along."""
    from dynamokv.impl.storage import _files

    synced: list[str] = []
    real = _files.OsFiles.sync_directory
    monkeypatch.setattr(
        _files.OsFiles,
        "sync_directory",
        lambda self, directory: (synced.append(os.path.abspath(directory)), real(self, directory)),
    )
    target = tmp_path / "a" / "b" / "store"
    with Store.open(str(target), options=StoreOptions(background=False)) as store:
        store.put(b"k", b"v")
    for created in (tmp_path / "a", tmp_path / "a" / "b", target):
        assert str(created.parent) in synced


def test_a_group_commit_torn_out_of_order_by_a_power_failure_is_a_torn_tail() -> None:
    """A group commit writes its writers' batches with one ``write`` and one ``fdatasync``.
    A power failure during that sync may keep any subset of the write's pages: a later
    batch on disk, an earlier one not. None of the group was acknowledged, so recovery must
    cut it off as a torn tail and keep every acknowledged write, not stop as if
    acknowledged data were damaged (a node would refuse to start). The group is one
    record, so its batches are there all together or not at all."""
    options = StoreOptions(background=False)
    acknowledged = {f"acked-{n}".encode(): b"a" * 300 for n in range(4)}
    group = {f"group-{n}".encode(): bytes([n]) * 700 for n in range(12)}
    outcomes = set()
    for seed in range(40):
        files = FaultyFiles(random.Random(seed), torn_probability=1.0, page_bytes=512)
        store = Store.open("db", options=options, files=files)
        for key, value in acknowledged.items():
            store.put(key, value)
        for key, value in group.items():
            store.append_batch([(key, value)])
        files.fail_next_syncs(1)
        with pytest.raises(StorageReadOnlyError):
            store.commit()
        files.crash()
        with Store.open("db", options=options, files=files) as reopened:
            found = dict(reopened.scan(0, 0))
            assert {key: found.get(key) for key in acknowledged} == acknowledged, seed
            survivors = {key: value for key, value in found.items() if key in group}
            assert survivors in ({}, group), seed  # never a part of the group
            outcomes.add((bool(survivors), bool(reopened.recovery.torn_tails)))
    assert (False, True) in outcomes  # some crash tore the group, and recovery cut it


def test_a_group_over_the_record_bound_is_split_into_records_that_replay_in_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A group whose joined payload would pass the record bound is written as several
    records (the bound is lowered here: the real one is 64 MiB)."""
    from dynamokv.impl.storage import _store

    monkeypatch.setattr(_store, "_PAYLOAD_BYTES_MAX", 2_000)
    files = FaultyFiles(random.Random(1))
    options = StoreOptions(background=False)
    written = {f"key-{n:02d}".encode(): bytes([n]) * 300 for n in range(12)}
    store = Store.open("db", options=options, files=files)
    for key, value in written.items():
        store.append_batch([(key, value)])
    store.append_batch([(b"key-00", None)])  # order matters: the delete comes last
    store.commit()
    store.close()
    with Store.open("db", options=options, files=files) as reopened:
        assert reopened.recovery.records_replayed > 1
        assert reopened.recovery.operations_replayed == 13
        assert dict(reopened.scan(0, 0)) == {k: v for k, v in written.items() if k != b"key-00"}
