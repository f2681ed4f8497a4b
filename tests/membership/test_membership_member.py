"""Gossip-mode nodes (:class:`dynamokv.impl.core.Node`) in small gossip clusters.

One test per claim: suspicion feeds the coordinator's health and lifts with a hint
replay; explicit join and leave move only the partitions that change owner, to
their new owners, old owners serving until the handoff completes; Merkle trees
follow every write; anti-entropy repairs by merging; a restart rejoins with the
persisted ring and a new generation.
"""

from __future__ import annotations

from typing import Any

import pytest
from dynamokv.impl.core import (
    Effect,
    Event,
    GetRequest,
    GetResult,
    LocalStore,
    MemberConfig,
    MemberStats,
    MerklePacket,
    MerkleTracking,
    MerkleTrees,
    Message,
    Node,
    NodeConfig,
    Outbox,
    PartitionMerkleTree,
    PartitionRing,
    PartitionTransfers,
    PutRequest,
    PutResult,
    Receive,
    RingState,
    RootsReply,
    RootsRequest,
    Tick,
    TransferAck,
    TransferBatch,
    Version,
    value_hash,
)
from dynamokv.impl.sim import Cluster, NetworkConfig, SimDisk
from dynamokv.impl.sim._measurements import movement
from dynamokv.impl.sim._presets import measure_q1, measure_q4
from membership_helpers import Q, gossip_cluster, live, request, settled, write_keys


def test_phi_suspicion_feeds_the_coordinators_health_view() -> None:
    """ "A node outage rarely signifies a permanent departure": the detector only
    suspects, the ring stays, and the coordinator routes around the suspect.

    Reference: Dynamo §4.8.1
    """
    cluster = gossip_cluster()
    ring = cluster.ring
    cluster.crash("n3")
    cluster.run(until=cluster.now + 150)
    n1 = cluster.nodes["n1"]
    assert isinstance(n1, Node) and n1.gossip_mode
    assert "n3" in n1.health.suspected()
    assert not n1.health.is_healthy("n3", cluster.now)
    assert cluster.ring is ring and "n3" in ring.nodes()  # suspicion never changes the ring


def test_hints_replay_when_the_owner_stops_being_suspected() -> None:
    """ "Once the transfer succeeds, D may delete the object from its local store"; the
    replay starts when the failure detector stops suspecting the owner.

    Reference: Dynamo §4.6
    """
    cluster = gossip_cluster()
    cluster.crash("n3")
    cluster.run(until=cluster.now + 150)
    keys = [k for k in (b"h%03d" % i for i in range(60)) if "n3" in cluster.ring.preference_list(k)]
    for key in keys[:10]:
        result = request(cluster, "n1", PutRequest(key, b"v"))
        assert isinstance(result, PutResult) and result.ok
    assert cluster.hints_pending() > 0
    cluster.restart("n3")
    cluster.run(until=cluster.now + 200)
    assert cluster.hints_pending() == 0
    assert cluster.member_stats().peers_recovered >= 1
    for key in keys[:10]:
        assert cluster.disks["n3"].synced_versions(key)


def test_join_moves_only_partitions_that_change_owner_to_the_new_node() -> None:
    """ "When a node is added ... it gets assigned a number of tokens ... the nodes that
    were responsible for the key ranges transfer the data to the new node."

    Reference: Dynamo §4.8.1
    """
    cluster = gossip_cluster(spares=1)
    keys = write_keys(cluster, 120)
    before = cluster.ring
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    assert cluster.join("n6", via="n1")
    settled(cluster)
    after = cluster.ring
    assert "n6" in after.nodes()
    assert all(len(set(cluster.holders(k).values())) == 1 for k in keys)
    for key in keys:
        held_by = {n for n in cluster.names if cluster.disks[n].synced_versions(key)}
        assert held_by == set(after.preference_list(key))  # old owners dropped theirs
    moved = movement(before.assignment, after.assignment, n=3)
    assert {(p, node) for _, p, node in cluster.transfer_sends} <= set(moved.copies_received)
    assert cluster.transfer_sends


def test_each_node_counts_each_ring_version_it_adopts_once() -> None:
    """A join makes one new ring version; once every member holds it, each (its issuer
    too) has counted exactly one more adoption in its member stats.

    Reference: Dynamo §4.8.1
    """
    cluster = gossip_cluster(spares=1)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    before = {node.node_id: node.stats_member.rings_adopted for node in live(cluster)}
    (version,) = {node.ring_state.version for node in live(cluster)}
    assert before["n6"] == 1  # n6 adopted the ring it found on starting
    assert cluster.join("n6", via="n1")
    limit = cluster.now + 4000
    while {node.ring_state.version for node in live(cluster)} != {version + 1}:
        assert cluster.now < limit, "the new ring did not reach every member"
        cluster.run(until=cluster.now + 20)
    for node in live(cluster):
        assert node.stats_member.rings_adopted == before[node.node_id] + 1, node.node_id


