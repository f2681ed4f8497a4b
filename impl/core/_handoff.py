"""Hinted handoff's decisions (Dynamo §4.6), as module-level rules the node calls.

A substitute that accepts a write for an unreachable owner keeps it as a *hint*
(:func:`hint_to_store`: one naming the owner, within the hint bounds) and replays it
once the owner is back. The one decision that keeps acknowledged writes safe
is when the substitute may forget the hint: only once the owner has acknowledged every
version in it *durably*. The node asks :func:`hint_may_be_deleted` each time what it
knows about the owner changes, starting when it replays the hint and the owner has
acknowledged nothing yet. It calls the rule through its
:class:`~dynamokv.impl.core.Seams`, so a lab or a test can replace it.
"""

from __future__ import annotations

from collections.abc import Collection

from dynamokv.spec.kv import Version

from ._messages import Hint

__all__ = ["hint_may_be_deleted", "hint_size_bytes", "hint_to_store"]


def hint_size_bytes(key: bytes, versions: tuple[Version, ...]) -> int:
    """What a hint counts against ``hints_bytes_max``: the key, each value, 16 bytes per
    clock entry and dot."""
    return len(key) + sum(len(v.value or b"") + 16 * (1 + len(v.context)) for v in versions)


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
    size = hint_size_bytes(key, versions)
    if hints_count >= count_max or hints_bytes + size > bytes_max:
        return None
    return Hint(hint_id, owner, key, versions, size)


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
    acked = set(acked_dots)
    return all(dot in acked for dot in hint_dots)
