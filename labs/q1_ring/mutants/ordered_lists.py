"""keys_that_move compares ordered lists: a key whose replicas only change order "moves".

A replica that moves from second to third place already holds the key; nothing
has to be copied.
"""

from __future__ import annotations

from collections.abc import Iterable

from dynamokv.spec.ring import Ring, preference_list

CAUGHT_BY = "3.2"


def keys_that_move(before: Ring, after: Ring, positions: Iterable[int], n: int) -> frozenset[int]:
    return frozenset(
        p for p in positions if preference_list(before, p, n) != preference_list(after, p, n)
    )
