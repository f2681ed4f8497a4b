"""write_may_answer tests len(acks) == W instead of >= W.

Right whenever acks arrive one at a time, as in every paper example; wrong when
the rule is first asked with more than W acks in hand (a batch of acks delivered
together, or a W smaller than the acks already durable).
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
    return coordinator in acked and len(counted) == w
