"""read_records checks the checksum only when the payload is not empty.

An empty payload seems to have nothing to check, but the checksum covers the
length too: a 64-byte record whose length byte is flipped to 0 reads as an empty
record that was never written, and reading goes on from inside its payload.
"""

from __future__ import annotations

import struct
import zlib

CAUGHT_BY = "2.1"

WAL_RECORD_MARKER = 0xD7A35E91
WAL_RECORD_BYTES_MAX = 64 * 1024 * 1024


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    records: list[tuple[int, bytes]] = []
    while offset + 12 <= len(data):
        marker, length, crc = struct.unpack_from("<III", data, offset)
        end = offset + 12 + length
        if marker != WAL_RECORD_MARKER or length > WAL_RECORD_BYTES_MAX or end > len(data):
            break
        payload = data[offset + 12 : end]
        if length and zlib.crc32(payload, zlib.crc32(data[offset + 4 : offset + 8])) != crc:
            break
        records.append((offset, payload))
        offset = end
    return tuple(records), offset
