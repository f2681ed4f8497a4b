"""The node's small rules, each held to what its docstring promises.

The quorum rules answer at *least* R replies or W acks (not exactly), and a strict
quorum counts owners only; the dot rule refuses only a counter this node already
issued; a hint's size counts 16 bytes per clock entry and dot; a node woken at its
armed time asks for the next wake-up.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from core_helpers import KEY, put, settle, small_cluster
from dynamokv.impl.core import (
    ClientRequest,
    Effect,
    Event,
    ForwardRequest,
    GetRequest,
    GetResult,
    GossipHealth,
    MemberConfig,
    Node,
    NodeConfig,
    PartitionRing,
    Persist,
    PersistDone,
    PutRequest,
    PutResult,
    ReadRequest,
    Receive,
    RepairPush,
    Reply,
    Result,
    SetTimer,
    Tick,
    TimeoutHealth,
    TransferAck,
    TransferBatch,
    Version,
    WriteAck,
    WriteRequest,
    hint_size_bytes,
    hint_to_store,
    next_counter,
    read_may_answer,
    versions,
    write_may_answer,
)
from dynamokv.impl.core._versions import context_of
from dynamokv.impl.sim import SimDisk
from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import ArgumentError, InvariantError
from hypothesis import given
from hypothesis import strategies as st

NODES = ["n1", "n2", "n3", "n4", "n5", "n6"]


@st.composite
def replies(draw: st.DrawFn) -> tuple[list[str], dict[str, str | None]]:
    """Nodes asked (each an owner, or a substitute holding a hint for one) and, in the
    order they came, the ones that replied."""
    asked = draw(st.lists(st.sampled_from(NODES), min_size=1, max_size=6, unique=True))
    targets = {node: draw(st.sampled_from([None, "n9"])) for node in asked}
    replied = draw(st.permutations(asked))
    return replied[: draw(st.integers(0, len(replied)))], targets


@given(replies(), st.integers(1, 4), st.booleans())
def test_a_read_answers_once_r_replies_count_and_stays_answerable(
    case: tuple[list[str], dict[str, str | None]], r: int, strict: bool
) -> None:
    replied, targets = case
    counted = [node for node in replied if not strict or targets[node] is None]
    assert read_may_answer(replied, targets, r=r, strict=strict) == (len(counted) >= r)


@given(replies(), st.integers(1, 4), st.booleans())
def test_a_write_answers_once_w_acks_count_with_the_coordinators_own(
    case: tuple[list[str], dict[str, str | None]], w: int, strict: bool
) -> None:
    acked, targets = case
    coordinator = next(iter(targets))
    # A replica is counted once: a substitute's ack counts for the owner it stands in for.
    counted = {targets[node] or node for node in acked if not strict or targets[node] is None}
    expected = coordinator in acked and len(counted) >= w
    assert write_may_answer(acked, targets, w=w, coordinator=coordinator, strict=strict) == expected


def test_more_replies_than_the_quorum_still_answer() -> None:
    owners: dict[str, str | None] = {"n1": None, "n2": None, "n3": None}
    for strict in (True, False):
        assert read_may_answer(["n1", "n2", "n3"], owners, r=2, strict=strict)
        assert write_may_answer(["n1", "n2", "n3"], owners, w=2, coordinator="n1", strict=strict)


def test_an_owner_and_its_substitute_count_once_toward_w() -> None:
    """The coordinator sent n3's copy to the substitute n5 when n3 was slow, then n3
    answered too. n5 hands its hint to n3 and drops it (Dynamo §4.6), so the two acks are
    one replica: W=3 needs another (a sloppy sweep with N=5, W=4 acknowledged puts held
    by three nodes when both were counted)."""
    targets: dict[str, str | None] = {"n1": None, "n2": None, "n3": None, "n5": "n3"}
    assert not write_may_answer(["n1", "n3", "n5"], targets, w=3, coordinator="n1", strict=False)
    assert write_may_answer(["n1", "n2", "n5"], targets, w=3, coordinator="n1", strict=False)
    assert write_may_answer(["n1", "n3", "n5"], targets, w=2, coordinator="n1", strict=False)


def test_a_strict_quorum_does_not_count_a_substitutes_reply() -> None:
    targets: dict[str, str | None] = {"n1": None, "n5": "n2"}
    assert not read_may_answer(["n1", "n5"], targets, r=2, strict=True)
    assert read_may_answer(["n1", "n5"], targets, r=2, strict=False)


def test_the_next_counter_ignores_other_nodes_counters_in_what_it_holds() -> None:
    """Only this node's own entries can collide with its new dot (Dynamo §4.4)."""
    held = (Version(b"x", ("n9", 50), (("n0", 70), ("n2", 3), ("n9", 49))),)
    assert next_counter("n2", issued=3, context=(), held=held) == 4
    assert next_counter("n2", issued=3, context=(("n2", 9),), held=held) == 10
    # Nor in the context the client read: only this node's own entry counts.
    assert next_counter("n2", issued=3, context=(("n1", 20), ("n2", 9)), held=()) == 10
    assert next_counter("n2", issued=3, context=(("n1", 20), ("n3", 30)), held=()) == 4


