"""A leave completes however it races (Dynamo §4.8.1): with a join issued at once, with a
restart of the node that served it, with a restart of the leaving node.

A leave makes a new ring without the node; the node hands its data off and marks itself
``left``. Rings made at once by two nodes have one version, and the tie goes to one of
them: the one that lost the leave must not leave the node ``left`` inside the ring, nor a
restart make the others believe nobody is leaving (their reapers would forget tombstones
while the leaving node still holds the values they deleted).
"""

from __future__ import annotations

import pytest
from dynamokv.impl.core import (
    GetRequest,
    MemberConfig,
    Message,
    PutRequest,
    ReadRepair,
    Receive,
    TransferAck,
    Version,
    WriteRequest,
)
from dynamokv.impl.sim import Cluster, SimConfig, simulate
from dynamokv.impl.sim._simulate import DEFAULT_FAULTS


def _statuses(cluster: Cluster, node_id: str) -> set[str]:
    """How the live nodes see ``node_id``."""
    statuses = set()
    for node in cluster.nodes.values():
        if node is not None:
            entry = node.gossip.entry(node_id)  # type: ignore[union-attr]
            statuses.add(entry.status if entry is not None else "unknown")
    return statuses


def _cut(cluster: Cluster, node_id: str, others: tuple[str, ...]) -> None:
    for other in others:
        cluster.block(node_id, other)
        cluster.block(other, node_id)


@pytest.mark.parametrize("slow_link", [False, True])
def test_a_leave_that_loses_a_tie_to_a_join_is_issued_again(slow_link: bool) -> None:
    """leave(n4) through n1 and join(n5) through n2 at one tick make two rings of one
    version; n2's wins the tie. n4 may have handed off and marked itself left under n1's
    ring first: the leave is issued again, and n4 ends outside the ring."""
    for seed in range(1, 11):
        cluster = Cluster(4, seed=seed, membership="gossip", q=64, spares=1)
        cluster.restart("n5")
        cluster.run(until=400)
        if slow_link:
            _cut(cluster, "n2", ("n1", "n3", "n4"))
        assert cluster.leave("n4", via="n1") and cluster.join("n5", via="n2")
        if slow_link:
            cluster.run(until=500)
            cluster.heal()
        cluster.run(until=3000)
        for node in cluster.nodes.values():
            assert node is not None
            assert "n4" not in node.ring_state.nodes(), (seed, node.node_id)
            assert "n5" in node.ring_state.nodes(), (seed, node.node_id)
        assert _statuses(cluster, "n4") == {"left"}, seed


def test_a_leave_is_completed_after_the_node_that_served_it_restarts() -> None:
    """The node that served the leave restarts (forgetting what it watched) before the
    rival ring that lacks the leave reaches it: the leaving node, back in that ring while
    told to leave, issues its leave itself."""
    member_config = MemberConfig(tombstone_grace_ticks=300)
    cluster = Cluster(4, seed=1, membership="gossip", q=64, spares=1, member_config=member_config)
    cluster.restart("n5")
    cluster.run(until=400)
    _cut(cluster, "n2", ("n1", "n3", "n4"))
    assert cluster.leave("n4", via="n1") and cluster.join("n5", via="n2")
    while _statuses(cluster, "n4") != {"leaving"} and cluster.now < 2000:
        cluster.run(until=cluster.now + 1)
    cluster.crash("n1")
    cluster.restart("n1")
    cluster.heal()
    cluster.run(until=cluster.now + 3000)
    for node in cluster.nodes.values():
        assert node is not None and "n4" not in node.ring_state.nodes(), node
    assert _statuses(cluster, "n4") == {"left"}


