"""Unit tests of the node's own rules: dots, leases, bounds, persist-before-ack."""

from __future__ import annotations

import random
from typing import Any

import dynamokv.impl.core as core
import pytest
from core_helpers import KEY, get, put, settle, small_cluster
from dynamokv.impl.core import (
    ClientRequest,
    MemberConfig,
    Message,
    Node,
    NodeConfig,
    PartitionRing,
    Persist,
    PersistDone,
    PutRequest,
    Receive,
    Reply,
    SetTimer,
    StoreLease,
    StoreVersions,
    Tick,
    TimeoutHealth,
    WriteAck,
    WriteRequest,
)
from dynamokv.impl.core._handoff import HintStore, hint_may_be_deleted, hint_to_store
from dynamokv.impl.core._reaping import TombstoneReaper
from dynamokv.impl.sim import SimDisk
from dynamokv.spec.errors import ArgumentError
from dynamokv.spec.kv import Version


def test_public_names_match_all() -> None:
    public = {name for name in dir(core) if not name.startswith("_")}
    public -= {"annotations"}
    assert public == set(core.__all__)


def _node(disk: SimDisk, **config: object) -> Node:
    return Node(
        "n2",
        config=NodeConfig(**config),  # type: ignore[arg-type]
        membership=PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64),
        health=TimeoutHealth(),
        storage=disk,
        random=random.Random(1),
    )


def _carry_out(disk: SimDisk, effects: list[core.Effect]) -> list[core.Effect]:
    for effect in effects:
        if isinstance(effect, Persist):
            disk.apply(effect)
    return effects


def test_no_counter_is_issued_before_its_lease_is_durable() -> None:
    disk = SimDisk()
    node = _node(disk)
    effects = _carry_out(disk, node.step(ClientRequest(1, PutRequest(KEY, b"a")), 0))
    (lease,) = [e for e in effects if isinstance(e, Persist)]
    assert isinstance(lease.records[0], StoreLease)
    assert not any(isinstance(e, Message) for e in effects), "the put waits for the lease"
    disk.sync(lease.persist_id)
    effects = _carry_out(disk, node.step(PersistDone(lease.persist_id), 1))
    writes = [e for e in effects if isinstance(e, Message)]
    assert writes and writes[0].versions[0].dot == ("n2", 1)


def test_a_put_whose_context_carries_a_later_counter_gets_a_lease_covering_it() -> None:
    """A client's context can carry a counter of this node from before a restart, above
    anything it leased since: the node leases past it, and the put's dot is above it."""
    disk = SimDisk()
    node = _node(disk)
    put = PutRequest(KEY, b"a", (("n2", 10_000),))
    effects = _carry_out(disk, node.step(ClientRequest(1, put), 0))
    leases = [e for e in effects if isinstance(e, Persist)]
    assert all(isinstance(lease.records[0], StoreLease) for lease in leases)
    assert max(lease.records[0].counter_max for lease in leases) > 10_000  # type: ignore[union-attr]
    writes = []
    for lease in leases:
        disk.sync(lease.persist_id)
        done = _carry_out(disk, node.step(PersistDone(lease.persist_id), 1))
        writes += [e for e in done if isinstance(e, Message)]
    assert writes and writes[0].versions[0].dot == ("n2", 10_001)


def test_a_restart_never_reissues_a_dot_lost_with_unsynced_data() -> None:
    disk = SimDisk()
    node = _node(disk, counter_lease_block=4)
    dots = []
    for request_id in range(1, 8):
        effects = _carry_out(
            disk,
            node.step(ClientRequest(request_id, PutRequest(KEY, b"v%d" % request_id)), request_id),
        )
        for effect in effects:
            if isinstance(effect, Persist) and isinstance(effect.records[0], StoreLease):
                disk.sync(effect.persist_id)
                effects += _carry_out(disk, node.step(PersistDone(effect.persist_id), request_id))
        dots += [e.versions[-1].dot for e in effects if isinstance(e, Message)]
    issued = {dot for dot in dots}
    disk.crash()  # every version write was unsynced: lost
    restarted = _node(disk, counter_lease_block=4)
    effects = _carry_out(disk, restarted.step(ClientRequest(99, PutRequest(KEY, b"after")), 100))
    for effect in effects:
        if isinstance(effect, Persist):
            disk.sync(effect.persist_id)
            effects += _carry_out(disk, restarted.step(PersistDone(effect.persist_id), 101))
    new = {e.versions[-1].dot for e in effects if isinstance(e, Message)}
    assert new and not (new & issued)


def test_a_counter_lease_is_renewed_before_it_runs_out() -> None:
    """Once half of the durable lease is used, the next lease is asked for while puts go
    on under the current one: with its persist prompt, no put but the very first waits
    for a lease."""
    disk = SimDisk()
    node = _node(disk, counter_lease_block=4)
    waited = []
    for request_id in range(1, 13):
        now = request_id * 10
        effects = _carry_out(disk, node.step(ClientRequest(request_id, PutRequest(KEY, b"v")), now))
        waited.append(not any(isinstance(e, Message) for e in effects))
        for effect in effects:
            if isinstance(effect, Persist):
                disk.sync(effect.persist_id)
                effects += _carry_out(disk, node.step(PersistDone(effect.persist_id), now + 1))
    assert waited == [True] + [False] * 11


def test_every_counter_lease_persisted_is_counted_once() -> None:
    disk = SimDisk()
    node = _node(disk, counter_lease_block=4)
    leases = 0
    for request_id in range(1, 13):
        now = request_id * 10
        effects = _carry_out(disk, node.step(ClientRequest(request_id, PutRequest(KEY, b"v")), now))
        for effect in effects:
            if isinstance(effect, Persist):
                leases += isinstance(effect.records[0], StoreLease)
                disk.sync(effect.persist_id)
                effects += _carry_out(disk, node.step(PersistDone(effect.persist_id), now + 1))
    assert leases > 1
    assert node.stats.leases_persisted == leases


def _leases_asked(effects: list[core.Effect]) -> list[int]:
    """The counter leases among ``effects`` (the ``counter_max`` of each)."""
    return [
        record.counter_max
        for effect in effects
        if isinstance(effect, Persist)
        for record in effect.records
        if isinstance(record, StoreLease)
    ]


def _first_put_durable(disk: SimDisk, node: Node) -> list[core.Effect]:
    """Put 1 at tick 1 with its first lease made durable; the effects of that step."""
    effects = _carry_out(disk, node.step(ClientRequest(1, PutRequest(KEY, b"v1")), 1))
    (first,) = [e for e in effects if isinstance(e, Persist)]
    disk.sync(first.persist_id)
    return node.step(PersistDone(first.persist_id), 1)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (6, {1: [6], 4: [10], 8: [14], 12: [18]}),
        (5, {1: [5], 4: [9], 8: [13], 12: [17]}),
    ],
)
def test_a_counter_lease_is_renewed_by_one_block_once_less_than_half_a_block_is_left(
    block: int, expected: dict[int, list[int]]
) -> None:
    """Dynamo §4.4's counter of a node must never be issued twice, so the node leases
    counters ahead (a durable upper bound). With ``counter_lease_block`` 6 and every lease
    durable at once: the first lease runs to 6; the put that leaves fewer than 3 (half
    the block) counters under the durable lease asks for the next one, one block past the
    counter it just issued (4 + 6 = 10); and so on every fourth put. Half of an odd block
    is rounded down: with 5, the put that leaves 2 asks for nothing, the one that leaves 1
    asks for 4 + 5 = 9.

    Reference: Dynamo §4.4"""
    disk = SimDisk()
    node = _node(disk, counter_lease_block=block)
    asked: dict[int, list[int]] = {}
    for request_id in range(1, 13):
        now = request_id * 10
        effects = _carry_out(disk, node.step(ClientRequest(request_id, PutRequest(KEY, b"v")), now))
        for effect in list(effects):
            if isinstance(effect, Persist):
                disk.sync(effect.persist_id)
                effects += _carry_out(disk, node.step(PersistDone(effect.persist_id), now + 1))
        if _leases_asked(effects):
            asked[request_id] = _leases_asked(effects)
    assert asked == expected


def test_counters_up_to_the_durable_lease_are_issued_while_its_renewal_is_not_durable() -> None:
    """A counter equal to the durable lease is covered by it: with ``counter_lease_block``
    4 and the renewal (to 7) never durable, puts get dots 1 to 4 without waiting, and
    only the fifth waits, until the renewal is durable. The renewal is asked for once:
    the puts after it, under the same durable lease, persist no further lease record.

    Reference: Dynamo §4.4"""
    disk = SimDisk()
    node = _node(disk, counter_lease_block=4)
    effects = _first_put_durable(disk, node)
    for request_id in range(2, 6):
        effects += _carry_out(
            disk, node.step(ClientRequest(request_id, PutRequest(KEY, b"v%d" % request_id)), 2)
        )
    dots = [e.versions[-1].dot for e in effects if isinstance(e, WriteRequest)]
    assert sorted(set(dots)) == [("n2", 1), ("n2", 2), ("n2", 3), ("n2", 4)]
    assert _leases_asked(effects) == [7]
    renewal = next(e for e in effects if isinstance(e, Persist) and _leases_asked([e]) == [7])
    disk.sync(renewal.persist_id)
    effects = node.step(PersistDone(renewal.persist_id), 3)
    assert {e.versions[-1].dot for e in effects if isinstance(e, WriteRequest)} == {("n2", 5)}


def test_a_renewal_below_a_lease_already_asked_for_persists_nothing() -> None:
    """A put whose context carries a later counter of this node waits for a lease past
    it (to 101 + 4); puts without one go on under the durable lease meanwhile, and the
    renewal they would ask for (to 7) is already covered by the pending lease: no
    second lease record, no extra fsync. Nor is there one for a put whose dot is the
    pending lease's last counter.

    Reference: Dynamo §4.4"""
    disk = SimDisk()
    node = _node(disk, counter_lease_block=4)
    _first_put_durable(disk, node)
    later = PutRequest(KEY, b"later", (("n2", 100),))
    assert _leases_asked(_carry_out(disk, node.step(ClientRequest(2, later), 2))) == [105]
    for request_id in (3, 4):
        effects = _carry_out(disk, node.step(ClientRequest(request_id, PutRequest(KEY, b"v")), 3))
        assert [e for e in effects if isinstance(e, WriteRequest)], "issued under lease 4"
        assert _leases_asked(effects) == []
    up_to_the_lease = PutRequest(KEY, b"covered", (("n2", 104),))  # its dot: 105
    effects = _carry_out(disk, node.step(ClientRequest(5, up_to_the_lease), 4))
    assert effects == [], "it waits for the lease asked for already"
    assert node.stats.leases_persisted == 2