def test_the_next_counter_refuses_to_reissue_a_counter_held_in_a_context() -> None:
    held = (Version(b"x", ("n9", 1), (("n2", 5),)),)
    with pytest.raises(InvariantError):  # a dot held in a context would be issued again
        next_counter("n2", issued=3, context=(), held=held)


def test_the_next_counter_refuses_to_reissue_a_counter_held_as_a_dot() -> None:
    """A held version's own dot is not in its context, so it is checked on its own;
    another node's dot with the same counter is no collision."""
    with pytest.raises(InvariantError):  # ("n2", 4) would be issued again
        next_counter("n2", issued=3, context=(), held=(Version(b"x", ("n2", 4)),))
    assert next_counter("n2", issued=3, context=(), held=(Version(b"x", ("n9", 4)),)) == 4


def test_a_hint_counts_its_key_values_and_16_bytes_per_clock_entry_and_dot() -> None:
    versions = (
        Version(b"abc", ("n1", 1), (("n1", 0), ("n2", 4))),
        Version(None, ("n2", 5)),
    )
    assert hint_size_bytes(b"key", versions) == 3 + (3 + 16 * 3) + (0 + 16 * 1)


@pytest.mark.parametrize("view", [TimeoutHealth, GossipHealth])
def test_a_timed_out_peer_is_suspected_for_50_ticks_by_default(view: type[TimeoutHealth]) -> None:
    """The health views' default: a replica timeout makes the peer unhealthy for
    ``suspect_ticks`` (50 by default, as a gossip node's ``suspect_ticks``), and a
    message from it clears the suspicion at once."""
    health = view()
    assert MemberConfig().suspect_ticks == health.suspect_ticks == 50
    health.on_timeout("n2", 1_000)
    assert not health.is_healthy("n2", 1_049)
    assert health.is_healthy("n2", 1_050)
    health.on_timeout("n2", 2_000)
    health.on_message("n2", 2_001)
    assert health.is_healthy("n2", 2_001)


def _step_durably(node: Node, disk: SimDisk, event: Event, now: int) -> list[Effect]:
    """Step ``node`` with ``event``; each persist it asks for is applied to ``disk`` and
    reported durable at once (the node's effects of those steps are returned too)."""
    effects = node.step(event, now)
    for effect in effects:
        if isinstance(effect, Persist):
            disk.apply(effect)
    done = [PersistDone(e.persist_id) for e in effects if isinstance(e, Persist)]
    for event_done in done:
        effects += _step_durably(node, disk, event_done, now)
    return list(effects)


def _node_n2_of_five(disk: SimDisk, **config: Any) -> Node:
    """Node "n2" of five on a balanced ring (N=3, Q=64), storing on ``disk``, with
    ``config``'s options."""
    return Node(
        "n2",
        config=NodeConfig(**config),
        membership=PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64),
        health=TimeoutHealth(),
        storage=disk,
        random=random.Random(1),
    )


def test_a_node_woken_at_its_armed_tick_asks_for_the_next_one() -> None:
    """Ticks far from zero, each a new int object, as a real driver's clock gives."""
    disk = SimDisk()
    node = _node_n2_of_five(disk)

    def step(event: Event, now: int) -> list[Effect]:
        return _step_durably(node, disk, event, now)

    def fresh(tick: int) -> int:
        return int(str(tick))  # equal to the armed tick, never the same object

    effects = step(ClientRequest(1, PutRequest(b"k1", b"v")), fresh(10_000))
    timers = [e.at for e in effects if isinstance(e, SetTimer)]
    assert timers
    woken = 0
    while timers and woken < 100:  # the put's replica and request deadlines fall due
        woken += 1
        last = timers[-1]
        timers = [e.at for e in step(Tick(), fresh(last)) if isinstance(e, SetTimer)]
    assert not timers, "the node kept asking for wake-ups"
    assert woken >= 2, "the request's later deadline was never armed after the first wake-up"
    effects = step(ClientRequest(2, PutRequest(b"k2", b"v")), fresh(last + 5))
    assert [e.at for e in effects if isinstance(e, SetTimer)], "no wake-up asked for"


