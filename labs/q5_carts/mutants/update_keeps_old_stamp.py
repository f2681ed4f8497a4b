"""cart_update writes the newest sibling's timestamp instead of the client's own.

Under last-write-wins the new write then ties with an older one, and may lose to it.
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
    written = max((s for s, _ in siblings), default=stamp)
    return written, union_resolve([resolved, item])
