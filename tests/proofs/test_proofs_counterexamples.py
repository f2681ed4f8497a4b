"""A control's counterexample shows what its wrong encoding computes on the input found.

The counterexample is what a reader checks by hand, so it must be the wrong
variant's own result, not merely some clock that fails the claim.
"""

from __future__ import annotations

import ast
import re

from dynamokv.proofs import REGISTRY, Status


def test_the_min_merge_control_shows_the_entrywise_minimum() -> None:
    (entry,) = [e for e in REGISTRY if e.name == "vclock.merge_is_least_upper_bound.control"]
    result = entry.check()
    assert result.status is Status.REFUTED and result.counterexample is not None
    found = re.fullmatch(
        r"a = (\{.*?\}), b = (\{.*?\}): the variant gives (\{.*\})", result.counterexample
    )
    assert found, result.counterexample
    a, b, gives = (ast.literal_eval(group) for group in found.groups())
    minimum = {node: min(a[node], b[node]) for node in a.keys() & b.keys()}
    assert gives == {node: counter for node, counter in minimum.items() if counter > 0}
