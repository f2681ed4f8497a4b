"""cart_update stamps its value later than every sibling it read, not with its own clock.

It looks harmless (the new value supersedes what it read anyway), but the vector
clock context is what supersedes; the timestamp is what last-write-wins compares
against writes this client never saw. A client whose clock runs behind would win
over them with a time it never had.
"""

from __future__ import annotations

from collections.abc import Sequence

from dynamokv.spec.kv import lww_resolve, union_resolve

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def cart_update(
    siblings: Sequence[tuple[int, bytes]], item: bytes, stamp: int, *, last_write_wins: bool
) -> tuple[int, bytes]:
    values = [value for _, value in siblings]
    resolved = lww_resolve(siblings) if last_write_wins and siblings else union_resolve(values)
    written = max([stamp, *(sibling_stamp + 1 for sibling_stamp, _ in siblings)])
    return written, union_resolve([resolved, item])
