"""The checks of lab wal: framing, reading back, and a crash at every byte."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from .._model import CheckContext, Status, Verdict
from .._solution import LearnerError
from .._tiers import Case, differential, unit_cases
from ._crash import crash_every_byte

# Records of the project's format, as bytes (what frame_record must produce).
EMPTY = bytes.fromhex("915ea3d7000000001cdf4421")
ABC = bytes.fromhex("915ea3d703000000335de166616263")
DYNAMO = bytes.fromhex("915ea3d706000000c79f811664796e616d6f")
LOG = ABC + DYNAMO
SIXTY_FOUR = bytes.fromhex("915ea3d7400000009fd8d87c") + b"x" * 64
"""A record of 64 bytes: one flipped bit (0x40) of its length field says 0."""


def _flip(data: bytes, offset: int) -> bytes:
    damaged = bytearray(data)
    damaged[offset] ^= 0x40
    return bytes(damaged)


def _show_records(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
        records, stop = value
        shown = ", ".join(f"({offset}, {payload!r})" for offset, payload in records)
        return f"records [{shown}], stopped at {stop}"
    return repr(value)


def _normal(value: Any) -> Any:
    """Compare results as plain tuples, whatever sequence types the solution returned."""
    if isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[1], int):
        records, stop = value
        try:
            return (tuple((int(o), bytes(p)) for o, p in records), stop)
        except (TypeError, ValueError):
            return value
    return value


# -- part 1 -------------------------------------------------------------------------------


def check_framing_cases(ctx: CheckContext) -> Verdict:
    """1.1: three records of the project's format, byte for byte."""
    cases = [
        Case("frame_record", (b"",), EMPTY, 'frame_record(b"")'),
        Case("frame_record", (b"abc",), ABC, 'frame_record(b"abc")'),
        Case("frame_record", (b"dynamo",), DYNAMO, 'frame_record(b"dynamo")'),
    ]
    return unit_cases(
        ctx,
        cases,
        show=lambda data: data.hex() if isinstance(data, bytes) else repr(data),
        source="of the record format",
    )


def check_framing_differential(ctx: CheckContext) -> Verdict:
    """1.2: frame_record equals the answer key on generated payloads."""
    return differential(
        ctx,
        st.binary(max_size=300),
        call=lambda function, payload: function(payload),
        function="frame_record",
        show_input=lambda payload: f"payload={payload!r}",
        show_output=lambda data: data.hex() if isinstance(data, bytes) else repr(data),
    )


# -- part 2 -------------------------------------------------------------------------------


def check_reading_cases(ctx: CheckContext) -> Verdict:
    """2.1: a log of two records, whole, torn, flipped, and read from the middle."""
    too_long = bytes.fromhex("915ea3d7") + (1 << 31).to_bytes(4, "little") + bytes(8)
    cases = [
        Case("read_records", (LOG, 0), (((0, b"abc"), (15, b"dynamo")), 33), "two records"),
        Case("read_records", (LOG[:-1], 0), (((0, b"abc"),), 15), "the second record torn"),
        Case("read_records", (LOG[:20], 0), (((0, b"abc"),), 15), "torn inside the header"),
        Case("read_records", (_flip(LOG, 13), 0), ((), 0), "a byte of the first payload flipped"),
        Case(
            "read_records", (_flip(LOG, 24), 0), (((0, b"abc"),), 15), "the second checksum flipped"
        ),
        Case("read_records", (_flip(LOG, 1), 0), ((), 0), "the first marker flipped"),
        Case("read_records", (LOG, 15), (((15, b"dynamo"),), 33), "read from offset 15"),
        Case("read_records", (b"", 0), ((), 0), "an empty log"),
        Case(
            "read_records",
            (too_long + ABC, 0),
            ((), 0),
            "a length field that runs past the end of the log",
        ),
        Case(
            "read_records",
            (_flip(SIXTY_FOUR + ABC, 4), 0),
            ((), 0),
            "a 64-byte record whose length byte 0x40 was flipped to 0 (an empty record's checksum fails)",
        ),
    ]
    verdict = unit_cases(
        ctx,
        cases,
        show=_show_records,
        equal=lambda a, b: _normal(a) == b,
        source="of torn and damaged logs",
    )
    if verdict.status is not Status.PASSED:
        return verdict
    return _long_log(ctx, verdict)


