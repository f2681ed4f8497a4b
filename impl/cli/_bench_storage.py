"""``dynamokv bench storage``: the store against SQLite, RocksDB and LMDB, in one run.

Every engine runs in one process, on the same disk, with the same keys, values and number of
operations: only ratios within one run mean anything on a shared machine. Each engine is
used the way its own documentation asks for durable writes:

* **SQLite** in WAL mode with ``synchronous=FULL`` (a commit returns once the WAL is synced),
  a ``WITHOUT ROWID`` table keyed by the key.
* **RocksDB** (``rocksdict``, raw bytes mode) with ``WriteOptions.sync = True`` on every
  write: RocksDB syncs its WAL before the write returns. A batch is one ``WriteBatch``.
* **LMDB** (``lmdb``) with its durable defaults, ``sync=True`` and ``metasync=True`` and no
  ``writemap``: a write transaction's commit returns once its pages and meta page are on disk.
* **dynamokv** with its default ``fsync="always"``: a put returns once its WAL record is
  synced.

Rows:

* durable writes with 1, 16 and 64 writer threads; a write is acknowledged only once it is
  on disk. One writer makes one durable write (transaction) per put. Several writers share
  commits through one class, the store's leader/follower group commit
  (:class:`~dynamokv.impl.storage.GroupCommit`, the site the node's storage adapter commits
  through too): the store puts through it, and a peer's durable batch is wrapped in it, so
  the first writer to find no leader commits everything queued as one WAL write, one
  transaction or one ``WriteBatch``. None of the three peers lets Python threads share a sync by
  itself: SQLite and LMDB admit one writer at a time, and ``rocksdict`` holds the GIL in
  ``put``, so RocksDB's own write group never forms. A sync's latency moves with the
  machine's other disk traffic, so each row runs in ``--rounds`` rounds, the engines in
  alternating order (forward, then backward), each round on fresh files, and reports each
  engine's median round.
* point reads of random existing keys, one thread, counted per second of that thread's CPU
  time (a read waits for no disk here, so wall time would only add the machine's other
  jobs), on data several times larger than the store's memtable. After the load every
  engine finishes its own background work (the store's flushes and compactions; no engine
  is asked to flush unless ``--flush``), then one untimed pass over the probes warms the
  engine's caches and a timed pass gives the *warm* row; the engine is closed and reopened
  and a timed pass gives the *cold* row (its caches empty, its log replayed; the files stay
  in the OS page cache). LMDB reads run in one read transaction per 1,000 reads (read
  transactions are meant to be reused).

The table's title gives the load average before and after the run.

``--keys N`` runs a separate load of N keys into the store instead and reports peak RSS
(``resource.getrusage``), to show that the memtable bound keeps memory flat.
"""

from __future__ import annotations

import abc
import argparse
import os
import random
import resource
import shutil
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ._bench_results import machine_description, write_results
from ._errors import CliError
from ._types import output_file

if TYPE_CHECKING:
    from dynamokv.impl.storage import GroupCommit

