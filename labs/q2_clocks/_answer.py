"""The answer key of lab q2: the project's own spec functions, by the learner's names."""

from __future__ import annotations

ANSWER_KEY = {
    "increment": "dynamokv.spec.vclock.increment",
    "merge": "dynamokv.spec.vclock.merge",
    "descends": "dynamokv.spec.vclock.descends",
    "compare": "dynamokv.spec.vclock.compare",
    "lamport_increment": "dynamokv.spec.lamport.increment",
    "lamport_receive": "dynamokv.spec.lamport.receive",
}
