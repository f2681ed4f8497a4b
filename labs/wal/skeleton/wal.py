"""Lab wal, the write-ahead log: framing records, and recovering after a crash.

Fill in the two functions below; each raises NotImplementedError until you do. The
store calls them (through its WalSeams) for every write and on every recovery, so
check 3.1 crashes *your* log at every byte of a write and flips every byte of it.
Check your work with `dynamokv lab check wal` (or one part: `--part 2`).

The docstrings are the specification. The project's own answers live in
impl/storage/_format.py: reading it spoils the lab.
"""

from __future__ import annotations

import struct  # noqa: F401  (struct.pack("<III", ...) packs three little-endian u32)
import zlib  # noqa: F401  (zlib.crc32(data, start) continues a checksum)

WAL_RECORD_MARKER = 0xD7A35E91
"""The first four bytes of every record (little-endian)."""

WAL_RECORD_BYTES_MAX = 64 * 1024 * 1024
"""The longest payload a record may hold; a longer length field is damage."""


def frame_record(payload: bytes) -> bytes:
    """One WAL record around ``payload``: marker u32 | length u32 | crc32 u32 | payload.

    All integers are little-endian. The marker is ``WAL_RECORD_MARKER`` (0xD7A35E91);
    the length counts the payload's bytes; the checksum is CRC-32 (``zlib.crc32``) of
    the four length bytes and then the payload, so a torn or flipped length is caught
    as surely as a damaged payload. The record's overhead is 12 bytes.
    """
    raise NotImplementedError("frame_record")


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    """Every valid record from ``offset`` on, stopping at the first torn or corrupt one.

    Args:
        data: the log's bytes (a WAL file after its header, or any slice of records).
        offset: where the first record starts.

    Returns:
        ``(records, stop)``: each record as ``(its offset, its payload)``, in order, and
        the offset where reading stopped: ``len(data)`` when every record was valid,
        else the start of the first record that is torn (cut short) or corrupt (wrong
        marker, a length over ``WAL_RECORD_BYTES_MAX``, or a checksum that does not
        match). Nothing after that record is returned, even if it looks valid: after
        damage, the log cannot be trusted to say where the next record starts.
    """
    raise NotImplementedError("read_records")
