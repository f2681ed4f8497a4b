"""cart_update appends its own new value to the siblings it was given, then merges them all.

The cart it returns is right, but the list it was handed is what the get returned:
a caller that reads it again (to retry the put, to log the read) now finds a
sibling the store never held.
"""

from __future__ import annotations

from dynamokv.spec.kv import lww_resolve, union_resolve

CAUGHT_BY = "2.2"


def cart_update(
    siblings: list[tuple[int, bytes]], item: bytes, stamp: int, *, last_write_wins: bool
) -> tuple[int, bytes]:
    if last_write_wins:
        resolved = lww_resolve(siblings) if siblings else b""
        return stamp, union_resolve([resolved, item])
    siblings.append((stamp, item))
    return stamp, union_resolve(value for _, value in siblings)
