"""The file layer: every byte the store reads or writes goes through :class:`Files`.

Two implementations share one small interface:

* :class:`OsFiles` is the real thing: ``os.open``/``os.write``/``os.pread``/``os.fdatasync``
  on raw descriptors (no Python buffering, so "written" means "handed to the kernel").
* :class:`FaultyFiles` keeps files in memory and models what a crash does to them, the way
  FoundationDB's and TigerBeetle's simulators do: bytes not yet ``sync``-ed may be lost or
  torn at any byte on :meth:`FaultyFiles.crash`; a created, removed or renamed name is only
  durable once its directory is synced; writes can fail (``ENOSPC``, ``EIO``), possibly after
  a torn prefix reached the file. Every random choice comes from an injected
  :class:`random.Random`, so the deterministic simulator replays a run byte for byte.

The interface is deliberately POSIX-shaped (append, sync, truncate, rename, sync the
directory), because the store's crash safety is an argument about exactly those calls.
"""

from __future__ import annotations

import errno
import os
import random
from dataclasses import dataclass, field
from typing import Protocol

from ._errors import StorageClosedError


class WritableFile(Protocol):
    """A file opened for appending. ``write`` is all-or-error."""

    path: str

    def write(self, data: bytes) -> None:
        """Append ``data``; raise :class:`OSError` if not all of it was written."""

    def sync(self) -> None:
        """Make every byte written so far durable (``fdatasync``)."""

    def truncate(self, size_bytes: int) -> None:
        """Cut the file to ``size_bytes``; later writes append after it."""

    def preallocate(self, size_bytes: int) -> None:
        """Extend the file with zero bytes to ``size_bytes`` without moving the write position.

        Later writes overwrite the zeros in place, so their ``fdatasync`` need not update the
        file size (as SQLite's WAL reuses its file). Durable only after :meth:`sync`.
        """

    def close(self) -> None:
        """Release the handle (does not sync)."""


class ReadableFile(Protocol):
    """A file opened for positional reads; safe to share between threads."""

    path: str

    def read_at(self, offset: int, size_bytes: int) -> bytes:
        """Return up to ``size_bytes`` bytes starting at ``offset`` (fewer at end of file)."""

    def size(self) -> int:
        """The file's current length in bytes."""

    def close(self) -> None:
        """Release the handle."""


class Files(Protocol):
    """The directory operations the store needs; paths are plain strings."""

    def create(self, path: str) -> WritableFile:
        """Create a new, empty file for appending; fail if it exists."""

    def open_append(self, path: str) -> WritableFile:
        """Open an existing file for appending at its end."""

    def open_read(self, path: str) -> ReadableFile:
        """Open an existing file for positional reads."""

    def read_all(self, path: str) -> bytes:
        """Return the whole content of an existing file."""

    def list_names(self, directory: str) -> list[str]:
        """Names (not paths) in ``directory``, sorted."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` names a file."""

    def remove(self, path: str) -> None:
        """Unlink ``path`` (open handles keep working, as on POSIX)."""

    def rename(self, source: str, target: str) -> None:
        """Atomically replace ``target`` with ``source``."""

    def make_directory(self, directory: str) -> None:
        """Create ``directory`` and its parents if missing, each durable in its parent."""

    def sync_directory(self, directory: str) -> None:
        """Make creations, removals and renames in ``directory`` durable."""


# --------------------------------------------------------------------------- real files


class _OsWritableFile:
    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def sync(self) -> None:
        os.fdatasync(self._fd)

    def truncate(self, size_bytes: int) -> None:
        os.ftruncate(self._fd, size_bytes)
        os.lseek(self._fd, size_bytes, os.SEEK_SET)

    def preallocate(self, size_bytes: int) -> None:
        end = os.fstat(self._fd).st_size
        zeros = bytes(min(_ZEROS_CHUNK_BYTES, max(0, size_bytes - end)))
        while end < size_bytes:
            end += os.pwrite(self._fd, zeros[: size_bytes - end], end)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


