"""Tombstone reaping: deleted keys are forgotten only once every owner holds the tombstone
and a grace period has passed, and no deleted value comes back (property 7)."""

from __future__ import annotations

import pytest
from dynamokv.impl.cli import main
from dynamokv.impl.core import (
    GetRequest,
    MemberConfig,
    NodeConfig,
    PutRequest,
    PutResult,
    Result,
    Version,
    tombstone_may_be_reaped,
)
from dynamokv.impl.core._partitions import join as join_partitions
from dynamokv.impl.core._partitions import preference_lists
from dynamokv.impl.core._reaping import holds_tombstones, reap_covers
from dynamokv.impl.core._ring import PartitionRing
from dynamokv.impl.core._versions import context_of
from dynamokv.impl.sim import Cluster, History, NetworkConfig, SimConfig, simulate
from dynamokv.impl.sim._simulate import _check_no_deleted_value_returns

GRACE_TICKS = 300
"""The sweeps' grace period: longer than a simulated crash (150) or partition (200)."""

OLD = Version(b"cart", ("n1", 1))
TOMBSTONE = Version(None, ("n1", 2), (("n1", 1),))
LATER_TOMBSTONE = Version(None, ("n2", 1), (("n1", 2),))
LATER_PUT = Version(b"new", ("n2", 1), (("n1", 2),))


def test_the_rule_needs_every_owner_tombstones_only_and_the_grace_period() -> None:
    owners = ("n2", "n3")
    ok = {"owners": owners, "votes": owners, "stored_ticks": 50, "grace_ticks": 50}
    assert tombstone_may_be_reaped((TOMBSTONE,), **ok)  # type: ignore[arg-type]
    assert not tombstone_may_be_reaped((TOMBSTONE,), **{**ok, "votes": ("n2",)})  # type: ignore[arg-type]
    assert not tombstone_may_be_reaped((TOMBSTONE,), **{**ok, "stored_ticks": 49})  # type: ignore[arg-type]
    assert not tombstone_may_be_reaped((OLD,), **ok)  # type: ignore[arg-type]
    assert not tombstone_may_be_reaped((TOMBSTONE, OLD), **ok)  # type: ignore[arg-type]
    assert not tombstone_may_be_reaped((), **ok)  # type: ignore[arg-type]


def test_a_vote_and_a_reap_cover_only_tombstones() -> None:
    assert holds_tombstones((TOMBSTONE,), (TOMBSTONE,))
    assert holds_tombstones((LATER_TOMBSTONE,), (TOMBSTONE,))  # a newer delete
    assert not holds_tombstones((OLD,), (TOMBSTONE,))  # missed the delete
    assert not holds_tombstones((LATER_PUT,), (TOMBSTONE,))  # written again
    assert not holds_tombstones((), (TOMBSTONE,))
    assert reap_covers((TOMBSTONE,), (TOMBSTONE,))
    assert not reap_covers((TOMBSTONE,), (LATER_TOMBSTONE,))  # newer than the reap
    assert not reap_covers((TOMBSTONE,), (LATER_PUT,))  # a put after the vote is kept


def _cluster(
    nodes: int = 3,
    *,
    network: NetworkConfig | None = None,
    member_config: MemberConfig | None = None,
) -> Cluster:
    return Cluster(
        nodes,
        seed=3,
        config=NodeConfig(),
        q=16,
        network=network or NetworkConfig(delay_ticks_min=1, delay_ticks_max=3),
        membership="gossip",
        member_config=member_config or MemberConfig(tombstone_grace_ticks=100),
    )


def _request(cluster: Cluster, node: str, request: GetRequest | PutRequest) -> Result:
    result = cluster.request(node, request)
    assert result is not None, "no answer"
    return result


