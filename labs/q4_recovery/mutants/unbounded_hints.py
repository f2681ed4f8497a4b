"""hint_to_store never refuses: the hint store grows without bound.

Three hours of writes for a down node fill the substitutes' disks; the node's own
invariant (hints_count_max) stops it first.
"""

from __future__ import annotations

from dynamokv.impl.core import Hint, Version, hint_size_bytes

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2", "3.1")


def hint_to_store(
    owner: str,
    key: bytes,
    versions: tuple[Version, ...],
    *,
    hint_id: int,
    hints_count: int,
    hints_bytes: int,
    count_max: int,
    bytes_max: int,
) -> Hint | None:
    return Hint(hint_id, owner, key, versions, hint_size_bytes(key, versions))
