"""Recovery reports zero padding after the last record as part of a clean log.

Preallocated space is zeros, but reading stops where the records stop: what
follows is for the store to judge (a clean end, or damage), not the reader.
"""

from __future__ import annotations

from dynamokv.impl.storage._format import read_wal_records

CAUGHT_BY = "2.2"


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    records, stop = read_wal_records(data, offset)
    if not data[stop:].strip(b"\x00"):
        return records, len(data)
    return records, stop
