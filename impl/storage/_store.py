"""The node's durable store: a write-ahead log in front of a memtable and segment files.

Theory of operation (a write's last step on each replica: "write to the WAL and memtable").

**Writes and group commit.** A write is validated and encoded as a WAL payload and queued
in the store's :class:`GroupCommit` (the project's one group-commit site, leader/follower;
see :mod:`._group_commit`). A group's leader makes room in the memtable if it must, frames
every queued payload as *one* WAL record (checksum computed here, before it leaves the
process), appends it with one ``write``, makes it durable with one ``fdatasync``, and
applies it to the memtable. One record per group, not one per writer: a power failure in
the middle of the group's ``write`` may keep any of its pages and lose others, and a torn
record followed by an intact one from the same ``write`` would read as damage before
acknowledged data (corruption, and a node that refuses to start); a torn single record has
nothing valid after it, and recovery cuts it off as a torn tail. Only a group over
:data:`WAL_RECORD_BYTES_MAX` is split into several records. A write is acknowledged
(``put`` returns) only after the ``fsync`` of its record under the default policy
``"always"``; ``"batch"`` syncs every ``fsync_batch_interval_ms`` or
``fsync_batch_bytes_max``; ``"none"`` never syncs and is for experiments. A single driver
that gathers writes itself (the node's storage adapter, on the trio event loop) uses the
same site: :meth:`Store.append_batch` queues a batch without waiting, and
:meth:`Store.commit` leads one group over everything queued.

**The next WAL file is prepared ahead.** Under ``"always"`` a new WAL file is filled with
zeros and synced before use (see :meth:`WalWriter.create`): megabytes of writes and an
``fsync`` that would stall the writer that rotates, every ``memtable_bytes_max``. With
background threads, the flusher prepares the next file once the memtable is half full
(a store opened and closed quickly writes no second file of zeros), under a name that
recovery never replays (the WAL's name with :data:`WAL_PREPARED_SUFFIX`, removed as an
orphan if a crash leaves it), with its header already naming its WAL number; a rotation
then only renames it and syncs the directory. The number to prepare is the one after the
WAL a rotation last installed, set under the lock when it installs it, so the flusher never
touches a file that a rotation is renaming. A WAL that exists under its real name is
therefore always one that may hold records, and the recovery rule "only the newest WAL may
end torn" stands.

**Memtable, flush, compaction.** The memtable is a dict from sort key to value (``None``
for a delete marker). When the WAL bytes behind it reach ``memtable_bytes_max`` the leader
*rotates*: the memtable becomes immutable, a new WAL file starts, and a flusher (a
background thread, or inline with ``background=False`` as the simulator uses) writes it as
a sorted segment file, records it in the manifest and deletes the WAL files it covers. A
compactor merges runs of ``compaction_fanout`` segments of one tier into one segment of the
next tier (size-tiered, so every record is rewritten about log_fanout(n) times). Flushes and
compactions install their result by swapping an immutable :class:`_Version`; readers pin a
version, so a compaction never blocks a write or a read, and a segment file is closed only
when the last version using it is gone.

**Delete markers and tombstones.** A store-level delete marker may be dropped only by a
compaction that includes the oldest segment (nothing older can hold the key). Dynamo
tombstones are ordinary values to the store; the caller's ``may_drop(key, value)``
predicate decides when one may be reaped (the contract: once every replica holds it and a
grace period passed). If the compaction does not include the oldest segment, a dropped
record becomes a delete marker instead, so an older version cannot resurface.

**Faults.** A failed WAL write is cut back off the file and reported as
:class:`StorageWriteError` (:class:`StorageDiskFullError` for ``ENOSPC``); nothing was
applied and the store keeps working. A failed ``fsync`` leaves the file's state unknown, so
the store refuses further writes (:class:`StorageReadOnlyError`) until reopened, and keeps
serving reads. A failed flush or compaction leaves the previous files in place.
"""

from __future__ import annotations

import contextlib
import heapq
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from operator import itemgetter
from typing import Literal

from dynamokv.spec.errors import invariant

from ._errors import (
    StorageArgumentError,
    StorageClosedError,
    StorageCorruptionError,
    StorageError,
    StorageReadOnlyError,
    StorageWriteError,
)
from ._files import Files, OsFiles
from ._format import (
    BATCH_OPERATIONS_MAX,
    KEY_BYTES_MAX,
    POSITION_BYTES,
    RING_POSITIONS_COUNT,
    VALUE_BYTES_MAX,
    WAL_RECORD_BYTES_MAX,
    WAL_RECORD_HEADER_BYTES,
    Operation,
    check_key,
    check_value,
    encode_wal_payload,
    encode_wal_put_payload,
    join_wal_payloads,
    md5,
    position_bytes,
)
from ._group_commit import GroupCommit
from ._manifest import MANIFEST_TEMPORARY_NAME, Manifest, read_manifest, write_manifest
from ._seams import DEFAULT_WAL_SEAMS, FrameRecord, WalSeams
from ._segment import (
    ABSENT,
    BLOOM_PAIR_MASKS,
    BLOOM_PROBE,
    BlockCache,
    Segment,
    SegmentWriter,
    parse_segment_name,
    segment_name,
)
from ._wal import (
    RecoveryReport,
    SalvagedDamage,
    WalWriter,
    parse_wal_name,
    replay_wal,
    wal_name,
)

FsyncPolicy = Literal["always", "batch", "none"]
FSYNC_POLICIES: tuple[FsyncPolicy, ...] = ("always", "batch", "none")

MayDrop = Callable[[bytes, bytes], bool]
"""``may_drop(key, value) -> bool``: may compaction reap this record (a Dynamo tombstone)?"""

WAL_PREALLOCATE_SLACK_BYTES = 64 * 1024
"""Preallocated beyond ``memtable_bytes_max``: the last batch before rotation overshoots."""

WAL_PREPARED_SUFFIX = ".prepared"
"""Appended to the name of the next WAL while the flusher prepares it: never replayed."""

BACKGROUND_WAIT_SECONDS_MAX = 60.0
"""Longest a writer waits for the flusher before reporting it stuck."""

BACKGROUND_SLICE_SECONDS = 0.001
"""CPU a paced background flush or compaction spends between two pauses
(:attr:`StoreOptions.background_duty`)."""

BACKGROUND_PACE_RECORDS = 32
"""Records a paced flush or compaction writes between two looks at its thread's CPU clock."""