def test_a_node_asks_for_no_wake_up_later_than_one_it_is_waiting_for() -> None:
    """A wake-up asked for stays asked for (the simulator and the runtime keep each),
    so a later deadline is armed only once the earlier wake-up came: asking again
    for a later tick would only add a wake-up with nothing due."""
    cluster = small_cluster()
    cluster.run(until=10)
    node = cluster.nodes["n2"]
    assert node is not None
    asked: list[tuple[int, int]] = []  # (now, at)
    step = node.step

    def recording(event: Event, now: int) -> list[Effect]:
        effects = step(event, now)
        asked.extend((now, e.at) for e in effects if isinstance(e, SetTimer))
        return effects

    node.step = recording  # type: ignore[method-assign]
    results: list[Result] = []
    cluster.submit("n2", PutRequest(KEY, b"v1"), results.append)
    cluster.run(until=cluster.now + 3)
    assert len(results) == 1  # answered: its deadlines are gone, its wake-up is not
    cluster.submit("n2", PutRequest(b"other", b"v2"), results.append)
    cluster.run(until=cluster.now + 400)
    assert [result.ok for result in results] == [True, True]
    assert asked, "no wake-up asked for"
    for index, (now, at) in enumerate(asked):
        waiting = [earlier for _, earlier in asked[:index] if earlier > now]
        assert all(at < earlier for earlier in waiting), (now, at, waiting)


def test_a_held_version_that_saw_an_incoming_one_is_not_absorbed() -> None:
    """Hand-made contexts can make two versions each supersede the other; the fast path
    must then decline (``absorbs`` is False) and the merge keep what reconcile keeps."""
    incoming = (Version(b"x", ("a", 1), (("b", 1),)),)  # saw h's dot
    held = (Version(b"h", ("b", 1), (("a", 1),)),)  # saw x's dot
    assert not versions.absorbs(incoming, held)
    assert versions.merge(held, incoming) == versions.reconcile((*held, *incoming))


def test_a_copy_of_what_is_held_is_absorbed() -> None:
    """Versions arrive decoded from the wire: equal to what is held, never the same
    objects; the fast path must still see them as the same versions."""
    held = (Version(b"x", ("a", 1), (("b", 2),)),)
    copy = (Version(b"x", tuple(["a", 1]), tuple([tuple(["b", 2])])),)  # type: ignore[arg-type]
    assert copy[0].dot is not held[0].dot
    assert versions.absorbs(copy, held)


def test_a_hint_that_would_pass_the_byte_bound_is_refused() -> None:
    held = (Version(b"v" * 20, ("n1", 1)),)
    size = hint_size_bytes(b"k", held)
    common = {"hint_id": 1, "hints_count": 0, "count_max": 10}
    assert hint_to_store("n3", b"k", held, hints_bytes=50, bytes_max=50 + size, **common)
    assert hint_to_store("n3", b"k", held, hints_bytes=50, bytes_max=49 + size, **common) is None


def test_a_tombstone_grace_of_zero_ticks_is_allowed_and_a_negative_one_refused() -> None:
    assert MemberConfig(tombstone_grace_ticks=0).tombstone_grace_ticks == 0
    try:
        MemberConfig(tombstone_grace_ticks=-1)
    except ArgumentError:
        pass
    else:
        raise AssertionError("a negative grace was accepted")


@pytest.mark.parametrize(
    "option", ["recovery_grace_ticks", "reaped_memory_ticks", "reaped_memory_keys_max"]
)
def test_a_grace_or_a_memory_of_zero_is_allowed_and_a_negative_one_refused(option: str) -> None:
    """A recovery grace of 0 lets anti-entropy (Dynamo §4.7) exchange with a recovered
    peer at once, without leaving it to hinted handoff first (§4.6); a memory of reaped
    tombstones of 0 ticks or 0 keys keeps none. A negative time or count is no setting:
    it is refused, naming the field and the value."""
    assert getattr(MemberConfig(**{option: 0}), option) == 0
    with pytest.raises(ArgumentError, match=f"^{option} must be at least 0, got -1$"):
        MemberConfig(**{option: -1})


