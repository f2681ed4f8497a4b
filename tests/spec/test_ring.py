"""Laws of :mod:`dynamokv.spec.ring`: consistent hashing and strategy 3 (Dynamo §4.2, §6.2)."""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter

from dynamokv.spec import ring
from dynamokv.spec.ring import RING_SIZE, Ring
from hypothesis import assume, given, settings
from hypothesis import strategies as st

NODE_NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])
POSITIONS = st.integers(min_value=0, max_value=RING_SIZE - 1)


@st.composite
def rings(draw: st.DrawFn, *, max_tokens: int = 10) -> Ring:
    tokens = draw(st.dictionaries(POSITIONS, NODE_NAMES, min_size=1, max_size=max_tokens))
    return tuple(sorted(tokens.items()))


@st.composite
def ring_and_position(draw: st.DrawFn) -> tuple[Ring, int]:
    """A ring and a key position; half the time exactly on a token, the boundary case."""
    tokens = draw(rings())
    on_token = st.sampled_from([position for position, _ in tokens])
    return tokens, draw(st.one_of(POSITIONS, on_token))


def clockwise_distance(start: int, position: int) -> int:
    return (position - start) % RING_SIZE


@st.composite
def balanced_assignments(draw: st.DrawFn) -> tuple[str, ...]:
    """A strategy-3 assignment reached from round-robin by a few joins and leaves."""
    node_count = draw(st.integers(1, 5))
    nodes = [f"n{i}" for i in range(node_count)]
    q = draw(st.integers(node_count + 1, 40))
    assignment = ring.assign_partitions(nodes, q)
    for step in range(draw(st.integers(0, 3))):
        members = sorted(set(assignment))
        if len(members) >= 2 and draw(st.booleans()):
            assignment = ring.leave_partitions(assignment, draw(st.sampled_from(members)))
        elif len(members) < q:
            assignment = ring.join_partitions(assignment, f"j{step}")
    return assignment


def joinable(assignment: tuple[str, ...]) -> bool:
    """A join needs a partition to steal: fewer nodes than partitions."""
    return len(set(assignment)) < len(assignment)


# -- hashing -------------------------------------------------------------------------------


@given(st.binary(max_size=64))
def test_md5_position_is_the_md5_digest_read_big_endian(key: bytes) -> None:
    position = ring.md5_position(key)
    assert 0 <= position < RING_SIZE
    assert position.to_bytes(16, "big") == hashlib.md5(key).digest()


# -- rings ---------------------------------------------------------------------------------


@given(rings())
def test_is_ring_accepts_sorted_distinct_positions(tokens: Ring) -> None:
    assert ring.is_ring(tokens)


@given(rings(), POSITIONS)
def test_is_ring_rejects_unsorted_duplicated_out_of_range_and_empty(tokens: Ring, p: int) -> None:
    assert not ring.is_ring(())
    assert not ring.is_ring(((RING_SIZE, "a"),))
    assert not ring.is_ring(((-1, "a"),))
    assert not ring.is_ring((*tokens, (tokens[-1][0], "z")))  # a position twice
    if len(tokens) >= 2:
        assert not ring.is_ring(tuple(reversed(tokens)))


@given(rings())
def test_nodes_of_is_the_set_of_token_owners(tokens: Ring) -> None:
    nodes = ring.nodes_of(tokens)
    assert all(node in nodes for _, node in tokens)
    assert all(any(owner == node for _, owner in tokens) for node in nodes)


@given(ring_and_position())
def test_extended_preference_list_orders_every_node_by_its_nearest_token_clockwise(
    case: tuple[Ring, int],
) -> None:
    tokens, position = case
    walk = ring.extended_preference_list(tokens, position)
    assert sorted(walk) == sorted(ring.nodes_of(tokens))
    nearest = {
        node: min(clockwise_distance(position, p) for p, owner in tokens if owner == node)
        for node in walk
    }
    distances = [nearest[node] for node in walk]
    assert distances == sorted(distances)


@given(ring_and_position(), st.integers(1, 8))
def test_preference_list_is_the_first_n_distinct_nodes(case: tuple[Ring, int], n: int) -> None:
    tokens, position = case
    chosen = ring.preference_list(tokens, position, n)
    assert len(chosen) == min(n, len(ring.nodes_of(tokens)))
    assert len(set(chosen)) == len(chosen)
    assert chosen == ring.extended_preference_list(tokens, position)[: len(chosen)]


@given(ring_and_position())
def test_coordinator_owns_the_first_token_at_or_after_the_key(case: tuple[Ring, int]) -> None:
    """Dynamo §4.2: a key is assigned to the first node met walking clockwise from it."""
    tokens, position = case
    at_or_after = [token for token in tokens if token[0] >= position] or [tokens[0]]
    assert ring.preference_list(tokens, position, 1) == (at_or_after[0][1],)


