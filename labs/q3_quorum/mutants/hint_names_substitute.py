"""sloppy_quorum marks each substitute with its own name instead of the owner it stands in for.

The hint must name the unhealthy owner, or the substitute never knows where to
hand the write back (Dynamo §4.6).
"""

from __future__ import annotations

from collections.abc import Sequence, Set

CAUGHT_BY = "2.1"
ALSO_CAUGHT_BY = ("2.2",)


def sloppy_quorum(
    extended_preference_list: Sequence[str], healthy: Set[str], n: int
) -> tuple[tuple[str, str | None], ...]:
    owners = list(extended_preference_list[:n])
    chosen: list[tuple[str, str | None]] = [(node, None) for node in owners if node in healthy]
    down = [node for node in owners if node not in healthy]
    substitutes = [node for node in extended_preference_list[n:] if node in healthy]
    for substitute, _owner in zip(substitutes, down, strict=False):
        chosen.append((substitute, substitute))
    return tuple(chosen)
