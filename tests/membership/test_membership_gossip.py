"""Gossip membership: the merge rule, push-pull rounds, explicit join and leave (Dynamo §4.8)."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable

import pytest
from dynamokv.impl.core._gossip import (
    STATUS_RANK,
    ChangeKind,
    EntryDigest,
    GossipAck,
    GossipAck2,
    GossipConfig,
    GossipEffect,
    GossipMembership,
    GossipPacket,
    GossipSyn,
    MemberEntry,
    MembershipArgumentError,
    MemberStatus,
    MemberStatusChanged,
    RingAdopted,
    RingState,
    SuspicionChanged,
    merge_entries,
    precedes,
)
from dynamokv.impl.core._partitions import join as join_partitions
from dynamokv.impl.core._partitions import join_weighted
from dynamokv.impl.core._partitions import leave as leave_partitions
from dynamokv.impl.sim._gossip_sim import _GossipNetwork
from dynamokv.spec.ring import assign_partitions, is_balanced
from hypothesis import given
from hypothesis import strategies as st

Q = 64
CONFIG = GossipConfig(partition_count=Q)


def _network(count: int, *, seed: int = 0, loss: float = 0.0) -> tuple[_GossipNetwork, list[str]]:
    network = _GossipNetwork(seed=seed, loss=loss, config=CONFIG)
    ids = [f"n{index}" for index in range(count)]
    ring = RingState(1, "bootstrap", assign_partitions(ids, Q))
    for node_id in ids:
        network.add(node_id, {ids[0]: f"sim://{ids[0]}"}, status="normal", ring=ring)
    return network, ids


def _converge_membership(network: _GossipNetwork, count: int) -> int:
    return network.rounds_until(
        lambda: all(len(view.members) == count for view in network.live()), rounds_max=60
    )


# ---------------------------------------------------------------------- the merge rule

ENTRIES = st.builds(
    MemberEntry,
    node_id=st.just("x"),
    address=st.just("sim://x"),
    generation=st.integers(min_value=0, max_value=3),
    heartbeat=st.integers(min_value=0, max_value=5),
    status=st.sampled_from(sorted(STATUS_RANK)),
)


@given(ENTRIES, ENTRIES, ENTRIES)
def test_merge_is_a_lattice_join(a: MemberEntry, b: MemberEntry, c: MemberEntry) -> None:
    """Commutative, associative, idempotent: gossip may arrive in any order, any number of times."""
    assert merge_entries(a, b) == merge_entries(b, a)
    assert merge_entries(merge_entries(a, b), c) == merge_entries(a, merge_entries(b, c))
    assert merge_entries(a, a) == a
    assert precedes(a, merge_entries(a, b)) or a.generation < b.generation


@given(ENTRIES, ENTRIES)
def test_merge_keeps_the_newest_information(a: MemberEntry, b: MemberEntry) -> None:
    """Generation first; within it, the highest heartbeat and the furthest status."""
    merged = merge_entries(a, b)
    if a.generation != b.generation:
        assert merged == max(a, b, key=lambda entry: entry.generation)
    else:
        assert merged.heartbeat == max(a.heartbeat, b.heartbeat)
        assert STATUS_RANK[merged.status] == max(STATUS_RANK[a.status], STATUS_RANK[b.status])


def test_an_admin_status_change_survives_the_nodes_own_later_heartbeats() -> None:
    """A leave written by another node, at a stale heartbeat, is not undone by fresher heartbeats."""
    admin = MemberEntry("x", "sim://x", 1, 3, "leaving")
    own = MemberEntry("x", "sim://x", 1, 9, "normal")
    assert merge_entries(admin, own) == MemberEntry("x", "sim://x", 1, 9, "leaving")
    restarted = MemberEntry("x", "sim://x", 2, 0, "joining")
    assert merge_entries(admin, restarted) == restarted


# ---------------------------------------------------------------------- rounds


def test_a_round_sends_one_syn_to_a_peer_and_push_pull_merges_both_ways() -> None:
    """Each period a node contacts one random peer; after syn, ack, ack2 both know the union."""
    rng = random.Random(1)
    a = GossipMembership("a", "addr-a", generation=1, seeds={"b": "addr-b"}, rng=rng, config=CONFIG)
    b = GossipMembership("b", "addr-b", generation=1, seeds={}, rng=rng, config=CONFIG)
    sends = [e for e in a.tick(100) if isinstance(e, GossipPacket)]
    assert [(s.dst, s.dst_address, type(s.body)) for s in sends] == [("b", "addr-b", GossipSyn)]
    assert a.tick(101) == []  # one round per period
    (ack,) = [e for e in b.receive(sends[0].body, 101) if isinstance(e, GossipPacket)]
    assert isinstance(ack.body, GossipAck) and ack.body.requested == ("a",)
    (ack2,) = [e for e in a.receive(ack.body, 102) if isinstance(e, GossipPacket)]
    effects = b.receive(ack2.body, 103)
    assert MemberStatusChanged("a", None, "joining") in effects
    assert set(a.members) == set(b.members) == {"a", "b"}
    assert a.members["a"].heartbeat == 1


def test_a_new_node_finds_the_cluster_through_a_seed() -> None:
    """ "Seeds are nodes discovered via an external mechanism and known to all nodes."

    Reference: Dynamo §4.8.2
    """
    network, ids = _network(12)
    _converge_membership(network, 12)
    network.add("late", {ids[0]: f"sim://{ids[0]}"}, status="joining", ring=None)
    network.rounds_until(
        lambda: (
            all("late" in view.members for view in network.live())
            and len(network.views["late"].members) == 13
        ),
        rounds_max=40,
    )
    assert network.views["late"].ring.version == 1  # it pulled the ring too
    assert "late" not in network.views[ids[3]].ring.nodes()  # known, but owns nothing yet


def test_the_gossip_counters_count_from_zero() -> None:
    """The metrics the runtime exports: a new view has done nothing, and a round of syn,
    ack and ack2 counts one message sent and one received per step."""
    rng = random.Random(1)
    a = GossipMembership("a", "addr-a", generation=1, seeds={"b": "addr-b"}, rng=rng, config=CONFIG)
    b = GossipMembership("b", "addr-b", generation=1, seeds={}, rng=rng, config=CONFIG)
    assert set(dataclasses.asdict(a.metrics).values()) == {0}
    (syn,) = [e for e in a.tick(100) if isinstance(e, GossipPacket)]
    (ack,) = [e for e in b.receive(syn.body, 101) if isinstance(e, GossipPacket)]
    a.receive(ack.body, 102)
    assert (a.metrics.rounds, a.metrics.messages_sent, a.metrics.messages_received) == (1, 2, 1)
    assert (b.metrics.messages_sent, b.metrics.messages_received) == (1, 1)


def test_gossip_converges_with_message_loss() -> None:
    network, _ = _network(24, loss=0.2)
    assert _converge_membership(network, 24) < 30


def test_a_failed_node_is_suspected_but_never_removed_from_the_ring() -> None:
    """ "A node outage rarely signifies a permanent departure and therefore should not
    result in rebalancing of the partition assignment or repair of the unreachable replicas."

    Reference: Dynamo §4.8.1
    """
    network, _ = _network(8)
    _converge_membership(network, 8)
    for _ in range(20 * CONFIG.gossip_period_ticks):
        network.step()
    assert network.false_suspicions == 0
    network.crashed.add("n5")
    network.rounds_until(
        lambda: all(view.is_suspected("n5", network.tick) for view in network.live()),
        rounds_max=60,
    )
    for view in network.live():
        assert "n5" in view.ring.nodes()
        assert view.members["n5"].status == "normal"
        assert view.health(network.tick)["n5"] is False
    # It comes back (same generation: only a partition healed): suspicion lifts.
    network.crashed.discard("n5")
    network.rounds_until(
        lambda: not any(view.is_suspected("n5", network.tick) for view in network.live()),
        rounds_max=60,
    )


def test_suspicion_changes_are_reported_as_effects() -> None:
    """The coordinator's health view and hint replay follow ``SuspicionChanged`` effects."""
    network, _ = _network(4)
    seen: list[SuspicionChanged] = []
    deliver = network.handle

    def record(effects: Iterable[GossipEffect]) -> None:
        effects = list(effects)
        # Only about n3: n3 itself, cut off, suspects everyone else meanwhile.
        seen.extend(e for e in effects if isinstance(e, SuspicionChanged) and e.node_id == "n3")
        deliver(effects)

    network.handle = record  # type: ignore[method-assign]
    _converge_membership(network, 4)
    for _ in range(10 * CONFIG.gossip_period_ticks):
        network.step()
    assert seen == []
    network.crashed.add("n3")
    network.rounds_until(lambda: len(seen) == 3, rounds_max=60)
    assert seen == [SuspicionChanged("n3", True)] * 3
    network.crashed.discard("n3")
    network.rounds_until(lambda: len(seen) == 6, rounds_max=60)
    assert seen[3:] == [SuspicionChanged("n3", False)] * 3


