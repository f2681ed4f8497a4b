"""hint_may_be_deleted deletes a hint once the owner acknowledged any of its versions.

A hint may carry several siblings; the others are still only on the substitute.
"""

from __future__ import annotations

from collections.abc import Collection

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def hint_may_be_deleted(
    hint_dots: Collection[tuple[str, int]], acked_dots: Collection[tuple[str, int]]
) -> bool:
    return bool(set(hint_dots) & set(acked_dots))
