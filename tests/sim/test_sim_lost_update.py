"""The lost-update check: a version superseded by writes that never saw it is lost,
even though a covering clock makes property 1 call it safe."""

from __future__ import annotations

import pytest
from dynamokv.impl.core import GetRequest, MemberConfig, NodeConfig, PutRequest, Result, Version
from dynamokv.impl.sim import Cluster, History, NetworkConfig, SimConfig, simulate
from dynamokv.impl.sim._checkers import OpRecord

V1 = Version(b"socks", ("n1", 4))
V2 = Version(b"shoes", ("n1", 9))
V3 = Version(b"shirt", ("n2", 1), (("n1", 9),))


def _write(value: bytes, version: Version | None, *, seen: tuple[Version, ...] = ()) -> OpRecord:
    record = OpRecord(0, "put", b"cart", "n1", 0, 2, value)
    record.ok = version is not None
    record.version = version
    record.end = 1
    record.seen = seen
    return record


def _check(records: list[OpRecord], held: tuple[Version, ...]) -> list[str]:
    history = History(records=records)
    history.check_no_lost_update(lambda key: held, lambda key: ())
    return history.violations


def test_a_version_superseded_by_a_writer_that_saw_it_is_not_lost() -> None:
    records = [_write(b"socks", V1), _write(b"shoes", V2, seen=(V1,))]
    records.append(_write(b"shirt", V3, seen=(V2,)))
    assert _check(records, (V3,)) == []


def test_a_version_a_covering_clock_claims_but_no_writer_saw_is_lost() -> None:
    """V2's clock covers V1 (n1's counter 9 is above 4), but V2's writer saw nothing and
    V3's writer saw only V2: nobody saw V1, whose items are gone."""
    records = [_write(b"socks", V1), _write(b"shoes", V2), _write(b"shirt", V3, seen=(V2,))]
    assert _check(records, (V3,)) == [
        "lost update: acknowledged ('n1', 4) of b'cart' (t=1) is superseded at rest by "
        "versions whose writers never saw it"
    ]
    assert _check(records, (V3, V1)) == []  # still held: a sibling, not a loss


def test_a_write_whose_answer_was_lost_is_placed_by_its_value() -> None:
    """V3's put never answered (or was coordinated twice, under another dot): the check
    finds it by its value, with what its writer saw, and still sees V1 lost."""
    records = [_write(b"socks", V1), _write(b"shoes", V2), _write(b"shirt", None, seen=(V2,))]
    assert len(_check(records, (V3,))) == 1
    twin = Version(b"socks", ("n3", 2))  # the same request, coordinated a second time
    assert _check([*records, _write(b"socks", twin)], (V3, twin)) == []


def test_a_tombstone_no_single_delete_places_is_judged_by_its_clock() -> None:
    """Two deletes sent the same context, so the tombstone cannot be told to be either's:
    its history is what its clock claims, n1's dots up to 9. Lenient, so that the check
    never reports a loss that may not have happened."""
    tombstone = Version(None, ("n1", 9))
    after = Version(b"shirt", ("n2", 1), (("n1", 9),))
    deletes = [_write(b"", None), _write(b"", None)]
    for delete in deletes:
        delete.kind, delete.value = "delete", None
    records = [_write(b"socks", V1), *deletes, _write(b"shirt", after, seen=(tombstone,))]
    assert _check(records, (after,)) == []
    records.remove(deletes[1])  # one delete places it: it saw nothing, so V1 is lost
    assert len(_check(records, (after,))) == 1


