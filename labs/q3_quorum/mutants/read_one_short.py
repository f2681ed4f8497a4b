"""read_may_answer answers one reply early (R - 1 replies).

With R=2, W=2, N=3 the read then hears from a single replica, possibly one the
write has not reached: a stale read under a strict quorum with R + W > N.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

CAUGHT_BY = "3.1"
ALSO_CAUGHT_BY = ("3.2", "3.3")


def read_may_answer(
    replied: Collection[str], targets: Mapping[str, str | None], *, r: int, strict: bool
) -> bool:
    counted = [node for node in replied if not strict or targets.get(node) is None]
    return len(counted) >= r - 1