@pytest.mark.parametrize("quorum", ["r", "w"])
def test_a_quorum_of_zero_or_beyond_n_is_refused(quorum: str) -> None:
    """R and W count replies out of N: 1 to N, never 0 (a read or write nobody answers)."""
    for value in (0, 4):
        with pytest.raises(ArgumentError, match=f"{quorum} must be in 1..n=3"):
            NodeConfig(n=3, **{quorum: value})  # type: ignore[arg-type]
    assert getattr(NodeConfig(n=3, **{quorum: 1}), quorum) == 1  # type: ignore[arg-type]


def test_a_new_members_counters_all_start_at_zero() -> None:
    from dataclasses import fields

    from dynamokv.impl.core import MemberStats

    stats = MemberStats()
    assert {field.name: getattr(stats, field.name) for field in fields(stats)} == {
        field.name: 0 for field in fields(stats)
    }


def test_a_cached_ring_renamed_with_other_owners_is_rebuilt_for_them() -> None:
    """Two rings under one name (version, issuer) with owners that sort either way: the
    cache hands out the ring of the owners asked for, never the other one."""
    from dynamokv.impl.core import RingCache

    cache = RingCache()
    high = ("b", "a", "b", "a")
    low = ("a", "b", "a", "b")
    assert cache.ring(1, "a", high, n=2).assignment == high
    assert cache.ring(1, "a", low, n=2).assignment == low
    assert cache.ring(1, "a", high, n=2).assignment == high


def test_a_ring_of_fewer_nodes_than_n_keeps_one_replica_on_each_node() -> None:
    """A key is stored on N distinct physical nodes; a ring of fewer nodes than N has no
    N of them to give, so its replication factor is the number of nodes and each key's
    preference list names every node once.

    Reference: Dynamo §4.3
    """
    from dynamokv.impl.core import RingCache

    ring = RingCache().ring(1, "a", ("a", "b", "a", "b"), n=3)
    assert (ring.n, ring.q) == (2, 4)
    assert sorted(ring.preference_list(b"cart")) == ["a", "b"]


def test_a_ring_remembers_the_positions_of_at_most_65536_keys() -> None:
    """The position cache is bounded (65,536 keys): the next key finds it full and it
    starts over; a remembered or recomputed position, and the partition made from it, are
    the MD5 ones."""
    ring = PartitionRing.balanced(["n1", "n2", "n3"], n=3, q=64)
    keys = [index.to_bytes(3, "big") for index in range(65_537)]
    first = [ring.partition_of(key) for key in keys[:-1]]
    assert len(ring._positions) == 65_536
    ring.partition_of(keys[-1])
    assert len(ring._positions) == 1
    assert [ring.partition_of(key) for key in keys[:100]] == first[:100]
    assert [ring.position_of(key) for key in keys[:100]] == [
        spec_ring.md5_position(key) for key in keys[:100]
    ]
    assert first[:100] == [spec_ring.md5_position(key) * 64 >> 128 for key in keys[:100]]


def test_a_persist_done_for_a_persist_never_emitted_is_a_bug_the_outbox_refuses() -> None:
    from dynamokv.impl.core import Outbox

    out = Outbox()
    with pytest.raises(InvariantError, match="never emitted"):
        out.persisted(5)


@pytest.mark.parametrize("view", [TimeoutHealth, GossipHealth])
def test_a_peer_timed_out_early_is_healthy_again_suspect_ticks_later(
    view: type[TimeoutHealth],
) -> None:
    """The suspicion lasts ``suspect_ticks`` after the timeout, whatever tick that was."""
    health = view()
    health.on_timeout("n2", 30)
    assert not health.is_healthy("n2", 79)
    assert health.is_healthy("n2", 80)


def test_reconcile_takes_an_equal_copy_once_and_refuses_one_dot_with_two_values() -> None:
    """A dot names one version: two equal copies of it (other objects, as a replica and
    the wire make them) reconcile to one, while one dot carrying two different values is
    a bug, refused rather than letting a value vanish."""
    version = Version(b"apple", ("n2", 3), (("n1", 1),))
    copy = Version(b"apple", ("n2", 3), (("n1", 1),))
    assert copy is not version
    assert versions.reconcile((version, copy)) == (version,)
    with pytest.raises(InvariantError, match="one dot carries two different versions"):
        versions.reconcile((version, Version(b"pear", ("n2", 3), (("n1", 1),))))


