"""Lab gossip: membership by gossip, and the phi-accrual failure detector (Dynamo §4.8).

Fill in the three functions below, part by part; each raises NotImplementedError
until you do. Every view of a simulated cluster calls them (through its Seams), so
check 4.1 runs *your* gossip under message loss. Check your work with
`dynamokv lab check gossip` (or one part: `--part 3`).

The docstrings are the specification. The project's own answers live in
impl/core/_gossip.py and _phi.py: reading them spoils the lab.
"""

from __future__ import annotations

import math  # noqa: F401  (math.log1p, math.exp, math.log)
import random
from collections.abc import Sequence

from dynamokv.impl.core import MemberEntry

STATUS_RANK = {"joining": 0, "normal": 1, "leaving": 2, "left": 3}
"""A member's statuses in lifecycle order: a later one wins within a generation."""

# -- part 1: the merge rule --------------------------------------------------------------


def merge_entries(a: MemberEntry, b: MemberEntry) -> MemberEntry:
    """The merge rule: the least entry that both ``a`` and ``b`` precede (a lattice join).

    Both describe the same node. The entry of the higher generation wins outright (a
    new generation is a new life of the node). Within one generation the heartbeat is
    the larger of the two, the status the later in ``joining < normal < leaving <
    left``, and the address and the weight each the larger: each independently (an
    admin's leave carries a stale heartbeat but a later status; both must survive).
    """
    raise NotImplementedError("merge_entries")


# -- part 2: the peer of a round ---------------------------------------------------------


def choose_gossip_peer(candidates: Sequence[str], rng: random.Random) -> str | None:
    """The peer of one gossip round: one of ``candidates``, uniformly at random (Dynamo §4.8.2).

    Uniform choice is what makes gossip an epidemic: each round every node that
    knows a fact tells a random other, so the number that know it roughly doubles
    per round and reaches all n in O(log n) rounds.

    Args:
        candidates: the members a round may pick (sorted; never this node).
        rng: the node's only randomness.

    Returns:
        The chosen peer, or None when there is no candidate.
    """
    raise NotImplementedError("choose_gossip_peer")


# -- part 3: the suspicion function ------------------------------------------------------


def phi_of_silence(silence_ticks: float, mean_ticks: float, std_deviation_ticks: float) -> float:
    """The suspicion level after ``silence_ticks`` without a heartbeat (phi accrual).

    The heartbeats' inter-arrival times are modelled as a normal distribution with
    this mean and standard deviation; phi is -log10 of the chance that a heartbeat
    arrives later than the silence so far: 1 means a 10 % chance that the silence is
    normal, 8 one in 10^8. It grows with the silence, without bound.

    Args:
        silence_ticks: ticks since the last heartbeat arrived.
        mean_ticks: the mean inter-arrival time (plus any acceptable pause).
        std_deviation_ticks: the inter-arrival times' standard deviation (positive).

    Returns:
        phi, with the normal tail approximated as Akka does:
        ``log10(1 + e^z)`` for ``z = y·(1.5976 + 0.070566·y²)``, ``y`` the silence's
        distance from the mean in standard deviations; for any silence, however
        long (``e^z`` overflows a float past z ≈ 709: ``log10(1 + e^z)`` is then
        ``(z + log(1 + e^-z)) / ln 10``).
    """
    raise NotImplementedError("phi_of_silence")
