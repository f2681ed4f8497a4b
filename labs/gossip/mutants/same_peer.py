"""choose_gossip_peer always picks the first candidate.

Every node gossips with the same seed: a hub that hears from all n each round,
and an epidemic that is no longer one (if the hub fails, nobody gossips).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

CAUGHT_BY = "2.2"


def choose_gossip_peer(candidates: Sequence[str], rng: random.Random) -> str | None:
    return candidates[0] if candidates else None
