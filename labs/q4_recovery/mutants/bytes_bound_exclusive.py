"""hint_to_store refuses a hint that would fill the byte bound exactly.

The bound is a maximum: a store may hold exactly bytes_max bytes. The paper's case
never lands on it; a generated one does.
"""

from __future__ import annotations

from dynamokv.impl.core import Hint, Version, hint_size_bytes

CAUGHT_BY = "1.2"


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
    size = hint_size_bytes(key, versions)
    if hints_count >= count_max or hints_bytes + size >= bytes_max:
        return None
    return Hint(hint_id, owner, key, versions, size)
