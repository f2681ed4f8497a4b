"""Lab q4, a node down for 3 hours: hinted handoff and Merkle anti-entropy (Dynamo §4.6, §4.7).

Fill in the functions below, part by part; each raises NotImplementedError until
you do. Every node of a simulated cluster calls hint_to_store, hint_may_be_deleted
and merkle_descend (through its Seams), so check 3.1 runs *your* recovery while a
node is down for three simulated hours. Check your work with `dynamokv lab check q4`.

The docstrings are the specification. The project's own answers live in
impl/core/_handoff.py, impl/core/_anti_entropy.py and spec/merkle.py:
reading them spoils the lab.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from dynamokv.impl.core import Hint, Version, hint_size_bytes  # noqa: F401  (a hint's size, for the bound)
from dynamokv.spec.merkle import MerkleDiff, MerkleTree, differing_keys  # noqa: F401

# -- part 1: hinted handoff --------------------------------------------------------------


def hint_to_store(
    owner: str,
    key: bytes,
    versions: tuple[Version, ...],
    *,
    hint_id: int,
    hints_count: int,
    hints_bytes: int,
    count_max: int,
    bytes_max: int,
) -> Hint | None:
    """What a substitute keeps for a write meant for an unreachable owner (Dynamo §4.6).

    A hint names the owner the write was meant for, so that the substitute can hand
    it back once the owner is seen alive again. The hint store is bounded, in count
    and in bytes (:func:`hint_size_bytes`): a full store refuses the write, which then
    does not count towards the coordinator's W.

    Args:
        owner: the unreachable owner the write was meant for.
        key: the key written.
        versions: the versions the coordinator sent.
        hint_id: the id the new hint must carry.
        hints_count: hints the substitute holds now.
        hints_bytes: their size, in :func:`hint_size_bytes`.
        count_max: the most hints it may hold (``hints_count_max``).
        bytes_max: the most bytes they may total (``hints_bytes_max``).

    Returns:
        The hint to store durably before acknowledging, or None to refuse the write.

    Example:
        >>> hint_to_store("n3", b"k", (), hint_id=7, hints_count=0, hints_bytes=0,
        ...               count_max=1, bytes_max=100).owner
        'n3'
    """
    raise NotImplementedError("hint_to_store")


def hint_may_be_deleted(
    hint_dots: Collection[tuple[str, int]], acked_dots: Collection[tuple[str, int]]
) -> bool:
    """Whether a substitute may delete a hint: the owner holds every version in it durably.

    Args:
        hint_dots: the dots of the versions the hint keeps.
        acked_dots: the dots the owner acknowledged as durable for this hint (empty
            when the hint has just been replayed).

    Returns:
        True only if every dot of the hint was acknowledged. Deleting earlier could lose
        an acknowledged write if the owner crashes before its copy is durable.

    Example:
        >>> hint_may_be_deleted({("n1", 4)}, ())
        False
        >>> hint_may_be_deleted({("n1", 4)}, {("n1", 4), ("n1", 5)})
        True
    """
    raise NotImplementedError("hint_may_be_deleted")


# -- part 2: the Merkle diff -------------------------------------------------------------


def diff(a: MerkleTree, b: MerkleTree) -> MerkleDiff:
    """Compare two trees top-down; descend only into node pairs whose hashes differ.

    The walk starts at the roots. Each node pair it compares (``levels[d][i]`` of
    both trees) counts once in ``nodes_compared``; equal hashes end the walk there,
    differing inner nodes send it to both children (``2i`` and ``2i + 1`` of level
    ``d + 1``), and at a differing leaf the two buckets are compared key by key
    (:func:`differing_keys`). Under an injective hash the result's keys equal
    :func:`differing_keys` of the two trees' contents (soundness and completeness,
    proved up to a depth in ``dynamokv.proofs``).
    """
    raise NotImplementedError("diff")


def merkle_descend(
    level: int, depth: int, compared: Sequence[int], differing: Sequence[int]
) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """One step of the top-down Merkle diff (Dynamo §4.7): where to look next.

    Two replicas compared the hashes of the nodes ``compared`` at ``level`` of their
    trees (0: the root; ``depth``: the leaves, one bucket of keys each), and those in
    ``differing`` differ. Equal hashes mean equal subtrees: nothing under them needs
    comparing. Under a differing inner node both children are compared next; a
    differing leaf's keys are compared one by one.

    Args:
        level: the level of the nodes just compared.
        depth: the trees' depth (the level of the leaves).
        compared: the indexes (within the level) of the nodes compared.
        differing: those of them whose hashes differ.

    Returns:
        ``(nodes, leaves)``: the node pairs to compare next, as ``(level + 1, index)``
        with the children of node ``i`` at indexes ``2i`` and ``2i + 1``, in order; and
        the indexes of the leaves whose keys to compare.

    Example:
        >>> merkle_descend(0, 3, (0,), (0,))
        (((1, 0), (1, 1)), ())
        >>> merkle_descend(3, 3, (4, 5), (5,))
        ((), (5,))
    """
    raise NotImplementedError("merkle_descend")
