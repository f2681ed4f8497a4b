"""A stateful Hypothesis model: the simulated cluster held against ``spec.kv.KVModel``.

Rules put, get and delete (carrying the contexts of earlier gets), crash and
restart nodes, partition and heal the network and change the loss rate. Every
acknowledged put is applied to :class:`dynamokv.spec.kv.KVModel`, the ideal
converged store. After every step: no checker fired, every value read was
written, and every acknowledged version is durable on some node. After
``converge`` (faults off, hints drained, read repair of every key) every owner
holds exactly the same versions, which cover the model's.
"""

from __future__ import annotations

import pytest
from dynamokv.impl.core import (
    DEFAULT_SEAMS,
    GetRequest,
    GetResult,
    NodeConfig,
    PutRequest,
    PutResult,
    Result,
    covers,
)
from dynamokv.impl.sim import PLANTED_BUGS, Cluster, NetworkConfig
from dynamokv.impl.sim._simulate import _disagreements
from dynamokv.spec.kv import KVModel, Version
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

NAMES = ("n1", "n2", "n3", "n4")
KEYS = (b"a", b"b", b"c")


class ClusterAgainstSpec(RuleBasedStateMachine):
    seams = DEFAULT_SEAMS

    def __init__(self) -> None:
        super().__init__()
        self.network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=3)
        self.cluster = Cluster(
            len(NAMES), seed=0, config=NodeConfig(), q=32, network=self.network, seams=self.seams
        )
        self.model = KVModel()
        self.contexts: dict[bytes, tuple[tuple[str, int], ...]] = {}
        self.written: set[bytes] = set()
        self.created: dict[bytes, list[Version]] = {key: [] for key in KEYS}
        self.acked: list[tuple[bytes, Version]] = []
        self.sequence = 0

    def _request(self, node: str, req: GetRequest | PutRequest) -> Result | None:
        done: list[Result] = []
        self.cluster.submit(node, req, done.append)
        limit = self.cluster.now + 150
        while not done and self.cluster.now < limit:
            self.cluster.run(until=self.cluster.now + 2)
        return done[0] if done else None

    def _put(self, key: bytes, node: str, value: bytes | None) -> None:
        result = self._request(node, PutRequest(key, value, self.contexts.get(key, ())))
        if isinstance(result, PutResult) and result.version is not None:
            self.created[key].append(result.version)
            if result.ok:
                self.model = self.model.apply(key, [result.version])
                self.acked.append((key, result.version))

    @rule(key=st.sampled_from(KEYS), node=st.sampled_from(NAMES))
    def put(self, key: bytes, node: str) -> None:
        self.sequence += 1
        value = b"item%d" % self.sequence
        self.written.add(value)
        self._put(key, node, value)

    @rule(key=st.sampled_from(KEYS), node=st.sampled_from(NAMES))
    def delete(self, key: bytes, node: str) -> None:
        self._put(key, node, None)

    @rule(key=st.sampled_from(KEYS), node=st.sampled_from(NAMES), forget=st.booleans())
    def get(self, key: bytes, node: str, forget: bool) -> None:
        result = self._request(node, GetRequest(key))
        if isinstance(result, GetResult) and result.ok:
            for version in result.versions:
                assert version.value is None or version.value in self.written, "phantom value"
            if not forget:
                self.contexts[key] = result.context

    @rule(node=st.sampled_from(NAMES))
    def crash(self, node: str) -> None:
        self.cluster.crash(node)

    @rule(node=st.sampled_from(NAMES))
    def restart(self, node: str) -> None:
        self.cluster.restart(node)

    @rule(cut=st.integers(min_value=1, max_value=len(NAMES) - 1), one_way=st.booleans())
    def partition(self, cut: int, one_way: bool) -> None:
        if one_way:
            self.cluster.block(NAMES[0], NAMES[cut])
        else:
            self.cluster.partition(NAMES[:cut], NAMES[cut:])

    @rule()
    def heal(self) -> None:
        self.cluster.heal()

    @rule(loss=st.sampled_from([0.0, 0.1, 0.3]))
    def set_loss_rate(self, loss: float) -> None:
        self.network.drop = loss

    @precondition(lambda self: bool(self.acked))
    @rule()
    def converge(self) -> None:
        cluster = self.cluster
        self.network.drop = 0.0
        cluster.heal()
        for name in NAMES:
            cluster.restart(name)
        cluster.run(until=cluster.now + 200)
        for _ in range(40):
            if not cluster.hints_pending():
                break
            cluster.run(until=cluster.now + 20)
        assert cluster.hints_pending() == 0, "hints did not drain"
        for key in KEYS:
            owner = cluster.ring.preference_list(key)[0]
            self._request(owner, GetRequest(key, r=cluster.ring.n))
        cluster.run(until=cluster.now + 100)
        for key in KEYS:
            holders = cluster.holders(key)
            assert len(set(holders.values())) == 1, f"owners of {key!r} disagree: {holders}"
            held = next(iter(holders.values()))
            for version in self.model.data.get(key, frozenset()):
                assert covers(held, version), f"acknowledged {version.dot} lost"
            for version in held:  # no phantom survives repair either
                assert version.value is None or version.value in self.written

    @invariant()
    def no_checker_fired(self) -> None:
        assert self.cluster.violations == []

    @invariant()
    def acknowledged_versions_are_durable_somewhere(self) -> None:
        for key, version in self.acked:
            assert any(
                covers(disk.synced_versions(key), version)
                or any(
                    hint.key == key and covers(hint.versions, version)
                    for hint in disk.synced_hints()
                )
                for disk in self.cluster.disks.values()
            ), f"acknowledged {version.dot} of {key!r} is durable nowhere"


