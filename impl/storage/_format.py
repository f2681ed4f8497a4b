"""Byte layouts shared by the WAL and the segment files, and every format bound.

Keys are ordered by ring position, then by key (Dynamo §4.2: a key's position on the ring is
the MD5 of the key, a 128-bit number). The store keeps, for every key, the *sort key*
``md5(key) + key``: MD5 digests have a fixed width of 16 bytes and big-endian byte order, so
comparing sort keys as bytes compares (ring position, key) as numbers and then bytes. A
partition is one contiguous range of sort keys, which is what hinted handoff and Merkle tree
building iterate.

Checksums are CRC-32 from :func:`zlib.crc32` (the IEEE polynomial). CRC-32C would detect a
little more and has a CPU instruction, but it needs a third-party package, and in this
store a checksum over a 4 KiB block costs under a microsecond against several microseconds
of interpreter work per operation; CRC-32 detects every burst error up to 32 bits and any
odd number of flipped bits, which covers the torn writes and bit flips we defend against.
A checksum is computed before every write and verified after every read.
"""

from __future__ import annotations

import hashlib
import importlib
import struct
import zlib
from collections.abc import Callable, Sequence
from typing import Protocol

from ._errors import StorageArgumentError, StorageCorruptionError

# ------------------------------------------------------------------------------ bounds

KEY_BYTES_MAX = 4096
"""Longest key accepted (Dynamo keys are small identifiers; S3 allows 1,024 bytes)."""

VALUE_BYTES_MAX = 4 * 1024 * 1024
"""Largest value (a serialized version set) accepted; Dynamo objects are usually < 1 MB."""

BATCH_OPERATIONS_MAX = 65_536
"""Most operations in one :meth:`Store.write_batch` (one WAL record)."""

WAL_RECORD_BYTES_MAX = 64 * 1024 * 1024
"""Largest WAL record payload; recovery treats a longer length field as damage."""

RING_POSITIONS_COUNT = 1 << 128
"""Size of the ring: positions are ``0 .. 2**128 - 1`` (MD5, Dynamo §4.2)."""

POSITION_BYTES = 16

# -------------------------------------------------------------------------- sort keys


class _Digest(Protocol):
    def digest(self) -> bytes: ...  # pragma: no cover


def _md5_constructor() -> Callable[[bytes], _Digest]:
    """CPython's own MD5 (``_md5``), else OpenSSL's through :mod:`hashlib`.

    Both compute the same digest. For a key of a few dozen bytes the built-in one takes
    about 0.35 µs against 0.6 µs for OpenSSL's (which sets up a new EVP context per call),
    and every point read and write of the store hashes its key once.
    """
    try:
        constructor: Callable[[bytes], _Digest] = importlib.import_module("_md5").md5
    except ImportError:  # pragma: no cover - a CPython built without its own hashes
        constructor = hashlib.md5
    return constructor


md5 = _md5_constructor()
"""``md5(data).digest()``: the fastest MD5 at hand (see :func:`_md5_constructor`)."""


def ring_position(key: bytes) -> int:
    """The key's position on the ring: MD5 of the key as a 128-bit big-endian number."""
    return int.from_bytes(md5(key).digest(), "big")


def sort_key(key: bytes) -> bytes:
    """``md5(key) + key``: bytes order equals (ring position, key) order."""
    return md5(key).digest() + key


def position_bytes(position: int) -> bytes:
    """A ring position as the 16-byte prefix that starts its sort keys."""
    return position.to_bytes(POSITION_BYTES, "big")


# ----------------------------------------------------------------------- operations

KIND_PUT = 1
KIND_DELETE = 2

Operation = tuple[bytes, bytes | None]
"""``(key, value)`` for a put, ``(key, None)`` for a store-level delete."""


def check_key(key: object) -> None:
    """Validate a public key argument."""
    if not isinstance(key, bytes):
        raise StorageArgumentError(f"key must be bytes, not {type(key).__name__}")
    if len(key) > KEY_BYTES_MAX:
        raise StorageArgumentError(f"key is {len(key)} bytes; KEY_BYTES_MAX is {KEY_BYTES_MAX}")


def check_value(value: object) -> None:
    """Validate a public value argument."""
    if not isinstance(value, bytes):
        raise StorageArgumentError(f"value must be bytes, not {type(value).__name__}")
    if len(value) > VALUE_BYTES_MAX:
        raise StorageArgumentError(
            f"value is {len(value)} bytes; VALUE_BYTES_MAX is {VALUE_BYTES_MAX}"
        )


# ------------------------------------------------------------------------ WAL records
#
# A WAL file is a header and then records; a record is the batches of one group commit:
#
#   header  magic "DKVWAL" | version u16 | wal number u64 | crc32 of the previous 16 bytes
#   record  marker u32 | payload length u32 | crc32(length bytes + payload) u32 | payload
#   payload count u32, then per operation: kind u8 | key length u32 | value length u32 |
#           key | value
#
# The marker lets recovery find the next record after damage with ``bytes.find`` (in C),
# which is how it tells a torn tail (nothing valid follows) from corruption (something does).

WAL_MAGIC = b"DKVWAL"
WAL_VERSION = 1
WAL_HEADER = struct.Struct("<6sHQ")
WAL_HEADER_BYTES = WAL_HEADER.size + 4
WAL_RECORD_MARKER = 0xD7A35E91
WAL_RECORD_HEADER = struct.Struct("<III")
WAL_RECORD_HEADER_BYTES = WAL_RECORD_HEADER.size
WAL_MARKER_BYTES = struct.pack("<I", WAL_RECORD_MARKER)
_LENGTH = struct.Struct("<I")
_COUNT = struct.Struct("<I")
OPERATION_HEADER = struct.Struct("<BII")


