"""``dynamokv bench storage``: the store against SQLite (WAL mode, ``synchronous=FULL``).

Both run in one process, on the same disk, with the same keys and values (DESIGN.md §7:
compare only within one run). Rows:

* durable writes with 1, 16 and 64 writer threads. Every write is acknowledged only once
  it is on disk. SQLite's single-writer row commits one transaction per write. SQLite has
  no group commit across connections (a second writer waits for the write lock), so its
  honest equivalent is built around it: writer threads queue their rows, one committer
  thread commits everything queued in one transaction and then wakes those writers. That is
  the same protocol our WAL uses, with SQLite doing the disk work.
* point reads of random existing keys, one thread, on a store several times larger than
  the memtable (so reads go to segment files; SQLite's page cache is its default 2 MiB,
  and both sets of files sit in the OS page cache).

``--keys N`` runs a separate load of N keys instead and reports peak RSS
(``resource.getrusage``), to show that the memtable bound keeps memory flat.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import resource
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._errors import CliError

WRITER_COUNTS_DEFAULT = (1, 16, 64)
JOIN_SECONDS_MAX = 600.0
SQLITE_BATCH_ROWS_MAX = 10_000
LOAD_BATCH_OPERATIONS = 1000


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "storage",
        help="durable writes and point reads vs SQLite",
        description=(
            "Durable writes/s with 1, 16 and 64 writer threads and point reads/s, for the "
            "dynamokv store and for SQLite (WAL mode, synchronous=FULL) in the same run, "
            "with ratios. --keys N instead loads N keys and reports peak RSS."
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
        "--dir", default=None, help="directory for the files (default: a fresh temp dir)"
    )
    parser.add_argument(
        "--keys",
        type=int,
        default=0,
        help="only load this many keys (batches of 1000, fsync always) and report peak RSS",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.set_defaults(handler=_run)


@dataclass
class _Row:
    workload: str
    ours_per_second: float
    sqlite_per_second: float
    note: str


def _check_arguments(args: argparse.Namespace) -> tuple[int, ...]:

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
    if args.ops < max(writers):
        raise CliError(f"--ops must be at least the largest writer count ({max(writers)})")
    if args.dir is not None and not os.path.isdir(args.dir):
        raise CliError(f"--dir {args.dir} is not a directory")
    return writers


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    writers = _check_arguments(args)
    console = Console()
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
            rows = _compare(progress, base, args, writers)
        _print_table(console, rows, args)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _value(rng: random.Random, size: int) -> bytes:
    return rng.randbytes(size)


def _key(prefix: str, number: int) -> bytes:
    return f"{prefix}-{number:012d}".encode()


# ------------------------------------------------------------------------------- ours


def _ours_writes(
    progress: Any, directory: str, writers: int, ops: int, value: bytes
) -> tuple[float, str]:
    from dynamokv.impl.storage import Store

    task = progress.add_task(f"dynamokv: {writers} writer(s)", total=ops)
    store = Store.open(directory)
    per_thread = ops // writers
    seconds = _threaded(
        writers,
        lambda index: _ours_writer(store, index, per_thread, value),
        lambda: progress.update(task, completed=store.stats().writes_count),
    )
    stats = store.stats()
    progress.update(task, completed=ops)
    store.close()
    group = stats.writes_count / max(1, stats.group_commits_count)
    return per_thread * writers / seconds, f"{group:.1f} writes/fsync"


def _ours_writer(store: Any, index: int, count: int, value: bytes) -> None:
    put = store.put
    for number in range(count):
        put(_key(f"w{index}", number), value)


def _ours_reads(
    progress: Any, directory: str, keys: int, reads: int, value_bytes: int, seed: int
) -> tuple[float, str]:
    from dynamokv.impl.storage import Store

    rng = random.Random(seed)
    load = progress.add_task("dynamokv: load for reads", total=keys)
    store = Store.open(directory)
    for start in range(0, keys, LOAD_BATCH_OPERATIONS):
        end = min(keys, start + LOAD_BATCH_OPERATIONS)
        store.write_batch([(_key("r", n), _value(rng, value_bytes)) for n in range(start, end)])
        progress.update(load, completed=end)
    store.wait_for_background()
    stats = store.stats()
    probes = [_key("r", rng.randrange(keys)) for _ in range(reads)]
    task = progress.add_task("dynamokv: point reads", total=reads)
    get = store.get
    started = time.perf_counter()
    for index in range(0, reads, 1000):
        for key in probes[index : index + 1000]:
            if get(key) is None:
                raise AssertionError(f"benchmark key {key!r} missing")
        progress.update(task, completed=min(reads, index + 1000))
    seconds = time.perf_counter() - started
    store.close()
    note = f"{stats.segments_count} segments, {stats.segments_bytes / 2**20:.0f} MiB"
    return reads / seconds, note


# ----------------------------------------------------------------------------- SQLite


def _sqlite_connect(path: str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
    return connection


class _SqliteGroupCommit:
    """Writer threads queue rows; one committer commits each drained batch in one transaction."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._queue: queue.SimpleQueue[tuple[bytes, bytes, threading.Lock] | None] = (
            queue.SimpleQueue()
        )
        self.written = 0
        self.commits = 0
        self._thread = threading.Thread(target=self._commit_loop, daemon=True)
        self._thread.start()

    def put(self, key: bytes, value: bytes) -> None:
        done = threading.Lock()
        done.acquire()
        self._queue.put((key, value, done))
        done.acquire()  # released by the committer after COMMIT returned

    def _commit_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < SQLITE_BATCH_ROWS_MAX:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "INSERT OR REPLACE INTO kv VALUES (?, ?)", [(k, v) for k, v, _ in batch]
            )
            self._connection.execute("COMMIT")
            self.written += len(batch)
            self.commits += 1
            for _, _, done in batch:
                done.release()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(JOIN_SECONDS_MAX)


