"""merge_entries takes the whole entry with the higher heartbeat, status and all.

An admin's leave is written with a stale heartbeat: the node's own next heartbeat
then undoes the command (Dynamo §4.8.1).
"""

from __future__ import annotations

from dynamokv.impl.core import MemberEntry

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def merge_entries(a: MemberEntry, b: MemberEntry) -> MemberEntry:
    if a.generation != b.generation:
        return a if a.generation > b.generation else b
    return a if a.heartbeat >= b.heartbeat else b
