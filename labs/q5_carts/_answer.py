"""The answer key of lab q5: the project's own spec functions, by the learner's names."""

from __future__ import annotations

ANSWER_KEY = {
    "union_resolve": "dynamokv.spec.kv.union_resolve",
    "lww_resolve": "dynamokv.spec.kv.lww_resolve",
    "cart_update": "dynamokv.spec.kv.cart_update",
}
