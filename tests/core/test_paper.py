"""One test per claim of Dynamo §4.3 to §4.6 (etcd-io/raft ``raft_paper_test.go`` style).

Each docstring quotes the claim it checks; the cluster is the simulator's, fault
free unless the test injects a fault, with the key ``cart`` owned by n2, n3, n4.
"""

from __future__ import annotations

import random

from core_helpers import KEY, get, put, request, settle, small_cluster
from dynamokv.impl.core import (
    ClientRequest,
    GetRequest,
    Message,
    Node,
    NodeConfig,
    PartitionRing,
    Persist,
    PersistDone,
    PutRequest,
    ReadRequest,
    ReadResponse,
    Receive,
    Reply,
    StorageView,
    TimeoutHealth,
    WriteAck,
    WriteRequest,
    versions,
)
from dynamokv.spec.kv import Version


class _EmptyStorage(StorageView):
    def read_versions(self, key: bytes) -> tuple[Version, ...]:
        return ()

    def read_hints(self) -> tuple[()]:
        return ()

    def read_lease(self) -> int:
        return 0


def _node(name: str = "n2", **config: object) -> Node:
    node = Node(
        name,
        config=NodeConfig(**config),  # type: ignore[arg-type]
        membership=PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64),
        health=TimeoutHealth(),
        storage=_EmptyStorage(),
        random=random.Random(0),
    )
    effects = node.step(ClientRequest(0, GetRequest(b"warm-up", r=1)), 0)
    for effect in effects:  # the boot lease
        if isinstance(effect, Persist):
            node.step(PersistDone(effect.persist_id), 0)
    return node


def test_each_data_item_is_replicated_at_n_hosts() -> None:
    """ "Each data item is replicated at N hosts, where N is a parameter configured
    "per-instance"." Reference: Dynamo §4.3"""
    cluster = small_cluster()
    put(cluster, "n2", b"apple")
    settle(cluster)
    holders = [name for name in cluster.names if cluster.disks[name].synced_versions(KEY)]
    assert holders == ["n2", "n3", "n4"]


def test_coordinator_replicates_at_the_n_minus_1_clockwise_successors() -> None:
    """ "In addition to locally storing each key within its range, the coordinator
    replicates these keys at the N-1 clockwise successor nodes in the ring."
    Reference: Dynamo §4.3"""
    node = _node("n2")
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"apple")), 1)
    sent = [e.dst for e in effects if isinstance(e, Message)]
    assert sent == ["n3", "n4"]
    assert any(isinstance(e, Persist) for e in effects)


def test_preference_list_skips_positions_to_hold_distinct_physical_nodes() -> None:
    """ "The list of nodes that is responsible for storing a particular key is called
    the preference list ... the preference list for a key is constructed by skipping
    positions in the ring to ensure that the list contains only distinct physical
    nodes." Reference: Dynamo §4.3"""
    ring = PartitionRing(("a", "a", "b", "a", "c", "b"), n=3)
    for key in (b"x", b"y", b"cart", b"z"):
        extended = ring.extended_preference_list(key)
        assert sorted(extended) == ["a", "b", "c"]
        assert ring.preference_list(key) == extended[:3]


def test_every_modification_is_a_new_immutable_version_and_several_coexist() -> None:
    """ "Dynamo treats the result of each modification as a new and immutable version
    of the data. It allows for multiple versions of an object to be present in the
    system at the same time." Reference: Dynamo §4.4"""
    cluster = small_cluster()
    first = put(cluster, "n2", b"apple").version
    second = put(cluster, "n3", b"pear").version
    result = get(cluster, "n2")
    assert first is not None and second is not None and first.dot != second.dot
    assert set(result.versions) == {first, second}


def test_an_ancestor_version_is_forgotten() -> None:
    """ "If the counters on the first object's clock are less-than-or-equal to all of
    the nodes in the second clock, then the first is an ancestor of the second and
    can be forgotten." Reference: Dynamo §4.4"""
    cluster = small_cluster()
    put(cluster, "n2", b"apple")
    read = get(cluster, "n2")
    newer = put(cluster, "n2", b"apple\npear", read.context).version
    settle(cluster)
    for name in ("n2", "n3", "n4"):
        assert cluster.disks[name].synced_versions(KEY) == (newer,)


def test_an_update_with_the_context_collapses_the_branches() -> None:
    """ "If Dynamo has access to multiple branches that cannot be syntactically
    reconciled, it will return all the objects at the leaves, with the corresponding
    version information in the context. An update using this context is considered to
    have reconciled the divergent versions and the branches are collapsed into a single
    new version." Reference: Dynamo §4.4"""
    cluster = small_cluster()
    put(cluster, "n2", b"apple")
    put(cluster, "n3", b"pear")
    read = get(cluster, "n2")
    assert len(read.versions) == 2
    merged = put(cluster, "n2", b"apple\npear", read.context).version
    assert get(cluster, "n4").versions == (merged,)