def test_a_merge_refuses_an_incoming_version_whose_dot_names_another_held_value() -> None:
    """The merge's fast path matches held and incoming versions by dot: an incoming
    version under a held dot with another value is the same bug as in reconcile, refused
    there too, while an equal copy under that dot is simply the held version again."""
    held = (Version(b"apple", ("n2", 3), (("n1", 1),)),)
    copy = (Version(b"apple", ("n2", 3), (("n1", 1),)),)
    assert versions.merge(held, copy) == held
    with pytest.raises(InvariantError, match="one dot carries two different versions"):
        versions.merge(held, (Version(b"pear", ("n2", 3), (("n1", 1),)),))


def test_a_version_is_covered_by_itself_an_equal_copy_or_one_that_saw_it() -> None:
    """``covers``: what a replica holds covers a version when it holds it, an equal copy
    of it, or a later version whose context names its dot; a concurrent sibling, whatever
    its value or dot sorts as, does not cover it."""
    version = Version(b"m", ("n2", 3))
    copy = Version(b"m", ("n2", 3))
    later = Version(b"z", ("n3", 1), (("n2", 3),))
    for sibling in (Version(b"a", ("n1", 1)), Version(b"z", ("n4", 9)), Version(None, ("n2", 2))):
        assert not versions.covers((sibling,), version)
        assert versions.covers((sibling, later), version)
    assert versions.covers((version,), version)
    assert versions.covers((copy,), version)
    assert not versions.covers((Version(b"z", ("n3", 1), (("n2", 2),)),), version)


def test_a_zero_counter_in_a_context_is_the_same_as_no_entry() -> None:
    """A get's context is the merge of its siblings' clocks; an entry with counter 0 says
    nothing of that node was seen, so it is left out (as a clock holds only counters
    above 0) rather than passed back to the client."""
    seen = (Version(b"a", ("n1", 2), (("n2", 0), ("n3", 4))), Version(b"b", ("n4", 1)))
    assert versions.context_of(seen) == (("n1", 2), ("n3", 4), ("n4", 1))


def _two_puts_started_after_the_lease(in_flight_max: int) -> Node:
    """A node whose two client puts waited for the counter lease and then both started
    at once (the lease waiters are not held to ``requests_in_flight_max``)."""
    node = Node(
        "n2",
        config=NodeConfig(requests_in_flight_max=in_flight_max),
        membership=PartitionRing.balanced(["n1", "n2", "n3", "n4", "n5"], n=3, q=64),
        health=TimeoutHealth(),
        storage=SimDisk(),
        random=random.Random(1),
    )
    effects = node.step(ClientRequest(1, PutRequest(KEY, b"a")), 1)
    assert node.step(ClientRequest(2, PutRequest(KEY, b"b")), 1) == []  # waits too
    (lease,) = [e for e in effects if isinstance(e, Persist)]
    started = node.step(PersistDone(lease.persist_id), 1)
    assert len([e for e in started if isinstance(e, WriteRequest)]) == 4  # both puts
    return node


def test_a_node_over_its_in_flight_bound_takes_no_forwarded_put() -> None:
    """``requests_in_flight_max`` bounds forwarded puts too: puts that waited for the
    counter lease all start once it is durable, which can leave more requests in flight
    than the bound; a forwarded put arriving then is not coordinated (its forwarder times
    out and tries the next owner), while under the bound the same forward is."""
    forward = Receive(ForwardRequest("n1", "n2", 7, PutRequest(KEY, b"c")))
    assert _two_puts_started_after_the_lease(1).step(forward, 2) == []
    effects = _two_puts_started_after_the_lease(3).step(forward, 2)
    assert [e.dst for e in effects if isinstance(e, WriteRequest)] == ["n3", "n4"]


def test_a_client_request_over_the_in_flight_bound_is_refused_as_overloaded() -> None:
    """A client's request finding more requests in flight than ``requests_in_flight_max``
    (as after a burst of lease waiters) is refused at once with an overloaded error, not
    coordinated; under the bound the same get is sent to the replicas."""
    get = ClientRequest(3, GetRequest(KEY))
    (reply,) = _two_puts_started_after_the_lease(1).step(get, 2)
    assert isinstance(reply, Reply) and not reply.result.ok
    assert reply.result.error == "overloaded: requests_in_flight_max"
    effects = _two_puts_started_after_the_lease(3).step(get, 2)
    assert {e.dst for e in effects if isinstance(e, ReadRequest)} == {"n3", "n4"}


