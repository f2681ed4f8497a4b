"""lww_resolve keeps the first sibling, not the one with the latest timestamp.

Which write wins then depends on the order replies arrive in.
"""

from __future__ import annotations

from collections.abc import Iterable

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def lww_resolve(versions: Iterable[tuple[int, bytes]]) -> bytes:
    return next(iter(versions))[1]
