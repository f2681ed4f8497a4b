"""The answer key of lab wal: the project's own storage functions, by the learner's names."""

from __future__ import annotations

ANSWER_KEY = {
    "frame_record": "dynamokv.impl.storage.frame_wal_record",
    "read_records": "dynamokv.impl.storage.read_wal_records",
}

SEAMS = {
    "frame_record": "dynamokv.impl.storage.WalSeams.frame_record",
    "read_records": "dynamokv.impl.storage.WalSeams.read_records",
}
"""The learner's functions that the store calls, and the seam they plug into."""
