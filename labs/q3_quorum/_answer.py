"""The answer key of lab q3: the project's own spec and core functions, by the learner's names."""

from __future__ import annotations

ANSWER_KEY = {
    "is_strict_consistent": "dynamokv.spec.quorum.is_strict_consistent",
    "read_write_quorums_intersect": "dynamokv.spec.quorum.read_write_quorums_intersect",
    "sloppy_quorum": "dynamokv.spec.quorum.sloppy_quorum",
    "read_may_answer": "dynamokv.impl.core.read_may_answer",
    "write_may_answer": "dynamokv.impl.core.write_may_answer",
}

SEAMS = {
    "read_may_answer": "dynamokv.impl.core.Seams.read_may_answer",
    "write_may_answer": "dynamokv.impl.core.Seams.write_may_answer",
}
"""The learner's functions that run inside every simulated node, and the seam they plug into."""