def test_vector_clock_is_truncated_at_the_threshold() -> None:
    """ "When the number of (node, counter) pairs in the vector clock reaches a
    threshold (say 10), the oldest pair is removed from the clock."
    Reference: Dynamo §4.4"""
    node = _node("n2", vector_clock_threshold=2)
    context = (("n1", 5), ("n3", 9), ("n4", 7))
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"apple", context)), 1)
    version = next(e.versions[-1] for e in effects if isinstance(e, Message))
    assert len(version.clock) == 2
    assert version.clock == {"n3": 9, "n2": version.dot[1]}
    assert node.stats.truncations == 1


def test_vector_clock_reaching_the_threshold_with_the_coordinators_entry_is_truncated() -> None:
    """The boundary of the rule above: a context already at the threshold, without the
    coordinator's entry, reaches one more pair once the coordinator adds its own.
    Reference: Dynamo §4.4"""
    node = _node("n2", vector_clock_threshold=2)
    context = (("n1", 5), ("n3", 9))
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"apple", context)), 1)
    version = next(e.versions[-1] for e in effects if isinstance(e, Message))
    assert version.clock == {"n3": 9, "n2": version.dot[1]}
    assert node.stats.truncations == 1


def test_a_clock_of_exactly_the_threshold_with_the_coordinators_entry_is_kept_whole() -> None:
    """The other side of that boundary: a context at the threshold that already names
    the coordinator stays at the threshold once the coordinator's entry moves to the new
    dot; nothing is removed, and no truncation is counted.
    Reference: Dynamo §4.4"""
    node = _node("n2", vector_clock_threshold=2)
    context = (("n1", 5), ("n2", 3))
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"apple", context)), 1)
    version = next(e.versions[-1] for e in effects if isinstance(e, Message))
    assert version.context == context
    assert version.clock == {"n1": 5, "n2": version.dot[1]}
    assert node.stats.truncations == 0


def test_a_truncated_clock_keeps_the_coordinators_own_entry_from_the_context() -> None:
    """The pair the coordinator keeps when it truncates is its own: the client's context
    entry for the coordinator stays in the new version's context beside its new dot (and
    beside the newest other pair, whichever node it names), so the new version still
    supersedes the coordinator's version the client read.
    Reference: Dynamo §4.4"""
    node = _node("n2", vector_clock_threshold=2)
    for context, other in (
        ((("n1", 5), ("n2", 3), ("n3", 9), ("n4", 7)), ("n3", 9)),
        ((("n1", 9), ("n2", 3), ("n3", 5), ("n4", 7)), ("n1", 9)),
    ):
        effects = node.step(ClientRequest(1, PutRequest(KEY, b"apple", context)), 1)
        version = next(e.versions[-1] for e in effects if isinstance(e, Message))
        assert version.context == tuple(sorted((("n2", 3), other)))
        assert version.clock == {other[0]: other[1], "n2": version.dot[1]}
        assert versions.supersedes(version, Version(b"read", ("n2", 3)))
    assert node.stats.truncations == 2


def test_put_writes_locally_and_succeeds_after_w_minus_1_replicas_respond() -> None:
    """ "The coordinator generates the vector clock for the new version and writes the
    new version locally. The coordinator then sends the new version ... to the N
    highest-ranked reachable nodes. If at least W-1 nodes respond then the write is
    considered successful." Reference: Dynamo §4.5"""
    node = _node("n2", w=2)
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"apple")), 1)
    local = next(e for e in effects if isinstance(e, Persist))
    write = next(e for e in effects if isinstance(e, Message))
    assert isinstance(write, WriteRequest)
    assert not any(isinstance(e, Reply) for e in node.step(PersistDone(local.persist_id), 2))
    ack = WriteAck(write.dst, "n2", write.op_id, KEY)
    replies = [e for e in node.step(Receive(ack), 3) if isinstance(e, Reply)]
    assert len(replies) == 1 and replies[0].result.ok


def test_get_waits_for_r_responses() -> None:
    """ "For a get() request, the coordinator requests all existing versions of data
    for that key from the N highest-ranked reachable nodes in the preference list for
    that key, and then waits for R responses before returning the result to the
    client." Reference: Dynamo §4.5"""
    node = _node("n2", r=3)
    effects = node.step(ClientRequest(1, GetRequest(KEY)), 1)
    asks = [e for e in effects if isinstance(e, Message)]
    assert [m.dst for m in asks] == ["n3", "n4"] and all(isinstance(m, ReadRequest) for m in asks)
    first = node.step(Receive(ReadResponse("n3", "n2", asks[0].op_id, KEY, ())), 2)
    assert not any(isinstance(e, Reply) for e in first)
    second = node.step(Receive(ReadResponse("n4", "n2", asks[1].op_id, KEY, ())), 3)
    assert [e.result.replies for e in second if isinstance(e, Reply)] == [3]


