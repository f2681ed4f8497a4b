"""Lab q1, the ring: consistent hashing and preference lists (Dynamo §4.2, §4.3).

Fill in the four functions below, in order; each raises NotImplementedError until
you do. Check your work with `dynamokv lab check q1` (or one part: `--part 2`).

The docstrings are the specification. The project's own answers live in
spec/ring.py: reading it spoils the lab, so try first.
"""

from __future__ import annotations

import hashlib  # noqa: F401  (you will want it for md5_position)
from collections.abc import Iterable

from dynamokv.spec.ring import RING_SIZE, Ring  # noqa: F401  (positions are in [0, RING_SIZE))


def md5_position(key: bytes) -> int:
    """The ring position of ``key``: its MD5 digest read as a big-endian integer.

    Dynamo §4.2: "Dynamo applies a MD5 hash on the key to generate a 128-bit
    identifier, which is used to determine the storage nodes".
    """
    raise NotImplementedError("md5_position")


def partition_of(position: int, q: int) -> int:
    """Strategy 3: the index of the equal partition that contains ``position``."""
    raise NotImplementedError("partition_of")


def preference_list(ring: Ring, position: int, n: int) -> tuple[str, ...]:
    """The first ``n`` distinct physical nodes clockwise from ``position`` (Dynamo §4.3).

    The first of them is the key's coordinator; skipping repeated physical nodes
    means the N replicas sit on N different machines even with virtual nodes.
    """
    raise NotImplementedError("preference_list")


def keys_that_move(before: Ring, after: Ring, positions: Iterable[int], n: int) -> frozenset[int]:
    """The key positions whose set of N replicas differs between two rings.

    The set can change either way (Dynamo §4.8.1): a node that joins it must receive
    a copy it did not hold, and a node that leaves it no longer keeps one (on a ring
    of fewer than N nodes, a departure only shrinks the set). A key's coordinator may
    or may not change as well.
    """
    raise NotImplementedError("keys_that_move")
