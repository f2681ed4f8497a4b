"""The Merkle walk descends under every node it compares, equal or not.

It still finds the right keys, but it compares the whole tree every time: the
work is proportional to the data, not to the difference (Dynamo §4.7).
"""

from __future__ import annotations

from collections.abc import Sequence

from dynamokv.spec.merkle import MerkleDiff, MerkleTree, differing_keys

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def diff(a: MerkleTree, b: MerkleTree) -> MerkleDiff:
    compared = 0
    keys: set[bytes] = set()
    frontier = [(0, 0)]
    while frontier:
        level, index = frontier.pop()
        compared += 1
        if level == a.depth:
            if a.levels[level][index] != b.levels[level][index]:
                keys |= differing_keys(dict(a.buckets[index]), dict(b.buckets[index]))
        else:
            frontier += [(level + 1, 2 * index), (level + 1, 2 * index + 1)]
    return MerkleDiff(frozenset(keys), compared)


def merkle_descend(
    level: int, depth: int, compared: Sequence[int], differing: Sequence[int]
) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    if level == depth:
        return (), tuple(differing)
    return tuple(
        (level + 1, child) for index in compared for child in (2 * index, 2 * index + 1)
    ), ()
