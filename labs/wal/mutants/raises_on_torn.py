"""Recovery unpacks a record header without checking that 12 bytes remain.

A crash that tears a header makes recovery raise instead of stopping there.
"""

from __future__ import annotations

import struct
import zlib

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2", "3.1")


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    records: list[tuple[int, bytes]] = []
    while offset < len(data):
        marker, length, crc = struct.unpack_from("<III", data, offset)
        payload = data[offset + 12 : offset + 12 + length]
        if marker != 0xD7A35E91 or len(payload) != length:
            break
        if zlib.crc32(payload, zlib.crc32(struct.pack("<I", length))) != crc:
            break
        records.append((offset, payload))
        offset += 12 + length
    return tuple(records), offset