def test_a_deleted_key_is_reaped_on_every_owner_only_after_all_hold_the_tombstone() -> None:
    cluster = _cluster()
    cluster.run(until=200)
    put = _request(cluster, "n1", PutRequest(b"cart", b"socks", ()))
    assert isinstance(put, PutResult) and put.ok and put.version is not None
    # One owner misses the delete: it is cut off from the others.
    cluster.partition(("n1", "n2"), ("n3",))
    delete = _request(cluster, "n1", PutRequest(b"cart", None, context_of((put.version,))))
    assert isinstance(delete, PutResult) and delete.ok
    cluster.run(until=cluster.now + 1000)
    assert cluster.member_stats().tombstones_reaped == 0  # n3 never voted
    assert cluster.holders(b"cart")["n3"] == (put.version,)
    cluster.heal()
    cluster.run(until=cluster.now + 3000)
    assert cluster.member_stats().tombstones_reaped == 3
    assert set(cluster.holders(b"cart").values()) == {()}
    assert cluster.reaped[b"cart"]
    get = _request(cluster, "n2", GetRequest(b"cart"))
    assert get.ok and get.versions == ()  # type: ignore[union-attr]


def test_a_second_delete_starts_the_grace_period_again() -> None:
    """The grace period covers what a vote cannot see (a hint or a write still
    travelling), so it runs from the tombstones the reaper holds: a second delete of a
    deleted key stores new ones, which wait a whole grace period of their own. Reaped
    by the first delete's clock, they went before the second delete was acknowledged
    (seed 10405 of the reaping sweep with churn: property 1)."""
    cluster = _cluster()  # a grace period of 100 ticks, a round every 50
    cluster.run(until=200)
    put = _request(cluster, "n1", PutRequest(b"cart", b"socks", ()))
    assert isinstance(put, PutResult) and put.ok and put.version is not None
    first = _request(cluster, "n1", PutRequest(b"cart", None, context_of((put.version,))))
    assert isinstance(first, PutResult) and first.ok and first.version is not None
    cluster.run(until=cluster.now + 80)
    second = _request(cluster, "n1", PutRequest(b"cart", None, context_of((first.version,))))
    assert isinstance(second, PutResult) and second.ok and second.version is not None
    stored = cluster.now
    # The first delete's grace period and a round after it have passed.
    cluster.run(until=stored + 90)
    assert cluster.member_stats().tombstones_reaped == 0
    assert set(cluster.holders(b"cart").values()) == {(second.version,)}
    cluster.run(until=stored + 3000)
    assert cluster.member_stats().tombstones_reaped == 3
    assert set(cluster.holders(b"cart").values()) == {()}


CHURN_ON_THE_STORE = SimConfig(
    nodes=4,
    faults=("crash", "partition", "drop", "dup", "reorder", "churn"),
    storage="store",
    tombstone_grace_ticks=200,
)
"""The sweep that found the two seeds below: 4 nodes with churn, the WAL store, a grace of
200 ticks."""


def test_a_former_owner_handing_off_late_does_not_bring_a_deleted_value_back() -> None:
    """A former owner keeps a key until every new owner has acknowledged its handoff; cut
    off from one of them, it kept the old value past the delete and the reap, and the
    handoff it finished on a later ring gave the value back to owners that had forgotten
    the tombstone (seed 120007 of a 4-node sweep with churn, the WAL store and a grace of
    200 ticks: property 7). The new owners that acknowledge its batch now send it the
    tombstone first, so what it hands off late is the tombstone."""
    report, _, _ = simulate(120007, CHURN_ON_THE_STORE)
    assert report.violations == []
    assert report.tombstones_reaped > 0


def test_no_key_is_reaped_while_a_member_is_leaving() -> None:
    """A leaving node holds data it has yet to hand off, and cut off from its new owners
    it may keep it past any grace period: the reapers wait until no member is leaving.
    Reaped meanwhile, a tombstone was gone when the leaving node's handoff brought the
    value it deleted to two owners whose memory of the reap a crash had taken (seed
    120073 of a 4-node sweep with churn, the WAL store and a grace of 200 ticks: property
    7)."""
    report, _, _ = simulate(120073, CHURN_ON_THE_STORE)
    assert report.violations == []
    assert report.tombstones_reaped > 0


