"""One test per claim of Dynamo §4.7 to §4.9 (etcd-io/raft ``raft_paper_test.go`` style).

Each docstring quotes the claim it checks. The clusters are the simulator's complete
(gossip-mode) nodes, five of them on a ring of Q = 64 partitions, fault free unless the
test injects a fault. The claims of §4.3 to §4.6 are in ``tests/core/test_paper.py``.
"""

from __future__ import annotations

from dynamokv.impl.core import (
    AntiEntropy,
    Effect,
    GetRequest,
    GetResult,
    MemberConfig,
    Node,
    NodeConfig,
    PartitionMerkleTree,
    PartitionRing,
    PutRequest,
    PutResult,
    RootsRequest,
    StoreRing,
    TransferBatch,
    partitions,
    value_hash,
)
from dynamokv.impl.core._merkle import inner_hash, pair_digest
from dynamokv.impl.sim import Cluster, NetworkConfig
from dynamokv.impl.sim._measurements import measure_repair_traffic, movement
from membership_helpers import Q, gossip_cluster, live, request, settled, write_keys


def _node(cluster: Cluster, name: str) -> Node:
    node = cluster.nodes[name]
    assert node is not None and node.gossip_mode
    return node


# -- §4.7 Handling permanent failures: replica synchronization ---------------------------


def test_anti_entropy_keeps_the_replicas_synchronized() -> None:
    """ "Dynamo implements an anti-entropy (replica synchronization) protocol to keep the
    replicas synchronized." A replica that lost writes (no hint left to replay them) holds
    them again, merged, without any client reading the keys.

    Reference: Dynamo §4.7"""
    cluster = gossip_cluster(recovery_grace_ticks=0)
    keys = write_keys(cluster, 30)
    lost = [key for key in keys if "n3" in cluster.ring.preference_list(key)][:4]
    assert lost
    cluster.crash("n3")
    cluster.disks["n3"].lose_versions(lost)  # the writes are gone from its disk
    cluster.restart("n3")
    cluster.run(until=cluster.now + 1500)
    for key in lost:
        assert cluster.disks["n3"].synced_versions(key)
        assert len(set(cluster.holders(key).values())) == 1


def test_a_parent_is_the_hash_of_its_children_and_a_leaf_hashes_its_keys() -> None:
    """ "A Merkle tree is a hash tree where leaves are hashes of the values of individual
    keys. Parent nodes higher in the tree are hashes of their respective children."

    Reference: Dynamo §4.7"""
    tree = PartitionMerkleTree(0, partition_count=1, depth=2)
    keys = [b"cart-%d" % i for i in range(12)]
    for key in keys:
        tree.put(key, value_hash(()) if key == b"cart-0" else b"%016d" % len(key))
    leaves = tree.level(2)
    for index, leaf in enumerate(leaves):
        expected = bytes(16)
        for key, hashed in tree.bucket(index).items():
            digest = pair_digest(key, hashed)
            expected = bytes(a ^ b for a, b in zip(expected, digest, strict=True))
        assert leaf == expected  # a leaf covers exactly the keys of its bucket
    for level in (1, 0):
        children = tree.level(level + 1)
        parents = tree.level(level)
        for index, parent in enumerate(parents):
            assert parent == inner_hash(children[2 * index], children[2 * index + 1])


def test_equal_roots_mean_no_synchronization() -> None:
    """ "If the hash values of the root of two trees are equal, then the values of the leaf
    nodes in the tree are equal and the nodes require no synchronization." Two replicas
    that agree exchange one pair of roots per partition, and no key.

    Reference: Dynamo §4.7"""
    cluster = gossip_cluster(recovery_grace_ticks=0, anti_entropy_interval_ticks=20)
    write_keys(cluster, 30)
    cluster.run(until=cluster.now + 600)  # let replication and repair settle
    before = cluster.member_stats()
    trees_compared = sum(n.anti_entropy.metrics.trees_compared for n in live(cluster))
    cluster.run(until=cluster.now + 600)
    after = cluster.member_stats()
    assert after.roots_compared > before.roots_compared  # rounds went on...
    assert after.keys_repaired == before.keys_repaired  # ...and repaired nothing
    assert sum(n.anti_entropy.metrics.trees_compared for n in live(cluster)) == trees_compared