_ZEROS_CHUNK_BYTES = 1 << 20


class _OsReadableFile:
    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd = fd
        self.read_at = self._read_at  # bound once: the read path is hot

    def _read_at(self, offset: int, size_bytes: int) -> bytes:
        return os.pread(self._fd, size_bytes, offset)

    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class OsFiles:
    """:class:`Files` on the real file system."""

    def create(self, path: str) -> WritableFile:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        return _OsWritableFile(path, fd)

    def open_append(self, path: str) -> WritableFile:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        os.lseek(fd, 0, os.SEEK_END)
        return _OsWritableFile(path, fd)

    def open_read(self, path: str) -> ReadableFile:
        return _OsReadableFile(path, os.open(path, os.O_RDONLY | os.O_CLOEXEC))

    def read_all(self, path: str) -> bytes:
        with open(path, "rb") as file:
            return file.read()

    def list_names(self, directory: str) -> list[str]:
        return sorted(os.listdir(directory))

    def exists(self, path: str) -> bool:
        return os.path.isfile(path)

    def remove(self, path: str) -> None:
        os.remove(path)

    def rename(self, source: str, target: str) -> None:
        os.replace(source, target)

    def make_directory(self, directory: str) -> None:
        # Each directory created is made durable in its parent: a directory entry not yet
        # on disk would take the files fsynced inside it with it on a power loss.
        missing: list[str] = []
        path = os.path.abspath(directory)
        while not os.path.isdir(path):
            missing.append(path)
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
        for path in reversed(missing):
            os.makedirs(path, exist_ok=True)
            self.sync_directory(os.path.dirname(path))

    def sync_directory(self, directory: str) -> None:
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------- simulated files


@dataclass(eq=False)
class _Inode:
    """One file's bytes: ``data`` as the process sees it, ``durable`` as the disk holds it."""

    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""


class _FaultyWritableFile:
    def __init__(self, files: FaultyFiles, path: str, inode: _Inode, position: int) -> None:
        self.path = path
        self._files = files
        self._inode = inode
        self._position = position
        self._generation = files.generation

    def _check(self) -> None:
        if self._generation != self._files.generation:
            raise StorageClosedError(f"{self.path}: handle from before a simulated crash")

    def _put(self, data: bytes) -> None:
        self._inode.data[self._position : self._position + len(data)] = data
        self._position += len(data)

    def write(self, data: bytes) -> None:
        self._check()
        torn = self._files._before_write(self.path, len(self._inode.data), data)
        if torn is not None:
            self._put(torn)
            raise self._files._write_error
        self._put(data)

    def sync(self) -> None:
        self._check()
        self._files._before_sync(self.path)
        self._inode.durable = bytes(self._inode.data)

    def truncate(self, size_bytes: int) -> None:
        self._check()
        del self._inode.data[size_bytes:]
        self._position = size_bytes

    def preallocate(self, size_bytes: int) -> None:
        self._check()
        missing = size_bytes - len(self._inode.data)
        if missing > 0:
            self._inode.data += bytes(missing)

    def close(self) -> None:
        """Nothing to release: an in-memory file holds no descriptor."""


class _FaultyReadableFile:
    def __init__(self, files: FaultyFiles, path: str, inode: _Inode) -> None:
        self.path = path
        self._files = files
        self._inode = inode
        self._generation = files.generation

    def read_at(self, offset: int, size_bytes: int) -> bytes:
        if self._generation != self._files.generation:
            raise StorageClosedError(f"{self.path}: handle from before a simulated crash")
        return bytes(self._inode.data[offset : offset + size_bytes])

    def size(self) -> int:
        return len(self._inode.data)

    def close(self) -> None:
        """Nothing to release: an in-memory file holds no descriptor."""


def _common_prefix_bytes(first: bytes, second: bytes) -> int:
    """Length of the longest common prefix (binary search on C-level slice compares)."""
    low, high = 0, min(len(first), len(second))
    while low < high:
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


