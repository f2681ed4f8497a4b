"""Client-driven coordination (Dynamo §6.4): the client routes each request itself.

A plain :class:`~dynamokv.impl.client.Client` talks to one node, which may not
own the key: a put then takes an extra hop (the node forwards it to an owner,
Dynamo §4.5), and a get is coordinated by a node that must ask every owner over
the network. Dynamo §6.4's client-driven coordination moves that choice into the
client library: it downloads the membership state from a random node, so it
knows every key's preference list, and sends each request straight to the key's
coordinator (the first owner). Amazon's clients polled a random node every 10
seconds; this one does the same (``refresh_seconds``), and refreshes at once
when a node it routed to cannot be reached.

The ring is strategy 3's (Dynamo §6.2): Q equal partitions, a key's partition is
its MD5 position scaled to Q, and its preference list is the first N distinct
owners walking the partitions clockwise from it (:func:`dynamokv.spec.ring.partition_of`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import ArgumentError

from ._model import ClientError, GetReply
from ._sync import Client

__all__ = ["RingAwareClient"]

_T = TypeVar("_T")

REFRESH_SECONDS = 10.0
"""How often the membership view is pulled from a random node (Dynamo §6.4)."""


class RingAwareClient:
    """A synchronous client that sends each request to a coordinator of its key.

    Args:
        addresses: the HTTP addresses of the cluster's nodes (``"host:port"``).
        timeout_seconds: per request.
        refresh_seconds: how old the membership view may grow.
        rng: picks the node the view is pulled from.
        clock: seconds, monotonic (injected for tests).

    Raises:
        ClientError: no node could be asked for the ring.
    """

    def __init__(
        self,
        addresses: Sequence[str],
        *,
        timeout_seconds: float = 10.0,
        refresh_seconds: float = REFRESH_SECONDS,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not addresses:
            raise ArgumentError("a ring-aware client needs at least one node address")
        self._clients = {
            address: Client(address, timeout_seconds=timeout_seconds) for address in addresses
        }
        self._refresh_seconds = refresh_seconds
        self._rng = rng or random.Random()
        self._clock = clock
        self._address_of: dict[str, str] = {}
        self._assignment: tuple[str, ...] = ()
        self._n = 0
        self._preference: dict[int, tuple[str, ...]] = {}
        self._refreshed_at = -float("inf")
        self.refreshes = 0
        self.refresh()

    # -- the membership view ------------------------------------------------------------

    def refresh(self) -> None:
        """Pull the ring (every partition's owner) and the members' HTTP addresses."""
        addresses = list(self._clients)
        self._rng.shuffle(addresses)
        last_error: ClientError | None = None
        for address in addresses:
            client = self._clients[address]
            try:
                ring = client.json("/cluster/ring?assignment=1")
                members = client.json("/cluster/members")
            except ClientError as error:
                last_error = error
                continue
            self._assignment = tuple(ring["assignment"])
            self._n = int(ring["n"])
            self._preference = {}
            self._address_of = {
                member["name"]: member["http"]
                for member in members["members"]
                if member.get("http") in self._clients
            }
            self._refreshed_at = self._clock()
            self.refreshes += 1
            return
        raise ClientError(f"no node answered for the ring: {last_error}")

    def preference_list(self, key: bytes | str) -> tuple[str, ...]:
        """The key's N owners, coordinator first, from the client's view of the ring."""
        if self._clock() - self._refreshed_at >= self._refresh_seconds:
            self.refresh()
        raw = key.encode() if isinstance(key, str) else key
        q = len(self._assignment)
        # spec_ring.partition_of's arithmetic, without its contract checks on the hot path.
        partition = (spec_ring.md5_position(raw) * q) >> spec_ring.RING_BITS
        cached = self._preference.get(partition)
        if cached is not None:
            return cached
        owners: list[str] = []
        offset = 0
        while len(owners) < self._n and offset < q:
            owner = self._assignment[(partition + offset) % q]
            if owner not in owners:
                owners.append(owner)
            offset += 1
        preference = tuple(owners)
        self._preference[partition] = preference
        return preference

    def owner_addresses(self, key: bytes | str) -> tuple[str, ...]:
        """The HTTP addresses of the key's owners, coordinator first."""
        owners = (self._address_of.get(node) for node in self.preference_list(key))
        return tuple(address for address in owners if address is not None)

    def _routed(self, key: bytes | str) -> list[Client]:
        return [self._clients[address] for address in self.owner_addresses(key)]

    # -- requests -----------------------------------------------------------------------

    def get(self, key: bytes | str, *, r: int | None = None) -> GetReply:
        """Dynamo's ``get()``, sent to the key's coordinator (the next owner if it is down)."""
        return self._try(key, lambda client: client.get(key, r=r))

    def put(
        self,
        key: bytes | str,
        value: bytes | str,
        context: str | None = None,
        *,
        w: int | None = None,
    ) -> str:
        """Dynamo's ``put()``, sent to the key's coordinator; returns the new context."""
        return self._try(key, lambda client: client.put(key, value, context, w=w))

    def _try(self, key: bytes | str, call: Callable[[Client], _T]) -> _T:
        last_error: ClientError | None = None
        for client in self._routed(key):
            try:
                return call(client)
            except ClientError as error:
                if not isinstance(error.__cause__, OSError):
                    raise  # the node answered (a quorum error, a bad request): not routing
                last_error = error
                self._refreshed_at = -float("inf")  # the view may be stale: pull it next time
        raise ClientError(f"no owner of {key!r} answered: {last_error}")

    def close(self) -> None:
        """Close every connection."""
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> RingAwareClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