def test_the_old_owner_keeps_serving_until_the_handoff_completes() -> None:
    """A transfer runs in bounded batches; the old owner keeps the data until every
    batch is durable at the new owner, then drops exactly what was acknowledged.

    Reference: Dynamo §4.8.1
    """
    cluster = gossip_cluster(spares=1, transfer_batch_keys_max=2, transfer_retry_ticks=400)
    keys = write_keys(cluster, 60)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    cluster.block("n6", "n1")
    cluster.block("n6", "n2")
    cluster.block("n6", "n3")
    cluster.block("n6", "n4")
    cluster.block("n6", "n5")
    assert cluster.join("n6", via="n1")
    cluster.run(until=cluster.now + 100)  # acks are lost: no batch completes
    for key in keys:
        owners = [n for n in cluster.names if cluster.disks[n].synced_versions(key)]
        assert len(owners) >= 3  # nothing was dropped before its ack
    cluster.heal()
    settled(cluster)
    assert all(len(set(cluster.holders(k).values())) == 1 for k in keys)


def test_leave_hands_every_partition_off_and_marks_the_node_left() -> None:
    """Removing a node: its key ranges go to the remaining nodes, then it is ``left``.

    Reference: Dynamo §4.8.1
    """
    cluster = gossip_cluster()
    keys = write_keys(cluster, 80)
    assert cluster.leave("n2", via="n4")
    settled(cluster)
    cluster.run(until=cluster.now + 100)
    assert "n2" not in cluster.ring.nodes()
    assert cluster.status_of("n2") == "left"
    assert not any(cluster.disks["n2"].synced_versions(k) for k in keys)
    for key in keys:
        assert len(set(cluster.holders(key).values())) == 1


def test_merkle_trees_follow_every_write() -> None:
    """ "Each node maintains a separate Merkle tree for each key range": updated on
    every write, equal to a tree built from the stored data.

    Reference: Dynamo §4.7
    """
    cluster = gossip_cluster()
    keys = write_keys(cluster, 40)
    for node in live(cluster):
        for partition, tree in node.trees.by_partition.items():
            fresh = PartitionMerkleTree(partition, partition_count=Q, depth=tree.depth)
            for key in keys:
                versions = node.storage.read_versions(key)
                if versions and node._partition_of(key) == partition:
                    fresh.put(key, value_hash(versions))
            tree.check()
            assert fresh.root() == tree.root()


def test_anti_entropy_repairs_a_replica_that_missed_writes_by_merging() -> None:
    """Replicas compare trees and "transfer only the keys under differing leaves"; the
    receiver merges by vector clock, never overwrites.

    Reference: Dynamo §4.7
    """
    cluster = gossip_cluster(recovery_grace_ticks=0)
    keys = write_keys(cluster, 40)
    # Wipe one replica's copy of a few keys behind the node's back (lost writes).
    victim = "n2"
    lost = [k for k in keys if victim in cluster.ring.preference_list(k)][:5]
    node = cluster.nodes[victim]
    assert isinstance(node, Node) and node.gossip_mode
    cluster.crash(victim)
    cluster.disks[victim].lose_versions(lost)
    cluster.restart(victim)
    cluster.run(until=cluster.now + 1500)
    for key in lost:
        assert len(set(cluster.holders(key).values())) == 1
    assert cluster.member_stats().keys_repair_applied >= len(lost)


def test_a_restart_rejoins_with_the_persisted_ring_and_a_new_generation() -> None:
    """The generation and the ring are durable, so a restarted node does not fall back
    to the bootstrap ring and never reuses a generation.

    Reference: Dynamo §4.8
    """
    cluster = gossip_cluster(spares=1)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    assert cluster.join("n6", via="n1")
    cluster.run(until=cluster.now + 300)
    node = cluster.nodes["n4"]
    assert isinstance(node, Node) and node.gossip_mode
    generation, version = node.generation, node.ring_state.version
    cluster.crash("n4")
    cluster.restart("n4")
    again = cluster.nodes["n4"]
    assert isinstance(again, Node) and again.gossip_mode
    assert again.generation == generation + 1
    assert again.ring_state.version == version >= 2
    assert again.gossip.self_entry.status == "normal"


def test_client_requests_wait_for_a_ring() -> None:
    cluster = gossip_cluster(spares=1)
    cluster.restart("n6")
    result = request(cluster, "n6", GetRequest(b"x"))
    assert isinstance(result, GetResult) and not result.ok and "ring" in result.error