LONG_LOG_RECORDS = 5_000
"""Records of the long log of 2.1: a node's log after a busy minute, and five times
Python's default recursion depth."""


def _long_log(ctx: CheckContext, passed: Verdict) -> Verdict:
    """A whole log of ``LONG_LOG_RECORDS`` records: every one comes back."""

    def counted(value: Any) -> str:
        value = _normal(value)
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], int):
            return f"{len(value[0]):,} records, stopped at {value[1]:,}"
        return repr(value)[:200]

    frame = ctx.answer["frame_record"]
    data = b"".join(frame(b"put k%d" % index) for index in range(LONG_LOG_RECORDS))
    expected = _normal(ctx.answer["read_records"](data, 0))
    shown = f"a whole log of {LONG_LOG_RECORDS:,} records ({len(data):,} bytes)"
    try:
        result = ctx.solution["read_records"](data, 0)
    except LearnerError as error:
        return Verdict(Status.FAILED, str(error), shown, "", counted(expected))
    if _normal(result) != expected:
        return Verdict(Status.FAILED, "", shown, counted(result), counted(expected))
    return Verdict(Status.PASSED, f"{passed.summary}, and {shown}")


def _damaged_logs(frame: Callable[[bytes], bytes]) -> st.SearchStrategy[tuple[bytes, int]]:
    """A log of framed records, then one kind of damage, and where to start reading."""

    def build(value: tuple[list[bytes], int, int, int]) -> tuple[bytes, int]:
        payloads, kind, where, start_index = value
        records = [frame(payload) for payload in payloads]
        data = b"".join(records)
        starts = [sum(len(r) for r in records[:i]) for i in range(len(records))]
        start = starts[start_index % len(starts)] if starts else 0
        if data and kind == 1:
            data = data[: where % len(data)]
        elif data and kind == 2:
            data = _flip(data, where % len(data))
        elif kind == 3:
            data = data + bytes(where % 40)
        return data, min(start, len(data))

    return st.tuples(
        st.lists(st.binary(max_size=40), max_size=5),
        st.integers(0, 3),
        st.integers(0, 1 << 16),
        st.integers(0, 4),
    ).map(build)


def check_reading_differential(ctx: CheckContext) -> Verdict:
    """2.2: read_records equals the answer key on logs torn, flipped or padded at random."""
    return differential(
        ctx,
        _damaged_logs(ctx.answer["frame_record"]),
        call=lambda function, value: _normal(function(value[0], value[1])),
        function="read_records",
        show_input=lambda value: (
            f"data={value[0].hex()} ({len(value[0])} bytes), offset={value[1]}"
        ),
        show_output=_show_records,
    )


# -- part 3 -------------------------------------------------------------------------------


def check_crash_every_byte(ctx: CheckContext) -> Verdict:
    """3.1: your WAL under the store, torn at every byte of a write and flipped at every byte."""
    report = crash_every_byte(ctx.solution)
    summary = (
        f"{report.torn_trials} crashes (every byte of the last write) and "
        f"{report.flip_trials} flipped bytes (every byte of the log)"
    )
    if report.failures:
        return Verdict(
            Status.FAILED,
            report.failures[0],
            counterexample=f"8 puts acknowledged, then: {report.failures[0]}",
            details="\n".join(report.failures[1:]),
        )
    return Verdict(
        Status.PASSED,
        f"{summary}: acknowledged records always recovered, damage refused "
        f"{report.flips_refused} times or cut {report.flips_cut} times, never trusted",
    )


CHECK_FUNCTIONS: dict[str, Callable[[CheckContext], Verdict]] = {
    "1.1": check_framing_cases,
    "1.2": check_framing_differential,
    "2.1": check_reading_cases,
    "2.2": check_reading_differential,
    "3.1": check_crash_every_byte,
}