# ---------------------------------------------------------------------- join and leave


def test_join_is_explicit_and_the_ring_change_reaches_every_node() -> None:
    """ "An administrator uses a command line tool ... to issue a membership change to join a
    node to a ring"; the change propagates by gossip and every node adopts the higher version.

    Reference: Dynamo §4.8.1
    """
    network, ids = _network(10)
    _converge_membership(network, 10)
    network.add("new", {ids[0]: f"sim://{ids[0]}"}, status="joining", ring=None)
    network.rounds_until(lambda: "new" in network.views["n4"].members, rounds_max=40)
    assert "new" not in network.views["n4"].ring.nodes()  # known is not a member of the ring
    effects = network.views["n4"].request_join("new", network.tick)
    (adopted,) = [e for e in effects if isinstance(e, RingAdopted)]
    assert adopted.ring.version == 2 and adopted.ring.issuer.startswith("n4#")
    network.handle(effects)
    network.rounds_until(
        lambda: all(view.ring.version == 2 for view in network.live()), rounds_max=40
    )
    ring = network.views["n0"].ring.owners
    assert is_balanced(ring, [*ids, "new"])
    assert network.views["new"].self_entry.status == "normal"
    network.rounds_until(
        lambda: all(view.members["new"].status == "normal" for view in network.live()),
        rounds_max=40,
    )


def test_leave_is_explicit_and_statuses_only_move_forward() -> None:
    network, _ = _network(6)
    _converge_membership(network, 6)
    network.handle(network.views["n0"].request_leave("n2", network.tick))
    network.rounds_until(
        lambda: all(
            view.ring.version == 2 and view.members["n2"].status == "leaving"
            for view in network.live()
        ),
        rounds_max=40,
    )
    assert "n2" not in network.views["n1"].ring.nodes()
    # n2 hands its data off, then declares itself left; nobody gossips to it afterwards.
    network.handle(network.views["n2"].mark_left("n2"))
    network.rounds_until(
        lambda: all(view.members["n2"].status == "left" for view in network.live()),
        rounds_max=40,
    )
    network.crashed.add("n2")
    for _ in range(5 * CONFIG.gossip_period_ticks):
        network.step()
    for view in network.live():
        if view.node_id != "n2":
            assert "n2" not in view.gossip_candidates()
            assert "n0" in view.gossip_candidates() or view.node_id == "n0"


def test_a_leave_is_watched_until_the_node_has_left_and_then_no_longer() -> None:
    """A leave stays watched (and would be issued again on a racing ring) while the node
    is leaving; once it has left, the next ring ends the watch, well before the watch
    would expire."""
    network, _ = _network(6)
    _converge_membership(network, 6)
    issuer = network.views["n0"]
    network.handle(issuer.request_leave("n2", network.tick))
    network.rounds_until(lambda: network.views["n2"].ring.version == 2, rounds_max=40)
    assert [(w.kind.value, w.node_id) for w in issuer.pending_changes()] == [("leave", "n2")]
    network.handle(network.views["n2"].mark_left("n2"))
    network.rounds_until(lambda: issuer.members["n2"].status == "left", rounds_max=40)
    network.handle(issuer.request_leave("n3", network.tick))
    assert network.tick < issuer.pending_changes()[0].issued_tick + CONFIG.change_watch_ticks
    assert [(w.kind.value, w.node_id) for w in issuer.pending_changes()] == [("leave", "n3")]


def test_a_satisfied_leave_stops_being_watched_after_the_watch_period() -> None:
    """A leave the ring already reflects is watched for ``change_watch_ticks`` (a racing
    ring could still drop it) and forgotten at the first round after that."""
    network, _ = _network(4)
    _converge_membership(network, 4)
    issuer = network.views["n0"]
    network.handle(issuer.request_leave("n2", network.tick))
    (watch,) = issuer.pending_changes()
    expiry = watch.issued_tick + CONFIG.change_watch_ticks
    while network.tick < expiry - 1:
        network.step()
    assert issuer.pending_changes() == (watch,) and "n2" not in issuer.ring.nodes()
    while network.tick < expiry + CONFIG.gossip_period_ticks:
        network.step()
    assert issuer.pending_changes() == ()


def test_a_seed_stays_a_gossip_candidate_after_it_left() -> None:
    """Seeds heal splits of the gossip graph (Dynamo §4.8.2), so one that left is still
    called: if it returns in a new generation, that is how the others hear of it."""
    network, _ = _network(4)
    _converge_membership(network, 4)
    network.handle(network.views["n1"].request_leave("n0", network.tick))
    network.rounds_until(
        lambda: all(view.ring.version == 2 for view in network.live()), rounds_max=40
    )
    network.handle(network.views["n0"].mark_left("n0"))
    network.rounds_until(
        lambda: all(view.members["n0"].status == "left" for view in network.live()),
        rounds_max=40,
    )
    for view in network.live():
        if view.node_id != "n0":
            assert "n0" in view.gossip_candidates()


def test_a_round_may_pick_every_known_member_that_has_not_left_but_this_node() -> None:
    """A round picks among all the members a node has heard of, whatever their ids, so
    that gossip stays an epidemic; only the node itself and members that left (not being
    seeds) are no candidates.

    Reference: Dynamo §4.8.2
    """
    view = GossipMembership("m", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    statuses: dict[str, MemberStatus] = {
        "a": "joining",
        "b": "normal",
        "c": "left",
        "y": "leaving",
        "z": "normal",
    }
    heard = tuple(MemberEntry(name, "h", 1, 1, status) for name, status in statuses.items())
    view.receive(GossipAck("b", "y", heard, (), None, False), 1)
    assert view.gossip_candidates() == ("a", "b", "y", "z")


def test_racing_admin_commands_are_both_applied() -> None:
    """Two joins issued at once on different nodes make the same version; one ring wins
    everywhere and its loser's issuer re-issues its join on top: no command is lost."""
    network, ids = _network(8)
    _converge_membership(network, 8)
    for name in ("p", "q"):
        network.add(name, {ids[0]: f"sim://{ids[0]}"}, status="joining", ring=None)
    network.rounds_until(
        lambda: all({"p", "q"} <= view.members.keys() for view in network.live()), rounds_max=40
    )
    network.handle(network.views["n1"].request_join("p", network.tick))
    network.handle(network.views["n6"].request_join("q", network.tick))
    network.rounds_until(
        lambda: (
            all({"p", "q"} <= view.ring.nodes() for view in network.live())
            and len({view.ring for view in network.live()}) == 1
        ),
        rounds_max=60,
    )
    ring = network.views["n0"].ring
    assert ring.version == 3
    assert is_balanced(ring.owners, [*ids, "p", "q"])


def test_admin_commands_reject_what_cannot_be_done() -> None:
    rng = random.Random(0)
    ring = RingState(1, "boot", assign_partitions(["a", "b"], Q))
    view = GossipMembership(
        "a", "x", generation=1, seeds={}, rng=rng, config=CONFIG, status="normal", ring=ring
    )
    with pytest.raises(MembershipArgumentError, match="not known"):
        view.request_join("zed", 0)
    with pytest.raises(MembershipArgumentError, match="owns no partition"):
        view.request_leave("zed", 0)
    with pytest.raises(MembershipArgumentError, match="still owns"):
        view.mark_left("a")
    with pytest.raises(MembershipArgumentError):
        GossipMembership(
            "a", "x", generation=1, seeds={}, rng=rng, config=CONFIG, ring=RingState(1, "", ("a",))
        )


def _normal_member_over(
    owners: tuple[str, ...], *, config: GossipConfig = CONFIG
) -> GossipMembership:
    """Member "a" (address "x"), in normal status, on a first ring of ``owners``."""
    return GossipMembership(
        "a",
        "x",
        generation=1,
        seeds={},
        rng=random.Random(0),
        config=config,
        status="normal",
        ring=RingState(1, "boot", owners),
    )


def test_a_change_already_in_the_owners_leaves_them_as_they_are() -> None:
    """Applying a membership change is idempotent: a join of a node that owns partitions
    already, or a leave of one that owns none, gives back the same owners (pending
    changes are applied again on every ring until they hold)."""
    owners = assign_partitions(["a", "b"], Q)
    view = _normal_member_over(owners)
    assert view._changed_owners(owners, ChangeKind.JOIN, "b") == owners
    assert view._changed_owners(owners, ChangeKind.LEAVE, "c") == owners
    joined = view._changed_owners(owners, ChangeKind.JOIN, "c")
    assert "c" in joined and view._changed_owners(joined, ChangeKind.JOIN, "c") == joined


def test_a_message_over_the_bounds_or_from_ourselves_is_rejected() -> None:
    config = GossipConfig(partition_count=Q, digest_entries_max=2)
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=config)
    digests = tuple(MemberEntry(name, "", 1, 1, "normal").digest() for name in ("b", "c", "d"))
    assert view.receive(GossipSyn("b", "y", digests, 0, ""), 5) == []
    assert view.receive(GossipSyn("a", "x", (), 0, ""), 5) == []
    assert view.metrics.messages_rejected == 2
    bad_ring = RingState(9, "z", ("a",))  # wrong Q
    assert not any(
        isinstance(e, RingAdopted)
        for e in view.receive(GossipAck("b", "y", (), (), bad_ring, False), 6)
    )
    assert view.metrics.rings_rejected == 1


