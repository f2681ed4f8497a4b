"""The quorum rows check what they say they check: their scopes, their exhaustive counts, their edges.

Each exhaustive replay reports how many cases it compared with the spec; those numbers
are derived here independently, so a replay that silently skips cases is noticed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

import pytest
import z3
from dynamokv.proofs import ProofResult, Status, _quorum
from dynamokv.proofs._result import check_exists
from dynamokv.spec import quorum as spec_quorum

LIST_NODES = _quorum.NODE_NAMES[: _quorum.LIST_LENGTH]


def _healthy_sets(nodes: Sequence[str]) -> list[frozenset[str]]:
    """Every subset of ``nodes``: the healthy sets a writer can see."""
    return [
        frozenset(subset)
        for size in range(len(nodes) + 1)
        for subset in itertools.combinations(nodes, size)
    ]


def _admissible(n_max: int) -> list[tuple[int, int, int]]:
    """Every (N, R, W) with 1 ≤ R, W ≤ N ≤ ``n_max`` and R + W > N."""
    return [
        (n, r, w)
        for n in range(1, n_max + 1)
        for r, w in itertools.product(range(1, n + 1), repeat=2)
        if r + w > n
    ]


@pytest.mark.parametrize(
    "control", [_quorum.read_write_intersect_control, _quorum.write_write_intersect_control]
)
def test_intersection_controls_are_refuted_within_their_stated_bound_on_n(
    control: Callable[[], ProofResult],
) -> None:
    """A control's counterexample is sought among small N, so its row says N ≤ 6, not all N."""
    result = control()
    assert result.status is Status.REFUTED and result.ok
    assert result.scope == f"N ≤ {_quorum.COUNTEREXAMPLE_N_MAX}"
    assert result.counterexample is not None
    n_value = int(result.counterexample.split()[0].removeprefix("N="))
    assert 1 <= n_value <= _quorum.COUNTEREXAMPLE_N_MAX


@pytest.mark.parametrize("theorem", [_quorum.read_write_intersect, _quorum.write_write_intersect])
def test_intersection_theorems_cover_every_n(theorem: Callable[[], ProofResult]) -> None:
    """The theorems are proved for every N at once, and their rows say so."""
    assert theorem().scope == "all N"


def test_write_write_replay_compares_every_n_and_w_up_to_the_agreement_bound() -> None:
    """One case per (N, W) with 1 ≤ W ≤ N ≤ 6: 21 of them."""
    n_max = _quorum.AGREEMENT_N_MAX
    cases = sum(1 for n in range(1, n_max + 1) for _w in range(1, n + 1))
    result = _quorum.write_write_intersect()
    assert result.replay is not None and result.replay.agreed
    assert result.replay.detail == (
        f"write_quorums_intersect agrees on all {cases} (N, W), N ≤ {n_max}"
    )


def test_read_write_replay_compares_every_n_r_and_w_up_to_the_agreement_bound() -> None:
    """N² pairs (R, W) for each N from 1 to 6: 91 cases."""
    n_max = _quorum.AGREEMENT_N_MAX
    cases = sum(n * n for n in range(1, n_max + 1))
    result = _quorum.read_write_intersect()
    assert result.replay is not None and result.replay.agreed
    assert result.replay.detail == (
        f"read_write_quorums_intersect agrees on all {cases} (N, R, W), N ≤ {n_max}"
    )


def test_sloppy_is_strict_replay_compares_every_healthy_set_for_every_n() -> None:
    """Every healthy subset of the 6-node list, for each N from 1 to 6: 6 · 64 cases."""
    cases = len(_healthy_sets(LIST_NODES)) * len(range(1, len(LIST_NODES) + 1))
    result = _quorum.sloppy_equals_strict_when_healthy()
    assert result.replay is not None and result.replay.agreed
    assert result.replay.detail == (
        f"the encoding equals sloppy_quorum on all {cases} (healthy set, N)"
    )


