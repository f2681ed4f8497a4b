"""choose_gossip_peer draws with random.choice, not with the rng it is given.

The peers are uniform, but no seed reproduces them: the simulator's run, its
ladder diagrams and the replay command all depend on the node's own rng.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

CAUGHT_BY = "2.2"


def choose_gossip_peer(candidates: Sequence[str], rng: random.Random) -> str | None:
    return random.choice(candidates) if candidates else None
