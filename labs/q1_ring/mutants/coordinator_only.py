"""keys_that_move compares coordinators only: a key whose other replicas change is missed.

A new node enters N preference lists per partition it takes; the keys whose
second or third replica it becomes need a copy too (Dynamo §4.8.1).
"""

from __future__ import annotations

from collections.abc import Iterable

from dynamokv.spec.ring import Ring, preference_list

CAUGHT_BY = "3.1"
ALSO_CAUGHT_BY = ("3.2",)


def keys_that_move(before: Ring, after: Ring, positions: Iterable[int], n: int) -> frozenset[int]:
    return frozenset(
        p for p in positions if preference_list(before, p, n)[0] != preference_list(after, p, n)[0]
    )
