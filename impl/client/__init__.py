"""The Python client of a dynamokv cluster: sync (:class:`Client`) and trio (:class:`AsyncClient`).

Both speak the node's HTTP API (``docs/http-api.md``) to one node; any node serves any
key. :class:`RingAwareClient` knows the ring and sends each request to a coordinator of
its key (client-driven coordination, Dynamo §6.4). A get returns every sibling and an opaque context; a put carries the context back
(Dynamo §4.4). Resolvers merge siblings: :func:`union` for set-like values (the shopping
cart), :func:`last_write_wins` only where losing concurrent writes is acceptable.

This package imports only the standard library, trio and :mod:`dynamokv.spec`, so it can
be vendored into an application without the node.
"""

from __future__ import annotations

from ._async import AsyncClient
from ._model import (
    ClientError,
    GetReply,
    QuorumError,
    Resolver,
    Sibling,
    last_write_wins,
    union,
)
from ._ring_aware import RingAwareClient
from ._sync import Client, split_address

__all__ = [
    "AsyncClient",
    "Client",
    "ClientError",
    "GetReply",
    "QuorumError",
    "Resolver",
    "RingAwareClient",
    "Sibling",
    "last_write_wins",
    "split_address",
    "union",
]
