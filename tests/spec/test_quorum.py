"""Laws of :mod:`dynamokv.spec.quorum`: N, R, W, strict and sloppy quorums (Dynamo §4.5, §4.6)."""

from __future__ import annotations

import math

import icontract
import pytest
from dynamokv.spec import quorum
from dynamokv.spec.quorum import QuorumConfig
from hypothesis import given
from hypothesis import strategies as st

NODES = [f"n{i}" for i in range(8)]


@st.composite
def configs(draw: st.DrawFn, *, n_max: int = 8) -> QuorumConfig:
    n = draw(st.integers(1, n_max))
    return QuorumConfig(n=n, r=draw(st.integers(1, n)), w=draw(st.integers(1, n)))


@st.composite
def sloppy_cases(draw: st.DrawFn) -> tuple[list[str], set[str], int]:
    """An extended preference list, the nodes believed healthy, and N."""
    extended = draw(st.permutations(NODES))[: draw(st.integers(1, len(NODES)))]
    healthy = draw(st.sets(st.sampled_from(NODES)))
    return extended, healthy, draw(st.integers(1, 5))


def test_default_configuration_is_the_seeds_n3_r2_w2() -> None:
    assert QuorumConfig() == QuorumConfig(n=3, r=2, w=2)
    assert quorum.is_strict_consistent(QuorumConfig())


@pytest.mark.parametrize(("n", "r", "w"), [(0, 1, 1), (3, 0, 2), (3, 4, 2), (3, 2, 4)])
def test_quorum_config_rejects_impossible_sizes(n: int, r: int, w: int) -> None:
    with pytest.raises(icontract.ViolationError):
        QuorumConfig(n=n, r=r, w=w)


@given(st.integers(0, 8), st.data())
def test_quorums_are_every_subset_of_the_given_size(n: int, data: st.DataObject) -> None:
    size = data.draw(st.integers(0, n))
    chosen = quorum.quorums(n, size)
    assert len(chosen) == len(set(chosen)) == math.comb(n, size)
    assert all(len(q) == size and q <= set(range(n)) for q in chosen)


@given(configs())
def test_brute_force_read_write_intersection_is_r_plus_w_greater_than_n(
    config: QuorumConfig,
) -> None:
    """Dynamo §4.5: "Setting R + W > N yields a quorum-like system"."""
    intersect = quorum.read_write_quorums_intersect(config.n, config.r, config.w)
    assert intersect == (config.r + config.w > config.n)
    assert intersect == quorum.is_strict_consistent(config)


@given(configs())
def test_brute_force_write_write_intersection_is_two_w_greater_than_n(
    config: QuorumConfig,
) -> None:
    assert quorum.write_quorums_intersect(config.n, config.w) == (2 * config.w > config.n)


@given(sloppy_cases())
def test_sloppy_quorum_takes_healthy_owners_first_then_substitutes_in_ring_order(
    case: tuple[list[str], set[str], int],
) -> None:
    extended, healthy, n = case
    chosen = quorum.sloppy_quorum(extended, healthy, n)
    owners, rest = extended[:n], extended[n:]
    healthy_owners = [node for node in owners if node in healthy]
    substitutes = [node for node, hint in chosen if hint is not None]
    assert [node for node, hint in chosen if hint is None] == healthy_owners
    assert chosen[: len(healthy_owners)] == tuple((node, None) for node in healthy_owners)
    assert substitutes == [node for node in rest if node in healthy][: len(substitutes)]
    assert len(chosen) == min(n, len(healthy & set(extended)))
    assert len({node for node, _ in chosen}) == len(chosen)


@given(sloppy_cases())
def test_each_hint_names_a_distinct_unhealthy_owner(case: tuple[list[str], set[str], int]) -> None:
    """Dynamo §4.6: the substitute's hint says which node was the intended recipient."""
    extended, healthy, n = case
    hints = [hint for _, hint in quorum.sloppy_quorum(extended, healthy, n) if hint is not None]
    assert len(set(hints)) == len(hints)
    assert all(hint in extended[:n] and hint not in healthy for hint in hints)


@given(sloppy_cases())
def test_sloppy_quorum_is_the_strict_one_when_every_owner_is_healthy(
    case: tuple[list[str], set[str], int],
) -> None:
    extended, healthy, n = case
    healthy |= set(extended[:n])
    chosen = quorum.sloppy_quorum(extended, healthy, n)
    assert chosen == tuple((node, None) for node in extended[:n])
    assert tuple(node for node, _ in chosen) == quorum.strict_quorum(extended, healthy, n)


@given(sloppy_cases())
def test_strict_quorum_is_the_healthy_owners_and_never_substitutes(
    case: tuple[list[str], set[str], int],
) -> None:
    extended, healthy, n = case
    strict = quorum.strict_quorum(extended, healthy, n)
    assert strict == tuple(node for node in extended[:n] if node in healthy)
    sloppy_owners = [node for node, hint in quorum.sloppy_quorum(extended, healthy, n) if not hint]
    assert list(strict) == sloppy_owners


def test_a_sloppy_write_quorum_can_miss_a_strict_read_quorum() -> None:
    """With R + W > N, a partition still lets a read miss an acknowledged write.

    Reference: Dynamo §4.6 (theorem ``quorum.sloppy_can_miss_strict``).
    """
    config = QuorumConfig(n=3, r=2, w=2)
    extended = ["A", "B", "C", "D", "E"]
    # The writer's side of the partition sees A, D and E; the reader's side sees B and C.
    write = quorum.sloppy_quorum(extended, {"A", "D", "E"}, config.n)
    assert write == (("A", None), ("D", "B"), ("E", "C"))
    acknowledged_by = {"D", "E"}  # W = 2 acknowledgements, both from substitutes
    read = set(quorum.strict_quorum(extended, {"B", "C"}, config.n))
    assert len(read) >= config.r and quorum.is_strict_consistent(config)
    assert not acknowledged_by & read
