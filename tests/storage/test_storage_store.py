"""The store's contract: a map from key to bytes, ordered by ring position (Dynamo §4.2)."""

from __future__ import annotations

import random
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import dynamokv.impl.storage as storage
import pytest
from dynamokv.impl.storage import (
    KEY_BYTES_MAX,
    RING_POSITIONS_COUNT,
    StorageArgumentError,
    StorageClosedError,
    StorageCorruptionError,
    Store,
    StoreOptions,
    ring_position,
)
from dynamokv.impl.storage._files import OsFiles
from dynamokv.impl.storage._format import sort_key
from dynamokv.impl.storage._segment import ABSENT, Segment, SegmentWriter, segment_name

SMALL = StoreOptions(memtable_bytes_max=4096, block_bytes_target=256, compaction_fanout=2)


def _ring_range(model: dict[bytes, bytes], low: int, high: int) -> list[tuple[bytes, bytes]]:
    """The reference answer for ``scan``: filter and sort the model by (position, key)."""
    ordered = sorted(model.items(), key=lambda item: (ring_position(item[0]), item[0]))
    if low < high:
        return [(k, v) for k, v in ordered if low <= ring_position(k) < high]
    if low == high:
        return ordered
    return [(k, v) for k, v in ordered if ring_position(k) >= low] + [
        (k, v) for k, v in ordered if ring_position(k) < high
    ]


def test_public_names_match_all() -> None:
    public = {name for name in dir(storage) if not name.startswith("_")} - {"annotations"}
    assert public == set(storage.__all__)


def test_put_get_delete_survive_flush_compaction_and_reopen(tmp_path: Path) -> None:
    rng = random.Random(7)
    model: dict[bytes, bytes] = {}
    store = Store.open(str(tmp_path), options=SMALL)
    for _ in range(3000):
        key = f"key-{rng.randrange(400)}".encode()
        if rng.random() < 0.2:
            store.delete(key)
            model.pop(key, None)
        else:
            value = rng.randbytes(rng.randrange(60))
            store.put(key, value)
            model[key] = value
    store.wait_for_background()
    assert store.stats().flushes_count > 5
    assert store.stats().compactions_count > 0
    for number in range(400):
        key = f"key-{number}".encode()
        assert store.get(key) == model.get(key)
    store.close()
    with Store.open(str(tmp_path), options=SMALL) as reopened:
        assert reopened.recovery.clean
        assert dict(reopened.scan(0, 0)) == model
        reopened.compact()
        assert reopened.stats().segments_count == 1
        assert dict(reopened.scan(0, 0)) == model


def test_scan_is_in_ring_order_and_wraps_around(tmp_path: Path) -> None:
    rng = random.Random(3)
    model = {f"k{i}".encode(): rng.randbytes(8) for i in range(500)}
    with Store.open(str(tmp_path), options=SMALL) as store:
        store.write_batch(list(model.items())[:250])
        store.flush()
        store.write_batch(list(model.items())[250:])
        cuts = [
            0,
            1,
            RING_POSITIONS_COUNT // 3,
            RING_POSITIONS_COUNT // 2,
            RING_POSITIONS_COUNT - 1,
        ]
        cuts += [ring_position(k) for k in list(model)[:5]]
        for low in cuts:
            for high in cuts:
                assert list(store.scan(low, high)) == _ring_range(model, low, high), (low, high)


def test_batch_is_applied_in_order(tmp_path: Path) -> None:
    with Store.open(str(tmp_path)) as store:
        store.write_batch([(b"a", b"1"), (b"a", b"2"), (b"b", b"x"), (b"b", None)])
        assert store.get(b"a") == b"2"
        assert store.get(b"b") is None


def test_arguments_are_validated(tmp_path: Path) -> None:
    with Store.open(str(tmp_path)) as store:
        with pytest.raises(StorageArgumentError):
            store.put(b"k" * (KEY_BYTES_MAX + 1), b"v")
        with pytest.raises(StorageArgumentError):
            store.put("text", b"v")  # type: ignore[arg-type]
        with pytest.raises(StorageArgumentError):
            store.put(b"k", "text")  # type: ignore[arg-type]
        with pytest.raises(StorageArgumentError):
            store.write_batch([])
        with pytest.raises(StorageArgumentError):
            store.scan(-1, 0)
        with pytest.raises(StorageArgumentError):
            store.scan(0, RING_POSITIONS_COUNT)
    with pytest.raises(StorageArgumentError):
        StoreOptions(fsync="sometimes")  # type: ignore[arg-type]
    with pytest.raises(StorageArgumentError):
        StoreOptions(memtable_bytes_max=10)


