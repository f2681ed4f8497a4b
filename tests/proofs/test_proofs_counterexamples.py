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


def test_the_single_entry_control_shows_clocks_that_tie_on_that_entry() -> None:
    """The antisymmetry control compares node 0's entry alone: its counterexample is two
    different clocks that this wrong order takes for each other's descendants, so they
    tie on node 0."""
    (entry,) = [e for e in REGISTRY if e.name == "vclock.descends_antisymmetric.control"]
    result = entry.check()
    assert result.status is Status.REFUTED and result.counterexample is not None
    found = re.fullmatch(
        r"a = (\{.*?\}), b = (\{.*?\}) tie on n0 yet differ", result.counterexample
    )
    assert found, result.counterexample
    a, b = (ast.literal_eval(group) for group in found.groups())
    assert a != b and a.get("n0", 0) == b.get("n0", 0)


def _counters(text: str) -> list[int]:
    """Every counter of the clocks ``a = {...}`` and ``b = {...}`` named in ``text``."""
    clocks = re.findall(r"\b[ab] = (\{[^}]*\})", text)
    assert len(clocks) == 2, text
    return [counter for clock in clocks for counter in ast.literal_eval(clock).values()]


def _stamps(text: str) -> list[int]:
    """Every stamp of the ``(stamps {...})`` named in ``text``."""
    found = re.findall(r"\(stamps (\{[^}]*\})\)", text)
    assert len(found) == 2, text
    return [stamp for stamps in found for stamp in ast.literal_eval(stamps).values()]


def test_the_truncation_rows_find_clocks_within_their_counter_bound() -> None:
    """Both truncation encodings bound each counter to 0..COUNTER_MAX (a witness a reader
    can check by hand, and a finite search) and show the stamps as their ranks 0, 1, 2:
    the exhibit's witness and its control's counterexample stay within them."""
    from dynamokv.proofs._vclock import COUNTER_MAX

    rows = {
        e.name: e.check()
        for e in REGISTRY
        if e.name
        in (
            "vclock.truncation_can_order_concurrent",
            "vclock.truncation_can_order_concurrent.control",
        )
    }
    exhibit = rows["vclock.truncation_can_order_concurrent"]
    control = rows["vclock.truncation_can_order_concurrent.control"]
    assert exhibit.status is Status.PROVED and exhibit.witness is not None
    assert control.status is Status.REFUTED and control.counterexample is not None
    for text in (exhibit.witness, control.counterexample):
        counters = _counters(text)
        assert counters and all(1 <= counter <= COUNTER_MAX for counter in counters), text
        stamps = _stamps(text)  # both clocks' stamps, three each
        assert sorted(stamps[:3]) == sorted(stamps[3:]) == [0, 1, 2], text
