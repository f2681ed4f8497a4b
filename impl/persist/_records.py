"""The one on-disk format of a node's records: what each core record becomes in the store.

A node keeps two stores (see :mod:`~dynamokv.impl.persist._adapter` for why two):

* ``data``: client key -> the key's version set, msgpack
  ``[[value, node, counter, [[node, counter], ...]], ...]``; an empty set deletes the key
  (a partition handed off, :class:`~dynamokv.impl.core.DropKeys`).
* ``meta``: ``b"h"`` + hint id (8 bytes, big-endian) -> the hint; ``b"lease"`` -> the
  counter lease; ``b"ring"`` -> the adopted ring; ``b"generation"`` -> the incarnation.

The simulator and the runtime both write through these functions, so a format change is
made once and tested by both. Changing what is written here is a change of the disk
format: stores written before it would be read wrongly.
"""

from __future__ import annotations

import struct
from typing import Literal

import msgpack
from dynamokv.errors import invariant
from dynamokv.impl.core import (
    DeleteHint,
    Hint,
    Record,
    StoreGeneration,
    StoreHint,
    StoreLease,
    StoreRing,
    StoreVersions,
    Version,
)

__all__ = [
    "GENERATION_KEY",
    "LEASE_KEY",
    "RING_KEY",
    "StoreName",
    "decode_generation",
    "decode_hint",
    "decode_lease",
    "decode_ring",
    "decode_versions",
    "encode_versions",
    "hint_id_of",
    "hint_key",
    "record_operation",
]

StoreName = Literal["data", "meta"]
"""Which of a node's two stores a record goes to."""

LEASE_KEY = b"lease"
RING_KEY = b"ring"
GENERATION_KEY = b"generation"
_HINT_PREFIX = b"h"
_HINT_ID = struct.Struct(">Q")


def encode_versions(versions: tuple[Version, ...]) -> bytes:
    """A version set as stored: ``[[value, node, counter, [[node, counter], ...]], ...]``."""
    packed: bytes = msgpack.packb(
        [[v.value, v.dot[0], v.dot[1], v.context] for v in versions], use_bin_type=True
    )
    return packed


def decode_versions(raw: bytes) -> tuple[Version, ...]:
    """The inverse of :func:`encode_versions`."""
    return tuple(
        Version(value, (node, counter), tuple([(n, c) for n, c in context]))
        for value, node, counter, context in msgpack.unpackb(raw, raw=False)
    )


def hint_key(hint_id: int) -> bytes:
    """The meta-store key of hint ``hint_id``."""
    return _HINT_PREFIX + _HINT_ID.pack(hint_id)


def hint_id_of(key: bytes) -> int | None:
    """The hint id a meta-store key names, or None if it names something else."""
    if key.startswith(_HINT_PREFIX) and len(key) == 1 + _HINT_ID.size:
        hint_id: int = _HINT_ID.unpack_from(key, 1)[0]
        return hint_id
    return None


def _encode_hint(hint: Hint) -> bytes:
    packed: bytes = msgpack.packb(
        [hint.owner, hint.key, encode_versions(hint.versions), hint.size_bytes], use_bin_type=True
    )
    return packed


def decode_hint(hint_id: int, raw: bytes) -> Hint:
    """The hint stored under :func:`hint_key` ``(hint_id)``."""
    owner, key, versions, size_bytes = msgpack.unpackb(raw, raw=False)
    return Hint(hint_id, owner, key, decode_versions(versions), size_bytes)


def decode_lease(raw: bytes | None) -> int:
    """The stored counter lease (0 if none)."""
    return 0 if raw is None else int(msgpack.unpackb(raw))


def decode_generation(raw: bytes | None) -> int:
    """The stored generation (0 if none)."""
    return 0 if raw is None else int(msgpack.unpackb(raw))


def decode_ring(raw: bytes | None) -> StoreRing | None:
    """The stored ring, or None."""
    if raw is None:
        return None
    version, issuer, owners = msgpack.unpackb(raw, raw=False)
    return StoreRing(int(version), str(issuer), tuple(owners))


def record_operation(record: Record) -> tuple[StoreName, bytes, bytes | None]:
    """The store, key and value (None: delete) that ``record`` writes."""
    kind = record.__class__
    if kind is StoreVersions:
        versions: StoreVersions = record  # type: ignore[assignment]
        if not versions.versions:
            return "data", versions.key, None
        return "data", versions.key, encode_versions(versions.versions)
    if kind is StoreHint:
        hint: StoreHint = record  # type: ignore[assignment]
        return "meta", hint_key(hint.hint.hint_id), _encode_hint(hint.hint)
    if kind is DeleteHint:
        delete: DeleteHint = record  # type: ignore[assignment]
        return "meta", hint_key(delete.hint_id), None
    if kind is StoreRing:
        ring: StoreRing = record  # type: ignore[assignment]
        value = msgpack.packb([ring.version, ring.issuer, list(ring.owners)], use_bin_type=True)
        return "meta", RING_KEY, value
    if kind is StoreGeneration:
        generation: StoreGeneration = record  # type: ignore[assignment]
        return "meta", GENERATION_KEY, msgpack.packb(generation.generation)
    invariant(kind is StoreLease, "a record type the store adapter cannot persist")
    lease: StoreLease = record  # type: ignore[assignment]
    return "meta", LEASE_KEY, msgpack.packb(lease.counter_max)