def test_an_incarnations_op_ids_start_at_40_random_bits_shifted_left_by_20() -> None:
    """Op ids travel in messages, and replies to a crashed incarnation's ops may still be
    in flight when the node restarts: each incarnation numbers its ops from its own
    random start, 40 bits drawn from the node's random source shifted left by 20 (ids
    below 2**60, a million of them before another draw's start is likely), the first
    taken by the hint replay's timer, the next by the first request."""
    for seed in range(8):
        node = Node(
            "n2",
            config=NodeConfig(),
            membership=PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64),
            health=TimeoutHealth(),
            storage=SimDisk(),
            random=random.Random(seed),
        )
        effects = node.step(ClientRequest(1, core.GetRequest(KEY)), 0)
        start = random.Random(seed).getrandbits(40) << 20
        assert {e.op_id for e in effects if isinstance(e, core.ReadRequest)} == {start + 1}


def test_a_tick_runs_every_timeout_due_past_a_finished_requests_timer() -> None:
    """A finished request's timer is left in the queue (it wakes nobody); a tick still
    runs every other timeout due at it. Three gets start at once: the second finishes
    (both other owners answer), and at the replica timeout the first and the third each
    ask the two substitutes for the owners that stayed silent (sloppy quorum).

    Reference: Dynamo §4.6"""
    node = _node(SimDisk())
    asked = []
    for request_id in (1, 2, 3):
        effects = node.step(ClientRequest(request_id, core.GetRequest(KEY)), 0)
        asked.append([e for e in effects if isinstance(e, core.ReadRequest)])
    for request in asked[1]:
        answer = core.ReadResponse(request.dst, "n2", request.op_id, KEY, ())
        node.step(Receive(answer), 1)
    timeout = NodeConfig().replica_timeout_ticks
    effects = node.step(Tick(), timeout)
    substitutes = sorted((e.op_id, e.dst) for e in effects if isinstance(e, core.ReadRequest))
    first, third = asked[0][0].op_id, asked[2][0].op_id
    assert substitutes == [(first, "n1"), (first, "n5"), (third, "n1"), (third, "n5")]


def test_a_tick_later_than_a_due_timeout_still_runs_it() -> None:
    """A driver may wake the node after the tick it asked for (a busy process, a slow
    event loop): every timeout due by then runs, not only those due at that very tick."""
    node = _node(SimDisk())
    node.step(ClientRequest(1, core.GetRequest(KEY)), 100)
    late = 100 + NodeConfig().replica_timeout_ticks + 3
    effects = node.step(Tick(), late)
    assert sorted(e.dst for e in effects if isinstance(e, core.ReadRequest)) == ["n1", "n5"]


def test_a_tick_later_than_a_requests_deadline_fails_it() -> None:
    """A driver woken after a request's deadline (not at it) still ends the request: the
    put that no replica acked fails with its timeout in that step, and nothing is sent."""
    disk = SimDisk()
    node = _node(disk)
    _first_put_durable(disk, node)
    late = 1 + NodeConfig().request_timeout_ticks + 5
    effects = node.step(Tick(), late)
    (result,) = [e.result for e in effects if isinstance(e, core.Reply)]
    assert not result.ok and result.error == "timeout: fewer than w acks"
    assert not [e for e in effects if isinstance(e, Message)], "no substitute asked"


def test_a_get_short_of_r_replies_fails_40_ticks_after_it_began_by_default() -> None:
    """A coordinator waits ``request_timeout_ticks`` (40 by default) for R replies (Dynamo
    §4.5), asking substitutes meanwhile, and then fails the get, not a tick earlier or
    later: here only its own copy answers, so the get ends at tick 40 without success."""
    node = _node(SimDisk())
    answered: list[tuple[int, core.Result]] = []
    for now in range(0, 60):
        event: core.Event = ClientRequest(1, core.GetRequest(KEY)) if now == 0 else Tick()
        answered += [(now, e.result) for e in node.step(event, now) if isinstance(e, Reply)]
    ((at, result),) = answered
    assert at == 40 and not result.ok and result.replies == 1


def test_an_unanswered_request_is_looked_at_again_one_replica_timeout_later() -> None:
    """A coordinator that has not answered looks at its request every
    ``replica_timeout_ticks`` (replacing silent replicas) until the request's deadline:
    after the first replica timeout it asks to be woken one replica timeout later.

    Reference: Dynamo §4.6"""
    node = _node(SimDisk())
    node.step(ClientRequest(1, core.GetRequest(KEY)), 100)
    timeout = NodeConfig().replica_timeout_ticks
    effects = node.step(Tick(), 100 + timeout)
    assert [e for e in effects if isinstance(e, core.ReadRequest)], "substitutes asked"
    assert [e.at for e in effects if isinstance(e, SetTimer)] == [100 + 2 * timeout]


def test_a_forwarded_put_is_refused_by_a_node_that_owns_no_replica_now() -> None:
    """Rings may differ between nodes while a change spreads: a node handed a put for a
    key it owns no replica of under its own ring refuses it, and neither forwards it again
    (a put could bounce between nodes that disagree about its owners) nor coordinates it
    (its own write would count as one of the W while it is no replica: under a strict
    quorum a put acknowledged by W=2 could sit on one owner). The client retries.

    Reference: Dynamo §4.5
    """
    ring = PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64)
    keys = (b"f%03d" % i for i in range(1_000))
    key = next(k for k in keys if "n2" not in ring.preference_list(k))
    disk = SimDisk()
    node = _node(disk)
    forward = core.ForwardRequest("n1", "n2", 7, PutRequest(key, b"v"))
    effects = _carry_out(disk, node.step(Receive(forward), 1))
    pending = [e for e in effects if isinstance(e, Persist)]  # the counter lease, at boot
    assert not [e for e in effects if isinstance(e, core.ForwardRequest | WriteRequest)]
    (answer,) = [e for e in effects if isinstance(e, core.ForwardResponse)]
    assert (answer.dst, answer.op_id, answer.result.ok) == ("n1", 7, False)
    assert "no owner" in answer.result.error
    owned = next(k for k in (b"f%03d" % i for i in range(1_000)) if "n2" in ring.preference_list(k))
    forward = core.ForwardRequest("n1", "n2", 8, PutRequest(owned, b"v"))
    effects = _carry_out(disk, node.step(Receive(forward), 2))
    pending += [e for e in effects if isinstance(e, Persist)]
    while pending and not [e for e in effects if isinstance(e, WriteRequest)]:
        disk.sync(pending[0].persist_id)
        effects = _carry_out(disk, node.step(PersistDone(pending.pop(0).persist_id), 3))
        pending += [e for e in effects if isinstance(e, Persist)]
    assert [e for e in effects if isinstance(e, WriteRequest)], "an owner coordinates it"


def test_a_suspected_node_is_not_taken_as_a_substitute_after_a_replica_timeout() -> None:
    """When owners stay silent past the replica timeout, their substitutes are the next
    *healthy* nodes of the extended preference list (Dynamo §4.6): with n5 suspected,
    a get of a key owned by n2, n3, n4 (substitutes n5, then n1) coordinated by n2 asks
    n1 alone when n3 and n4 are silent.

    Reference: Dynamo §4.6"""
    health = TimeoutHealth()
    health.on_timeout("n5", 0)
    node = Node(
        "n2",
        config=NodeConfig(),
        membership=PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64),
        health=health,
        storage=SimDisk(),
        random=random.Random(1),
    )
    effects = node.step(ClientRequest(1, core.GetRequest(KEY)), 1)
    assert sorted(e.dst for e in effects if isinstance(e, core.ReadRequest)) == ["n3", "n4"]
    effects = node.step(Tick(), 1 + NodeConfig().replica_timeout_ticks)
    assert [e.dst for e in effects if isinstance(e, core.ReadRequest)] == ["n1"]


def test_replica_acks_only_after_its_write_is_durable() -> None:
    disk = SimDisk()
    node = _node(disk)
    version = Version(b"a", ("n3", 1), ())
    effects = _carry_out(disk, node.step(Receive(WriteRequest("n3", "n2", 7, KEY, (version,))), 0))
    assert not any(isinstance(e, WriteAck) for e in effects)
    persist = next(
        e for e in effects if isinstance(e, Persist) and isinstance(e.records[0], StoreVersions)
    )
    acks = [e for e in node.step(PersistDone(persist.persist_id), 1) if isinstance(e, Message)]
    assert [type(e) for e in acks] == [WriteAck]


def test_a_full_hint_store_refuses_the_write() -> None:
    disk = SimDisk()
    node = _node(disk, hints_count_max=1)
    version = Version(b"a", ("n3", 1), ())
    node.step(Receive(WriteRequest("n3", "n2", 1, b"x", (version,), hinted_for="n4")), 0)
    effects = node.step(Receive(WriteRequest("n3", "n2", 2, b"y", (version,), hinted_for="n4")), 1)
    refusals = [e for e in effects if isinstance(e, Message)]
    assert len(refusals) == 1 and isinstance(refusals[0], WriteAck) and not refusals[0].ok
    assert node.stats.hints_refused == 1 and len(node.hints) == 1


