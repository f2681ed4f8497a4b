"""cart_update resolves only the first sibling it read: the other branches are dropped.

The new write's context still covers every sibling, so the dropped branches' adds
vanish for good, even with union merge.
"""

from __future__ import annotations

from collections.abc import Sequence

from dynamokv.spec.kv import union_resolve

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2", "3.1")


def cart_update(
    siblings: Sequence[tuple[int, bytes]], item: bytes, stamp: int, *, last_write_wins: bool
) -> tuple[int, bytes]:
    first = siblings[0][1] if siblings else b""
    return stamp, union_resolve([first, item])
