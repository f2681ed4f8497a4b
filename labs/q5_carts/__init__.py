"""Lab q5, shopping carts: union merge against last-write-wins.

The manifest: the learner writes the two resolvers and the client's read-resolve-write
step of :mod:`dynamokv.spec.kv` (the answer key) in ``carts.py``; the clients of a
simulated cluster run them. The checks are in :mod:`._checks`, the workload in
:mod:`._carts`, the measurement in :mod:`._experiment`.
"""

from __future__ import annotations

from .._model import Check, Experiment, Lab, Part, Tier
from . import _experiment
from ._answer import ANSWER_KEY
from ._checks import CHECK_FUNCTIONS

__all__ = ["LAB"]

_C = CHECK_FUNCTIONS

LAB = Lab(
    name="q5",
    package="q5_carts",
    title="Shopping carts: union merge against last-write-wins",
    question=(
        "Amazon's shopping cart uses union merge for conflict resolution. What would happen "
        "if they used last-write-wins instead?"
    ),
    workspace_file="carts.py",
    answer_key=ANSWER_KEY,
    parts=(
        Part(
            "1",
            "the two resolvers: union of items, and last-write-wins by timestamp",
            ("union_resolve", "lww_resolve"),
            (
                Check(
                    "1.1",
                    "the paper's cart merged by union; last-write-wins by timestamp",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.4",
                    "union keeps every item any branch added; last-write-wins keeps one "
                    "branch whole and drops the rest",
                    "a cart is items one per line: split on b'\\n' only, since an item's name "
                    "may hold a space; union: the set of all lines, sorted; LWW: the value with "
                    "the largest (timestamp, value), in whatever order the siblings arrive",
                    _C["1.1"],
                ),
                Check(
                    "1.2",
                    "both resolvers equal the answer key on generated siblings",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.4",
                    "every replica and every client must resolve the same siblings to the same "
                    "cart, in whatever order and however many arrive",
                    "union: drop empty lines (an empty cart is b''), sort the items, read every "
                    "sibling; LWW: a timestamp tie goes to the larger value, not to the sibling "
                    "that came first or last, and a newer empty cart wins over an older full one",
                    _C["1.2"],
                ),
            ),
        ),
        Part(
            "2",
            "the client's step: resolve what it read, add an item, write back",
            ("cart_update",),
            (
                Check(
                    "2.1",
                    "a client reads two branches and adds an item, by union and by LWW",
                    Tier.UNIT,
                    10,
                    "Dynamo §4.4",
                    "the client reconciles the siblings it read and writes the result under "
                    "their merged context, so the new version supersedes them all: the context "
                    "does that, not the timestamp, which is the client's own clock even when it "
                    "runs behind a sibling's",
                    "resolve first, then add the item, and stamp the result with your own "
                    "timestamp, never a sibling's or one made larger than theirs",
                    _C["2.1"],
                ),
                Check(
                    "2.2",
                    "cart_update equals the answer key on generated reads",
                    Tier.PROPERTY,
                    10,
                    "Dynamo §4.4",
                    "the client's step gives the same cart for any read: no sibling (a new cart "
                    "is just the new item), tied timestamps, an empty cart, a clock behind a "
                    "sibling's; and it leaves what the get returned as it was",
                    "with no sibling there is nothing to resolve (not even by LWW); otherwise "
                    "resolve with the resolver 1.2 checked, add the item, keep your own stamp; "
                    "build a new list rather than append to or sort the siblings",
                    _C["2.2"],
                ),
            ),
        ),
        Part(
            "3",
            "carts under partitions, in the simulator",
            ("union_resolve", "lww_resolve", "cart_update"),
            (
                Check(
                    "3.1",
                    "your client code in six clients under partitions: union loses nothing",
                    Tier.SIMULATION,
                    20,
                    "Dynamo §4.4",
                    "with union merge every acknowledged add survives any interleaving; "
                    "last-write-wins loses concurrent adds, and that loss must show",
                    "read the ladder of the cart in question: which siblings did the client "
                    "read before it wrote?",
                    _C["3.1"],
                    timeout_seconds=240.0,
                ),
            ),
            needs=("1", "2"),
        ),
    ),
    hints=(
        "union_resolve: collect the lines of every value in a set; skip empty lines; join "
        "them sorted with b'\\n'.",
        "lww_resolve: max(versions) compares (timestamp, value) pairs: the largest wins.",
        "cart_update: resolve the siblings' items (with lww_resolve on the pairs, or "
        "union_resolve on the items), then union_resolve([resolved, item]).",
    ),
    experiment=Experiment(
        "union merge against last-write-wins",
        "With six clients updating three carts, what share of acknowledged adds does "
        "last-write-wins lose? And union?",
        _experiment.run,
        mutant="union_keeps_newest",
        timeout_seconds=300.0,
    ),
)