def test_a_node_at_its_in_flight_bound_takes_neither_a_forwarded_put_nor_a_client_request() -> None:
    """``requests_in_flight_max`` is the most requests a node has in flight: with exactly
    that many in flight, a forwarded put is not coordinated, as a client's request is
    refused."""
    forward = Receive(ForwardRequest("n1", "n2", 7, PutRequest(KEY, b"c")))
    assert _two_puts_started_after_the_lease(2).step(forward, 2) == []
    (reply,) = _two_puts_started_after_the_lease(2).step(ClientRequest(3, GetRequest(KEY)), 2)
    assert isinstance(reply, Reply) and not reply.result.ok


def test_an_overloaded_node_refuses_a_get_with_a_get_result_and_a_put_with_a_put_result() -> None:
    """A request refused as overloaded is answered with a failed result of its own kind:
    a client's get with a ``GetResult``, a put with a ``PutResult``, neither ``ok``."""
    for request, kind in ((GetRequest(KEY), GetResult), (PutRequest(KEY, b"c"), PutResult)):
        (reply,) = _two_puts_started_after_the_lease(1).step(ClientRequest(3, request), 2)
        assert isinstance(reply, Reply) and type(reply.result) is kind
        assert not reply.result.ok
        assert reply.result.error == "overloaded: requests_in_flight_max"


def test_each_replica_a_put_sends_to_a_substitute_after_a_timeout_counts_once() -> None:
    """``substitutions`` counts the replicas a coordinator sent to a substitute when an
    owner stayed silent past the replica timeout (sloppy quorum, Dynamo §4.6): one for
    a crashed owner, none for a put whose owners all answer."""
    cluster = small_cluster()
    put(cluster, "n2", b"apple")
    settle(cluster, 20)
    coordinator = cluster.nodes["n2"]
    assert coordinator is not None and coordinator.stats.substitutions == 0
    cluster.crash("n4")
    put(cluster, "n2", b"pear")
    settle(cluster, 20)
    assert coordinator.stats.substitutions == 1
    (hint,) = cluster.disks["n5"].synced_hints()
    assert hint.owner == "n4"


def test_a_put_ships_the_sibling_that_alone_saw_an_earlier_dot_of_the_coordinator() -> None:
    """A replica given the coordinator's new dot must also get every earlier dot of the
    coordinator's that the writer's context did not name, or a version that saw it. Here
    n2's first write was superseded by n3's version, which is all n2 holds of it; a put
    with an empty context, or one naming only other nodes, then ships n3's version beside
    the new one; a put whose context names that dot ships only n2's own versions."""
    disk = SimDisk()
    node = _node_n2_of_five(disk)

    def shipped(context: tuple[tuple[str, int], ...], now: int) -> set[tuple[Version, ...]]:
        request = ClientRequest(now, PutRequest(KEY, b"mine", context))
        effects = _step_durably(node, disk, request, now)
        return {e.versions for e in effects if isinstance(e, WriteRequest)}

    (first,) = {versions[-1] for versions in shipped((), 1)}
    theirs = Version(b"theirs", ("n3", 1), (("n1", 5), first.dot))
    _step_durably(node, disk, Receive(WriteRequest("n3", "n2", 9, KEY, (theirs,))), 2)
    assert disk.read_versions(KEY) == (theirs,)
    (blind,) = shipped((), 3)
    assert len(blind) == 2 and theirs in blind
    (informed,) = shipped((first.dot,), 4)
    assert theirs not in informed and {v.dot[0] for v in informed} == {"n2"}
    (naming_others,) = shipped((("n1", 7),), 5)  # n2 itself not named: nothing seen of it
    assert theirs in naming_others
    (naming_a_later_node,) = shipped((("n4", 7),), 6)  # nor here, n4 sorting after n2
    assert theirs in naming_a_later_node


def test_a_put_does_not_ship_another_nodes_sibling_that_saw_nothing_of_the_coordinator() -> None:
    """The other side of that rule: a held sibling of another node whose context names
    none of the coordinator's dots is not shipped with the coordinator's new version,
    whether its context names other nodes only (n1 and n4, on either side of n2) or
    names n2 at 0 (nothing of it seen); the replicas get n2's version alone."""
    disk = SimDisk()
    node = _node_n2_of_five(disk)
    theirs = (
        Version(b"theirs", ("n3", 1), (("n1", 2), ("n4", 3))),
        Version(b"zero", ("n5", 1), (("n2", 0),)),
    )
    _step_durably(node, disk, Receive(WriteRequest("n3", "n2", 9, KEY, theirs)), 1)
    request = ClientRequest(2, PutRequest(KEY, b"mine"))
    effects = _step_durably(node, disk, request, 2)
    shipped = {e.versions for e in effects if isinstance(e, WriteRequest)}
    assert [[v.dot[0] for v in versions] for versions in shipped] == [["n2"]]
    assert len(disk.read_versions(KEY)) == 3  # n2 holds all three siblings


