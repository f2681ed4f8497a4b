"""merge_entries builds the merged entry from five fields and leaves out the weight.

MemberEntry's weight defaults to 1, so within a generation a heavier node's merged
entry says weight 1: the views then give it the share of an ordinary node.
"""

from __future__ import annotations

from dynamokv.impl.core import MemberEntry

CAUGHT_BY = "1.2"

STATUS_RANK = {"joining": 0, "normal": 1, "leaving": 2, "left": 3}


def merge_entries(a: MemberEntry, b: MemberEntry) -> MemberEntry:
    if a.generation != b.generation:
        return a if a.generation > b.generation else b
    return MemberEntry(
        a.node_id,
        max(a.address, b.address),
        a.generation,
        max(a.heartbeat, b.heartbeat),
        max(a.status, b.status, key=STATUS_RANK.__getitem__),
    )
