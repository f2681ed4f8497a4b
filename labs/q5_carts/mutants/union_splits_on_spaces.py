"""union_resolve splits each value with ``bytes.split()``, on any whitespace.

That drops empty lines for free, so every cart of one-word items merges right; but
an item is a whole line, and b"red pen" comes out as two items, b"pen" and b"red".
"""

from __future__ import annotations

from collections.abc import Iterable

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def union_resolve(values: Iterable[bytes]) -> bytes:
    items: set[bytes] = set()
    for value in values:
        items.update(value.split())
    return b"\n".join(sorted(items))
