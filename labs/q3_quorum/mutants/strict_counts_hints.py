"""write_may_answer counts hinted copies under a strict quorum too.

A strict quorum's promise (R + W > N gives read-your-writes) is about the N
owners; a substitute's hinted copy is not one of them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

CAUGHT_BY = "3.1"
ALSO_CAUGHT_BY = ("3.2",)


def write_may_answer(
    acked: Collection[str],
    targets: Mapping[str, str | None],
    *,
    w: int,
    coordinator: str,
    strict: bool,
) -> bool:
    return coordinator in acked and len(acked) >= w
