"""Consistent hashing: which nodes store a key (Dynamo §4.2, interview Q1).

Keys are hashed with MD5 into a 128-bit circular space, the *ring*. A ring is a
sorted tuple of *tokens* ``(position, node)``. A key belongs to the first token
clockwise from its position (the first token at or after it, wrapping past the
top), and its *preference list* is the first N distinct physical nodes met when
walking clockwise from there (Dynamo §4.3). A node with several tokens is a set
of *virtual nodes*.

Two ways of placing tokens are specified, both as plain rings so that one
:func:`preference_list` serves both:

* **Strategy 1** (Dynamo §6.2): each node gets T random tokens, here the hash
  of ``b"node/i"``; a heavier node gets more tokens (weights).
* **Strategy 3**, the default: the ring is cut into Q equal partitions
  (16,384 slots by default) and each node owns Q/S of them. Partition ``p`` covers
  positions ``[p*RING_SIZE/Q, (p+1)*RING_SIZE/Q)`` and its token sits at the
  partition's last position. A join steals whole partitions from the most loaded
  nodes, so exactly the stolen partitions move (about 1/(S+1) of the data).
* **Weighted strategy 3**: heterogeneous nodes (Dynamo §2: "a powerful machine gets
  more") carry a weight, and node *i* owns its quota of Q·wᵢ/Σw partitions,
  rounded so the quotas sum to Q (:func:`weighted_quotas`); joins and leaves move
  only the partitions that must change owner to keep every node within one
  partition of Q·wᵢ/Σw.

Hash functions are parameters: the specs stay pure, and CrossHair can reason
about them without entering ``hashlib``.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence

import icontract

__all__ = [
    "DEFAULT_PARTITION_COUNT",
    "RING_BITS",
    "RING_SIZE",
    "HashFn",
    "Ring",
    "Token",
    "assign_partitions",
    "assign_partitions_weighted",
    "extended_preference_list",
    "is_balanced",
    "is_ring",
    "is_weighted_balanced",
    "join_partitions",
    "join_partitions_weighted",
    "keys_that_move",
    "leave_partitions",
    "leave_partitions_weighted",
    "md5_position",
    "nodes_of",
    "partition_of",
    "partition_ring",
    "partition_start",
    "preference_list",
    "random_tokens",
    "weighted_quotas",
]

RING_BITS = 128
RING_SIZE = 1 << RING_BITS
"""Positions are integers in ``[0, RING_SIZE)``: the range of MD5."""

DEFAULT_PARTITION_COUNT = 16_384
"""Q in strategy 3: 16,384 slots."""

Token = tuple[int, str]
"""A virtual node: ``(position, physical node id)``."""

Ring = tuple[Token, ...]
"""Tokens sorted by position; positions are distinct."""

HashFn = Callable[[bytes], int]
"""Maps bytes to a ring position in ``[0, RING_SIZE)``."""


def md5_position(key: bytes) -> int:
    """The ring position of ``key``: its MD5 digest read as a big-endian integer.

    Dynamo §4.2: "Dynamo applies a MD5 hash on the key to generate a 128-bit
    identifier, which is used to determine the storage nodes".
    """
    return int.from_bytes(hashlib.md5(key).digest(), "big")


def is_ring(ring: Ring) -> bool:
    """Whether ``ring`` is a valid ring: non-empty, sorted, distinct positions in range."""
    positions = [position for position, _ in ring]
    return (
        len(ring) >= 1
        and all(0 <= position < RING_SIZE for position in positions)
        and all(a < b for a, b in itertools.pairwise(positions))
    )


def _distinct(items: Sequence[Hashable]) -> bool:
    """Whether no item appears twice."""
    return len(set(items)) == len(items)


def nodes_of(ring: Ring) -> frozenset[str]:
    """The physical nodes that hold at least one token."""
    return frozenset(node for _, node in ring)


@icontract.require(lambda ring: is_ring(ring))
@icontract.require(lambda position: 0 <= position < RING_SIZE)
@icontract.ensure(lambda ring, result: len(result) == len(nodes_of(ring)))
@icontract.ensure(lambda result: _distinct(result))
def extended_preference_list(ring: Ring, position: int) -> tuple[str, ...]:
    """Every distinct physical node, in the order met walking clockwise from ``position``.

    The walk starts at the first token whose position is at or after ``position``
    and wraps past the top of the ring. The first N entries are the preference
    list; the rest are the substitutes a sloppy quorum may use (Dynamo §4.6).
    """
    start = bisect.bisect_left([token_position for token_position, _ in ring], position)
    ordered: list[str] = []
    for _, node in (*ring[start:], *ring[:start]):
        if node not in ordered:
            ordered.append(node)
    return tuple(ordered)


@icontract.require(lambda ring: is_ring(ring))
@icontract.require(lambda position: 0 <= position < RING_SIZE)
@icontract.require(lambda n: n >= 1)
@icontract.ensure(lambda ring, n, result: len(result) == min(n, len(nodes_of(ring))))
@icontract.ensure(lambda result: _distinct(result))
def preference_list(ring: Ring, position: int, n: int) -> tuple[str, ...]:
    """The first ``n`` distinct physical nodes clockwise from ``position`` (Dynamo §4.3).

    The first of them is the key's coordinator; skipping repeated physical nodes
    means the N replicas sit on N different machines even with virtual nodes.
    """
    return extended_preference_list(ring, position)[:n]


@icontract.require(lambda weights: len(weights) >= 1)
@icontract.require(lambda weights: all(count >= 1 for count in weights.values()))
@icontract.ensure(lambda result: is_ring(result))
def random_tokens(weights: Mapping[str, int], hash_fn: HashFn) -> Ring:
    """Strategy 1: node ``x`` with weight ``t`` gets tokens ``hash_fn(b"x/0") .. hash_fn(b"x/t-1")``.

    The tokens look random but are a pure function of the node names, so every
    node computes the same ring. A position already taken (a hash collision) is
    given to the token that sorts first by node id.

    Args:
        weights: node id -> number of tokens (virtual nodes) for it.
        hash_fn: maps bytes to a ring position, e.g. :func:`md5_position`.
    """
    tokens: dict[int, str] = {}
    for node in sorted(weights):
        for index in range(weights[node]):
            position = hash_fn(f"{node}/{index}".encode()) % RING_SIZE
            tokens.setdefault(position, node)
    return tuple(sorted(tokens.items()))


@icontract.require(lambda q: q >= 1)
@icontract.require(lambda partition, q: 0 <= partition <= q)
def partition_start(partition: int, q: int) -> int:
    """The first position of ``partition`` (``RING_SIZE`` for ``partition == q``)."""
    return -(-partition * RING_SIZE // q)


@icontract.require(lambda q: q >= 1)
@icontract.require(lambda position: 0 <= position < RING_SIZE)
@icontract.ensure(lambda q, result: 0 <= result < q)
@icontract.ensure(lambda q, position, result: partition_start(result, q) <= position)
def partition_of(position: int, q: int) -> int:
    """Strategy 3: the index of the equal partition that contains ``position``."""
    return position * q // RING_SIZE


@icontract.require(lambda nodes: len(nodes) >= 1 and _distinct(nodes))
@icontract.require(lambda nodes, q: q >= len(nodes))
@icontract.ensure(lambda q, result: len(result) == q)
@icontract.ensure(lambda nodes, result: set(result) == set(nodes))
@icontract.ensure(lambda nodes, result: is_balanced(result, nodes))
def assign_partitions(nodes: Sequence[str], q: int) -> tuple[str, ...]:
    """Strategy 3: give partition ``p`` to ``nodes[p % S]``.

    Round-robin makes neighbouring partitions belong to different nodes, so a
    preference list of N distinct nodes is N consecutive partitions.

    Returns:
        The owner of each partition, indexed by partition.
    """
    return tuple(nodes[partition % len(nodes)] for partition in range(q))


def is_balanced(assignment: Sequence[str], nodes: Iterable[str]) -> bool:
    """Whether every node owns ``Q/S`` partitions, rounded down or up."""
    counts = Counter(assignment)
    members = list(nodes)
    if not members:
        return False
    low = len(assignment) // len(members)
    return all(low <= counts[node] <= low + 1 for node in members) and set(counts) <= set(members)


@icontract.require(lambda assignment, new_node: new_node not in assignment)
@icontract.require(lambda assignment: not _distinct(assignment))
@icontract.ensure(
    lambda assignment, new_node, result: all(
        after in (before, new_node) for before, after in zip(assignment, result, strict=True)
    )
)
@icontract.ensure(
    lambda assignment, new_node, result: (
        is_balanced(result, [*set(assignment), new_node])
        or not is_balanced(assignment, set(assignment))
    )
)
def join_partitions(assignment: Sequence[str], new_node: str) -> tuple[str, ...]:
    """Strategy 3 join: ``new_node`` steals partitions until the load is balanced.

    Dynamo §6.2, strategy 3: "When a node joins the system, it needs to 'steal'
    its tokens from nodes in the system". The new node takes Q/(S+1) partitions,
    each from a currently most loaded node, so the old nodes stay within one
    partition of each other. The stolen partitions are spread evenly round the
    ring and, where possible, not next to each other. When they also lie at
    least N partitions apart (true for nearly all of them when Q is much larger
    than S, as with Q = 16,384) the new node appears in N different preference
    lists per partition it owns and is the only node that receives data: about
    1/(S+1) of all replica copies. With few partitions two steals can land
    closer, and then an old node gains a copy too (see the ring docs page).

    Only stolen partitions change owner, and they change only to the new node.
    """
    owners = list(assignment)
    q = len(owners)
    members = sorted(set(owners))
    target = q // (len(members) + 1)
    counts = Counter(owners)

    def stealable(index: int, *, spread: bool) -> bool:
        if owners[index] == new_node or counts[owners[index]] != max(counts[m] for m in members):
            return False
        neighbours = (owners[(index - 1) % q], owners[(index + 1) % q])
        return not spread or new_node not in neighbours

    for steal in range(target):
        start = steal * q // target
        scan = [*range(start, q), *range(start)]
        index = next((i for i in scan if stealable(i, spread=True)), None)
        if index is None:
            index = next(i for i in scan if stealable(i, spread=False))
        counts[owners[index]] -= 1
        owners[index] = new_node
    return tuple(owners)


@icontract.require(lambda assignment, node: node in assignment)
@icontract.require(lambda assignment: len(set(assignment)) >= 2)
@icontract.ensure(lambda node, result: node not in result)
@icontract.ensure(
    lambda assignment, node, result: all(
        before == after for before, after in zip(assignment, result, strict=True) if before != node
    )
)
@icontract.ensure(
    lambda assignment, node, result: (
        is_balanced(result, set(assignment) - {node})
        or not is_balanced(assignment, set(assignment))
    )
)
def leave_partitions(assignment: Sequence[str], node: str) -> tuple[str, ...]:
    """Strategy 3 leave: the leaving node's partitions go, one by one, to the least loaded node.

    Only the leaving node's partitions move (Dynamo §4.8.1, §6.2).
    """
    owners = list(assignment)
    members = sorted(set(owners) - {node})
    counts = Counter(owner for owner in owners if owner != node)
    for index, owner in enumerate(owners):
        if owner == node:
            heir = min(members, key=lambda member: (counts[member], member))
            owners[index] = heir
            counts[heir] += 1
    return tuple(owners)


def _valid_weights(weights: Mapping[str, int]) -> bool:
    return len(weights) >= 1 and all(type(w) is int and w >= 1 for w in weights.values())


def _weights_of(weights: Mapping[str, int], nodes: Iterable[str]) -> dict[str, int]:
    return {node: weights[node] for node in nodes}


def _room_for(weights: Mapping[str, int], q: int) -> bool:
    """Whether every node's share Q·wᵢ/Σw is at least one whole partition."""
    return bool(weights) and q * min(weights.values()) >= sum(weights.values())


