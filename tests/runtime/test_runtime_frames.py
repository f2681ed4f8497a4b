"""Peer frames: round trips, arbitrary chunking, limits checked early, garbage refused."""

from __future__ import annotations

import contextlib
import struct

import pytest
from dynamokv.errors import ArgumentError
from dynamokv.impl.runtime import (
    FRAME_BYTES_MAX,
    FRAME_HEADER_BYTES,
    FRAME_MAGIC,
    FRAME_VERSION,
    FrameDecoder,
    FrameError,
    decode_frame,
    encode_frame,
)
from dynamokv.impl.storage import KEY_BYTES_MAX, VALUE_BYTES_MAX
from hypothesis import given
from hypothesis import strategies as st

# What msgpack round-trips exactly (tuples come back as lists, so they are left out).
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=50)
    | st.binary(max_size=200)
)
messages = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10) | st.integers(-100, 100), children, max_size=5)
    ),
    max_leaves=30,
)


def _header(
    payload_bytes: int, *, magic: bytes = FRAME_MAGIC, version: int = FRAME_VERSION, flags: int = 0
) -> bytes:
    return struct.pack(">2sBBI", magic, version, flags, payload_bytes)


@given(messages)
def test_encode_then_decode_is_the_identity(message: object) -> None:
    assert decode_frame(encode_frame(message)) == message


@given(st.lists(messages, max_size=8), st.data())
def test_decoder_accepts_any_chunking(batch: list[object], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(message) for message in batch)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    decoder = FrameDecoder()
    decoded: list[object] = []
    for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        decoded += decoder.feed(stream[start:end])
    assert decoded == batch
    assert decoder.buffered_bytes == 0


def test_header_layout_is_magic_version_flags_length() -> None:
    frame = encode_frame(b"x")
    assert frame[:FRAME_HEADER_BYTES] == _header(len(frame) - FRAME_HEADER_BYTES)


def test_frame_limit_fits_one_stored_value_with_its_key() -> None:
    assert FRAME_BYTES_MAX >= VALUE_BYTES_MAX + KEY_BYTES_MAX + 64 * 1024
    big = {"key": b"k" * KEY_BYTES_MAX, "value": b"v" * VALUE_BYTES_MAX, "clock": [["n1", 7]]}
    assert decode_frame(encode_frame(big)) == big


def test_oversized_frame_is_refused_from_its_header_alone() -> None:
    decoder = FrameDecoder(frame_bytes_max=1024)
    with pytest.raises(FrameError, match="exceeds frame_bytes_max"):
        decoder.feed(_header(2**32 - 1))  # no payload sent: refused before buffering any
    assert decoder.buffered_bytes == 0


def test_oversized_message_cannot_be_encoded() -> None:
    with pytest.raises(FrameError, match="exceeds"):
        encode_frame(b"x" * 100, frame_bytes_max=64)


@pytest.mark.parametrize("message", [object(), 2**64, {(): 1}.keys()])
def test_unencodable_message_is_a_frame_error(message: object) -> None:
    with pytest.raises(FrameError, match="cannot encode"):
        encode_frame(message)


@pytest.mark.parametrize(
    ("stream", "reason"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", "bad magic"),
        (
            _header(1, version=FRAME_VERSION + 1) + b"\xc0",
            f"unsupported frame version {FRAME_VERSION + 1}",
        ),
        (_header(1, flags=1) + b"\xc0", "reserved flags"),
        (_header(2) + b"\xc0\xc0", "not one msgpack value"),  # two values in one frame
        (_header(1) + b"\xc1", "not one msgpack value"),  # 0xc1 is never used
        (_header(3) + b"\x81\x90\x01", "not one msgpack value"),  # a list as a map key
        (_header(0), "not one msgpack value"),
    ],
)
def test_malformed_stream_raises_frame_error_and_stays_failed(stream: bytes, reason: str) -> None:
    decoder = FrameDecoder()
    with pytest.raises(FrameError, match=reason):
        decoder.feed(encode_frame("fine") + stream)
    with pytest.raises(FrameError, match="already failed"):
        decoder.feed(encode_frame("fine"))


def test_messages_before_the_bad_frame_are_not_returned_but_the_error_is() -> None:
    """The caller closes the connection on FrameError; what came before is dropped with it."""
    decoder = FrameDecoder()
    assert decoder.feed(encode_frame(1)) == [1]
    with pytest.raises(FrameError):
        decoder.feed(encode_frame(2) + b"XX" + b"\x00" * 6)


@given(st.binary(max_size=2000), st.integers(1, 64))
def test_garbage_gives_messages_or_frame_error_and_nothing_else(
    garbage: bytes, chunk_bytes: int
) -> None:
    decoder = FrameDecoder(frame_bytes_max=4096)
    try:
        for start in range(0, len(garbage), chunk_bytes):
            decoder.feed(garbage[start : start + chunk_bytes])
            assert decoder.buffered_bytes <= 4096 + chunk_bytes
    except FrameError:
        pass


@given(st.binary(min_size=1, max_size=200))
def test_garbage_payload_under_a_valid_header_is_frame_error_or_a_value(payload: bytes) -> None:
    with contextlib.suppress(FrameError):
        decode_frame(_header(len(payload)) + payload)


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="frame_bytes_max"):
        FrameDecoder(frame_bytes_max=FRAME_HEADER_BYTES)
    with pytest.raises(ArgumentError, match="frame_bytes_max"):
        encode_frame(1, frame_bytes_max=1.5)  # type: ignore[arg-type]
    with pytest.raises(FrameError, match="exactly one frame"):
        decode_frame(encode_frame(1) + encode_frame(2))