def test_a_key_may_hold_exactly_versions_per_key_max_siblings() -> None:
    """``versions_per_key_max`` is the most siblings a key may hold, the bound included:
    two concurrent puts at a coordinator with a bound of 2 leave both siblings, and both
    are shipped to the replicas."""
    disk = SimDisk()
    node = _node_n2_of_five(disk, versions_per_key_max=2)
    for request_id in (1, 2):
        request = ClientRequest(request_id, PutRequest(KEY, b"v%d" % request_id))
        effects = _step_durably(node, disk, request, request_id)
    assert len(disk.read_versions(KEY)) == 2
    assert {len(e.versions) for e in effects if isinstance(e, WriteRequest)} == {2}


def test_a_put_past_versions_per_key_max_siblings_is_refused_not_a_crash() -> None:
    """Concurrent blind puts each add a sibling; the one that would pass the bound is
    refused by its coordinator, an operating error naming the way out (read, then write
    back with the context), and nothing is written or sent. A put with the siblings'
    context still succeeds: it supersedes them."""
    disk = SimDisk()
    node = _node_n2_of_five(disk, versions_per_key_max=2)
    for request_id in (1, 2):
        _step_durably(
            node, disk, ClientRequest(request_id, PutRequest(KEY, b"v%d" % request_id)), request_id
        )
    effects = _step_durably(node, disk, ClientRequest(3, PutRequest(KEY, b"v3")), 3)
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    assert not reply.result.ok and reply.result.error.startswith("too many siblings")
    assert not [e for e in effects if isinstance(e, WriteRequest)]
    assert len(disk.read_versions(KEY)) == 2
    context = context_of(disk.read_versions(KEY))
    effects = _step_durably(node, disk, ClientRequest(4, PutRequest(KEY, b"merged", context)), 4)
    assert [len(e.versions) for e in effects if isinstance(e, WriteRequest)] == [1, 1]


def test_a_replica_merges_every_sibling_it_is_sent() -> None:
    """The bound is the coordinators': a replica with a bound of 2 sent two concurrent
    versions stores both and acknowledges, stores both when an anti-entropy repair
    brings them, and merges a third from another owner rather than refuse it (refusing
    would keep the replicas apart for good, and a peer's message must not crash it)."""
    disk = SimDisk()
    node = _node_n2_of_five(disk, versions_per_key_max=2)
    siblings = (Version(b"a", ("n3", 1)), Version(b"b", ("n4", 1)))
    effects = _step_durably(node, disk, Receive(WriteRequest("n3", "n2", 9, KEY, siblings)), 1)
    assert disk.read_versions(KEY) == siblings
    assert [e.ok for e in effects if isinstance(e, WriteAck)] == [True]
    repair = RepairPush("n3", "n2", 0, ((b"other", siblings),))  # merged in one batch
    _step_durably(node, disk, Receive(repair), 2)
    assert disk.read_versions(b"other") == siblings
    third = (Version(b"c", ("n5", 1)),)
    effects = _step_durably(node, disk, Receive(WriteRequest("n5", "n2", 10, KEY, third)), 3)
    assert len(disk.read_versions(KEY)) == 3
    assert [e.ok for e in effects if isinstance(e, WriteAck)] == [True]