def test_an_owner_handed_a_deleted_value_after_the_reap_is_sent_the_tombstone() -> None:
    """A node down across a join keeps a key the join moved to a new owner; the key is
    deleted and reaped meanwhile, and the new owner then crashes (its memory of the reap
    is gone). Back, the former owner hands the deleted value to it, and it stores it. The
    owners that remember the reap merge every Merkle push of that value into nothing, so
    they answer it with the tombstone: the new owner holds the tombstone instead, pushes it
    back and it is reaped again. Without that answer the value stayed on the new owner for
    good, the replicas never agreeing again (property 7, and property 5)."""
    cluster = Cluster(
        4,
        seed=3,
        config=NodeConfig(),
        q=16,
        network=NetworkConfig(delay_ticks_min=1, delay_ticks_max=3),
        membership="gossip",
        spares=1,
        member_config=MemberConfig(tombstone_grace_ticks=100),
    )
    cluster.run(until=200)
    before = cluster.ring
    cluster.restart("n5")
    # A key of a partition that the join of n5 takes from one of its three owners.
    key, former = next(
        (key, owner)
        for key in (b"k%d" % i for i in range(500))
        for owner in before.preference_list(key)
        if owner != "n5" and _loses_to_a_join(before, key, owner)
    )
    owners = before.preference_list(key)
    put = _request(cluster, owners[0], PutRequest(key, b"socks", ()))
    assert isinstance(put, PutResult) and put.ok and put.version is not None
    cluster.run(until=cluster.now + 20)
    cluster.crash(former)
    cluster.run(until=cluster.now + 100)
    assert cluster.join("n5", via=next(owner for owner in owners if owner != former))
    cluster.run(until=cluster.now + 100)
    new_owners = cluster.ring.preference_list(key)
    assert "n5" in new_owners and former not in new_owners
    delete = _request(cluster, new_owners[0], PutRequest(key, None, context_of((put.version,))))
    assert isinstance(delete, PutResult) and delete.ok
    cluster.run(until=cluster.now + 600)
    assert cluster.reaped.get(key)
    cluster.crash("n5")
    cluster.restart("n5")
    cluster.run(until=cluster.now + 20)
    cluster.restart(former)
    cluster.run(until=cluster.now + 4000)
    assert {owner: cluster.holders(key)[owner] for owner in new_owners} == dict.fromkeys(
        new_owners, ()
    )
    history = History(reaping=True)
    _check_no_deleted_value_returns(cluster, history)
    assert history.violations == []


def _loses_to_a_join(ring: PartitionRing, key: bytes, owner: str) -> bool:
    """Whether a join of n5 takes ``key``'s partition from ``owner``."""
    partition = ring.partition_of(key)
    after = preference_lists(join_partitions(ring.assignment, "n5"), ring.n)
    return owner not in after[partition]


def _delete_with_a_hint(cluster: Cluster) -> tuple[bytes, tuple[str, ...]]:
    """Put a key on its three owners, then delete it while one owner is down: n4, which
    owns nothing of the key, keeps the tombstone as a hint for it (Dynamo §4.6)."""
    cluster.run(until=200)
    key = next(
        k for k in (b"k%d" % i for i in range(100)) if "n4" not in cluster.ring.preference_list(k)
    )
    owners = cluster.ring.preference_list(key)
    put = _request(cluster, owners[0], PutRequest(key, b"socks", ()))
    assert isinstance(put, PutResult) and put.ok and put.version is not None
    cluster.run(until=cluster.now + 50)
    cluster.crash(owners[2])
    cluster.run(until=cluster.now + 100)
    delete = _request(cluster, owners[0], PutRequest(key, None, context_of((put.version,))))
    assert isinstance(delete, PutResult) and delete.ok
    assert cluster.hints_pending() >= 1
    cluster.restart(owners[2])
    return key, owners


def _times_reaped(cluster: Cluster, key: bytes) -> int:
    return len(cluster.reaped.get(key, ()))


