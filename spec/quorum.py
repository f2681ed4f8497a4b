"""Quorums: how N, R and W interact (Dynamo §4.5, interview Q3).

Each key is stored on N replicas. A get waits for R of them, a put for W. If every
set of R replicas shares a member with every set of W replicas, a get that starts
after a put was acknowledged meets at least one replica that holds it: R + W > N
gives read-your-writes. If 2W > N, any two write quorums share a replica, so two
puts cannot both be acknowledged without one of the N replicas seeing both.

Dynamo does not enforce a strict quorum. A *sloppy* quorum takes the first N
*healthy* nodes walking the ring, so a substitute stands in for an unreachable
owner and keeps the write with a hint naming that owner (hinted handoff, Dynamo
§4.6). Writes stay available under partitions, but a read and a write can then
land on disjoint node sets even with R + W > N (theorem
``sloppy_quorum_can_miss_strict``).

The intersection predicates here are brute force over every subset: slow, but
obviously right. The Z3 proofs show the same for all N by counting.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence, Set
from dataclasses import dataclass

import icontract

__all__ = [
    "QuorumConfig",
    "is_strict_consistent",
    "quorums",
    "read_write_quorums_intersect",
    "sloppy_quorum",
    "strict_quorum",
    "write_quorums_intersect",
]


@icontract.invariant(lambda self: 1 <= self.r <= self.n and 1 <= self.w <= self.n)
@dataclass(frozen=True, kw_only=True)
class QuorumConfig:
    """Replication factor ``n`` (per cluster), read quorum ``r`` and write quorum ``w``
    (per operation). The defaults are N=3, R=2, W=2."""

    n: int = 3
    r: int = 2
    w: int = 2


def is_strict_consistent(config: QuorumConfig) -> bool:
    """Whether a strict quorum with this configuration gives read-your-writes: R + W > N.

    Why this is the condition is :func:`read_write_quorums_intersect` (by brute
    force, for small N) and the theorem ``quorum_intersection`` (for all N).
    """
    return config.r + config.w > config.n


@icontract.require(lambda n, size: 0 <= size <= n <= 12)
def quorums(n: int, size: int) -> list[frozenset[int]]:
    """Every set of ``size`` replicas out of replicas ``0 .. n-1``."""
    return [frozenset(chosen) for chosen in itertools.combinations(range(n), size)]


@icontract.require(lambda n, r, w: 1 <= r <= n and 1 <= w <= n <= 8)
@icontract.ensure(lambda n, r, w, result: result == (r + w > n))
def read_write_quorums_intersect(n: int, r: int, w: int) -> bool:
    """Whether every read quorum of size ``r`` meets every write quorum of size ``w``."""
    return all(read & write for read in quorums(n, r) for write in quorums(n, w))


@icontract.require(lambda n, w: 1 <= w <= n <= 8)
@icontract.ensure(lambda n, w, result: result == (2 * w > n))
def write_quorums_intersect(n: int, w: int) -> bool:
    """Whether every two write quorums of size ``w`` share a replica."""
    return all(first & second for first in quorums(n, w) for second in quorums(n, w))


@icontract.require(
    lambda extended_preference_list: (
        len(set(extended_preference_list)) == len(extended_preference_list)
    )
)
@icontract.require(lambda n: n >= 1)
@icontract.ensure(lambda n, result: len(result) <= n)
@icontract.ensure(lambda healthy, result: all(node in healthy for node, _ in result))
@icontract.ensure(
    lambda extended_preference_list, n, result: all(
        (hinted_for is None) == (node in extended_preference_list[:n])
        for node, hinted_for in result
    )
)
@icontract.ensure(
    lambda extended_preference_list, n, result: (
        len({hint for _, hint in result if hint is not None})
        == len([hint for _, hint in result if hint is not None])
    )
)
def sloppy_quorum(
    extended_preference_list: Sequence[str], healthy: Set[str], n: int
) -> tuple[tuple[str, str | None], ...]:
    """The nodes a sloppy quorum writes to, each with the owner it holds a hint for.

    Dynamo §4.6: "all read and write operations are performed on the first N
    healthy nodes from the preference list, which may not always be the first N
    nodes encountered while walking the consistent hashing ring." A substitute
    (a node past the first N) holds a hint naming the unhealthy owner it stands
    in for; it hands the write back when that owner recovers.

    Args:
        extended_preference_list: every distinct node, clockwise from the key.
        healthy: the nodes the coordinator currently believes are up.
        n: the replication factor.

    Returns:
        Pairs ``(node, hinted_for)``: ``hinted_for`` is None for an owner, and
        the unhealthy owner's id for a substitute. Fewer than ``n`` pairs when
        fewer than ``n`` nodes are healthy.
    """
    owners = list(extended_preference_list[:n])
    unhealthy_owners = [node for node in owners if node not in healthy]
    chosen: list[tuple[str, str | None]] = [(node, None) for node in owners if node in healthy]
    substitutes = [node for node in extended_preference_list[n:] if node in healthy]
    for substitute, owner in zip(substitutes, unhealthy_owners, strict=False):
        chosen.append((substitute, owner))
    return tuple(chosen)


@icontract.require(lambda n: n >= 1)
@icontract.ensure(lambda preference_list, n, result: set(result) <= set(preference_list[:n]))
def strict_quorum(preference_list: Sequence[str], healthy: Set[str], n: int) -> tuple[str, ...]:
    """The healthy nodes among the first ``n``: a strict quorum uses no substitutes."""
    return tuple(node for node in preference_list[:n] if node in healthy)