# -- strategy 1 ----------------------------------------------------------------------------


@given(st.dictionaries(NODE_NAMES, st.integers(1, 6), min_size=1, max_size=5))
def test_random_tokens_gives_each_node_as_many_tokens_as_its_weight(
    weights: dict[str, int],
) -> None:
    tokens = ring.random_tokens(weights, ring.md5_position)
    assert ring.is_ring(tokens)
    assert Counter(node for _, node in tokens) == Counter(weights)  # no MD5 collisions here
    assert {p for p, _ in tokens} == {
        ring.md5_position(f"{node}/{i}".encode()) for node, t in weights.items() for i in range(t)
    }


@given(st.dictionaries(NODE_NAMES, st.integers(1, 4), min_size=1, max_size=5))
def test_random_tokens_gives_a_collided_position_to_the_first_node_id(
    weights: dict[str, int],
) -> None:
    assert ring.random_tokens(weights, lambda _: 7) == ((7, min(weights)),)


# -- strategy 3 ----------------------------------------------------------------------------


@given(POSITIONS, st.integers(1, 10_000))
def test_partition_of_finds_the_partition_whose_interval_holds_the_position(
    position: int, q: int
) -> None:
    partition = ring.partition_of(position, q)
    assert ring.partition_start(partition, q) <= position < ring.partition_start(partition + 1, q)


