"""write_may_answer counts any W acks, whether or not the coordinator's own write is durable.

Dynamo §4.5: the coordinator writes locally and needs W - 1 more. Without its own
copy it cannot ship its earlier siblings with its next write.
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
    counted = [node for node in acked if not strict or targets.get(node) is None]
    return len(counted) >= w