def test_a_sweep_whose_coordinators_ship_only_the_new_version_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check as the simulator runs it, against a planted bug property 1 cannot see:
    a coordinator that sends its replicas only the new version, not its own earlier
    siblings. A replica that holds the new version alone then answers a get with a
    context that covers a sibling the client never saw, and the next put with it
    supersedes that sibling: every version is covered, and updates are lost."""
    from dynamokv.impl.core import _requests

    monkeypatch.setattr(_requests, "_to_ship", lambda merged, version: (version,))
    violations = [v for seed in range(1, 9) for v in simulate(seed, SimConfig())[0].violations]
    assert not any(v.startswith("property 1") for v in violations)
    assert any(v.startswith("lost update") for v in violations)


def _request(cluster: Cluster, node: str, request: GetRequest | PutRequest) -> Result:
    result = cluster.request(node, request)
    assert result is not None, "no answer"
    return result


def test_a_node_that_owns_a_partition_again_before_its_handoff_back_can_lose_an_update() -> None:
    """The known limit of the joining-and-leaving page, reproduced and caught. A join
    takes a partition from an owner, which hands it off and drops it; a leave gives it
    back. Before the handoff back (here never: the leaving node cannot reach it, and
    anti-entropy is off), the owner coordinates a blind put under a counter above that
    of its own earlier version of the key, a get served by it alone returns only the new
    version, and a put with that get's context supersedes the earlier version, which no
    client saw. Property 1 finds it covered; the lost-update check does not."""
    cluster = Cluster(
        4,
        seed=3,
        config=NodeConfig(),
        q=16,
        network=NetworkConfig(delay_ticks_min=1, delay_ticks_max=3),
        membership="gossip",
        spares=1,
        member_config=MemberConfig(anti_entropy_enabled=False),
    )
    cluster.run(until=200)
    before = cluster.ring
    keys = [b"k%d" % index for index in range(60)]
    records: list[OpRecord] = []
    first: dict[tuple[bytes, str], Version] = {}
    for key in keys:
        for owner in before.preference_list(key):  # one version coordinated by each owner
            put = _request(cluster, owner, PutRequest(key, b"v1 %s %s" % (key, owner.encode())))
            assert put.ok and put.version is not None  # type: ignore[union-attr]
            first[(key, owner)] = put.version  # type: ignore[union-attr]
            records.append(_write(put.version.value or b"", put.version))  # type: ignore[union-attr]
            records[-1].key = key
    cluster.restart("n5")
    cluster.run(until=cluster.now + 100)
    assert cluster.join("n5", via="n1")
    cluster.run(until=cluster.now + 7000)  # the join's handoff completes
    joined = cluster.ring
    for other in ("n1", "n2", "n3", "n4"):
        cluster.block("n5", other)
    assert cluster.leave("n5", via="n1")
    cluster.run(until=cluster.now + 30)
    final = cluster.ring
    key, former = next(
        (key, owner)
        for key in keys
        for owner in before.preference_list(key)
        if owner not in joined.preference_list(key) and owner in final.preference_list(key)
    )
    for other in ("n1", "n2", "n3", "n4"):
        if other != former:
            cluster.blocked.discard(("n5", other))  # every other handoff goes ahead
    cluster.run(until=cluster.now + 100)
    assert cluster.disks[former].synced_versions(key) == ()  # it owns the key, holding none
    blind = _request(cluster, former, PutRequest(key, b"blind"))
    assert blind.ok
    records.append(_write(b"blind", blind.version))  # type: ignore[union-attr]
    get = _request(cluster, former, GetRequest(key, r=1))
    assert get.ok and [v.value for v in get.versions] == [b"blind"]  # type: ignore[union-attr]
    after = _request(cluster, former, PutRequest(key, b"after", get.context))  # type: ignore[union-attr]
    assert after.ok
    records.append(_write(b"after", after.version, seen=get.versions))  # type: ignore[union-attr]
    for record in records[-2:]:
        record.key = key
    cluster.heal()
    cluster.run(until=cluster.now + 5000)
    held = {v.dot: v for versions in cluster.holders(key).values() for v in versions}
    lost = first[(key, former)]
    assert lost.dot not in held
    assert cluster.covered(key, tuple(held.values()), lost)  # property 1's view: safe
    history = History(records=[r for r in records if r.key == key])
    history.check_no_lost_update(lambda _: tuple(held.values()), lambda _: ())
    assert history.violations == [
        f"lost update: acknowledged {lost.dot} of {key!r} (t=1) is superseded at rest by "
        "versions whose writers never saw it"
    ]