@given(st.integers(1, 1_000))
def test_partitions_tile_the_ring_in_near_equal_intervals(q: int) -> None:
    starts = [ring.partition_start(p, q) for p in range(q + 1)]
    assert starts[0] == 0 and starts[-1] == RING_SIZE
    sizes = {b - a for a, b in itertools.pairwise(starts)}
    assert sizes <= {RING_SIZE // q, -(-RING_SIZE // q)}


@given(st.integers(0, 14))
def test_power_of_two_partitions_are_exactly_equal(bits: int) -> None:
    q = 1 << bits
    assert all(ring.partition_start(p, q) == p * (RING_SIZE >> bits) for p in range(q + 1))


@given(st.integers(1, 8), st.integers(0, 60))
def test_assign_partitions_gives_every_node_q_over_s_partitions(
    node_count: int, extra: int
) -> None:
    nodes = [f"n{i}" for i in range(node_count)]
    q = node_count + extra
    assignment = ring.assign_partitions(nodes, q)
    assert len(assignment) == q
    counts = Counter(assignment)
    assert set(counts) == set(nodes)
    assert all(q // node_count <= c <= -(-q // node_count) for c in counts.values())
    # Round-robin: any S consecutive partitions (without wrapping) have S distinct owners.
    windows = [assignment[i : i + node_count] for i in range(q - node_count + 1)]
    assert all(len(set(window)) == node_count for window in windows)


def test_is_balanced_examples() -> None:
    assert ring.is_balanced(("a", "b", "a", "b", "a"), ["a", "b"])
    assert not ring.is_balanced(("a", "a", "a", "b"), ["a", "b"])
    assert not ring.is_balanced(("a", "b", "c"), ["a", "b"])  # c is not a member
    assert not ring.is_balanced(("a", "a"), ["a", "b"])  # b owns nothing, a owns two
    assert not ring.is_balanced(("a",), [])


@given(balanced_assignments())
def test_balanced_assignments_stay_balanced(assignment: tuple[str, ...]) -> None:
    assert ring.is_balanced(assignment, set(assignment))


@given(balanced_assignments().filter(joinable))
def test_join_moves_about_one_in_s_plus_one_partitions_all_to_the_new_node(
    assignment: tuple[str, ...],
) -> None:
    """Dynamo §6.2 strategy 3: the new node steals Q/(S+1) partitions, nothing else moves."""
    node_count, q = len(set(assignment)), len(assignment)
    after = ring.join_partitions(assignment, "new")
    moved = [p for p in range(q) if after[p] != assignment[p]]
    assert all(after[p] == "new" for p in moved)
    assert len(moved) == q // (node_count + 1)
    assert ring.is_balanced(after, [*set(assignment), "new"])


@given(balanced_assignments(), st.data())
def test_leave_moves_only_the_leavers_partitions(
    assignment: tuple[str, ...], data: st.DataObject
) -> None:
    members = sorted(set(assignment))
    if len(members) < 2:
        return
    leaver = data.draw(st.sampled_from(members))
    after = ring.leave_partitions(assignment, leaver)
    moved = {p for p in range(len(assignment)) if after[p] != assignment[p]}
    assert moved == {p for p, owner in enumerate(assignment) if owner == leaver}
    assert ring.is_balanced(after, set(members) - {leaver})


@given(balanced_assignments(), st.lists(POSITIONS, max_size=5))
def test_partition_ring_sends_a_key_to_the_owner_of_its_partition(
    assignment: tuple[str, ...], positions: list[int]
) -> None:
    q = len(assignment)
    tokens = ring.partition_ring(assignment)
    assert ring.is_ring(tokens) and len(tokens) == q
    boundaries = [ring.partition_start(p, q) for p in range(q)]
    boundaries += [ring.partition_start(p + 1, q) - 1 for p in range(q)]
    for position in [*positions, *boundaries]:
        owner = assignment[ring.partition_of(position, q)]
        assert ring.preference_list(tokens, position, 1) == (owner,)


# -- keys that move ------------------------------------------------------------------------


def _probe_positions(q: int, extra: list[int]) -> list[int]:
    return [ring.partition_start(p, q) for p in range(q)] + extra


@settings(max_examples=60)
@given(balanced_assignments().filter(joinable), st.integers(1, 3), st.lists(POSITIONS, max_size=5))
def test_keys_that_move_on_a_join_are_those_the_new_node_now_replicates(
    assignment: tuple[str, ...], n: int, extra: list[int]
) -> None:
    before = ring.partition_ring(assignment)
    after = ring.partition_ring(ring.join_partitions(assignment, "new"))
    positions = _probe_positions(len(assignment), extra)
    moved = ring.keys_that_move(before, after, positions, n)
    assert moved == {p for p in positions if "new" in ring.preference_list(after, p, n)}


@settings(max_examples=60)
@given(balanced_assignments(), st.integers(1, 3), st.data())
def test_keys_that_move_on_a_leave_are_those_the_leaver_replicated(
    assignment: tuple[str, ...], n: int, data: st.DataObject
) -> None:
    members = sorted(set(assignment))
    if len(members) < 2:
        return
    leaver = data.draw(st.sampled_from(members))
    before = ring.partition_ring(assignment)
    after = ring.partition_ring(ring.leave_partitions(assignment, leaver))
    positions = _probe_positions(len(assignment), [])
    moved = ring.keys_that_move(before, after, positions, n)
    assert moved == {p for p in positions if leaver in ring.preference_list(before, p, n)}


@given(rings(max_tokens=8), st.lists(POSITIONS, min_size=1, max_size=4), st.data())
def test_adding_tokens_only_sends_keys_to_the_new_node(
    tokens: Ring, new_positions: list[int], data: st.DataObject
) -> None:
    """Strategy 1 join: with its tokens inserted, the new node is the only one that gains keys."""
    n = data.draw(st.integers(1, 3))
    taken = {p for p, _ in tokens}
    joined = tuple(sorted([*tokens, *((p, "new") for p in set(new_positions) - taken)]))
    positions = [p for p, _ in joined] + data.draw(st.lists(POSITIONS, max_size=5))
    moved = ring.keys_that_move(tokens, joined, positions, n)
    for position in positions:
        gained = set(ring.preference_list(joined, position, n)) - set(
            ring.preference_list(tokens, position, n)
        )
        assert gained <= {"new"}
        assert (position in moved) == bool(gained)


@given(rings(), st.lists(POSITIONS, max_size=5), st.integers(1, 4))
def test_no_key_moves_when_the_ring_is_unchanged(
    tokens: Ring, positions: list[int], n: int
) -> None:
    assert ring.keys_that_move(tokens, tokens, positions, n) == frozenset()


def test_q1_an_eleventh_node_receives_one_eleventh_of_the_replica_copies() -> None:
    """Interview Q1: adding a node to a 10-node cluster moves about 1/11 of the data,
    all of it to the new node. Reference: Dynamo §6.2 (strategy 3)."""
    n, q = 3, 1024
    assignment = ring.assign_partitions([f"n{i}" for i in range(10)], q)
    joined = ring.join_partitions(assignment, "new")
    before, after = ring.partition_ring(assignment), ring.partition_ring(joined)
    new_copies = 0
    for p in range(q):
        position = ring.partition_start(p, q)
        gained = set(ring.preference_list(after, position, n)) - set(
            ring.preference_list(before, position, n)
        )
        assert gained <= {"new"}
        new_copies += len(gained)
    assert sum(1 for a, b in zip(assignment, joined, strict=True) if a != b) == q // 11
    assert new_copies == n * (q // 11)
    assert abs(new_copies / (n * q) - 1 / 11) < 0.002


# -- weighted strategy 3 ------------------------------------------------------------------

WEIGHTS = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(1, 4), min_size=1, max_size=5
)


@given(WEIGHTS, st.integers(1, 400))
def test_weighted_quotas_sum_to_q_and_stay_within_one_partition_of_the_share(
    weights: dict[str, int], q: int
) -> None:
    assume(q * min(weights.values()) >= sum(weights.values()))
    quotas = ring.weighted_quotas(weights, q)
    assert sum(quotas.values()) == q
    total = sum(weights.values())
    for node, weight in weights.items():
        assert abs(quotas[node] - q * weight / total) < 1


def test_equal_weights_deal_partitions_round_robin() -> None:
    assert ring.assign_partitions_weighted({"a": 1, "b": 1, "c": 1}, 9) == ring.assign_partitions(
        ["a", "b", "c"], 9
    )


def test_a_double_weight_owns_twice_the_partitions() -> None:
    owners = ring.assign_partitions_weighted({"a": 1, "b": 1, "c": 2}, 16_384)
    counts = Counter(owners)
    assert counts == {"a": 4096, "b": 4096, "c": 8192}
    # Spread round the ring: every window of 16 consecutive partitions has every node.
    assert all(set(owners[start : start + 16]) == {"a", "b", "c"} for start in range(0, 16_384, 16))


@given(WEIGHTS, st.integers(1, 4), st.integers(1, 300))
def test_a_weighted_join_moves_only_stolen_partitions_and_keeps_the_balance(
    weights: dict[str, int], new_weight: int, q: int
) -> None:
    joined = {**weights, "new": new_weight}
    assume(q * min(joined.values()) >= sum(joined.values()))
    before = ring.assign_partitions_weighted(weights, q)
    after = ring.join_partitions_weighted(before, joined, "new")
    assert all(b == a or a == "new" for b, a in zip(before, after, strict=True))
    assert Counter(after)["new"] == ring.weighted_quotas(joined, q)["new"]
    assert ring.is_weighted_balanced(after, joined)


def test_a_weighted_join_takes_from_the_node_furthest_above_its_share() -> None:
    """A case Hypothesis found. After z joins, e's quota is 19 (share 18.88) and it holds
    20; b, c and d hold 27 against quotas of 25 (shares 25.18). Ranked by surplus over the
    rounded quota, b, c and d would give all six of z's partitions and e would stay 1.12
    over its share; ranked by surplus over the share, e gives one."""
    weights = {"a": 1, "b": 4, "c": 4, "d": 4, "e": 3}
    joined = {**weights, "z": 1}
    before = ring.assign_partitions_weighted(weights, 107)
    after = ring.join_partitions_weighted(before, joined, "z")
    assert Counter(after)["e"] == 19
    assert ring.is_weighted_balanced(after, joined)


def test_a_weighted_leave_gives_to_the_node_furthest_below_its_share() -> None:
    """A case Hypothesis found. When c leaves, a holds 3 against a quota of 2 (share 2.55)
    and e 9 against 10 (share 10.18); b and d hold 7 against quotas of 8 (shares 7.64).
    Ranked by the deficit under the rounded quota, b and d would take both of c's
    partitions and e would stay 1.18 under its share; ranked by the share, e takes one."""
    weights = {"a": 1, "b": 3, "c": 1, "d": 3, "e": 4}
    before = ring.assign_partitions_weighted(weights, 28)
    after = ring.leave_partitions_weighted(before, weights, "c")
    assert Counter(after)["e"] == 10
    assert ring.is_weighted_balanced(after, {n: w for n, w in weights.items() if n != "c"})


@given(WEIGHTS, st.integers(1, 300), st.data())
def test_a_weighted_leave_moves_only_the_leavers_partitions_and_keeps_the_balance(
    weights: dict[str, int], q: int, data: st.DataObject
) -> None:
    assume(len(weights) >= 2 and q * min(weights.values()) >= sum(weights.values()))
    before = ring.assign_partitions_weighted(weights, q)
    leaver = data.draw(st.sampled_from(sorted(weights)))
    after = ring.leave_partitions_weighted(before, weights, leaver)
    assert leaver not in after
    assert all(b == a for b, a in zip(before, after, strict=True) if b != leaver)
    rest = {node: weight for node, weight in weights.items() if node != leaver}
    assert ring.is_weighted_balanced(after, rest)


def test_weighted_balance_is_refused_for_an_unlisted_owner_or_a_lopsided_share() -> None:
    assert not ring.is_weighted_balanced(("a", "b"), {"a": 1})
    assert not ring.is_weighted_balanced(("a",) * 7 + ("b",), {"a": 1, "b": 1})
    assert ring.is_weighted_balanced(("a",) * 5 + ("b",) * 3, {"a": 1, "b": 1})


def test_weighted_balance_needs_a_weighted_node() -> None:
    """No weights at all is not a cluster: even an empty assignment is not balanced."""
    assert not ring.is_weighted_balanced((), {})
    assert not ring.is_weighted_balanced(("a",), {})
    assert not ring.is_weighted_balanced(("a",), {"a": 0})
