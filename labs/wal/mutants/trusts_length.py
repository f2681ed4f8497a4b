"""Recovery checks the marker and the length but never the checksum.

A flipped payload byte comes back as a value that was never written.
"""

from __future__ import annotations

import struct

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2", "3.1")


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    records: list[tuple[int, bytes]] = []
    while offset + 12 <= len(data):
        marker, length, _crc = struct.unpack_from("<III", data, offset)
        if marker != 0xD7A35E91 or offset + 12 + length > len(data):
            break
        records.append((offset, data[offset + 12 : offset + 12 + length]))
        offset += 12 + length
    return tuple(records), offset
