"""Node-to-node frames: a fixed header, then one msgpack value.

Peers speak over long-lived TCP (or TLS) streams, and TCP delivers bytes, not messages, in
whatever chunks the kernel chooses. Each message is therefore framed with an eight-byte
header::

    offset  size  field
    0       2     magic    b"DK": a stream that is not ours (an HTTP client on the peer
                           port, a stale protocol) fails on its first bytes
    2       1     version  FRAME_VERSION; a peer running a different wire format is refused,
                           never half-understood
    3       1     flags    reserved, must be 0 (room for compression without a new version)
    4       4     length   payload bytes, big-endian

and the payload is exactly one msgpack value (``use_bin_type``: ``bytes`` and ``str`` stay
distinct, which keys and values rely on).

Why no checksum: TCP checksums every segment and TLS authenticates every record, and a
corrupt payload that still parses is caught by the core's message validation. The disk is
different (the WAL checksums every record, see ``docs/storage.md``).

Why the length is checked before the payload is read: a peer (or an attacker) that announces
a 4 GiB frame must be refused at once, not after the node has tried to buffer it. The
decoder's buffer never holds more than ``frame_bytes_max`` plus one received chunk.

A malformed frame raises :class:`FrameError`. The caller closes that one connection and logs
it; the node keeps running. After an error a :class:`FrameDecoder` stays
failed: the stream has lost its framing, and nothing after the bad bytes can be trusted.
"""

from __future__ import annotations

import struct
from typing import NoReturn

import msgpack
from dynamokv.errors import ArgumentError, ProtocolError

FRAME_MAGIC = b"DK"
"""The first two bytes of every frame."""

FRAME_VERSION = 2
"""The wire format version this node speaks (and the only one it accepts)."""

FRAME_HEADER_BYTES = 8
"""Magic (2), version (1), flags (1), payload length (4)."""

FRAME_BYTES_MAX = 8 * 1024 * 1024
"""The largest frame (header included) a node sends or accepts.

Sized to carry one stored value at its largest (``VALUE_BYTES_MAX``, 4 MiB, the serialized
version set of a key) with its key, vector clocks and envelope, twice over; a test keeps it
above the store's limits. Bulk transfers (hinted handoff, anti-entropy, partition moves)
send many frames, never one big one.
"""

_HEADER = struct.Struct(">2sBBI")

assert _HEADER.size == FRAME_HEADER_BYTES


class FrameError(ProtocolError):
    """A frame that cannot be encoded or decoded: oversized, foreign, or not msgpack.

    On receive, close the connection it came from and log it; the node keeps running.
    """


def _check_frame_bytes_max(frame_bytes_max: int) -> None:
    if not isinstance(frame_bytes_max, int) or isinstance(frame_bytes_max, bool):
        raise ArgumentError(f"frame_bytes_max must be an int, got {frame_bytes_max!r}")
    if not FRAME_HEADER_BYTES < frame_bytes_max <= 2**32 - 1 + FRAME_HEADER_BYTES:
        raise ArgumentError(
            f"frame_bytes_max must be in ({FRAME_HEADER_BYTES}, 2**32 + "
            f"{FRAME_HEADER_BYTES - 1}], got {frame_bytes_max}"
        )