def test_merkle_trees_reduce_the_data_transferred_to_check_for_inconsistencies() -> None:
    """ "Merkle trees help in reducing the amount of data that needs to be transferred while
    checking for inconsistencies among replicas." Two replicas of 10,000 keys that differ in
    100 find exactly those 100 with a small fraction of the bytes of a full copy.

    Reference: Dynamo §4.7"""
    traffic = measure_repair_traffic(keys=10_000, divergent=100)
    assert traffic.keys_repaired == 100
    assert traffic.merkle_bytes < traffic.full_copy_bytes / 10


def test_each_node_keeps_a_tree_for_each_key_range_it_hosts() -> None:
    """ "Each node maintains a separate Merkle tree for each key range (the set of keys
    covered by a virtual node) it hosts." The key ranges are the Q partitions: a node holds
    trees exactly for the partitions of the keys it stores, and each tree holds exactly the
    node's keys of that partition.

    Reference: Dynamo §4.7"""
    cluster = gossip_cluster()
    keys = write_keys(cluster, 40)
    ring = cluster.ring
    for node in live(cluster):
        stored = [key for key in keys if cluster.disks[node.node_id].read_versions(key)]
        partitions = {ring.partition_of(key) for key in stored}
        assert {p for p, _ in node.trees.non_empty()} == partitions
        for partition, tree in node.trees.non_empty():
            assert sorted(key for key, _ in tree.items()) == sorted(
                key for key in stored if ring.partition_of(key) == partition
            )


def test_nodes_exchange_the_roots_of_the_key_ranges_they_host_in_common() -> None:
    """ "Two nodes exchange the root of the Merkle tree corresponding to the key ranges
    that they host in common." Every roots request names only partitions whose preference
    list holds both the sender and the receiver.

    Reference: Dynamo §4.7"""
    cluster = gossip_cluster(anti_entropy_interval_ticks=20)
    write_keys(cluster, 40)
    cluster.trace_all = True
    requests: list[RootsRequest] = []
    real_carry = cluster._carry

    def spy(name: str, node: Node, effects: list[Effect]) -> None:
        requests.extend(effect for effect in effects if isinstance(effect, RootsRequest))
        real_carry(name, node, effects)

    cluster._carry = spy  # type: ignore[method-assign]
    cluster.run(until=cluster.now + 400)
    assert requests
    ring = cluster.ring
    for message in requests:
        for partition in message.partitions:
            owners = ring.partition_preference_list(partition)
            assert message.src in owners and message.dst in owners


def test_the_exchange_descends_only_where_hashes_differ() -> None:
    """ "The nodes ... determine if they have any differences and perform the appropriate
    synchronization action", descending the tree only where it differs: a tree that differs
    in one key compares one path of the tree and finds that key alone.

    Reference: Dynamo §4.7"""
    depth = 6
    mine = PartitionMerkleTree(0, partition_count=1, depth=depth)
    theirs = PartitionMerkleTree(0, partition_count=1, depth=depth)
    keys = [b"item-%03d" % i for i in range(300)]
    for key in keys:
        mine.put(key, b"%016d" % 1)
        theirs.put(key, b"%016d" % (2 if key == b"item-042" else 1))
    initiator, responder = AntiEntropy("a"), AntiEntropy("b")
    found: set[bytes] = set()
    pending = list(initiator.start_exchange("b", mine, 0) or [])
    while pending:
        effect = pending.pop(0)
        message = getattr(effect, "message", None)
        if message is None:
            found.update(getattr(effect, "keys", ()))
            continue
        if effect.destination == "b":  # type: ignore[union-attr]
            pending += responder.receive(message, 0, theirs)
        else:
            pending += initiator.receive(message, 0, mine)
    assert found == {b"item-042"}
    # One differing path: at most two nodes compared per level below the root, not 2**depth.
    assert initiator.metrics.nodes_exchanged <= 1 + 2 * depth


