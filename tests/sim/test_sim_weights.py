"""Heterogeneous nodes (Dynamo §2: "a powerful machine gets more vnodes"): in the
simulator a node's weight, gossiped with its member entry, gives it Q·wᵢ/Σw ± 1
partitions in the initial ring and after every join and leave (weighted strategy 3)."""

from __future__ import annotations

from collections import Counter

from dynamokv.impl.core import MemberEntry
from dynamokv.impl.core._gossip import merge_entries
from dynamokv.impl.sim import Cluster

Q = 240


def _within_one_of_share(owners: tuple[str, ...], weights: dict[str, int]) -> None:
    counts = Counter(owners)
    total = sum(weights[node] for node in counts)
    for node, count in counts.items():
        share = len(owners) * weights[node] / total
        assert abs(count - share) <= 1, (node, count, share)


def _run_until(cluster: Cluster, done: object, ticks_max: int = 20_000) -> None:
    limit = cluster.now + ticks_max
    while cluster.now < limit:
        if done():  # type: ignore[operator]
            return
        cluster.run(until=cluster.now + 20)
    raise AssertionError("not within the simulated time")


def test_weighted_nodes_join_and_leave_keeping_their_shares() -> None:
    weights = {"n1": 1, "n2": 1, "n3": 2, "n4": 3}
    cluster = Cluster(3, seed=5, q=Q, membership="gossip", spares=1, weights=weights)
    cluster.run(until=100)
    _within_one_of_share(cluster.ring.assignment, weights)
    cluster.restart("n4")
    _run_until(cluster, lambda: cluster.join("n4", via="n1"))
    _run_until(cluster, lambda: "n4" in cluster.ring.nodes())
    owners = cluster.ring.assignment
    _within_one_of_share(owners, weights)
    assert Counter(owners)["n4"] in (102, 103)  # 240 * 3/7 = 102.9; an equal share is 60
    assert cluster.leave("n3", via="n2")
    _run_until(cluster, lambda: "n3" not in cluster.ring.nodes())
    _within_one_of_share(cluster.ring.assignment, weights)


def test_a_members_weight_survives_the_gossip_merge() -> None:
    light = MemberEntry("n1", "a", 1, 5, "normal")
    heavy = MemberEntry("n1", "a", 1, 3, "normal", weight=4)
    assert merge_entries(light, heavy).weight == 4
    assert merge_entries(heavy, light).weight == 4
