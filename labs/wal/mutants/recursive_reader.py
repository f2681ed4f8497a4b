"""read_records reads one record, then calls itself for the rest of the log.

Every short log comes back right, but each record costs a stack frame: a log of a
few thousand records, a node's log after a busy minute, makes recovery raise
RecursionError and the node cannot start.
"""

from __future__ import annotations

import struct
import zlib

CAUGHT_BY = "2.1"

WAL_RECORD_MARKER = 0xD7A35E91
WAL_RECORD_BYTES_MAX = 64 * 1024 * 1024


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    if offset + 12 > len(data):
        return (), offset
    marker, length, crc = struct.unpack_from("<III", data, offset)
    end = offset + 12 + length
    if marker != WAL_RECORD_MARKER or length > WAL_RECORD_BYTES_MAX or end > len(data):
        return (), offset
    payload = data[offset + 12 : end]
    if zlib.crc32(payload, zlib.crc32(data[offset + 4 : offset + 8])) != crc:
        return (), offset
    rest, stop = read_records(data, end)
    return ((offset, payload), *rest), stop