def test_closed_store_refuses_writes(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path))
    store.close()
    store.close()
    with pytest.raises(StorageClosedError):
        store.put(b"k", b"v")


def test_compaction_reaps_only_what_the_caller_allows(tmp_path: Path) -> None:
    """Dynamo tombstones are values; the caller's predicate decides when they go."""

    def may_drop(key: bytes, value: bytes) -> bool:
        return value == b"TOMBSTONE"

    options = StoreOptions(memtable_bytes_max=4096, compaction_fanout=64, background=False)
    with Store.open(str(tmp_path), options=options, may_drop=may_drop) as store:
        store.put(b"gone", b"old value")
        store.put(b"kept", b"value")
        store.flush()  # oldest segment holds the old value
        store.put(b"gone", b"TOMBSTONE")
        store.put(b"other", b"TOMBSTONE-not")
        store.flush()
        store.put(b"unrelated", b"x")
        store.flush()
        # Merge only the two newest segments: the oldest (holding "old value") is not an
        # input, so the reaped tombstone must become a delete marker, not vanish.
        newest_two = store._version.segments[:2]
        store._merge(newest_two, tier=1, may_drop=may_drop)
        assert store.get(b"gone") is None
        store.compact()
        assert store.get(b"gone") is None
        assert store.get(b"kept") == b"value"
        assert store.get(b"other") == b"TOMBSTONE-not"
        assert [k for k, _ in store.scan(0, 0)] == sorted(
            [b"kept", b"other", b"unrelated"], key=lambda k: (ring_position(k), k)
        )


def test_planted_reaping_bug_would_resurrect_old_value(tmp_path: Path) -> None:
    """Negative control: dropping a reaped record outright (no marker) brings data back."""
    from dynamokv.impl.storage import _store

    options = StoreOptions(memtable_bytes_max=4096, compaction_fanout=64, background=False)
    original = _store._merged_records

    def buggy(inputs, *, includes_oldest, may_drop):  # type: ignore[no-untyped-def]
        return original(inputs, includes_oldest=True, may_drop=may_drop)

    with Store.open(str(tmp_path), options=options) as store:
        store.put(b"gone", b"old value")
        store.flush()
        store.put(b"gone", b"TOMBSTONE")
        store.flush()
        store.put(b"x", b"x")
        store.flush()
        _store._merged_records = buggy
        try:
            store._merge(
                store._version.segments[:2], tier=1, may_drop=lambda k, v: v == b"TOMBSTONE"
            )
        finally:
            _store._merged_records = original
        assert store.get(b"gone") == b"old value"  # the bug the real code avoids


def test_group_commit_shares_fsyncs_between_writer_threads(tmp_path: Path) -> None:
    threads_count = 16
    writes_per_thread = 40
    with Store.open(str(tmp_path)) as store:
        barrier = threading.Barrier(threads_count)

        def writer(thread_index: int) -> None:
            barrier.wait()
            for number in range(writes_per_thread):
                store.put(f"{thread_index}-{number}".encode(), b"v" * 100)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        stats = store.stats()
        assert stats.writes_count == threads_count * writes_per_thread
        assert stats.group_commits_count < stats.writes_count  # some fsyncs were shared
        for thread_index in range(threads_count):
            for number in range(writes_per_thread):
                assert store.get(f"{thread_index}-{number}".encode()) == b"v" * 100