def test_get_returns_only_causally_unrelated_versions() -> None:
    """ "If the coordinator ends up gathering multiple versions of the data, it
    returns all the versions it deems to be causally unrelated."
    Reference: Dynamo §4.5"""
    cluster = small_cluster()
    first = put(cluster, "n2", b"apple").version
    assert first is not None
    cluster.crash("n4")  # n4 keeps the old version only
    read = get(cluster, "n2")
    newer = put(cluster, "n2", b"pear", read.context).version
    cluster.restart("n4")
    result = get(cluster, "n4", r=3)
    assert result.versions == (newer,)


def test_a_node_outside_the_preference_list_forwards_the_put() -> None:
    """ "The node that receives the request will not coordinate it if the node is not
    in the top N of the requested key's preference list. Instead, that node will
    forward the request to the first among the top N nodes in the preference list."
    Reference: Dynamo §4.5"""
    node = _node("n1")
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"apple")), 1)
    (forward,) = [e for e in effects if isinstance(e, Message)]
    assert forward.dst == "n2"
    cluster = small_cluster()
    result = put(cluster, "n1", b"apple")
    assert result.ok and result.version is not None and result.version.dot[0] == "n2"


def test_r_plus_w_greater_than_n_reads_the_acknowledged_write() -> None:
    """ "Setting R and W such that R + W > N yields a quorum-like system."
    Reference: Dynamo §4.5"""
    cluster = small_cluster(strict_quorum=True)
    written = put(cluster, "n2", b"apple", w=2).version
    cluster.block("n2", "n4")
    assert written in get(cluster, "n2", r=2).versions


def test_operations_use_the_first_n_healthy_nodes() -> None:
    """ "All read and write operations are performed on the first N healthy nodes from
    the preference list, which may not always be the first N nodes encountered while
    walking the consistent hashing ring." Reference: Dynamo §4.6"""
    cluster = small_cluster()
    cluster.crash("n4")
    put(cluster, "n2", b"apple")  # n4 times out and becomes suspected
    settle(cluster, 20)
    cluster.trace_all = True
    put(cluster, "n2", b"pear")
    targets = {e.dst for e in cluster.trace if e.label.startswith("WriteRequest")}
    assert targets == {"n3", "n5"}


def test_substitute_keeps_a_hint_naming_the_intended_owner() -> None:
    """ "The replica that would normally have lived on A will now be sent to node D
    ... The replica sent to D will have a hint in its metadata that suggests which node
    was the intended recipient of the replica." Reference: Dynamo §4.6"""
    cluster = small_cluster()
    cluster.crash("n4")
    written = put(cluster, "n2", b"apple").version
    settle(cluster, 20)
    (hint,) = cluster.disks["n5"].synced_hints()
    assert hint.owner == "n4" and hint.key == KEY and written in hint.versions


def test_hint_is_delivered_when_the_owner_recovers_then_deleted() -> None:
    """ "Upon detecting that A has recovered, D will attempt to deliver the replica to
    A. Once the transfer succeeds, D may delete the object from its local store without
    decreasing the total number of replicas in the system." Reference: Dynamo §4.6"""
    cluster = small_cluster()
    cluster.crash("n4")
    written = put(cluster, "n2", b"apple").version
    settle(cluster, 20)
    cluster.restart("n4")
    settle(cluster, 200)
    assert cluster.disks["n5"].synced_hints() == ()
    assert cluster.disks["n4"].synced_versions(KEY) == (written,)


def test_writes_do_not_fail_when_owners_are_down_but_strict_quorum_does() -> None:
    """ "Using hinted handoff, Dynamo ensures that the read and write operations are not
    failed due to temporary node or network failures." Reference: Dynamo §4.6"""
    sloppy = small_cluster()
    sloppy.crash("n3")
    sloppy.crash("n4")
    assert put(sloppy, "n2", b"apple", w=2).ok
    strict = small_cluster(strict_quorum=True)
    strict.crash("n3")
    strict.crash("n4")
    assert not put(strict, "n2", b"apple", w=2).ok


def test_w_equals_1_accepts_a_write_with_a_single_durable_copy() -> None:
    """ "Applications that need the highest level of availability can set W to 1,
    which ensures that a write is accepted as long as a single node in the system has
    durably written the key it [sic] to its local store." Reference: Dynamo §4.6"""
    cluster = small_cluster()
    cluster.partition(("n2",), ("n1", "n3", "n4", "n5"))
    result = put(cluster, "n2", b"apple", w=1)
    assert result.ok and result.acks == 1
    assert cluster.disks["n2"].synced_versions(KEY) == (result.version,)


def test_request_helper_answers_gets() -> None:
    cluster = small_cluster()
    assert request(cluster, "n1", GetRequest(KEY)).ok
