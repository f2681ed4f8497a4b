"""write_may_answer counts an owner and the substitute sent in its place as two replicas.

When an owner is slow the coordinator sends its copy to a substitute too (Dynamo
§4.6); if the owner then answers, both acks arrive. The substitute hands its hint to
that owner and drops it, so they hold one replica between them: counted twice, a put
with W=4 is acknowledged while three nodes hold it.
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
    if coordinator not in acked:
        return False
    if not strict:
        return len(acked) >= w
    return sum(1 for node in acked if targets.get(node) is None) >= w