# -- §4.8.1 Ring membership --------------------------------------------------------------


def test_an_outage_does_not_rebalance_the_partition_assignment() -> None:
    """ "A node outage rarely signifies a permanent departure and therefore should not
    result in rebalancing of the partition assignment or repair of the unreachable
    replicas." A node down for a long while stays in the ring, and nothing is transferred.

    Reference: Dynamo §4.8.1"""
    cluster = gossip_cluster()
    write_keys(cluster, 30)
    ring = cluster.ring
    cluster.crash("n4")
    cluster.run(until=cluster.now + 1000)
    assert cluster.ring is ring and "n4" in ring.nodes()
    assert cluster.member_stats().transfers_started == 0
    assert not cluster.transfer_sends


def test_any_node_serves_an_explicit_membership_change_and_persists_it() -> None:
    """ "An administrator uses a command line tool or a browser to connect to a Dynamo node
    and issue a membership change to join a node to a ring or remove a node from a ring.
    The node that serves the request writes the membership change and its time of issue to
    persistent store."

    Reference: Dynamo §4.8.1"""
    cluster = gossip_cluster(spares=1)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    via = _node(cluster, "n4")
    effects = via.request_join("n6", cluster.now)
    persisted = [
        record
        for effect in effects
        for record in getattr(effect, "records", ())
        if isinstance(record, StoreRing)
    ]
    assert persisted and "n6" in persisted[0].owners
    assert persisted[0].issuer.partition("#")[0] == "n4"  # the serving node (and generation)
    cluster._carry("n4", via, effects)
    cluster.run(until=cluster.now + 20)
    assert cluster.disks["n4"].read_ring() == persisted[-1]


def test_gossip_contacts_one_random_peer_per_period_and_spreads_the_change() -> None:
    """ "A gossip-based protocol propagates membership changes and maintains an eventually
    consistent view of membership. Each node contacts a peer chosen at random every second
    and two nodes efficiently reconcile their persisted membership change histories."

    Reference: Dynamo §4.8.1"""
    cluster = gossip_cluster(spares=1)
    period = MemberConfig().gossip.gossip_period_ticks
    node = _node(cluster, "n2")
    rounds = node.gossip.metrics.rounds
    cluster.run(until=cluster.now + 10 * period)
    assert rounds + 9 <= node.gossip.metrics.rounds <= rounds + 11  # one round per period
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    assert cluster.join("n6", via="n1")
    cluster.run(until=cluster.now + 20 * period)
    versions = {_node(cluster, name).ring_state for name in cluster.names}
    assert len(versions) == 1 and "n6" in versions.pop().nodes()


def test_the_partition_assignment_is_persisted_and_survives_a_restart() -> None:
    """ "The mapping is persisted on disk and initially contains only the local node and
    token set." A restarted node comes back with the ring it had adopted, not the one it
    was first configured with.

    Reference: Dynamo §4.8.1"""
    cluster = gossip_cluster(spares=1)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    assert cluster.join("n6", via="n1")
    cluster.run(until=cluster.now + 300)
    adopted = _node(cluster, "n5").ring_state
    assert "n6" in adopted.nodes()
    cluster.crash("n5")
    cluster.restart("n5")
    assert _node(cluster, "n5").ring_state == adopted