def test_a_hint_store_holds_8_mib_of_hinted_values_by_default_and_not_a_byte_more() -> None:
    """``hints_bytes_max`` is 8 MiB by default: hints filling it exactly are kept, and the
    next byte is refused (counted as :func:`~dynamokv.impl.core.hint_size_bytes` counts)."""
    disk = SimDisk()
    node = _node(disk)
    assert NodeConfig().hints_bytes_max == 8 * 1024 * 1024
    fill = Version(b"v" * (8 * 1024 * 1024 - 1 - 16), ("n3", 1), ())  # 1-byte key, one dot
    node.step(Receive(WriteRequest("n3", "n2", 1, b"x", (fill,), hinted_for="n4")), 0)
    assert len(node.hints) == 1 and node.stats.hints_refused == 0
    one_more = Version(b"", ("n3", 2), ())  # 1 + 16 bytes more
    effects = node.step(Receive(WriteRequest("n3", "n2", 2, b"y", (one_more,), hinted_for="n4")), 1)
    refusals = [e for e in effects if isinstance(e, WriteAck)]
    assert len(refusals) == 1 and not refusals[0].ok
    assert node.stats.hints_refused == 1 and len(node.hints) == 1


def test_a_hint_store_holds_4096_hints_by_default_and_not_one_more() -> None:
    """``hints_count_max`` is 4,096 by default (the architecture page's hinted-handoff
    bound): that many hints are kept, the next one is refused."""
    node = _node(SimDisk())
    version = Version(b"", ("n3", 1), ())
    for request_id in range(4096):
        key = b"k%d" % request_id
        node.step(
            Receive(WriteRequest("n3", "n2", request_id, key, (version,), hinted_for="n4")), 0
        )
    assert len(node.hints) == 4096 and node.stats.hints_refused == 0
    effects = node.step(
        Receive(WriteRequest("n3", "n2", 4096, b"z", (version,), hinted_for="n4")), 1
    )
    refusals = [e for e in effects if isinstance(e, WriteAck)]
    assert len(refusals) == 1 and not refusals[0].ok
    assert node.stats.hints_refused == 1 and len(node.hints) == 4096


def test_read_repair_updates_a_stale_owner() -> None:
    cluster = small_cluster()
    cluster.crash("n4")
    written = put(cluster, "n2", b"apple", w=2).version
    cluster.restart("n4")  # back, but the hint has not been handed over yet
    assert cluster.disks["n4"].synced_versions(KEY) == ()
    assert get(cluster, "n3", r=3).versions == (written,)
    settle(cluster, 3)
    assert cluster.disks["n4"].synced_versions(KEY) == (written,)


def test_a_coordinator_that_is_a_reads_substitute_reads_its_own_copy() -> None:
    """With two owners down, n5 coordinates a read of a key whose substitutes are n5
    and n1: it reads its own copy without a message to itself, and asks n1."""
    cluster = small_cluster()
    written = put(cluster, "n2", b"apple").version
    settle(cluster)
    cluster.crash("n3")
    cluster.crash("n4")
    node = cluster.nodes["n5"]
    assert node is not None
    asked: list[core.ReadRequest] = []
    step = node.step

    def recording(event: core.Event, now: int) -> list[core.Effect]:
        effects = step(event, now)
        asked.extend(e for e in effects if isinstance(e, core.ReadRequest))
        return effects

    node.step = recording  # type: ignore[method-assign]
    assert get(cluster, "n5", r=2).versions == (written,)
    assert sorted(request.dst for request in asked) == ["n1", "n2", "n3", "n4"]
    assert {request.src for request in asked} == {"n5"}


def test_bad_quorum_sizes_are_errors_not_exceptions() -> None:
    cluster = small_cluster()
    assert not put(cluster, "n2", b"a", w=4).ok
    assert "r must be" in get(cluster, "n2", r=9).error


def test_a_get_of_r_1_answers_with_one_reply_and_an_r_below_1_is_refused() -> None:
    """R may be any of 1..N (Dynamo §4.5): a get of ``r=1`` answers once one replica,
    here the coordinator itself, has replied; ``r=-1`` is refused as an error result.

    Reference: Dynamo §4.5"""
    cluster = small_cluster()
    written = put(cluster, "n2", b"apple").version
    one = get(cluster, "n2", r=1)
    assert one.ok and one.replies == 1 and one.versions == (written,)
    refused = get(cluster, "n2", r=-1)
    assert not refused.ok and refused.error == "r must be in 1..3"


def test_only_a_get_that_returns_more_than_one_sibling_counts_in_siblings_returned() -> None:
    """``siblings_returned`` counts the gets that handed the client concurrent versions
    to reconcile (Dynamo §4.4): not a get of a missing key, nor one of a single version,
    and once a get that returns two siblings.

    Reference: Dynamo §4.4"""
    cluster = small_cluster()
    coordinator = cluster.nodes["n2"]
    assert coordinator is not None
    assert get(cluster, "n2").versions == ()
    first = put(cluster, "n2", b"v1").version
    settle(cluster)
    assert get(cluster, "n2").versions == (first,)
    assert coordinator.stats.siblings_returned == 0
    assert put(cluster, "n3", b"v2").ok  # a blind write: concurrent with v1
    settle(cluster)
    assert len(get(cluster, "n2", r=3).versions) == 2
    assert coordinator.stats.siblings_returned == 1


def test_a_put_refused_before_any_write_reports_zero_acks() -> None:
    cluster = small_cluster()
    result = put(cluster, "n2", b"a", w=4)
    assert not result.ok and result.acks == 0


def test_config_rejects_impossible_quorums() -> None:
    with pytest.raises(ArgumentError, match=r"r must be in 1\.\.n=3, got r=4"):
        NodeConfig(n=3, r=4)
    with pytest.raises(TypeError, match="planted_bug"):
        NodeConfig(planted_bug="ack-before-w")  # type: ignore[call-arg]


def test_duplicate_write_acks_count_once() -> None:
    disk = SimDisk()
    node = _node(disk, w=3)
    lease = [
        e
        for e in _carry_out(disk, node.step(ClientRequest(1, PutRequest(b"boot", b"x")), 0))
        if isinstance(e, Persist)
    ]
    for p in lease:
        _carry_out(disk, node.step(PersistDone(p.persist_id), 0))
    effects = _carry_out(disk, node.step(ClientRequest(2, PutRequest(KEY, b"a")), 1))
    local = [e for e in effects if isinstance(e, Persist)][-1]
    write = next(e for e in effects if isinstance(e, Message))
    node.step(PersistDone(local.persist_id), 2)
    ack = WriteAck(write.dst, "n2", write.op_id, KEY)
    replies = [
        e
        for t in (3, 4)
        for e in node.step(Receive(ack), t)
        if isinstance(e, Reply) and e.request_id == 2
    ]
    assert replies == []


def test_a_transfer_batch_is_merged_and_acked_only_once_durable() -> None:
    """Partition handoff: the new owner merges (never overwrites) and acknowledges a
    batch only after its persist is done, so the old owner never drops data too early.

    Reference: Dynamo §4.8.1
    """
    disk = SimDisk()
    node = _node(disk)
    held = Version(b"mine", ("n2", 5), ())
    _carry_out(disk, node.step(Receive(WriteRequest("n3", "n2", 1, KEY, (held,))), 0))
    incoming = Version(b"theirs", ("n4", 2), ())
    batch = core.TransferBatch("n4", "n2", 9, 1, 0, 2, "n1#1", ((KEY, (incoming,)),))
    effects = _carry_out(disk, node.step(Receive(batch), 1))
    assert not any(isinstance(e, core.TransferAck) for e in effects)
    assert set(disk.read_versions(KEY)) == {held, incoming}  # merged: siblings kept
    persist = next(e for e in effects if isinstance(e, Persist))
    acks = [e for e in node.step(PersistDone(persist.persist_id), 2) if isinstance(e, Message)]
    assert [e for e in acks] == [core.TransferAck("n2", "n4", 9, 1)]


def test_a_transfer_batch_the_new_owner_supersedes_goes_back_to_the_sender_as_a_repair() -> None:
    """A former owner hands off a value that a delete has since superseded at the new
    owner: the new owner answers with a read repair, sent before its ack, so the former
    owner, which keeps the key until every new owner has it, keeps the tombstone from then
    on; a handoff it finishes after the tombstone is reaped cannot bring the value back. A
    batch the new owner does not supersede gets no repair.

    Reference: Dynamo §4.8.1
    """
    disk = SimDisk()
    node = _node(disk)
    value = Version(b"cart", ("n4", 1), ())
    tombstone = Version(None, ("n3", 2), (("n4", 1),))
    _carry_out(disk, node.step(Receive(WriteRequest("n3", "n2", 1, KEY, (tombstone,))), 0))
    batch = core.TransferBatch("n4", "n2", 9, 1, 0, 2, "n1#1", ((KEY, (value,)),))
    effects = _carry_out(disk, node.step(Receive(batch), 1))
    repairs = [e for e in effects if isinstance(e, Message)]
    assert repairs == [core.ReadRepair("n2", "n4", KEY, (tombstone,))]
    assert disk.read_versions(KEY) == (tombstone,)
    other = b"other-key"
    fresh = Version(b"fresh", ("n4", 3), ())
    batch = core.TransferBatch("n4", "n2", 9, 2, 0, 2, "n1#1", ((other, (fresh,)),))
    effects = _carry_out(disk, node.step(Receive(batch), 2))
    assert [e for e in effects if isinstance(e, Message)] == []


def test_a_later_step_reads_the_storage_not_an_earlier_steps_write() -> None:
    """A step's own writes are read back only within that step (the driver applies them
    after it returns); from the next step on, the storage is the truth, and it can change
    without a write of the node's: compaction reaps a tombstone once it may."""
    disk = SimDisk()
    out = core.Outbox()
    store = core.LocalStore(disk, out)
    tombstone = Version(None, ("n2", 1), ())
    store.write(KEY, (tombstone,))
    assert store.read(KEY) == (tombstone,)  # within the step: its own write
    _carry_out(disk, out.effects)
    disk.apply(Persist(2, (StoreVersions(KEY, ()),)))  # the storage reaped the tombstone
    store.begin_step()
    assert store.read(KEY) == ()


