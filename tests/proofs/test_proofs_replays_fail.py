"""The pieces around the solver can fail too: a replay through a wrong spec disagrees,
the registry names controls in order, and a row's time is the time it took.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
import z3
from dynamokv.proofs import REGISTRY, ProofResult, Status, _quorum, _ring, run, select
from dynamokv.proofs._result import Stopwatch
from dynamokv.spec import merkle as spec_merkle
from dynamokv.spec import quorum as spec_quorum
from dynamokv.spec import ring as spec_ring
from dynamokv.spec import vclock as spec_vclock


def _replay_disagrees(name: str) -> ProofResult:
    """Check the row ``name``; its replay through the spec must disagree with the encoding."""
    (entry,) = [e for e in REGISTRY if e.name == name]
    result = entry.check()
    assert result.replay is not None and not result.replay.agreed, result.replay
    return result


def test_the_join_theorem_fails_when_the_spec_moves_keys_to_an_old_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The theorem's replay asks the spec's preference lists; a spec whose lists are
    reversed moves keys between old nodes, and the row must say so."""
    real = spec_ring.preference_list
    monkeypatch.setattr(
        spec_ring, "preference_list", lambda ring, key, n: tuple(reversed(real(ring, key, n)))
    )
    result = _replay_disagrees("ring.join_moves_keys_only_to_new_node")
    assert not result.ok