def test_every_node_knows_the_ranges_of_its_peers_and_routes_directly() -> None:
    """ "The partitioning and placement information also propagates via the gossip-based
    protocol and each storage node is aware of the token ranges handled by its peers. This
    allows each node to forward a key's read/write operations to the right set of nodes
    directly." A get sent to any node asks exactly the key's owners.

    Reference: Dynamo §4.8.1"""
    cluster = gossip_cluster()
    key = b"routed"
    result = request(cluster, "n1", PutRequest(key, b"v"))
    assert isinstance(result, PutResult) and result.ok
    owners = cluster.ring.preference_list(key)
    for entry in ("n1", "n2", "n3", "n4", "n5"):
        node = _node(cluster, entry)
        assert node.ring.preference_list(key) == owners
        assert set(node.requests._targets(key)) == set(owners)


# -- §4.8.2 External discovery -------------------------------------------------------------


def test_a_node_that_knows_only_the_seeds_becomes_known_to_all() -> None:
    """ "To prevent logical partitions, some Dynamo nodes play the role of seeds. Seeds are
    nodes that are discovered via an external mechanism and are known to all nodes." A new
    node configured with nothing but the seeds is learned of by every member.

    Reference: Dynamo §4.8.2"""
    cluster = gossip_cluster(spares=1)
    assert set(cluster.seeds) == {"n1", "n2"}
    cluster.restart("n6")
    cluster.run(until=cluster.now + 200)
    for name in ("n1", "n2", "n3", "n4", "n5"):
        assert _node(cluster, name).gossip.entry("n6") is not None


# -- §4.8.3 Failure detection ----------------------------------------------------------------


def test_failure_is_a_local_view() -> None:
    """ "Node A may consider node B failed if node B does not respond to node A's messages
    (even if B is responsive to node C's messages)." With A's messages to B lost, A routes
    around B while C still counts on it.

    Reference: Dynamo §4.8.3"""
    cluster = gossip_cluster()
    key = next(
        k
        for k in (b"local-%d" % i for i in range(200))
        if cluster.ring.preference_list(k) == ("n2", "n3", "n4")
    )
    cluster.block("n2", "n3")
    cluster.block("n3", "n2")
    result = request(cluster, "n2", PutRequest(key, b"v"))
    assert isinstance(result, PutResult) and result.ok
    cluster.run(until=cluster.now + 10)  # past the replica timeout
    now = cluster.now
    assert not _node(cluster, "n2").health.is_healthy("n3", now)
    assert _node(cluster, "n4").health.is_healthy("n3", now)


def test_an_unresponsive_node_is_routed_around_and_retried_later() -> None:
    """ "A node A quickly discovers that a node B is unresponsive when B fails to respond to
    a message; Node A then uses alternate nodes to service requests that map to B's
    partitions; A periodically retries B to check for the latter's recovery."

    Reference: Dynamo §4.8.3"""
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=1, disk_delay_ticks_max=0)
    # Nodes on a fixed ring: the request path's own evidence is their only health view.
    cluster = Cluster(5, seed=0, config=NodeConfig(), q=Q, network=network, suspect_ticks=50)
    key = next(
        k
        for k in (b"retry-%d" % i for i in range(200))
        if cluster.ring.preference_list(k) == ("n2", "n3", "n4")
    )
    cluster.crash("n3")
    first = request(cluster, "n2", PutRequest(key, b"v1"))
    assert isinstance(first, PutResult) and first.ok
    cluster.run(until=cluster.now + 10)  # past the replica timeout: B did not answer
    node = cluster.nodes["n2"]
    assert node is not None and not node.health.is_healthy("n3", cluster.now)
    second = request(cluster, "n2", GetRequest(key))
    assert isinstance(second, GetResult) and second.ok  # served by the alternates
    cluster.restart("n3")
    cluster.run(until=cluster.now + 60)  # the suspicion lapses: B is tried again
    assert node.health.is_healthy("n3", cluster.now)
    third = request(cluster, "n2", PutRequest(key, b"v2", second.context))
    assert isinstance(third, PutResult) and third.ok and third.version is not None
    cluster.run(until=cluster.now + 10)
    assert third.version in cluster.disks["n3"].synced_versions(key)  # B served again