def test_a_replica_answers_a_read_with_what_its_storage_holds_now_not_an_earlier_write() -> None:
    """A replica's answer to a read (Dynamo §4.5) is what its storage holds when the read
    arrives: a tombstone it stored in an earlier step and the storage has since reaped
    (compaction may) is no longer part of the answer."""
    disk = SimDisk()
    node = _node(disk)
    tombstone = Version(None, ("n3", 1), ())
    _carry_out(disk, node.step(Receive(WriteRequest("n3", "n2", 7, KEY, (tombstone,))), 0))
    assert disk.read_versions(KEY) == (tombstone,)
    disk.apply(Persist(99, (StoreVersions(KEY, ()),)))  # the storage reaped the tombstone
    effects = node.step(Receive(core.ReadRequest("n3", "n2", 8, KEY)), 1)
    assert [e for e in effects if isinstance(e, Message)] == [
        core.ReadResponse("n2", "n3", 8, KEY, ())
    ]


def test_repair_push_merges_and_a_dropped_key_is_forgotten() -> None:
    disk = SimDisk()
    node = _node(disk)
    old = Version(b"a", ("n3", 1), ())
    newer = Version(b"b", ("n3", 2), (("n3", 1),))
    _carry_out(disk, node.step(Receive(core.RepairPush("n3", "n2", 0, ((KEY, (old,)),))), 0))
    _carry_out(disk, node.step(Receive(core.RepairPush("n3", "n2", 0, ((KEY, (newer,)),))), 1))
    assert disk.read_versions(KEY) == (newer,)
    # What a finished partition transfer does: one persist of empty version sets.
    out = core.Outbox()
    store = core.LocalStore(disk, out)
    store.drop((KEY,))
    assert store.read(KEY) == ()  # seen by the rest of the step at once
    assert out.effects == [Persist(1, (StoreVersions(KEY, ()),))]
    _carry_out(disk, out.effects)
    assert disk.read_versions(KEY) == ()


def _hint_store(
    config: NodeConfig,
    *,
    health: Any,
    out: core.Outbox,
    stored: list[core.Hint],
    schedule: Any,
) -> HintStore:
    """Node n2's hint store with the core's own rules, over ``stored`` hints."""
    return HintStore(
        "n2",
        config=config,
        stats=core.NodeStats(),
        may_delete=hint_may_be_deleted,
        to_store=hint_to_store,
        health=health,
        out=out,
        stored=stored,
        schedule=schedule,
    )


def test_hints_are_replayed_every_20_ticks_by_default() -> None:
    """A replay round is asked for ``hint_replay_interval_ticks`` (20 by default) after
    the tick that wants one."""
    scheduled: list[int] = []
    store = _hint_store(
        NodeConfig(),
        health=TimeoutHealth(),
        out=core.Outbox(),
        stored=[],
        schedule=scheduled.append,
    )
    store.schedule_replay(100)
    assert scheduled == [120]


def test_a_replay_round_hands_off_at_most_64_hints_by_default() -> None:
    out = core.Outbox()
    out.begin()
    stored = [
        core.Hint(i + 1, f"o{i:02d}", KEY, (Version(b"v", ("n1", i + 1), ()),), 64)
        for i in range(70)
    ]
    store = _hint_store(
        NodeConfig(), health=TimeoutHealth(), out=out, stored=stored, schedule=lambda now: None
    )
    store.replay(0)
    assert len([e for e in out.effects if isinstance(e, Message)]) == 64


def test_a_replay_round_looks_no_further_once_its_batch_is_sent() -> None:
    """A replay round's work is bounded by its batch, not by how many owners have hints:
    once the batch is sent, no further owner's health is even asked."""
    asked: list[str] = []

    class EveryoneUp:
        def is_healthy(self, node: str, now: int) -> bool:
            asked.append(node)
            return True

    out = core.Outbox()
    out.begin()
    owners = [f"o{i}" for i in range(10)]
    store = _hint_store(
        NodeConfig(hint_replay_batch_max=2),
        health=EveryoneUp(),
        out=out,
        stored=[
            core.Hint(i + 1, owner, KEY, (Version(b"v", ("n1", i + 1), ()),), 64)
            for i, owner in enumerate(owners)
        ],
        schedule=lambda now: None,
    )
    store.replay(0)
    replays = [e for e in out.effects if isinstance(e, Message)]
    assert [m.dst for m in replays] == owners[:2]
    assert asked == owners[:2]


def test_reap_rounds_start_once_per_interval() -> None:
    """A reaper asks the other owners about its old tombstones one round per
    ``reap_interval_ticks``, not on every tick it is stepped."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    coordinator = ring.partition_preference_list(ring.partition_of(KEY))[0]
    tombstone = (Version(None, ("n1", 1), ()),)

    class Held:
        def read(self, key: bytes) -> tuple[Version, ...]:
            return tombstone

    out = core.Outbox()
    out.begin()
    reaper = TombstoneReaper(
        coordinator,
        config=core.MemberConfig(tombstone_grace_ticks=10, reap_interval_ticks=50),
        store=Held(),  # type: ignore[arg-type]
        out=out,
        stats=core.MemberStats(),
        may_reap=lambda held, **votes: False,  # every owner must vote first
        now=0,
    )
    reaper.note(KEY, tombstone)
    rounds = []
    for now in range(0, 121):
        reaper.now = now
        before = len(out.effects)
        reaper.tick(ring, 1, quiet_ticks=1_000)
        if any(isinstance(e, Message) for e in out.effects[before:]):
            rounds.append(now)
    assert rounds == [50, 100]


class _HeldStore:
    """The storage a tombstone reaper reads, writes and drops through, over a plain dict
    (a write is a persist in ``out``)."""

    def __init__(self, held: dict[bytes, tuple[Version, ...]], out: core.Outbox) -> None:
        self.held = held
        self.out = out

    def write_many(self, items: list[tuple[bytes, tuple[Version, ...]]], *after: Any) -> None:
        self.held.update(items)
        self.out.persist(
            tuple(core.StoreVersions(key, versions) for key, versions in items), *after
        )

    def read(self, key: bytes) -> tuple[Version, ...]:
        return self.held.get(key, ())

    def drop(self, keys: list[bytes]) -> None:
        for key in keys:
            self.held.pop(key, None)


def _reaper_over(
    held: dict[bytes, tuple[Version, ...]],
    *,
    now: int,
    may_reap: Any = lambda held, **votes: False,
    **member: Any,
) -> tuple[TombstoneReaper, core.Outbox]:
    """Node n2's reaper at tick ``now`` over a store of ``held`` (``member``: its
    :class:`MemberConfig`, a grace of 10 ticks unless given), its outbox in a step."""
    out = core.Outbox()
    out.begin()
    reaper = TombstoneReaper(
        "n2",
        config=core.MemberConfig(**{"tombstone_grace_ticks": 10, **member}),
        store=_HeldStore(held, out),  # type: ignore[arg-type]
        out=out,
        stats=core.MemberStats(),
        may_reap=may_reap,
        now=now,
    )
    return reaper, out


def _reaper_that_reaped(
    tombstone: tuple[Version, ...],
) -> tuple[TombstoneReaper, dict[bytes, tuple[Version, ...]], core.Outbox]:
    """Node n2's reaper at tick 500, once n1's reap of ``KEY``'s tombstone reached it."""
    held: dict[bytes, tuple[Version, ...]] = {KEY: tombstone}
    reaper, out = _reaper_over(held, now=500)
    reaper.on_reap(core.Reap("n1", "n2", ((KEY, tombstone),)))
    return reaper, held, out


def _round_asked(
    ring: PartitionRing, held: dict[bytes, tuple[Version, ...]], **member: Any
) -> tuple[TombstoneReaper, core.Outbox]:
    """Node n2's reaper (:func:`_reaper_over`, a grace of 100 ticks) that noted each of
    ``held``'s tombstones at tick 0, in order, and ran its round at tick 100."""
    reaper, out = _reaper_over(held, now=0, **{"tombstone_grace_ticks": 100, **member})
    for key, versions in held.items():
        reaper.note(key, versions)
    reaper.now = 100
    reaper.tick(ring, 1, quiet_ticks=1_000)
    return reaper, out


def _keys_first_owned_by(ring: PartitionRing, node: str, *, tried: int = 200) -> list[bytes]:
    """The keys among ``key0``, ``key1``... ``key{tried - 1}`` whose first owner is ``node``."""
    keys = (f"key{index}".encode() for index in range(tried))
    return [
        key for key in keys if ring.partition_preference_list(ring.partition_of(key))[0] == node
    ]


def _first_key_of_each_owner(ring: PartitionRing) -> dict[str, bytes]:
    """For each node, the first of the keys ``key0``, ``key1``... that it is the first owner of."""
    first: dict[str, bytes] = {}
    for key in (f"key{index}".encode() for index in range(200)):
        first.setdefault(ring.partition_preference_list(ring.partition_of(key))[0], key)
    return first


def test_a_replica_votes_only_in_a_round_of_its_own_ring() -> None:
    """A reaper's query names the ring its round was made on: a replica on another
    ring, older or newer, may see other owners for the key, and votes for no key."""
    tombstone = (Version(None, ("n1", 1), ()),)
    reaper, out = _reaper_over({KEY: tombstone}, now=100)
    for ring_version in (1, 3):
        out.begin()
        reaper.on_query(core.ReapQuery("n1", "n2", 7, ring_version, ((KEY, tombstone),)), 2)
        assert out.effects == [core.ReapVote("n2", "n1", 7, ())]


def test_a_replica_votes_for_tombstones_only_once_they_are_durable() -> None:
    """A vote vouches that the replica's tombstones outlive its crash, and what it reads
    may not be synced yet: the voted tombstones are written again and the vote waits for
    that write to be durable, as every acknowledgement does. A vote for no key leaves at
    once."""
    tombstone = (Version(None, ("n1", 1), ()),)
    reaper, out = _reaper_over({KEY: tombstone}, now=100)
    out.begin()
    reaper.on_query(core.ReapQuery("n1", "n2", 7, 2, ((KEY, tombstone),)), 2)
    (persist,) = out.effects
    assert isinstance(persist, core.Persist)
    assert persist.records == (core.StoreVersions(KEY, tombstone),)
    (after,) = out.persisted(persist.persist_id)
    assert after.message == core.ReapVote("n2", "n1", 7, (KEY,))  # type: ignore[union-attr]
    out.begin()
    reaper.on_query(core.ReapQuery("n1", "n2", 8, 2, ((b"other", tombstone),)), 2)
    assert out.effects == [core.ReapVote("n2", "n1", 8, ())]


