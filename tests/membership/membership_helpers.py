"""Helpers for the membership tests: small gossip clusters and blocking requests."""

from __future__ import annotations

from dynamokv.impl.core import (
    GetRequest,
    MemberConfig,
    Node,
    NodeConfig,
    PutRequest,
    PutResult,
    Result,
)
from dynamokv.impl.sim import Cluster, NetworkConfig

Q = 64


def gossip_cluster(nodes: int = 5, *, spares: int = 0, **member: object) -> Cluster:
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=2, disk_delay_ticks_max=1)
    cluster = Cluster(
        nodes,
        seed=3,
        config=NodeConfig(),
        q=Q,
        network=network,
        membership="gossip",
        member_config=MemberConfig(**member),  # type: ignore[arg-type]
        spares=spares,
    )
    cluster.run(until=60)
    return cluster


def request(cluster: Cluster, node: str, req: GetRequest | PutRequest) -> Result:
    result = cluster.request(node, req, ticks_max=400)
    assert result is not None, "no reply"
    return result


def write_keys(cluster: Cluster, count: int, prefix: bytes = b"k") -> list[bytes]:
    keys = [prefix + b"%03d" % i for i in range(count)]
    for i, key in enumerate(keys):
        result = request(cluster, cluster.initial[i % len(cluster.initial)], PutRequest(key, b"v"))
        assert isinstance(result, PutResult) and result.ok
    return keys


def live(cluster: Cluster) -> list[Node]:
    return [n for n in cluster.nodes.values() if n is not None and n.gossip_mode]


def settled(cluster: Cluster, ticks_max: int = 4000) -> None:
    limit = cluster.now + ticks_max
    while cluster.now < limit:
        cluster.run(until=cluster.now + 20)
        if (
            all(
                not n.transfers_in_flight and not n.holds_data_it_does_not_own()
                for n in live(cluster)
            )
            and not cluster.hints_pending()
        ):
            return
    raise AssertionError("handoff did not finish")