WRITER_COUNTS_DEFAULT = (1, 16, 64)
PEERS = ("sqlite", "rocksdb", "lmdb")
LABELS = {"dynamokv": "dynamokv", "sqlite": "SQLite", "rocksdb": "RocksDB", "lmdb": "LMDB"}
JOIN_SECONDS_MAX = 600.0
LOAD_BATCH_OPERATIONS = 1000
READ_CHUNK_OPERATIONS = 1000
ROCKSDB_BACKGROUND_PROPERTIES = (
    "rocksdb.num-running-flushes",
    "rocksdb.num-running-compactions",
    "rocksdb.mem-table-flush-pending",
    "rocksdb.compaction-pending",
)
LMDB_MAP_BYTES = 8 << 30
"""LMDB's map size: address space reserved, not disk used (the file grows as written)."""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "storage",
        help="durable writes and point reads vs SQLite, RocksDB and LMDB",
        description=(
            "Durable writes/s with 1, 16 and 64 writer threads and point reads/s, for the "
            "dynamokv store and for SQLite (WAL, synchronous=FULL), RocksDB (synced writes) "
            "and LMDB (synced commits) in the same run, with ratios. --keys N instead loads "
            "N keys and reports peak RSS."
        ),
    )
    parser.add_argument(
        "--ops", type=int, default=12_000, help="durable writes per row (default 12000)"
    )
    parser.add_argument("--reads", type=int, default=100_000, help="point reads (default 100000)")
    parser.add_argument(
        "--read-keys",
        type=int,
        default=200_000,
        help="keys in the store for the read row (default 200000, several memtables)",
    )
    parser.add_argument(
        "--value-bytes", type=int, default=100, help="value size in bytes (default 100)"
    )
    parser.add_argument(
        "--writers",
        default=",".join(str(n) for n in WRITER_COUNTS_DEFAULT),
        help="comma-separated writer thread counts (default 1,16,64)",
    )
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="comma-separated engines to compare against (default sqlite,rocksdb,lmdb)",
    )
    parser.add_argument(
        "--dir", default=None, help="directory for the files (default: a fresh temp dir)"
    )
    parser.add_argument(
        "--keys",
        type=int,
        default=0,
        help="only load this many keys (batches of 1000, fsync always) and report peak RSS",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="rounds per write row, engines in alternating order; the median is reported "
        "(default 3; --ops is split between them)",
    )
    parser.add_argument(
        "--flush",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="before the reads, flush every engine's memtable to its files (RocksDB flush, "
        "SQLite checkpoint, the store's flush; default: no)",
    )
    parser.add_argument(
        "--store-group-commit",
        choices=("leader", "committer"),
        default="leader",
        help="how the store's concurrent writers share fsyncs: its own leader/follower "
        "group commit (default), or the alternative it was chosen over, one committer "
        "thread draining a queue into write_batch",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--json",
        type=output_file,
        default=None,
        help="also write the results to this JSON file",
    )
    parser.set_defaults(handler=_run)


@dataclass
class _Row:
    """One workload: operations per second of each engine, and how each ran.

    ``per_second`` is the median of ``rounds`` (every round's rate, in the order run).
    """

    workload: str
    writers: int
    per_second: dict[str, float] = field(default_factory=dict)
    rounds: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, engine: str, rate: float, note: str) -> None:
        self.rounds.setdefault(engine, []).append(rate)
        self.per_second[engine] = statistics.median(self.rounds[engine])
        self.notes[engine] = note