def test_a_reaper_asks_only_about_the_keys_it_is_the_first_owner_of() -> None:
    """The first node of a key's preference list reaps it: a node holding the tombstones
    of keys that others come first for leaves them to those others."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    first = _first_key_of_each_owner(ring)
    tombstone = (Version(None, ("n1", 1), ()),)
    held = dict.fromkeys(first.values(), tombstone)
    _, out = _round_asked(ring, held)
    queries = [effect for effect in out.effects if isinstance(effect, core.ReapQuery)]
    assert sorted(query.dst for query in queries) == ["n1", "n3"]
    assert all(query.items == ((first["n2"], tombstone),) for query in queries)


def test_a_late_vote_of_an_abandoned_round_does_not_count_in_the_next() -> None:
    """A round that does not finish within one interval is abandoned, and the next one
    asks again: a vote for the abandoned round arriving meanwhile is no vote of the new
    one, so the key goes only once every other owner voted in the new round."""
    from dynamokv.impl.core._reaping import tombstone_may_be_reaped

    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    key = _first_key_of_each_owner(ring)["n2"]
    tombstone = (Version(None, ("n1", 1), ()),)
    held = {key: tombstone}
    reaper, out = _reaper_over(
        held,
        now=0,
        may_reap=tombstone_may_be_reaped,
        tombstone_grace_ticks=100,
        reap_interval_ticks=50,
    )
    reaper.note(key, tombstone)
    rounds: list[dict[str, int]] = []
    for now in (100, 150):
        out.begin()
        reaper.now = now
        reaper.tick(ring, 1, quiet_ticks=1_000)
        queries = [effect for effect in out.effects if isinstance(effect, core.ReapQuery)]
        rounds.append({query.dst: query.round_id for query in queries})
    abandoned, current = rounds
    assert sorted(current) == ["n1", "n3"]
    out.begin()
    reaper.on_vote(core.ReapVote("n1", "n2", abandoned["n1"], (key,)), 1)
    reaper.on_vote(core.ReapVote("n3", "n2", current["n3"], (key,)), 1)
    assert out.effects == [] and held == {key: tombstone}
    reaper.on_vote(core.ReapVote("n1", "n2", current["n1"], (key,)), 1)
    assert held == {}
    assert sorted(e.dst for e in out.effects if isinstance(e, core.Reap)) == ["n1", "n3"]


def test_a_vote_counts_for_each_key_it_names_whatever_the_others_still_wait_for() -> None:
    """One vote names every key of the round its sender holds the tombstones of; each is
    counted on its own: a key the vote completes is reaped even when a key named before
    it still waits for another owner's vote.

    Reference: Dynamo §4.4
    """
    from dynamokv.impl.core._reaping import tombstone_may_be_reaped

    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    waiting, completed = _keys_first_owned_by(ring, "n2")[:2]
    tombstone = (Version(None, ("n1", 1), ()),)
    held = {waiting: tombstone, completed: tombstone}
    reaper, out = _round_asked(ring, held, may_reap=tombstone_may_be_reaped)
    round_id = {e.dst: e.round_id for e in out.effects if isinstance(e, core.ReapQuery)}
    reaper.on_vote(core.ReapVote("n3", "n2", round_id["n3"], (completed,)), 1)
    reaper.on_vote(core.ReapVote("n1", "n2", round_id["n1"], (waiting, completed)), 1)
    assert held == {waiting: tombstone}


def test_a_reap_round_asks_about_at_most_reap_keys_per_round_max_keys() -> None:
    """A round's queries are bounded: of three tombstones due, a node that asks about two
    keys a round (``reap_keys_per_round_max``) asks each other owner about the two
    stored first, and leaves the third to a later round.

    Reference: Dynamo §4.4
    """
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    mine = _keys_first_owned_by(ring, "n2")[:3]
    tombstone = (Version(None, ("n1", 1), ()),)
    _, out = _round_asked(ring, dict.fromkeys(mine, tombstone), reap_keys_per_round_max=2)
    queries = [effect for effect in out.effects if isinstance(effect, core.ReapQuery)]
    assert sorted(query.dst for query in queries) == ["n1", "n3"]
    assert all([key for key, _ in query.items] == mine[:2] for query in queries)


def test_a_reaped_key_is_remembered_for_1000_ticks_by_default() -> None:
    """A node remembers the tombstones it reaped for ``reaped_memory_ticks`` (1,000 by
    default), so that a late copy they cover is recognised that long and no longer."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    tombstone = (Version(None, ("n1", 1), ()),)
    reaper, held, _out = _reaper_that_reaped(tombstone)
    assert held == {} and KEY in reaper.reaped
    reaper.now = 1_499
    reaper.tick(ring, 1, quiet_ticks=0)
    assert KEY in reaper.reaped
    reaper.now = 1_500
    reaper.tick(ring, 1, quiet_ticks=0)
    assert KEY not in reaper.reaped
    assert not reaper.is_stale_copy(KEY, (), tombstone)


def test_a_node_remembers_at_most_65536_reaped_keys_by_default_forgetting_the_oldest() -> None:
    """The memory of reaped tombstones is bounded by ``reaped_memory_keys_max`` (65,536
    by default): one key more and the key reaped first is forgotten."""
    tombstone = (Version(None, ("n1", 1), ()),)
    keys = [index.to_bytes(4, "big") for index in range(65_537)]
    held = dict.fromkeys(keys, tombstone)
    reaper, _out = _reaper_over(held, now=500)
    reaper.on_reap(core.Reap("n1", "n2", tuple((key, tombstone) for key in keys[:-1])))
    assert held == {keys[-1]: tombstone} and len(reaper.reaped) == 65_536
    reaper.on_reap(core.Reap("n1", "n2", ((keys[-1], tombstone),)))
    assert len(reaper.reaped) == 65_536
    assert keys[0] not in reaper.reaped and keys[1] in reaper.reaped and keys[-1] in reaper.reaped


def test_a_reap_round_proposes_the_tombstones_held_for_the_grace_period_and_no_younger() -> None:
    """A round asks the rule about every tombstone stored ``tombstone_grace_ticks`` ago
    or earlier (the boundary included) and about none stored later."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    mine = _keys_first_owned_by(ring, "n2")
    old, young = mine[:2]
    tombstone = (Version(None, ("n1", 1), ()),)
    asked: list[int] = []  # the stored_ticks of each tombstone the rule was asked about

    def may_reap(held: tuple[Version, ...], *, stored_ticks: int, **_: object) -> bool:
        asked.append(stored_ticks)
        return False

    reaper, out = _reaper_over(
        {old: tombstone, young: tombstone},
        now=0,
        may_reap=may_reap,
        tombstone_grace_ticks=100,
        reap_interval_ticks=50,
    )
    reaper.note(old, tombstone)
    reaper.now = 60
    reaper.note(young, tombstone)
    reaper.now = 100
    reaper.tick(ring, 1, quiet_ticks=1_000)
    assert asked == [100]  # one key, stored exactly the grace period ago: the old one
    queries = [effect for effect in out.effects if isinstance(effect, core.ReapQuery)]
    assert sorted(query.dst for query in queries) == ["n1", "n3"]
    assert all(query.items == ((old, tombstone),) for query in queries)


def test_a_reap_round_asks_about_at_most_256_tombstones_by_default_the_oldest_first() -> None:
    """One round asks the other owners about at most ``reap_keys_per_round_max`` deleted
    keys (256 by default), the tombstones stored longest first, so a query and a round's
    memory stay bounded however many deletes fell due at once."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    mine = _keys_first_owned_by(ring, "n2", tried=2_000)
    assert len(mine) > 257
    tombstone = (Version(None, ("n1", 1), ()),)
    reaper, out = _reaper_over(dict.fromkeys(mine, tombstone), now=0)
    for now, key in enumerate(mine):  # one a tick: the list runs from the oldest
        reaper.now = now
        reaper.note(key, tombstone)
    reaper.now = 1_000
    reaper.tick(ring, 1, quiet_ticks=1_000)
    queries = [effect for effect in out.effects if isinstance(effect, core.ReapQuery)]
    assert sorted(query.dst for query in queries) == ["n1", "n3"]
    assert all([key for key, _ in query.items] == mine[:256] for query in queries)


def test_a_repair_of_reaped_tombstones_is_answered_with_a_reap_only_if_nothing_is_held() -> None:
    """A replica that missed a reap pushes the tombstones back as a repair: the node that
    reaped them and holds nothing of the key reaps again on it; one that holds the key
    again (a later put) does not."""
    tombstone = (Version(None, ("n1", 1), ()),)
    reaper, held, out = _reaper_that_reaped(tombstone)
    out.begin()
    reaper.answer_repair("n3", 5, [(KEY, tombstone)])
    assert out.effects == [core.Reap("n2", "n3", ((KEY, tombstone),))]
    held[KEY] = (Version(b"again", ("n2", 7), ()),)
    out.begin()
    reaper.answer_repair("n3", 5, [(KEY, tombstone)])
    assert out.effects == []


def test_a_repair_of_a_value_a_reaped_tombstone_deleted_is_answered_with_the_tombstone() -> None:
    """A replica that missed the delete pushes the deleted value in a Merkle exchange.
    The node that reaped the tombstone merges that push into nothing, as every push of it
    after; so it answers with the tombstone, which the pusher then holds instead of the
    value (and pushes back at its next exchange, to be reaped again). A value the
    tombstone does not supersede gets no answer: it is newer than the delete."""
    deleted = Version(b"socks", ("n3", 1), ())
    tombstone = (Version(None, ("n1", 2), (("n3", 1),)),)
    reaper, _held, out = _reaper_that_reaped(tombstone)
    out.begin()
    reaper.answer_repair("n3", 5, [(KEY, (deleted,))])
    assert out.effects == [core.RepairPush("n2", "n3", 5, ((KEY, tombstone),))]
    out.begin()
    reaper.answer_repair("n3", 5, [(KEY, (Version(b"newer", ("n3", 2), ()),))])
    assert out.effects == []


