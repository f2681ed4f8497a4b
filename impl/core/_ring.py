"""The ring and the preference list, precomputed (Dynamo §4.2, §4.3, strategy 3 of §6.2).

:mod:`dynamokv.spec.ring` walks the ring token by token on every call: obviously
right, and far too slow for the request path. With strategy 3 the ring is Q equal
partitions, so every key of a partition has the same (extended) preference list.
:class:`PartitionRing` computes that list once per partition, when the membership
view is built, and a lookup is then one MD5 and two index operations. The
differential tests check that the lists equal ``spec.ring.preference_list`` on the
ring of :func:`dynamokv.spec.ring.partition_ring`.

A node on a fixed ring is given one; a gossip-mode node builds one for every ring it
adopts, through a :class:`RingCache` its driver may share between nodes (the simulator
runs many nodes, and restarts them, on the same few rings).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import invariant

__all__ = [
    "PARTITION_CACHE_KEYS_MAX",
    "RING_CACHE_MAX",
    "MembershipView",
    "PartitionRing",
    "RingCache",
]

PARTITION_CACHE_KEYS_MAX = 65_536
"""Most keys whose MD5 position a :class:`PartitionRing` remembers."""


class MembershipView(Protocol):
    """What a node knows about the ring: the protocol the core uses.

    Subclass it (or duck-type it) to provide another placement; the core calls
    only these three methods.
    """

    def preference_list(self, key: bytes) -> tuple[str, ...]:
        """The first N distinct physical nodes for ``key`` (its owners)."""
        ...

    def extended_preference_list(self, key: bytes) -> tuple[str, ...]:
        """Every physical node, clockwise from ``key``: owners first, then substitutes."""
        ...

    def nodes(self) -> tuple[str, ...]:
        """Every member, sorted."""
        ...


class PartitionRing(MembershipView):
    """Strategy 3: Q equal partitions with owners; preference lists precomputed.

    Args:
        assignment: the owner of each partition, indexed by partition (as made by
            :func:`dynamokv.spec.ring.assign_partitions`); its length is Q.
        n: the replication factor N.
    """

    __slots__ = (
        "_extended",
        "_n",
        "_nodes",
        "_positions",
        "_preference",
        "_q",
        "_shared",
        "assignment",
    )

    def __init__(self, assignment: Sequence[str], *, n: int) -> None:
        invariant(len(assignment) >= 1, "a ring needs at least one partition")
        invariant(n >= 1, "the replication factor must be positive")
        self.assignment = tuple(assignment)
        self._q = len(self.assignment)
        self._n = n
        self._nodes = tuple(sorted(set(self.assignment)))
        count = len(self._nodes)
        extended: list[tuple[str, ...]] = []
        # Walk clockwise from each partition's token; memoise identical walks, which
        # round-robin assignments produce S times over.
        memo: dict[tuple[str, ...], tuple[str, ...]] = {}
        owners = self.assignment
        q = self._q
        for partition in range(q):
            ordered: list[str] = []
            seen: set[str] = set()
            offset = 0
            while len(ordered) < count:
                node = owners[(partition + offset) % q]
                if node not in seen:
                    seen.add(node)
                    ordered.append(node)
                offset += 1
            walk = tuple(ordered)
            extended.append(memo.setdefault(walk, walk))
        self._extended = tuple(extended)
        self._preference = tuple(walk[:n] for walk in self._extended)
        self._positions: dict[bytes, int] = {}
        self._shared: dict[str, dict[str, tuple[int, ...]]] = {}

    @classmethod
    def balanced(
        cls, nodes: Sequence[str], *, n: int, q: int = spec_ring.DEFAULT_PARTITION_COUNT
    ) -> PartitionRing:
        """The round-robin ring of :func:`dynamokv.spec.ring.assign_partitions`."""
        invariant(q >= len(nodes) >= 1, "need 1 <= len(nodes) <= q")
        ordered = list(nodes)
        return cls(tuple(ordered[p % len(ordered)] for p in range(q)), n=n)

    @property
    def n(self) -> int:
        """The replication factor N."""
        return self._n

    @property
    def q(self) -> int:
        """The number of partitions Q."""
        return self._q

    def position_of(self, key: bytes) -> int:
        """The key's ring position: its MD5 read as a number (Dynamo §4.2).

        Hot keys are looked up again and again (to route, and to find their Merkle
        leaf), so the position of up to ``PARTITION_CACHE_KEYS_MAX`` keys is remembered
        (the map is emptied when full): a key is hashed once, not once per use.
        """
        positions = self._positions
        position = positions.get(key)
        if position is None:
            position = spec_ring.md5_position(key)
            if len(positions) >= PARTITION_CACHE_KEYS_MAX:
                positions.clear()
            positions[key] = position
        return position

    def partition_of(self, key: bytes) -> int:
        """The partition holding ``key``: its MD5 position scaled to Q (Dynamo §4.2)."""
        position = self._positions.get(key)
        if position is None:
            position = self.position_of(key)
        return (position * self._q) >> spec_ring.RING_BITS

    def preference_list(self, key: bytes) -> tuple[str, ...]:
        """The key's N owners; the first is the usual coordinator (Dynamo §4.3)."""
        return self._preference[self.partition_of(key)]

    def extended_preference_list(self, key: bytes) -> tuple[str, ...]:
        """Owners, then the substitutes a sloppy quorum may use (Dynamo §4.6)."""
        return self._extended[self.partition_of(key)]

    def partition_preference_list(self, partition: int) -> tuple[str, ...]:
        """The preference list shared by every key of ``partition``."""
        return self._preference[partition]

    def nodes(self) -> tuple[str, ...]:
        """Every member, sorted."""
        return self._nodes

    def shared_partitions(self, node_id: str) -> dict[str, tuple[int, ...]]:
        """Peer -> the partitions both ``node_id`` and the peer own, peers sorted.

        What anti-entropy compares with each peer (Dynamo §4.7: "the key ranges that they
        host in common"); computed once per node and ring.
        """
        cached = self._shared.get(node_id)
        if cached is not None:
            return cached
        shared: dict[str, list[int]] = {}
        for partition in range(self._q):
            owners = self._preference[partition]
            if node_id in owners:
                for peer in owners:
                    if peer != node_id:
                        shared.setdefault(peer, []).append(partition)
        result = {peer: tuple(parts) for peer, parts in sorted(shared.items())}
        self._shared[node_id] = result
        return result


RING_CACHE_MAX = 16
"""Rings a :class:`RingCache` keeps (the oldest goes first)."""


class RingCache:
    """Built rings by name, so that nodes and restarts sharing a ring build it once.

    ``(version, issuer)`` names one ring everywhere (gossip's rule), so the key needs no
    hash of the Q owners; a ring whose owners differ under the same name is rebuilt.
    A driver may give one cache to all the nodes it runs; a node given none keeps its own.
    """

    __slots__ = ("_rings",)

    def __init__(self) -> None:
        self._rings: dict[tuple[int, str, int, int], PartitionRing] = {}

    def ring(self, version: int, issuer: str, owners: tuple[str, ...], *, n: int) -> PartitionRing:
        """The :class:`PartitionRing` of ring ``(version, issuer)`` with these owners."""
        effective_n = min(n, len(set(owners)))
        key = (version, issuer, len(owners), effective_n)
        ring = self._rings.get(key)
        if ring is None or ring.assignment != owners:
            if len(self._rings) >= RING_CACHE_MAX:
                self._rings.pop(next(iter(self._rings)))
            ring = PartitionRing(owners, n=effective_n)
            self._rings[key] = ring
        return ring