@pytest.mark.parametrize("memory_keys_max", [65536, 0])
def test_a_hint_replayed_after_the_reap_does_not_bring_the_tombstone_back(
    memory_keys_max: int,
) -> None:
    """The owner's acknowledgements to the hint holder are lost, so the holder replays
    the tombstone again and again, after the reap too. An owner remembers what it reaped
    and merges the late copies as if the tombstone were still there: the key is reaped
    once on each owner and stays forgotten. With no memory (the negative control) every
    late replay brings the tombstone back and it is reaped round after round."""
    member_config = MemberConfig(tombstone_grace_ticks=100, reaped_memory_keys_max=memory_keys_max)
    cluster = _cluster(4, member_config=member_config)
    key, owners = _delete_with_a_hint(cluster)
    cluster.block(owners[2], "n4")  # the hint's acknowledgements are lost
    cluster.run(until=cluster.now + 3000)
    assert cluster.hints_pending() == 1  # still replayed
    if memory_keys_max:
        assert _times_reaped(cluster, key) == len(owners)
        assert set(cluster.holders(key).values()) == {()}
    else:
        assert _times_reaped(cluster, key) > 2 * len(owners)
    cluster.heal()
    cluster.run(until=cluster.now + 1500)
    assert cluster.hints_pending() == 0
    assert set(cluster.holders(key).values()) == {()}
    get = _request(cluster, owners[1], GetRequest(key))
    assert get.ok and get.versions == ()  # type: ignore[union-attr]


def _run_with_every_message_twice() -> tuple[Cluster, bytes, tuple[str, ...]]:
    """The hinted delete with every message delivered twice: a Reap, a HintReplay and its
    HintAck arrive again after they took effect."""
    cluster = _cluster(4, network=NetworkConfig(delay_ticks_min=1, delay_ticks_max=3, dup=1.0))
    key, owners = _delete_with_a_hint(cluster)
    cluster.run(until=cluster.now + 3000)
    assert cluster.stats.duplicated > 0
    assert set(cluster.holders(key).values()) == {()}
    return cluster, key, owners


def test_each_reap_is_counted_once() -> None:
    cluster, key, owners = _run_with_every_message_twice()
    assert cluster.member_stats().tombstones_reaped == len(owners)
    assert _times_reaped(cluster, key) == len(owners)


def test_each_replayed_hint_is_counted_once() -> None:
    """The duplicated hinted write is stored as two hints; each is replayed and counted
    once, however many acknowledgements arrive."""
    cluster, _, _ = _run_with_every_message_twice()
    stats = cluster.node_stats()
    assert cluster.hints_pending() == 0
    assert stats.hints_stored >= 1 and stats.hints_replayed == stats.hints_stored


def test_a_rule_that_never_reaps_is_caught_by_property_7() -> None:
    """The liveness half of property 7: deleted keys must be forgotten once the cluster
    has converged and the grace period has passed (planted bug ``reap-never``)."""
    report, _, _ = simulate(
        1, SimConfig(ops=2000, tombstone_grace_ticks=GRACE_TICKS, planted_bug="reap-never")
    )
    assert any("property 7" in v and "not forgotten" in v for v in report.violations)
    correct, _, _ = simulate(1, SimConfig(ops=2000, tombstone_grace_ticks=GRACE_TICKS))
    assert correct.violations == []
    assert correct.tombstones_cleared_ticks <= GRACE_TICKS + 20 * 50


@pytest.mark.parametrize("seed", range(3))
def test_sweep_with_reaping_brings_no_deleted_value_back(seed: int) -> None:
    report, cluster, _ = simulate(seed, SimConfig(ops=1500, tombstone_grace_ticks=GRACE_TICKS))
    assert report.violations == []
    assert report.tombstones_reaped > 0 and cluster.reaped


def test_reaping_at_once_is_caught_by_property_7() -> None:
    """The planted bug forgets tombstones as soon as the reaper holds them: a replica
    that missed the delete hands the value back, and property 7 says so."""
    found = []
    for seed in range(1, 13):
        report, _, _ = simulate(
            seed,
            SimConfig(ops=2000, tombstone_grace_ticks=GRACE_TICKS, planted_bug="reap-at-once"),
        )
        found += [v for v in report.violations if "property 7" in v]
        if found:
            break
    assert found, "reap-at-once was not reported by property 7 in seeds 1-12"