def test_q1_adding_an_11th_node_moves_one_eleventh_of_the_copies() -> None:
    """Q1, measured: replica copies moved by transfers ≈ 1/11, only to the newcomer.

    Reference: Dynamo §6.2 (strategy 3), §4.8.1
    """
    m = measure_q1(keys=4000)
    assert abs(m.copies_moved_fraction - 1 / 11) < 0.015
    assert m.copies_to_others == 0
    assert m.coordinators_changed_fraction < 0.12


@pytest.mark.slow
def test_q1_full_measurement_is_within_half_a_point() -> None:
    m = measure_q1()
    assert abs(m.copies_moved_fraction - 1 / 11) < 0.005


def test_q4_hints_replay_then_merkle_repairs_the_rest() -> None:
    """Q4 (shortened to 20 simulated minutes): hints dropped at the bound and lost with a
    substitute are repaired by anti-entropy; afterwards every replica is identical.

    Reference: Dynamo §4.6, §4.7
    """
    m = measure_q4(down_ticks=12_000, write_interval_ticks=20, hints_count_max=50)
    assert m.identical
    assert m.hints_refused > 0 and m.hints_lost > 0
    assert m.hints_replayed > 0 and m.keys_repaired > 0


@pytest.mark.slow
def test_q4_preset_three_hours() -> None:
    m = measure_q4()
    assert m.identical and m.keys_repaired > 0 and m.hints_replayed > 0


def test_a_roots_request_is_compared_only_within_its_bounds() -> None:
    """A peer's roots message is judged before any tree is read (every message has a
    named bound): as many partitions as ``roots_per_message_max`` allows are compared,
    one more is refused with ``ok`` False and nothing listed as differing."""
    bound = 4
    cluster = gossip_cluster(roots_per_message_max=bound)
    node = cluster.nodes["n2"]
    depth = MemberConfig().merkle_depth

    def reply(count: int) -> RootsReply:
        partitions = tuple(range(count))
        request = RootsRequest("n1", "n2", 9_000 + count, depth, partitions, (b"?",) * count)
        sent = [e for e in node.step(Receive(request), cluster.now) if isinstance(e, Message)]
        (answer,) = [m for m in sent if isinstance(m, RootsReply)]
        return answer

    assert reply(bound - 1).ok and reply(bound).ok
    refused = reply(bound + 1)
    assert not refused.ok and refused.differing == ()


def test_a_roots_reply_counts_only_from_the_peer_asked() -> None:
    """A roots round is answered by the peer it was sent to: a reply carrying the
    round's id from any other node (whatever its name sorts as) starts no exchange,
    while the asked peer's reply with the same differing partition starts one."""

    def answered_by(impostor: int | None) -> list[tuple[str, type]]:
        cluster = gossip_cluster()
        node = cluster.nodes["n3"]
        now = cluster.now
        for _ in range(2_000):
            now += 1
            sent = [e for e in node.step(Tick(), now) if isinstance(e, Message)]
            asked = [m for m in sent if isinstance(m, RootsRequest)]
            if asked:
                break
        else:
            raise AssertionError("n3 started no roots round")
        peer = asked[0].dst
        others = sorted(n for n in cluster.names if n not in (peer, "n3"))
        assert others[0] < peer < others[-1]  # impostors on either side of it
        src = peer if impostor is None else others[impostor]
        differing = cluster.ring.shared_partitions("n3")[peer][:1]
        reply = RootsReply(src, "n3", asked[0].round_id, differing)
        effects = node.step(Receive(reply), now + 1)
        return [(e.dst, type(e)) for e in effects if isinstance(e, Message)]

    genuine = answered_by(None)
    assert genuine and all(kind is MerklePacket for _, kind in genuine)
    assert answered_by(0) == []  # a node whose name sorts first
    assert answered_by(-1) == []  # and one that sorts last


def test_a_roots_reply_within_the_exchange_timeout_counts_after_the_next_round_was_due() -> None:
    """A roots round waits for its reply ``exchange_timeout_ticks`` (100 by default), longer
    than the interval between rounds (40): a reply coming after the next round was due,
    and skipped because this one was still waiting, still starts the exchange."""
    config = MemberConfig()
    assert config.anti_entropy_interval_ticks < config.anti_entropy.exchange_timeout_ticks
    cluster = gossip_cluster()
    node = cluster.nodes["n3"]
    assert node is not None
    now = cluster.now
    for _ in range(2_000):
        now += 1
        asked = [e for e in node.step(Tick(), now) if isinstance(e, RootsRequest)]
        if asked:
            break
    else:
        raise AssertionError("n3 started no roots round")
    sent_at = now
    while now < sent_at + config.anti_entropy_interval_ticks + 1:  # the next round falls due
        now += 1
        assert not [e for e in node.step(Tick(), now) if isinstance(e, RootsRequest)]
    peer = asked[0].dst
    differing = cluster.ring.shared_partitions("n3")[peer][:1]
    effects = node.step(Receive(RootsReply(peer, "n3", asked[0].round_id, differing)), now)
    exchanges = [e for e in effects if isinstance(e, MerklePacket)]
    assert exchanges and {e.dst for e in exchanges} == {peer}


