"""lww_resolve quietly merges by union: nothing is lost, and nothing is last-write-wins.

The experiment's LWW column would then show no loss: the loss is hidden, not measured.
"""

from __future__ import annotations

from collections.abc import Iterable

from dynamokv.spec.kv import union_resolve

CAUGHT_BY = "1.1"
ALSO_CAUGHT_BY = ("1.2",)


def lww_resolve(versions: Iterable[tuple[int, bytes]]) -> bytes:
    return union_resolve(value for _, value in versions)