@icontract.require(lambda weights: _valid_weights(weights))
@icontract.require(lambda weights, q: _room_for(weights, q))
@icontract.ensure(lambda weights, result: set(result) == set(weights))
@icontract.ensure(lambda result: all(quota >= 1 for quota in result.values()))
@icontract.ensure(lambda q, result: sum(result.values()) == q)
@icontract.ensure(
    lambda weights, q, result: all(
        abs(result[node] * sum(weights.values()) - q * weight) < sum(weights.values())
        for node, weight in weights.items()
    )
)
def weighted_quotas(weights: Mapping[str, int], q: int) -> dict[str, int]:
    """Each node's share of the Q partitions: Q·wᵢ/Σw, rounded so the shares sum to Q
    (every share at least one partition: Q·min(w) >= Σw is required).

    The largest-remainder rule: every node gets the whole part of its share, and the
    partitions left over go to the largest fractional parts (ties: by node id). Each
    quota is then less than one partition from Q·wᵢ/Σw. Equal weights give the
    quotas of :func:`assign_partitions`, Q/S rounded down or up.
    """
    total = sum(weights.values())
    floors = {node: q * weight // total for node, weight in weights.items()}
    left = q - sum(floors.values())
    by_remainder = sorted(weights, key=lambda node: (-(q * weights[node] % total), node))
    return {node: floors[node] + (1 if node in by_remainder[:left] else 0) for node in weights}


def is_weighted_balanced(assignment: Sequence[str], weights: Mapping[str, int]) -> bool:
    """Whether every node owns within one partition of Q·wᵢ/Σw, and only nodes with a
    weight own any."""
    if not _valid_weights(weights):
        return False
    counts = Counter(assignment)
    total = sum(weights.values())
    q = len(assignment)
    return set(counts) <= set(weights) and all(
        abs(counts[node] * total - q * weight) <= total for node, weight in weights.items()
    )


@icontract.require(lambda weights: _valid_weights(weights))
@icontract.require(lambda weights, q: _room_for(weights, q))
@icontract.ensure(lambda q, result: len(result) == q)
@icontract.ensure(
    lambda weights, q, result: Counter(result) == Counter(weighted_quotas(weights, q))
)
def assign_partitions_weighted(weights: Mapping[str, int], q: int) -> tuple[str, ...]:
    """Weighted strategy 3: node *i* owns exactly its :func:`weighted_quotas` share.

    The partitions are dealt by smooth weighted round-robin (each step every node
    earns its quota, the richest takes the partition and pays Q), which spreads
    each node's partitions evenly round the ring and, with equal quotas, deals
    them round-robin in node order.
    """
    quotas = weighted_quotas(weights, q)
    order = sorted(quotas)
    credit: Counter[str] = Counter()
    owners: list[str] = []
    for _ in range(q):
        for node in order:
            credit[node] += quotas[node]
        chosen = max(order, key=lambda node: credit[node])  # ties: the first in order
        credit[chosen] -= q
        owners.append(chosen)
    return tuple(owners)


@icontract.require(lambda assignment: len(assignment) >= 1)
@icontract.require(lambda assignment, new_node: new_node not in assignment)
@icontract.require(lambda assignment, weights: set(assignment) <= set(weights))
@icontract.require(lambda weights, new_node: new_node in weights and _valid_weights(weights))
@icontract.require(
    lambda assignment, weights, new_node: _room_for(
        {node: w for node, w in weights.items() if node in {new_node}.union(assignment)},
        len(assignment),
    )
)
@icontract.ensure(
    lambda assignment, new_node, result: all(
        after in (before, new_node) for before, after in zip(assignment, result, strict=True)
    )
)
@icontract.ensure(
    lambda assignment, weights, new_node, result: (
        Counter(result)[new_node]
        == weighted_quotas(
            {
                node: weight
                for node, weight in weights.items()
                if node in {new_node}.union(assignment)
            },
            len(assignment),
        )[new_node]
    )
)
@icontract.ensure(
    lambda assignment, weights, new_node, result: (
        is_weighted_balanced(result, _weights_of(weights, {new_node}.union(assignment)))
        or not is_weighted_balanced(assignment, _weights_of(weights, set(assignment)))
    )
)
def join_partitions_weighted(
    assignment: Sequence[str], weights: Mapping[str, int], new_node: str
) -> tuple[str, ...]:
    """Weighted strategy 3 join: ``new_node`` steals exactly its quota of partitions.

    Each steal takes a partition of the node furthest above its new share Q·wᵢ/Σw
    (the shares of the old nodes and ``new_node`` together), spread evenly round the
    ring and, where possible, not next to another of ``new_node``'s partitions, as
    :func:`join_partitions` does. Only stolen partitions change owner, and only to
    the new node; an old node that was at its quota before ends within one
    partition of its new one.
    """
    owners = list(assignment)
    q = len(owners)
    members = {node: weights[node] for node in {*owners, new_node}}
    quotas = weighted_quotas(members, q)
    take = quotas[new_node]
    total = sum(members.values())
    counts = Counter(owners)
    for steal in range(take):
        # The node furthest above its share gives (ties: the smallest id). The share, not
        # the rounded quota: a node one partition over a quota that was rounded up may be
        # less over its share than a node one over a quota rounded down.
        donor = min(
            counts,
            key=lambda node: (q * members[node] - counts[node] * total, node),
        )
        start = steal * q // take
        scan = [*range(start, q), *range(start)]

        def fits(index: int, *, spread: bool, donor: str = donor) -> bool:
            if owners[index] != donor:
                return False
            neighbours = (owners[(index - 1) % q], owners[(index + 1) % q])
            return not spread or new_node not in neighbours

        index = next((i for i in scan if fits(i, spread=True)), None)
        if index is None:
            index = next(i for i in scan if fits(i, spread=False))
        counts[donor] -= 1
        owners[index] = new_node
    return tuple(owners)


@icontract.require(lambda assignment, node: node in assignment)
@icontract.require(lambda assignment: len(set(assignment)) >= 2)
@icontract.require(lambda assignment, weights: set(assignment) <= set(weights))
@icontract.require(lambda weights: _valid_weights(weights))
@icontract.ensure(lambda node, result: node not in result)
@icontract.ensure(
    lambda assignment, node, result: all(
        before == after for before, after in zip(assignment, result, strict=True) if before != node
    )
)
@icontract.ensure(
    lambda assignment, weights, node, result: (
        is_weighted_balanced(result, _weights_of(weights, set(assignment) - {node}))
        or not is_weighted_balanced(assignment, _weights_of(weights, set(assignment)))
    )
)
def leave_partitions_weighted(
    assignment: Sequence[str], weights: Mapping[str, int], node: str
) -> tuple[str, ...]:
    """Weighted strategy 3 leave: each of ``node``'s partitions goes to the node furthest
    below its new share Q·wᵢ/Σw. Only the leaving node's partitions move (Dynamo §4.8.1)."""
    owners = list(assignment)
    q = len(owners)
    remaining = {member: weights[member] for member in set(owners) - {node}}
    total = sum(remaining.values())
    counts = Counter(owner for owner in owners if owner != node)
    for index, owner in enumerate(owners):
        if owner == node:
            # The node furthest below its share takes it (ties: the smallest id). The share,
            # not the rounded quota, as for a join: a node one under a quota rounded up
            # may be less under its share than a node one under a quota rounded down.
            heir = min(
                remaining,
                key=lambda member: (counts[member] * total - q * remaining[member], member),
            )
            owners[index] = heir
            counts[heir] += 1
    return tuple(owners)


@icontract.require(lambda assignment: len(assignment) >= 1)
@icontract.ensure(lambda assignment, result: len(result) == len(assignment))
@icontract.ensure(lambda result: is_ring(result))
def partition_ring(assignment: Sequence[str]) -> Ring:
    """The ring of a strategy-3 assignment: one token at each partition's last position."""
    q = len(assignment)
    return tuple(
        (partition_start(partition + 1, q) - 1, owner) for partition, owner in enumerate(assignment)
    )


@icontract.require(lambda before, after: is_ring(before) and is_ring(after))
@icontract.require(lambda n: n >= 1)
@icontract.require(lambda positions: all(0 <= p < RING_SIZE for p in positions))
def keys_that_move(before: Ring, after: Ring, positions: Iterable[int], n: int) -> frozenset[int]:
    """The key positions whose set of N replicas differs between two rings.

    The set can change either way (Dynamo §4.8.1): a node that joins it must receive
    a copy it did not hold, and a node that leaves it no longer keeps one (on a ring
    of fewer than N nodes, a departure only shrinks the set). A key's coordinator may
    or may not change as well.
    """
    return frozenset(
        position
        for position in positions
        if set(preference_list(before, position, n)) != set(preference_list(after, position, n))
    )