def test_every_key_of_a_batch_write_is_told_to_the_watcher() -> None:
    """The tombstone reaper watches every version set the node stores: a batch of keys
    written in one persist (a transfer or a repair) reaches it key by key, as single
    writes and drops do."""
    from dynamokv.impl.core._merkle import MerkleTracking, MerkleTrees

    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    seen: list[tuple[bytes, tuple[Version, ...]]] = []
    tracked = MerkleTracking(
        core.LocalStore(SimDisk(), core.Outbox()),
        MerkleTrees(partition_count=8, depth=2, partition_of=ring.partition_of),
        watch=lambda key, versions: seen.append((key, versions)),
    )
    one, two = (Version(b"v", ("n1", 1), ()),), (Version(None, ("n1", 2), ()),)
    tracked.write(b"a", one)
    tracked.write_many([(b"b", one), (b"c", two)])
    tracked.drop([b"a"])
    assert seen == [(b"a", one), (b"b", one), (b"c", two), (b"a", ())]


def _gossip_node(storage: SimDisk, **options: Any) -> Node:
    """Node n1 of a gossip cluster of 8 partitions that n1 and n2 share, n2 its seed;
    ``options`` replace any of its constructor's arguments."""
    from dynamokv.impl.core._gossip import GossipConfig

    arguments: dict[str, Any] = {
        "config": NodeConfig(),
        "storage": storage,
        "random": random.Random(1),
        "member_config": core.MemberConfig(gossip=GossipConfig(partition_count=8)),
        "address": "a1",
        "seeds": {"n2": "a2"},
        "bootstrap_owners": ["n1", "n2"] * 4,
    }
    arguments.update(options)
    return Node("n1", **arguments)


def test_a_gossip_node_is_silent_until_its_generation_is_durable() -> None:
    """A node gossips under a generation only once that generation is on disk, so a
    generation is never reused: a crash before then lets the next start take it again,
    and nothing was announced under it."""

    disk = SimDisk()
    node = _gossip_node(disk)
    persists = [e for e in node.step(core.Tick(), 0) if isinstance(e, Persist)]
    assert any(isinstance(r, core.StoreGeneration) for p in persists for r in p.records)
    for now in range(1, 400):
        assert not [e for e in node.step(core.Tick(), now) if isinstance(e, Message)], now
    for persist in persists:
        node.step(PersistDone(persist.persist_id), 400)
    sent = [e for now in range(400, 800) for e in node.step(core.Tick(), now)]
    assert any(isinstance(e, Message) for e in sent)


def test_gossip_received_before_the_generation_is_durable_is_neither_answered_nor_read() -> None:
    """A node takes part in gossip (Dynamo §4.8) only under a generation that is on disk:
    before then a peer's gossip gets no answer (which would announce the generation) and
    its news is not taken in (a newer ring in it is not adopted); once the generation is
    durable, the same messages are answered and read."""
    from dynamokv.impl.core import GossipAck2, GossipSyn, RingState
    from dynamokv.impl.core._messages import GossipPacket

    disk = SimDisk()
    node = _gossip_node(disk)
    persists = [e for e in _carry_out(disk, node.step(Tick(), 0)) if isinstance(e, Persist)]
    syn = Receive(GossipPacket("n2", "n1", "a1", GossipSyn("n2", "a2", (), 1, "")))
    ring = RingState(2, "n2#1", ("n2",) * 8)
    ack2 = Receive(GossipPacket("n2", "n1", "a1", GossipAck2("n2", "a2", (), ring)))
    assert not [e for e in node.step(syn, 1) if isinstance(e, Message)]
    assert not [e for e in node.step(ack2, 1) if isinstance(e, Message)]
    assert node.ring_state.version == 1
    for persist in persists:
        node.step(PersistDone(persist.persist_id), 2)
    answers = [e for e in node.step(syn, 3) if isinstance(e, GossipPacket)]
    assert [answer.dst for answer in answers] == ["n2"]
    node.step(ack2, 3)
    assert node.ring_state == ring


def test_a_gossip_nodes_trees_have_16_leaf_buckets_per_partition_by_default() -> None:
    """Each partition's Merkle tree has ``2**merkle_depth`` leaf buckets, 16 by default: a
    differing partition is narrowed to a sixteenth of its keys before they are listed."""

    node = _gossip_node(SimDisk())
    assert node.trees.depth == 4
    keys = [b"k%05d" % i for i in range(2_000)]
    tree = core.PartitionMerkleTree(0, partition_count=1, depth=node.trees.depth)
    assert {tree.bucket_of(key) for key in keys} == set(range(16))


def test_a_forwarded_put_waits_a_full_timeout_for_its_second_owner() -> None:
    """A node that owns no replica of the key forwards the put to an owner; when that one
    does not answer within ``forward_timeout_ticks`` it tries the next owner, which gets
    as long again to answer before the client is told of a timeout."""
    node = _node(SimDisk())
    ring = PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64)
    keys = (b"f%03d" % i for i in range(1_000))
    key = next(k for k in keys if "n2" not in ring.preference_list(k))
    timeout = NodeConfig().forward_timeout_ticks

    def forwarded(effects: list[core.Effect]) -> list[core.ForwardRequest]:
        return [e for e in effects if isinstance(e, core.ForwardRequest)]

    (first,) = forwarded(node.step(ClientRequest(1, PutRequest(key, b"v")), 1_000))
    assert first.dst == ring.preference_list(key)[0]
    (second,) = forwarded(node.step(core.Tick(), 1_000 + timeout))
    assert second.dst == ring.preference_list(key)[1]
    assert not node.step(core.Tick(), 1_000 + 2 * timeout - 1)  # still waiting for it
    result = core.PutResult(True, acks=2)
    answer = core.ForwardResponse(second.dst, "n2", second.op_id, result)
    effects = node.step(Receive(answer), 1_000 + 2 * timeout - 1)
    assert [e for e in effects if isinstance(e, Reply)] == [Reply(1, result)]


def test_a_restart_takes_over_kept_trees_only_of_its_own_shape() -> None:
    """Trees kept from a crashed incarnation are taken over only when they have the
    node's partition count and depth; trees of another shape are left, and built anew."""

    def started(kept: core.MerkleTrees) -> Node:
        return _gossip_node(SimDisk(), merkle_trees=kept)

    def trees(partition_count: int, depth: int) -> core.MerkleTrees:
        return core.MerkleTrees(partition_count=partition_count, depth=depth, partition_of=hash)

    same = trees(8, 4)
    assert started(same).trees is same
    for other in (trees(8, 5), trees(8, 3), trees(16, 4), trees(4, 4)):
        node = started(other)
        assert node.trees is not other
        assert (node.trees.partition_count, node.trees.depth) == (8, 4)


def test_a_start_without_kept_trees_builds_them_from_what_the_disk_holds() -> None:
    """A node that kept no trees hashes every key its disk holds into them at start, so
    its first exchange compares what it has, not an empty tree (Dynamo §4.7)."""
    from dynamokv.impl.core._merkle import value_hash

    held = (Version(b"book", ("n2", 3)),)
    disk = SimDisk()
    disk.apply(Persist(1, (StoreVersions(KEY, held),)))
    disk.sync(1)
    node = _gossip_node(disk)
    assert node.trees.value_hash(node.ring.partition_of(KEY), KEY) == value_hash(held)
    assert len(node.trees) == 1


def test_a_restart_with_kept_trees_still_notes_the_tombstones_its_disk_holds() -> None:
    """Kept trees spare the start its hashing, not the reaper's look at the disk: the
    tombstones stored there are noted, so they are reaped in time."""
    from dynamokv.impl.core._gossip import GossipConfig

    tombstone = (Version(None, ("n2", 3)),)
    disk = SimDisk()
    disk.apply(Persist(1, (StoreVersions(KEY, tombstone),)))
    disk.sync(1)
    kept = core.MerkleTrees(partition_count=8, depth=4, partition_of=hash)
    node = _gossip_node(
        disk,
        member_config=core.MemberConfig(
            gossip=GossipConfig(partition_count=8), tombstone_grace_ticks=100
        ),
        merkle_trees=kept,
        now=500,
    )
    assert node.trees is kept and node.reaper.enabled
    assert node.reaper.stored_since == {KEY: (500, tombstone)}


def _replies_to_requests(node: Node, requests: list[core.Request]) -> list[Reply]:
    """The replies in the steps (all at tick 0) that hand ``node`` each of ``requests``."""
    return [
        effect
        for request_id, request in enumerate(requests)
        for effect in node.step(ClientRequest(request_id, request), 0)
        if isinstance(effect, Reply)
    ]


def test_a_node_that_has_not_joined_a_ring_refuses_gets_and_puts_saying_why() -> None:
    """A node owns no key range before it joins a ring (Dynamo §4.8.1), so it can neither
    coordinate nor forward: it fails every client request at once, as unavailable."""
    node = _gossip_node(SimDisk(), bootstrap_owners=None)
    replies = _replies_to_requests(node, [core.GetRequest(KEY), PutRequest(KEY, b"book")])
    results = [reply.result for reply in replies]
    assert [type(result) for result in results] == [core.GetResult, core.PutResult]
    assert all(not result.ok and result.error.startswith("unavailable") for result in results)


def test_a_node_with_no_ring_yet_holds_none_of_its_data_as_its_own() -> None:
    """Before any ring a node owns nothing: whatever its disk holds is due elsewhere."""

    disk = SimDisk()
    disk.apply(Persist(1, (StoreVersions(KEY, (Version(b"book", ("n2", 3)),)),)))
    disk.sync(1)
    node = _gossip_node(disk, bootstrap_owners=None)
    assert node.ring_state.version == 0
    assert node.holds_data_it_does_not_own()


def test_a_node_on_a_fixed_ring_reports_no_adopted_ring() -> None:
    """A node on a fixed ring routes by the ring it was given and adopts none by gossip
    (Dynamo §4.8): the ring it reports as adopted (the ring version a driver shows) is
    the empty ring, version 0 with no owners."""
    node = _node(SimDisk())
    assert not node.gossip_mode
    assert node.ring_state == core.RingState(0, "", ())