def test_transfers_running_count_as_in_flight_with_nothing_queued() -> None:
    """With room for every transfer at once nothing waits in the queue: the transfers a
    node has started and not finished are all in flight, from the first tick of the
    handoff a join starts."""
    cluster = gossip_cluster(spares=1, transfers_in_flight_max=Q)
    write_keys(cluster, 60)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    assert cluster.join("n6", via="n1")
    limit = cluster.now + 2_000
    while cluster.now < limit:
        cluster.run(until=cluster.now + 1)
        started = [n for n in live(cluster) if n.stats_member.transfers_started]
        if started:
            break
    else:
        raise AssertionError("the join started no transfer")
    for node in started:
        stats = node.stats_member
        assert node.transfers_in_flight == stats.transfers_started - stats.transfers_completed > 0


OLD_RING = PartitionRing.balanced(["n1", "n2"], n=2, q=8)
NEW_RING = PartitionRing.balanced(["n2", "n3"], n=2, q=8)
OLD_STATE = RingState(1, "n1", OLD_RING.assignment)
NEW_STATE = RingState(2, "n2", NEW_RING.assignment)


def _node_holding(
    keys: int, *, partitions: int = 1, **member: object
) -> tuple[PartitionTransfers, Outbox, list[bytes]]:
    """A node ``n1`` of ``OLD_RING`` holding ``keys`` keys of each of the first
    ``partitions`` partitions, its transfers made at tick 0 and its outbox in a step."""
    out = Outbox()
    trees = MerkleTrees(partition_count=8, depth=2, partition_of=OLD_RING.partition_of)
    store = MerkleTracking(LocalStore(SimDisk(), out), trees)
    candidates = sorted(b"t%04d" % i for i in range(10_000))
    held = [
        key
        for partition in range(partitions)
        for key in [k for k in candidates if OLD_RING.partition_of(k) == partition][:keys]
    ]
    for key in held:  # one step: the store's reads see these writes
        store.write(key, (Version(b"v", ("n1", 1), ()),))
    transfers = PartitionTransfers(
        "n1",
        config=MemberConfig(**member),  # type: ignore[arg-type]
        trees=trees,
        store=store,
        out=out,
        stats=MemberStats(),
        now=0,
    )
    out.begin()
    return transfers, out, held


def _leaving_node(
    keys: int, *, partitions: int = 1, **member: object
) -> tuple[PartitionTransfers, Outbox, list[bytes]]:
    """A node ``n1`` holding ``keys`` keys of each of the first ``partitions`` partitions,
    which a new ring hands to ``n3``."""
    transfers, out, held = _node_holding(keys, partitions=partitions, **member)
    transfers.on_ring_adopted(OLD_RING, NEW_RING, OLD_STATE, NEW_STATE, now=1)
    return transfers, out, held


def _batches_sent(out: Outbox) -> list[TransferBatch]:
    """The batches sent since the last call (which starts a fresh step)."""
    sent = [effect for effect in out.effects if isinstance(effect, Message)]
    out.begin()
    return [message for message in sent if isinstance(message, TransferBatch)]


def _acknowledge(transfers: PartitionTransfers, batches: list[TransferBatch], now: int) -> None:
    for batch in batches:
        ack = TransferAck(batch.dst, "n1", batch.transfer_id, batch.batch_id)
        transfers.on_ack(ack, NEW_RING, NEW_STATE, now)


def test_a_transfer_sends_each_key_once_in_key_order() -> None:
    """The old owner streams a snapshot of the partition, batch after acknowledged batch:
    every key it holds, each exactly once, in key order.

    Reference: Dynamo §4.8.1
    """
    transfers, out, held = _leaving_node(7, transfer_batch_keys_max=3)
    sent: list[bytes] = []
    batches = _batches_sent(out)
    while batches:
        assert [batch.dst for batch in batches] == ["n3"]  # only the node that entered
        sent += [key for key, _ in batches[0].items]
        _acknowledge(transfers, batches, now=2)
        batches = _batches_sent(out)
    assert sent == held


