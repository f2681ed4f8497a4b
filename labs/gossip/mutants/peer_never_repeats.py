"""choose_gossip_peer never picks the peer it picked last time, to spread its rounds.

Each peer is still picked equally often, but the choice remembers the last call,
of whichever node made it: rounds are no longer independent, and the same rng
state no longer gives the same peer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

CAUGHT_BY = "2.2"

_last: list[str | None] = [None]


def choose_gossip_peer(candidates: Sequence[str], rng: random.Random) -> str | None:
    if not candidates:
        return None
    while True:
        peer = candidates[rng.randrange(len(candidates))]
        if peer != _last[0] or len(candidates) == 1:
            _last[0] = peer
            return peer