@dataclass(frozen=True, kw_only=True)
class StoreOptions:
    """Tuning of one store; every bound is named and checked.

    Attributes:
        fsync: ``"always"`` (fsync before a write returns; the default), ``"batch"`` or
            ``"none"``.
        fsync_batch_interval_ms: Under ``"batch"``, the longest a write stays unsynced.
        fsync_batch_bytes_max: Under ``"batch"``, the most unsynced WAL bytes.
        memtable_bytes_max: WAL bytes behind the memtable that trigger a flush.
        block_bytes_target: Size of a segment block (a point read reads one block).
        block_cache_bytes_max: Memory for verified segment blocks kept decoded (0: none);
            see :class:`~dynamokv.impl.storage._segment.BlockCache`. A decoded record takes
            about twice its bytes in a raw block, so 64 MiB hold about as many records as
            RocksDB's default block cache of 32 MiB of raw blocks.
        bloom_bits_per_key: Bloom filter size per key in a segment.
        compaction_fanout: Segments of one tier merged into one of the next tier.
        background: Flush and compact on background threads (``False``: inline, in the
            writer's call, deterministic, as the simulator needs).
        background_duty: The share of its time a background flush or compaction spends
            computing: after each :data:`BACKGROUND_SLICE_SECONDS` of its thread's CPU it
            sleeps as long again times ``(1 - background_duty) / background_duty``
            (1: no pauses); the pauses and why are described at ``Store._pace``.
    """

    fsync: FsyncPolicy = "always"
    fsync_batch_interval_ms: float = 2.0
    fsync_batch_bytes_max: int = 1 << 20
    memtable_bytes_max: int = 8 << 20
    block_bytes_target: int = 2048
    block_cache_bytes_max: int = 64 << 20
    bloom_bits_per_key: int = 10
    compaction_fanout: int = 4
    background: bool = True
    background_duty: float = 1.0

    def __post_init__(self) -> None:
        if self.fsync not in FSYNC_POLICIES:
            raise StorageArgumentError(f"fsync must be one of {FSYNC_POLICIES}, not {self.fsync!r}")
        if not 0 < self.fsync_batch_interval_ms <= 10_000:
            raise StorageArgumentError("fsync_batch_interval_ms must be in (0, 10000]")
        if not 0 < self.fsync_batch_bytes_max <= 1 << 30:
            raise StorageArgumentError("fsync_batch_bytes_max must be in (0, 1 GiB]")
        if not 4096 <= self.memtable_bytes_max <= 1 << 30:
            raise StorageArgumentError("memtable_bytes_max must be in [4 KiB, 1 GiB]")
        if not 256 <= self.block_bytes_target <= 1 << 20:
            raise StorageArgumentError("block_bytes_target must be in [256 B, 1 MiB]")
        if not 0 <= self.block_cache_bytes_max <= 1 << 40:
            raise StorageArgumentError("block_cache_bytes_max must be in [0, 1 TiB]")
        if not 1 <= self.bloom_bits_per_key <= 64:
            raise StorageArgumentError("bloom_bits_per_key must be in [1, 64]")
        if not 2 <= self.compaction_fanout <= 64:
            raise StorageArgumentError("compaction_fanout must be in [2, 64]")
        if not 0.05 <= self.background_duty <= 1.0:
            raise StorageArgumentError("background_duty must be in [0.05, 1]")


@dataclass(frozen=True)
class StoreStats:
    """Counters for benchmarks and metrics (a snapshot)."""

    writes_count: int
    group_commits_count: int
    syncs_count: int
    flushes_count: int
    compactions_count: int
    wal_files_prepared_count: int
    memtable_bytes: int
    segments_count: int
    segments_bytes: int
    segment_tiers: tuple[int, ...]
    block_cache_bytes: int


@dataclass(eq=False)
class _Version:
    """One consistent view: memtable, immutable memtable, segments (newest first).

    A reader *pins* the version by appending to ``readers`` and unpins by popping from it:
    both are single, atomic list operations, so a point read takes no lock. A version that
    is no longer ``live`` (replaced, or the store closed) releases its segments once it
    has no readers (:meth:`Store._release`, under the store's lock, exactly once). A reader
    checks ``live`` after pinning: if the version was retired meanwhile, it unpins and pins
    the current version under the lock instead, so it never reads released segments.
    """

    memtable: dict[bytes, bytes | None]
    immutable: dict[bytes, bytes | None] | None
    immutable_wal_number_end: int
    segments: tuple[Segment, ...]
    readers: list[None] = field(default_factory=list)
    live: bool = True
    released: bool = False


_Record = tuple[bytes, tuple[tuple[bytes, bytes | None], ...]]
"""A queued write: its WAL payload (unframed) and the memtable entries it applies."""


@dataclass
class _Counters:
    writes: int = 0
    group_commits: int = 0
    syncs: int = 0
    flushes: int = 0
    compactions: int = 0
    wal_files_prepared: int = 0


@dataclass
class _Background:
    threads: list[threading.Thread] = field(default_factory=list)
    flush_wanted: threading.Event = field(default_factory=threading.Event)
    compaction_wanted: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event = field(default_factory=threading.Event)
    error: StorageError | None = None


def _ranges(low: int, high: int) -> list[tuple[bytes, bytes | None]]:
    """Sort-key ranges of the ring range ``[low, high)``, wrapping when ``low >= high``."""
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, int) or not 0 <= value < RING_POSITIONS_COUNT:
            raise StorageArgumentError(f"{name} must be a ring position in [0, 2**128)")
    if low < high:
        return [(position_bytes(low), position_bytes(high))]
    if low == high:
        return [(b"", None)]
    tail: list[tuple[bytes, bytes | None]] = [(position_bytes(low), None)]
    if high > 0:
        tail.append((b"", position_bytes(high)))
    return tail


