"""The answer key of lab q1: the project's own spec functions, by the learner's names."""

from __future__ import annotations

ANSWER_KEY = {
    "md5_position": "dynamokv.spec.ring.md5_position",
    "partition_of": "dynamokv.spec.ring.partition_of",
    "preference_list": "dynamokv.spec.ring.preference_list",
    "keys_that_move": "dynamokv.spec.ring.keys_that_move",
}