def test_an_entry_of_a_status_outside_the_lifecycle_is_rejected_and_counted() -> None:
    """A member's status is one of ``joining < normal < leaving < left``, the order the
    merge rule ranks; a peer's entry of any other status cannot be ranked, so it is
    rejected (counted in ``messages_rejected``) and never merged: a bad peer is an
    operating error."""
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    odd = MemberEntry("b", "y", 1, 1, "retired")  # type: ignore[arg-type]
    assert view.receive(GossipAck("b", "y", (odd,), (), None, False), 1) == []
    assert view.entry("b") is None and view.metrics.messages_rejected == 1


def test_the_ring_goes_back_in_an_ack2_only_when_it_was_asked_for() -> None:
    """The ring is the largest thing gossip carries: an ack that asks for nothing gets no
    reply at all, one that asks for the ring gets it."""
    ring = RingState(1, "boot", assign_partitions(["a", "b"], Q))
    view = GossipMembership(
        "a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG, ring=ring
    )
    assert view.receive(GossipAck("b", "y", (), (), None, False), 5) == []
    (reply,) = [
        e
        for e in view.receive(GossipAck("b", "y", (), (), None, True), 6)
        if isinstance(e, GossipPacket)
    ]
    assert reply.body.ring == ring and reply.body.entries == ()


def test_a_node_with_no_ring_yet_sends_none_back_when_its_ring_is_asked_for() -> None:
    """Version 0 is the empty ring, no assignment at all: a node that holds no other has
    no ring to gossip, so an ack that asks for its ring gets no reply, and one that also
    asks for members gets the members alone.

    Reference: Dynamo §4.8.1
    """
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    assert view.ring.version == 0
    assert view.receive(GossipAck("b", "y", (), (), None, True), 5) == []
    (reply,) = view.receive(GossipAck("b", "y", (), ("a",), None, True), 6)
    assert isinstance(reply, GossipPacket) and isinstance(reply.body, GossipAck2)
    assert reply.body.ring is None and reply.body.entries == (view.self_entry,)


def test_an_ack_carries_or_asks_for_the_ring_only_when_the_two_rings_differ() -> None:
    """A syn names its sender's ring by ``(version, issuer)``: the responder sends its own
    ring back only when that is newer, asks for the initiator's only when the syn's is
    newer, and, when both hold the same ring, neither (gossip carries a ring only where it
    is news).

    Reference: Dynamo §4.8.1
    """
    ring = RingState(2, "b#1", assign_partitions(["a", "b"], Q))
    view = GossipMembership(
        "b", "y", generation=1, seeds={}, rng=random.Random(0), config=CONFIG, ring=ring
    )

    def ack_to(ring_version: int, ring_issuer: str) -> GossipAck:
        (sent,) = view.receive(GossipSyn("a", "x", (), ring_version, ring_issuer), 5)
        assert isinstance(sent, GossipPacket) and isinstance(sent.body, GossipAck)
        return sent.body

    same = ack_to(2, "b#1")
    assert (same.ring, same.ring_requested) == (None, False)
    older = ack_to(2, "a#1")
    assert (older.ring, older.ring_requested) == (ring, False)
    newer = ack_to(2, "c#1")
    assert (newer.ring, newer.ring_requested) == (None, True)


def test_a_table_larger_than_one_message_is_offered_in_rotating_slices() -> None:
    """With more members than ``digest_entries_max``, each syn carries the node's own
    digest and a slice of the others that moves on every round, so every member is
    offered within a few rounds and no message exceeds the bound."""
    config = GossipConfig(partition_count=Q, digest_entries_max=3)
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=config)
    others = [f"m{i}" for i in range(7)]
    for start in range(0, len(others), 3):  # learned three at a time: the bound holds inbound too
        batch = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in others[start : start + 3])
        view.receive(GossipAck("m0", "y", batch, (), None, False), 1)
    assert set(view.members) == {"a", *others}
    offered: list[list[str]] = []
    for now in range(2, 2 + 8 * config.gossip_period_ticks):
        for effect in view.tick(now):
            if isinstance(effect, GossipPacket) and isinstance(effect.body, GossipSyn):
                offered.append([digest.node_id for digest in effect.body.digests])
    assert len(offered) >= 4
    assert all(len(names) == 3 and names[0] == "a" for names in offered)
    assert offered[0][1:] == ["m0", "m1"] and offered[1][1:] == ["m2", "m3"]
    assert set(others) <= {name for names in offered[:4] for name in names}


def test_a_table_of_exactly_one_message_is_offered_whole_and_the_slices_start_past_it() -> None:
    """A table of ``digest_entries_max`` members fits one syn: every round offers all of
    it, and nothing rotates. Once the table grows past the bound, the slices start from
    the first of the other members, as they do for a table that was larger all along.

    Reference: Dynamo §4.8.1
    """
    config = GossipConfig(partition_count=Q, digest_entries_max=3)
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=config)

    def learn(names: list[str], now: int) -> None:
        batch = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in names)
        view.receive(GossipAck("m0", "y", batch, (), None, False), now)

    def syns(ticks: range) -> list[list[str]]:
        offered: list[list[str]] = []
        for now in ticks:
            for effect in view.tick(now):
                if isinstance(effect, GossipPacket) and isinstance(effect.body, GossipSyn):
                    offered.append([digest.node_id for digest in effect.body.digests])
        return offered

    learn(["m0", "m1"], 1)
    period = config.gossip_period_ticks
    whole = syns(range(2, 2 + 3 * period))
    assert len(whole) >= 3 and all(names == ["a", "m0", "m1"] for names in whole)
    for start in (2, 5):
        learn([f"m{index}" for index in range(start, start + 3)], 2 + 3 * period)
    sliced = syns(range(2 + 3 * period, 2 + 5 * period))
    assert [names[1:] for names in sliced[:2]] == [["m0", "m1"], ["m2", "m3"]]


def test_members_max_bounds_the_table() -> None:
    config = GossipConfig(partition_count=Q, members_max=3)
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=config)
    entries = tuple(MemberEntry(f"m{i}", "", 1, 1, "normal") for i in range(5))
    view.receive(GossipAck("m0", "y", entries, (), None, False), 1)
    assert len(view.members) == 3
    assert view.metrics.members_dropped == 3


def test_the_same_seed_gives_the_same_run() -> None:
    digests = set()
    for _ in range(2):
        network, _ = _network(10, seed=42, loss=0.1)
        _converge_membership(network, 10)
        digests.add((network.tick, network.trace.hexdigest()))
    assert len(digests) == 1


@pytest.mark.parametrize("option", ["gossip_period_ticks", "members_max", "digest_entries_max"])
def test_a_gossip_bound_of_one_is_allowed_and_of_zero_refused(option: str) -> None:
    assert getattr(GossipConfig(**{option: 1}), option) == 1  # type: ignore[arg-type]
    with pytest.raises(MembershipArgumentError, match=option):
        GossipConfig(**{option: 0})  # type: ignore[arg-type]


@pytest.mark.parametrize("option", ["partition_count", "pending_changes_max"])
def test_a_ring_size_or_changes_bound_of_one_is_allowed_and_of_zero_refused(option: str) -> None:
    assert getattr(GossipConfig(**{option: 1}), option) == 1  # type: ignore[arg-type]
    with pytest.raises(MembershipArgumentError, match=option):
        GossipConfig(**{option: 0})  # type: ignore[arg-type]


def test_a_late_tick_runs_one_round_and_keeps_the_rounds_on_their_period() -> None:
    """A tick that comes late (a busy driver) runs one round, skips the rounds it missed,
    and the next falls on the same period grid as if none had been late."""
    view = GossipMembership(
        "a", "x", generation=1, seeds={"b": "y"}, rng=random.Random(0), config=CONFIG
    )
    period = CONFIG.gossip_period_ticks
    due = view.next_round_tick
    view.tick(due + 2 * period + 1)
    assert view.metrics.rounds == 1
    assert view.next_round_tick == due + 3 * period
    view.tick(due + 3 * period)
    assert (view.metrics.rounds, view.next_round_tick) == (2, due + 4 * period)


