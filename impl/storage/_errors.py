"""The store's error types: operating errors are values the caller handles, bugs crash.

TigerBeetle's rule: a full disk, a failed write or a damaged file are *operating errors*.
They surface as :class:`~dynamokv.spec.errors.StorageError` subclasses that the runtime turns
into a failed request; the store stays usable for reads. A broken invariant is a *bug*: it
raises :class:`~dynamokv.spec.errors.InvariantError` through :func:`dynamokv.spec.errors.invariant`,
which ``python -O`` does not strip. Every class here descends from
:class:`~dynamokv.spec.errors.DynamoKVError`, the project's one error root.
"""

from __future__ import annotations

import errno as errno_codes

from dynamokv.spec.errors import ArgumentError, StorageError

__all__ = [
    "StorageArgumentError",
    "StorageClosedError",
    "StorageCorruptionError",
    "StorageDiskFullError",
    "StorageError",
    "StorageReadOnlyError",
    "StorageWriteError",
]


class StorageArgumentError(StorageError, ArgumentError):
    """A public argument is out of range (key too long, unknown fsync policy, ...)."""


class StorageClosedError(StorageError):
    """The store was closed, or abandoned by a simulated crash."""


class StorageWriteError(StorageError):
    """A write did not become durable. Existing data is intact; reads keep working.

    Attributes:
        path: The file whose write failed.
        errno: The OS error number (``errno.ENOSPC`` for a full disk), or ``None``.
        indeterminate: ``True`` when the bytes may have reached the disk anyway (a failed
            ``fsync``): the write may reappear after a reopen, like a timed-out request.
    """

    def __init__(
        self, message: str, *, path: str, errno: int | None, indeterminate: bool = False
    ) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno
        self.indeterminate = indeterminate

    @classmethod
    def from_os_error(
        cls, error: OSError, *, path: str, action: str, indeterminate: bool = False
    ) -> StorageWriteError:
        """Wrap ``error``: :class:`StorageDiskFullError` for ``ENOSPC``/``EDQUOT``."""
        kind = cls
        if error.errno in (errno_codes.ENOSPC, errno_codes.EDQUOT):
            kind = StorageDiskFullError
        reason = error.strerror or str(error)
        return kind(
            f"{action} failed on {path}: {reason}",
            path=path,
            errno=error.errno,
            indeterminate=indeterminate,
        )


class StorageDiskFullError(StorageWriteError):
    """The disk is full (``ENOSPC``): free space and retry; nothing was corrupted."""


class StorageReadOnlyError(StorageWriteError):
    """Writes are refused after an ``fsync`` failure until the store is reopened.

    After a failed ``fsync`` the kernel may have dropped the dirty pages (the 2018
    "fsyncgate" lesson from PostgreSQL), so the WAL's state on disk is unknown. Reopening
    replays what really is on disk.
    """


class StorageCorruptionError(StorageError):
    """A file is damaged before its tail; opening stops instead of guessing.

    Attributes:
        path: The damaged file.
        offset: Byte offset of the first bad byte found.
    """

    def __init__(self, message: str, *, path: str, offset: int) -> None:
        super().__init__(f"{path} at offset {offset}: {message}")
        self.path = path
        self.offset = offset
