"""diff counts only the leaves it compares, not the inner nodes on the way down.

The keys are right; the cost it reports is not the cost of the walk.
"""

from __future__ import annotations

from dynamokv.spec.merkle import MerkleDiff, MerkleTree, differing_keys

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def diff(a: MerkleTree, b: MerkleTree) -> MerkleDiff:
    compared = 0
    keys: set[bytes] = set()
    frontier = [(0, 0)]
    while frontier:
        level, index = frontier.pop()
        if level == a.depth:
            compared += 1
        if a.levels[level][index] == b.levels[level][index]:
            continue
        if level == a.depth:
            keys |= differing_keys(dict(a.buckets[index]), dict(b.buckets[index]))
        else:
            frontier += [(level + 1, 2 * index), (level + 1, 2 * index + 1)]
    return MerkleDiff(frozenset(keys), compared)
