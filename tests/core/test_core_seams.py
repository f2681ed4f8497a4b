"""The seams: the node decides through :class:`Seams`, so a planted rule changes what it does.

Each test plants one wrong function and shows the node's behaviour change through it,
so a seam that the node stopped calling (a refactor that inlines the rule again) fails
here. The correct rules are tested against Dynamo §4.5 directly.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Collection, Mapping, Sequence

import pytest
from core_helpers import KEY, request
from dynamokv.impl.core import (
    DEFAULT_SEAMS,
    GetRequest,
    GetResult,
    Hint,
    MemberEntry,
    NodeConfig,
    PutRequest,
    PutResult,
    Receive,
    Seams,
    WriteAck,
    WriteRequest,
    hint_size_bytes,
    merkle_descend,
    read_may_answer,
    write_may_answer,
)
from dynamokv.impl.core._gossip import choose_gossip_peer, merge_entries
from dynamokv.impl.core._handoff import hint_to_store
from dynamokv.impl.core._phi import phi_of_silence
from dynamokv.impl.sim import Cluster, NetworkConfig
from dynamokv.impl.sim._gossip_sim import run_gossip
from dynamokv.impl.sim._measurements import measure_repair_traffic
from dynamokv.spec.errors import DynamoKVError, InvariantError
from dynamokv.spec.kv import Version

OWNERS = ("n2", "n3", "n4")  # KEY's preference list on the 5-node, Q=64 ring


def cluster_with(seams: Seams, **config: object) -> Cluster:
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=1, disk_delay_ticks_max=0)
    return Cluster(
        5,
        seed=0,
        config=NodeConfig(**config),  # type: ignore[arg-type]
        q=64,
        network=network,
        seams=seams,
    )


def acks_on_own_write(
    acked: Collection[str],
    targets: Mapping[str, str | None],
    *,
    w: int,
    coordinator: str,
    strict: bool,
) -> bool:
    """Planted: acknowledge as soon as the coordinator's own write is durable (W = 1)."""
    return coordinator in acked


def answers_on_first_reply(
    replied: Collection[str], targets: Mapping[str, str | None], *, r: int, strict: bool
) -> bool:
    """Planted: answer a get on its first reply, whatever R is."""
    return len(replied) >= 1


def test_the_default_seams_are_the_projects_own_functions() -> None:
    assert Seams() == DEFAULT_SEAMS
    assert DEFAULT_SEAMS.read_may_answer is read_may_answer
    assert DEFAULT_SEAMS.write_may_answer is write_may_answer


def test_the_shared_default_seams_cannot_be_changed() -> None:
    """Every node that is given no seams shares ``DEFAULT_SEAMS``: planting a rule into it
    would reach every later node, so a planted rule goes into a new ``Seams`` instead."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_SEAMS.write_may_answer = read_may_answer  # type: ignore[misc]
    assert DEFAULT_SEAMS.write_may_answer is write_may_answer


def test_the_write_rule_counts_w_durable_acks_with_the_coordinators_own() -> None:
    """Dynamo §4.5: the coordinator writes locally and succeeds if W-1 others respond."""
    targets: dict[str, str | None] = {"n2": None, "n3": None, "n4": None}
    assert write_may_answer({"n2", "n3"}, targets, w=2, coordinator="n2", strict=True)
    assert not write_may_answer({"n3", "n4"}, targets, w=2, coordinator="n2", strict=True)
    assert not write_may_answer({"n2"}, targets, w=2, coordinator="n2", strict=False)


def test_a_strict_quorum_does_not_count_a_substitutes_hinted_copy() -> None:
    """Dynamo §4.6: a hinted copy keeps a sloppy quorum writable; a strict one ignores it."""
    targets = {"n2": None, "n3": None, "n5": "n4"}
    assert write_may_answer({"n2", "n5"}, targets, w=2, coordinator="n2", strict=False)
    assert not write_may_answer({"n2", "n5"}, targets, w=2, coordinator="n2", strict=True)
    assert read_may_answer({"n5", "n3"}, targets, r=2, strict=False)
    assert not read_may_answer({"n5", "n3"}, targets, r=2, strict=True)


def test_a_planted_write_rule_acknowledges_a_write_only_the_coordinator_holds() -> None:
    """With the two other owners cut off, W=2 must fail; the planted rule acks it."""
    for seams, acknowledged in (
        (DEFAULT_SEAMS, False),
        (Seams(write_may_answer=acks_on_own_write), True),
    ):
        cluster = cluster_with(seams, strict_quorum=True)
        for other in OWNERS[1:]:
            cluster.block(OWNERS[0], other)
        result = request(cluster, OWNERS[0], PutRequest(KEY, b"v", (), 2))
        assert isinstance(result, PutResult)
        assert result.ok is acknowledged


def test_a_planted_read_rule_answers_with_fewer_than_r_replies() -> None:
    """With two owners cut off, an R=3 get must time out; the planted rule answers it."""
    for seams, answered in (
        (DEFAULT_SEAMS, False),
        (Seams(read_may_answer=answers_on_first_reply), True),
    ):
        cluster = cluster_with(seams, strict_quorum=True)
        for other in OWNERS[1:]:
            cluster.block(other, OWNERS[0])
        result = request(cluster, OWNERS[0], GetRequest(KEY, 3))
        assert isinstance(result, GetResult)
        assert result.ok is answered
        assert result.replies == 1  # the coordinator alone answered, in both runs


def test_production_configuration_cannot_name_a_planted_bug() -> None:
    """Planted bugs are Seams handed over by the simulator or a test; the node's own
    configuration, the runtime's configuration and the node process have no field or
    argument that could carry one."""
    import inspect

    from dynamokv.impl.runtime import NodeProcess, NodeProcessConfig

    for cls in (NodeConfig, NodeProcessConfig):
        names = {field.name for field in dataclasses.fields(cls)}
        assert not {name for name in names if "planted" in name or "seam" in name}, cls
    parameters = set(inspect.signature(NodeProcess.__init__).parameters)
    assert not {name for name in parameters if "planted" in name or "seam" in name}


def _keeps_the_older_entry(a: MemberEntry, b: MemberEntry) -> MemberEntry:
    """Planted: the merge keeps what the node already had."""
    return a


def _always_the_first_peer(candidates: Sequence[str], rng: random.Random) -> str | None:
    """Planted: every round gossips with the same peer."""
    return candidates[0] if candidates else None


def _never_suspects(silence_ticks: float, mean_ticks: float, std_deviation_ticks: float) -> float:
    """Planted: phi stays 0 whatever the silence."""
    return 0.0


def test_the_gossip_seams_are_the_projects_own_functions() -> None:
    assert DEFAULT_SEAMS.merge_entries is merge_entries
    assert DEFAULT_SEAMS.choose_gossip_peer is choose_gossip_peer
    assert DEFAULT_SEAMS.phi_of_silence is phi_of_silence


def test_a_planted_merge_rule_that_keeps_the_older_entry_suspects_live_nodes() -> None:
    """Heartbeats travel only through the merge: keeping the older entry starves the detectors."""
    assert run_gossip(8, seed=1).false_suspicions == 0
    planted = run_gossip(8, seed=1, seams=Seams(merge_entries=_keeps_the_older_entry))
    assert planted.false_suspicions > 0


def test_a_planted_suspicion_function_never_detects_a_crash() -> None:
    run_gossip(8, seed=1, rounds_max=60)
    with pytest.raises(DynamoKVError, match="did not converge"):
        run_gossip(8, seed=1, rounds_max=60, seams=Seams(phi_of_silence=_never_suspects))


def test_a_planted_peer_choice_sends_every_round_to_one_hub() -> None:
    """Every view gossips with the first seed: the messages are no longer spread out."""
    good = run_gossip(16, seed=1)
    bad = run_gossip(16, seed=1, seams=Seams(choose_gossip_peer=_always_the_first_peer))
    assert bad.trace_digest != good.trace_digest
    assert bad.join_visible_rounds <= good.join_visible_rounds  # a hub relays in two rounds


def _descends_everywhere(
    level: int, depth: int, compared: Sequence[int], differing: Sequence[int]
) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Planted: descend under every compared node, equal or not."""
    return merkle_descend(level, depth, compared, compared)


