"""Fast strategy-3 join and leave agree with the spec; the Q1 measurement (Dynamo §6.2)."""

from __future__ import annotations

from collections import Counter

import pytest
from dynamokv.impl.core._partitions import (
    PartitionArgumentError,
    join,
    join_weighted,
    leave,
    leave_weighted,
    preference_lists,
)
from dynamokv.impl.sim._measurements import movement, q1_table
from dynamokv.spec import ring as spec_ring
from hypothesis import assume, given
from hypothesis import strategies as st

NODE_IDS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])


@st.composite
def assignments(draw: st.DrawFn) -> tuple[str, ...]:
    """Balanced round-robin rings, rings after joins and leaves, and arbitrary owner lists."""
    q = draw(st.integers(min_value=2, max_value=48))
    shape = draw(st.sampled_from(["round-robin", "arbitrary", "churned"]))
    if shape == "arbitrary":
        return tuple(draw(st.lists(NODE_IDS, min_size=q, max_size=q)))
    nodes = draw(st.lists(NODE_IDS, min_size=1, max_size=min(q - 1, 5), unique=True))
    owners = spec_ring.assign_partitions(nodes, q)
    if shape == "churned":
        for newcomer in ("x", "y"):
            if len(set(owners)) < q:
                owners = spec_ring.join_partitions(owners, newcomer)
        if len(set(owners)) >= 2:
            owners = spec_ring.leave_partitions(owners, sorted(set(owners))[0])
    return owners


@given(assignments())
def test_join_equals_spec_join_partitions(assignment: tuple[str, ...]) -> None:
    """The fast join steals exactly the partitions the spec steals, in the same places."""
    assume(len(set(assignment)) < len(assignment))
    assert join(assignment, "new") == spec_ring.join_partitions(assignment, "new")


@given(assignments(), st.data())
def test_leave_equals_spec_leave_partitions(
    assignment: tuple[str, ...], data: st.DataObject
) -> None:
    """The fast leave hands each partition to the heir the spec picks."""
    assume(len(set(assignment)) >= 2)
    node = data.draw(st.sampled_from(sorted(set(assignment))))
    assert leave(assignment, node) == spec_ring.leave_partitions(assignment, node)


@given(assignments(), st.integers(min_value=1, max_value=4))
def test_preference_lists_equal_spec_preference_list(assignment: tuple[str, ...], n: int) -> None:
    """A partition's list is the spec's preference list at any position inside the partition."""
    ring = spec_ring.partition_ring(assignment)
    q = len(assignment)
    lists = preference_lists(assignment, n)
    for partition in range(q):
        for position in (
            spec_ring.partition_start(partition, q),
            spec_ring.partition_start(partition + 1, q) - 1,
        ):
            assert lists[partition] == spec_ring.preference_list(ring, position, n)


def test_join_at_full_size_is_balanced_and_moves_only_stolen_partitions() -> None:
    """Q = 16,384 with 256 nodes: each node holds Q/S ± 1 after a join and after a leave.

    Reference: Dynamo §6.2 (strategy 3)
    """
    nodes = [f"node-{index:03d}" for index in range(256)]
    before = spec_ring.assign_partitions(nodes, spec_ring.DEFAULT_PARTITION_COUNT)
    after = join(before, "node-new")
    assert spec_ring.is_balanced(after, [*nodes, "node-new"])
    assert all(b in (a, "node-new") for a, b in zip(before, after, strict=True))
    assert Counter(after)["node-new"] == spec_ring.DEFAULT_PARTITION_COUNT // 257
    gone = leave(after, "node-007")
    assert spec_ring.is_balanced(gone, set(after) - {"node-007"})
    assert all(a == b for a, b in zip(after, gone, strict=True) if a != "node-007")


def test_join_and_leave_reject_impossible_requests() -> None:
    with pytest.raises(PartitionArgumentError):
        join(("a", "b"), "c")  # Q = S: nothing to steal
    with pytest.raises(PartitionArgumentError):
        join(("a", "b", "a"), "a")
    with pytest.raises(PartitionArgumentError):
        join((), "a")
    with pytest.raises(PartitionArgumentError):
        leave(("a", "a"), "a")
    with pytest.raises(PartitionArgumentError):
        leave(("a", "b"), "c")


def test_a_refused_join_says_why() -> None:
    """An admin's join that cannot be done is refused with its reason: an empty ring has
    nothing to steal from, and a ring where every partition has its own node (a single
    partition included) has no partition to spare for another.

    Reference: Dynamo §6.2
    """
    with pytest.raises(PartitionArgumentError, match="the assignment is empty"):
        join((), "a")
    for full in (("a",), ("a", "b")):
        with pytest.raises(PartitionArgumentError, match="every partition has its own node"):
            join(full, "c")


