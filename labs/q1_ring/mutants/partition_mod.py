"""partition_of takes the position modulo Q instead of scaling it: neighbours land apart.

Strategy 3's partitions are intervals of the ring; ``position % q`` scatters the
keys of one interval over every partition.
"""

from __future__ import annotations

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.3", "1.4")


def partition_of(position: int, q: int) -> int:
    return position % q