def test_a_step_earlier_than_the_one_before_is_refused_as_a_bug() -> None:
    """Ticks only grow: a driver that steps a node back in time has a bug, and the node says
    so at once instead of acting on a past it has already left."""
    from dynamokv.spec.errors import InvariantError

    node = _gossip_node(SimDisk())
    node.step(core.Tick(), 10)
    node.step(core.Tick(), 10)  # the same tick again is fine
    with pytest.raises(InvariantError, match="time went backwards"):
        node.step(core.Tick(), 9)


@pytest.mark.parametrize(("depth", "allowed"), [(-1, False), (0, True), (16, True), (17, False)])
def test_a_merkle_depth_from_0_to_16_is_allowed(depth: int, allowed: bool) -> None:
    """Trees of one leaf bucket (depth 0) up to 65,536 (depth 16) per partition."""
    if allowed:
        assert core.MemberConfig(merkle_depth=depth).merkle_depth == depth
    else:
        with pytest.raises(ArgumentError, match=r"merkle_depth must be in 0\.\.16"):
            core.MemberConfig(merkle_depth=depth)


def test_by_default_two_of_the_three_replicas_answer_a_get_and_acknowledge_a_put() -> None:
    """The default is Dynamo's common configuration, (N, R, W) = (3, 2, 2) (Dynamo §6): a
    get answers with the replies of two replicas, a put once two hold it durably."""
    cluster = small_cluster()
    assert put(cluster, "n2", b"v").acks == 2
    assert get(cluster, "n2").replies == 2


def test_a_node_leases_1000_counters_at_a_time_by_default() -> None:
    """One durable lease record per thousand puts: a new node's first lease runs to
    counter 1,000."""
    node = _node(SimDisk())
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"a")), 0)
    (lease,) = [e for e in effects if isinstance(e, Persist)]
    assert lease.records == (StoreLease(1000),)


def test_the_reaping_rule_is_told_how_long_each_tombstone_has_been_stored() -> None:
    """The rule gets the ticks since this node first stored the key's tombstones."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    key = _first_key_of_each_owner(ring)["n2"]
    tombstone = (Version(None, ("n1", 1), ()),)
    told: list[int] = []

    def may_reap(held: tuple[Version, ...], *, stored_ticks: int, **_: object) -> bool:
        told.append(stored_ticks)
        return False

    reaper, _out = _reaper_over(
        {key: tombstone},
        now=30,
        may_reap=may_reap,
        tombstone_grace_ticks=100,
        reap_interval_ticks=50,
    )
    reaper.note(key, tombstone)
    reaper.now = 150
    reaper.tick(ring, 1, quiet_ticks=1_000)
    assert told == [120]


def test_a_node_asks_the_health_view_it_is_given_and_judges_by_timeouts_without_one() -> None:
    """Replicas go to the owners the node's health view believes up: with a view given
    that has seen the owner n4 time out, a put's replica for n4 goes to the substitute
    n5 with a hint; with no view given, the node keeps its own (timeouts), and with no
    timeout seen yet the replicas go to both other owners."""

    def replicas(health: TimeoutHealth | None) -> set[tuple[str, str | None]]:
        disk = SimDisk()
        node = Node(
            "n2",
            config=NodeConfig(),
            membership=PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64),
            health=health,
            storage=disk,
            random=random.Random(1),
        )
        effects = _carry_out(disk, node.step(ClientRequest(1, PutRequest(KEY, b"a")), 1))
        (lease,) = [e for e in effects if isinstance(e, Persist)]
        effects = node.step(PersistDone(lease.persist_id), 1)
        return {(e.dst, e.hinted_for) for e in effects if isinstance(e, WriteRequest)}

    suspecting = TimeoutHealth()
    suspecting.on_timeout("n4", 0)
    assert replicas(suspecting) == {("n3", None), ("n5", "n4")}
    assert replicas(None) == {("n3", None), ("n4", None)}


def test_a_gossip_node_made_without_a_start_tick_starts_at_tick_0() -> None:
    """``now`` defaults to 0: a gossip-mode node made without it schedules its first
    rounds exactly as one made at tick 0 (the same wake-ups, asked at the same ticks)."""

    def wake_ups(**start: int) -> list[int]:
        disk = SimDisk()
        config = MemberConfig()
        node = Node(
            "n1",
            config=NodeConfig(),
            storage=disk,
            random=random.Random(1),
            member_config=config,
            address="127.0.0.1:1",
            bootstrap_owners=["n1"] * config.gossip.partition_count,
            **start,
        )
        asked: list[int] = []
        for now in range(20):  # a tick each, and every persist made durable at once
            events: list[core.Event] = [Tick()]
            while events:
                effects = _carry_out(disk, node.step(events.pop(), now))
                asked += [e.at for e in effects if isinstance(e, SetTimer)]
                events += [PersistDone(e.persist_id) for e in effects if isinstance(e, Persist)]
        return asked

    assert wake_ups() == wake_ups(now=0)
    assert wake_ups()


def test_a_node_reaps_only_once_its_ring_has_been_in_place_for_the_grace_period() -> None:
    """The grace period runs from the adoption of the node's ring as well as from the
    tombstone's storing: after a ring change a former owner may still hand data off
    (Dynamo §4.8.1), so n1 asks about its tombstone once it is 100 ticks old, then asks
    nothing for 100 ticks after adopting a new ring (tick 150), then asks again."""
    from dynamokv.impl.core import GossipAck2, RingState
    from dynamokv.impl.core._gossip import GossipConfig
    from dynamokv.impl.core._messages import GossipPacket

    disk = SimDisk()
    member = MemberConfig(gossip=GossipConfig(partition_count=8), tombstone_grace_ticks=100)
    node = _gossip_node(disk, member_config=member)
    ring = node.ring
    key = _keys_first_owned_by(ring, "n1")[0]
    tombstone = (Version(None, ("n2", 1), ()),)
    write = Receive(WriteRequest("n2", "n1", 7, key, tombstone))
    new_ring = RingState(2, "n2#1", ("n1", "n2") * 4)  # the same owners: nothing moves
    adopt = Receive(GossipPacket("n2", "n1", "a1", GossipAck2("n2", "a2", (), new_ring)))
    asked: list[int] = []
    for now in range(400):  # a tick each, and every persist made durable at once
        events: list[core.Event] = [{1: write, 150: adopt}.get(now, Tick())]
        while events:
            effects = _carry_out(disk, node.step(events.pop(), now))
            asked += [now for e in effects if isinstance(e, core.ReapQuery)]
            events += [PersistDone(e.persist_id) for e in effects if isinstance(e, Persist)]
    assert node.ring_state == new_ring
    assert [now for now in asked if now < 150] and min(asked) >= 101
    assert not [now for now in asked if 150 <= now < 250]
    assert [now for now in asked if now >= 250]


def test_by_default_a_reaper_runs_a_round_every_50_ticks_the_first_50_after_its_start() -> None:
    """Rounds follow ``reap_interval_ticks`` (50 by default) from the tick the node started,
    even for tombstones old enough at once (here a grace of 0 ticks)."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    key = _first_key_of_each_owner(ring)["n2"]
    tombstone = (Version(None, ("n1", 1), ()),)
    reaper, out = _reaper_over({key: tombstone}, now=1_000, tombstone_grace_ticks=0)
    reaper.note(key, tombstone)
    rounds = []
    for now in range(1_000, 1_121):
        out.begin()
        reaper.now = now
        reaper.tick(ring, 1, quiet_ticks=1_000)
        if any(isinstance(effect, core.ReapQuery) for effect in out.effects):
            rounds.append(now)
    assert rounds == [1_050, 1_100]


def test_a_get_answered_by_exactly_two_owners_repairs_the_stale_one() -> None:
    """Read repair needs only two answers to compare: with n3 down, a get (r = 2) of a
    key owned by n2, n3, n4 hears n2 (current) and n4 (behind), and sends n4 the merge.

    Reference: Dynamo §5"""
    cluster = small_cluster()
    first = put(cluster, "n2", b"v1").version
    assert first is not None
    for src in ("n1", "n2", "n3", "n5"):  # n4 misses the write and its hinted copy
        cluster.block(src, "n4")
    second = put(cluster, "n2", b"v2", (first.dot,)).version
    settle(cluster)
    cluster.heal()
    cluster.crash("n3")
    coordinator = cluster.nodes["n2"]
    assert coordinator is not None and coordinator.stats.read_repairs == 0
    assert cluster.disks["n4"].read_versions(KEY) == (first,)
    assert get(cluster, "n2", r=2).versions == (second,)
    settle(cluster)
    assert coordinator.stats.read_repairs == 1
    assert cluster.disks["n4"].read_versions(KEY) == (second,)


def test_a_get_refused_before_any_read_reports_zero_replies() -> None:
    result = get(small_cluster(), "n2", r=9)
    assert not result.ok and result.replies == 0


def test_each_owner_a_get_finds_behind_is_repaired_and_counted_once() -> None:
    """Read repair (Dynamo §5): the coordinator sends the merge to every owner that
    answered with less, and ``read_repairs`` counts each such owner once."""
    cluster = small_cluster()
    first = put(cluster, "n2", b"v1").version
    assert first is not None
    for src in ("n1", "n2", "n3", "n5"):  # n4 misses the write and its hinted copy
        cluster.block(src, "n4")
    second = put(cluster, "n2", b"v2", (first.dot,)).version
    settle(cluster)
    cluster.heal()
    coordinator = cluster.nodes["n2"]
    assert coordinator is not None and coordinator.stats.read_repairs == 0
    assert cluster.disks["n4"].read_versions(KEY) == (first,)
    assert get(cluster, "n2", r=3).versions == (second,)
    settle(cluster)
    assert coordinator.stats.read_repairs == 1
    assert cluster.disks["n4"].read_versions(KEY) == (second,)


