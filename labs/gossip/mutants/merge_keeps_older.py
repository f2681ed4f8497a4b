"""merge_entries keeps the entry the node already had: no heartbeat is ever learned.

New members still appear (they are added, not merged), but no view hears that a
member is alive after that: every peer ends up suspected.
"""

from __future__ import annotations

from dynamokv.impl.core import MemberEntry

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2", "4.1")


def merge_entries(a: MemberEntry, b: MemberEntry) -> MemberEntry:
    return a
