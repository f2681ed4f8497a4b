"""The contracts bite: a bad argument, or a bug planted in a body, raises ViolationError.

Contracts run on every call, so every Hypothesis test in this folder also checks them;
these tests make sure that a contract is not vacuous.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import icontract
import pytest
from dynamokv.spec import kv, merkle, quorum, ring, vclock
from hypothesis import given, settings
from hypothesis import strategies as st

CLOCKS = st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 3), max_size=3)


@pytest.mark.parametrize(
    "call",
    [
        lambda: vclock.merge({"a": 0}, {"b": 1}),  # a zero counter is not a valid clock
        lambda: vclock.increment({"a": -1}, "a"),
        lambda: vclock.truncate({"a": 1}, {}, 1),  # no stamp for "a"
        lambda: ring.preference_list(((5, "a"),), 0, 0),  # n = 0
        lambda: ring.preference_list(((5, "a"), (5, "b")), 0, 1),  # not a ring
        lambda: ring.partition_of(ring.RING_SIZE, 8),  # off the ring
        lambda: ring.join_partitions(("a", "b"), "c"),  # nothing to steal
        lambda: ring.leave_partitions(("a", "a"), "a"),  # the last node cannot leave
        lambda: ring.weighted_quotas({"a": 1, "b": 9}, 5),  # "a" would get no partition
        lambda: ring.weighted_quotas({"a": 0}, 5),  # a weight must be positive
        lambda: ring.join_partitions_weighted(("a", "b"), {"a": 1, "b": 1}, "c"),  # no weight
        lambda: ring.leave_partitions_weighted(("a", "a"), {"a": 1}, "a"),  # the last node
        lambda: quorum.read_write_quorums_intersect(3, 4, 1),  # R > N
        lambda: quorum.sloppy_quorum(["a", "a"], {"a"}, 1),  # a node twice
        lambda: merkle.build({}, depth=17, bucket_of=len, hash_fn=bytes),
        # A one-shot iterator would be exhausted by the precondition before the body ran.
        lambda: kv.reconcile(v for v in [kv.make_version(b"x", "a", 1, {})]),
        lambda: kv.context_of(v for v in [kv.make_version(b"x", "a", 1, {})]),
        lambda: kv.next_counter("a", {}, (v for v in [kv.make_version(b"x", "a", 1, {})])),
    ],
)
def test_a_violating_argument_raises_violation_error(call: Callable[[], object]) -> None:
    with pytest.raises(icontract.ViolationError):
        call()


def with_contracts_of(real: Callable[..., Any], body: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``body`` in the very contract objects that decorate ``real``."""
    wrapped = body
    for contract in reversed(real.__postconditions__):  # type: ignore[attr-defined]
        wrapped = icontract.ensure(contract.condition, contract.description)(wrapped)
    for group in real.__preconditions__:  # type: ignore[attr-defined]
        for contract in reversed(group):
            wrapped = icontract.require(contract.condition, contract.description)(wrapped)
    return wrapped


def merge_with_min(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    """The classic planted bug: merge as the entrywise minimum (zero entries left out)."""
    merged = {node: min(a.get(node, 0), b.get(node, 0)) for node in set(a) | set(b)}
    return {node: counter for node, counter in merged.items() if counter > 0}


def test_the_wrapper_keeps_the_real_merge_correct() -> None:
    """Control: the same wrapping around the real body raises nothing."""
    real_merge = with_contracts_of(vclock.merge, vclock.merge.__wrapped__)  # type: ignore[attr-defined]

    @settings(database=None)
    @given(CLOCKS, CLOCKS)
    def merge_keeps_its_contract(a: dict[str, int], b: dict[str, int]) -> None:
        real_merge(a, b)

    merge_keeps_its_contract()


def test_hypothesis_finds_an_input_that_breaks_merge_with_min() -> None:
    buggy_merge = with_contracts_of(vclock.merge, merge_with_min)

    @settings(database=None, max_examples=200, report_multiple_bugs=False)
    @given(CLOCKS, CLOCKS)
    def merge_keeps_its_contract(a: dict[str, int], b: dict[str, int]) -> None:
        buggy_merge(a, b)

    with pytest.raises(icontract.ViolationError, match="descends"):
        merge_keeps_its_contract()