def test_a_put_that_would_pass_a_keys_share_of_version_set_bytes_max_is_refused() -> None:
    """Large blind puts to one key each add a sibling; the store keeps a key's versions in
    one record, so they are bounded in bytes too. A coordinator keeps a key to
    ``version_set_bytes_max // n`` (n coordinators may accept siblings at once, and every
    replica must hold them all), refusing the put that would pass it: nothing is written
    or sent. A put with the siblings' context still succeeds."""
    disk = SimDisk()
    node = _node_n2_of_five(disk, version_set_bytes_max=3 * 1_200)  # 1,200 per coordinator
    value = b"x" * 500
    for request_id in (1, 2):
        request = ClientRequest(request_id, PutRequest(KEY, value))
        effects = _step_durably(node, disk, request, request_id)
        assert len([e for e in effects if isinstance(e, WriteRequest)]) == 2
    effects = _step_durably(node, disk, ClientRequest(3, PutRequest(KEY, value)), 3)
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    assert not reply.result.ok and reply.result.error.startswith("too large")
    assert "1200 (version_set_bytes_max / n)" in reply.result.error
    assert not [e for e in effects if isinstance(e, WriteRequest)]
    assert len(disk.read_versions(KEY)) == 2
    context = context_of(disk.read_versions(KEY))
    effects = _step_durably(node, disk, ClientRequest(4, PutRequest(KEY, value, context)), 4)
    assert len([e for e in effects if isinstance(e, WriteRequest)]) == 2
    assert len(disk.read_versions(KEY)) == 1


def test_a_put_that_leaves_one_version_may_take_the_whole_version_set_bytes_max() -> None:
    """The share ``version_set_bytes_max // n`` bounds siblings only: a put that leaves a
    key one version (a first write, or one whose context names every sibling) is taken up
    to the whole bound, so a larger n does not refuse a value the HTTP API accepts."""
    disk = SimDisk()
    node = _node_n2_of_five(disk, n=4, r=2, w=2, version_set_bytes_max=4 * 1_200)
    value = b"x" * 2_000  # past the 1,200-byte share, within the whole bound
    effects = _step_durably(node, disk, ClientRequest(1, PutRequest(KEY, value)), 1)
    assert len([e for e in effects if isinstance(e, WriteRequest)]) == 3
    context = context_of(disk.read_versions(KEY))
    effects = _step_durably(node, disk, ClientRequest(2, PutRequest(KEY, value, context)), 2)
    assert len([e for e in effects if isinstance(e, WriteRequest)]) == 3
    effects = _step_durably(node, disk, ClientRequest(3, PutRequest(KEY, value)), 3)
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    assert reply.result.error.startswith("too large")  # a second sibling: the share holds
    huge = b"x" * (4 * 1_200)
    effects = _step_durably(node, disk, ClientRequest(4, PutRequest(b"other", huge)), 4)
    (reply,) = [e for e in effects if isinstance(e, Reply)]
    assert reply.result.error.startswith("too large")  # past the whole bound: never


def test_a_replica_refuses_a_merge_past_version_set_bytes_max_and_keeps_what_it_holds() -> None:
    """What n coordinators accept at once fits a replica; past the whole bound (a bug, or
    a forged message) a replica keeps what it holds instead of failing to store it: it
    refuses a replica write (a ``WriteAck`` that is not ok), ignores the key in an
    anti-entropy push, and does not acknowledge a transfer batch (the sender keeps the
    keys and sends them again), each counted in ``merges_refused``."""
    disk = SimDisk()
    node = _node_n2_of_five(disk, version_set_bytes_max=1_200)
    held = (Version(b"a" * 500, ("n3", 1)),)
    effects = _step_durably(node, disk, Receive(WriteRequest("n3", "n2", 9, KEY, held)), 1)
    assert [e.ok for e in effects if isinstance(e, WriteAck)] == [True]
    more = (Version(b"b" * 700, ("n4", 1)),)
    effects = _step_durably(node, disk, Receive(WriteRequest("n4", "n2", 10, KEY, more)), 2)
    assert [e.ok for e in effects if isinstance(e, WriteAck)] == [False]
    assert disk.read_versions(KEY) == held
    small = (Version(b"c", ("n5", 1)),)
    push = RepairPush("n4", "n2", 0, ((KEY, more), (b"other", small)))
    _step_durably(node, disk, Receive(push), 3)
    assert disk.read_versions(KEY) == held and disk.read_versions(b"other") == small
    batch = TransferBatch("n4", "n2", 1, 1, 0, 1, "n1", ((KEY, more),))
    effects = _step_durably(node, disk, Receive(batch), 4)
    assert not [e for e in effects if isinstance(e, TransferAck)]
    assert disk.read_versions(KEY) == held
    assert node.stats.merges_refused == 3


def test_a_version_without_a_value_is_a_tombstone_and_an_empty_value_is_not() -> None:
    """A delete is stored as a version whose value is ``None``, a tombstone that
    reconciles like any put; an empty byte string is a value like any other."""
    assert Version(None, ("n1", 1)).is_tombstone
    assert not Version(b"", ("n1", 2)).is_tombstone
    assert not Version(b"apple", ("n1", 3)).is_tombstone
