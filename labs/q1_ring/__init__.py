"""Lab q1, the ring: which nodes hold a key, and what moves when a node joins.

The manifest: the learner writes four functions of :mod:`dynamokv.spec.ring`
(the answer key) in ``ring.py``; the checks are in :mod:`._checks`, the
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
    name="q1",
    package="q1_ring",
    title="The ring: consistent hashing and preference lists",
    question=(
        "Explain consistent hashing. If you add a new node to a 10-node Dynamo cluster, "
        "what percentage of keys need to move?"
    ),
    workspace_file="ring.py",
    answer_key=ANSWER_KEY,
    parts=(
        Part(
            "1",
            "positions: MD5 of a key, and the equal partition it falls in (strategy 3)",
            ("md5_position", "partition_of"),
            (
                Check(
                    "1.1",
                    'MD5 position of b"cart"; partitions of the 16,384-slot ring',
                    Tier.UNIT,
                    5,
                    "Dynamo §4.2, §6.2",
                    "a key's position is its 128-bit MD5 digest read big-endian; partition p "
                    "of Q holds positions [p·2¹²⁸/Q, (p+1)·2¹²⁸/Q)",
                    "int.from_bytes(digest, 'big'); scale the position by Q in integers, "
                    "position * q // RING_SIZE: not mod Q, and not through a float, whose 53 bits "
                    "round the last position of a partition up into the next",
                    _C["1.1"],
                ),
                Check(
                    "1.2",
                    "md5_position equals the answer key on generated keys",
                    Tier.PROPERTY,
                    5,
                    "Dynamo §4.2",
                    "every node must compute the same position for a key, or they disagree on "
                    "who stores it",
                    "hash the key's bytes exactly as given, nothing added",
                    _C["1.2"],
                ),
                Check(
                    "1.3",
                    "partition_of equals the answer key on any position and any Q",
                    Tier.PROPERTY,
                    5,
                    "Dynamo §6.2",
                    "the Q partitions are equal intervals that cover the ring, for any Q, not only "
                    "a power of two: a partition's first position is in it, the position just "
                    "before is in the previous one",
                    "use integer arithmetic (floats lose the low bits of a 128-bit position), and "
                    "scale the position rather than divide it by a rounded width: try Q = 3 at "
                    "the counterexample. Clamping the result to Q - 1 hides the error at the top "
                    "of the ring, not at the other edges",
                    _C["1.3"],
                ),
                Check(
                    "1.4",
                    "CrossHair finds no input where partition_of differs",
                    Tier.SYMBOLIC,
                    5,
                    "Dynamo §6.2",
                    "a symbolic search covers the edges random inputs miss",
                    "look at the input CrossHair prints and compute its partition by hand",
                    _C["1.4"],
                    timeout_seconds=120.0,
                ),
            ),
        ),
        Part(
            "2",
            "the preference list: the first N distinct physical nodes clockwise",
            ("preference_list",),
            (
                Check(
                    "2.1",
                    "Figure 2's preference list, virtual nodes, the wrap past the top",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.3, Figure 2",
                    "a key belongs to the first token at or after its position; its N replicas "
                    "are the first N *distinct physical* nodes met walking clockwise",
                    "walk the tokens from the first at or after the position, wrap to the start, "
                    "skip a node already in the list",
                    _C["2.1"],
                ),
                Check(
                    "2.2",
                    "preference_list equals the answer key on 200 random rings with virtual nodes",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.3",
                    "the preference list holds N *distinct physical* nodes, whatever the ring",
                    "check a key exactly at a token's position, N larger than the number of "
                    "nodes, and rings where one node holds several tokens in a row",
                    _C["2.2"],
                ),
            ),
        ),
        Part(
            "3",
            "keys that move when the ring changes",
            ("keys_that_move",),
            (
                Check(
                    "3.1",
                    "node X joins Figure 2's ring: the keys that gain a replica",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.8.1",
                    "a key moves when its *set* of N replicas changes, even if its coordinator "
                    "does not",
                    "compare the whole preference lists, not their first entries",
                    _C["3.1"],
                ),
                Check(
                    "3.2",
                    "keys_that_move equals the answer key on random pairs of rings",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.8.1",
                    "a key moves when its *set* of N replicas differs: a replica that only "
                    "changes place holds its copy already, and a set that loses a node (fewer "
                    "than N nodes left) differs too",
                    "compare the two sets for equality: not ordered lists, and not only the "
                    "nodes that join the set",
                    _C["3.2"],
                ),
            ),
            needs=("2",),
        ),
    ),
    hints=(
        "md5_position: hashlib.md5(key).digest() is 16 bytes; int.from_bytes reads them. "
        "Big-endian means the first byte is the most significant.",
        "partition_of: partition p covers [p·RING_SIZE/Q, (p+1)·RING_SIZE/Q). Multiply before "
        "you divide, and stay in integers: position * q // RING_SIZE.",
        "preference_list: bisect.bisect_left on the tokens' positions finds the first token at "
        "or after the key. Walk from there with an index modulo len(ring).",
        "preference_list: with virtual nodes the same physical node shows up again soon. Keep "
        "the nodes you have met and skip repeats; stop at n nodes or when you have seen every "
        "token.",
        "keys_that_move: for each position, compare set(preference_list(before, ...)) with "
        "set(preference_list(after, ...)).",
    ),
    experiment=Experiment(
        "add an 11th node to a 10-node cluster",
        "What percentage of keys change coordinator when an 11th node joins 10? "
        "And with hash mod n?",
        _experiment.run,
        mutant="mod_n",
    ),
)