def test_the_join_replay_checks_the_key_just_past_each_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key's owner can change only at a token or next to one, so the replay asks about
    the positions on either side of every token: a spec that goes wrong only one past a
    token (an arc's first key handed to the wrong nodes) must be caught."""
    real = spec_ring.preference_list

    def off_by_one_past_a_token(ring: spec_ring.Ring, position: int, n: int) -> tuple[str, ...]:
        nodes = real(ring, position, n)
        just_past = any(position == token + 1 for token, _ in ring)
        return tuple(reversed(nodes)) if just_past else nodes

    monkeypatch.setattr(spec_ring, "preference_list", off_by_one_past_a_token)
    result = _replay_disagrees("ring.join_moves_keys_only_to_new_node")
    assert not result.ok


def test_the_join_replay_checks_the_key_just_before_each_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The other side of a token: a spec that goes wrong only one before a token (an
    arc's last key but one handed to the wrong nodes) must be caught too."""
    real = spec_ring.preference_list

    def off_by_one_before_a_token(ring: spec_ring.Ring, position: int, n: int) -> tuple[str, ...]:
        nodes = real(ring, position, n)
        just_before = any(position == token - 1 for token, _ in ring)
        return tuple(reversed(nodes)) if just_before else nodes

    monkeypatch.setattr(spec_ring, "preference_list", off_by_one_before_a_token)
    result = _replay_disagrees("ring.join_moves_keys_only_to_new_node")
    assert not result.ok


def test_the_partition_fraction_replay_checks_each_partitions_last_position(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The theorem's replay asks partition_of about each partition's first and last
    position: a spec that puts only the last position of a partition into the next one
    must make the row fail."""
    real = spec_ring.partition_of

    def last_position_in_the_next(position: int, q: int) -> int:
        partition = real(position, q)
        last = spec_ring.partition_start(partition + 1, q) - 1
        return partition + 1 if position == last else partition

    monkeypatch.setattr(spec_ring, "partition_of", last_position_in_the_next)
    result = _replay_disagrees("ring.partitions_are_equal_intervals")
    assert "partition_of disagrees with partition_start" in result.replay.detail
    assert not result.ok


_N_MAX = _quorum.AGREEMENT_N_MAX


@pytest.mark.parametrize(
    "wrong_at", [(1, 1, 1), (_N_MAX, 1, 1), (_N_MAX, 1, _N_MAX), (_N_MAX, _N_MAX, 1)]
)
def test_the_read_write_agreement_asks_the_spec_at_every_corner_of_its_range(
    monkeypatch: pytest.MonkeyPatch, wrong_at: tuple[int, int, int]
) -> None:
    """The theorem's replay compares the Z3 formula with the spec on every (N, R, W) with
    N up to AGREEMENT_N_MAX: a spec wrong at one corner of that range (the smallest N, the
    largest, R or W at 1 or at N) makes the row fail."""
    real = spec_quorum.read_write_quorums_intersect

    def wrong_at_one_point(n: int, r: int, w: int) -> bool:
        return real(n, r, w) != ((n, r, w) == wrong_at)

    monkeypatch.setattr(spec_quorum, "read_write_quorums_intersect", wrong_at_one_point)
    result = _replay_disagrees("quorum.read_write_intersect")
    assert f"N={wrong_at[0]} R={wrong_at[1]} W={wrong_at[2]}:" in result.replay.detail


@pytest.mark.parametrize("wrong_at", [(1, 1), (_N_MAX, 1), (_N_MAX, _N_MAX)])
def test_the_write_write_agreement_asks_the_spec_at_every_corner_of_its_range(
    monkeypatch: pytest.MonkeyPatch, wrong_at: tuple[int, int]
) -> None:
    """Likewise for two write quorums: every (N, W) with N up to AGREEMENT_N_MAX."""
    real = spec_quorum.write_quorums_intersect

    def wrong_at_one_point(n: int, w: int) -> bool:
        return real(n, w) != ((n, w) == wrong_at)

    monkeypatch.setattr(spec_quorum, "write_quorums_intersect", wrong_at_one_point)
    result = _replay_disagrees("quorum.write_write_intersect")
    assert f"N={wrong_at[0]} W={wrong_at[1]}:" in result.replay.detail


def test_the_untruncated_control_fails_when_the_spec_truncates_below_the_threshold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The no-witness control's replay truncates every pair of small clocks, under every
    order of their stamps, at a threshold of their length: a spec truncate that keeps
    one entry too few there reorders some pair, and the row must fail."""
    real = spec_vclock.truncate

    def keeps_one_too_few(
        clock: dict[str, int], stamps: dict[str, int], threshold: int
    ) -> dict[str, int]:
        return real(clock, stamps, max(threshold - 1, 1))

    monkeypatch.setattr(spec_vclock, "truncate", keeps_one_too_few)
    result = _replay_disagrees("vclock.truncation_can_order_concurrent.control2")
    assert "truncate changed compare(" in result.replay.detail


def test_the_vector_clock_laws_are_replayed_on_clocks_with_every_small_counter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The clock theorems replay their laws on every clock over two nodes with counters up
    to SPEC_CHECK_COUNTER_MAX: a spec merge that drops the entries it takes at 1 is no
    upper bound of {n0: 1}, and the row must fail."""
    real = spec_vclock.merge

    def drops_ones(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {node: counter for node, counter in real(a, b).items() if counter != 1}

    monkeypatch.setattr(spec_vclock, "merge", drops_ones)
    result = _replay_disagrees("vclock.merge_is_least_upper_bound")
    assert not result.ok


def test_the_unequal_partitions_control_fails_when_the_spec_makes_them_equal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With Q = 3 the spec's partitions cannot all be equal (3 does not divide the
    ring); the control's replay says so, and a spec that made them equal by dropping
    the last position must make the row fail."""
    size = spec_ring.RING_SIZE // 3
    monkeypatch.setattr(spec_ring, "partition_start", lambda index, q: index * size)
    result = _replay_disagrees("ring.partitions_are_equal_intervals.control")
    assert "partition sizes differ: [" in result.replay.detail
    assert not result.ok


def test_a_run_counts_its_theorems_and_its_controls_apart() -> None:
    names = ["quorum.read_write_intersect", "vclock.descends_reflexive"]
    proof_run = run(select(names))
    theorems = sum(1 for result in proof_run.results if result.kind == "theorem")
    controls = sum(1 for result in proof_run.results if result.kind == "control")
    assert theorems >= 2 and controls >= 1
    assert (proof_run.count("theorem"), proof_run.count("control")) == (theorems, controls)


def test_the_sloppy_quorum_replay_checks_every_healthy_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The replay compares the encoding with the spec on every healthy set of the list, so
    a spec wrong only when exactly two nodes are down (it forgets one substitute) fails
    the row."""
    real = spec_quorum.sloppy_quorum

    def forgets_a_substitute(nodes, up, n):  # type: ignore[no-untyped-def]
        quorum = real(nodes, up, n)
        return quorum[:-1] if len(nodes) - len(up) == 2 else quorum

    monkeypatch.setattr(spec_quorum, "sloppy_quorum", forgets_a_substitute)
    result = _replay_disagrees("quorum.sloppy_is_strict_when_owners_up")
    assert not result.ok


def test_the_wasteful_walk_control_fails_when_the_spec_misses_a_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The control's replay runs its counterexample through the spec's diff: the walk
    must waste a visit *and* still find exactly the differing keys, so a spec diff that
    drops a key makes the row fail."""
    real = spec_merkle.diff

    def drops_a_key(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        return dataclasses.replace(result, keys=frozenset(sorted(result.keys)[1:]))

    monkeypatch.setattr(spec_merkle, "diff", drops_a_key)
    result = _replay_disagrees("merkle.diff_is_sound.control")
    assert not result.ok


def test_each_theorems_controls_are_named_in_order() -> None:
    controls: dict[str, list[str]] = {}
    for entry in REGISTRY:
        if entry.kind == "control":
            controls.setdefault(entry.theorem, []).append(entry.name)
    assert controls and any(len(names) > 1 for names in controls.values())
    for theorem, names in controls.items():
        expected = [f"{theorem}.control"] + [
            f"{theorem}.control{number}" for number in range(2, len(names) + 1)
        ]
        assert names == expected


def test_a_stopwatch_gives_the_time_since_it_started() -> None:
    before = time.perf_counter()
    stopwatch = Stopwatch()
    elapsed = stopwatch.seconds()
    after = time.perf_counter()
    assert 0 <= elapsed <= after - before


@pytest.mark.parametrize("exponent", [_ring.PARTITION_EXPONENTS[0], _ring.PARTITION_EXPONENTS[-1]])
def test_the_equal_intervals_theorem_fails_when_one_ring_size_breaks_the_encoding(
    monkeypatch: pytest.MonkeyPatch, exponent: int
) -> None:
    """The theorem is checked for every Q = 2^k of its scope in turn, stopping at the first
    that fails: an encoding wrong for the smallest Q alone, or for the largest alone,
    makes the row fail although every other Q is proved."""
    real = _ring._interval_claim
    broken = 1 << exponent

    def wrong_for_one_q(
        q: int, size: int
    ) -> tuple[z3.BoolRef, list[z3.BoolRef], z3.ArithRef, z3.ArithRef]:
        claim, assuming, position, partition = real(q, size)
        return (z3.Not(claim) if q == broken else claim), assuming, position, partition

    monkeypatch.setattr(_ring, "_interval_claim", wrong_for_one_q)
    (entry,) = [e for e in REGISTRY if e.name == "ring.partitions_are_equal_intervals"]
    result = entry.check()
    assert result.status is Status.REFUTED
    assert not result.ok