ClusterAgainstSpec.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
test_cluster_against_spec = ClusterAgainstSpec.TestCase


class _DropsHintsEarly(ClusterAgainstSpec):
    seams = PLANTED_BUGS["drop-hint-before-ack"]


def test_model_catches_a_planted_bug() -> None:
    """The model is not vacuous: deleting hints before the owner's ack is found."""
    with pytest.raises(AssertionError):
        run_state_machine_as_test(
            _DropsHintsEarly,
            settings=settings(
                max_examples=200, stateful_step_count=40, deadline=None, database=None
            ),
        )


SPARE = "n5"


class GossipClusterAgainstSpec(ClusterAgainstSpec):
    """The same model over complete nodes: gossip, phi health, handoff, anti-entropy.

    Extra rules join the spare node (or a node that left), make a member leave, and
    lose gossip messages; ``converge`` lets anti-entropy (not read repair) bring every
    owner to the same versions, with the Merkle roots equal.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cluster = Cluster(
            len(NAMES),
            seed=0,
            config=NodeConfig(),
            q=32,
            network=self.network,
            membership="gossip",
            spares=1,
            seams=self.seams,
        )
        self.cluster.run(until=40)

    @rule(via=st.sampled_from(NAMES))
    def join(self, via: str) -> None:
        cluster = self.cluster
        outside = [
            n
            for n in cluster.names
            if n not in cluster.members() and cluster.status_of(n) in ("down", "left")
        ]
        if not outside:
            return
        name = outside[0]
        cluster.crash(name)
        cluster.restart(name)
        cluster.run(until=cluster.now + 40)
        cluster.join(name, via=via)  # refused unless gossip already spread the newcomer
        cluster.run(until=cluster.now + 20)

    @rule(node=st.sampled_from((*NAMES, SPARE)), via=st.sampled_from(NAMES))
    def leave(self, node: str, via: str) -> None:
        if len(self.cluster.members()) > 3 and node in self.cluster.members():
            self.cluster.leave(node, via=via)
            self.cluster.run(until=self.cluster.now + 20)

    @rule(loss=st.sampled_from([0.0, 0.5, 1.0]))
    def set_gossip_loss_rate(self, loss: float) -> None:
        self.network.gossip_drop = loss

    @precondition(lambda self: bool(self.acked))
    @rule()
    def converge(self) -> None:
        cluster = self.cluster
        self.network.drop = self.network.gossip_drop = 0.0
        cluster.heal()
        for name in sorted(cluster.started):
            cluster.restart(name)
        reasons = _disagreements(cluster)
        deadline = cluster.now + 5000
        while reasons and cluster.now < deadline:
            cluster.run(until=cluster.now + 20)
            reasons = _disagreements(cluster)
        assert reasons == [], reasons
        cluster.run(until=cluster.now + 40)
        for key in KEYS:
            holders = cluster.holders(key)
            assert len(set(holders.values())) == 1, f"owners of {key!r} disagree: {holders}"
            held = next(iter(holders.values()))
            for version in self.model.data.get(key, frozenset()):
                assert covers(held, version), f"acknowledged {version.dot} lost"


def test_a_seed_that_left_and_rejoins_through_itself_is_gossiped_to_again() -> None:
    """A counterexample the long model found, kept as a fixed case.

    n1 (a seed) leaves, and n2 (the other seed) leaves through n1; n2 crashes; n1
    restarts knowing only the seeds and joins itself into a new ring. The members
    still in the ring must keep calling the seeds that left, or the two groups never
    meet and the new ring never reaches them (Dynamo §4.8.2).
    """
    state = GossipClusterAgainstSpec()
    state.join(via="n1")
    state.leave(node="n1", via="n2")
    state.leave(node="n2", via="n1")
    state.crash(node="n2")
    state.join(via="n1")
    state.delete(key=b"a", node="n1")
    state.converge()
    state.teardown()


GossipClusterAgainstSpec.TestCase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None
)
test_gossip_cluster_against_spec = GossipClusterAgainstSpec.TestCase


@pytest.mark.slow
def test_gossip_cluster_against_spec_long() -> None:
    run_state_machine_as_test(
        GossipClusterAgainstSpec,
        settings=settings(max_examples=150, stateful_step_count=50, deadline=None),
    )


def test_a_ring_lost_with_its_issuer_is_not_waited_for() -> None:
    """A join's new ring lives only in its issuer's memory until it is stored and
    gossiped; a crash at that moment loses it. The cluster converges on the ring that
    survived, not on the lost one (the churn sweep over the store, seed 20265, waited
    for a ring no node held and found every owner of it disagreeing)."""
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=3)
    cluster = Cluster(
        4,
        seed=0,
        config=NodeConfig(),
        q=32,
        network=network,
        membership="gossip",
        spares=1,
    )
    cluster.run(until=40)
    before = cluster.newest_ring()
    spare = next(name for name in cluster.names if name not in cluster.members())
    cluster.crash(spare)
    cluster.restart(spare)
    cluster.run(until=cluster.now + 40)
    via = cluster.members()[0]
    network.gossip_drop = 1.0  # the new ring is not gossiped before the crash
    assert cluster.join(spare, via=via)
    assert cluster.newest_ring() > before
    cluster.crash(via)
    network.gossip_drop = 0.0
    assert cluster.newest_ring() == before
    assert spare not in cluster.members()
    cluster.restart(via)
    deadline = cluster.now + 3000
    reasons = _disagreements(cluster)
    while reasons and cluster.now < deadline:
        cluster.run(until=cluster.now + 20)
        reasons = _disagreements(cluster)
    assert reasons == [], reasons
