"""Lab q3, N, R and W: quorum intersection, the sloppy quorum, and the coordinator's rules.

The manifest: the learner writes functions of :mod:`dynamokv.spec.quorum` and the
coordinator's two rules of :mod:`dynamokv.impl.core` (the answer key) in
``quorum.py``; the rules plug into every simulated node through
:class:`~dynamokv.impl.core.Seams`. The checks are in :mod:`._checks`, the
measurement in :mod:`._experiment`.
"""

from __future__ import annotations

from .._model import Check, Experiment, Lab, Part, Tier
from . import _experiment
from ._answer import ANSWER_KEY, SEAMS
from ._checks import CHECK_FUNCTIONS

__all__ = ["LAB"]

_C = CHECK_FUNCTIONS

LAB = Lab(
    name="q3",
    package="q3_quorum",
    title="N, R and W: quorums, sloppy quorums, and when to answer",
    question=(
        "Design a key-value store with tunable consistency. How do the parameters N, R, "
        "and W interact?"
    ),
    workspace_file="quorum.py",
    answer_key=ANSWER_KEY,
    seams=SEAMS,
    parts=(
        Part(
            "1",
            "quorum arithmetic: when do every read and every write quorum meet?",
            ("is_strict_consistent", "read_write_quorums_intersect"),
            (
                Check(
                    "1.1",
                    "the (N, R, W) configurations Dynamo discusses",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.5",
                    "a read quorum meets every write quorum exactly when R + W > N; "
                    "R + W = N leaves room for two disjoint sets",
                    "count: R + W > N, strictly",
                    _C["1.1"],
                ),
                Check(
                    "1.2",
                    "read_write_quorums_intersect equals the answer key for N up to 6",
                    Tier.PROPERTY,
                    5,
                    "Dynamo §4.5",
                    "the brute force over every pair of quorums is the definition",
                    "itertools.combinations(range(n), r) gives every read quorum",
                    _C["1.2"],
                ),
                Check(
                    "1.3",
                    "CrossHair finds no (N, R, W) where is_strict_consistent differs",
                    Tier.SYMBOLIC,
                    5,
                    "Dynamo §4.5",
                    "the condition must hold for every N, not only the small ones",
                    "no special cases: the same inequality for every cluster size",
                    _C["1.3"],
                    timeout_seconds=120.0,
                ),
            ),
        ),
        Part(
            "2",
            "the sloppy quorum: the first N healthy nodes, substitutes holding hints",
            ("sloppy_quorum",),
            (
                Check(
                    "2.1",
                    "Dynamo §4.6's example: A is down, D takes its replica with a hint",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.6",
                    "healthy owners keep their replica; each unhealthy owner is replaced by the "
                    "next healthy node past the first N, which holds a hint naming it",
                    "walk the extended list past the first N for substitutes, in order: the "
                    "first unhealthy owner gets the first healthy substitute (the pairs may "
                    "come in any order)",
                    _C["2.1"],
                ),
                Check(
                    "2.2",
                    "sloppy_quorum equals the answer key on random lists and health",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.6",
                    "a substitute must itself be healthy, and fewer than N nodes are returned "
                    "when fewer are healthy",
                    "skip unhealthy substitutes; stop when either list runs out",
                    _C["2.2"],
                ),
            ),
        ),
        Part(
            "3",
            "when the coordinator may answer: R replies, W durable acks",
            ("read_may_answer", "write_may_answer"),
            (
                Check(
                    "3.1",
                    "R replies, W acks with the coordinator's own, strict or sloppy",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.5, §4.6",
                    "the coordinator's own durable write is one of the W; a strict quorum "
                    "counts only owners, a sloppy one counts hinted copies too, each for the "
                    "owner it stands in for: an owner and its substitute are one replica",
                    "count only the answers that qualify (for a put, the replicas they "
                    "hold: targets[node] or node), then compare with R or W",
                    _C["3.1"],
                ),
                Check(
                    "3.2",
                    "both rules equal the answer key on random replies, targets and quorums",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.5",
                    "the rule must hold for any set of answers the network delivers, and for "
                    "any nodes asked: fewer than R (or W) answers never suffice, even when "
                    "fewer nodes were asked",
                    "targets[node] is None for an owner, the owner's id for a substitute; "
                    "compare the count with r or w alone, never with len(targets)",
                    _C["3.2"],
                ),
                Check(
                    "3.3",
                    "your rules in every node of a simulated cluster under faults",
                    Tier.SIMULATION,
                    15,
                    "Dynamo §4.5, §4.6",
                    "an early answer is a lost write or a stale read the history checkers see",
                    "read the ladder: which replies or acks had arrived when yours answered?",
                    _C["3.3"],
                    timeout_seconds=240.0,
                ),
            ),
        ),
    ),
    hints=(
        "is_strict_consistent: config.r + config.w > config.n.",
        "read_write_quorums_intersect: every combination of r nodes must share a node with "
        "every combination of w nodes; frozensets and & make it one line per loop.",
        "sloppy_quorum: owners = list[:n]; keep the healthy ones as (node, None); pair the "
        "unhealthy owners, in order, with the healthy nodes of list[n:].",
        "read_may_answer: under a strict quorum, count only the nodes whose targets[node] is None.",
        "write_may_answer: the coordinator must be in acked, and the replicas acked must "
        "reach w; a substitute's ack counts for its owner (targets[node]), once.",
    ),
    experiment=Experiment(
        "stale reads right after an acknowledged write",
        "With N=3, R=1, W=1, what fraction of reads right after a write miss it? "
        "And with R=2, W=2?",
        _experiment.run,
        mutant="r_plus_w_at_least_n",
        timeout_seconds=600.0,
    ),
)