def test_a_decoded_write_quorum_larger_than_w_is_rejected_by_the_replay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A decoder that lays the w-quorum out one replica too long must fail the control's row.

    The two quorums are still disjoint and the spec still says they need not meet; only
    the size of the decoded w-quorum is wrong, and the replay has to notice that.
    """
    real_decode = _quorum._Regions.decode

    def one_replica_too_many(
        regions: _quorum._Regions, model: z3.ModelRef
    ) -> tuple[int, int, int, frozenset[int], frozenset[int]]:
        n, x, y, first, second = real_decode(regions, model)
        return n, x, y, first, second | {max(first | second) + 1}

    monkeypatch.setattr(_quorum._Regions, "decode", one_replica_too_many)
    result = _quorum.read_write_intersect_control()
    assert result.status is Status.REFUTED
    assert result.replay is not None and not result.replay.agreed
    assert not result.ok


def test_a_sloppy_write_can_miss_a_strict_read_for_every_quorum_configuration() -> None:
    """For every N ≤ 3 and every R, W with R + W > N (R = 1 included) the exhibit has a witness.

    With all N owners down the sloppy quorum is N substitutes, so W of them can ack
    while R of the down owners serve the read: no configuration is immune.
    """
    configurations = _admissible(_quorum.LIST_LENGTH // 2)
    assert len(configurations) == 10  # N=1: 1, N=2: 3, N=3: 6
    for n, r, w in configurations:
        write = _quorum._SloppyWrite(
            _quorum.sloppy_members,
            length=_quorum.LIST_LENGTH,
            prefix="",
            reads_from_down_owners=True,
        )
        outcome = check_exists(
            write.disjoint, assuming=[*write.background, write.n == n, write.r == r, write.w == w]
        )
        assert outcome.status is Status.PROVED, (n, r, w)
        assert outcome.model is not None
        _text, replay = write.decode(outcome.model)
        assert replay.agreed, (n, r, w, replay)


def test_the_sloppy_exhibit_reads_only_from_owners_the_writer_saw_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The exhibit models a partition: the read is served from the far side, never by a node
    the writer saw up. Its witness shows that, and no witness with such a read exists."""
    built: list[_quorum._SloppyWrite] = []

    class Recorded(_quorum._SloppyWrite):
        def __init__(
            self,
            members: _quorum.MembersEncoding,
            *,
            length: int,
            prefix: str,
            reads_from_down_owners: bool,
        ) -> None:
            super().__init__(
                members,
                length=length,
                prefix=prefix,
                reads_from_down_owners=reads_from_down_owners,
            )
            built.append(self)

    monkeypatch.setattr(_quorum, "_SloppyWrite", Recorded)
    result = _quorum.sloppy_can_miss_strict()
    assert result.status is Status.PROVED and result.ok
    assert result.witness is not None
    seen_up = result.witness.split("writer sees ")[1].split(" up")[0]
    read_from = result.witness.split("strict read from ")[1]
    assert read_from and not set(read_from) & set(seen_up), result.witness

    (write,) = built
    read_from_a_healthy_node = z3.Or(
        [z3.And(read, healthy) for read, healthy in zip(write.reads, write.healthy, strict=True)]
    )
    outcome = check_exists(
        z3.And(write.disjoint, read_from_a_healthy_node), assuming=write.background
    )
    assert outcome.status is Status.REFUTED


def test_the_strict_control_replay_consults_strict_quorum_on_every_healthy_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The "strict quorums never miss" replay asks the spec about every healthy subset of
    the list, for every N up to half its length, and counts each admissible (R, W)."""
    real_strict_quorum = spec_quorum.strict_quorum
    asked: set[tuple[int, frozenset[str]]] = set()

    def recording(
        preference_list: Sequence[str], healthy: AbstractSet[str], n: int
    ) -> tuple[str, ...]:
        asked.add((n, frozenset(healthy)))
        return real_strict_quorum(preference_list, healthy, n)

    monkeypatch.setattr(spec_quorum, "strict_quorum", recording)
    result = _quorum.sloppy_can_miss_strict_control_strict()
    assert result.status is Status.REFUTED and result.ok

    n_max = _quorum.LIST_LENGTH // 2
    healthy_sets = _healthy_sets(LIST_NODES)
    assert asked == {(n, up) for n in range(1, n_max + 1) for up in healthy_sets}
    cases = len(healthy_sets) * len(_admissible(n_max))
    assert result.replay is not None
    assert result.replay.detail == (
        f"strict_quorum never leaves W healthy owners beside R down ones ({cases} cases)"
    )


def test_the_strict_control_replay_fails_when_strict_quorum_takes_substitutes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A "strict" quorum of the first N healthy nodes of the whole list (a sloppy one) lets
    W acks and R reads from down owners coexist: the replay must find such a case."""

    def with_substitutes(
        preference_list: Sequence[str], healthy: AbstractSet[str], n: int
    ) -> tuple[str, ...]:
        return tuple(node for node in preference_list if node in healthy)[:n]

    monkeypatch.setattr(spec_quorum, "strict_quorum", with_substitutes)
    result = _quorum.sloppy_can_miss_strict_control_strict()
    assert result.status is Status.REFUTED
    assert result.replay is not None and not result.replay.agreed
    assert "strict_quorum leaves room for a disjoint read" in result.replay.detail
    assert not result.ok
