"""Recovery skips a damaged record and keeps reading the records after it.

Damage may have changed a length: what looks like the next record may be a piece
of a payload, and writes after a lost one can be applied without it.
"""

from __future__ import annotations

from dynamokv.impl.storage._format import WAL_RECORD_HEADER_BYTES, wal_record_at

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2", "3.1")


def read_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    records: list[tuple[int, bytes]] = []
    while offset < len(data):
        payload = wal_record_at(data, offset)
        if payload is None:
            offset += 1
            continue
        records.append((offset, payload))
        offset += WAL_RECORD_HEADER_BYTES + len(payload)
    return tuple(records), len(data)
