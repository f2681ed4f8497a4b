"""The experiment of lab wal: what survives a crash at every byte, and what framing costs.

Measured with the solution's framing and recovery inside the project's store, over
its fault-injecting files (:mod:`._crash`): the last of eight acknowledged puts is
torn at every byte offset, and every byte of the log is flipped in turn. Theory: a
write-ahead log that frames each record with its length and a checksum recovers
every acknowledged record at every crash offset, and never trusts a damaged record
or anything after it; the price is the record header, 12 bytes per record (a
4-byte marker, a 4-byte length, a 4-byte CRC-32).
"""

from __future__ import annotations

import random

from .._model import ExperimentContext, ExperimentReport, ExperimentRow
from ._crash import VALUES, crash_every_byte

HEADER_BYTES = 12
"""The framing formula: marker (4) + length (4) + CRC-32 (4)."""

PAYLOADS = 200


def run(ctx: ExperimentContext) -> ExperimentReport:
    """Crash the solution's log at every byte; measure its overhead per record."""
    report = crash_every_byte(ctx.solution, failures_max=1)
    rng = random.Random(ctx.seed)
    frame = ctx.solution["frame_record"]
    overheads = set()
    for _ in range(PAYLOADS):
        payload = rng.randbytes(rng.randint(0, 512))
        overheads.add(len(frame(payload)) - len(payload))
    overhead = overheads.pop() if len(overheads) == 1 else None
    rows = (
        ExperimentRow(
            "crash offsets after which every acknowledged record came back",
            f"{report.torn_recovered}/{report.torn_trials}",
            "all of them",
            "exactly",
            report.torn_recovered == report.torn_trials,
        ),
        ExperimentRow(
            "flipped bytes after which a damaged or later record was trusted",
            f"{report.flips_trusting_damage}/{report.flip_trials}",
            "0",
            "exactly",
            report.flips_trusting_damage == 0,
        ),
        ExperimentRow(
            "flipped bytes after which a value never written came back",
            f"{report.flips_with_garbage}/{report.flip_trials}",
            "0",
            "exactly",
            report.flips_with_garbage == 0,
        ),
        ExperimentRow(
            "flipped bytes caught (the store refused, or cut the log before them)",
            f"{report.flips_refused + report.flips_cut}/{report.flip_trials}",
            "all of them",
            "exactly",
            report.flips_refused + report.flips_cut == report.flip_trials,
        ),
        ExperimentRow(
            f"bytes of overhead per record ({PAYLOADS} payloads of 0 to 512 bytes)",
            f"{overhead}" if overhead is not None else f"varies: {sorted(overheads)}",
            f"{HEADER_BYTES} (marker 4 + length 4 + CRC-32 4)",
            "exactly",
            overhead == HEADER_BYTES,
        ),
    )
    notes = (
        f"{len(VALUES)} puts acknowledged on a FaultyFiles disk, the last torn at each of "
        f"its bytes; then each byte of the log flipped; each copy recovered by Store.open",
        f"refused to open: {report.flips_refused} flips; log cut before the damage: "
        f"{report.flips_cut}; seed {ctx.seed} (payload sizes)",
        *(f"first broken rule: {failure}" for failure in report.failures),
    )
    return ExperimentReport("a crash at every byte, and the cost of framing", rows, notes)
