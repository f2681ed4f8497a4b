"""Lab q4, a node down for 3 hours: hinted handoff and Merkle anti-entropy.

The manifest: the learner writes hinted handoff's two rules and the Merkle walk's
step of :mod:`dynamokv.impl.core`, and the Merkle diff of :mod:`dynamokv.spec.merkle`
(the answer key), in ``recovery.py``; the rules plug into every simulated node
through :class:`~dynamokv.impl.core.Seams`. The checks are in :mod:`._checks`, the
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
    name="q4",
    package="q4_recovery",
    title="A node down for 3 hours: hinted handoff and Merkle anti-entropy",
    question=(
        "A node in your Dynamo cluster has been down for 3 hours and comes back online. "
        "How does it catch up on missed writes?"
    ),
    workspace_file="recovery.py",
    answer_key=ANSWER_KEY,
    seams=SEAMS,
    parts=(
        Part(
            "1",
            "hinted handoff: a hint naming the owner, deleted only after its durable ack",
            ("hint_to_store", "hint_may_be_deleted"),
            (
                Check(
                    "1.1",
                    "a hint for the owner, refusals at the bounds, deletion after every ack",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.6",
                    "the hint must name the owner to be handed back; a bounded store refuses "
                    "rather than grows; a hint deleted before the owner holds it durably can "
                    "lose an acknowledged write",
                    "refuse when hints_count has reached count_max or the bytes would pass "
                    "bytes_max; delete only when every dot was acknowledged",
                    _C["1.1"],
                ),
                Check(
                    "1.2",
                    "both rules equal the answer key on generated writes, bounds and acks",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.6",
                    "the bounds are inclusive: a store may hold exactly count_max hints and "
                    "exactly bytes_max bytes",
                    "use hint_size_bytes(key, versions) for the hint's size",
                    _C["1.2"],
                ),
            ),
        ),
        Part(
            "2",
            "the Merkle diff: walk two trees top-down, only where they differ",
            ("diff", "merkle_descend"),
            (
                Check(
                    "2.1",
                    "equal trees, a stale key, a key on one side; one step of the walk",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.7",
                    "equal hashes mean equal subtrees: the work is proportional to the "
                    "difference, not to the data",
                    "count every node pair you compare, the root included; descend under "
                    "differing nodes only",
                    _C["2.1"],
                ),
                Check(
                    "2.2",
                    "diff and merkle_descend equal the answer key on generated replicas",
                    Tier.PROPERTY,
                    15,
                    "Dynamo §4.7",
                    "the keys found are exactly those whose values differ, or that one side lacks",
                    "compare a differing leaf's two buckets with differing_keys",
                    _C["2.2"],
                ),
            ),
        ),
        Part(
            "3",
            "a node down for 3 hours, in the simulator",
            ("hint_to_store", "hint_may_be_deleted", "merkle_descend"),
            (
                Check(
                    "3.1",
                    "your handoff and Merkle walk in every node while n5 is down up to 3 h",
                    Tier.SIMULATION,
                    20,
                    "Dynamo §4.6, §4.7",
                    "hints carry what they can within their bound; Merkle anti-entropy finds "
                    "the rest; no acknowledged write is lost and every replica ends identical",
                    "read the ladder of the key in question: who held its hint, and when was "
                    "the hint deleted?",
                    _C["3.1"],
                    timeout_seconds=300.0,
                ),
            ),
            needs=("1", "2"),
        ),
    ),
    hints=(
        "hint_to_store: size = hint_size_bytes(key, versions); refuse (None) if hints_count "
        ">= count_max or hints_bytes + size > bytes_max; else Hint(hint_id, owner, key, "
        "versions, size).",
        "hint_may_be_deleted: every dot of the hint must be in acked_dots.",
        "diff: a list of (level, index) pairs to compare, starting with (0, 0); count each "
        "one; push both children of a differing inner node.",
        "diff: at the leaf level, differing_keys(dict(a.buckets[i]), dict(b.buckets[i])) "
        "gives a differing bucket's keys.",
        "merkle_descend: at depth, the differing nodes are leaves; above it, each differing "
        "index i gives (level + 1, 2i) and (level + 1, 2i + 1).",
    ),
    experiment=Experiment(
        "a node down for 3 hours, and what Merkle costs",
        "How many node hashes must two replicas compare to find 8 differing keys among "
        "4,000, with 1,024 leaves?",
        _experiment.run,
        mutant="descends_into_equal_subtrees",
        timeout_seconds=400.0,
        also_mutants=("deletes_before_ack",),
    ),
)
