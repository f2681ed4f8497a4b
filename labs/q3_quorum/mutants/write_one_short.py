"""write_may_answer acknowledges one ack early (W - 1 durable acks).

The client is told the write is durable on W nodes while it is on W - 1: a crash
then loses an acknowledged write.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

CAUGHT_BY = "3.1"
ALSO_CAUGHT_BY = ("3.2", "3.3")


def write_may_answer(
    acked: Collection[str],
    targets: Mapping[str, str | None],
    *,
    w: int,
    coordinator: str,
    strict: bool,
) -> bool:
    counted = [node for node in acked if not strict or targets.get(node) is None]
    return coordinator in acked and len(counted) >= w - 1