def test_merging_entries_of_two_different_nodes_is_a_bug_the_rule_refuses() -> None:
    """The merge rule joins what two views know of one node; entries of two nodes reaching
    it are a bug of the caller, refused whichever comes first."""
    from dynamokv.spec.errors import InvariantError

    a, b = MemberEntry("a", "x", 1, 1, "normal"), MemberEntry("b", "x", 1, 1, "normal")
    for first, second in ((a, b), (b, a)):
        with pytest.raises(InvariantError, match="different nodes"):
            merge_entries(first, second)


def test_a_status_change_without_a_new_heartbeat_is_no_sign_of_life() -> None:
    """Only a later heartbeat (or generation) feeds the failure detector: an admin's leave
    of a silent node carries its old heartbeat and a later status, and must not clear
    the suspicion."""
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    for heartbeat in range(1, 11):
        entry = MemberEntry("b", "y", 1, heartbeat, "normal")
        view.receive(GossipAck("b", "a", (entry,), (), None, False), heartbeat * 10)
    silent = 100 + 50 * CONFIG.gossip_period_ticks
    phi = view.phi("b", silent)
    assert view.is_suspected("b", silent)
    leaving = MemberEntry("b", "y", 1, 10, "leaving")
    view.receive(GossipAck("c", "a", (leaving,), (), None, False), silent)
    assert view.entry("b") == leaving
    assert view.phi("b", silent) == phi and view.is_suspected("b", silent)


def test_a_first_life_of_generation_zero_is_allowed_and_a_negative_one_refused() -> None:
    view = GossipMembership("a", "x", generation=0, seeds={}, rng=random.Random(0), config=CONFIG)
    assert view.entry("a") is not None and view.entry("a").generation == 0  # type: ignore[union-attr]
    with pytest.raises(MembershipArgumentError, match="generation"):
        GossipMembership("a", "x", generation=-1, seeds={}, rng=random.Random(0), config=CONFIG)


def test_gossips_detector_suspects_a_silent_member_about_6_periods_after_its_last_heartbeat() -> (
    None
):
    """The detector's defaults for gossip, for a 10-tick period: a member heard every
    period is suspected 57 ticks after its last heartbeat (about 6 periods), one heard
    once, 90 ticks after it (the first interval is estimated as 3 periods)."""
    from dynamokv.impl.core._phi import PhiAccrualDetector

    config = GossipConfig()
    assert config.gossip_period_ticks == 10
    steady = PhiAccrualDetector(config.phi)
    for tick in range(0, 1_000, 10):
        steady.heartbeat(tick)
    once = PhiAccrualDetector(config.phi)
    once.heartbeat(990)
    for detector, silence in ((steady, 57), (once, 90)):
        assert not detector.is_suspected(990 + silence - 1)
        assert detector.is_suspected(990 + silence)


def test_a_round_pushes_back_what_the_answering_peer_heard_later() -> None:
    """In a round's ack the peer pushes the entries it holds with a later heartbeat, or
    a later status, than the initiator's digest shows: after one round the initiator
    has them."""
    rng = random.Random(1)
    a = GossipMembership("a", "addr-a", generation=1, seeds={"b": "addr-b"}, rng=rng, config=CONFIG)
    b = GossipMembership("b", "addr-b", generation=1, seeds={}, rng=rng, config=CONFIG)
    c_normal, c_leaving = (MemberEntry("c", "addr-c", 1, 1, s) for s in ("normal", "leaving"))

    def round_from_a(now: int) -> None:
        (syn,) = [e for e in a.tick(now) if isinstance(e, GossipPacket)]
        (ack,) = [e for e in b.receive(syn.body, now + 1) if isinstance(e, GossipPacket)]
        for effect in a.receive(ack.body, now + 2):
            if isinstance(effect, GossipPacket):
                b.receive(effect.body, now + 3)

    for view in (a, b):
        view.receive(GossipAck("c", view.node_id, (c_normal,), (), None, False), 1)
    round_from_a(a.next_round_tick)
    assert a.members["b"] == b.members["b"]
    for now in range(b.next_round_tick, b.next_round_tick + 5 * CONFIG.gossip_period_ticks, 10):
        b.tick(now)  # b's own heartbeat goes up; its syns to a are lost
    b.receive(GossipAck("c", "b", (c_leaving,), (), None, False), b.next_round_tick)
    assert b.members["b"].heartbeat > a.members["b"].heartbeat
    assert (a.members["c"], b.members["c"]) == (c_normal, c_leaving)
    round_from_a(a.next_round_tick + 5 * CONFIG.gossip_period_ticks)
    assert a.members["b"] == b.members["b"] and a.members["c"] == c_leaving


def test_a_members_detector_learns_its_rhythm_across_heartbeats_of_one_life() -> None:
    """Heartbeats of one generation feed one detector: after twenty at the gossip period
    the member is suspected 65 ticks after the last (its learned rhythm, the first
    interval's estimate still in the window), not 90 (the estimate alone, which a
    detector made anew would use)."""
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    for heartbeat in range(1, 21):
        entry = MemberEntry("b", "y", 1, heartbeat, "normal")
        view.receive(GossipAck("b", "a", (entry,), (), None, False), heartbeat * 10)
    assert not view.is_suspected("b", 200 + 64)
    assert view.is_suspected("b", 200 + 65)


@pytest.mark.parametrize(("steady_after", "forgotten"), [(99, False), (100, True)])
def test_a_members_detector_remembers_its_last_100_intervals_by_default(
    steady_after: int, forgotten: bool
) -> None:
    """Gossip's detectors keep a window of 100 heartbeat intervals by default, so they
    follow a member whose rhythm changes: one long silence still widens the member's
    deviation 99 intervals later (a silence of 40 ticks is then less suspect than for a
    member that never paused), and 100 intervals later it is forgotten.

    Reference: Dynamo §4.8.3
    """

    def phi_after(gaps: list[int]) -> float:
        view = GossipMembership(
            "a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG
        )
        now = 0
        for heartbeat, gap in enumerate(gaps, start=1):
            now += gap
            entry = MemberEntry("b", "y", 1, heartbeat, "normal")
            view.receive(GossipAck("b", "y", (entry,), (), None, False), now)
        return view.phi("b", now + 40)

    paused = phi_after([10] * 30 + [200] + [10] * steady_after)
    steady = phi_after([10] * (31 + steady_after))
    assert (paused == steady) == forgotten
    assert paused <= steady


def test_a_members_new_life_starts_a_detector_afresh() -> None:
    """A restarted member (a new generation) is a new life: its detector forgets the
    rhythm the old life taught it and starts from the first interval's estimate, so a
    member that heartbeat every 10 ticks and restarts is suspected 90 ticks after its new
    life was heard of (the estimate's), not 65 (the learned rhythm's).

    Reference: Dynamo §4.8.3
    """
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    for heartbeat in range(1, 21):
        entry = MemberEntry("b", "y", 1, heartbeat, "normal")
        view.receive(GossipAck("b", "a", (entry,), (), None, False), heartbeat * 10)
    restarted = MemberEntry("b", "y", 2, 1, "joining")
    view.receive(GossipAck("b", "a", (restarted,), (), None, False), 210)
    assert not view.is_suspected("b", 210 + 89)
    assert view.is_suspected("b", 210 + 90)


def test_with_every_weight_one_a_join_is_strategy_3s_plain_join() -> None:
    """Members of equal weight (the default) join by the unweighted rule, which moves
    the fewest partitions; the weighted one is for members of different weights."""
    from dynamokv.impl.core import _partitions

    owners = assign_partitions(["a", "b", "c"], Q)
    view = _normal_member_over(owners)
    assert view._changed_owners(owners, ChangeKind.JOIN, "d") == _partitions.join(owners, "d")
    assert view._changed_owners(owners, ChangeKind.LEAVE, "b") == _partitions.leave(owners, "b")


def test_a_later_status_at_the_same_heartbeat_is_taken() -> None:
    """A status change can arrive with a heartbeat already seen (an admin's command
    gossiped on): a member held as joining becomes normal, whatever the statuses'
    names sort as."""
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    joining, normal = (MemberEntry("b", "y", 1, 5, status) for status in ("joining", "normal"))
    view.receive(GossipAck("b", "a", (joining,), (), None, False), 10)
    effects = view.receive(GossipAck("c", "a", (normal,), (), None, False), 20)
    assert view.entry("b") == normal
    assert MemberStatusChanged("b", "joining", "normal") in effects


