"""What the vector-clock rows check, beyond their verdict.

The exhaustive spec checks cover a stated set of clocks and say how many tuples they
ran; counterexamples are sought among clocks over a stated set of nodes; the planted
encodings are wrong in exactly the stated way; and a control's replay checks the
spec's own answer, so a bug planted in the spec fails the row.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import dynamokv.spec.vclock as spec_vclock
import pytest
import z3
from dynamokv import proofs
from dynamokv.proofs import ProofResult, Status
from dynamokv.proofs import _vclock as vclock


def _small_clocks() -> list[dict[str, int]]:
    """Every clock over nodes x and y with counters 0, 1, 2 (a zero counter is left out)."""
    clocks = []
    for x, y in itertools.product((0, 1, 2), repeat=2):
        clocks.append({node: c for node, c in (("x", x), ("y", y)) if c > 0})
    return clocks


def test_the_spec_check_covers_every_two_node_clock_with_counters_up_to_two() -> None:
    """Nine clocks: three counters (0, 1, 2) for each of two nodes, the top one included."""
    clocks = vclock._all_spec_clocks()
    assert sorted(map(sorted, map(dict.items, clocks))) == sorted(
        map(sorted, map(dict.items, _small_clocks()))
    )
    assert {"x": 2, "y": 2} in clocks
    assert {} in clocks
    assert len(clocks) == 9


@pytest.mark.parametrize(
    ("theorem", "law", "arity"),
    [
        (proofs.descends_reflexive, "reflexivity", 1),
        (proofs.descends_antisymmetric, "antisymmetry", 2),
        (proofs.descends_transitive, "transitivity", 3),
        (proofs.merge_is_least_upper_bound, "least upper bound", 3),
        (proofs.increment_dominates, "strict domination by increment", 1),
        (proofs.compare_exactly_one, "exactly-one-order", 2),
    ],
)
def test_a_proved_law_reports_how_many_tuples_of_small_clocks_the_spec_obeyed(
    theorem: Callable[[], ProofResult], law: str, arity: int
) -> None:
    """The count is every tuple of ``arity`` clocks from the nine small ones: 9, 81 or 729."""
    result = theorem()
    tuples = len(list(itertools.product(_small_clocks(), repeat=arity)))
    assert result.status is Status.PROVED
    assert result.replay is not None and result.replay.agreed
    assert result.replay.detail == (
        f"spec.vclock obeys {law} on all {tuples} tuples of 2-node clocks"
    )


def test_the_reflexivity_theorem_states_plain_descends_and_only_the_control_names_its_variant() -> (
    None
):
    assert proofs.descends_reflexive().claim == "descends(a, a)"
    assert proofs.descends_reflexive_control().claim == "descends(a, a) (descends with > for ≥)"


def _decodable_with(*facts: Callable[[z3.ArrayRef], z3.BoolRef]) -> z3.CheckSatResult:
    """Whether some decodable clock ``a`` has every one of ``facts``."""
    a = vclock.clock("a")
    solver = z3.Solver()
    solver.add(*vclock._decodable(a), *(fact(a) for fact in facts))
    return solver.check()


def test_counterexamples_are_sought_among_clocks_over_nodes_n0_to_n2_with_counters_up_to_3() -> (
    None
):
    """A decodable clock may hold counter 3 on node n0 or n2, and nothing on n3 or n-1."""
    assert _decodable_with(lambda a: a[0] == 3, lambda a: a[2] == 3) == z3.sat
    assert _decodable_with(lambda a: a[3] == 1) == z3.unsat
    assert _decodable_with(lambda a: a[-1] == 1) == z3.unsat
    assert _decodable_with(lambda a: a[1] == 4) == z3.unsat


def _array(default: int, n0: int) -> z3.ArrayRef:
    return z3.Store(z3.K(z3.IntSort(), z3.IntVal(default)), 0, n0)


def _holds(formula: z3.BoolRef) -> bool:
    return bool(z3.is_true(z3.simplify(formula)))


def test_the_one_entry_encoding_compares_node_n0_and_ignores_every_other_node() -> None:
    """Ahead on n0 and behind elsewhere descends; behind on n0 and ahead elsewhere does not."""
    ahead_on_n0 = _array(default=0, n0=2)
    behind_elsewhere = _array(default=5, n0=1)
    assert _holds(vclock.descends_one_entry(ahead_on_n0, behind_elsewhere))
    assert not _holds(vclock.descends_one_entry(behind_elsewhere, ahead_on_n0))
    assert not _holds(vclock.descends_all(ahead_on_n0, behind_elsewhere))


def test_the_truncation_belief_is_refuted_at_the_smallest_threshold_where_the_spec_breaks_it() -> (
    None
):
    """Through the spec, concurrent clocks over three nodes already become ordered when cut
    to one entry; the control must report that threshold, not a later one."""
    nodes = ("n0", "n1", "n2")
    clocks = [
        {node: c for node, c in zip(nodes, values, strict=True) if c > 0}
        for values in itertools.product(range(3), repeat=len(nodes))
    ]
    orders = [dict(zip(nodes, order, strict=True)) for order in itertools.permutations(range(3))]

    def breaks(threshold: int) -> bool:
        for x, y in itertools.product(clocks, repeat=2):
            if spec_vclock.compare(x, y) is not spec_vclock.Order.CONCURRENT:
                continue
            for sx, sy in itertools.product(orders, repeat=2):
                cut_x = spec_vclock.truncate(x, sx, threshold)
                cut_y = spec_vclock.truncate(y, sy, threshold)
                if spec_vclock.compare(cut_x, cut_y) is not spec_vclock.Order.CONCURRENT:
                    return True
        return False

    smallest = next(t for t in vclock.BELIEF_THRESHOLDS if breaks(t))
    result = proofs.truncation_can_order_concurrent_control()
    assert result.status is Status.REFUTED and result.ok
    assert result.counterexample is not None
    assert result.counterexample.startswith(f"threshold {smallest}: ")


def _merge_min(a: spec_vclock.VectorClock, b: spec_vclock.VectorClock) -> dict[str, int]:
    merged = {node: min(a.get(node, 0), b.get(node, 0)) for node in set(a) | set(b)}
    return {node: counter for node, counter in merged.items() if counter > 0}


def test_the_merge_controls_replay_fails_when_the_spec_merge_is_not_an_upper_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The replay says "spec.merge descends from both": with merge planted as min in the
    spec, that is false, so the control's row fails even though Z3 refutes the variant."""
    monkeypatch.setattr(spec_vclock, "merge", _merge_min)
    result = proofs.merge_is_least_upper_bound_control()
    assert result.status is Status.REFUTED
    assert result.replay is not None and not result.replay.agreed
    assert not result.ok


def test_the_increment_controls_replay_fails_when_the_spec_increment_supersedes_a_sibling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A spec increment that jumps every entry past any counter makes increment(a) come
    after b: the control's replay must see that and fail the row."""

    def overshoot(clock: spec_vclock.VectorClock, node: str) -> dict[str, int]:
        return {f"n{k}": 100 for k in range(vclock.DIMENSION_MAX)}

    monkeypatch.setattr(spec_vclock, "increment", overshoot)
    result = proofs.increment_dominates_control()
    assert result.status is Status.REFUTED
    assert result.replay is not None and not result.replay.agreed
    assert not result.ok
