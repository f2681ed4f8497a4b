"""What the client returns, the errors it raises, and the sibling resolvers.

Reconciliation is the client's job in Dynamo (§4.4: "the client must perform the
reconciliation ... to collapse multiple branches of data evolution back into one"): a get
may return several *siblings*; the application merges them with a *resolver* and writes
the merged value back with the get's context, which supersedes every sibling it saw.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import dynamokv.spec.errors
from dynamokv.spec import kv as spec_kv
from dynamokv.spec.errors import ArgumentError, DynamoKVError

__all__ = [
    "ClientError",
    "GetReply",
    "QuorumError",
    "Resolver",
    "Sibling",
    "last_write_wins",
    "union",
]


class ClientError(DynamoKVError):
    """The node refused the request (4xx) or could not be reached.

    Attributes:
        status: the HTTP status, or 0 when no response arrived.
    """

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class QuorumError(ClientError, dynamokv.spec.errors.QuorumError):
    """Fewer than R (get) or W (put) replicas answered in time (HTTP 503).

    For a put, the write may still have reached some replicas: Dynamo has no rollback, so
    it may appear later (as a sibling, or superseding).
    """


@dataclass(frozen=True, slots=True)
class Sibling:
    """One concurrent version of a key.

    Attributes:
        value: the bytes, or ``None`` for a tombstone (a delete).
        clock: its vector clock, ``{node: counter}`` (Dynamo §4.4).
        dot: the ``(coordinator, counter)`` event that wrote it.
    """

    value: bytes | None
    clock: Mapping[str, int]
    dot: tuple[str, int]

    @property
    def tombstone(self) -> bool:
        """Whether this sibling is a delete."""
        return self.value is None


@dataclass(frozen=True, slots=True)
class GetReply:
    """Every sibling of a key (tombstones included) and the context to write back with.

    Attributes:
        key: the key read.
        siblings: the concurrent versions; empty if the key was never written.
        context: opaque; pass it to ``put`` or ``delete`` to supersede these siblings.
    """

    key: bytes
    siblings: tuple[Sibling, ...]
    context: str

    @property
    def values(self) -> tuple[bytes, ...]:
        """The live (non-tombstone) values."""
        return tuple(s.value for s in self.siblings if s.value is not None)

    @property
    def value(self) -> bytes | None:
        """The one live value, ``None`` if there is none.

        Raises:
            ClientError: there are several live siblings: resolve them
                (:meth:`Client.get_resolved <dynamokv.impl.client.Client.get_resolved>`).
        """
        values = self.values
        if len(values) > 1:
            raise ClientError(f"{len(values)} siblings: resolve them (get_resolved)")
        return values[0] if values else None


Resolver = Callable[[Sequence[Sibling]], bytes | None]
"""Merges siblings into one value (``None``: the merged state is deleted)."""


def union(siblings: Sequence[Sibling]) -> bytes | None:
    """The shopping cart's resolver: the union of the items (one per line) of every sibling.

    Uses :func:`dynamokv.spec.kv.union_resolve`. An item added in any branch survives; an
    item deleted in one branch and kept in another comes back (Dynamo §4.4 accepts that for
    carts). Tombstones contribute nothing; if every sibling is a tombstone the result is
    ``None`` (stay deleted).
    """
    values = [s.value for s in siblings if s.value is not None]
    if not values:
        return None
    return spec_kv.union_resolve(values)


def last_write_wins(siblings: Sequence[Sibling]) -> bytes | None:
    """Keep one sibling and **discard the others**: opt in only where losing writes is fine.

    Interview Q5: last-write-wins silently drops concurrent updates. Two customers who add
    different items to one cart at the same moment produce two siblings; this resolver
    keeps one and the other item is gone, with no error anywhere. Dynamo keeps siblings
    precisely so that an application can do better (:func:`union`).

    Versions carry no wall-clock time here (clock skew makes one unreliable anyway), so
    "last" is a deterministic stand-in: the sibling whose vector clock has counted the most
    events (the sum of its counters), ties broken by the larger value, through
    :func:`dynamokv.spec.kv.lww_resolve`. A tombstone can win: the result is then ``None``.
    """
    if not siblings:
        return None
    ranked = [
        (sum(s.clock.values()), b"" if s.value is None else b"\x01" + s.value) for s in siblings
    ]
    winner = spec_kv.lww_resolve(ranked)
    return None if winner == b"" else winner[1:]


# -- shared by the sync and async clients ----------------------------------------------------

CONTEXT_HEADER = "X-Dynamo-Context"


def key_bytes(key: bytes | str) -> bytes:
    """A key as bytes (``str`` keys are UTF-8)."""
    if isinstance(key, str):
        return key.encode("utf-8")
    if isinstance(key, bytes):
        return key
    raise ArgumentError(f"key must be bytes or str, got {type(key).__name__}")


def kv_target(key: bytes | str, params: Mapping[str, Any]) -> str:
    """``/kv/<percent-encoded key>?name=value...``."""
    target = "/kv/" + quote(key_bytes(key), safe="")
    query = "&".join(f"{name}={value}" for name, value in params.items() if value is not None)
    return f"{target}?{query}" if query else target


def parse_get(key: bytes, document: Mapping[str, Any]) -> GetReply:
    """A :class:`GetReply` from the JSON of ``GET /kv/{key}`` (``Accept: application/json``)."""
    siblings = []
    for item in document.get("siblings", []):
        encoded = item.get("value_base64")
        value = None if item.get("tombstone") else base64.b64decode(encoded or "")
        dot = item.get("dot") or ["", 0]
        siblings.append(Sibling(value, dict(item.get("clock", {})), (str(dot[0]), int(dot[1]))))
    return GetReply(key, tuple(siblings), str(document.get("context", "")))


def error_message(status: int, body: bytes) -> str:
    """The ``error`` of a JSON error body, or a short excerpt of the body."""
    import json

    with contextlib.suppress(ValueError):  # not JSON: fall back to the raw body
        document = json.loads(body)
        if isinstance(document, dict) and "error" in document:
            return f"HTTP {status}: {document['error']}"
    return f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}"


def raise_for_status(status: int, body: bytes) -> None:
    """Raise :class:`QuorumError` for 503 and :class:`ClientError` for any other failure."""
    if status == 503:
        raise QuorumError(error_message(status, body), status=status)
    if status >= 400:
        raise ClientError(error_message(status, body), status=status)