def test_readers_run_concurrently_with_writer_flush_and_compaction(tmp_path: Path) -> None:
    options = StoreOptions(
        memtable_bytes_max=8192, block_bytes_target=512, compaction_fanout=2, fsync="none"
    )
    errors: list[BaseException] = []
    with Store.open(str(tmp_path), options=options) as store:
        for number in range(200):
            store.put(f"fixed-{number}".encode(), f"value-{number}".encode())
        stop = threading.Event()

        def reader() -> None:
            try:
                while not stop.is_set():
                    for number in range(0, 200, 7):
                        assert store.get(f"fixed-{number}".encode()) == f"value-{number}".encode()
                    assert len([k for k, _ in store.scan(0, 0) if k.startswith(b"fixed-")]) == 200
            except BaseException as error:  # surfaced below
                errors.append(error)

        readers = [threading.Thread(target=reader) for _ in range(3)]
        for thread in readers:
            thread.start()
        for number in range(4000):
            store.put(f"churn-{number % 500}".encode(), b"x" * 50)
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
        assert store.stats().compactions_count > 0
    assert errors == []


def _flushed_store(directory: Path, options: StoreOptions, count: int) -> Store:
    store = Store.open(str(directory), options=options)
    store.write_batch([(f"k{n}".encode(), f"v{n}".encode() * 5) for n in range(count)])
    store.flush()
    return store


def test_a_cached_block_is_read_from_its_file_once(tmp_path: Path) -> None:
    options = StoreOptions(background=False, block_bytes_target=256)
    with _flushed_store(tmp_path, options, 300) as store:
        (segment,) = store._version.segments
        reads: list[int] = []
        read_at = segment._read_at

        def counted(offset: int, length: int) -> bytes:
            reads.append(offset)
            return read_at(offset, length)

        segment._read_at = counted  # type: ignore[method-assign]
        assert store.get(b"k7") == b"v7" * 5
        assert store.get(b"k7") == b"v7" * 5
        assert len(reads) == 1
        assert store.stats().block_cache_bytes > 0


def test_the_block_cache_stays_within_its_bound_or_off(tmp_path: Path) -> None:
    for bound in (0, 1024):
        options = StoreOptions(
            background=False, block_bytes_target=256, block_cache_bytes_max=bound
        )
        with _flushed_store(tmp_path / str(bound), options, 300) as store:
            for n in range(300):
                assert store.get(f"k{n}".encode()) == f"v{n}".encode() * 5
                assert store.stats().block_cache_bytes <= bound
            assert (store.stats().block_cache_bytes > 0) == (bound > 0)


def test_a_compacted_segment_leaves_the_block_cache(tmp_path: Path) -> None:
    options = StoreOptions(background=False, block_bytes_target=256, compaction_fanout=4)
    with _flushed_store(tmp_path, options, 100) as store:
        store.write_batch([(b"k5", b"new")])
        store.flush()
        assert store.stats().segments_count == 2
        for n in range(100):
            store.get(f"k{n}".encode())
        before = store.stats().block_cache_bytes
        store.compact()
        assert store.stats().segments_count == 1
        assert store.stats().block_cache_bytes == 0 < before
        assert store.get(b"k5") == b"new"


def test_appended_batches_become_visible_and_durable_only_at_commit(tmp_path: Path) -> None:
    """The single-driver group commit: append without IO, then one write and one fsync."""
    store = Store.open(str(tmp_path / "s"))
    store.append_batch([(b"a", b"1"), (b"b", b"2")])
    store.append_batch([(b"a", b"3")])
    assert store.get(b"a") is None  # appended, not committed: not in the memtable yet
    syncs_before = store.stats().syncs_count
    store.commit()
    assert (store.get(b"a"), store.get(b"b")) == (b"3", b"2")  # in append order
    assert store.stats().syncs_count == syncs_before + 1  # one fsync for both records
    assert store.stats().group_commits_count == 1
    store.commit()  # nothing queued: no write, no fsync
    assert store.stats().syncs_count == syncs_before + 1
    store.close()
    reopened = Store.open(str(tmp_path / "s"))
    assert reopened.get(b"a") == b"3"
    reopened.close()


def test_a_writer_thread_commits_appended_batches_with_its_own(tmp_path: Path) -> None:
    """One group-commit site: a concurrent write_batch serves what was appended before it."""
    store = Store.open(str(tmp_path / "s"))
    store.append_batch([(b"appended", b"x")])
    writer = threading.Thread(target=store.write_batch, args=([(b"threaded", b"y")],))
    writer.start()
    writer.join(timeout=30)
    assert store.get(b"appended") == b"x" and store.get(b"threaded") == b"y"
    assert store.stats().group_commits_count == 1
    store.commit()  # already written by the writer thread's group
    assert store.stats().group_commits_count == 1
    store.close()


