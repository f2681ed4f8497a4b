"""union_resolve merges the first four siblings it is given and drops the rest.

A resolver tried by hand on two or three siblings looks right; six clients writing
one cart across a partition can leave five, and an item only the fifth holds is lost.
"""

from __future__ import annotations

from collections.abc import Iterable

CAUGHT_BY = "1.2"


def union_resolve(values: Iterable[bytes]) -> bytes:
    items: set[bytes] = set()
    for value in list(values)[:4]:
        items.update(line for line in value.split(b"\n") if line)
    return b"\n".join(sorted(items))