def encode_frame(message: object, *, frame_bytes_max: int = FRAME_BYTES_MAX) -> bytes:
    """Serialize ``message`` with msgpack and frame it.

    Args:
        message: A value msgpack can encode: ``None``, ``bool``, ``int`` (64-bit),
            ``float``, ``str``, ``bytes``, and lists, tuples and dicts of these.
        frame_bytes_max: The largest frame allowed, header included.

    Returns:
        The frame: :data:`FRAME_HEADER_BYTES` of header, then the payload.

    Raises:
        FrameError: ``message`` cannot be encoded, or its frame exceeds ``frame_bytes_max``.
    """
    _check_frame_bytes_max(frame_bytes_max)
    try:
        payload: bytes = msgpack.packb(message, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as error:
        raise FrameError(f"cannot encode message: {error}") from error
    if FRAME_HEADER_BYTES + len(payload) > frame_bytes_max:
        raise FrameError(
            f"frame of {FRAME_HEADER_BYTES + len(payload)} bytes exceeds "
            f"frame_bytes_max={frame_bytes_max}"
        )
    return _HEADER.pack(FRAME_MAGIC, FRAME_VERSION, 0, len(payload)) + payload


def decode_frame(frame: bytes, *, frame_bytes_max: int = FRAME_BYTES_MAX) -> object:
    """Decode exactly one complete frame (the inverse of :func:`encode_frame`).

    Raises:
        FrameError: ``frame`` is not exactly one valid frame.
    """
    decoder = FrameDecoder(frame_bytes_max=frame_bytes_max)
    messages = decoder.feed(frame)
    if len(messages) != 1 or decoder.buffered_bytes:
        raise FrameError(
            f"expected exactly one frame, got {len(messages)} "
            f"and {decoder.buffered_bytes} bytes left over"
        )
    return messages[0]


class FrameDecoder:
    """Turn a byte stream, cut into chunks of any size, into messages.

    Feed it every chunk ``receive_some`` returns; it returns the messages completed so far
    and keeps the rest for the next chunk.

    Args:
        frame_bytes_max: The largest frame accepted, header included. A header announcing a
            bigger frame raises :class:`FrameError` as soon as its eight bytes are in, before
            the payload is buffered.
    """

    __slots__ = ("_buffer", "_failure", "_frame_bytes_max")

    def __init__(self, *, frame_bytes_max: int = FRAME_BYTES_MAX) -> None:
        _check_frame_bytes_max(frame_bytes_max)
        self._frame_bytes_max = frame_bytes_max
        self._buffer = bytearray()
        self._failure: str | None = None

    @property
    def buffered_bytes(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray) -> list[object]:
        """Add ``data`` to the stream and return every message it completes, in order.

        Raises:
            FrameError: The stream holds a malformed frame (bad magic, version or flags,
                too long, or a payload that is not exactly one msgpack value); also on every
                later call, since the stream has lost its framing.
        """
        if self._failure is not None:
            raise FrameError(f"stream already failed: {self._failure}")
        buffer = self._buffer
        buffer += data
        messages: list[object] = []
        position = 0
        # Each iteration consumes one whole frame (at least FRAME_HEADER_BYTES) or stops.
        while len(buffer) - position >= FRAME_HEADER_BYTES:
            magic, version, flags, payload_bytes = _HEADER.unpack_from(buffer, position)
            if magic != FRAME_MAGIC:
                self._fail(f"bad magic {bytes(magic)!r} at stream offset +{position}")
            if version != FRAME_VERSION:
                self._fail(f"unsupported frame version {version} (this node speaks 1)")
            if flags != 0:
                self._fail(f"reserved flags are set: {flags:#04x}")
            if FRAME_HEADER_BYTES + payload_bytes > self._frame_bytes_max:
                self._fail(
                    f"frame of {FRAME_HEADER_BYTES + payload_bytes} bytes exceeds "
                    f"frame_bytes_max={self._frame_bytes_max}"
                )
            start = position + FRAME_HEADER_BYTES
            end = start + payload_bytes
            if end > len(buffer):
                break
            messages.append(self._unpack(buffer, start, end))
            position = end
        if position:
            del buffer[:position]
        return messages

    def _unpack(self, buffer: bytearray, start: int, end: int) -> object:
        # A memoryview avoids copying the payload; both views are released before the
        # buffer is resized, which a live export would forbid.
        try:
            with memoryview(buffer) as view, view[start:end] as payload:
                return msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except Exception as error:
            # msgpack raises ExtraData, FormatError, StackError, ValueError, TypeError
            # (unhashable map keys) ...: every one means "not our message".
            self._fail(f"payload is not one msgpack value: {type(error).__name__}: {error}")

    def _fail(self, reason: str) -> NoReturn:
        self._failure = reason
        self._buffer.clear()
        raise FrameError(reason)
