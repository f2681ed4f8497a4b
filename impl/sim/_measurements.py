"""Measurements that need no simulated cluster: what a ring change moves, and repair traffic.

* Q1 ("add an 11th node to a 10-node cluster: what fraction of the data moves?",
  Dynamo §4.8.1, §6.2): :func:`movement` compares two strategy-3 assignments partition
  by partition, and :func:`q1_table` sets the strategy-3 numbers against modulo hashing
  (``hash % S``). The ``q1`` preset (:mod:`~dynamokv.impl.sim._presets`) prints them
  beside what whole simulated clusters actually move.
* Merkle repair traffic (Dynamo §4.7): :func:`measure_repair_traffic` runs the node's
  own exchange (:class:`~dynamokv.impl.core.AntiEntropy`) between two replicas that
  differ in a known number of keys, and reports the bytes against a full copy: the
  traffic is proportional to the difference, not to the data.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import msgpack
from dynamokv.errors import ArgumentError, invariant
from dynamokv.impl.core import (
    AntiEntropy,
    AntiEntropyConfig,
    AntiEntropyEffect,
    MerkleSend,
    PartitionMerkleTree,
    RepairKeys,
    merkle_descend,
)
from dynamokv.impl.core import partitions as _partitions
from dynamokv.spec.ring import DEFAULT_PARTITION_COUNT, RING_BITS, assign_partitions, md5_position

__all__ = [
    "Movement",
    "Q1Row",
    "RepairTraffic",
    "measure_repair_traffic",
    "movement",
    "q1_table",
]


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
        raise ArgumentError("movement: both assignments need the same Q")
    lists_before = _partitions.preference_lists(before, n)
    lists_after = _partitions.preference_lists(after, n)
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
        raise ArgumentError("q1_table: need S >= 1, n >= 1, keys >= 1 and Q > S")
    nodes = [f"node-{index:03d}" for index in range(nodes_before)]
    newcomer = f"node-{nodes_before:03d}"
    before = assign_partitions(nodes, q)
    after = _partitions.join(before, newcomer)
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

    lists_before = _partitions.preference_lists(before, n)
    lists_after = _partitions.preference_lists(after, n)
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


@dataclass(frozen=True)
class RepairTraffic:
    """Anti-entropy traffic against a full copy, for one divergence scenario.

    Attributes:
        keys: keys on the first replica.
        divergent: keys that differ between the replicas.
        partitions: trees compared (one per partition).
        depth: tree depth.
        keys_repaired: differing keys the exchanges found.
        nodes_exchanged: node hashes sent.
        merkle_bytes: bytes of all exchange messages, both directions.
        repair_bytes: ``merkle_bytes`` plus the repaired keys' values, both directions.
        full_copy_bytes: the bytes of sending every key and value once.
    """

    keys: int
    divergent: int
    partitions: int
    depth: int
    keys_repaired: int
    nodes_exchanged: int
    merkle_bytes: int
    repair_bytes: int
    full_copy_bytes: int

    @property
    def fraction(self) -> float:
        """``repair_bytes / full_copy_bytes``."""
        return self.repair_bytes / self.full_copy_bytes


def measure_repair_traffic(
    *,
    keys: int = 100_000,
    divergent: int = 100,
    value_bytes: int = 100,
    depth: int = 10,
    partition_count: int = 1,
    config: AntiEntropyConfig | None = None,
    descend: Callable[
        [int, int, Sequence[int], Sequence[int]],
        tuple[tuple[tuple[int, int], ...], tuple[int, ...]],
    ] = merkle_descend,
) -> RepairTraffic:
    """Two replicas of ``keys`` keys, ``divergent`` of them different; repair by exchange.

    The divergence is deterministic: every ``keys // divergent``-th key is, in turn,
    missing on the second replica, stale there (another value), or present only
    there. Values are ``value_bytes`` bytes; ``value_hash`` is their BLAKE2b. The
    replicas hold ``partition_count`` partitions (1: the whole ring is one key range,
    as in Dynamo's per-key-range trees) and compare one tree pair per non-empty
    partition. Messages are delivered in process, in order. ``descend`` is the top-down
    walk's step (:func:`~dynamokv.impl.core.merkle_descend` unless a lab replaces it).
    """
    if not 0 <= divergent <= keys or keys < 1 or value_bytes < 0:
        raise ArgumentError("need keys >= 1 and 0 <= divergent <= keys")

    def value_of(index: int, variant: int) -> bytes:
        seed = hashlib.blake2b(f"{index}/{variant}".encode(), digest_size=64).digest()
        return (seed * (value_bytes // 64 + 1))[:value_bytes]

    def tree_of(position: int) -> int:
        return (position * partition_count) >> 128

    first: dict[int, PartitionMerkleTree] = {}
    second: dict[int, PartitionMerkleTree] = {}
    values_first: dict[bytes, bytes] = {}
    values_second: dict[bytes, bytes] = {}
    stride = keys // divergent if divergent else keys + 1
    chosen = 0
    for index in range(keys):
        key = f"key-{index:08d}".encode()
        partition = tree_of(md5_position(key))
        value = value_of(index, 0)
        values_first[key] = value
        kind = -1
        if index % stride == 0 and chosen < divergent:
            kind, chosen = chosen % 3, chosen + 1
        if kind != 0:  # 0: missing on the second replica
            values_second[key] = value_of(index, 1) if kind == 1 else value
        if kind == 2:  # present only on the second replica
            del values_first[key]
    for values, trees in ((values_first, first), (values_second, second)):
        for key, value in values.items():
            partition = tree_of(md5_position(key))
            if partition not in trees:
                trees[partition] = PartitionMerkleTree(
                    partition, partition_count=partition_count, depth=depth
                )
            trees[partition].put(key, hashlib.blake2b(value, digest_size=16).digest())

    initiator = AntiEntropy("replica-a", config, descend=descend)
    responder = AntiEntropy("replica-b", config, descend=descend)
    found: set[bytes] = set()
    for partition in sorted(first.keys() | second.keys()):
        mine = first.get(partition) or PartitionMerkleTree(
            partition, partition_count=partition_count, depth=depth
        )
        queue: deque[MerkleSend] = deque()
        started = initiator.start_exchange("replica-b", mine, 0)
        invariant(started is not None, "merkle: measurement runs one exchange at a time")
        effects: list[AntiEntropyEffect] = list(started or [])
        while True:
            for effect in effects:
                if isinstance(effect, MerkleSend):
                    queue.append(effect)
                elif isinstance(effect, RepairKeys):
                    found.update(effect.keys)
            if not queue:
                break
            send = queue.popleft()
            if send.destination == "replica-b":
                effects = responder.receive(send.message, 0, second.get(partition))
            else:
                effects = initiator.receive(send.message, 0, mine)
    merkle_bytes = initiator.metrics.bytes_sent + responder.metrics.bytes_sent

    def record_bytes(key: bytes, value: bytes) -> int:
        return len(msgpack.packb((key, value), use_bin_type=True))

    value_bytes_sent = sum(
        record_bytes(key, values[key])
        for key in found
        for values in (values_first, values_second)
        if key in values
    )
    return RepairTraffic(
        keys=len(values_first),
        divergent=divergent,
        partitions=initiator.metrics.trees_compared,
        depth=depth,
        keys_repaired=len(found),
        nodes_exchanged=initiator.metrics.nodes_exchanged,
        merkle_bytes=merkle_bytes,
        repair_bytes=merkle_bytes + value_bytes_sent,
        full_copy_bytes=sum(record_bytes(key, value) for key, value in values_first.items()),
    )
