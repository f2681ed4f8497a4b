"""Lab q2, clocks: vector clocks against Lamport timestamps.

The manifest: the learner writes the vector-clock functions of
:mod:`dynamokv.spec.vclock` and the Lamport clock of :mod:`dynamokv.spec.lamport`
(the answer key) in ``clocks.py``; the checks are in :mod:`._checks`, the
measurement in :mod:`._experiment`.
"""

from __future__ import annotations

from .._model import Check, Experiment, Lab, Part, Tier
from . import _experiment
from ._answer import ANSWER_KEY
from ._checks import CHECK_FUNCTIONS

__all__ = ["LAB"]

_C = CHECK_FUNCTIONS

LAB = Lab(
    name="q2",
    package="q2_clocks",
    title="Clocks: vector clocks against Lamport timestamps",
    question=(
        "What are vector clocks and how do they differ from Lamport timestamps? "
        "When would you use each?"
    ),
    workspace_file="clocks.py",
    answer_key=ANSWER_KEY,
    parts=(
        Part(
            "1",
            "vector clocks: increment on a write, merge on a reconciliation",
            ("increment", "merge"),
            (
                Check(
                    "1.1",
                    "the clocks of Figure 3, D1 to D5",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.4, Figure 3",
                    "the coordinator increments only its own counter; a reconciled write "
                    "starts from the merge (entrywise maximum) of the versions it read",
                    "increment copies the clock and adds one to the coordinator's entry (0 if "
                    "absent); merge takes the larger counter of every node in either clock",
                    _C["1.1"],
                ),
                Check(
                    "1.2",
                    "increment equals the answer key on generated clocks",
                    Tier.PROPERTY,
                    5,
                    "Dynamo §4.4",
                    "a new version must strictly descend from the context it was written "
                    "under, so it keeps every entry of that context",
                    "keep every other entry as it was, however many there are (truncating "
                    "past 10, Dynamo §4.4, is a separate step); do not change the argument",
                    _C["1.2"],
                ),
                Check(
                    "1.3",
                    "merge equals the answer key on generated clocks",
                    Tier.PROPERTY,
                    5,
                    "Dynamo §4.4",
                    "the merge is the least clock that descends from both, so it keeps every "
                    "node of either",
                    "a node present in only one clock keeps its counter; merge never drops an "
                    "entry, however many there are (truncating is a separate step)",
                    _C["1.3"],
                ),
            ),
        ),
        Part(
            "2",
            "the order of versions: descends and compare",
            ("descends", "compare"),
            (
                Check(
                    "2.1",
                    "how Figure 3's versions relate: overwritten, concurrent, reconciled",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.4, Figure 3",
                    "a clock descends from another when it is at least as large in every entry; "
                    "when neither descends the versions are concurrent (siblings)",
                    "compare every node of *both* clocks, counting an absent node as 0; two "
                    "clocks are equal when their entries are (==), not when they are one "
                    "object (is)",
                    _C["2.1"],
                ),
                Check(
                    "2.2",
                    "descends and compare equal the answer key on generated pairs",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.4",
                    "exactly one of before, after, equal, concurrent holds for any two clocks; "
                    "the clocks compared are stored versions', so neither may change",
                    "equal means both descend; after means only a descends; read an absent "
                    "node as clock.get(node, 0), never by adding it to the clock",
                    _C["2.2"],
                ),
                Check(
                    "2.3",
                    "CrossHair finds no pair of two-node clocks where descends differs",
                    Tier.SYMBOLIC,
                    5,
                    "Dynamo §4.4",
                    "a symbolic search tries every combination of branches",
                    "look at the clocks CrossHair prints ({x: a_x, y: a_y}, zeros left out)",
                    _C["2.3"],
                    timeout_seconds=150.0,
                ),
            ),
        ),
        Part(
            "3",
            "Lamport clocks: one integer per event",
            ("lamport_increment", "lamport_receive"),
            (
                Check(
                    "3.1",
                    "local events and receives",
                    Tier.UNIT,
                    5,
                    "Lamport 1978; interview Q2",
                    "a receive comes after the send and after everything the receiver did: "
                    "max(own, message) + 1",
                    "both the receiver's clock and the message's stamp matter",
                    _C["3.1"],
                ),
                Check(
                    "3.2",
                    "CrossHair finds no clock and message where lamport_receive differs",
                    Tier.SYMBOLIC,
                    5,
                    "Lamport 1978",
                    "the clock condition needs the receive to be strictly after both inputs, "
                    "ties included",
                    "what happens when the message's stamp equals the receiver's clock?",
                    _C["3.2"],
                    timeout_seconds=120.0,
                ),
            ),
        ),
    ),
    hints=(
        "increment: result = dict(clock); result[node] = clock.get(node, 0) + 1.",
        "merge: walk set(a) | set(b) and keep max(a.get(n, 0), b.get(n, 0)).",
        "descends: a descends from b when every node of either clock has "
        "a.get(n, 0) >= b.get(n, 0). An entry only b has is one a has not seen.",
        "compare: compute descends both ways. Both: equal. Only a: after. Only b: before. "
        "Neither: concurrent.",
        "lamport_receive: max(clock, message) + 1, so a receive is after the send even when "
        "the two stamps are equal.",
    ),
    experiment=Experiment(
        "Lamport timestamps against vector clocks",
        "Of the pairs of concurrent events in a history, how many does a Lamport timestamp "
        "order? How many does a vector clock get wrong?",
        _experiment.run,
        mutant="min_merge",
    ),
)