class Store:
    """A node's durable key-value store; keys ordered by ring position (Dynamo §4.2).

    Open with :meth:`open`. Values are opaque bytes (the serialized version set); the store
    does not know about versions. Thread safety: any number of threads may call every
    method; writers are serialized through group commit. With :class:`FaultyFiles`, use
    ``background=False`` and one thread (the simulator's setting).

    Attributes:
        recovery: What opening found: replayed records, torn tails, salvaged damage.
        directory: The store's directory.
    """

    def __init__(
        self,
        directory: str,
        files: Files,
        options: StoreOptions,
        may_drop: MayDrop | None,
        clock: Callable[[], float],
    ) -> None:
        self.directory = directory
        self.options = options
        self._files = files
        self._may_drop = may_drop
        self._clock = clock
        self._lock = threading.Lock()
        self._wal_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._compaction_lock = threading.Lock()
        self._manifest_lock = threading.Lock()
        self._version_changed = threading.Condition(self._lock)
        self._group_commit: GroupCommit[_Record] = GroupCommit(
            self._commit_group,
            lock=self._lock,
            failure=StorageError,
            aborted=lambda unexpected: StorageError(f"write aborted: {unexpected!r}"),
        )
        self._closed = False
        self._read_only_error: StorageReadOnlyError | None = None
        self._memtable_bytes = 0
        self._wal_last_sync_seconds = clock()
        self._file_number_next = 1
        self._wal_number_min = 1
        self._counters = _Counters()
        self._wal_prepared: WalWriter | None = None
        self._wal_number_to_prepare = 0
        self._wal_prepare_requested = False
        self._block_cache = BlockCache(options.block_cache_bytes_max)
        self._background = _Background()
        self.recovery = RecoveryReport()
        self._wal_seams: WalSeams = DEFAULT_WAL_SEAMS
        self._wal: WalWriter
        self._version: _Version

    # ------------------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        directory: str,
        *,
        options: StoreOptions | None = None,
        files: Files | None = None,
        salvage: bool = False,
        may_drop: MayDrop | None = None,
        clock: Callable[[], float] = time.monotonic,
        wal_seams: WalSeams = DEFAULT_WAL_SEAMS,
    ) -> Store:
        """Open (or create) the store in ``directory`` and recover it.

        Args:
            directory: The store's own directory; created if missing.
            options: Tuning; :class:`StoreOptions` defaults if omitted.
            files: The file layer; :class:`OsFiles` if omitted, :class:`FaultyFiles` in tests
                and the simulator.
            salvage: Skip damaged WAL records and report them in :attr:`recovery` instead of
                raising :class:`StorageCorruptionError`.
            may_drop: Compaction's reaping predicate, see :data:`MayDrop`.
            clock: Seconds, monotonic; only the ``"batch"`` fsync policy reads it.
            wal_seams: The WAL's framing and recovery rule (:class:`WalSeams`); only labs
                and tests pass anything but the project's own.

        Raises:
            StorageCorruptionError: A file is damaged before its tail (names file and offset).
            StorageWriteError: Recovery could not write (for example, the disk is full).
        """
        store = cls(
            directory.rstrip("/") or "/",
            files or OsFiles(),
            options or StoreOptions(),
            may_drop,
            clock,
        )
        store._wal_seams = wal_seams
        try:
            store._recover(salvage=salvage)
        except OSError as error:
            store._abandon()
            raise StorageWriteError.from_os_error(
                error, path=directory, action="opening the store"
            ) from error
        except BaseException:
            store._abandon()
            raise
        if store.options.background:
            store._start_background()
        return store

    def _recover(self, *, salvage: bool) -> None:
        files = self._files
        directory = self.directory
        files.make_directory(directory)
        names = files.list_names(directory)
        manifest = read_manifest(files, directory)
        if manifest is None:
            if any(
                parse_wal_name(n) is not None or parse_segment_name(n) is not None for n in names
            ):
                raise StorageCorruptionError(
                    "store files exist but the MANIFEST is missing",
                    path=f"{directory}/MANIFEST",
                    offset=0,
                )
            manifest = Manifest(segments=(), wal_number_min=1, file_number_next=1)
            write_manifest(files, directory, manifest)
        self._file_number_next = manifest.file_number_next
        self._wal_number_min = manifest.wal_number_min
        live_segments = {number for number, _ in manifest.segments}
        # Checked before any orphan is removed: a MANIFEST naming a missing segment means
        # the directory is not what the MANIFEST describes, and then no file is an orphan
        # for sure (it may be the data the MANIFEST should have named).
        for number in sorted(live_segments):
            path = f"{directory}/{segment_name(number)}"
            if not files.exists(path):
                raise StorageCorruptionError(
                    "segment named by the MANIFEST is missing", path=path, offset=0
                )
        removed: list[str] = []
        wal_numbers: list[int] = []
        for name in names:
            segment_number = parse_segment_name(name)
            wal_number = parse_wal_name(name)
            orphan = (
                (segment_number is not None and segment_number not in live_segments)
                or (wal_number is not None and wal_number < manifest.wal_number_min)
                or name == MANIFEST_TEMPORARY_NAME
                or name.endswith(WAL_PREPARED_SUFFIX)
            )
            if orphan:
                files.remove(f"{directory}/{name}")
                removed.append(f"{directory}/{name}")
            elif wal_number is not None:
                wal_numbers.append(wal_number)
        if removed:
            files.sync_directory(directory)
        segments: list[Segment] = []
        try:
            for number, tier in manifest.segments:
                path = f"{directory}/{segment_name(number)}"
                segment = Segment(files, path, number, tier, cache=self._block_cache)
                segment.refs = 1
                segments.append(segment)
        except BaseException:
            for segment in segments:
                segment.refs = 0
                segment.close()
            raise
        wal_numbers.sort()
        salvaged: list[SalvagedDamage] = []
        expected = list(range(manifest.wal_number_min, manifest.wal_number_min + len(wal_numbers)))
        if wal_numbers and wal_numbers != expected:
            missing = sorted(
                set(range(manifest.wal_number_min, wal_numbers[-1] + 1)) - set(wal_numbers)
            )
            path = f"{directory}/{wal_name(missing[0])}"
            if not salvage:
                for segment in segments:
                    segment.refs = 0
                    segment.close()
                raise StorageCorruptionError(
                    "WAL file is missing from the sequence", path=path, offset=0
                )
            salvaged.append(SalvagedDamage(path, 0, 0, "WAL file is missing from the sequence"))
        memtable: dict[bytes, bytes | None] = {}
        memtable_bytes = 0

        def apply(operations: list[Operation]) -> None:
            nonlocal memtable_bytes
            for key, value in operations:
                memtable[md5(key).digest() + key] = value
                memtable_bytes += len(key) + (len(value) if value is not None else 0) + 21

        try:
            paths, records, operations, torn_tails, wal_salvaged = replay_wal(
                files, directory, wal_numbers, salvage=salvage, apply=apply, seams=self._wal_seams
            )
            next_wal = wal_numbers[-1] + 1 if wal_numbers else manifest.wal_number_min
            self._wal = WalWriter.create(
                files, directory, next_wal, preallocate_bytes=self._wal_preallocate_bytes()
            )
            self._wal_number_to_prepare = next_wal + 1
        except BaseException:
            for segment in segments:
                segment.refs = 0
                segment.close()
            raise
        self._memtable_bytes = memtable_bytes
        self._version = _Version(memtable, None, 0, tuple(segments))
        self._wal_number_min_previous = manifest.wal_number_min
        self.recovery = RecoveryReport(
            wal_files_replayed=paths,
            records_replayed=records,
            operations_replayed=operations,
            torn_tails=tuple(torn_tails),
            salvaged=tuple(salvaged + wal_salvaged),
            orphan_files_removed=tuple(removed),
        )

    def _abandon(self) -> None:
        """Release handles after a failed open."""
        wal = getattr(self, "_wal", None)
        if wal is not None:
            wal.close()
        version = getattr(self, "_version", None)
        if version is not None:
            for segment in version.segments:
                segment.refs = 0
                segment.close()
        self._closed = True

    # -------------------------------------------------------------------------- reads

    def get(self, key: bytes) -> bytes | None:
        """The value stored under ``key``, or ``None`` if there is none (or it was deleted).

        A read that dicts alone can answer pins nothing: the memtables, then, newest first,
        each segment's decoded records (``Segment.records``). A record found there is
        that segment's record forever (segments are immutable), even if a compaction closes
        the segment meanwhile. A miss there settles that the key is not in the segment only
        when every block of the segment is cached, and stayed so while the dict was read
        (``Segment.complete_epoch`` is the same non-zero number before and after);
        otherwise the segment's bloom filter decides, and if the key may be there the read
        needs the segment's file: :meth:`_get_pinned` starts over with the version pinned.
        """
        if type(key) is not bytes or len(key) > KEY_BYTES_MAX:
            check_key(key)
        sort_key = md5(key).digest() + key
        version = self._version
        if not version.live:
            return self._get_pinned(sort_key)
        found = version.memtable.get(sort_key, ABSENT)
        if found is ABSENT:
            immutable = version.immutable
            if immutable is not None:
                found = immutable.get(sort_key, ABSENT)
            if found is ABSENT:
                segments = version.segments
                mask = 0
                for segment in segments:
                    complete = segment.complete_epoch
                    found = segment.records.get(sort_key, ABSENT)
                    if found is not ABSENT:
                        break
                    if complete and complete == segment.complete_epoch:
                        continue
                    # The oldest segment needs no bloom test: when every newer source
                    # missed, the key is there or nowhere.
                    if segment is segments[-1]:
                        return self._get_pinned(sort_key)
                    if not mask:  # segment._segment.bloom_probe, inlined, once per read
                        selector, bits = BLOOM_PROBE.unpack_from(sort_key)
                        mask = BLOOM_PAIR_MASKS[bits & 0xFFF] | BLOOM_PAIR_MASKS[bits >> 12 & 0xFFF]
                    words = segment.bloom_words
                    if words[selector % len(words)] & mask == mask:
                        return self._get_pinned(sort_key)
        if found is ABSENT:
            return None
        return found  # type: ignore[return-value]

    def _get_pinned(self, sort_key: bytes) -> bytes | None:
        """:meth:`get` with the version pinned, so that its segments' files stay open."""
        version = self._version
        version.readers.append(None)
        if not version.live:
            version = self._repin(version)
        try:
            found = version.memtable.get(sort_key, ABSENT)
            if found is ABSENT and version.immutable is not None:
                found = version.immutable.get(sort_key, ABSENT)
            if found is ABSENT:
                segments = version.segments
                for segment in segments:
                    if segment is segments[-1] or segment.may_contain(sort_key):
                        found = segment.get(sort_key)
                        if found is not ABSENT:
                            break
        finally:
            readers = version.readers
            readers.pop()
            if not readers and not version.live:
                with self._lock:
                    self._release(version)
        if found is ABSENT:
            return None
        return found  # type: ignore[return-value]

    def _repin(self, retired: _Version) -> _Version:
        """Unpin a version found retired after pinning it; pin the current one, locked."""
        with self._lock:
            retired.readers.pop()
            if not retired.readers:
                self._release(retired)
            if self._closed:
                raise StorageClosedError("the store is closed")
            version = self._version
            version.readers.append(None)
            return version

    def scan(self, low: int, high: int) -> Iterator[tuple[bytes, bytes]]:
        """Every ``(key, value)`` whose ring position is in ``[low, high)``, in ring order.

        The range wraps around the ring when ``low > high`` (a Dynamo key range that spans
        position zero: ``[low, 2**128)`` then ``[0, high)``); ``low == high`` is the whole
        ring. The iteration sees one consistent version of the store; writes made while it
        runs may or may not appear. Close the iterator (or exhaust it) to release that
        version's files promptly.
        """
        ranges = _ranges(low, high)
        self._check_open()
        return self._scan(ranges)

    def _scan(self, ranges: list[tuple[bytes, bytes | None]]) -> Iterator[tuple[bytes, bytes]]:
        # The version is pinned on the first ``next``, inside the generator, so an iterator
        # that is never started holds nothing.
        with self._lock:
            if self._closed:
                raise StorageClosedError("the store is closed")
            version = self._version
            version.readers.append(None)
            unsorted = list(version.memtable.items())
        try:
            memtable = sorted(unsorted)
            immutable = sorted(version.immutable.items()) if version.immutable is not None else []
            for low, high in ranges:
                sources: list[Iterable[tuple[bytes, bytes | None]]] = [
                    _sorted_range(memtable, low, high),
                    _sorted_range(immutable, low, high),
                    *(segment.scan(low, high) for segment in version.segments),
                ]
                for sort_key, value in _merge_newest(sources):
                    if value is not None:
                        yield sort_key[POSITION_BYTES:], value
        finally:
            with self._lock:
                version.readers.pop()
                if not version.live:
                    self._release(version)

    # ------------------------------------------------------------------------- writes

    def put(self, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``; durable on return under fsync policy ``"always"``.

        Raises:
            StorageArgumentError: The key or value is too long or not bytes.
            StorageWriteError: The write did not happen (see the class for ``indeterminate``).
        """
        if type(key) is not bytes or len(key) > KEY_BYTES_MAX:
            check_key(key)
        if type(value) is not bytes or len(value) > VALUE_BYTES_MAX:
            check_value(value)
        self._group_commit.submit(
            (encode_wal_put_payload(key, value), ((md5(key).digest() + key, value),)),
            admit=self._admit_write,
        )

    def delete(self, key: bytes) -> None:
        """Remove ``key`` (a store-level delete marker; Dynamo deletes are tombstone puts)."""
        self.write_batch([(key, None)])

    def write_batch(self, operations: Sequence[Operation]) -> None:
        """Apply ``(key, value)`` puts and ``(key, None)`` deletes atomically, in order.

        The batch is in one WAL record: after a crash either all of it or none of it is there.
        Concurrent callers share group commits (see the module docstring).
        """
        self._group_commit.submit(_checked(operations), admit=self._admit_write)

    def append_batch(self, operations: Sequence[Operation]) -> None:
        """Queue ``operations`` as one batch for the next group commit; no IO, no wait.

        For a single driver that gathers many writes and then makes them durable at once
        (the node's storage adapter): each appended batch stays atomic, and
        :meth:`commit` (or any concurrent :meth:`write_batch`) writes and syncs every queued
        batch together, in one record, in the order they were appended. Reads see an appended batch only
        once it is committed.
        """
        self._group_commit.append(_checked(operations), admit=self._admit_write)

    def commit(self) -> None:
        """Write every appended batch and make it durable under the fsync policy (one group).

        Raises:
            StorageWriteError: The group commit failed; none of the queued batches was applied.
        """
        self._group_commit.commit_queued(admit=self._admit_write)

    def _admit_write(self) -> None:
        """Refuse a write once the store is closed or read-only. Caller holds ``_lock``."""
        if self._closed:
            raise StorageClosedError("the store is closed")
        if self._read_only_error is not None:
            raise self._read_only_error

    def _commit_group(self, take: Callable[[], list[_Record]]) -> None:
        """Write one group of queued batches with one write and one sync (the leader's job)."""
        with self._wal_lock:
            self._make_room()
            error = self._write_batch(take())
        if error is not None:
            raise error

    def _write_batch(self, batch: list[_Record]) -> StorageError | None:
        """Append, sync per policy, apply to the memtable. Caller holds the WAL lock."""
        if not batch:
            return None  # a commit() that found its batches already written by a writer
        wal = self._wal
        data = _group_record(batch, self._wal_seams.frame_record)
        try:
            wal.append(data)
        except OSError as os_error:
            error = StorageWriteError.from_os_error(os_error, path=wal.path, action="WAL write")
            if getattr(os_error, "truncate_failed", False):
                self._enter_read_only(wal.path, os_error)
            return error
        policy = self.options.fsync
        if policy == "always" or (policy == "batch" and self._batch_sync_due()):
            try:
                wal.sync()
            except OSError as os_error:
                return self._enter_read_only(wal.path, os_error)
            self._wal_last_sync_seconds = self._clock()
            self._counters.syncs += 1
        with self._lock:
            memtable = self._version.memtable
            for _, applied in batch:
                for sort_key, value in applied:
                    memtable[sort_key] = value
            self._memtable_bytes += len(data)
            self._counters.writes += len(batch)
            self._counters.group_commits += 1
            prepare = (
                not self._wal_prepare_requested
                and self._memtable_bytes * 2 >= self.options.memtable_bytes_max
                and self.options.background
            )
            if prepare:
                self._wal_prepare_requested = True
        if prepare:
            self._background.flush_wanted.set()  # the flusher prepares the next WAL file
        return None

    def _wal_preallocate_bytes(self) -> int:
        """Zeros to preallocate in a new WAL file: a memtable's worth, under ``"always"``."""
        if self.options.fsync != "always":
            return 0
        return self.options.memtable_bytes_max + WAL_PREALLOCATE_SLACK_BYTES

    def _batch_sync_due(self) -> bool:
        wal = self._wal
        return (
            wal.size_bytes - wal.synced_bytes >= self.options.fsync_batch_bytes_max
            or (self._clock() - self._wal_last_sync_seconds) * 1000
            >= self.options.fsync_batch_interval_ms
        )

    def _enter_read_only(self, path: str, os_error: OSError) -> StorageReadOnlyError:
        error = StorageReadOnlyError(
            f"fsync failed on {path} ({os_error.strerror or os_error}); the store refuses "
            "writes until it is reopened",
            path=path,
            errno=os_error.errno,
            indeterminate=True,
        )
        with self._lock:
            if self._read_only_error is None:
                self._read_only_error = error
        return error

    def sync(self) -> None:
        """Make every write so far durable (useful under the ``"batch"``/``"none"`` policies)."""
        with self._wal_lock:
            if self._read_only_error is not None:
                raise self._read_only_error
            wal = self._wal
            if wal.synced_bytes == wal.size_bytes:
                return
            try:
                wal.sync()
            except OSError as os_error:
                raise self._enter_read_only(wal.path, os_error) from None
            self._wal_last_sync_seconds = self._clock()
            self._counters.syncs += 1

    # ---------------------------------------------------------- memtable rotation, flush

    def _make_room(self) -> None:
        """Before a write: if the memtable is full, rotate it (waiting for a flush if needed)."""
        if self._memtable_bytes < self.options.memtable_bytes_max:
            return
        if self._version.immutable is not None:
            if self.options.background:
                self._wait_for_flush()
            else:
                self._flush_immutable()
        self._rotate()
        if self.options.background:
            self._background.flush_wanted.set()
        else:
            try:
                self._flush_immutable()
                self._compact_triggered()
            except StorageError:
                pass  # the immutable memtable stays; the next rotation retries and reports

    def _wait_for_flush(self) -> None:
        deadline = time.monotonic() + BACKGROUND_WAIT_SECONDS_MAX
        with self._lock:
            while self._version.immutable is not None:
                error = self._background.error
                if error is not None:
                    self._background.error = None
                    self._background.flush_wanted.set()
                    raise error
                if self._closed:
                    raise StorageClosedError("the store is closed")
                remaining = deadline - time.monotonic()
                invariant(remaining > 0, "the flusher made no progress for a minute")
                self._version_changed.wait(remaining)

    def _rotate(self) -> None:
        """Freeze the memtable and start a new WAL file. Caller holds the WAL lock."""
        old = self._wal
        try:
            old.sync()  # a WAL file that is not the newest must end cleanly (recovery rule)
        except OSError as os_error:
            # A failed fsync may have dropped the dirty pages while marking them clean, so
            # a later fsync would succeed on lost data: the store stops taking writes.
            raise self._enter_read_only(old.path, os_error) from None
        self._counters.syncs += 1
        try:
            new = self._take_prepared_wal(old.number + 1) or WalWriter.create(
                self._files,
                self.directory,
                old.number + 1,
                preallocate_bytes=self._wal_preallocate_bytes(),
            )
        except OSError as os_error:
            raise StorageWriteError.from_os_error(
                os_error, path=old.path, action="starting a new WAL file"
            ) from None
        old.close()
        self._wal = new
        with self._lock:
            current = self._version
            invariant(current.immutable is None, "rotation needs the previous flush done")
            self._install(_Version({}, current.memtable, new.number, current.segments), current)
            self._memtable_bytes = 0

    def _take_prepared_wal(self, number: int) -> WalWriter | None:
        """The prepared WAL file, renamed to WAL ``number``, if the flusher made one."""
        with self._lock:
            prepared, self._wal_prepared = self._wal_prepared, None
            self._wal_number_to_prepare = number + 1
            self._wal_prepare_requested = False
        if prepared is None:
            return None
        if prepared.number != number:
            prepared.close()
            self._files.remove(prepared.path)
            return None
        path = f"{self.directory}/{wal_name(number)}"
        try:
            self._files.rename(prepared.path, path)
            self._files.sync_directory(self.directory)
        except BaseException:
            prepared.close()
            raise
        prepared.path = prepared.file.path = path
        return prepared

    def _prepare_next_wal(self) -> None:
        """On the flusher thread: make the next WAL file ready (see the module docstring)."""
        preallocate_bytes = self._wal_preallocate_bytes()
        with self._lock:
            if self._wal_prepared is not None or self._closed or not preallocate_bytes:
                return
            number = self._wal_number_to_prepare
        prepared = WalWriter.create(
            self._files,
            self.directory,
            number,
            preallocate_bytes=preallocate_bytes,
            name=wal_name(number) + WAL_PREPARED_SUFFIX,
        )
        with self._lock:
            # A rotation that came while the file was being written did not wait for it
            # and moved the number on; the file is stale, like one a crash leaves behind.
            stale = self._closed or number != self._wal_number_to_prepare
            if not stale:
                self._wal_prepared = prepared
                self._counters.wal_files_prepared += 1
        if stale:
            prepared.close()
            self._files.remove(prepared.path)

    def flush(self) -> None:
        """Write the memtable to a segment file now, and wait until that is durable.

        Raises:
            StorageWriteError: The flush failed; the data stays in the memtable and WAL.
        """
        self._check_open()
        with self._wal_lock:
            if self._version.immutable is not None:
                self._flush_immutable()
            if self._version.memtable:
                self._rotate()
        self._flush_immutable()
        if not self.options.background:
            self._compact_triggered()

    def _flush_immutable(self, *, paced: bool = False) -> None:
        """Write the immutable memtable as a tier-0 segment and retire its WAL files."""
        with self._flush_lock:
            with self._lock:
                version = self._version
            immutable = version.immutable
            if immutable is None:
                return
            items = sorted(immutable.items())
            drop_markers = not version.segments
            segment = self._write_segment(
                ((k, v) for k, v in items if not (drop_markers and v is None)),
                entries_count_expected=len(items),
                tier=0,
                paced=paced,
            )
            wal_number_min = version.immutable_wal_number_end

            def change(current: _Version) -> _Version:
                invariant(current.immutable is immutable, "only the flusher clears immutable")
                added = (segment,) if segment is not None else ()
                return _Version(current.memtable, None, 0, added + current.segments)

            self._apply_change(change, wal_number_min=wal_number_min, removed=())
            self._counters.flushes += 1
            for number in range(self._wal_number_min_previous, wal_number_min):
                path = f"{self.directory}/{wal_name(number)}"
                try:
                    if self._files.exists(path):
                        self._files.remove(path)
                except OSError:
                    pass  # retired anyway: the manifest does not point at it any more
            self._wal_number_min_previous = wal_number_min
            if self.options.background:
                self._background.compaction_wanted.set()

    _wal_number_min_previous = 1

    def _write_segment(
        self,
        records: Iterable[tuple[bytes, bytes | None]],
        *,
        entries_count_expected: int,
        tier: int,
        paced: bool = False,
    ) -> Segment | None:
        with self._lock:
            number = self._file_number_next
            self._file_number_next += 1
        path = f"{self.directory}/{segment_name(number)}"
        try:
            writer = SegmentWriter(
                self._files,
                path,
                number,
                entries_count_expected=max(1, entries_count_expected),
                block_bytes_target=self.options.block_bytes_target,
                bloom_bits_per_key=self.options.bloom_bits_per_key,
            )
        except OSError as os_error:
            raise StorageWriteError.from_os_error(
                os_error, path=path, action="creating a segment"
            ) from None
        try:
            runs: Iterable[Iterable[tuple[bytes, bytes | None]]] = (
                self._pace(records) if paced and self.options.background_duty < 1.0 else (records,)
            )
            for run in runs:
                writer.add_all(run)
            if writer.entries_count == 0:
                writer.abandon()
                return None
            writer.finish()
            self._files.sync_directory(self.directory)
            segment = Segment(self._files, path, number, tier, cache=self._block_cache)
        except OSError as os_error:
            writer.abandon()
            raise StorageWriteError.from_os_error(
                os_error, path=path, action="writing a segment"
            ) from None
        except BaseException:
            writer.abandon()
            raise
        return segment

    def _pace(
        self, records: Iterable[tuple[bytes, bytes | None]]
    ) -> Iterator[list[tuple[bytes, bytes | None]]]:
        """``records`` in runs of :data:`BACKGROUND_PACE_RECORDS`, with a pause after each
        :data:`BACKGROUND_SLICE_SECONDS` of CPU.

        A flush or compaction on a background thread is tens to hundreds of milliseconds of
        Python, and it shares the GIL with the thread that serves requests: while both
        want it they take turns every switch interval, each turn a wake-up of the other
        thread, so the serving thread gets about half of its time and its queue grows for
        as long as the flush lasts. Sleeping releases the GIL without a turn to wait for:
        with ``background_duty`` 0.5 the work takes about twice as long and the serving
        thread has the GIL to itself half of the time (measured, ``docs/benchmarks.md``).
        The clock is the thread's own CPU time, so time spent waiting for the GIL or a core
        is not counted as work. No pause once the memtable is half full: the next rotation
        would wait for a flush still under way, and writes with it.
        """
        duty = self.options.background_duty
        pause_per_work = (1.0 - duty) / duty
        half_full_bytes = self.options.memtable_bytes_max // 2
        remaining = iter(records)
        slice_started = time.thread_time()
        while run := list(islice(remaining, BACKGROUND_PACE_RECORDS)):
            yield run
            worked = time.thread_time() - slice_started
            if worked >= BACKGROUND_SLICE_SECONDS:
                if self._memtable_bytes < half_full_bytes:
                    time.sleep(worked * pause_per_work)
                slice_started = time.thread_time()

    def _apply_change(
        self,
        change: Callable[[_Version], _Version],
        *,
        wal_number_min: int | None,
        removed: tuple[Segment, ...],
    ) -> None:
        """Record a new segment list in the manifest, then install it as the current version."""
        with self._manifest_lock:
            with self._lock:
                current = self._version
                proposed = change(current)
                manifest = Manifest(
                    segments=tuple((s.number, s.tier) for s in proposed.segments),
                    wal_number_min=wal_number_min
                    if wal_number_min is not None
                    else self._wal_number_min,
                    file_number_next=self._file_number_next,
                )
            try:
                write_manifest(self._files, self.directory, manifest)
            except OSError as os_error:
                renamed = self._manifest_in_effect(manifest)
                if not renamed:
                    for segment in proposed.segments:
                        if segment.refs == 0:
                            segment.close()
                            self._remove_quietly(segment.path)
                    raise StorageWriteError.from_os_error(
                        os_error, path=f"{self.directory}/MANIFEST", action="writing the manifest"
                    ) from None
                self._enter_read_only(f"{self.directory}/MANIFEST", os_error)
            with self._lock:
                # Between reading and installing, only the WAL leader may have changed the
                # memtable dict in place (same object), or rotated it (under the WAL lock):
                # recompute from the version current now.
                final = change(self._version)
                invariant(
                    tuple(s.number for s in final.segments)
                    == tuple(s.number for s in proposed.segments),
                    "segment lists change only under the manifest lock",
                )
                self._wal_number_min = manifest.wal_number_min
                self._install(final, self._version)
            for segment in removed:
                self._remove_quietly(segment.path)

    def _manifest_in_effect(self, manifest: Manifest) -> bool:
        try:
            return read_manifest(self._files, self.directory) == manifest
        except (OSError, StorageError):
            return False

    def _remove_quietly(self, path: str) -> None:
        with contextlib.suppress(OSError):
            if self._files.exists(path):
                self._files.remove(path)

    def _install(self, new: _Version, old: _Version) -> None:
        """Make ``new`` current. Caller holds ``_lock``."""
        for segment in new.segments:
            segment.refs += 1
        self._version = new
        old.live = False
        self._release(old)
        self._version_changed.notify_all()

    def _release(self, version: _Version) -> None:
        """Drop a retired version's segment references once no reader pins it (once).

        Caller holds ``_lock``.
        """
        if version.released or version.readers or version.live:
            return
        version.released = True
        for segment in version.segments:
            segment.refs -= 1
            invariant(segment.refs >= 0, "segment reference count below zero")
            if segment.refs == 0:
                segment.close()

    # ---------------------------------------------------------------------- compaction

    def _compaction_candidate(self) -> tuple[Segment, ...] | None:
        """The newest run of ``compaction_fanout`` segments sharing a tier, if any."""
        segments = self._version.segments
        fanout = self.options.compaction_fanout
        start = 0
        while start < len(segments):
            end = start
            while end < len(segments) and segments[end].tier == segments[start].tier:
                end += 1
            if end - start >= fanout:
                # The oldest of the run: what remains of it stays newer than the output,
                # so tiers keep growing from newest to oldest.
                return segments[end - fanout : end]
            start = end
        return None

    def _compact_triggered(self, *, paced: bool = False) -> None:
        """Run size-tiered compactions until none is due (bounded by the segment count)."""
        for _ in range(64):
            with self._lock:
                candidate = self._compaction_candidate()
            if candidate is None:
                return
            self._merge(candidate, tier=candidate[0].tier + 1, may_drop=self._may_drop, paced=paced)

    def compact(self, *, may_drop: MayDrop | None = None) -> None:
        """Merge every segment into one now (a full compaction).

        Args:
            may_drop: Reaping predicate for this compaction; defaults to the one given to
                :meth:`open`. A full compaction includes the oldest segment, so reaped
                records and delete markers disappear entirely.
        """
        self._check_open()
        with self._lock:
            segments = self._version.segments
        if len(segments) > 1 or (segments and (may_drop or self._may_drop)):
            self._merge(
                segments, tier=max(s.tier for s in segments), may_drop=may_drop or self._may_drop
            )

    def _merge(
        self,
        inputs: tuple[Segment, ...],
        *,
        tier: int,
        may_drop: MayDrop | None,
        paced: bool = False,
    ) -> None:
        with self._compaction_lock:
            with self._lock:
                current = self._version.segments
                if not _is_run(current, inputs):
                    return  # another compaction got there first
                includes_oldest = current[-1] is inputs[-1]
                for segment in inputs:
                    segment.refs += 1  # keep the files open while we read them
            try:
                records = _merged_records(
                    inputs, includes_oldest=includes_oldest, may_drop=may_drop
                )
                output = self._write_segment(
                    records,
                    entries_count_expected=sum(s.entries_count for s in inputs),
                    tier=tier,
                    paced=paced,
                )

                def change(version: _Version) -> _Version:
                    segments = version.segments
                    start = segments.index(inputs[0])
                    replacement = (output,) if output is not None else ()
                    merged = segments[:start] + replacement + segments[start + len(inputs) :]
                    return _Version(
                        version.memtable,
                        version.immutable,
                        version.immutable_wal_number_end,
                        merged,
                    )

                self._apply_change(change, wal_number_min=None, removed=inputs)
                self._counters.compactions += 1
            finally:
                with self._lock:
                    for segment in inputs:
                        segment.refs -= 1
                        if segment.refs == 0:
                            segment.close()

    # ---------------------------------------------------------------------- background

    def _start_background(self) -> None:
        for name, target in (("flusher", self._flusher), ("compactor", self._compactor)):
            thread = threading.Thread(target=target, name=f"dynamokv-storage-{name}", daemon=True)
            self._background.threads.append(thread)
            thread.start()

    def _flusher(self) -> None:
        background = self._background
        interval_seconds = self.options.fsync_batch_interval_ms / 1000
        while not background.stopping.is_set():
            wanted = background.flush_wanted.wait(
                interval_seconds if self.options.fsync == "batch" else None
            )
            if background.stopping.is_set():
                return
            if self.options.fsync == "batch" and self._wal_lock.acquire(blocking=False):
                # Never block on the WAL lock here: a leader holding it may be waiting for
                # this thread to flush. A busy leader syncs on its own when due.
                try:
                    wal = self._wal
                    if wal.synced_bytes != wal.size_bytes and self._batch_sync_due():
                        wal.sync()
                        self._wal_last_sync_seconds = self._clock()
                        self._counters.syncs += 1
                except OSError as os_error:
                    self._enter_read_only(self._wal.path, os_error)
                finally:
                    self._wal_lock.release()
            if not wanted:
                continue
            background.flush_wanted.clear()
            try:
                self._flush_immutable(paced=True)
            except StorageError as error:
                with self._lock:
                    background.error = error
                    self._version_changed.notify_all()
            if self._wal_prepare_requested:
                with contextlib.suppress(OSError):  # a rotation then creates the file itself
                    self._prepare_next_wal()

    def _compactor(self) -> None:
        background = self._background
        while not background.stopping.is_set():
            background.compaction_wanted.wait()
            background.compaction_wanted.clear()
            if background.stopping.is_set():
                return
            with contextlib.suppress(StorageError):  # inputs stay; the next flush asks again
                self._compact_triggered(paced=True)

    # --------------------------------------------------------------------- lifecycle

    def _check_open(self) -> None:
        if self._closed:
            raise StorageClosedError("the store is closed")

    def stats(self) -> StoreStats:
        """A snapshot of the store's counters."""
        with self._lock:
            segments = self._version.segments
            return StoreStats(
                writes_count=self._counters.writes,
                group_commits_count=self._counters.group_commits,
                syncs_count=self._counters.syncs,
                flushes_count=self._counters.flushes,
                compactions_count=self._counters.compactions,
                wal_files_prepared_count=self._counters.wal_files_prepared,
                memtable_bytes=self._memtable_bytes,
                segments_count=len(segments),
                segments_bytes=sum(s.size_bytes for s in segments),
                segment_tiers=tuple(s.tier for s in segments),
                block_cache_bytes=self._block_cache.bytes,
            )

    def wait_for_background(self, timeout_seconds: float = BACKGROUND_WAIT_SECONDS_MAX) -> None:
        """Block until no flush or due compaction is pending (for benchmarks and tests)."""
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            with self._lock:
                idle = self._version.immutable is None and self._compaction_candidate() is None
                busy = self._compaction_lock.locked() or self._flush_lock.locked()
            if idle and not busy:
                return
            if not self.options.background:
                self._flush_immutable()
                self._compact_triggered()
            time.sleep(0.01)
        raise StorageError("background work did not finish in time")

    def close(self) -> None:
        """Stop background work, sync the WAL and release every file. Idempotent."""
        with self._lock:
            if self._closed:
                return
        background = self._background
        background.stopping.set()
        background.flush_wanted.set()
        background.compaction_wanted.set()
        for thread in background.threads:
            thread.join()
        with self._wal_lock:
            if self._read_only_error is None:
                with contextlib.suppress(OSError):  # a failed close-time sync loses nothing acked
                    self._wal.trim()
            self._wal.close()
            prepared, self._wal_prepared = self._wal_prepared, None
            if prepared is not None:
                prepared.close()
                with contextlib.suppress(OSError):
                    self._files.remove(prepared.path)
        with self._lock:
            self._closed = True
            self._version.live = False
            self._version_changed.notify_all()
            self._release(self._version)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# ----------------------------------------------------------------------------- helpers


_PAYLOAD_BYTES_MAX = WAL_RECORD_BYTES_MAX - WAL_RECORD_HEADER_BYTES
"""The largest payload one record frames (a framed record is at most WAL_RECORD_BYTES_MAX)."""


def _checked(operations: Sequence[Operation]) -> _Record:
    """Check ``operations`` and encode them as one WAL payload; also their memtable entries."""
    if not 0 < len(operations) <= BATCH_OPERATIONS_MAX:
        raise StorageArgumentError(f"a batch holds 1 to {BATCH_OPERATIONS_MAX} operations")
    applied = []
    for key, value in operations:
        check_key(key)
        if value is not None:
            check_value(value)
        applied.append((md5(key).digest() + key, value))
    payload = encode_wal_payload(operations)
    if len(payload) > _PAYLOAD_BYTES_MAX:
        raise StorageArgumentError(f"a batch encodes to at most {WAL_RECORD_BYTES_MAX} bytes")
    return payload, tuple(applied)


def _group_record(batch: list[_Record], frame_record: FrameRecord) -> bytes:
    """The WAL bytes of one group: its batches' payloads joined and framed as one record
    (several only past :data:`_PAYLOAD_BYTES_MAX`; see the module docstring for why)."""
    if len(batch) == 1:
        return frame_record(batch[0][0])
    frames: list[bytes] = []
    chunk: list[bytes] = []
    size = 0  # the chunk's payloads' bytes: the joined payload is no longer
    for payload, _ in batch:
        if chunk and size + len(payload) > _PAYLOAD_BYTES_MAX:
            frames.append(frame_record(join_wal_payloads(chunk)))
            chunk, size = [], 0
        chunk.append(payload)
        size += len(payload)
    frames.append(frame_record(join_wal_payloads(chunk)))
    return frames[0] if len(frames) == 1 else b"".join(frames)


def _is_run(segments: tuple[Segment, ...], run: tuple[Segment, ...]) -> bool:
    if not run or run[0] not in segments:
        return False
    start = segments.index(run[0])
    return segments[start : start + len(run)] == run


def _sorted_range(
    items: list[tuple[bytes, bytes | None]], low: bytes, high: bytes | None
) -> Iterator[tuple[bytes, bytes | None]]:
    from bisect import bisect_left

    index = bisect_left(items, (low,))
    while index < len(items):
        item = items[index]
        if high is not None and item[0] >= high:
            return
        yield item
        index += 1


def _merge_newest(
    sources: Sequence[Iterable[tuple[bytes, bytes | None]]],
) -> Iterator[tuple[bytes, bytes | None]]:
    """Merge sorted sources (newest first); for a repeated sort key keep the newest record."""
    # Compared by sort key alone (values are never compared: a marker is None). heapq.merge
    # is sorted(chain(*sources)) lazily, and sorting is stable, so of equal sort keys the
    # one from the earlier, newer source comes first.
    previous: bytes | None = None
    for record in heapq.merge(*sources, key=itemgetter(0)):
        sort_key = record[0]
        if sort_key == previous:
            continue
        previous = sort_key
        yield record


def _merged_records(
    inputs: tuple[Segment, ...], *, includes_oldest: bool, may_drop: MayDrop | None
) -> Iterator[tuple[bytes, bytes | None]]:
    for sort_key, value in _merge_newest([segment.scan(b"", None) for segment in inputs]):
        if (
            value is not None
            and may_drop is not None
            and may_drop(sort_key[POSITION_BYTES:], value)
        ):
            value = None  # reaped: a marker still shadows older versions outside this merge
        if value is None and includes_oldest:
            continue
        yield sort_key, value