def test_a_key_written_again_after_the_round_asked_is_not_reaped() -> None:
    """Every owner voted for the tombstone, but the reaper's own copy changed since it
    asked (a put came in): the key is kept, and nobody is told to drop it."""
    from dynamokv.impl.core._reaping import tombstone_may_be_reaped

    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=8)
    key = _first_key_of_each_owner(ring)["n2"]
    tombstone = (Version(None, ("n1", 1), ()),)
    held = {key: tombstone}
    reaper, out = _round_asked(ring, held, may_reap=tombstone_may_be_reaped)
    round_ids = {e.dst: e.round_id for e in out.effects if isinstance(e, core.ReapQuery)}
    written = (Version(b"back", ("n2", 5), (("n1", 1),)),)
    held[key] = written
    out.begin()
    for owner, round_id in sorted(round_ids.items()):
        reaper.on_vote(core.ReapVote(owner, "n2", round_id, (key,)), 1)
    assert held == {key: written} and out.effects == []


@pytest.mark.parametrize("n", [0, -1])
def test_a_ring_of_replication_factor_below_one_is_a_bug_the_ring_refuses(n: int) -> None:
    """The node validates N (an argument error) long before it builds a ring; a ring asked
    for with N below one is a bug of ours."""
    from dynamokv.spec.errors import InvariantError

    assert len(PartitionRing(("n1", "n2"), n=1).preference_list(b"k")) == 1
    with pytest.raises(InvariantError, match="replication factor"):
        PartitionRing(("n1", "n2"), n=n)


def _started_gossip_node() -> Node:
    """:func:`_gossip_node` once its generation is durable (at tick 1), a normal member."""
    disk = SimDisk()
    node = _gossip_node(disk)
    for effect in _carry_out(disk, node.step(Tick(), 0)):
        if isinstance(effect, Persist):
            node.step(PersistDone(effect.persist_id), 1)
    assert node.gossip is not None and node.gossip.self_entry.status == "normal"
    return node


def test_only_a_leaving_node_marks_itself_left_once_it_holds_nothing() -> None:
    """A node marks itself ``left`` when it is leaving and out of the ring with nothing
    left to hand off (Dynamo §4.8.1). A newer ring that leaves out a *normal* node (one
    issued elsewhere that won a race against a ring with it) is no leave command: that
    node, holding nothing either, stays normal, so its join can be issued again."""
    from dynamokv.impl.core._gossip import GossipAck2, RingState
    from dynamokv.impl.core._messages import GossipPacket

    started = _started_gossip_node

    def status_after_rounds(node: Node) -> str:
        for now in range(2, 400):
            node.step(Tick(), now)
        assert node.gossip is not None
        return node.gossip.self_entry.status

    leaving = started()
    leaving.request_leave("n1", 1)
    assert "n1" not in leaving.ring_state.nodes()
    assert status_after_rounds(leaving) == "left"

    normal = started()
    ring = RingState(2, "n2#1", ("n2",) * 8)
    normal.step(Receive(GossipPacket("n2", "n1", "a1", GossipAck2("n2", "a2", (), ring))), 1)
    assert normal.ring_state == ring
    assert status_after_rounds(normal) == "normal"


def test_each_put_is_counted_once_by_the_owner_that_coordinated_it() -> None:
    """The node counters that ``dynamokv sim`` sums and the runtime exports: a put sent to
    a node outside the key's preference list is counted as forwarded there, and as
    coordinated by the owner it went to, the first of the list, which issued its version
    (Dynamo §4.5); a put sent to an owner is coordinated where it arrived."""
    cluster = small_cluster()
    assert put(cluster, "n1", b"apple").ok  # n1 holds no replica of KEY: it forwards
    assert put(cluster, "n3", b"pear").ok
    coordinated = {name: node.stats.puts_coordinated for name, node in cluster.nodes.items()}
    forwarded = {name: node.stats.puts_forwarded for name, node in cluster.nodes.items()}
    assert forwarded == {"n1": 1, "n2": 0, "n3": 0, "n4": 0, "n5": 0}
    assert coordinated == {"n1": 0, "n2": 1, "n3": 1, "n4": 0, "n5": 0}


def test_a_forwarded_put_tries_two_owners_and_then_reports_a_timeout() -> None:
    """A forward goes to the key's owners in turn, two at most, each given
    ``forward_timeout_ticks``: when the second is silent too, the client is told of a
    timeout and no third owner is asked."""
    node = _node(SimDisk())
    ring = PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64)
    keys = (b"f%03d" % i for i in range(1_000))
    key = next(k for k in keys if "n2" not in ring.preference_list(k))
    timeout = NodeConfig().forward_timeout_ticks
    asked = [
        e.dst
        for now, event in (
            (1_000, ClientRequest(1, PutRequest(key, b"v"))),
            (1_000 + timeout, Tick()),
        )
        for e in node.step(event, now)
        if isinstance(e, core.ForwardRequest)
    ]
    assert asked == list(ring.preference_list(key)[:2])
    effects = node.step(Tick(), 1_000 + 2 * timeout)
    assert not [e for e in effects if isinstance(e, core.ForwardRequest)]
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    assert isinstance(reply.result, core.PutResult) and not reply.result.ok
    assert "timeout" in (reply.result.error or "")


def test_an_owner_silent_past_the_forward_timeout_is_suspected_and_asked_last() -> None:
    """The owner a forwarded put waited for in vain is the one the node's health view
    suspects: the forward goes on to the second owner, and a put forwarded right after
    goes to that second owner first (healthy owners first), the silent one last.

    Reference: Dynamo §4.6"""
    node = _node(SimDisk())
    ring = PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64)
    keys = (b"f%03d" % i for i in range(1_000))
    key = next(k for k in keys if "n2" not in ring.preference_list(k))
    owners = ring.preference_list(key)
    timeout = NodeConfig().forward_timeout_ticks
    node.step(ClientRequest(1, PutRequest(key, b"v")), 1_000)
    node.step(Tick(), 1_000 + timeout)
    assert not node.health.is_healthy(owners[0], 1_000 + timeout)
    assert node.health.is_healthy(owners[1], 1_000 + timeout)
    effects = node.step(ClientRequest(2, PutRequest(key, b"w")), 1_000 + timeout)
    assert [e.dst for e in effects if isinstance(e, core.ForwardRequest)] == [owners[1]]


def test_an_empty_repair_push_repairs_and_writes_nothing() -> None:
    """A repair push carries the keys an exchange found differing (Dynamo §4.7); one that
    carries none (a peer's empty message) counts no key as repaired and writes nothing,
    while a push of one new key counts that key."""
    node = _started_gossip_node()
    effects = node.step(Receive(core.RepairPush("n2", "n1", 0, ())), 2)
    assert node.stats_member.keys_repair_applied == 0
    assert not [e for e in effects if isinstance(e, Persist)]
    pushed = ((b"k", (Version(b"v", ("n2", 1)),)),)
    node.step(Receive(core.RepairPush("n2", "n1", 0, pushed)), 3)
    assert node.stats_member.keys_repair_applied == 1


def test_each_get_is_counted_once_by_the_node_that_coordinated_it() -> None:
    """ "Any Dynamo node can act as a coordinator for a read request" (Dynamo §6.4): each
    node counts the gets it coordinated, once, in its node counters."""
    cluster = small_cluster()
    assert get(cluster, "n1").ok  # n1 holds no replica of KEY and still coordinates it
    assert get(cluster, "n3").ok
    assert get(cluster, "n3").ok
    coordinated = {name: node.stats.gets_coordinated for name, node in cluster.nodes.items()}
    assert coordinated == {"n1": 1, "n2": 0, "n3": 2, "n4": 0, "n5": 0}


def test_puts_beyond_lease_waiters_max_are_refused_while_the_lease_is_not_durable() -> None:
    """Puts wait for the counter lease to be durable, ``lease_waiters_max`` of them at
    most: one more is answered at once as a failure (overloaded), not left waiting."""
    node = _node(SimDisk(), lease_waiters_max=1)
    assert not [
        e for e in node.step(ClientRequest(1, PutRequest(KEY, b"a")), 0) if isinstance(e, Reply)
    ]
    (reply,) = [
        e for e in node.step(ClientRequest(2, PutRequest(KEY, b"b")), 0) if isinstance(e, Reply)
    ]
    assert reply.request_id == 2 and isinstance(reply.result, core.PutResult)
    assert not reply.result.ok and "lease_waiters_max" in (reply.result.error or "")


def test_at_most_1024_puts_wait_for_a_counter_lease_by_default() -> None:
    """``lease_waiters_max`` is 1,024 by default: while the first lease is not durable,
    1,024 puts wait for it and the next one is refused at once as overloaded."""
    node = _node(SimDisk())
    puts: list[core.Request] = [PutRequest(KEY, b"%d" % index) for index in range(1_025)]
    (reply,) = _replies_to_requests(node, puts)
    assert reply.request_id == 1_024
    assert reply.result == core.PutResult(False, error="overloaded: lease_waiters_max")


def test_a_node_has_at_most_1024_requests_in_flight_by_default() -> None:
    """``requests_in_flight_max`` is 1,024 by default: with the replicas silent, a node
    coordinates 1,024 gets at once and refuses the next one as overloaded."""
    node = _node(SimDisk())
    gets: list[core.Request] = [core.GetRequest(KEY) for _ in range(1_025)]
    (reply,) = _replies_to_requests(node, gets)
    assert reply.request_id == 1_024 and not reply.result.ok
    assert reply.result.error == "overloaded: requests_in_flight_max"


def test_a_put_ships_its_replicas_its_coordinators_versions_not_anothers_sibling() -> None:
    """A put sends its replicas the new version and the coordinator's own held versions
    (the rule of ``_to_ship``); a concurrent sibling written by another node, held here
    and not seen by the put, stays out of the writes."""
    disk = SimDisk()
    node = _node(disk)
    lease = [
        e for e in node.step(ClientRequest(1, PutRequest(KEY, b"a")), 0) if isinstance(e, Persist)
    ]
    _carry_out(disk, lease)
    disk.sync(lease[0].persist_id)
    node.step(PersistDone(lease[0].persist_id), 1)
    other = Version(b"theirs", ("n3", 7))
    _carry_out(disk, node.step(Receive(core.RepairPush("n3", "n2", 0, ((KEY, (other,)),))), 2))
    effects = node.step(ClientRequest(2, PutRequest(KEY, b"mine")), 3)
    writes = [e for e in effects if isinstance(e, WriteRequest)]
    assert writes
    for write in writes:
        assert other not in write.versions
        assert all(v.dot[0] == "n2" for v in write.versions)