def _sqlite_writes(
    progress: Any, directory: str, writers: int, ops: int, value: bytes
) -> tuple[float, str]:
    task = progress.add_task(f"SQLite: {writers} writer(s)", total=ops)
    connection = _sqlite_connect(os.path.join(directory, "bench.sqlite"))
    per_thread = ops // writers
    if writers == 1:
        written = [0]

        def single(_index: int) -> None:
            execute = connection.execute
            for number in range(per_thread):
                execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (_key("w0", number), value))
                written[0] += 1

        seconds = _threaded(1, single, lambda: progress.update(task, completed=written[0]))
        note = "1 transaction per write"
    else:
        group = _SqliteGroupCommit(connection)

        def writer(index: int) -> None:
            for number in range(per_thread):
                group.put(_key(f"w{index}", number), value)

        seconds = _threaded(writers, writer, lambda: progress.update(task, completed=group.written))
        group.close()
        note = f"group commit: {group.written / max(1, group.commits):.1f} writes/transaction"
    progress.update(task, completed=ops)
    connection.close()
    return per_thread * writers / seconds, note


def _sqlite_reads(
    progress: Any, directory: str, keys: int, reads: int, value_bytes: int, seed: int
) -> float:
    rng = random.Random(seed)
    load = progress.add_task("SQLite: load for reads", total=keys)
    connection = _sqlite_connect(os.path.join(directory, "bench.sqlite"))
    for start in range(0, keys, LOAD_BATCH_OPERATIONS):
        end = min(keys, start + LOAD_BATCH_OPERATIONS)
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT OR REPLACE INTO kv VALUES (?, ?)",
            [(_key("r", n), _value(rng, value_bytes)) for n in range(start, end)],
        )
        connection.execute("COMMIT")
        progress.update(load, completed=end)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    probes = [_key("r", rng.randrange(keys)) for _ in range(reads)]
    task = progress.add_task("SQLite: point reads", total=reads)
    execute = connection.execute
    started = time.perf_counter()
    for index in range(0, reads, 1000):
        for key in probes[index : index + 1000]:
            if execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone() is None:
                raise AssertionError(f"benchmark key {key!r} missing")
        progress.update(task, completed=min(reads, index + 1000))
    seconds = time.perf_counter() - started
    connection.close()
    return reads / seconds


# ------------------------------------------------------------------------- harness


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
    progress: Any, base: str, args: argparse.Namespace, writers: tuple[int, ...]
) -> list[_Row]:
    rng = random.Random(args.seed)
    value = _value(rng, args.value_bytes)
    rows = []
    for count in writers:
        ours_directory = tempfile.mkdtemp(dir=base)
        sqlite_directory = tempfile.mkdtemp(dir=base)
        ours, ours_note = _ours_writes(progress, ours_directory, count, args.ops, value)
        theirs, sqlite_note = _sqlite_writes(progress, sqlite_directory, count, args.ops, value)
        rows.append(
            _Row(
                f"durable writes, {count} writer{'s' if count > 1 else ''}",
                ours,
                theirs,
                f"ours: {ours_note}; SQLite: {sqlite_note}",
            )
        )
        shutil.rmtree(ours_directory)
        shutil.rmtree(sqlite_directory)
    ours_directory = tempfile.mkdtemp(dir=base)
    sqlite_directory = tempfile.mkdtemp(dir=base)
    ours, note = _ours_reads(
        progress, ours_directory, args.read_keys, args.reads, args.value_bytes, args.seed
    )
    theirs = _sqlite_reads(
        progress, sqlite_directory, args.read_keys, args.reads, args.value_bytes, args.seed
    )
    rows.append(
        _Row(
            f"point reads, {args.read_keys:,} keys, 1 thread",
            ours,
            theirs,
            f"ours: {note}; random existing keys",
        )
    )
    return rows


def _print_table(console: Any, rows: list[_Row], args: argparse.Namespace) -> None:
    from rich.table import Table

    table = Table(
        title=(
            f"dynamokv store vs SQLite (WAL, synchronous=FULL), {args.value_bytes}-byte values, "
            f"{args.ops:,} writes per row"
        )
    )
    table.add_column("workload")
    table.add_column("dynamokv ops/s", justify="right")
    table.add_column("SQLite ops/s", justify="right")
    table.add_column("ratio", justify="right")
    notes = []
    for row in rows:
        ratio = row.ours_per_second / row.sqlite_per_second
        style = "green" if ratio >= 1.0 else "red"
        table.add_row(
            row.workload,
            f"{row.ours_per_second:,.0f}",
            f"{row.sqlite_per_second:,.0f}",
            f"[{style}]{ratio:.2f}x[/{style}]",
        )
        notes.append(f"{row.workload}: {row.note}")
    console.print(table)
    console.print("ratio = dynamokv / SQLite, higher is better. How each row ran:")
    for note in notes:
        console.print(f"  {note}", soft_wrap=True)
    console.print(
        "  SQLite with several writers: writer threads queue rows, one committer thread "
        "commits each drained batch in one transaction (SQLite has no cross-connection "
        "group commit).",
        soft_wrap=True,
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