def encode_wal_header(number: int) -> bytes:
    """The 20-byte header that starts WAL file ``number``."""
    head = WAL_HEADER.pack(WAL_MAGIC, WAL_VERSION, number)
    return head + _LENGTH.pack(zlib.crc32(head))


def decode_wal_header(data: bytes) -> int | None:
    """The WAL number in a valid header, or ``None`` if the header is damaged."""
    if len(data) < WAL_HEADER_BYTES:
        return None
    head = data[: WAL_HEADER.size]
    (crc,) = _LENGTH.unpack_from(data, WAL_HEADER.size)
    if zlib.crc32(head) != crc:
        return None
    magic, version, number = WAL_HEADER.unpack(head)
    if magic != WAL_MAGIC or version != WAL_VERSION:
        return None
    return int(number)


def frame_wal_record(payload: bytes) -> bytes:
    """One WAL record around ``payload``: marker u32 | length u32 | crc32 u32 | payload.

    All integers are little-endian. The marker is ``WAL_RECORD_MARKER`` (0xD7A35E91);
    the length counts the payload's bytes; the checksum is CRC-32 (``zlib.crc32``) of
    the four length bytes and then the payload, so a torn or flipped length is caught
    as surely as a damaged payload. The record's overhead is 12 bytes.
    """
    length = _LENGTH.pack(len(payload))
    return (
        WAL_MARKER_BYTES + length + _LENGTH.pack(zlib.crc32(payload, zlib.crc32(length))) + payload
    )


def encode_wal_payload(operations: Sequence[Operation]) -> bytes:
    """The payload of one WAL record: a batch of already validated operations."""
    parts = [_COUNT.pack(len(operations))]
    for key, value in operations:
        if value is None:
            parts.append(OPERATION_HEADER.pack(KIND_DELETE, len(key), 0))
            parts.append(key)
        else:
            parts.append(OPERATION_HEADER.pack(KIND_PUT, len(key), len(value)))
            parts.append(key)
            parts.append(value)
    return b"".join(parts)


_ONE_PUT = struct.Struct("<IBII")


def encode_wal_put_payload(key: bytes, value: bytes) -> bytes:
    """:func:`encode_wal_payload` for one put, without building a list (the hot path)."""
    return _ONE_PUT.pack(1, KIND_PUT, len(key), len(value)) + key + value


def join_wal_payloads(payloads: Sequence[bytes]) -> bytes:
    """One payload holding the operations of every payload in ``payloads``, in order.

    A group commit writes its writers' batches as one record, so that a crash in the
    middle of the group's ``write`` leaves one torn record (see :mod:`._wal`). Each
    batch stays atomic because the whole group is.
    """
    if len(payloads) == 1:
        return payloads[0]
    count = 0
    for payload in payloads:
        count += _COUNT.unpack_from(payload)[0]
    skip = _COUNT.size
    return _COUNT.pack(count) + b"".join([memoryview(payload)[skip:] for payload in payloads])


def wal_record_at(data: bytes, offset: int) -> bytes | None:
    """The payload of a valid record starting at ``offset``, else ``None``."""
    if offset + WAL_RECORD_HEADER_BYTES > len(data):
        return None
    marker, length, crc = WAL_RECORD_HEADER.unpack_from(data, offset)
    if marker != WAL_RECORD_MARKER or length > WAL_RECORD_BYTES_MAX:
        return None
    start = offset + WAL_RECORD_HEADER_BYTES
    end = start + length
    if end > len(data):
        return None
    payload = data[start:end]
    if zlib.crc32(payload, zlib.crc32(_LENGTH.pack(length))) != crc:
        return None
    return payload


def read_wal_records(data: bytes, offset: int) -> tuple[tuple[tuple[int, bytes], ...], int]:
    """Every valid record from ``offset`` on, stopping at the first torn or corrupt one.

    Args:
        data: the log's bytes (a WAL file after its header, or any slice of records).
        offset: where the first record starts.

    Returns:
        ``(records, stop)``: each record as ``(its offset, its payload)``, in order, and
        the offset where reading stopped: ``len(data)`` when every record was valid,
        else the start of the first record that is torn (cut short) or corrupt (wrong
        marker, a length over ``WAL_RECORD_BYTES_MAX``, or a checksum that does not
        match). Nothing after that record is returned, even if it looks valid: after
        damage, the log cannot be trusted to say where the next record starts.
    """
    records: list[tuple[int, bytes]] = []
    while offset < len(data):
        payload = wal_record_at(data, offset)
        if payload is None:
            break
        records.append((offset, payload))
        offset += WAL_RECORD_HEADER_BYTES + len(payload)
    return tuple(records), offset


def decode_wal_payload(payload: bytes, *, path: str, offset: int) -> list[Operation]:
    """Operations of a record whose checksum was already verified."""
    try:
        (count,) = _COUNT.unpack_from(payload, 0)
        position = _COUNT.size
        operations: list[Operation] = []
        for _ in range(count):
            kind, key_length, value_length = OPERATION_HEADER.unpack_from(payload, position)
            position += OPERATION_HEADER.size
            key = payload[position : position + key_length]
            position += key_length
            if kind == KIND_PUT:
                value: bytes | None = payload[position : position + value_length]
                position += value_length
            elif kind == KIND_DELETE and value_length == 0:
                value = None
            else:
                raise ValueError(f"operation kind {kind}")
            if len(key) != key_length or len(key) > KEY_BYTES_MAX:
                raise ValueError("key runs past the record")
            operations.append((key, value))
        if position != len(payload):
            raise ValueError("trailing bytes")
    except (struct.error, ValueError) as error:
        raise StorageCorruptionError(
            f"WAL record has a valid checksum but does not decode ({error})",
            path=path,
            offset=offset,
        ) from None
    return operations
