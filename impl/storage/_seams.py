"""The storage layer's seams: the WAL's record framing and its recovery rule, replaceable.

Why this exists: the write-ahead log's two decisions (how a record is framed, and how
far recovery trusts what it reads back) are what a lab asks a learner to write and
what a test plants a bug in. As in the core's :class:`~dynamokv.impl.core.Seams`,
each is a module-level function of :mod:`~dynamokv.impl.storage._format`, and the
:class:`~dynamokv.impl.storage.Store` calls it through one frozen :class:`WalSeams`
value given to :meth:`Store.open` (keyword-only ``wal_seams=``). The default is the
project's own functions; only the labs and tests pass anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ._format import frame_wal_record, read_wal_records

__all__ = ["DEFAULT_WAL_SEAMS", "FrameRecord", "ReadRecords", "WalSeams"]


class FrameRecord(Protocol):
    """The shape of :func:`~dynamokv.impl.storage._format.frame_wal_record`."""

    def __call__(self, payload: bytes) -> bytes: ...


class ReadRecords(Protocol):
    """The shape of :func:`~dynamokv.impl.storage._format.read_wal_records`."""

    def __call__(self, data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]: ...


@dataclass(frozen=True, slots=True)
class WalSeams:
    """The WAL's replaceable decisions; every field defaults to the project's own.

    Attributes:
        frame_record: a payload -> the bytes of one record (length, checksum, payload).
        read_records: the log's bytes -> its valid records up to the first torn or
            corrupt one, and where reading stopped (recovery then decides whether the
            rest is a torn tail to cut or damage to report).
    """

    frame_record: FrameRecord = frame_wal_record
    read_records: ReadRecords = read_wal_records


DEFAULT_WAL_SEAMS = WalSeams()
"""The project's own functions: what every production store uses."""
