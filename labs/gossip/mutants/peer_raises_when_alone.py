"""choose_gossip_peer uses rng.choice, which raises on an empty list.

A node that knows nobody yet (a new node before its seeds answer) then crashes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

CAUGHT_BY = "2.1"


def choose_gossip_peer(candidates: Sequence[str], rng: random.Random) -> str | None:
    return rng.choice(list(candidates))