class FaultyFiles:
    """In-memory :class:`Files` with deterministic fault injection for tests and the simulator.

    Faults, all reproducible from ``rng``:

    * :meth:`crash` loses what was not synced. Each file keeps its durable bytes plus, with
      probability ``torn_probability``, a random prefix of its unsynced appended bytes (a torn
      write); directory changes not followed by :meth:`sync_directory` are undone. With
      ``page_bytes``, a torn file keeps a random subset of its unsynced pages instead of a
      prefix: writeback does not keep a write's pages in order, so a power failure can
      leave a later page of one ``write`` on disk and an earlier one not.
    * :meth:`fail_next_writes` makes the next ``count`` writes fail with ``error_number``
      (after a torn prefix of the data reached the file, if ``torn`` is true);
      :meth:`fail_next_syncs` does the same for ``sync``.
    * ``disk_bytes_max`` models a small disk: a write that would exceed it fails with
      ``ENOSPC``.
    * ``write_error_probability`` fails random writes with ``EIO``.
    * :meth:`corrupt` flips bits in a file (bit rot), for checksum and recovery tests.

    After a crash, handles opened before it raise :class:`StorageClosedError`; open the store
    again on the same :class:`FaultyFiles` to recover.
    """

    def __init__(
        self,
        rng: random.Random,
        *,
        torn_probability: float = 0.5,
        page_bytes: int | None = None,
        disk_bytes_max: int | None = None,
        write_error_probability: float = 0.0,
    ) -> None:
        self.rng = rng
        self.torn_probability = torn_probability
        if page_bytes is not None and page_bytes < 1:
            raise ValueError(f"page_bytes must be at least 1, not {page_bytes}")
        self.page_bytes = page_bytes
        self.disk_bytes_max = disk_bytes_max
        self.write_error_probability = write_error_probability
        self.generation = 0
        self.crash_count = 0
        self._names: dict[str, _Inode] = {}
        self._durable_names: dict[str, _Inode] = {}
        self._directories: set[str] = set()
        self._write_failures: list[tuple[int, bool]] = []
        self._sync_failures: list[int] = []
        self._write_error = OSError(errno.EIO, os.strerror(errno.EIO))

    # fault controls ------------------------------------------------------------------

    def fail_next_writes(
        self, count: int = 1, *, error_number: int = errno.ENOSPC, torn: bool = True
    ) -> None:
        """Make the next ``count`` writes fail with ``error_number``."""
        self._write_failures.extend([(error_number, torn)] * count)

    def fail_next_syncs(self, count: int = 1, *, error_number: int = errno.EIO) -> None:
        """Make the next ``count`` syncs fail with ``error_number`` (nothing becomes durable)."""
        self._sync_failures.extend([error_number] * count)

    def corrupt(self, path: str, offset: int, *, mask: int = 0x01) -> None:
        """Flip bits of the byte at ``offset`` of ``path``, on "disk" and in the page cache.

        Models bit rot or a misdirected write, which no checksum-free layer would notice.
        """
        inode = self._inode(path)
        inode.data[offset] ^= mask
        if offset < len(inode.durable):
            durable = bytearray(inode.durable)
            durable[offset] ^= mask
            inode.durable = bytes(durable)

    def clear_faults(self) -> None:
        """Forget pending injected write and sync failures."""
        self._write_failures.clear()
        self._sync_failures.clear()

    def crash(self) -> None:
        """Simulate power loss: keep durable state, tear or drop the rest (see class doc)."""
        self.generation += 1
        self.crash_count += 1
        survivors: dict[str, _Inode] = {}
        seen: dict[int, _Inode] = {}
        for path in sorted(self._durable_names):
            inode = self._durable_names[path]
            if id(inode) not in seen:
                seen[id(inode)] = self._crash_inode(inode)
            survivors[path] = seen[id(inode)]
        self._names = dict(survivors)
        self._durable_names = dict(survivors)
        self.clear_faults()

    def _crash_inode(self, inode: _Inode) -> _Inode:
        durable = inode.durable
        data = bytes(inode.data)
        kept = durable
        if data != durable and self.rng.random() < self.torn_probability:
            # Some prefix of the unsynced changes reached the disk: the file reads as the
            # new bytes up to a random cut, and as the durable bytes after it.
            common = _common_prefix_bytes(data, durable)
            if self.page_bytes is None:
                cut = self.rng.randint(common, len(data))
                kept = data[:cut] + durable[cut:]
            else:
                kept = self._some_pages(data, durable, common)
        return _Inode(data=bytearray(kept), durable=kept)

    def _some_pages(self, data: bytes, durable: bytes, common: int) -> bytes:
        """``durable`` with each page that differs from ``data`` replaced by ``data``'s
        page or not, at random. The file keeps the longer of the two lengths (a page past
        the durable end that is not kept reads as zeros, as an unwritten block of a file
        whose size was updated does; an unsynced truncation is not kept)."""
        size = self.page_bytes
        assert size is not None
        kept = bytearray(durable.ljust(len(data), b"\0"))
        for start in range(common - common % size, len(data), size):
            page = data[start : start + size]
            if page != durable[start : start + size] and self.rng.random() < 0.5:
                kept[start : start + len(page)] = page
        return bytes(kept)

    def used_bytes(self) -> int:
        """Bytes held by all files currently named."""
        return sum(len(inode.data) for inode in {id(i): i for i in self._names.values()}.values())

    def _before_write(self, path: str, size_bytes: int, data: bytes) -> bytes | None:
        """``None`` to let the write happen, else the torn prefix to store before failing."""
        failure: tuple[int, bool] | None = None
        if self._write_failures:
            failure = self._write_failures.pop(0)
        elif self.write_error_probability and self.rng.random() < self.write_error_probability:
            failure = (errno.EIO, True)
        elif (
            self.disk_bytes_max is not None and self.used_bytes() + len(data) > self.disk_bytes_max
        ):
            failure = (errno.ENOSPC, True)
        if failure is None:
            return None
        error_number, torn = failure
        self._write_error = OSError(error_number, os.strerror(error_number), path)
        return data[: self.rng.randrange(len(data))] if torn and data else b""

    def _before_sync(self, path: str) -> None:
        if self._sync_failures:
            error_number = self._sync_failures.pop(0)
            raise OSError(error_number, os.strerror(error_number), path)

    # Files --------------------------------------------------------------------------

    def _inode(self, path: str) -> _Inode:
        inode = self._names.get(path)
        if inode is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return inode

    def create(self, path: str) -> WritableFile:
        if path in self._names:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        inode = _Inode()
        self._names[path] = inode
        return _FaultyWritableFile(self, path, inode, 0)

    def open_append(self, path: str) -> WritableFile:
        inode = self._inode(path)
        return _FaultyWritableFile(self, path, inode, len(inode.data))

    def open_read(self, path: str) -> ReadableFile:
        return _FaultyReadableFile(self, path, self._inode(path))

    def read_all(self, path: str) -> bytes:
        return bytes(self._inode(path).data)

    def list_names(self, directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        return sorted(
            path[len(prefix) :]
            for path in self._names
            if path.startswith(prefix) and "/" not in path[len(prefix) :]
        )

    def exists(self, path: str) -> bool:
        return path in self._names

    def remove(self, path: str) -> None:
        self._inode(path)
        del self._names[path]

    def rename(self, source: str, target: str) -> None:
        self._names[target] = self._inode(source)
        del self._names[source]

    def make_directory(self, directory: str) -> None:
        self._directories.add(directory.rstrip("/"))

    def sync_directory(self, directory: str) -> None:
        self._before_sync(directory)
        prefix = directory.rstrip("/") + "/"

        def inside(path: str) -> bool:
            return path.startswith(prefix) and "/" not in path[len(prefix) :]

        for path in [p for p in self._durable_names if inside(p)]:
            del self._durable_names[path]
        for path, inode in self._names.items():
            if inside(path):
                self._durable_names[path] = inode
