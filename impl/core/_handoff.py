"""Hinted handoff's decisions (Dynamo §4.6), as module-level rules the node calls.

A substitute that accepted a write for an unreachable owner keeps it as a *hint* and
replays it once the owner is back. The one decision that keeps acknowledged writes safe
is when the substitute may forget the hint: only once the owner has acknowledged every
version in it *durably*. The node asks :func:`hint_may_be_deleted` each time what it
knows about the owner changes, starting when it replays the hint and the owner has
acknowledged nothing yet. It calls the rule through its
:class:`~dynamokv.impl.core.Seams`, so a lab or a test can replace it.
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["hint_may_be_deleted"]


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
