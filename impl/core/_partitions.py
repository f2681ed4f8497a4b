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

It also answers interview question Q1 ("add an 11th node to a 10-node cluster:
what fraction of the data moves?") by measurement: :func:`movement` compares two
assignments partition by partition, and :func:`q1_table` sets the strategy-3
numbers against modulo hashing (``hash % S``).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Sequence
from dataclasses import dataclass

from dynamokv.errors import ArgumentError, invariant
from dynamokv.spec.ring import (
    DEFAULT_PARTITION_COUNT,
    RING_BITS,
    assign_partitions,
    md5_position,
)

__all__ = [
    "Movement",
    "PartitionArgumentError",
    "Q1Row",
    "join",
    "leave",
    "movement",
    "preference_lists",
    "q1_table",
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


@dataclass(frozen=True)
class Movement:
    """What a ring change moves, partition by partition.

    Every partition holds the same share of the data (strategy 3's partitions are
    equal), so fractions of partitions are fractions of the data.

    Attributes:
        partition_count: Q.
        n: replicas per key.
        owners_changed: partitions whose owner (the coordinator of their keys) changes.
        copies_received: ``(partition, node)`` for every replica copy a node must
            receive because it joins that partition's preference list.
        copies_dropped: ``(partition, node)`` for every copy a node may delete once
            the new owner holds it (after the handoff, not before).
        copies_total: replica copies in the cluster after the change (Q · N when S ≥ N).
    """

    partition_count: int
    n: int
    owners_changed: tuple[int, ...]
    copies_received: tuple[tuple[int, str], ...]
    copies_dropped: tuple[tuple[int, str], ...]
    copies_total: int

    @property
    def copies_moved_fraction(self) -> float:
        """The fraction of replica copies that must be transferred."""
        return len(self.copies_received) / self.copies_total

    @property
    def coordinators_changed_fraction(self) -> float:
        """The fraction of the key space whose coordinator changes."""
        return len(self.owners_changed) / self.partition_count


def movement(before: Sequence[str], after: Sequence[str], *, n: int = 3) -> Movement:
    """Compare two assignments of the same Q: which owners and replica copies change.

    Args:
        before: the owner of each partition before the change.
        after: the owner of each partition after it.
        n: the replication factor N (Dynamo §4.3).
    """
    if len(before) != len(after):
        raise PartitionArgumentError("movement: both assignments need the same Q")
    lists_before = preference_lists(before, n)
    lists_after = preference_lists(after, n)
    received: list[tuple[int, str]] = []
    dropped: list[tuple[int, str]] = []
    for partition, (old, new) in enumerate(zip(lists_before, lists_after, strict=True)):
        received += [(partition, node) for node in new if node not in old]
        dropped += [(partition, node) for node in old if node not in new]
    return Movement(
        partition_count=len(before),
        n=n,
        owners_changed=tuple(
            p for p, (a, b) in enumerate(zip(before, after, strict=True)) if a != b
        ),
        copies_received=tuple(received),
        copies_dropped=tuple(dropped),
        copies_total=sum(len(copies) for copies in lists_after),
    )


@dataclass(frozen=True)
class Q1Row:
    """One line of the Q1 table.

    Attributes:
        scheme: how keys are placed and what was counted.
        nodes_before: S.
        nodes_after: S + 1.
        copies_moved_fraction: replica copies that must be transferred.
        coordinators_changed_fraction: keys whose coordinator changes.
        sample: what the fractions are over ("16384 partitions", "100000 keys").
    """

    scheme: str
    nodes_before: int
    nodes_after: int
    copies_moved_fraction: float
    coordinators_changed_fraction: float
    sample: str


def q1_table(
    *,
    nodes_before: int = 10,
    q: int = DEFAULT_PARTITION_COUNT,
    n: int = 3,
    sample_keys: int = 100_000,
) -> list[Q1Row]:
    """Measure Q1: add one node to ``nodes_before`` under strategy 3 and under modulo hashing.

    Strategy 3 is measured twice: exactly, over the Q equal partitions, and over
    ``sample_keys`` MD5 keys (``b"key-<i>"``). Modulo hashing places a key with
    hash ``h`` on nodes ``h % S, (h+1) % S, ...`` and is measured on the same keys.
    Theory: 1/(S+1) = 9.09 % for strategy 3, S/(S+1) = 90.9 % of the coordinators
    for modulo hashing.
    """
    if nodes_before < 1 or n < 1 or sample_keys < 1 or q <= nodes_before:
        raise PartitionArgumentError("q1_table: need S >= 1, n >= 1, keys >= 1 and Q > S")
    nodes = [f"node-{index:03d}" for index in range(nodes_before)]
    newcomer = f"node-{nodes_before:03d}"
    before = assign_partitions(nodes, q)
    after = join(before, newcomer)
    exact = movement(before, after, n=n)
    rows = [
        Q1Row(
            scheme=f"strategy 3, Q={q}, N={n}",
            nodes_before=nodes_before,
            nodes_after=nodes_before + 1,
            copies_moved_fraction=exact.copies_moved_fraction,
            coordinators_changed_fraction=exact.coordinators_changed_fraction,
            sample=f"{q} partitions",
        )
    ]

    lists_before = preference_lists(before, n)
    lists_after = preference_lists(after, n)
    hashes = [md5_position(f"key-{index}".encode()) for index in range(sample_keys)]
    moved = coordinators = 0
    for position in hashes:
        partition = (position * q) >> RING_BITS
        old, new = lists_before[partition], lists_after[partition]
        moved += sum(1 for node in new if node not in old)
        coordinators += old[0] != new[0]
    replicas = min(n, nodes_before)
    rows.append(
        Q1Row(
            scheme=f"strategy 3, Q={q}, N={n}",
            nodes_before=nodes_before,
            nodes_after=nodes_before + 1,
            copies_moved_fraction=moved / (sample_keys * min(n, nodes_before + 1)),
            coordinators_changed_fraction=coordinators / sample_keys,
            sample=f"{sample_keys} MD5 keys",
        )
    )

    moved = coordinators = 0
    for position in hashes:
        old_set = {(position + step) % nodes_before for step in range(replicas)}
        new_set = {
            (position + step) % (nodes_before + 1) for step in range(min(n, nodes_before + 1))
        }
        moved += len(new_set - old_set)
        coordinators += position % nodes_before != position % (nodes_before + 1)
    rows.append(
        Q1Row(
            scheme=f"modulo hashing, hash % S, N={n}",
            nodes_before=nodes_before,
            nodes_after=nodes_before + 1,
            copies_moved_fraction=moved / (sample_keys * min(n, nodes_before + 1)),
            coordinators_changed_fraction=coordinators / sample_keys,
            sample=f"{sample_keys} MD5 keys",
        )
    )
    return rows
