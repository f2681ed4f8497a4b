"""The records carry no checksum: marker and length only, and recovery believes them.

A flipped byte in a payload then comes back as a value that was never written,
and the record is 4 bytes shorter than the framing formula says.
"""

from __future__ import annotations

import struct

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2", "2.1", "2.2", "3.1")


def frame_record(payload: bytes) -> bytes:
    return struct.pack("<II", 0xD7A35E91, len(payload)) + payload


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    records: list[tuple[int, bytes]] = []
    while offset + 8 <= len(data):
        marker, length = struct.unpack_from("<II", data, offset)
        if marker != 0xD7A35E91 or offset + 8 + length > len(data):
            break
        records.append((offset, data[offset + 8 : offset + 8 + length]))
        offset += 8 + length
    return tuple(records), offset
