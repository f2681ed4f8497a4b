"""The answer key of lab q4: the project's own spec and core functions, by the learner's names."""

from __future__ import annotations

ANSWER_KEY = {
    "hint_to_store": "dynamokv.impl.core._handoff.hint_to_store",
    "hint_may_be_deleted": "dynamokv.impl.core._handoff.hint_may_be_deleted",
    "diff": "dynamokv.spec.merkle.diff",
    "merkle_descend": "dynamokv.impl.core._anti_entropy.merkle_descend",
}

SEAMS = {
    "hint_to_store": "dynamokv.impl.core.Seams.hint_to_store",
    "hint_may_be_deleted": "dynamokv.impl.core.Seams.hint_may_be_deleted",
    "merkle_descend": "dynamokv.impl.core.Seams.merkle_descend",
}
"""The learner's functions that run inside every simulated node, and the seam of each."""
