"""merge_entries keeps the first entry's address instead of the larger of the two.

The merge is then not commutative: two views that merged the same entries in a
different order disagree on a member's address.
"""

from __future__ import annotations

from dynamokv.impl.core import MemberEntry

CAUGHT_BY = "1.2"

_RANK = {"joining": 0, "normal": 1, "leaving": 2, "left": 3}


def merge_entries(a: MemberEntry, b: MemberEntry) -> MemberEntry:
    if a.generation != b.generation:
        return a if a.generation > b.generation else b
    status = a.status if _RANK[a.status] >= _RANK[b.status] else b.status
    return MemberEntry(a.node_id, a.address, a.generation, max(a.heartbeat, b.heartbeat), status)
