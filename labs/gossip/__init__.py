"""Lab gossip: membership by gossip and the phi-accrual failure detector.

The manifest: the learner writes the gossip merge rule, the peer choice of a round
and the suspicion function of :mod:`dynamokv.impl.core` (the answer key) in
``gossip.py``; every simulated view calls them through
:class:`~dynamokv.impl.core.Seams`. The checks are in :mod:`._checks`, the runs in
:mod:`._scenario`, the measurement in :mod:`._experiment`.
"""

from __future__ import annotations

from .._model import Check, Experiment, Lab, Part, Tier
from . import _experiment
from ._answer import ANSWER_KEY, SEAMS
from ._checks import CHECK_FUNCTIONS

__all__ = ["LAB"]

_C = CHECK_FUNCTIONS

LAB = Lab(
    name="gossip",
    package="gossip",
    title="Gossip membership and phi-accrual failure detection",
    question=(
        "Every second each node gossips with a random peer. How long until all n nodes "
        "know of a join, and how does a node tell a dead peer from a slow one?"
    ),
    workspace_file="gossip.py",
    answer_key=ANSWER_KEY,
    seams=SEAMS,
    parts=(
        Part(
            "1",
            "the merge rule: newest generation, then heartbeat and status",
            ("merge_entries",),
            (
                Check(
                    "1.1",
                    "a restart, a fresher heartbeat, an admin's leave with a stale heartbeat",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.8",
                    "merging must never lose news: a new life beats an old one; within a life "
                    "heartbeat and status each only move forward",
                    "compare generations first; within one, take each field's maximum",
                    _C["1.1"],
                ),
                Check(
                    "1.2",
                    "merge_entries equals the answer key on generated pairs",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.8",
                    "the merge is a join: the order and repetition of messages never matter",
                    "status order: joining < normal < leaving < left; address and weight: "
                    "the larger; a new MemberEntry must carry every field",
                    _C["1.2"],
                ),
            ),
        ),
        Part(
            "2",
            "the peer of a round: one candidate, uniformly at random",
            ("choose_gossip_peer",),
            (
                Check(
                    "2.1",
                    "no candidate, one candidate",
                    Tier.UNIT,
                    5,
                    "Dynamo §4.8.2",
                    "a node that knows nobody cannot gossip; one that knows one must pick it",
                    "return None for an empty list",
                    _C["2.1"],
                ),
                Check(
                    "2.2",
                    "always a candidate, drawn from the rng given, uniform over 8,000 rounds",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.8.2",
                    "the epidemic's O(log n) needs every peer equally likely in every round, "
                    "whatever was picked before; and a seeded run replays only if the rng "
                    "given is the choice's only randomness",
                    "use the rng you are given and keep nothing between calls (no random "
                    "module, no counter, no last peer): rng.randrange(len(candidates))",
                    _C["2.2"],
                ),
            ),
        ),
        Part(
            "3",
            "the suspicion function: phi accrual",
            ("phi_of_silence",),
            (
                Check(
                    "3.1",
                    "phi at the mean, one and four deviations late, and far past it",
                    Tier.UNIT,
                    10,
                    "Hayashibara et al. 2004",
                    "phi is -log10 of the chance that the silence is normal: it adapts to how "
                    "regular the heartbeats have been",
                    "y = (silence - mean) / std; z = y·(1.5976 + 0.070566·y²); phi = log10(1 + e^z)",
                    _C["3.1"],
                ),
                Check(
                    "3.2",
                    "phi_of_silence equals the answer key on generated silences",
                    Tier.PROPERTY,
                    10,
                    "Hayashibara et al. 2004",
                    "a silence of hours must give a large phi, not an overflow",
                    "for z > 30: (z + log1p(exp(-z))) / ln 10",
                    _C["3.2"],
                ),
            ),
        ),
        Part(
            "4",
            "gossip in the simulator, under loss",
            ("merge_entries", "choose_gossip_peer", "phi_of_silence"),
            (
                Check(
                    "4.1",
                    "your rules in every view: convergence under loss, a slow node kept alive",
                    Tier.SIMULATION,
                    20,
                    "Dynamo §4.8, §4.8.3",
                    "gossip must converge in O(log n) rounds despite loss, and a live but slow "
                    "node must not be declared dead",
                    "a stalled view: check the merge; a slow node suspected: check phi's use "
                    "of the mean and deviation",
                    _C["4.1"],
                    timeout_seconds=180.0,
                ),
            ),
            needs=("1", "2", "3"),
        ),
    ),
    hints=(
        "merge_entries: if the generations differ, return the entry with the higher one, "
        "unchanged.",
        "merge_entries: within a generation build a new MemberEntry with max(heartbeats), "
        "the status of higher STATUS_RANK, max(addresses) and max(weights).",
        "choose_gossip_peer: candidates[rng.randrange(len(candidates))], or None.",
        "phi_of_silence: for large z, math.exp(z) overflows; log10(1 + e^z) = "
        "(z + log1p(e^-z)) / ln 10 there.",
    ),
    experiment=Experiment(
        "gossip: a join's epidemic, and phi's mistakes",
        "How many rounds until all 256 nodes know of a join? How often is a live node "
        "suspected at phi 8?",
        _experiment.run,
        mutant="merge_keeps_older",
        timeout_seconds=300.0,
        also_mutants=("same_peer",),
    ),
)