def test_an_appended_batch_is_checked_when_appended(tmp_path: Path) -> None:
    store = Store.open(str(tmp_path / "s"))
    with pytest.raises(StorageArgumentError):
        store.append_batch([])
    with pytest.raises(StorageArgumentError):
        store.append_batch([(b"k" * (KEY_BYTES_MAX + 1), b"v")])
    store.close()
    with pytest.raises(StorageClosedError):
        store.append_batch([(b"k", b"v")])


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"{what} within a minute"
        time.sleep(0.01)


def test_rotation_takes_the_wal_file_the_flusher_prepared(tmp_path: Path) -> None:
    options = StoreOptions(memtable_bytes_max=4096)

    def prepared() -> list[str]:
        return sorted(path.name for path in tmp_path.glob("*.prepared"))

    with Store.open(str(tmp_path), options=options) as store:
        for number in range(20):  # about 2.5 KiB of WAL: more than half a memtable
            store.put(f"k{number}".encode(), b"v" * 100)
        _wait_for(lambda: store.stats().wal_files_prepared_count == 1, "a prepared WAL 2")
        assert prepared() == ["wal-0000000002.log.prepared"]
        for number in range(20, 40):  # about 5 KiB of WAL in all: one rotation
            store.put(f"k{number}".encode(), b"v" * 100)
        assert (tmp_path / "wal-0000000002.log").exists()
        assert not (tmp_path / "wal-0000000002.log.prepared").exists()
        for number in range(40, 60):
            store.put(f"k{number}".encode(), b"v" * 100)
        _wait_for(lambda: store.stats().wal_files_prepared_count == 2, "a prepared WAL 3")
        assert prepared() == ["wal-0000000003.log.prepared"]
    assert prepared() == []  # a clean close removes it
    with Store.open(str(tmp_path), options=options) as store:
        assert all(store.get(f"k{n}".encode()) == b"v" * 100 for n in range(60))


def test_a_prepared_wal_left_by_a_crash_is_removed_and_never_replayed(tmp_path: Path) -> None:
    with Store.open(str(tmp_path), options=StoreOptions(background=False)) as store:
        store.put(b"k", b"v")
    leftover = tmp_path / "wal-0000000009.log.prepared"
    leftover.write_bytes(b"not a WAL at all")
    with Store.open(str(tmp_path), options=StoreOptions(background=False)) as store:
        assert str(leftover) in store.recovery.orphan_files_removed
        assert store.get(b"k") == b"v"
    assert not leftover.exists()


def _segment_of(
    directory: Path, records: list[tuple[bytes, bytes | None]], *, block_bytes_target: int = 256
) -> Segment:
    files = OsFiles()
    path = f"{directory}/{segment_name(1)}"
    writer = SegmentWriter(
        files,
        path,
        1,
        entries_count_expected=len(records),
        block_bytes_target=block_bytes_target,
        bloom_bits_per_key=10,
    )
    for record_key, value in sorted(records):
        writer.add(record_key, value)
    writer.finish()
    return Segment(files, path, 1, 0)


def test_a_segment_tells_apart_keys_that_share_a_ring_position(tmp_path: Path) -> None:
    # An MD5 collision can be made on purpose: entries with one position differ by key.
    position = bytes(range(16))
    records: list[tuple[bytes, bytes | None]] = [
        (position + b"a", b"value of a"),
        (position + b"b", None),
        (position + b"c", b""),
        (bytes(16) + b"other", b"x" * 300),
    ]
    segment = _segment_of(tmp_path, records)
    try:
        assert segment.get(position + b"a") == b"value of a"
        assert segment.get(position + b"b") is None  # a delete marker
        assert segment.get(position + b"c") == b""  # an empty value is not a marker
        assert segment.get(position + b"d") is ABSENT
        assert segment.get(position + b"") is ABSENT
        assert segment.get(bytes(16) + b"other") == b"x" * 300
        assert list(segment.scan(b"", None)) == sorted(records)
    finally:
        segment.close()


