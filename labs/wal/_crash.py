"""Crashing a write-ahead log at every byte, over the project's fault-injecting files.

A store whose WAL frames and recovers records with the solution's functions
(:class:`~dynamokv.impl.storage.WalSeams`) acknowledges a few puts on a
:class:`~dynamokv.impl.storage.FaultyFiles` disk. Its files are then copied onto
fresh fault-injecting disks, once for every byte offset of the last write (the
crash tore it there: the bytes before reached the disk, the rest did not) and once
for every byte of the log flipped (bit rot), and each copy is recovered by opening
the store again. A recovery must:

* give back every acknowledged record (the write torn by the crash was never
  acknowledged, so it may be there complete or not at all, never in part);
* trust nothing at or after a damaged record, and return no value that was not
  written: it may refuse to open (a typed ``StorageCorruptionError``), or keep
  the records before the damage;
* never fail in any other way (no other exception escapes).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dynamokv.impl.storage import (
    FaultyFiles,
    StorageCorruptionError,
    Store,
    StoreOptions,
    WalSeams,
)
from dynamokv.impl.storage._format import encode_wal_put_payload

from .._solution import LearnerError

DIRECTORY = "/db"
WAL_HEADER_BYTES = 20
VALUES: tuple[tuple[bytes, bytes], ...] = tuple(
    (b"cart-%d" % n, b"item-%d\n" % n * (1 + n % 3)) for n in range(8)
)


def seams_of(solution: Mapping[str, Callable[..., Any]]) -> WalSeams:
    """The solution's framing and recovery, as the store's seams."""
    return WalSeams(frame_record=solution["frame_record"], read_records=solution["read_records"])


def _open(files: FaultyFiles, seams: WalSeams) -> Store:
    return Store.open(
        DIRECTORY, files=files, options=StoreOptions(background=False), wal_seams=seams
    )


def _written(seams: WalSeams) -> dict[str, bytes]:
    """Every file of a store that acknowledged :data:`VALUES`, one put each."""
    files = FaultyFiles(random.Random(0))
    with _open(files, seams) as store:
        for key, value in VALUES:
            store.put(key, value)
    return {
        f"{DIRECTORY}/{name}": files.read_all(f"{DIRECTORY}/{name}")
        for name in files.list_names(DIRECTORY)
    }


def _recover(contents: Mapping[str, bytes], seams: WalSeams) -> dict[bytes, bytes] | None:
    """Open a copy of ``contents``; the recovered data, or None when the store refused."""
    files = FaultyFiles(random.Random(0))
    files.make_directory(DIRECTORY)
    for path, data in contents.items():
        file = files.create(path)
        file.write(data)
        file.sync()
        file.close()
    files.sync_directory(DIRECTORY)
    try:
        with _open(files, seams) as store:
            return dict(store.scan(0, 0))
    except StorageCorruptionError:
        return None


@dataclass
class CrashReport:
    """What the trials found.

    Attributes:
        torn_trials: crashes tried (one per byte offset of the last write, and its end).
        torn_recovered: those whose recovery gave back every acknowledged record.
        flip_trials: single flipped bytes tried (one per byte of the log).
        flips_refused: flips the store refused to open on (a typed corruption error).
        flips_cut: flips where recovery kept exactly the records before the damage.
        flips_trusting_damage: flips where a record at or after the damage was kept.
        flips_with_garbage: flips where a value that was never written came back.
        failures: a description of each trial that broke a rule (the first ones).
    """

    torn_trials: int = 0
    torn_recovered: int = 0
    flip_trials: int = 0
    flips_refused: int = 0
    flips_cut: int = 0
    flips_trusting_damage: int = 0
    flips_with_garbage: int = 0
    failures: list[str] = field(default_factory=list)


def _record_starts(frame: Callable[[bytes], bytes]) -> list[int]:
    """Where each put's record starts: after the file header, one framed record per put."""
    starts = []
    offset = WAL_HEADER_BYTES
    for key, value in VALUES:
        starts.append(offset)
        offset += len(frame(encode_wal_put_payload(key, value)))
    return starts


def crash_every_byte(
    solution: Mapping[str, Callable[..., Any]], *, failures_max: int = 3
) -> CrashReport:
    """Tear the last write at every offset and flip every byte of the log; recover each.

    Raises:
        LearnerError: the solution raised while the store wrote the pristine log.
    """
    seams = seams_of(solution)
    report = CrashReport()
    pristine = _written(seams)
    wal_path = next(path for path in pristine if path.rsplit("/", 1)[1].startswith("wal-"))
    wal = pristine[wal_path]
    starts = _record_starts(solution["frame_record"])
    acknowledged = dict(VALUES[:-1])
    everything = dict(VALUES)
    last_start = min(starts[-1], len(wal))

    def failed(text: str) -> None:
        if len(report.failures) < failures_max:
            report.failures.append(text)

    for cut in range(last_start, len(wal) + 1):
        report.torn_trials += 1
        try:
            found = _recover({**pristine, wal_path: wal[:cut]}, seams)
        except LearnerError as error:
            failed(f"crash at byte {cut} of the log (the last write torn): {error}")
            continue
        except Exception as error:  # the rule: no exception escapes recovery
            failed(f"crash at byte {cut}: recovery raised {type(error).__name__}: {error}")
            continue
        if found == acknowledged or (cut == len(wal) and found == everything):
            report.torn_recovered += 1
        else:
            failed(
                f"crash at byte {cut} of the log (the last write torn at byte "
                f"{cut - last_start} of {len(wal) - last_start}): recovered {_show(found)}, "
                f"acknowledged {_show(acknowledged)}"
            )
    for offset in range(len(wal)):
        report.flip_trials += 1
        damaged = bytearray(wal)
        damaged[offset] ^= 0x40
        index = sum(1 for start in starts if start <= offset)
        before = dict(VALUES[: max(0, index - 1)])
        try:
            found = _recover({**pristine, wal_path: bytes(damaged)}, seams)
        except LearnerError as error:
            failed(f"byte {offset} of the log flipped: {error}")
            continue
        except Exception as error:
            failed(f"byte {offset} flipped: recovery raised {type(error).__name__}: {error}")
            continue
        if found is None:
            report.flips_refused += 1
            continue
        garbage = {key: value for key, value in found.items() if everything.get(key) != value}
        trusted_after = [key for key in found if key not in before and key not in garbage]
        if garbage:
            report.flips_with_garbage += 1
            failed(
                f"byte {offset} of the log flipped: recovered values never written: {_show(garbage)}"
            )
        elif trusted_after:
            report.flips_trusting_damage += 1
            failed(
                f"byte {offset} of the log flipped (in record {index}): recovered "
                f"{_show(found)}, but nothing at or after the damaged record may be trusted"
            )
        elif found == before:
            report.flips_cut += 1
        else:
            failed(f"byte {offset} flipped: recovered {_show(found)}, expected {_show(before)}")
    return report


def _show(data: Mapping[bytes, bytes] | None) -> str:
    if data is None:
        return "nothing (the store refused to open)"
    keys = sorted(data)
    return f"{len(keys)} keys [{', '.join(key.decode(errors='replace') for key in keys)}]"