def test_a_leaving_node_that_restarts_goes_on_leaving_and_the_others_see_it() -> None:
    """n4 is out of the ring with data still to hand off when it crashes; its new life
    starts as ``leaving`` (not ``joining``), so every node still sees a member leaving,
    and n4 marks itself left once its handoff completes."""
    cluster = Cluster(4, seed=1, membership="gossip", q=64)
    cluster.run(until=400)
    for index in range(200):
        cluster.submit("n1", PutRequest(b"k%d" % index, b"v"), lambda result: None)
    cluster.run(until=600)
    assert cluster.leave("n4", via="n1")
    n4 = cluster.nodes["n4"]
    while n4 is not None and "n4" in n4.ring_state.nodes():
        cluster.run(until=cluster.now + 1)
    _cut(cluster, "n4", ("n1", "n2", "n3"))
    cluster.run(until=cluster.now + 20)
    cluster.crash("n4")
    cluster.restart("n4")
    restarted = cluster.nodes["n4"]
    assert restarted is not None and restarted.holds_data_it_does_not_own()
    assert restarted.gossip.self_entry.status == "leaving"  # type: ignore[union-attr]
    cluster.heal()
    views: dict[str, str] = {}
    while len(views) < 3 and cluster.now < 5000:
        cluster.run(until=cluster.now + 1)
        for name in ("n1", "n2", "n3"):
            node = cluster.nodes[name]
            entry = None if node is None else node.gossip.entry("n4")  # type: ignore[union-attr]
            if name not in views and entry is not None and entry.generation == 2:
                views[name] = entry.status  # as the new life first reaches each node
    assert views == dict.fromkeys(("n1", "n2", "n3"), "leaving")
    cluster.run(until=cluster.now + 3000)
    assert _statuses(cluster, "n4") == {"left"}
    assert not restarted.holds_data_it_does_not_own()


def test_deleted_values_a_restarted_leaving_node_holds_stay_deleted() -> None:
    """End to end: n4, leaving and cut off with copies of keys the others then delete,
    restarts and is cut off again. The others must keep the tombstones (a member is
    leaving with data to hand off), so that when n4 hands its copies off at last, the
    deletes still win."""
    member_config = MemberConfig(tombstone_grace_ticks=300)
    cluster = Cluster(4, seed=1, membership="gossip", q=64, member_config=member_config)
    cluster.run(until=400)
    keys = [b"k%d" % index for index in range(100)]
    for key in keys:
        cluster.submit("n1", PutRequest(key, b"old"), lambda result: None)
    cluster.run(until=700)
    assert cluster.leave("n4", via="n1")
    n4 = cluster.nodes["n4"]
    while n4 is not None and "n4" in n4.ring_state.nodes():
        cluster.run(until=cluster.now + 1)
    others = ("n1", "n2", "n3")
    _cut(cluster, "n4", others)
    held = [key for key in keys if n4 is not None and n4.stored_versions(key)]
    assert held

    def delete(key: bytes) -> None:
        cluster.submit(
            "n1",
            GetRequest(key),
            lambda read: cluster.submit("n1", PutRequest(key, None, read.context), lambda _: None),  # type: ignore[union-attr]
        )

    for key in held:
        delete(key)
    cluster.run(until=cluster.now + 100)
    cluster.crash("n4")
    cluster.restart("n4")
    restarted_at = cluster.now
    cluster.run(until=restarted_at + 10)
    cluster.heal()
    cluster.run(until=restarted_at + 80)
    _cut(cluster, "n4", others)  # cut off again before its first sweep hands anything off
    cluster.run(until=restarted_at + 2500)
    cluster.heal()
    cluster.run(until=restarted_at + 4500)
    readable = []
    for key in held:
        got: list[object] = []
        cluster.submit("n1", GetRequest(key), got.append)
        cluster.run(until=cluster.now + 60)
        assert got and got[0].ok  # type: ignore[attr-defined]
        if any(version.value is not None for version in got[0].versions):  # type: ignore[attr-defined]
            readable.append(key)
    assert readable == []
    assert cluster.violations == []


