"""Strategy-3 partition moves at full size: join, leave, and what they move (Dynamo §6.2, Q1).

Dynamo's third partitioning strategy cuts the ring into Q equal partitions and
gives each of the S nodes Q/S of them; a joining node *steals* whole partitions,
a leaving node hands its partitions out (Dynamo §4.8.1, §6.2). The rules are
specified in :mod:`dynamokv.spec.ring` (:func:`~dynamokv.spec.ring.join_partitions`,
:func:`~dynamokv.spec.ring.leave_partitions`), which favour being obviously right
over being fast: every steal rescans the ring and recounts every load, O(Q·S) per
stolen partition, minutes at Q = 16,384 and S = 256.

This module computes **exactly the same assignments** (a differential Hypothesis
test holds it to the spec) with the loads kept incrementally:

* each node's partitions sit in a sorted list, and the nodes are bucketed by how
  many partitions they own, so "the first partition clockwise from ``start``
  whose owner is among the most loaded" is one :func:`bisect.bisect_left` per
  most-loaded node instead of a scan of the ring: O(Q/(S+1) · S · log Q) for a
  whole join, about O(Q log Q);
* a leave hands partitions out from a heap keyed by ``(load, node id)``, the
  spec's tie-break: O(Q/S · log S).

What a join or leave moves, and interview question Q1 ("add an 11th node to a
10-node cluster: what fraction of the data moves?"), are measured by the simulator
(:mod:`dynamokv.impl.sim._measurements`).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Mapping, Sequence

from dynamokv.spec.errors import ArgumentError, invariant
from dynamokv.spec.ring import weighted_quotas

__all__ = [
    "PartitionArgumentError",
    "join",
    "join_weighted",
    "leave",
    "leave_weighted",
    "preference_lists",
]


class PartitionArgumentError(ArgumentError):
    """A join or leave was asked for with arguments the strategy cannot serve."""


def join(assignment: Sequence[str], new_node: str) -> tuple[str, ...]:
    """Strategy-3 join: ``new_node`` steals Q/(S+1) partitions from the most loaded nodes.

    Equal, partition for partition, to :func:`dynamokv.spec.ring.join_partitions`.
    Steal ``k`` starts its clockwise search at partition ``k·Q/target`` (so the
    stolen partitions spread round the ring) and takes the first partition whose
    owner is among the most loaded old nodes and whose neighbours are not already
    the new node's; when no partition satisfies the neighbour rule, the first one
    owned by a most loaded node.

    Args:
        assignment: the owner of each partition, indexed by partition.
        new_node: a node id that owns no partition yet.

    Returns:
        The new assignment: only stolen partitions change owner, all to ``new_node``.

    Raises:
        PartitionArgumentError: the assignment is empty, already holds ``new_node``,
            or has no more partitions than nodes (nothing can be stolen).
    """
    owners = list(assignment)
    q = len(owners)
    if q == 0:
        raise PartitionArgumentError("join: the assignment is empty")
    if new_node in owners:
        raise PartitionArgumentError(f"join: {new_node!r} already owns partitions")
    positions: dict[str, list[int]] = {}
    for index, owner in enumerate(owners):
        positions.setdefault(owner, []).append(index)  # ascending: enumerate is ordered
    if len(positions) >= q:
        raise PartitionArgumentError("join: every partition has its own node, Q must exceed S")

    # Nodes bucketed by load; the most loaded bucket is the only one steals come from.
    by_load: dict[int, set[str]] = {}
    for node, indexes in positions.items():
        by_load.setdefault(len(indexes), set()).add(node)
    load_max = max(by_load)
    target = q // (len(positions) + 1)

    def spread_ok(index: int) -> bool:
        return owners[(index - 1) % q] != new_node and owners[(index + 1) % q] != new_node

    def first_from(indexes: list[int], start: int, bound: int, *, spread: bool) -> int | None:
        # The first of ``indexes`` clockwise from ``start`` (distance < ``bound``) that
        # passes the neighbour rule; ``None`` when there is none nearer than ``bound``.
        first = bisect.bisect_left(indexes, start)
        for offset in range(len(indexes)):
            index = indexes[(first + offset) % len(indexes)]
            if (index - start) % q >= bound:
                return None
            if not spread or spread_ok(index):
                return index
        return None

    for steal in range(target):
        start = steal * q // target
        chosen: int | None = None
        for spread in (True, False):
            bound = q
            for node in by_load[load_max]:
                found = first_from(positions[node], start, bound, spread=spread)
                if found is not None:
                    chosen, bound = found, (found - start) % q
            if chosen is not None:
                break
        invariant(chosen is not None, "join: a most loaded node owns no partition")
        assert chosen is not None  # for mypy; the invariant above is the real check
        victim = owners[chosen]
        indexes = positions[victim]
        del indexes[bisect.bisect_left(indexes, chosen)]
        by_load[load_max].discard(victim)
        by_load.setdefault(load_max - 1, set()).add(victim)
        if not by_load[load_max]:
            del by_load[load_max]
            load_max -= 1
        owners[chosen] = new_node
    result = tuple(owners)
    invariant(result.count(new_node) == target, "join: the new node must own Q/(S+1) partitions")
    return result


def leave(assignment: Sequence[str], node: str) -> tuple[str, ...]:
    """Strategy-3 leave: ``node``'s partitions go, in ring order, to the least loaded node.

    Equal, partition for partition, to :func:`dynamokv.spec.ring.leave_partitions`:
    ties between equally loaded heirs go to the smallest node id.

    Raises:
        PartitionArgumentError: ``node`` owns nothing, or it is the only node.
    """
    owners = list(assignment)
    if node not in owners:
        raise PartitionArgumentError(f"leave: {node!r} owns no partition")
    loads: dict[str, int] = {}
    for owner in owners:
        if owner != node:
            loads[owner] = loads.get(owner, 0) + 1
    if not loads:
        raise PartitionArgumentError(f"leave: {node!r} is the only node")
    heap = [(load, member) for member, load in loads.items()]
    heapq.heapify(heap)
    for index, owner in enumerate(owners):
        if owner == node:
            load, heir = heapq.heappop(heap)
            owners[index] = heir
            heapq.heappush(heap, (load + 1, heir))
    return tuple(owners)


def join_weighted(
    assignment: Sequence[str], weights: Mapping[str, int], new_node: str
) -> tuple[str, ...]:
    """Weighted strategy-3 join: ``new_node`` steals exactly its quota, Q·w/Σw partitions.

    Equal, partition for partition, to :func:`dynamokv.spec.ring.join_partitions_weighted`:
    steal ``k`` takes a partition of the node furthest above its new share Q·wᵢ/Σw (ties:
    the smallest id), the first of its partitions clockwise from ``k·Q/quota`` whose
    neighbours are not already the new node's, else the first from there. The donors sit
    in a heap keyed by surplus, their partitions in sorted lists: O(quota · log Q).

    Raises:
        PartitionArgumentError: ``new_node`` already owns partitions, a node has no
            weight, or some node's share would be under one partition.
    """
    owners = list(assignment)
    q = len(owners)
    if new_node in owners:
        raise PartitionArgumentError(f"join: {new_node!r} already owns partitions")
    members = {*owners, new_node}
    missing = sorted(member for member in members if member not in weights)
    if missing:
        raise PartitionArgumentError(f"join: no weight for {', '.join(missing)}")
    quotas = _quotas({member: weights[member] for member in members}, q)
    total = sum(weights[member] for member in members)
    positions: dict[str, list[int]] = {}
    for index, owner in enumerate(owners):
        positions.setdefault(owner, []).append(index)
    # Keyed by how far below its share Q·w/Σw a node is, scaled by Σw to stay integral.
    heap = [(q * weights[node] - len(indexes) * total, node) for node, indexes in positions.items()]
    heapq.heapify(heap)
    take = quotas[new_node]

    def spread_ok(index: int) -> bool:
        return owners[(index - 1) % q] != new_node and owners[(index + 1) % q] != new_node

    for steal in range(take):
        start = steal * q // take
        _, donor = heapq.heappop(heap)
        indexes = positions[donor]
        first = bisect.bisect_left(indexes, start)
        ring_order = indexes[first:] + indexes[:first]  # the donor's partitions from start on
        chosen = next((index for index in ring_order if spread_ok(index)), ring_order[0])
        del indexes[bisect.bisect_left(indexes, chosen)]
        owners[chosen] = new_node
        heapq.heappush(heap, (q * weights[donor] - len(indexes) * total, donor))
    result = tuple(owners)
    invariant(result.count(new_node) == take, "join: the new node must own its quota")
    return result


def leave_weighted(
    assignment: Sequence[str], weights: Mapping[str, int], node: str
) -> tuple[str, ...]:
    """Weighted strategy-3 leave: each of ``node``'s partitions, in ring order, goes to the
    node furthest below its new share Q·wᵢ/Σw (ties: the smallest id).

    Equal, partition for partition, to :func:`dynamokv.spec.ring.leave_partitions_weighted`.

    Raises:
        PartitionArgumentError: ``node`` owns nothing, is the only node, or a node has no
            weight.
    """
    owners = list(assignment)
    remaining = {owner for owner in owners if owner != node}
    if node not in owners or not remaining:
        raise PartitionArgumentError(f"leave: {node!r} owns no partition, or is the only node")
    missing = sorted(member for member in remaining if member not in weights)
    if missing:
        raise PartitionArgumentError(f"leave: no weight for {', '.join(missing)}")
    q = len(owners)
    _quotas({member: weights[member] for member in remaining}, q)  # refuses a share under one
    total = sum(weights[member] for member in remaining)
    loads = {member: 0 for member in remaining}
    for owner in owners:
        if owner != node:
            loads[owner] += 1
    # Keyed by how far below its share Q·w/Σw a node is, scaled by Σw to stay integral.
    heap = [(loads[member] * total - q * weights[member], member) for member in remaining]
    heapq.heapify(heap)
    for index, owner in enumerate(owners):
        if owner == node:
            below, heir = heapq.heappop(heap)
            owners[index] = heir
            heapq.heappush(heap, (below + total, heir))
    return tuple(owners)


def _quotas(weights: Mapping[str, int], q: int) -> dict[str, int]:
    """:func:`dynamokv.spec.ring.weighted_quotas`, whose contract checks every call: the
    rule is one line, and a second copy of it would be a second place to get it wrong."""
    if q * min(weights.values()) < sum(weights.values()):
        raise PartitionArgumentError(
            f"a weight's share would be under one partition (Q={q}, weights {dict(weights)})"
        )
    return weighted_quotas(weights, q)


def preference_lists(assignment: Sequence[str], n: int) -> tuple[tuple[str, ...], ...]:
    """The preference list of every partition: its first ``n`` distinct owners clockwise.

    A key in partition ``p`` is first met by ``p``'s token, so its preference list
    (Dynamo §4.3) is the owners of ``p, p+1, ...`` with repeats skipped; this
    equals :func:`dynamokv.spec.ring.preference_list` on
    :func:`~dynamokv.spec.ring.partition_ring` at any position inside ``p``.
    """
    q = len(assignment)
    if q == 0 or n < 1:
        raise PartitionArgumentError("preference_lists: need partitions and n >= 1")
    want = min(n, len(set(assignment)))
    lists: list[tuple[str, ...]] = []
    for partition in range(q):
        found: list[str] = []
        step = 0
        while len(found) < want:
            owner = assignment[(partition + step) % q]
            if owner not in found:
                found.append(owner)
            step += 1
        lists.append(tuple(found))
    return tuple(lists)
