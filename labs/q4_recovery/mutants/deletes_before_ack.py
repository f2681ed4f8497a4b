"""hint_may_be_deleted says yes as soon as the hint is replayed, before any ack.

If the replay is lost, or the owner crashes before its copy is durable, the write
survives only if another replica holds it: the substitute has already forgotten it.
"""

from __future__ import annotations

from collections.abc import Collection

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2", "3.1")


def hint_may_be_deleted(
    hint_dots: Collection[tuple[str, int]], acked_dots: Collection[tuple[str, int]]
) -> bool:
    return True