def test_a_partition_handed_off_counts_one_transfer_started_and_one_completed() -> None:
    """``transfers_started`` and ``transfers_completed`` (exported as counters) count
    partitions, not batches: a partition of seven keys sent in three batches is one
    transfer, started when the ring moved it and completed at its last acknowledgement.

    Reference: Dynamo §4.8.1
    """
    transfers, out, _held = _leaving_node(7, transfer_batch_keys_max=3)
    stats = transfers.stats
    assert (stats.transfers_started, stats.transfers_completed) == (1, 0)
    batches = _batches_sent(out)
    while batches:
        _acknowledge(transfers, batches, now=2)
        batches = _batches_sent(out)
    assert (stats.transfers_started, stats.transfers_completed) == (1, 1)


def test_a_late_ack_of_an_earlier_batch_does_not_acknowledge_the_current_one() -> None:
    """An acknowledgement is for one batch: the first batch's ack arriving again (its
    retry was acknowledged too) once the next batch is out says nothing about the next
    batch, which is still awaited and sent again after the retry period."""
    transfers, out, _held = _leaving_node(7, transfer_batch_keys_max=3)
    first = _batches_sent(out)
    _acknowledge(transfers, first, now=2)
    second = _batches_sent(out)
    assert [batch.batch_id for batch in second] == [first[0].batch_id + 1]
    _acknowledge(transfers, first, now=3)
    assert _batches_sent(out) == []
    transfers.retry(now=2 + MemberConfig().transfer_retry_ticks)
    assert _batches_sent(out) == second


def test_four_partitions_are_handed_off_at_once_by_default() -> None:
    """A node that leaves six partitions starts ``transfers_in_flight_max`` transfers (4
    by default) and the next one only when a transfer finishes."""
    transfers, out, _held = _leaving_node(2, partitions=6)
    batches = _batches_sent(out)
    assert MemberConfig().transfers_in_flight_max == 4
    assert sorted(batch.partition for batch in batches) == [0, 1, 2, 3]
    assert transfers.in_flight == 6
    _acknowledge(transfers, batches[:1], now=2)  # two keys: the first batch was the last
    assert [batch.partition for batch in _batches_sent(out)] == [4]


def test_a_key_written_after_its_batch_was_acknowledged_is_kept_when_the_transfer_ends() -> None:
    """The old owner drops exactly the keys whose version set is the one a target
    acknowledged: a key written again after its batch left stays (an orphan for the
    sweep), the others go.

    Reference: Dynamo §4.8.1
    """
    transfers, out, held = _leaving_node(4, transfer_batch_keys_max=2)
    first = _batches_sent(out)
    _acknowledge(transfers, first, now=2)
    rewritten = first[0].items[0][0]
    later = (Version(b"later", ("n1", 2), ()),)
    transfers.store.write(rewritten, later)
    _acknowledge(transfers, _batches_sent(out), now=3)
    assert _batches_sent(out) == [] and transfers.in_flight == 0
    assert {key: transfers.store.read(key) for key in held if transfers.store.read(key)} == {
        rewritten: later
    }


def test_a_key_deleted_or_given_a_sibling_after_its_batch_was_acknowledged_is_kept() -> None:
    """Any change to a key after its batch was acknowledged keeps it at the transfer's
    end, not only a newer value: a delete (a tombstone the target has not seen) and a
    concurrent write (a sibling beside the acknowledged version) both stay here.

    Reference: Dynamo §4.8.1
    """
    transfers, out, held = _leaving_node(4, transfer_batch_keys_max=2)
    first = _batches_sent(out)
    _acknowledge(transfers, first, now=2)
    (deleted, _), (concurrent, acknowledged) = first[0].items
    tombstone = (Version(None, ("n1", 2), (("n1", 1),)),)
    siblings = (*acknowledged, Version(b"w", ("n2", 1), ()))
    transfers.store.write(deleted, tombstone)
    transfers.store.write(concurrent, siblings)
    _acknowledge(transfers, _batches_sent(out), now=3)
    assert _batches_sent(out) == [] and transfers.in_flight == 0
    assert {key: transfers.store.read(key) for key in held if transfers.store.read(key)} == {
        deleted: tombstone,
        concurrent: siblings,
    }


def test_each_batch_carries_the_bound_of_keys_and_the_last_the_rest() -> None:
    transfers, out, _held = _leaving_node(7, transfer_batch_keys_max=3)
    sizes: list[int] = []
    batches = _batches_sent(out)
    while batches:
        sizes.append(len(batches[0].items))
        _acknowledge(transfers, batches, now=2)
        batches = _batches_sent(out)
    assert sizes == [3, 3, 1]