def test_an_entry_of_an_earlier_life_precedes_any_entry_of_a_later_one() -> None:
    """The generation decides first: a node's previous life, however far its heartbeat
    and status had gone, carries nothing its new life lacks."""
    old = MemberEntry("x", "sim://x", 1, 9, "left")
    new = MemberEntry("x", "sim://x", 2, 0, "joining")
    assert precedes(old, new) and not precedes(new, old)
    assert precedes(old.digest(), new.digest()) and not precedes(new.digest(), old.digest())


def test_a_later_life_replaces_the_earlier_one_whole_even_at_a_smaller_address_or_weight() -> None:
    """A node that starts again (a new generation) may come back at another address with
    another weight: the merge takes its new entry as it is, in either order."""
    old = MemberEntry("x", "addr-b", 1, 9, "normal", 2)
    new = MemberEntry("x", "addr-a", 2, 0, "joining", 1)
    assert merge_entries(old, new) == merge_entries(new, old) == new


def test_merging_with_a_simply_newer_entry_gives_that_entry_itself() -> None:
    """The common case of the merge makes no new entry: when one side is newer in every
    field, the merge is that side, the same object, whichever argument it is."""
    older = MemberEntry("x", "sim://x", 1, 3, "normal")
    newer = MemberEntry("x", "sim://x", 1, 5, "leaving")
    assert merge_entries(older, newer) is newer
    assert merge_entries(newer, older) is newer


def test_an_entry_newer_in_every_field_wins_the_merge_itself_in_either_order() -> None:
    """When one side is newer in heartbeat and status and at least as large in address
    and weight, the merge is that side, the same object, whichever argument it is."""
    older = MemberEntry("x", "sim://a", 1, 3, "normal", 1)
    newer = MemberEntry("x", "sim://b", 1, 5, "leaving", 2)
    assert merge_entries(older, newer) is newer
    assert merge_entries(newer, older) is newer


@pytest.mark.parametrize(
    ("older", "newer", "merged"),
    [
        (("addr-b", 1), ("addr-a", 1), ("addr-b", 1)),  # the older side has the larger address
        (("addr-a", 2), ("addr-a", 1), ("addr-a", 2)),  # the older side has the larger weight
        (("addr-b", 1), ("addr-a", 2), ("addr-b", 2)),  # one each
    ],
)
def test_within_a_life_the_larger_address_and_weight_are_kept_whichever_side_is_newer(
    older: tuple[str, int], newer: tuple[str, int], merged: tuple[str, int]
) -> None:
    """Address and weight are fixed for a generation; should two entries of one life
    still disagree on them, the merge keeps the larger of each beside the newer
    heartbeat, in either order, so that every view ends with the same entry."""
    a = MemberEntry("x", older[0], 1, 3, "normal", older[1])
    b = MemberEntry("x", newer[0], 1, 5, "normal", newer[1])
    expected = MemberEntry("x", merged[0], 1, 5, "normal", merged[1])
    assert merge_entries(a, b) == merge_entries(b, a) == expected


def test_phi_of_this_node_or_of_a_node_never_heard_of_is_zero() -> None:
    view = GossipMembership(
        "a", "x", generation=1, seeds={"b": "y"}, rng=random.Random(0), config=CONFIG
    )
    assert view.phi("a", 10_000) == 0.0
    assert view.phi("b", 10_000) == 0.0
    assert not view.is_suspected("b", 10_000)


def test_entries_sent_counts_member_entries_and_a_syn_carries_none() -> None:
    """A syn carries digests only; an ack and an ack2 carry entries, each counted."""
    rng = random.Random(1)
    a = GossipMembership("a", "addr-a", generation=1, seeds={"b": "addr-b"}, rng=rng, config=CONFIG)
    b = GossipMembership("b", "addr-b", generation=1, seeds={}, rng=rng, config=CONFIG)
    (syn,) = [e for e in a.tick(100) if isinstance(e, GossipPacket)]
    assert a.metrics.entries_sent == 0
    (ack,) = [e for e in b.receive(syn.body, 101) if isinstance(e, GossipPacket)]
    assert isinstance(ack.body, GossipAck)
    assert [entry.node_id for entry in ack.body.entries] == ["b"]
    assert b.metrics.entries_sent == 1
    a.receive(ack.body, 102)
    assert a.metrics.entries_sent == 1  # its own entry, which b asked for


def test_entries_merged_counts_each_member_learned_or_changed_once() -> None:
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    first = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in ("b", "c", "d"))
    view.receive(GossipAck("b", "y", first, (), None, False), 1)
    assert view.metrics.entries_merged == 3
    later = (MemberEntry("b", "h", 1, 2, "normal"), MemberEntry("c", "h", 1, 1, "normal"))
    view.receive(GossipAck("b", "y", later, (), None, False), 2)
    assert view.metrics.entries_merged == 4  # b's heartbeat moved; c's entry was known


@pytest.mark.parametrize(("own", "others"), [("a", 6), ("a", 8), ("a", 9), ("m4x", 9)])
def test_the_rotating_slices_follow_each_other_whatever_the_table_size(
    own: str, others: int
) -> None:
    """Each syn's slice starts where the previous one ended, wrapping round the sorted
    table of the other members (whether their ids sort before or after the node's own):
    every member is offered within ceil(others / (bound - 1)) rounds, round after round."""
    config = GossipConfig(partition_count=Q, digest_entries_max=3)
    view = GossipMembership(own, "x", generation=1, seeds={}, rng=random.Random(0), config=config)
    names = [f"m{i}" for i in range(others)]
    for start in range(0, others, 3):
        batch = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in names[start : start + 3])
        view.receive(GossipAck("m0", "y", batch, (), None, False), 1)
    offered: list[str] = []
    for now in range(2, 2 + 2 * others * config.gossip_period_ticks):
        for effect in view.tick(now):
            if isinstance(effect, GossipPacket) and isinstance(effect.body, GossipSyn):
                offered += [digest.node_id for digest in effect.body.digests[1:]]
    assert offered[: 4 * others] == names * 4


def test_a_round_reuses_the_digest_of_an_entry_that_did_not_change() -> None:
    """Digests are remembered per member while its entry stays the same: a round makes
    a new digest only for the entries that changed since the last (here its own, whose
    heartbeat every round moves on)."""
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    view.receive(GossipAck("b", "y", (MemberEntry("b", "y", 1, 1, "normal"),), (), None, False), 1)
    syns = [
        effect.body
        for now in range(2, 2 + 2 * CONFIG.gossip_period_ticks)
        for effect in view.tick(now)
        if isinstance(effect, GossipPacket) and isinstance(effect.body, GossipSyn)
    ]
    first, second = syns[:2]
    assert [digest.node_id for digest in second.digests] == ["a", "b"]
    assert second.digests[1] is first.digests[1]
    assert second.digests[0].heartbeat == first.digests[0].heartbeat + 1


def test_a_syn_carries_each_members_digest_not_its_whole_entry() -> None:
    """A syn says which version of each member its sender holds: node, generation,
    heartbeat and status. The address and the weight stay out (the peer asks for the
    entries it lacks), so a round costs a few fields per member.

    Reference: Dynamo §4.8.1
    """
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    heard = MemberEntry("b", "sim://b", 1, 1, "normal", 3)
    view.receive(GossipAck("b", "y", (heard,), (), None, False), 1)
    (syn,) = [
        effect.body
        for now in range(2, 2 + CONFIG.gossip_period_ticks)
        for effect in view.tick(now)
        if isinstance(effect, GossipPacket) and isinstance(effect.body, GossipSyn)
    ]
    assert syn.digests == (
        EntryDigest("a", 1, view.self_entry.heartbeat, "joining"),
        EntryDigest("b", 1, 1, "normal"),
    )


def test_an_ack_may_request_as_many_members_as_the_bound_and_no_more() -> None:
    config = GossipConfig(partition_count=Q, digest_entries_max=2)
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=config)
    view.receive(GossipAck("b", "y", (MemberEntry("c", "z", 1, 1, "normal"),), (), None, False), 1)
    effects = view.receive(GossipAck("b", "y", (), ("a", "c"), None, False), 2)
    (reply,) = [e for e in effects if isinstance(e, GossipPacket)]
    assert [entry.node_id for entry in reply.body.entries] == ["a", "c"]
    assert view.receive(GossipAck("b", "y", (), ("a", "c", "a"), None, False), 3) == []
    assert view.metrics.messages_rejected == 1