def test_the_recovery_seams_are_the_projects_own_functions() -> None:
    assert DEFAULT_SEAMS.hint_to_store is hint_to_store
    assert DEFAULT_SEAMS.merkle_descend is merkle_descend


def test_a_planted_merkle_walk_that_descends_into_equal_subtrees_compares_the_whole_tree() -> None:
    good = measure_repair_traffic(keys=2000, divergent=2, depth=8)
    bad = measure_repair_traffic(keys=2000, divergent=2, depth=8, descend=_descends_everywhere)
    assert good.keys_repaired == bad.keys_repaired == 2
    assert bad.nodes_exchanged == 2**9 - 1 > 10 * good.nodes_exchanged


def test_a_planted_hint_store_that_ignores_its_bound_breaks_the_nodes_invariant() -> None:
    """A hint store past hints_count_max is a bug the node asserts, not a value."""

    def ignores_the_bound(
        owner: str, key: bytes, versions: tuple[Version, ...], *, hint_id: int, **_: int
    ) -> Hint:
        return Hint(hint_id, owner, key, versions, hint_size_bytes(key, versions))

    def hinted_writes(seams: Seams) -> list[bool]:
        """Two writes meant for n3 reach substitute n5, whose store holds one hint."""
        cluster = cluster_with(seams, hints_count_max=1)
        put = request(cluster, "n2", PutRequest(KEY, b"v", (), 1))
        assert isinstance(put, PutResult) and put.version is not None
        node = cluster.nodes["n5"]
        assert node is not None
        acks = []
        for op_id, key in enumerate((b"cart-a", b"cart-b")):
            message = WriteRequest("n2", "n5", op_id, key, (put.version,), "n3")
            for effect in node.step(Receive(message), cluster.now):
                if isinstance(effect, WriteAck):
                    acks.append(effect.ok)
        return acks

    assert hinted_writes(DEFAULT_SEAMS) == [False]  # the second is refused at once
    with pytest.raises(InvariantError, match="hints_count_max"):
        hinted_writes(Seams(hint_to_store=ignores_the_bound))


def test_the_seams_are_slotted() -> None:
    """A node's seams are their declared decisions and nothing else: no instance dict."""
    assert not hasattr(DEFAULT_SEAMS, "__dict__")
    assert not hasattr(dataclasses.replace(DEFAULT_SEAMS), "__dict__")


def test_a_write_rule_that_answers_before_any_ack_reports_zero_acks() -> None:
    """A rule may answer a put at once, before even the coordinator's own write is
    durable: the reply then counts the acks it had, none."""

    def at_once(
        acked: Collection[str],
        targets: Mapping[str, str | None],
        *,
        w: int,
        coordinator: str,
        strict: bool,
    ) -> bool:
        return True

    cluster = cluster_with(Seams(write_may_answer=at_once))
    result = request(cluster, OWNERS[0], PutRequest(KEY, b"v"))
    assert isinstance(result, PutResult)
    assert result.ok and result.acks == 0
