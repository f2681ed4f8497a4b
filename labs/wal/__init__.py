"""Lab wal, the write-ahead log: framing records and recovering them after a crash.

The manifest: the learner writes the WAL's two seams of :mod:`dynamokv.impl.storage`
(the answer key) in ``wal.py``; the store calls them through
:class:`~dynamokv.impl.storage.WalSeams`. The checks are in :mod:`._checks`, the
crash harness in :mod:`._crash`, the measurement in :mod:`._experiment`.
"""

from __future__ import annotations

from .._model import Check, Experiment, Lab, Part, Tier
from . import _experiment
from ._answer import ANSWER_KEY, SEAMS
from ._checks import CHECK_FUNCTIONS

__all__ = ["LAB"]

_C = CHECK_FUNCTIONS

LAB = Lab(
    name="wal",
    package="wal",
    title="The write-ahead log: framing, and recovery after a crash",
    question=(
        "A node writes to its write-ahead log and acknowledges; the power fails in the "
        "middle of the next write. What must recovery give back, and what must it never trust?"
    ),
    workspace_file="wal.py",
    answer_key=ANSWER_KEY,
    seams=SEAMS,
    parts=(
        Part(
            "1",
            "framing: marker, length and checksum around each record",
            ("frame_record",),
            (
                Check(
                    "1.1",
                    "three records of the project's format, byte for byte",
                    Tier.UNIT,
                    10,
                    "storage: WAL records",
                    "recovery can only trust what it can check: the length says where the "
                    "record ends, the checksum whether it arrived whole",
                    "struct.pack('<III', marker, len(payload), crc) + payload, with the CRC "
                    "over the length bytes then the payload",
                    _C["1.1"],
                ),
                Check(
                    "1.2",
                    "frame_record equals the answer key on generated payloads",
                    Tier.PROPERTY,
                    10,
                    "storage: WAL records",
                    "every payload, empty or long, frames the same way",
                    "zlib.crc32(payload, zlib.crc32(length_bytes)) continues one checksum",
                    _C["1.2"],
                ),
            ),
        ),
        Part(
            "2",
            "recovery: read records back, stopping at the first torn or corrupt one",
            ("read_records",),
            (
                Check(
                    "2.1",
                    "a log of two records: whole, torn, flipped, read from the middle; "
                    "a log of 5,000",
                    Tier.UNIT,
                    10,
                    "storage: recovery",
                    "a torn or corrupt record ends what can be trusted: its length may be "
                    "wrong, so nothing says where a next record would start; and a node's "
                    "log holds thousands of records, all of which must come back",
                    "check the marker, that the length fits in the data and is not too long, "
                    "then the checksum, of every record, empty ones too (it covers the "
                    "length); stop at the first failure; read in a loop, not by recursion",
                    _C["2.1"],
                ),
                Check(
                    "2.2",
                    "read_records equals the answer key on logs torn, flipped or padded at random",
                    Tier.PROPERTY,
                    15,
                    "storage: recovery",
                    "recovery must never raise on damage: damage is the normal case after a crash",
                    "a record cut inside its header is torn too; so is a short payload",
                    _C["2.2"],
                ),
            ),
        ),
        Part(
            "3",
            "a crash at every byte, under the store",
            ("frame_record", "read_records"),
            (
                Check(
                    "3.1",
                    "your WAL inside the store: torn at every byte of a write, flipped at every byte",
                    Tier.SIMULATION,
                    20,
                    "storage: recovery",
                    "an acknowledged write survives any crash; a damaged record, and what "
                    "follows it, is never trusted; recovery never fails in another way",
                    "read the trial that broke a rule: which record did recovery keep?",
                    _C["3.1"],
                    timeout_seconds=240.0,
                ),
            ),
            needs=("1", "2"),
        ),
    ),
    hints=(
        "frame_record: length = struct.pack('<I', len(payload)); crc = zlib.crc32(payload, "
        "zlib.crc32(length)); the record is marker + length + crc + payload.",
        "read_records: loop while offset < len(data); if fewer than 12 bytes remain, the record "
        "is torn: stop.",
        "read_records: unpack marker, length and crc with struct.unpack_from('<III', data, "
        "offset); a wrong marker or a length over WAL_RECORD_BYTES_MAX is damage.",
        "read_records: if offset + 12 + length > len(data) the payload is torn; otherwise "
        "compare the checksum before you keep the record.",
    ),
    experiment=Experiment(
        "a crash at every byte, and the cost of framing",
        "If the power fails at a random byte of a write, how many acknowledged records come "
        "back? How many bytes does each record cost?",
        _experiment.run,
        mutant="no_checksum",
        timeout_seconds=300.0,
    ),
)