def test_an_ack_of_a_batch_not_sent_yet_acknowledges_nothing() -> None:
    """An acknowledgement names its batch: one naming a later batch than the one in
    flight (a confused or replayed peer) neither counts keys nor moves the transfer on."""
    transfers, out, _held = _leaving_node(7, transfer_batch_keys_max=3)
    (first,) = _batches_sent(out)
    ack = TransferAck(first.dst, "n1", first.transfer_id, first.batch_id + 1)
    transfers.on_ack(ack, NEW_RING, NEW_STATE, now=2)
    assert _batches_sent(out) == [] and transfers.stats.keys_transferred == 0


def test_an_unacknowledged_batch_is_sent_again_40_ticks_after_by_default() -> None:
    transfers, out, _held = _leaving_node(7)
    sent = _batches_sent(out)  # at tick 1
    transfers.retry(now=40)
    assert _batches_sent(out) == []
    transfers.retry(now=41)
    assert _batches_sent(out) == sent


def test_the_sweep_hands_orphans_off_on_the_first_ring_too() -> None:
    """Data of a partition this node does not own goes to the owners whatever the ring's
    version, the bootstrap ring's 1 included."""
    transfers, out, held = _node_holding(2)
    transfers.sweep(NEW_RING, RingState(1, "bootstrap", NEW_RING.assignment), now=100)
    batches = _batches_sent(out)
    assert sorted(batch.dst for batch in batches) == sorted(NEW_RING.partition_preference_list(0))
    assert [key for key, _ in batches[0].items] == held


def test_a_node_that_adopted_no_ring_hands_nothing_off() -> None:
    """Without a ring of its own (version 0) a node cannot know who owns what: its sweep
    sends nothing, whichever ring it is handed to route by."""
    transfers, out, _held = _node_holding(2)
    transfers.sweep(NEW_RING, RingState(0, "", ()), now=100)
    assert _batches_sent(out) == [] and transfers.in_flight == 0


def test_a_nodes_first_ring_starts_no_transfer_and_the_sweep_moves_what_it_held() -> None:
    """A node adopting its first ring left no partition: it was in none (it routed by a
    placeholder ring of its own). Data it held before goes as orphans by the sweep, to
    every owner, not as a transfer on adoption."""
    transfers, out, held = _node_holding(2)
    placeholder = PartitionRing(("n1",) * 8, n=1)
    transfers.on_ring_adopted(placeholder, NEW_RING, RingState(0, "", ()), NEW_STATE, now=1)
    assert _batches_sent(out) == [] and transfers.in_flight == 0
    transfers.sweep(NEW_RING, NEW_STATE, now=100)
    batches = _batches_sent(out)
    assert sorted(batch.dst for batch in batches) == sorted(NEW_RING.partition_preference_list(0))
    assert [key for key, _ in batches[0].items] == held


def test_on_a_new_ring_the_sweep_looks_at_every_partition_held() -> None:
    """Two ring changes in quick succession: the second drops the handoffs the first
    started, and the partitions it cut short were left on the ring before, so no
    transfer for them starts on adoption. The sweep on the new ring looks at every
    partition held, not only those written since its last look, and hands them off."""
    transfers, out, _held = _node_holding(2, partitions=2, transfers_in_flight_max=1)
    transfers.sweep(OLD_RING, OLD_STATE, now=100)  # owned here: nothing to send
    assert _batches_sent(out) == []
    transfers.on_ring_adopted(OLD_RING, NEW_RING, OLD_STATE, NEW_STATE, now=101)
    assert [batch.partition for batch in _batches_sent(out)] == [0]
    newer = RingState(3, "n3", NEW_RING.assignment)
    transfers.on_ring_adopted(NEW_RING, NEW_RING, NEW_STATE, newer, now=102)
    assert _batches_sent(out) == [] and transfers.in_flight == 0
    transfers.sweep(NEW_RING, newer, now=200)
    batches = _batches_sent(out)
    assert {batch.partition for batch in batches} == {0}
    assert sorted(batch.dst for batch in batches) == sorted(NEW_RING.partition_preference_list(0))
    assert transfers.in_flight == 2  # partition 1 waits for the slot


def test_a_queued_partition_emptied_meanwhile_is_skipped_and_the_next_one_starts() -> None:
    """A partition whose keys went while it waited for a transfer slot (dropped, reaped)
    has nothing to send: the next queued partition takes the slot at once."""
    transfers, out, held = _node_holding(1, partitions=3, transfers_in_flight_max=1)
    transfers.on_ring_adopted(OLD_RING, NEW_RING, OLD_STATE, NEW_STATE, now=1)
    first = _batches_sent(out)
    assert {batch.partition for batch in first} == {0}
    transfers.store.drop([key for key in held if OLD_RING.partition_of(key) == 1])
    _acknowledge(transfers, first, now=2)  # one key: the first batch was the last
    assert {batch.partition for batch in _batches_sent(out)} == {2}


