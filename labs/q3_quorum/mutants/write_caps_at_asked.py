"""write_may_answer acknowledges once every node written to acked, even when fewer than W were.

It waits for min(W, nodes written to) durable acks. In a cluster smaller than N a
put with W=3 is then acknowledged on two replicas: the client is told of a
durability the write does not have (Dynamo §4.5). The rule never sees W above the
nodes written to in a five-node simulation with N=3; the property check draws it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

CAUGHT_BY = "3.2"


def write_may_answer(
    acked: Collection[str],
    targets: Mapping[str, str | None],
    *,
    w: int,
    coordinator: str,
    strict: bool,
) -> bool:
    counted = {
        targets.get(node) or node for node in acked if not strict or targets.get(node) is None
    }
    return coordinator in acked and len(counted) >= min(w, len(targets))