# -- §4.9 Adding/removing storage nodes --------------------------------------------------------


def test_an_added_node_receives_the_keys_of_its_ranges_from_their_owners() -> None:
    """ "When a new node (say X) is added into the system ... these nodes transfer those
    keys to X." Every key of a
    partition X now owns is on X, and was sent only by the nodes that owned it before.

    Reference: Dynamo §4.9"""
    cluster = gossip_cluster(spares=1)
    keys = write_keys(cluster, 100)
    before = cluster.ring
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    assert cluster.join("n6", via="n2")
    settled(cluster)
    after = cluster.ring
    gained = [key for key in keys if "n6" in after.preference_list(key)]
    assert gained
    for key in gained:
        assert cluster.disks["n6"].synced_versions(key)
    moved = movement(before.assignment, after.assignment, n=3)
    received = {(partition, node) for _, partition, node in cluster.transfer_sends}
    assert received <= set(moved.copies_received)  # only where a preference list changed
    assert "n6" in {node for _, node in received}


def test_removing_a_node_reallocates_its_keys_in_the_reverse_process() -> None:
    """ "When a node is removed from the system, the reallocation of keys happens in a
    reverse process." The leaving node's partitions go to the remaining nodes, which then
    hold every key, and the leaving node holds none.

    Reference: Dynamo §4.9"""
    cluster = gossip_cluster()
    keys = write_keys(cluster, 80)
    assert cluster.leave("n5", via="n1")
    settled(cluster)
    after = cluster.ring
    assert "n5" not in after.nodes()
    for key in keys:
        assert not cluster.disks["n5"].synced_versions(key)
        assert all(
            cluster.disks[owner].synced_versions(key) for owner in after.preference_list(key)
        )


def test_adding_a_node_spreads_the_key_ranges_uniformly() -> None:
    """ "Operational experience has shown that this approach distributes the load of key
    distribution uniformly across the storage nodes." With equal partitions (strategy 3),
    after an 11th node joins ten, every node owns Q/11 partitions, give or take one.

    Reference: Dynamo §4.9, §6.2"""
    names = [f"n{i}" for i in range(1, 11)]
    ring = PartitionRing.balanced(names, n=3, q=1024)
    after = partitions.join(ring.assignment, "n11")
    counts = {name: after.count(name) for name in [*names, "n11"]}
    share = len(after) / 11
    assert all(abs(count - share) <= 1 for count in counts.values()), counts


def test_a_confirmation_round_means_no_duplicate_transfers() -> None:
    """ "By adding a confirmation round between the source and the destination, it is made
    sure that the destination node does not receive any duplicate transfers for a given key
    range." Each batch of a transfer is sent once to each new owner unless its
    acknowledgement is missing, and the next batch waits for it.

    Reference: Dynamo §4.9"""
    cluster = gossip_cluster(spares=1, transfer_batch_keys_max=4)
    write_keys(cluster, 100)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    batches: list[TransferBatch] = []
    real_carry = cluster._carry

    def spy(name: str, node: Node, effects: list[Effect]) -> None:
        batches.extend(effect for effect in effects if isinstance(effect, TransferBatch))
        real_carry(name, node, effects)

    cluster._carry = spy  # type: ignore[method-assign]
    assert cluster.join("n6", via="n1")
    settled(cluster)
    assert batches
    sent = [(b.src, b.transfer_id, b.batch_id, b.dst) for b in batches]
    assert len(sent) == len(set(sent))  # fault free: no batch twice
    for src in {b.src for b in batches}:
        mine = [b for b in batches if b.src == src]
        for transfer in {b.transfer_id for b in mine}:
            ids = [b.batch_id for b in mine if b.transfer_id == transfer and b.dst == "n6"]
            assert ids == list(range(1, len(ids) + 1))  # one batch after another, in order