def test_the_bloom_filter_has_no_false_negatives_and_few_false_positives(tmp_path: Path) -> None:
    present = [sort_key(f"present-{n}".encode()) for n in range(5000)]
    segment = _segment_of(tmp_path, [(key, b"v") for key in present], block_bytes_target=4096)
    try:
        assert all(segment.may_contain(key) for key in present)
        absent = [sort_key(f"absent-{n}".encode()) for n in range(20_000)]
        false_positives = sum(1 for key in absent if segment.may_contain(key))
        # 10 bits per key, four bits in one 64-bit word: about 2 % (MD5 is deterministic,
        # so this count is too); a filter that always answers True would give 100 %.
        assert false_positives < 0.04 * len(absent)
    finally:
        segment.close()


def test_a_segment_of_another_format_version_is_refused_by_name(tmp_path: Path) -> None:
    _segment_of(tmp_path, [(sort_key(b"k"), b"v")]).close()
    path = tmp_path / segment_name(1)
    data = bytearray(path.read_bytes())
    data[6:8] = (1).to_bytes(2, "little")  # the header's version field
    data[16:20] = zlib.crc32(bytes(data[:16])).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(StorageCorruptionError, match="format version 1; this build reads"):
        Segment(OsFiles(), str(path), 1, 0)


def test_a_segment_with_every_block_cached_answers_reads_from_its_dict_alone(
    tmp_path: Path,
) -> None:
    options = StoreOptions(background=False, block_bytes_target=256)
    with _flushed_store(tmp_path, options, 300) as store:
        store.write_batch([(f"k{n}".encode(), b"newer") for n in range(0, 300, 3)])
        store.flush()
        for n in range(300):  # every block of both segments read once, so cached
            store.get(f"k{n}".encode())
        segments = store._version.segments
        assert len(segments) == 2 and all(segment.complete_epoch for segment in segments)

        def no_file_reads(sort_key: bytes) -> None:
            raise AssertionError("a read of a fully cached store went to a segment's blocks")

        for segment in segments:
            segment.get = no_file_reads  # type: ignore[method-assign]
        for n in range(300):
            expected = b"newer" if n % 3 == 0 else f"v{n}".encode() * 5
            assert store.get(f"k{n}".encode()) == expected
        assert store.get(b"absent") is None  # a miss in both dicts settles it


def test_a_decoded_blocks_charge_follows_the_memory_it_takes(tmp_path: Path) -> None:
    """The cache's bound counts memory: the charge is within a quarter of what tracemalloc sees."""
    for value_bytes in (10, 100, 1000):
        options = StoreOptions(background=False, fsync="none", block_cache_bytes_max=1 << 30)
        with Store.open(str(tmp_path / str(value_bytes)), options=options) as store:
            keys = [f"key-{n:06d}".encode() for n in range(20_000)]
            store.write_batch([(key, bytes(value_bytes)) for key in keys[:10_000]])
            store.write_batch([(key, bytes(value_bytes)) for key in keys[10_000:]])
            store.flush()
            tracemalloc.start()
            try:
                before = tracemalloc.get_traced_memory()[0]
                for key in keys:
                    store.get(key)
                allocated = tracemalloc.get_traced_memory()[0] - before
            finally:
                tracemalloc.stop()
            charged = store.stats().block_cache_bytes
            assert 0.75 * allocated <= charged <= 1.25 * allocated, (
                value_bytes,
                charged,
                allocated,
            )