def _check_arguments(args: argparse.Namespace) -> tuple[tuple[int, ...], tuple[str, ...]]:

    for name in ("ops", "reads", "read_keys"):
        value = getattr(args, name)
        if not 1 <= value <= 100_000_000:
            raise CliError(f"--{name.replace('_', '-')} must be between 1 and 100000000")
    if not 0 <= args.keys <= 100_000_000:
        raise CliError("--keys must be between 0 and 100000000")
    if not 1 <= args.value_bytes <= 1 << 20:
        raise CliError("--value-bytes must be between 1 and 1048576")
    try:
        writers = tuple(int(part) for part in args.writers.split(","))
    except ValueError:
        raise CliError(
            f"--writers must be comma-separated integers, not {args.writers!r}"
        ) from None
    if not writers or any(not 1 <= count <= 1024 for count in writers):
        raise CliError("--writers counts must be between 1 and 1024")
    if not 1 <= args.rounds <= 20:
        raise CliError("--rounds must be between 1 and 20")
    if args.ops // args.rounds < max(writers):
        raise CliError(
            f"--ops must be at least --rounds times the largest writer count "
            f"({args.rounds * max(writers)})"
        )
    peers = tuple(part.strip().lower() for part in args.peers.split(",") if part.strip())
    if any(peer not in PEERS for peer in peers) or len(set(peers)) != len(peers):
        raise CliError(f"--peers takes distinct names among {','.join(PEERS)}, not {args.peers!r}")
    if args.dir is not None and not os.path.isdir(args.dir):
        raise CliError(f"--dir {args.dir} is not a directory")
    return writers, peers


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    writers, peers = _check_arguments(args)
    machine = machine_description()
    console = Console()
    if not console.is_terminal:
        console.width = max(console.width, 150)
    if not args.keys:
        for peer in peers:
            _ENGINE_CLASSES[peer].check_installed()
    base = tempfile.mkdtemp(prefix="dynamokv-bench-storage-", dir=args.dir)
    progress = Progress(
        TextColumn("{task.description:<38}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        with progress:
            if args.keys:
                _load_for_rss(progress, base, args, console)
                return 0
            load_before = _load_average()
            rows = _compare(progress, base, args, writers, peers)
            load_after = _load_average()
        _print_table(console, rows, args, peers, (load_before, load_after))
        if args.json:
            _write_json(Path(args.json), rows, args, machine, (load_before, load_after))
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _value(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _key(prefix: str, number: int) -> bytes:
    return f"{prefix}-{number:012d}".encode()


def _load_average() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


# ---------------------------------------------------------------------------- engines


class _Engine(abc.ABC):
    """One engine under test: durable puts, durable batches, point reads."""

    label: ClassVar[str] = ""
    package: ClassVar[str] = ""

    @classmethod
    def check_installed(cls) -> None:
        """Raise a one-line error naming the package when the engine's binding is missing."""
        if not cls.package:
            return
        try:
            __import__(cls.package)
        except ImportError:
            raise CliError(
                f"{cls.label} needs the Python package {cls.package}: "
                "pip install 'dynamokv[bench]', or leave it out of --peers"
            ) from None

    @abc.abstractmethod
    def __init__(self, directory: str) -> None:
        """Open (or create) the engine's files in ``directory``."""

    @abc.abstractmethod
    def put(self, key: bytes, value: bytes) -> None:
        """One durable write (one transaction), returning once it is on disk."""

    @abc.abstractmethod
    def commit(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        """Many writes in one durable transaction, returning once they are on disk."""

    def concurrent_put(self) -> tuple[Callable[[bytes, bytes], None], Callable[[], str]]:
        """A ``put`` for many threads at once, and how its commits were shared.

        A peer shares commits through the store's own group commit
        (:class:`~dynamokv.impl.storage.GroupCommit`) around :meth:`commit`: one durable
        transaction or ``WriteBatch`` per group.
        """
        from dynamokv.impl.storage import GroupCommit

        commit = self.commit
        group: GroupCommit[tuple[bytes, bytes]] = GroupCommit(lambda take: commit(take()))
        self._group = group

        def put(key: bytes, value: bytes) -> None:
            group.submit((key, value))

        return put, lambda: f"{group.items_count / max(1, group.groups_count):.1f} writes/commit"

    _group: GroupCommit[tuple[bytes, bytes]] | None = None

    def written(self) -> int:
        """Writes made so far through :meth:`concurrent_put` (for the progress bar)."""
        return self._group.items_count if self._group is not None else 0

    @abc.abstractmethod
    def settle(self) -> None:
        """After a load: wait until the engine's own background work is done."""

    @abc.abstractmethod
    def flush(self) -> None:
        """Move what the engine holds in memory or in its log into its main files."""

    @abc.abstractmethod
    def read_chunk(self, keys: Sequence[bytes]) -> int:
        """Point-read every key; return how many were missing."""

    def describe(self) -> str:
        """A note on how the data sat for the reads."""
        return "random existing keys"

    @abc.abstractmethod
    def caches(self) -> str:
        """What the engine caches for reads, and how much of it is in use."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the engine's files (a durable engine loses nothing acknowledged)."""


class _StoreEngine(_Engine):
    """The dynamokv store with its defaults (``fsync="always"``)."""

    label = "dynamokv"
    group_commit = "leader"
    """``--store-group-commit``: ``"leader"`` or ``"committer"`` (:class:`_Committer`)."""

    def __init__(self, directory: str) -> None:
        from dynamokv.impl.storage import Store

        self._store = Store.open(directory)
        self._committer: _Committer | None = None

    def put(self, key: bytes, value: bytes) -> None:
        self._store.put(key, value)

    def commit(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        self._store.write_batch(pairs)

    def concurrent_put(self) -> tuple[Callable[[bytes, bytes], None], Callable[[], str]]:
        """The store's own group commit: concurrent ``put`` calls share each fsync."""
        store = self._store

        def note() -> str:
            stats = store.stats()
            return f"{stats.writes_count / max(1, stats.group_commits_count):.1f} writes/fsync"

        if self.group_commit == "committer":
            committer = self._committer = _Committer(store.write_batch)
            return (
                committer.put,
                lambda: (
                    f"{committer.written / max(1, committer.commits):.1f} writes/fsync "
                    "(one committer thread)"
                ),
            )
        return store.put, note

    def written(self) -> int:
        if self._committer is not None:
            return self._committer.written
        return self._store.stats().writes_count

    def settle(self) -> None:
        self._store.wait_for_background()

    def flush(self) -> None:
        self._store.flush()
        self._store.wait_for_background()

    def read_chunk(self, keys: Sequence[bytes]) -> int:
        get = self._store.get
        return sum(1 for key in keys if get(key) is None)

    def caches(self) -> str:
        used = self._store.stats().block_cache_bytes / 2**20
        bound = self._store.options.block_cache_bytes_max / 2**20
        return f"decoded block cache {used:.0f} of {bound:.0f} MiB"

    def describe(self) -> str:
        stats = self._store.stats()
        return (
            f"{stats.segments_count} segments, {stats.segments_bytes / 2**20:.0f} MiB, "
            f"memtable {stats.memtable_bytes / 2**20:.1f} MiB"
        )

    def close(self) -> None:
        if self._committer is not None:
            self._committer.stop()
        self._store.close()


class _SqlitePeer(_Engine):
    """SQLite, WAL mode, ``synchronous=FULL``: each autocommit statement is a durable write."""

    label = "SQLite"

    def __init__(self, directory: str) -> None:
        connection = sqlite3.connect(
            os.path.join(directory, "bench.sqlite"), isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID"
        )
        self._connection = connection

    def put(self, key: bytes, value: bytes) -> None:
        self._connection.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    def commit(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        connection = self._connection
        connection.execute("BEGIN")
        connection.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?)", pairs)
        connection.execute("COMMIT")

    def settle(self) -> None:
        """Nothing runs in the background: SQLite checkpoints inside the writing commit."""

    def flush(self) -> None:
        self._connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def caches(self) -> str:
        (size,) = self._connection.execute("PRAGMA cache_size").fetchone()
        pages = f"{-size} KiB" if size < 0 else f"{size} pages"
        return f"page cache {pages} (PRAGMA cache_size)"

    def read_chunk(self, keys: Sequence[bytes]) -> int:
        execute = self._connection.execute
        return sum(
            1 for key in keys if execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone() is None
        )

    def close(self) -> None:
        self._connection.close()


class _RocksdbPeer(_Engine):
    """RocksDB through ``rocksdict`` in raw bytes mode, every write synced (``sync=True``)."""

    label = "RocksDB"
    package = "rocksdict"

    def __init__(self, directory: str) -> None:
        import rocksdict

        self._write_batch = rocksdict.WriteBatch
        self._db = rocksdict.Rdict(directory, rocksdict.Options(raw_mode=True))
        self._synced = rocksdict.WriteOptions()
        self._synced.sync = True

    def put(self, key: bytes, value: bytes) -> None:
        self._db.put(key, value, self._synced)

    def commit(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        batch = self._write_batch(raw_mode=True)
        for key, value in pairs:
            batch.put(key, value)
        self._db.write(batch, self._synced)

    def settle(self) -> None:
        """Wait until RocksDB runs and plans no flush or compaction (its background threads)."""
        deadline = time.monotonic() + JOIN_SECONDS_MAX
        while time.monotonic() < deadline and any(
            self._db.property_int_value(name) for name in ROCKSDB_BACKGROUND_PROPERTIES
        ):
            time.sleep(0.05)

    def flush(self) -> None:
        self._db.flush(True)
        self.settle()

    def caches(self) -> str:
        used = self._db.property_int_value("rocksdb.block-cache-usage") or 0
        bound = self._db.property_int_value("rocksdb.block-cache-capacity") or 0
        return f"block cache {used / 2**20:.0f} of {bound / 2**20:.0f} MiB"

    def read_chunk(self, keys: Sequence[bytes]) -> int:
        get = self._db.get
        return sum(1 for key in keys if get(key) is None)

    def close(self) -> None:
        self._db.close()


class _LmdbPeer(_Engine):
    """LMDB with its durable defaults: ``sync`` and ``metasync`` on, no ``writemap``."""

    label = "LMDB"
    package = "lmdb"

    def __init__(self, directory: str) -> None:
        import lmdb

        self._env = lmdb.open(
            directory,
            map_size=LMDB_MAP_BYTES,
            sync=True,
            metasync=True,
            writemap=False,
            map_async=False,
        )

    def put(self, key: bytes, value: bytes) -> None:
        with self._env.begin(write=True) as transaction:
            transaction.put(key, value)

    def commit(self, pairs: Sequence[tuple[bytes, bytes]]) -> None:
        with self._env.begin(write=True) as transaction:
            put = transaction.put
            for key, value in pairs:
                put(key, value)

    def settle(self) -> None:
        """Nothing runs in the background: a commit writes the B+tree pages itself."""

    def flush(self) -> None:
        """Nothing to move: a committed LMDB transaction is already in its B+tree."""

    def caches(self) -> str:
        return "no cache of its own (reads the memory-mapped file)"

    def read_chunk(self, keys: Sequence[bytes]) -> int:
        with self._env.begin() as transaction:
            get = transaction.get
            return sum(1 for key in keys if get(key) is None)

    def close(self) -> None:
        self._env.close()


_ENGINE_CLASSES: dict[str, type[_Engine]] = {
    "dynamokv": _StoreEngine,
    "sqlite": _SqlitePeer,
    "rocksdb": _RocksdbPeer,
    "lmdb": _LmdbPeer,
}


class _Pending:
    """A write queued for :class:`_Committer`, and the lock its thread sleeps on."""

    __slots__ = ("error", "key", "lock", "value")

    def __init__(self, key: bytes, value: bytes) -> None:
        self.key = key
        self.value = value
        self.error: BaseException | None = None
        self.lock = threading.Lock()
        self.lock.acquire()


class _Committer:
    """The alternative to a leader/follower group commit: one thread commits for everyone.

    Writers queue their pair and sleep on their own lock; the committer thread takes
    everything queued, commits it with one ``write_batch`` and wakes those writers.
    """

    def __init__(self, commit: Callable[[Sequence[tuple[bytes, bytes]]], None]) -> None:
        self._commit = commit
        self._queued = threading.Condition()
        self._queue: list[_Pending] = []
        self._stopping = False
        self.written = 0
        self.commits = 0
        self._thread = threading.Thread(target=self._run, name="bench-committer", daemon=True)
        self._thread.start()

    def put(self, key: bytes, value: bytes) -> None:
        me = _Pending(key, value)
        with self._queued:
            self._queue.append(me)
            self._queued.notify()
        me.lock.acquire()  # released by the committer once our batch is durable
        if me.error is not None:
            raise me.error

    def _run(self) -> None:
        while True:
            with self._queued:
                while not self._queue and not self._stopping:
                    self._queued.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            error: BaseException | None = None
            try:
                self._commit([(pending.key, pending.value) for pending in batch])
            except BaseException as failure:
                error = failure
            for pending in batch:
                pending.error = error
                pending.lock.release()
            self.written += len(batch)
            self.commits += 1

    def stop(self) -> None:
        with self._queued:
            self._stopping = True
            self._queued.notify()
        self._thread.join(JOIN_SECONDS_MAX)


def _writes(
    progress: Any, engine_name: str, directory: str, writers: int, ops: int, value: bytes
) -> tuple[float, str]:
    """Durable writes/s of one engine with ``writers`` threads, on fresh files."""
    engine_class = _ENGINE_CLASSES[engine_name]
    task = progress.add_task(f"{engine_class.label}: {writers} writer(s)", total=ops)
    engine = engine_class(directory)
    per_thread = ops // writers
    try:
        if writers == 1:
            written = [0]

            def single(_index: int) -> None:
                put = engine.put
                for number in range(per_thread):
                    put(_key("w0", number), value)
                    written[0] += 1

            seconds = _threaded(1, single, lambda: progress.update(task, completed=written[0]))
            note = "1 transaction per write" if engine_name != "dynamokv" else "1 fsync per write"
        else:
            put, describe = engine.concurrent_put()

            def writer(index: int) -> None:
                for number in range(per_thread):
                    put(_key(f"w{index}", number), value)

            seconds = _threaded(
                writers, writer, lambda: progress.update(task, completed=engine.written())
            )
            note = describe()
    finally:
        engine.close()
    progress.update(task, completed=ops)
    return per_thread * writers / seconds, note


def _reads(
    progress: Any,
    engine_name: str,
    directory: str,
    args: argparse.Namespace,
    probes: Sequence[bytes],
) -> tuple[float, float, str]:
    """Point reads per CPU-second of one engine: warm, then cold (reopened)."""
    engine_class = _ENGINE_CLASSES[engine_name]
    rng = random.Random(args.seed)
    keys = args.read_keys
    load = progress.add_task(f"{engine_class.label}: load for reads", total=keys)
    engine = engine_class(directory)
    try:
        for start in range(0, keys, LOAD_BATCH_OPERATIONS):
            end = min(keys, start + LOAD_BATCH_OPERATIONS)
            engine.commit(
                [(_key("r", n), _value(rng, args.value_bytes)) for n in range(start, end)]
            )
            progress.update(load, completed=end)
        engine.settle()
        if args.flush:
            engine.flush()
        note = engine.describe()
        label = engine_class.label
        _timed_reads(progress, f"{label}: warm-up reads", probes, engine.read_chunk)
        warm = _timed_reads(progress, f"{label}: warm point reads", probes, engine.read_chunk)
        note = f"{note}, {engine.caches()}"
    finally:
        engine.close()
    engine = engine_class(directory)
    try:
        cold = _timed_reads(progress, f"{label}: cold point reads", probes, engine.read_chunk)
    finally:
        engine.close()
    return warm, cold, note


# ------------------------------------------------------------------------- harness


def _timed_reads(
    progress: Any, label: str, probes: Sequence[bytes], read_chunk: Callable[[Sequence[bytes]], int]
) -> float:
    """Reads per CPU-second of this thread over ``probes``, in chunks; all must be found.

    A point read never waits for the disk here (the files sit in the page cache), so its
    cost is CPU: the reading thread's CPU time (``time.thread_time``, native code of the
    engine included) does not count the other jobs of a shared machine, as wall time would.
    """
    task = progress.add_task(label, total=len(probes))
    started = time.thread_time()
    for index in range(0, len(probes), READ_CHUNK_OPERATIONS):
        missing = read_chunk(probes[index : index + READ_CHUNK_OPERATIONS])
        if missing:
            raise AssertionError(f"{label}: {missing} benchmark keys missing")
        progress.update(task, completed=min(len(probes), index + READ_CHUNK_OPERATIONS))
    return len(probes) / (time.thread_time() - started)


def _threaded(count: int, target: Callable[[int], None], report: Callable[[], None]) -> float:
    """Run ``target(i)`` on ``count`` threads started together; return the wall seconds."""
    barrier = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def body(index: int) -> None:
        barrier.wait()
        try:
            target(index)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    deadline = started + JOIN_SECONDS_MAX
    for thread in threads:
        while thread.is_alive() and time.perf_counter() < deadline:
            thread.join(0.1)
            report()
    seconds = time.perf_counter() - started
    if errors:
        raise errors[0]
    return seconds


def _compare(
    progress: Any,
    base: str,
    args: argparse.Namespace,
    writers: tuple[int, ...],
    peers: tuple[str, ...],
) -> list[_Row]:
    rng = random.Random(args.seed)
    value = _value(rng, args.value_bytes)
    engines = ("dynamokv", *peers)
    _StoreEngine.group_commit = args.store_group_commit
    ops_per_round = args.ops // args.rounds
    rows = []
    for count in writers:
        row = _Row(f"durable writes, {count} writer{'s' if count > 1 else ''}", count)
        for round_index in range(args.rounds):
            order = engines if round_index % 2 == 0 else engines[::-1]
            for engine in order:
                directory = tempfile.mkdtemp(dir=base)
                rate, note = _writes(progress, engine, directory, count, ops_per_round, value)
                row.add(engine, rate, note)
                shutil.rmtree(directory)
        rows.append(row)
    probe_rng = random.Random(args.seed + 1)
    probes = [_key("r", probe_rng.randrange(args.read_keys)) for _ in range(args.reads)]
    flushed = ", flushed" if args.flush else ""
    warm = _Row(f"point reads per CPU-second, warm ({args.read_keys:,} keys{flushed})", 0)
    cold = _Row(f"point reads per CPU-second, cold: reopened ({args.read_keys:,} keys{flushed})", 0)
    for engine in engines:
        directory = tempfile.mkdtemp(dir=base)
        warm_rate, cold_rate, note = _reads(progress, engine, directory, args, probes)
        warm.add(engine, warm_rate, note)
        cold.add(engine, cold_rate, note)
        shutil.rmtree(directory)
    rows += [warm, cold]
    return rows


def _print_table(
    console: Any,
    rows: list[_Row],
    args: argparse.Namespace,
    peers: tuple[str, ...],
    loads: tuple[float, float],
) -> None:
    from rich.table import Table

    engines = ("dynamokv", *peers)
    table = Table(
        title=(
            f"dynamokv store vs {', '.join(LABELS[p] for p in peers) or 'no peer'}: "
            f"{args.value_bytes}-byte values, {args.ops:,} durable writes per row in "
            f"{args.rounds} round(s) (median); load average {loads[0]:.1f} before, "
            f"{loads[1]:.1f} after"
        )
    )
    table.add_column("workload")
    for engine in engines:
        table.add_column(f"{LABELS[engine]} ops/s", justify="right")
    for peer in peers:
        table.add_column(f"vs {LABELS[peer]}", justify="right")
    for row in rows:
        ours = row.per_second["dynamokv"]
        ratios = []
        for peer in peers:
            ratio = ours / row.per_second[peer]
            style = "green" if ratio >= 1.0 else "red"
            ratios.append(f"[{style}]{ratio:.2f}x[/{style}]")
        table.add_row(
            row.workload, *(f"{row.per_second[engine]:,.0f}" for engine in engines), *ratios
        )
    console.print(table)
    console.print("vs X = dynamokv ops/s / X ops/s, higher is better. How each row ran:")
    for row in rows:
        notes = "; ".join(f"{LABELS[engine]}: {row.notes[engine]}" for engine in engines)
        console.print(f"  {row.workload}: {notes}", soft_wrap=True)
        if len(row.rounds["dynamokv"]) > 1:
            spread = "; ".join(
                f"{LABELS[engine]} {min(row.rounds[engine]):,.0f}-{max(row.rounds[engine]):,.0f}"
                for engine in engines
            )
            console.print(f"    rounds: {spread}", soft_wrap=True)
    durability = {
        "sqlite": "SQLite: WAL, synchronous=FULL",
        "rocksdb": "RocksDB: WriteOptions.sync",
        "lmdb": "LMDB: sync and metasync",
    }
    console.print(
        "  Several writers: every engine shares commits through the store's group commit "
        "(GroupCommit), the store's around its WAL, a peer's around its durable batch. "
        + "; ".join(["dynamokv: fsync=always", *(durability[peer] for peer in peers)])
        + ".",
        soft_wrap=True,
    )


def _write_json(
    path: Path,
    rows: list[_Row],
    args: argparse.Namespace,
    machine: str,
    loads: tuple[float, float],
) -> None:
    write_results(
        path,
        benchmark="storage",
        args=args,
        machine=f"{machine}, {loads[1]:.1f} at the end",
        results=[
            {
                "workload": row.workload,
                "writers": row.writers,
                "ops_per_second": row.per_second,
                "rounds": row.rounds,
                "notes": row.notes,
            }
            for row in rows
        ],
    )


def _load_for_rss(progress: Any, base: str, args: argparse.Namespace, console: Any) -> None:
    from dynamokv.impl.storage import Store

    rng = random.Random(args.seed)
    keys = args.keys
    before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    task = progress.add_task(f"dynamokv: load {keys:,} keys", total=keys)
    store = Store.open(os.path.join(base, "rss"))
    started = time.perf_counter()
    for start in range(0, keys, LOAD_BATCH_OPERATIONS):
        end = min(keys, start + LOAD_BATCH_OPERATIONS)
        store.write_batch(
            [(_key("k", n), _value(rng, args.value_bytes)) for n in range(start, end)]
        )
        progress.update(task, completed=end)
    store.wait_for_background(timeout_seconds=3600)
    seconds = time.perf_counter() - started
    probe = random.Random(args.seed + 1)
    for _ in range(1000):
        if store.get(_key("k", probe.randrange(keys))) is None:
            raise AssertionError("a loaded key is missing")
    stats = store.stats()
    store.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data_mib = keys * (args.value_bytes + len(_key("k", 0))) / 2**20
    console.print(
        f"loaded {keys:,} keys x {args.value_bytes} B ({data_mib:,.0f} MiB of keys and values) "
        f"in {seconds:,.1f} s ({keys / seconds:,.0f} keys/s, batches of {LOAD_BATCH_OPERATIONS}, "
        f"fsync always)\n"
        f"segments: {stats.segments_count} (tiers {list(stats.segment_tiers)}), "
        f"{stats.segments_bytes / 2**20:,.0f} MiB on disk; flushes {stats.flushes_count}, "
        f"compactions {stats.compactions_count}\n"
        f"peak RSS: {peak_kib / 1024:,.0f} MiB (before the load: {before_kib / 1024:,.0f} MiB)"
    )