def test_a_responder_asks_only_for_what_the_initiator_knows_more_of() -> None:
    """An ack requests the members whose digest is newer than the responder's entry (a
    later generation, heartbeat or status) or unknown to it, and pushes those it knows
    more of and those the syn did not mention: an equal digest asks for nothing."""
    view = GossipMembership("b", "y", generation=1, seeds={}, rng=random.Random(0), config=CONFIG)
    held = tuple(
        MemberEntry(name, "h", generation, 3, "normal")
        for name, generation in (("c", 1), ("d", 1), ("e", 1), ("g", 1), ("r", 2), ("s", 1))
    )
    view.receive(GossipAck("c", "h", held, (), None, False), 1)
    digests = (
        MemberEntry("a", "x", 1, 1, "joining").digest(),  # unknown to b
        MemberEntry("c", "h", 1, 3, "normal").digest(),  # the same as b's
        MemberEntry("d", "h", 1, 4, "normal").digest(),  # a later heartbeat
        MemberEntry("e", "h", 1, 3, "leaving").digest(),  # a later status
        MemberEntry("g", "h", 1, 2, "normal").digest(),  # older than b's
        MemberEntry("r", "h", 1, 9, "normal").digest(),  # an earlier life than b's
        MemberEntry("s", "h", 2, 1, "joining").digest(),  # a later life than b's
    )
    (ack,) = view.receive(GossipSyn("a", "x", digests, 0, ""), 2)
    assert isinstance(ack, GossipPacket) and isinstance(ack.body, GossipAck)
    assert ack.body.requested == ("a", "d", "e", "s")
    assert [entry.node_id for entry in ack.body.entries] == ["g", "r", "b"]


def test_a_peer_claiming_a_later_life_of_this_node_is_not_believed() -> None:
    """An entry of this node with a later generation than the one running is stale state
    of a reused id: the node keeps its own entry, and counts the entry as rejected."""
    view = GossipMembership("a", "x", generation=3, seeds={}, rng=random.Random(0), config=CONFIG)
    own = view.self_entry
    claim = MemberEntry("a", "elsewhere", 4, 7, "normal")
    assert view.receive(GossipAck("b", "y", (claim,), (), None, False), 5) == []
    assert view.self_entry == own
    assert view.metrics.messages_rejected == 1


def test_a_ring_of_a_negative_version_is_refused() -> None:
    owners = assign_partitions(["a", "b"], Q)
    with pytest.raises(MembershipArgumentError, match="ring"):
        GossipMembership(
            "a",
            "x",
            generation=1,
            seeds={},
            rng=random.Random(0),
            config=CONFIG,
            ring=RingState(-1, "boot", owners),
        )


@pytest.mark.parametrize("owners_count", [Q - 1, Q + 1])
def test_a_peers_ring_of_another_number_of_partitions_is_refused(owners_count: int) -> None:
    """A ring names one owner per partition: a peer's ring of one owner fewer or one more
    than Q is refused (counted in ``rings_rejected``), and the view keeps its own.

    Reference: Dynamo §4.8.1
    """
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    owners = tuple(assign_partitions(["a", "b", "c"], Q + 1)[:owners_count])
    bad = RingState(2, "b#1", owners)
    assert view.receive(GossipAck("b", "y", (), (), bad, False), 1) == []
    assert view.ring.version == 1 and view.metrics.rings_rejected == 1


def test_the_last_node_of_the_ring_cannot_leave_and_the_refusal_changes_nothing() -> None:
    """A ring needs an owner for every partition: a leave of its only node is refused
    before anything is done, so the node is neither marked leaving nor watched.

    Reference: Dynamo §4.8.1
    """
    view = _normal_member_over(("a",) * Q)
    with pytest.raises(MembershipArgumentError, match="is the last node"):
        view.request_leave("a", 1)
    assert view.self_entry.status == "normal" and view.pending_changes() == ()
    assert view.ring.version == 1


def test_a_member_already_normal_adopting_a_newer_ring_reports_no_status_change() -> None:
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    newer = RingState(2, "b#1", assign_partitions(["b", "a"], Q))
    effects = view.receive(GossipAck("b", "y", (), (), newer, False), 5)
    assert [type(effect) for effect in effects] == [RingAdopted]
    assert view.self_entry.status == "normal"


@pytest.mark.parametrize(
    ("nodes", "rival_leave", "left"),
    [(("a", "b", "c", "d"), "d", {"a", "b"}), (("a", "b", "c"), "b", {"a"})],
)
def test_a_leave_lost_to_a_racing_ring_is_issued_again_on_top_of_it(
    nodes: tuple[str, ...], rival_leave: str, left: set[str]
) -> None:
    """Two leaves issued at once on different nodes make rings of the same version; where
    the other one wins, the leave it lacks is issued again on top of it, even when that
    leaves a single node."""
    owners = assign_partitions(list(nodes), Q)
    view = _normal_member_over(owners)
    known = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in nodes[1:])
    view.receive(GossipAck("b", "y", known, (), None, False), 1)
    view.request_leave("c", 10)
    assert "c" not in view.ring.nodes()
    rival = RingState(2, "z#1", leave_partitions(owners, rival_leave))  # z#1 > a#1: it wins
    effects = view.receive(GossipAck("b", "y", (), (), rival, False), 11)
    assert [e.ring.version for e in effects if isinstance(e, RingAdopted)] == [2, 3]
    assert view.ring.version == 3 and view.ring.nodes() == left


def test_ring_changes_issued_counts_the_rings_made_here_and_not_those_adopted() -> None:
    """``ring_changes_issued`` (exported as a counter) counts the rings this node makes:
    one per admin command, one per change issued again on top of a ring that dropped it;
    a ring made elsewhere and adopted here is counted in ``rings_adopted`` only.

    Reference: Dynamo §4.8.1
    """
    owners = assign_partitions(["a", "b", "c", "d"], Q)
    view = _normal_member_over(owners)
    known = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in ("b", "c", "d"))
    view.receive(GossipAck("b", "y", known, (), None, False), 1)
    view.request_leave("c", 10)
    assert (view.metrics.ring_changes_issued, view.metrics.rings_adopted) == (1, 1)
    rival = RingState(2, "z#1", leave_partitions(owners, "d"))  # z#1 > a#1: it wins
    view.receive(GossipAck("b", "y", (), (), rival, False), 11)
    assert view.ring.version == 3  # the leave of c, issued again on top of the rival
    assert (view.metrics.ring_changes_issued, view.metrics.rings_adopted) == (2, 3)
    later = RingState(4, "z#1", view.ring.owners)
    view.receive(GossipAck("b", "y", (), (), later, False), 12)
    assert (view.metrics.ring_changes_issued, view.metrics.rings_adopted) == (2, 4)


def test_a_satisfied_join_stops_being_watched_after_the_watch_period() -> None:
    """A join the ring already reflects is watched for ``change_watch_ticks`` and
    forgotten at the first round after that."""
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    view.receive(GossipAck("c", "z", (MemberEntry("c", "z", 1, 1, "joining"),), (), None, False), 1)
    view.request_join("c", 2)
    (watch,) = view.pending_changes()
    for now in range(2, 2 + CONFIG.change_watch_ticks):
        view.tick(now)
    assert view.pending_changes() == (watch,)
    for now in range(2 + CONFIG.change_watch_ticks, 2 + CONFIG.change_watch_ticks + 10):
        view.tick(now)
    assert view.pending_changes() == ()


def test_a_satisfied_change_is_watched_for_1000_ticks_by_default() -> None:
    """A racing ring reaches every node in a few gossip periods; by default a change the
    ring reflects is watched 1000 ticks all the same (here a round every tick): still at
    999 ticks after it was issued, gone at 1000.

    Reference: Dynamo §4.8.1
    """
    config = GossipConfig(partition_count=Q, gossip_period_ticks=1)
    view = _normal_member_over(assign_partitions(["a", "b"], Q), config=config)
    view.receive(GossipAck("c", "z", (MemberEntry("c", "z", 1, 1, "joining"),), (), None, False), 1)
    view.request_join("c", 2)
    (watch,) = view.pending_changes()
    view.tick(2 + 999)
    assert view.pending_changes() == (watch,)
    view.tick(2 + 1000)
    assert view.pending_changes() == ()


def test_a_leave_the_ring_does_not_reflect_is_watched_past_the_watch_period() -> None:
    """Only a satisfied change stops being watched. A leave undone by a peer's ring that
    left the node the ring's only one cannot be issued again on top of it (the last node
    never leaves); it stays watched however long that lasts, and is issued again as soon
    as a ring gives the node company.

    Reference: Dynamo §4.8.1
    """
    config = GossipConfig(partition_count=Q, gossip_period_ticks=1, change_watch_ticks=10)
    view = _normal_member_over(assign_partitions(["a", "b", "c"], Q), config=config)
    known = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in ("b", "c"))
    view.receive(GossipAck("b", "y", known, (), None, False), 1)
    view.request_leave("c", 2)
    (watch,) = view.pending_changes()
    alone = RingState(3, "z#1", ("c",) * Q)  # z#1 > a#1: it wins
    view.receive(GossipAck("b", "y", (), (), alone, False), 3)
    assert view.ring == alone
    for now in range(4, 40):
        view.tick(now)
    assert view.pending_changes() == (watch,)
    company = RingState(4, "z#1", assign_partitions(["b", "c"], Q))
    effects = view.receive(GossipAck("b", "y", (), (), company, False), 40)
    assert [e.ring.version for e in effects if isinstance(e, RingAdopted)] == [4, 5]
    assert view.ring.nodes() == {"b"}


