"""union_resolve keeps the largest sibling instead of the union: one branch wins.

That is last-write-wins in disguise: a concurrent add on the other branch is lost,
in every client whose cart_update resolves with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from dynamokv.spec.kv import lww_resolve

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2", "3.1")


def union_resolve(values: Iterable[bytes]) -> bytes:
    return max(values, default=b"")


def cart_update(
    siblings: Sequence[tuple[int, bytes]], item: bytes, stamp: int, *, last_write_wins: bool
) -> tuple[int, bytes]:
    values = [value for _, value in siblings]
    resolved = lww_resolve(siblings) if last_write_wins and siblings else union_resolve(values)
    items = {line for line in resolved.split(b"\n") if line} | {item}
    return stamp, b"\n".join(sorted(items))
