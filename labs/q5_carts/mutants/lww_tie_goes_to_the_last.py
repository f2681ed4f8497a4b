"""lww_resolve sorts the siblings by timestamp alone and keeps the last: a tie goes to arrival order.

A stable sort leaves tied siblings in the order the replies came in, so two clients
reading the same tied siblings in different orders resolve them to different carts.
The rule must not depend on that order: of equal timestamps, the larger value wins.
"""

from __future__ import annotations

from collections.abc import Iterable

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def lww_resolve(versions: Iterable[tuple[int, bytes]]) -> bytes:
    return sorted(versions, key=lambda version: version[0])[-1][1]