def test_a_watched_join_ends_when_its_node_is_heard_to_have_left() -> None:
    """A node joined here and then removed through another node may be heard of next as
    ``left``, with the ring that removed it: its join is history, not issued again on top
    of that ring (a node comes back only in a new generation).

    Reference: Dynamo §4.8.1
    """
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    known = (MemberEntry("b", "y", 1, 1, "normal"), MemberEntry("c", "z", 1, 1, "joining"))
    view.receive(GossipAck("b", "y", known, (), None, False), 1)
    view.request_join("c", 2)
    removed = RingState(3, "b#1", leave_partitions(view.ring.owners, "c"))
    left = MemberEntry("c", "z", 1, 1, "left")
    view.receive(GossipAck("b", "y", (left,), (), removed, False), 3)
    assert view.ring == removed and view.pending_changes() == ()


def test_a_leaving_node_stays_leaving_on_a_ring_that_still_holds_it() -> None:
    """Status only moves forward within a generation: a node that is leaving and adopts a
    racing ring that still gives it partitions stays leaving (its leave is issued again
    on top), where a joining node would become normal.

    Reference: Dynamo §4.8.1
    """
    owners = assign_partitions(["a", "b", "c"], Q)
    view = _normal_member_over(owners)
    known = tuple(MemberEntry(name, "h", 1, 1, "normal") for name in ("b", "c"))
    view.receive(GossipAck("b", "y", known, (), None, False), 1)
    view.request_leave("a", 2)
    assert view.self_entry.status == "leaving"
    rival = RingState(2, "z#1", leave_partitions(owners, "b"))  # z#1 > a#1: it wins
    effects = view.receive(GossipAck("b", "y", (), (), rival, False), 3)
    assert [e for e in effects if isinstance(e, MemberStatusChanged)] == []
    assert view.self_entry.status == "leaving" and view.ring.nodes() == {"c"}


def test_changes_of_different_nodes_are_watched_together() -> None:
    view = _normal_member_over(assign_partitions(["a", "b", "c"], Q))
    known = (MemberEntry("b", "y", 1, 1, "normal"), MemberEntry("d", "z", 1, 1, "joining"))
    view.receive(GossipAck("b", "y", known, (), None, False), 1)
    view.request_join("d", 2)
    view.request_leave("b", 3)
    assert [(w.kind.value, w.node_id, w.issued_tick) for w in view.pending_changes()] == [
        ("join", "d", 2),
        ("leave", "b", 3),
    ]


def test_a_watch_ended_by_its_nodes_new_life_leaves_the_other_watches_in_force() -> None:
    """A node that restarts takes a new generation, and a join watched for its earlier
    life is history; a join watched for another node still holds: when a racing ring
    drops both nodes, only the other one is joined again on top of it.

    Reference: Dynamo §4.8.1
    """
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    known = tuple(MemberEntry(name, "h", 1, 1, "joining") for name in ("c", "d"))
    view.receive(
        GossipAck("b", "y", (MemberEntry("b", "y", 1, 1, "normal"), *known), (), None, False), 1
    )
    view.request_join("c", 2)
    view.request_join("d", 3)
    restarted = MemberEntry("c", "h", 2, 0, "joining")
    view.receive(GossipAck("c", "h", (restarted,), (), None, False), 4)
    rival = RingState(4, "z#1", assign_partitions(["a", "b"], Q))  # z#1 > a#1: it wins
    effects = view.receive(GossipAck("b", "y", (), (), rival, False), 5)
    assert [e.ring.version for e in effects if isinstance(e, RingAdopted)] == [4, 5]
    assert view.ring.nodes() == {"a", "b", "d"}
    assert [(w.kind.value, w.node_id) for w in view.pending_changes()] == [("join", "d")]


def test_members_of_different_weights_join_by_the_weighted_rule() -> None:
    """With a member of weight 2 among ones of weight 1, a join gives the new node its
    share Q·w/Σw by the weighted rule."""
    owners = assign_partitions(["a", "b"], Q)
    view = _normal_member_over(owners)
    heavy = MemberEntry("b", "y", 1, 1, "normal", 2)
    view.receive(
        GossipAck("b", "y", (heavy, MemberEntry("c", "z", 1, 1, "joining")), (), None, False), 1
    )
    view.request_join("c", 2)
    expected = join_weighted(owners, {"a": 1, "b": 2, "c": 1}, "c")
    assert view.ring.owners == expected
    assert expected != join_partitions(owners, "c")


def test_a_member_gossiped_without_a_weight_weighs_one() -> None:
    """An entry made without a weight is of weight 1: among such members a join is the
    plain strategy-3 join."""
    owners = assign_partitions(["a", "b"], Q)
    view = _normal_member_over(owners)
    entries = (MemberEntry("b", "y", 1, 1, "normal"), MemberEntry("c", "z", 1, 1, "joining"))
    view.receive(GossipAck("b", "y", entries, (), None, False), 1)
    view.request_join("c", 2)
    assert view.ring.owners == join_partitions(owners, "c")


def test_a_node_watches_at_most_16_changes_by_default() -> None:
    """``pending_changes_max`` is 16 by default: a seventeenth change issued here while
    sixteen are still watched is refused."""
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    names = [f"j{index:02d}" for index in range(17)]
    joining = tuple(MemberEntry(name, "h", 1, 1, "joining") for name in names)
    view.receive(GossipAck("b", "y", joining, (), None, False), 1)
    for name in names[:16]:
        view.request_join(name, 2)
    assert len(view.pending_changes()) == 16
    with pytest.raises(MembershipArgumentError, match="too many membership changes"):
        view.request_join(names[16], 2)


def test_by_default_the_member_table_holds_1024_members() -> None:
    """``members_max`` is 1,024 by default, this node included: the next member is dropped."""
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0))
    others = tuple(MemberEntry(f"m{index:04d}", "h", 1, 1, "normal") for index in range(1_024))
    view.receive(GossipAck("m0000", "y", others[:1_023], (), None, False), 1)
    assert len(view.members) == 1_024 and view.metrics.members_dropped == 0
    view.receive(GossipAck("m0000", "y", others[1_023:], (), None, False), 2)
    assert len(view.members) == 1_024 and view.metrics.members_dropped == 1


def test_by_default_a_gossip_message_carries_at_most_1024_entries() -> None:
    """``digest_entries_max`` is 1,024 by default: a syn of that many digests is answered,
    one of 1,025 is refused (counted, and answered with nothing).

    Reference: Dynamo §4.8.1
    """
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0))
    digests = tuple(
        MemberEntry(f"m{index:04d}", "h", 1, 1, "normal").digest() for index in range(1_025)
    )
    assert len(view.receive(GossipSyn("m0000", "y", digests[:1_024], 0, ""), 1)) == 1
    assert view.metrics.messages_rejected == 0
    assert view.receive(GossipSyn("m0000", "y", digests, 0, ""), 2) == []
    assert view.metrics.messages_rejected == 1


def test_a_syn_of_as_many_digests_as_the_bound_is_answered() -> None:
    config = GossipConfig(partition_count=Q, digest_entries_max=2)
    view = GossipMembership("a", "x", generation=1, seeds={}, rng=random.Random(0), config=config)
    digests = tuple(MemberEntry(name, "", 1, 1, "normal").digest() for name in ("b", "c"))
    (ack,) = view.receive(GossipSyn("b", "y", digests, 0, ""), 5)
    assert isinstance(ack, GossipPacket) and isinstance(ack.body, GossipAck)
    assert ack.body.requested == ("b", "c") and view.metrics.messages_rejected == 0


def test_a_leave_after_a_join_of_the_same_node_ends_the_joins_watch() -> None:
    """A node joined and then removed stays out: the later leave overrides the join, whose
    watch ends instead of issuing the join again."""
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    view.receive(GossipAck("c", "z", (MemberEntry("c", "z", 1, 1, "joining"),), (), None, False), 1)
    view.request_join("c", 2)
    view.request_leave("c", 3)
    assert view.ring.version == 3 and view.ring.nodes() == {"a", "b"}
    assert [(w.kind.value, w.node_id) for w in view.pending_changes()] == [("leave", "c")]


def test_a_join_is_refused_once_every_partition_has_its_own_node() -> None:
    view = _normal_member_over(("a", "b"), config=GossipConfig(partition_count=2))
    view.receive(GossipAck("c", "z", (MemberEntry("c", "z", 1, 1, "joining"),), (), None, False), 1)
    with pytest.raises(MembershipArgumentError, match="every partition already has its own node"):
        view.request_join("c", 2)


