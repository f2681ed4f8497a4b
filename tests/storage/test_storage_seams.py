"""The WAL's seams: the store frames and recovers through :class:`WalSeams`.

Each test plants one wrong function and shows the store act on it, so a store that
stopped calling its seams (framing or reading inline again) fails here.
"""

from __future__ import annotations

import random

import pytest
from dynamokv.impl.storage import (
    DEFAULT_WAL_SEAMS,
    FaultyFiles,
    StorageCorruptionError,
    Store,
    StoreOptions,
    WalSeams,
    frame_wal_record,
    read_wal_records,
)
from dynamokv.impl.storage._format import wal_record_at
from dynamokv.spec.errors import InvariantError

VALUES = [(b"k%d" % n, b"value-%d" % n) for n in range(4)]


def _store(files: FaultyFiles, seams: WalSeams = DEFAULT_WAL_SEAMS) -> Store:
    return Store.open("/db", files=files, options=StoreOptions(background=False), wal_seams=seams)


def _wal_path(files: FaultyFiles) -> str:
    return next(f"/db/{name}" for name in files.list_names("/db") if name.startswith("wal-"))


def test_the_default_seams_are_the_projects_own_functions() -> None:
    assert DEFAULT_WAL_SEAMS.frame_record is frame_wal_record
    assert DEFAULT_WAL_SEAMS.read_records is read_wal_records


def test_records_framed_by_the_seam_are_what_the_store_writes() -> None:
    """A planted framing (a doubled marker) reaches the file: the store frames through it."""
    files = FaultyFiles(random.Random(1))

    def framed_twice(payload: bytes) -> bytes:
        return frame_wal_record(frame_wal_record(payload))

    with _store(files, WalSeams(frame_record=framed_twice)) as store:
        store.put(b"k", b"v")
    data = files.read_all(_wal_path(files))
    (records, _) = read_wal_records(data, 20)
    outer = records[0][1]
    assert wal_record_at(outer, 0) is not None  # the payload is itself a framed record


def test_a_reader_that_trusts_records_after_damage_lets_them_through() -> None:
    """The project's reader stops at a flipped byte; one that skips past it does not."""

    def skips_damage(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
        found: list[tuple[int, bytes]] = []
        while offset < len(data):
            payload = wal_record_at(data, offset)
            if payload is None:
                offset += 1
                continue
            found.append((offset, payload))
            offset += 12 + len(payload)
        return tuple(found), len(data)

    outcomes = []
    for seams in (DEFAULT_WAL_SEAMS, WalSeams(read_records=skips_damage)):
        files = FaultyFiles(random.Random(1))
        with _store(files) as store:
            for key, value in VALUES:
                store.put(key, value)
        path = _wal_path(files)
        files.corrupt(path, 20 + 12 + 8)  # inside the first record's payload
        try:
            with _store(files, seams) as store:
                outcomes.append(dict(store.scan(0, 0)))
        except StorageCorruptionError:
            outcomes.append(None)
    assert outcomes[0] is None  # damage followed by valid records stops the open
    assert outcomes[1] == dict(VALUES[1:])  # the planted reader trusted what followed


@pytest.mark.parametrize("stop", [-1, 10_000])
def test_a_reader_that_stops_outside_the_file_is_an_invariant_error(stop: int) -> None:
    files = FaultyFiles(random.Random(1))
    with _store(files) as store:
        store.put(b"k", b"v")

    def wrong_stop(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
        return (), stop

    with pytest.raises(InvariantError):
        _store(files, WalSeams(read_records=wrong_stop))
