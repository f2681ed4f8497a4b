"""read_may_answer answers once every asked node replied, even when fewer than R were asked.

It waits for min(R, nodes asked) replies. In a cluster smaller than N (or whenever
fewer than R nodes are asked) a get then answers with fewer than R replies, and a
read that R + W > N promised would meet the write can miss it (Dynamo §4.5). The
rule never sees R above the nodes asked in a five-node simulation with N=3; the
property check draws it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

CAUGHT_BY = "3.2"


def read_may_answer(
    replied: Collection[str], targets: Mapping[str, str | None], *, r: int, strict: bool
) -> bool:
    counted = [node for node in replied if not strict or targets.get(node) is None]
    return len(counted) >= min(r, len(targets))
