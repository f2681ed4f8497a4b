"""keys_that_move counts a key only when a node joins its replicas, not when one leaves.

It takes "a node that joins the set must receive a copy it did not hold" for the whole
rule. When a node leaves a ring with fewer than N nodes, the key's set of replicas
shrinks and nobody receives a copy, yet the set differs: the answer key counts the key
as moved.
"""

from __future__ import annotations

from collections.abc import Iterable

from dynamokv.spec.ring import Ring, preference_list

CAUGHT_BY = "3.2"


def keys_that_move(before: Ring, after: Ring, positions: Iterable[int], n: int) -> frozenset[int]:
    return frozenset(
        p
        for p in positions
        if set(preference_list(after, p, n)) - set(preference_list(before, p, n))
    )
