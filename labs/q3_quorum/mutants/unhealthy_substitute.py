"""sloppy_quorum takes the next nodes past the first N as substitutes, healthy or not.

A substitute that is itself down cannot hold the hint: the write is still short
of replicas.
"""

from __future__ import annotations

from collections.abc import Sequence, Set

CAUGHT_BY = "2.2"


def sloppy_quorum(
    extended_preference_list: Sequence[str], healthy: Set[str], n: int
) -> tuple[tuple[str, str | None], ...]:
    owners = list(extended_preference_list[:n])
    chosen: list[tuple[str, str | None]] = [(node, None) for node in owners if node in healthy]
    down = [node for node in owners if node not in healthy]
    substitutes = list(extended_preference_list[n:])
    for substitute, owner in zip(substitutes, down, strict=False):
        chosen.append((substitute, owner))
    return tuple(chosen)