def test_movement_counts_the_copies_a_join_sends_to_the_new_node() -> None:
    """Each stolen partition puts the new node in N preference lists: N copies move."""
    before = spec_ring.assign_partitions(["a", "b", "c", "d"], 20)
    after = join(before, "e")
    moved = movement(before, after, n=3)
    assert len(moved.owners_changed) == 20 // 5
    assert {node for _, node in moved.copies_received} == {"e"}
    assert len(moved.copies_received) == 3 * len(moved.owners_changed)
    assert len(moved.copies_dropped) == len(moved.copies_received)
    assert moved.copies_total == 20 * 3


def test_q1_adding_an_eleventh_node_moves_one_eleventh_of_the_data() -> None:
    """Q1: "If you add a new node to a 10-node Dynamo cluster, what percentage of keys need to move?"

    Strategy 3 moves 1/11 of the replica copies (9.09 %, ±0.5 points) and changes
    the coordinator of about 1/11 of the keys; modulo hashing changes ~10/11 of them.

    Reference: Dynamo §6.2; seed interview question Q1
    """
    rows = q1_table(sample_keys=20_000)
    exact, sampled, modulo = rows
    print()
    for row in rows:
        print(
            f"{row.scheme:36} {row.sample:>18}  copies moved {row.copies_moved_fraction:7.2%}"
            f"  coordinators changed {row.coordinators_changed_fraction:7.2%}"
        )
    assert abs(exact.copies_moved_fraction - 1 / 11) < 0.005
    assert abs(exact.coordinators_changed_fraction - 1 / 11) < 0.005
    assert abs(sampled.copies_moved_fraction - 1 / 11) < 0.005
    assert abs(sampled.coordinators_changed_fraction - 1 / 11) < 0.01
    assert abs(modulo.coordinators_changed_fraction - 10 / 11) < 0.01
    assert modulo.copies_moved_fraction > 0.5


WEIGHTS = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(1, 4), min_size=1, max_size=5
)


@given(WEIGHTS, st.integers(1, 4), st.integers(1, 200))
def test_weighted_join_equals_the_spec(weights: dict[str, int], new: int, q: int) -> None:
    joined = {**weights, "z": new}
    assume(q * min(joined.values()) >= sum(joined.values()))
    before = spec_ring.assign_partitions_weighted(weights, q)
    assert join_weighted(before, joined, "z") == spec_ring.join_partitions_weighted(
        before, joined, "z"
    )


@given(WEIGHTS, st.integers(1, 200), st.data())
def test_weighted_leave_equals_the_spec(
    weights: dict[str, int], q: int, data: st.DataObject
) -> None:
    assume(len(weights) >= 2 and q * min(weights.values()) >= sum(weights.values()))
    before = spec_ring.assign_partitions_weighted(weights, q)
    leaver = data.draw(st.sampled_from(sorted(weights)))
    assert leave_weighted(before, weights, leaver) == spec_ring.leave_partitions_weighted(
        before, weights, leaver
    )


def test_a_weight_two_join_at_full_size_takes_twice_a_weight_one_share() -> None:
    weights = {f"n{index}": 1 for index in range(10)}
    before = spec_ring.assign_partitions_weighted(weights, 16_384)
    after = join_weighted(before, {**weights, "big": 2}, "big")
    counts = Counter(after)
    assert counts["big"] == 2731  # 16,384 x 2/12, rounded
    assert all(1365 <= counts[node] <= 1366 for node in weights)
    assert sum(b != a for b, a in zip(before, after, strict=True)) == counts["big"]


def test_weighted_moves_refuse_what_the_strategy_cannot_serve() -> None:
    with pytest.raises(PartitionArgumentError):
        join_weighted(("a", "b"), {"a": 1, "b": 1}, "c")  # no weight for c
    with pytest.raises(PartitionArgumentError):
        join_weighted(("a", "b"), {"a": 1, "b": 1, "c": 1}, "c")  # a share under one
    with pytest.raises(PartitionArgumentError):
        join_weighted((), {"a": 1}, "a")  # no partition at all: every share is under one
    with pytest.raises(PartitionArgumentError):
        leave_weighted(("a", "a"), {"a": 1}, "a")  # the only node


@pytest.mark.parametrize(("assignment", "n"), [((), 3), (("a", "b"), 0), ((), 0)])
def test_preference_lists_need_partitions_and_n_of_at_least_one(
    assignment: tuple[str, ...], n: int
) -> None:
    """No partition, or a replication factor below one, has no preference list to give."""
    with pytest.raises(PartitionArgumentError, match="preference_lists"):
        preference_lists(assignment, n)


def test_join_equals_spec_where_the_new_nodes_partitions_must_touch() -> None:
    """On an unbalanced assignment (a restored or hand-made ring), the last steal finds
    no partition of the most loaded node away from the new node's: the neighbour rule
    is a preference, so the join takes the nearest one anyway, as the spec does."""
    assignment = ("n1", "n1", "n1", "n1", "n0", "n1", "n1", "n1", "n0", "n0", "n0", "n1")
    joined = join(assignment, "x")
    assert joined == spec_ring.join_partitions(assignment, "x")
    assert joined.count("x") == 4 and joined[0] == joined[-1] == "x"