def test_the_first_sweep_comes_100_ticks_after_the_start_by_default() -> None:
    """``handoff_check_interval_ticks`` is 100 by default, counted from the node's start."""
    transfers, out, _held = _node_holding(2)
    transfers.sweep(NEW_RING, NEW_STATE, now=99)
    assert _batches_sent(out) == []
    transfers.sweep(NEW_RING, NEW_STATE, now=100)
    assert {batch.partition for batch in _batches_sent(out)} == {0}


def test_a_batch_names_the_ring_it_was_made_under() -> None:
    """The receiver checks it is an owner under the ring that made the transfer: each
    batch carries that ring's version and issuer."""
    _transfers, out, _held = _leaving_node(2)
    batches = _batches_sent(out)
    assert batches
    assert {(batch.ring_version, batch.ring_issuer) for batch in batches} == {(2, "n2")}


def test_a_peer_back_from_suspicion_is_left_out_of_roots_rounds_for_the_grace_period() -> None:
    """A peer that stops being suspected is left to hinted handoff for
    ``recovery_grace_ticks``: no roots round goes to it before the grace is over, and
    rounds reach it again after."""
    cluster = gossip_cluster()
    node = cluster.nodes["n3"]
    assert node is not None
    grace = MemberConfig().recovery_grace_ticks
    recovered_at = cluster.now
    node.anti_entropy_rounds.on_peer_recovered("n1", recovered_at)
    asked: list[tuple[int, str]] = []
    step = node.step

    def recording(event: Event, now: int) -> list[Effect]:
        effects = step(event, now)
        asked.extend((now, e.dst) for e in effects if isinstance(e, RootsRequest))
        return effects

    node.step = recording  # type: ignore[method-assign]
    cluster.run(until=recovered_at + 3 * grace)
    assert asked and all(dst != "n1" for at, dst in asked if at - recovered_at < grace)
    assert any(dst == "n1" for at, dst in asked if at - recovered_at >= grace)


def test_a_merkle_request_for_a_partition_beyond_the_ring_is_refused_and_makes_no_tree() -> None:
    """A peer's Merkle request names its partition; one outside ``0..Q-1`` has no tree here
    and gets none made for it: the answer is a refusal (``ok`` False), while the ring's
    first and last partitions are answered."""
    from dynamokv.impl.core import MerkleCompareReply, MerkleCompareRequest

    cluster = gossip_cluster()
    node = cluster.nodes["n2"]
    assert node is not None
    depth = MemberConfig().merkle_depth

    def answer(partition: int) -> MerkleCompareReply:
        request = MerkleCompareRequest(0, 0, "n1", partition, depth, 0, (0,), (b"?",))
        effects = node.step(Receive(MerklePacket("n1", "n2", request)), cluster.now)
        (reply,) = [e.body for e in effects if isinstance(e, MerklePacket)]
        assert isinstance(reply, MerkleCompareReply)
        return reply

    assert answer(0).ok and answer(Q - 1).ok
    assert not answer(Q).ok
    assert Q not in node.trees.by_partition


def test_a_roots_reply_lists_every_partition_whose_root_differs_either_way() -> None:
    """Roots are compared for equality only: a peer's root below this node's, or above
    it, byte by byte, marks the partition differing alike, and an equal root does not."""
    cluster = gossip_cluster()
    node = cluster.nodes["n2"]
    assert node is not None
    depth = MemberConfig().merkle_depth
    (equal,) = node.trees.roots((2,))
    roots = (b"\x00", b"\xff" * (len(equal) + 1), equal)
    request = RootsRequest("n1", "n2", 9_000, depth, (0, 1, 2), roots)
    sent = [e for e in node.step(Receive(request), cluster.now) if isinstance(e, Message)]
    (answer,) = [m for m in sent if isinstance(m, RootsReply)]
    assert answer.ok and answer.differing == (0, 1)


def test_a_roots_request_whose_partitions_and_roots_differ_in_number_is_refused() -> None:
    """Every partition named needs its root, and every root its partition: a roots
    request with one more of either is refused (``ok`` False) before a root is read."""
    cluster = gossip_cluster()
    node = cluster.nodes["n2"]
    assert node is not None
    depth = MemberConfig().merkle_depth

    def answer(partitions: tuple[int, ...], roots: tuple[bytes, ...]) -> RootsReply:
        request = RootsRequest("n1", "n2", 9_000, depth, partitions, roots)
        sent = [e for e in node.step(Receive(request), cluster.now) if isinstance(e, Message)]
        (reply,) = [m for m in sent if isinstance(m, RootsReply)]
        return reply

    assert answer((0, 1), (b"?", b"?")).ok
    assert not answer((0, 1), (b"?",)).ok
    assert not answer((0,), (b"?", b"?")).ok