def test_a_leaving_node_lets_go_of_a_key_written_all_through_its_handoff() -> None:
    """A new owner answers a batch holding an older copy of a key with its own newer one
    (so that a former owner never keeps a deleted value). A key written all the time then
    changed at the former owner with every answer, was never unchanged since the ack, and
    the node never let it go, nor left, and no tombstone was reaped anywhere meanwhile.
    The answer of a target counts as the target holding it: the key goes, the node leaves."""
    cluster = Cluster(4, seed=2, membership="gossip", q=16)
    cluster.run(until=300)
    key = b"hot"
    leaver = cluster.ring.preference_list(key)[0]
    via = next(name for name in cluster.initial if name != leaver)
    context: tuple[tuple[str, int], ...] = ()

    def write(result: object) -> None:
        nonlocal context
        version = getattr(result, "version", None)
        if version is not None:
            context = tuple(
                sorted({**dict(version.context), version.dot[0]: version.dot[1]}.items())
            )

    for tick in range(300, 2_500, 2):  # written until the end
        cluster.submit(via, PutRequest(key, b"v%d" % tick, context), write)
        cluster.run(until=tick + 2)
        if tick == 400:
            assert cluster.leave(leaver, via=via)
    assert _statuses(cluster, leaver) == {"left"}


def test_a_write_that_reached_the_former_owner_after_its_batch_keeps_the_key_there() -> None:
    """The new owner's answer to a batch counts as acknowledged only if it is all the
    former owner holds of the key: a write of the old ring that reached the former owner
    after the batch left (and that the new owner never saw) keeps the key there when the
    transfer ends, to be handed off again."""
    cluster = Cluster(4, seed=1, membership="gossip", q=16)
    cluster.run(until=300)
    key = b"k"
    former, coordinator, other = cluster.ring.preference_list(key)
    (target,) = [name for name in cluster.initial if name not in (former, coordinator, other)]
    written: list[object] = []
    cluster.submit(coordinator, PutRequest(key, b"v1"), written.append)
    cluster.run(until=400)
    first = written[0].version  # type: ignore[attr-defined]
    _cut(cluster, former, (target,))  # the batches and their answers are played by hand
    assert cluster.leave(former, via=coordinator)
    node = cluster.nodes[former]
    assert node is not None
    while not node.transfers._transfers:
        cluster.run(until=cluster.now + 1)
    (transfer,) = node.transfers._transfers.values()

    def deliver(message: Message) -> None:
        assert node is not None
        cluster._carry(former, node, node.step(Receive(message), cluster.now))
        cluster.run(until=cluster.now + 3)

    late = Version(b"late", (other, 10**6), ())
    deliver(WriteRequest(other, former, 12345, key, (late,)))
    seen = tuple(sorted({**dict(first.context), first.dot[0]: first.dot[1]}.items()))
    deliver(ReadRepair(target, former, key, (Version(b"v2", (target, 10**6), seen),)))
    deliver(TransferAck(target, former, transfer.transfer_id, transfer.batch_id))
    cluster.run(until=cluster.now + 5)
    assert transfer.transfer_id not in node.transfers._transfers
    assert late in node.stored_versions(key)


def test_a_former_owner_keeps_a_write_it_acknowledged_until_every_new_owner_holds_it() -> None:
    """A former owner still on a coordinator's old ring stores a delete and acknowledges
    it: its copy is one of the W. One new owner answers its batch with the tombstone, the
    other acked the older batch without it. Taking the one answer for all of them, the
    former owner dropped the key when the transfer ended, and the acknowledged delete was
    left on one durable replica, fewer than W (property 1, found with four hot keys, twelve
    clients and twelve joins and leaves). Every target must hold what it holds."""
    config = SimConfig(
        ops=1000, keys=4, clients=12, churn_events_max=12, faults=(*DEFAULT_FAULTS, "churn")
    )
    report, _, _ = simulate(16, config)
    assert report.violations == []
    assert report.keys_transferred > 0
