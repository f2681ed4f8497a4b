"""The quorum encodings say what the spec says, and the proofs hand Z3 the statements they claim.

The encodings are evaluated on concrete inputs (every healthy set, every N) and compared
with :mod:`dynamokv.spec.quorum`; the statements a proof checks are captured on their way
to the solver and evaluated at every small (N, R, W), so nothing here depends on which
model Z3 happens to return.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

import pytest
import z3
from dynamokv.proofs import ProofResult, Status, _quorum
from dynamokv.proofs._result import SolverOutcome
from dynamokv.spec import quorum as spec_quorum


def _evaluate(formula: z3.BoolRef, substitution: Sequence[tuple[z3.ExprRef, z3.ExprRef]]) -> bool:
    """The truth value of ``formula`` once every variable in it is given by ``substitution``."""
    value = z3.simplify(z3.substitute(formula, *substitution))
    assert z3.is_true(value) or z3.is_false(value), value
    return bool(z3.is_true(value))


def _encoded_nodes(
    members: _quorum.MembersEncoding, nodes: Sequence[str], up: set[str], n_value: int
) -> set[str]:
    """The nodes an encoding puts in the quorum, for one concrete healthy set and N."""
    healthy = [z3.Bool(f"healthy_{i}") for i in range(len(nodes))]
    n = z3.Int("n")
    substitution = [(n, z3.IntVal(n_value))] + [
        (h, z3.BoolVal(node in up)) for h, node in zip(healthy, nodes, strict=True)
    ]
    return {
        nodes[i] for i, member in enumerate(members(healthy, n)) if _evaluate(member, substitution)
    }


def _every_healthy_set(nodes: Sequence[str]) -> list[set[str]]:
    return [
        {node for i, node in enumerate(nodes) if mask >> i & 1} for mask in range(1 << len(nodes))
    ]


class _Captured:
    """Records each (claim, assumptions) a proof passes to ``check_forall``."""

    def __init__(self, real: Callable[..., SolverOutcome]) -> None:
        self.real = real
        self.calls: list[tuple[z3.BoolRef, list[z3.BoolRef]]] = []

    def __call__(self, claim: z3.BoolRef, *, assuming: Iterable[z3.BoolRef] = ()) -> SolverOutcome:
        assumptions = list(assuming)
        self.calls.append((claim, assumptions))
        return self.real(claim, assuming=assumptions)


@pytest.mark.parametrize("length", [_quorum.CONTROL_LIST_LENGTH, _quorum.LIST_LENGTH])
def test_the_walk_encoding_equals_sloppy_quorum_on_every_healthy_set_and_n(length: int) -> None:
    """The belief's encoding (the coordinator's walk) picks exactly the nodes of the spec's
    sloppy quorum, for every healthy subset of the list and every N up to its length:
    owners that are up, then one healthy substitute per owner that is down."""
    nodes = _quorum.NODE_NAMES[:length]
    for n_value in range(1, length + 1):
        for up in _every_healthy_set(nodes):
            spec_nodes = {node for node, _ in spec_quorum.sloppy_quorum(nodes, up, n_value)}
            encoded = _encoded_nodes(_quorum.sloppy_walk_members, nodes, up, n_value)
            assert encoded == spec_nodes, (n_value, sorted(up))


def test_the_walk_takes_a_substitute_for_the_first_owner_down() -> None:
    """N=2 over ABCDE with only A down: B stays, and C (the first node past the owners)
    stands in for A."""
    nodes = _quorum.NODE_NAMES[: _quorum.CONTROL_LIST_LENGTH]
    up = set(nodes) - {"A"}
    assert _encoded_nodes(_quorum.sloppy_walk_members, nodes, up, 2) == {"B", "C"}


def test_the_read_write_control_names_its_read_quorum_r() -> None:
    """The read/write counterexample labels the first quorum R (a read quorum), the second W."""
    result = _quorum.read_write_intersect_control()
    assert result.status is Status.REFUTED and result.ok
    assert result.counterexample is not None
    match = re.match(
        r"N=(\d+) R=(\d+) W=(\d+): r-quorum \[.*\] and w-quorum \[.*\] are disjoint$",
        result.counterexample,
    )
    assert match is not None, result.counterexample
    n, r, w = (int(g) for g in match.groups())
    assert r + w <= n  # a disjoint pair needs room for both


def test_the_write_write_control_names_both_quorums_w() -> None:
    result = _quorum.write_write_intersect_control()
    assert result.counterexample is not None
    assert re.match(r"N=\d+ W=\d+ W=\d+: w-quorum ", result.counterexample), result.counterexample


@pytest.mark.parametrize(
    ("row", "forbids_disjoint"),
    [
        (_quorum.read_write_intersect, lambda n, r, w: r + w > n),
        (_quorum.read_write_intersect_control, lambda n, r, w: r + w >= n),
        (_quorum.write_write_intersect, lambda n, r, w: 2 * w > n),
        (_quorum.write_write_intersect_control, lambda n, r, w: 2 * w >= n),
    ],
    ids=["read-write", "read-write control", "write-write", "write-write control"],
)
def test_the_statement_checked_rejects_disjoint_quorums_exactly_where_the_claim_says(
    monkeypatch: pytest.MonkeyPatch,
    row: Callable[[], ProofResult],
    forbids_disjoint: Callable[[int, int, int], bool],
) -> None:
    """The implication handed to Z3 is violated by two disjoint quorums for exactly the
    (N, R, W) its claim's premise covers (R + W > N for the theorem, R + W ≥ N for the
    belief the control refutes; 2W for two writes), at every N up to 6: the proof
    neither skips the edge R + W = N + 1 nor stretches the control below R + W = N."""
    captured = _Captured(_quorum.check_forall)
    monkeypatch.setattr(_quorum, "check_forall", captured)
    row()
    ((statement, _assuming),) = captured.calls
    n, x, y = z3.Ints("n x y")
    both = z3.Int("both")
    write_write = row in (_quorum.write_write_intersect, _quorum.write_write_intersect_control)
    for n_value in range(1, _quorum.AGREEMENT_N_MAX + 1):
        for r_value in range(1, n_value + 1):
            for w_value in range(1, n_value + 1):
                if write_write and r_value != w_value:
                    continue
                disjoint = [
                    (n, z3.IntVal(n_value)),
                    (x, z3.IntVal(r_value)),
                    (y, z3.IntVal(w_value)),
                    (both, z3.IntVal(0)),
                ]
                rejected = not _evaluate(statement, disjoint)
                assert rejected == forbids_disjoint(n_value, r_value, w_value), (
                    n_value,
                    r_value,
                    w_value,
                )


@pytest.mark.parametrize(
    ("row", "owners_down_allowed"),
    [
        (_quorum.sloppy_equals_strict_when_healthy, 0),
        (_quorum.sloppy_equals_strict_when_healthy_control, 1),
    ],
    ids=["theorem", "control"],
)
def test_the_sloppy_is_strict_assumption_limits_the_owners_down_whatever_the_rest_of_the_list(
    monkeypatch: pytest.MonkeyPatch, row: Callable[[], ProofResult], owners_down_allowed: int
) -> None:
    """The background of "sloppy equals strict" admits a healthy set and N exactly when at
    most so many of the first N nodes are down; nodes past the owners may be up or down,
    so the theorem covers partitions that take substitutes down too. Checked on every
    healthy subset of the 6-node list and every N from 1 to 6."""
    captured = _Captured(_quorum.check_forall)
    monkeypatch.setattr(_quorum, "check_forall", captured)
    row()
    ((_claim, assuming),) = captured.calls
    background = z3.And(assuming)
    nodes = _quorum.NODE_NAMES[: _quorum.LIST_LENGTH]
    healthy = [z3.Bool(f"healthy_{i}") for i in range(len(nodes))]
    n = z3.Int("n")
    admitted_with_a_non_owner_down = 0
    for n_value in range(1, len(nodes) + 1):
        for up in _every_healthy_set(nodes):
            substitution = [(n, z3.IntVal(n_value))] + [
                (h, z3.BoolVal(node in up)) for h, node in zip(healthy, nodes, strict=True)
            ]
            owners_down = sum(1 for node in nodes[:n_value] if node not in up)
            admitted = _evaluate(background, substitution)
            assert admitted == (owners_down <= owners_down_allowed), (n_value, sorted(up))
            if admitted and not set(nodes[n_value:]) <= up:
                admitted_with_a_non_owner_down += 1
    assert admitted_with_a_non_owner_down > 0