def test_lock_free_reads_never_go_back_in_time_under_eviction_flush_and_compaction(
    tmp_path: Path,
) -> None:
    """Keys are overwritten with rising numbers, a few at a time; a reader must never see a
    key's number fall, nor a key vanish.

    Most keys sit in segments, in several versions across segments. A read that wrongly
    skipped a newer segment (a dict emptied by eviction or compaction taken for "not
    here") would return an older number. The cache is small, so blocks are evicted and
    readmitted and segments become fully cached and stop being so all the time.
    """
    options = StoreOptions(
        memtable_bytes_max=8192,
        block_bytes_target=256,
        block_cache_bytes_max=32_768,
        compaction_fanout=2,
        fsync="none",
    )
    keys = [f"key-{n}".encode() for n in range(400)]
    rng = random.Random(11)
    errors: list[BaseException] = []
    with Store.open(str(tmp_path), options=options) as store:
        store.write_batch([(key, b"%08d" % 0) for key in keys])
        stop = threading.Event()

        def reader() -> None:
            seen = dict.fromkeys(keys, 0)
            try:
                while not stop.is_set():
                    for key in keys:
                        value = store.get(key)
                        assert value is not None, key
                        number = int(value[:8])
                        assert number >= seen[key], (key, number, seen[key])
                        seen[key] = number
            except BaseException as error:  # surfaced below
                errors.append(error)

        readers = [threading.Thread(target=reader) for _ in range(2)]
        for thread in readers:
            thread.start()
        for number in range(1, 300):
            chosen = rng.sample(keys, 20)
            store.write_batch([(key, b"%08d" % number + b"x" * 40) for key in chosen])
        stop.set()
        for thread in readers:
            thread.join(timeout=60)
        assert store.stats().compactions_count > 0
    assert errors == []


def test_a_segment_almost_wholly_cached_has_its_last_blocks_read_too(tmp_path: Path) -> None:
    options = StoreOptions(background=False, block_bytes_target=256)
    with _flushed_store(tmp_path, options, 3000) as store:
        (segment,) = store._version.segments
        keys = [f"k{n}".encode() for n in range(3000)]
        cut = segment._first_keys[-(segment.blocks_count // 10)]
        for key in keys:  # every key but those of the last tenth of the blocks
            if sort_key(key) < cut:
                store.get(key)
        assert segment.complete_epoch == 0  # a tenth uncached: too many to read ahead
        for key in keys:  # now every key but those of the last block
            if sort_key(key) < segment._first_keys[-1]:
                store.get(key)
        assert segment.blocks_count > 50 and segment.complete_epoch  # the last one read too
        assert len(segment.records) == 3000


def test_paced_background_work_keeps_every_record(tmp_path: Path) -> None:
    rng = random.Random(11)
    model: dict[bytes, bytes] = {}
    paced = StoreOptions(
        fsync="none",
        memtable_bytes_max=4096,
        block_bytes_target=256,
        compaction_fanout=2,
        background_duty=0.2,
    )
    with Store.open(str(tmp_path), options=paced) as store:
        for _ in range(2000):
            key = f"key-{rng.randrange(300)}".encode()
            value = rng.randbytes(rng.randrange(60))
            store.put(key, value)
            model[key] = value
        store.wait_for_background()
        assert store.stats().flushes_count > 5
        assert store.stats().compactions_count > 0
        assert dict(store.scan(0, 0)) == model
    with pytest.raises(StorageArgumentError):
        StoreOptions(background_duty=0.0)
    with pytest.raises(StorageArgumentError):
        StoreOptions(background_duty=1.5)


class _FakeThreadClock:
    """``time.thread_time`` and ``time.sleep`` of the store module, driven by the test."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def thread_time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def test_paced_records_pause_in_proportion_to_the_work_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dynamokv.impl.storage import _store

    clock = _FakeThreadClock()
    monkeypatch.setattr(_store, "time", clock)
    options = StoreOptions(memtable_bytes_max=1 << 20, background=False, background_duty=0.25)
    store = Store.open(str(tmp_path), options=options)
    try:
        records = [(bytes([n]), b"v") for n in range(_store.BACKGROUND_PACE_RECORDS * 4)]

        def work(records_out: list[tuple[bytes, bytes | None]]) -> None:
            for run in store._pace(iter(records)):
                assert len(run) == _store.BACKGROUND_PACE_RECORDS
                records_out.extend(run)
                clock.now += 0.002  # 2 ms per run of 32 records

        seen: list[tuple[bytes, bytes | None]] = []
        work(seen)
        assert seen == records
        # Every 32 records: 2 ms of CPU, then three times as long asleep (duty 0.25).
        assert clock.sleeps == pytest.approx([0.006] * 4)

        clock.sleeps.clear()
        store._memtable_bytes = options.memtable_bytes_max // 2  # a rotation is near
        work([])
        assert clock.sleeps == []
    finally:
        store._memtable_bytes = 0
        monkeypatch.undo()
        store.close()