def test_a_roots_request_of_another_depth_or_a_partition_off_the_ring_is_refused() -> None:
    """Roots of trees of another depth compare nothing (they hash other buckets), and a
    partition outside ``[0, Q)`` has no tree: either way the request is refused (``ok``
    False, nothing listed as differing) before a root is read.

    Reference: Dynamo §4.7
    """
    cluster = gossip_cluster()
    node = cluster.nodes["n2"]
    assert node is not None
    depth = MemberConfig().merkle_depth
    q = node.trees.partition_count

    def answer(request_depth: int, partitions: tuple[int, ...]) -> RootsReply:
        roots = (b"?",) * len(partitions)
        request = RootsRequest("n1", "n2", 9_000, request_depth, partitions, roots)
        sent = [e for e in node.step(Receive(request), cluster.now) if isinstance(e, Message)]
        (reply,) = [m for m in sent if isinstance(m, RootsReply)]
        return reply

    assert answer(depth, (0, q - 1)).ok
    for refused in (answer(depth - 1, (0,)), answer(depth + 1, (0,))):
        assert not refused.ok and refused.differing == ()
    for partitions in ((-1, 0), (0, q)):
        refused = answer(depth, partitions)
        assert not refused.ok and refused.differing == ()


def test_exchanges_queued_for_a_peer_that_crashed_are_dropped_once_it_is_suspected() -> None:
    """A node queues one exchange per differing partition after a roots round; if that
    peer then crashes, starting them one by one would hold back every other peer's round
    for the queue's length times the exchange timeout (80 queued: 4,036 ticks without
    anti-entropy). Once the peer is suspected they are dropped, and the next round goes to
    another peer within a few intervals."""
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=2, disk_delay_ticks_max=1)
    cluster = Cluster(
        5,
        seed=3,
        config=NodeConfig(),
        q=256,
        network=network,
        membership="gossip",
        member_config=MemberConfig(recovery_grace_ticks=0),
    )
    cluster.run(until=60)
    keys = [b"k%04d" % index for index in range(1500)]
    for index, key in enumerate(keys):
        request(cluster, cluster.initial[index % 5], PutRequest(key, b"v"))
    cluster.run(until=cluster.now + 500)
    cluster.crash("n2")
    cluster.disks["n2"].lose_versions([k for k in keys if "n2" in cluster.ring.preference_list(k)])
    cluster.restart("n2")
    n1 = cluster.nodes["n1"]
    assert n1 is not None
    rounds = n1.anti_entropy_rounds
    while sum(peer == "n2" for peer, _ in rounds._exchange_queue) < 20:
        cluster.run(until=cluster.now + 1)
    crashed_at = cluster.now
    cluster.crash("n2")
    asked: list[int] = []
    step = n1.step

    def watched(event: Any, now: int) -> list[Any]:
        effects = step(event, now)
        asked.extend(now for e in effects if isinstance(e, RootsRequest))
        return effects

    n1.step = watched  # type: ignore[method-assign]
    while not asked and cluster.now < crashed_at + 2_000:
        cluster.run(until=cluster.now + 10)
    interval = n1.member_config.anti_entropy_interval_ticks
    assert asked and asked[0] - crashed_at < 5 * interval


def test_a_cluster_that_leaves_shrink_below_r_and_w_still_answers_with_the_defaults() -> None:
    """N is capped at each ring's node count, and so are the default R and W: three
    nodes with R = W = 2, two of which leave, keep one node that holds every key and
    answers gets and puts alone. A request that asks for more than the ring holds still
    waits for it and fails."""
    cluster = Cluster(3, seed=1, config=NodeConfig(r=2, w=2), q=16, membership="gossip")
    cluster.run(until=200)
    assert request(cluster, "n1", PutRequest(b"k", b"v1")).ok
    for leaver in ("n3", "n2"):
        assert cluster.leave(leaver, via="n1")
        cluster.run(until=cluster.now + 600)
    n1 = cluster.nodes["n1"]
    assert n1 is not None and n1.ring_state.nodes() == frozenset({"n1"})
    got = request(cluster, "n1", GetRequest(b"k"))
    assert isinstance(got, GetResult) and got.ok and [v.value for v in got.versions] == [b"v1"]
    assert request(cluster, "n1", PutRequest(b"k", b"v2", got.context)).ok
    assert not request(cluster, "n1", PutRequest(b"k", b"v3", (), 2)).ok