def test_a_member_heard_to_be_leaving_is_reported_as_a_status_change() -> None:
    """A status that moves forward by gossip (here normal to leaving, an admin's leave
    served elsewhere) is an effect, like any other status change."""
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    view.receive(GossipAck("b", "y", (MemberEntry("b", "y", 1, 1, "normal"),), (), None, False), 1)
    leaving = MemberEntry("b", "y", 1, 1, "leaving")
    effects = view.receive(GossipAck("b", "y", (leaving,), (), None, False), 2)
    assert effects == [MemberStatusChanged("b", "normal", "leaving")]


def test_a_normal_member_outside_the_ring_can_be_joined() -> None:
    """A member may be normal and own nothing (its join lost a race to another ring): an
    admin may join it again; only a leaving or left member is refused."""
    view = _normal_member_over(assign_partitions(["a"], Q))
    view.receive(GossipAck("b", "y", (MemberEntry("b", "y", 1, 1, "normal"),), (), None, False), 1)
    view.request_join("b", 2)
    assert view.ring.nodes() == {"a", "b"}
    view.receive(GossipAck("c", "z", (MemberEntry("c", "z", 1, 1, "leaving"),), (), None, False), 3)
    with pytest.raises(MembershipArgumentError, match="is leaving, not joining"):
        view.request_join("c", 4)


def test_a_node_never_heard_of_can_be_removed_and_leaves_no_watch() -> None:
    """A node of the first ring that died before it ever gossiped can be removed by an
    admin; with no entry to say what became of it, the change is not watched."""
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    assert view.entry("b") is None
    view.request_leave("b", 1)
    assert view.ring.nodes() == {"a"} and view.pending_changes() == ()


def test_a_join_the_weighted_rule_cannot_serve_is_a_membership_error() -> None:
    """A member's share under one partition (a weight under 1 here, or Q too small for
    the weights) is refused as an admin's error naming the command."""
    view = _normal_member_over(assign_partitions(["a", "b"], Q))
    nothing = MemberEntry("c", "z", 1, 1, "joining", 0)
    view.receive(GossipAck("c", "z", (nothing,), (), None, False), 1)
    with pytest.raises(MembershipArgumentError, match=r"^join: .*under one partition"):
        view.request_join("c", 2)
    assert view.ring.nodes() == {"a", "b"}


def test_a_join_or_leave_the_weighted_rule_refuses_changes_nothing() -> None:
    """An admin's change refused by the partitioning leaves no trace: no watch that would
    issue it again later, and for a leave no ``leaving`` status, which gossip would spread
    and no later entry of that generation could take back.

    Reference: Dynamo §4.8.1
    """
    view = _normal_member_over(assign_partitions(["a", "b", "c"], Q))
    entries = (MemberEntry("b", "y", 1, 1, "normal"), MemberEntry("c", "z", 1, 1, "normal", 0))
    view.receive(GossipAck("b", "y", entries, (), None, False), 1)
    view.receive(GossipAck("d", "w", (MemberEntry("d", "w", 1, 1, "joining"),), (), None, False), 1)
    for refused in (lambda: view.request_leave("b", 2), lambda: view.request_join("d", 2)):
        with pytest.raises(MembershipArgumentError, match="under one partition"):
            refused()
        assert view.pending_changes() == () and view.ring.version == 1
        assert [view.entry(node).status for node in "bd"] == ["normal", "joining"]


def test_the_first_round_comes_within_a_period_of_the_start_at_a_random_phase() -> None:
    """Views started at the same tick do not gossip in lockstep: each takes its first
    round at a phase of the period drawn from its own randomness, never before it starts."""
    period = CONFIG.gossip_period_ticks
    firsts = set()
    for seed in range(20):
        view = GossipMembership(
            "a",
            "x",
            generation=1,
            seeds={"b": "y"},
            rng=random.Random(seed),
            config=CONFIG,
            now=500,
        )
        first = view.next_round_tick
        assert 500 <= first < 500 + period
        firsts.add(first)
    assert len(firsts) > 1


def test_a_view_started_without_a_tick_starts_at_tick_0() -> None:
    """A view built without a start tick counts from tick 0: its first round is due
    within the first period, whatever phase its randomness draws."""
    period = CONFIG.gossip_period_ticks
    for seed in range(20):
        view = GossipMembership(
            "a", "x", generation=1, seeds={"b": "y"}, rng=random.Random(seed), config=CONFIG
        )
        sent = [e.body for e in view.tick(period - 1) if isinstance(e, GossipPacket)]
        assert [type(body) for body in sent] == [GossipSyn]


def test_a_joining_node_becomes_normal_on_the_first_ring_that_gives_it_partitions() -> None:
    """A ring without the node leaves it joining; the first ring that includes it makes it
    normal, reported as a status change."""
    view = GossipMembership(
        "c", "z", generation=1, seeds={"a": "x"}, rng=random.Random(0), config=CONFIG
    )
    without = RingState(1, "boot", assign_partitions(["a", "b"], Q))
    view.receive(GossipAck("a", "x", (), (), without, False), 1)
    assert view.self_entry.status == "joining"
    with_it = RingState(2, "a#1", assign_partitions(["a", "b", "c"], Q))
    effects = view.receive(GossipAck("a", "x", (), (), with_it, False), 2)
    assert MemberStatusChanged("c", "joining", "normal") in effects
    assert view.self_entry.status == "normal"


@pytest.mark.parametrize(
    ("nodes_known", "rival_nodes"),
    [
        # c (weight 4) joined a ring of a and b (weights 1): 6 <= Q = 8. The rival ring
        # holds d (weight 3) instead: c's share among a, b, d is under one partition.
        ((("c", 4), ("d", 3)), ("a", "b", "d")),
        # Q = 8 partitions, and the rival ring already gives each of them its own node.
        ((("c", 1), ("d", 1)), ("a", "b", "d", "e", "f", "g", "h", "i")),
    ],
)
def test_a_watched_join_that_no_longer_fits_an_adopted_ring_is_dropped_not_raised(
    nodes_known: tuple[tuple[str, int], ...], rival_nodes: tuple[str, ...]
) -> None:
    """A join issued here and lost to a racing ring is issued again on top of it, unless
    it no longer fits that ring: then the peer's ring is still adopted (a gossip message
    must never crash a node), the watch is dropped, counted in ``changes_dropped``, and
    no new ring is issued for it."""
    config = GossipConfig(partition_count=8)
    view = _normal_member_over(assign_partitions(["a", "b"], 8), config=config)
    joining = (MemberEntry(name, "h", 1, 1, "joining", weight) for name, weight in nodes_known)
    known = (MemberEntry("b", "y", 1, 1, "normal"), *joining)
    view.receive(GossipAck("b", "y", known, (), None, False), 1)
    view.request_join("c", 2)
    assert "c" in view.ring.nodes() and len(view.pending_changes()) == 1
    rival = RingState(2, "z#1", assign_partitions(list(rival_nodes), 8))  # z#1 > a#1: it wins
    effects = view.receive(GossipAck("b", "y", (), (), rival, False), 3)
    assert [e.ring for e in effects if isinstance(e, RingAdopted)] == [rival]
    assert view.ring == rival and view.pending_changes() == ()
    assert view.metrics.changes_dropped == 1


def test_a_watched_join_dropped_for_not_fitting_leaves_the_next_one_issued_again() -> None:
    """Of two joins issued here and lost to a racing ring, one may no longer fit it and is
    dropped (counted in ``changes_dropped``); the other is still issued again on top of
    the peer's ring: one change that cannot be served does not hold back the rest.

    Reference: Dynamo §4.8.1
    """
    config = GossipConfig(partition_count=8)
    view = _normal_member_over(assign_partitions(["a", "b"], 8), config=config)
    joining = tuple(
        MemberEntry(name, "h", 1, 1, "joining", w) for name, w in [("c", 4), ("d", 3), ("e", 1)]
    )
    view.receive(
        GossipAck("b", "y", (MemberEntry("b", "y", 1, 1, "normal"), *joining), (), None, False), 1
    )
    view.request_join("c", 2)
    view.request_join("e", 3)
    rival = RingState(3, "z#1", assign_partitions(["a", "b", "d"], 8))  # z#1 > a#1: it wins
    effects = view.receive(GossipAck("b", "y", (), (), rival, False), 4)
    assert [e.ring.version for e in effects if isinstance(e, RingAdopted)] == [3, 4]
    assert view.ring.nodes() == {"a", "b", "d", "e"}
    assert [(w.kind.value, w.node_id) for w in view.pending_changes()] == [("join", "e")]
    assert view.metrics.changes_dropped == 1