def test_sim_command_reaps_and_names_the_grace_in_the_replay(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["sim", "--seed", "2", "--ops", "2000", "--reap-grace", "300"]) == 0
    assert "tombstones reaped" in capsys.readouterr().out
    # The planted bug breaks property 7 only where a late copy meets a reaped key: some
    # seeds of 2,000 operations show it, and the replay line names the grace and the bug.
    caught = []
    for seed in range(1, 25):
        argv = ["sim", "--seed", str(seed), "--ops", "2000", "--reap-grace", "300"]
        if main([*argv, "--plant-bug", "reap-at-once"]) == 1:
            caught.append(seed)
            break
    out = capsys.readouterr().out
    assert caught and "--reap-grace 300 --plant-bug reap-at-once" in out
    assert main(["sim", "--reap-grace", "5", "--membership", "static"]) == 1
    assert "--reap-grace needs --membership gossip" in capsys.readouterr().err


def test_a_rule_that_reaps_without_every_owners_vote_is_caught_by_property_7() -> None:
    """The vote condition's negative control in the sweep (planted bug
    ``reap-without-votes``): with the grace period kept and the votes ignored, a replica
    that missed the delete hands the deleted value back, and property 7 reports it on
    some seed of 2,000 operations."""
    config = SimConfig(
        ops=2000, tombstone_grace_ticks=GRACE_TICKS, planted_bug="reap-without-votes"
    )
    caught = [
        seed
        for seed in range(1, 7)
        if any("property 7" in v for v in simulate(seed, config)[0].violations)
    ]
    assert caught


@pytest.mark.parametrize("grace_ticks", [1000, 1])
def test_the_grace_period_keeps_a_value_hinted_before_the_delete_from_coming_back(
    grace_ticks: int,
) -> None:
    """What the vote cannot see (Dynamo §4.6): a put's copy for an owner that was down
    waits as a hint on a substitute, while the owner, back, stores the delete and votes.
    The grace period outlasts the hint: replayed onto the tombstone, the value is
    superseded. Reaped on the votes alone (a grace of one tick, the negative control),
    the tombstone is gone when the hint arrives, and the deleted value comes back;
    property 7's check says so. The memory of reaps is off, so that the grace period is
    the only defence. (The reaper checks the grace itself before it asks for votes, so a
    rule without it would change nothing: the grace is set here instead.)"""
    cluster = Cluster(
        4,
        seed=3,
        config=NodeConfig(),
        q=16,
        network=NetworkConfig(delay_ticks_min=1, delay_ticks_max=3),
        membership="gossip",
        member_config=MemberConfig(tombstone_grace_ticks=grace_ticks, reaped_memory_keys_max=0),
    )
    cluster.run(until=200)
    key = next(
        k for k in (b"k%d" % i for i in range(100)) if "n4" not in cluster.ring.preference_list(k)
    )
    owners = cluster.ring.preference_list(key)
    cluster.crash(owners[2])
    cluster.run(until=cluster.now + 100)
    put = _request(cluster, owners[0], PutRequest(key, b"socks", ()))
    assert isinstance(put, PutResult) and put.ok and put.version is not None
    assert cluster.hints_pending() == 1  # on n4, for owners[2]
    cluster.block("n4", owners[2])  # the hint waits
    cluster.restart(owners[2])
    cluster.run(until=cluster.now + 100)
    delete = _request(cluster, owners[0], PutRequest(key, None, context_of((put.version,)), w=3))
    assert isinstance(delete, PutResult) and delete.ok
    cluster.run(until=cluster.now + 400)  # a few reaping rounds, well within the grace
    assert bool(cluster.reaped.get(key)) == (grace_ticks < 400)
    cluster.heal()
    cluster.run(until=cluster.now + 3000)
    assert cluster.hints_pending() == 0
    history = History(reaping=True)
    _check_no_deleted_value_returns(cluster, history)
    if grace_ticks > 400:
        assert history.violations == []
        assert set(cluster.holders(key).values()) == {()}  # reaped once the grace passed
    else:
        assert any(v.startswith("property 7: owner") for v in history.violations)


@pytest.mark.slow
def test_slow_sweep_with_reaping_every_fault() -> None:
    failing = []
    reaped = 0
    for seed in range(100, 124):
        report, _, _ = simulate(seed, SimConfig(ops=2000, tombstone_grace_ticks=GRACE_TICKS))
        reaped += report.tombstones_reaped
        if report.violations:
            failing.append((seed, report.violations[:3]))
    assert failing == [], f"replay: dynamokv sim --seed SEED --reap-grace {GRACE_TICKS}"
    assert reaped > 0
