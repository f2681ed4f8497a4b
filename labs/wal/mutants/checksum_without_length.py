"""The checksum covers the payload only: a flipped length byte is not caught by it.

The record format then differs from the project's: every record's CRC differs.
"""

from __future__ import annotations

import struct
import zlib

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def frame_record(payload: bytes) -> bytes:
    return struct.pack("<III", 0xD7A35E91, len(payload), zlib.crc32(payload)) + payload
