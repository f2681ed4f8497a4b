"""Helpers for the core tests: a small fault-free cluster and blocking requests."""

from __future__ import annotations

from dynamokv.impl.core import GetRequest, GetResult, NodeConfig, PutRequest, PutResult, Result
from dynamokv.impl.sim import Cluster, NetworkConfig

KEY = b"cart"  # preference list n2 n3 n4, substitutes n5 n1 on the 5-node, Q=64 ring


def small_cluster(nodes: int = 5, **config: object) -> Cluster:
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=1, disk_delay_ticks_max=0)
    return Cluster(nodes, seed=0, config=NodeConfig(**config), q=64, network=network)  # type: ignore[arg-type]


def request(cluster: Cluster, node: str, req: GetRequest | PutRequest, ticks: int = 300) -> Result:
    result = cluster.request(node, req, ticks_max=ticks)
    assert result is not None, "no reply"
    return result


def put(
    cluster: Cluster,
    node: str,
    value: bytes | None,
    context: tuple[tuple[str, int], ...] = (),
    **kw: int,
) -> PutResult:
    result = request(cluster, node, PutRequest(KEY, value, context, kw.get("w")))
    assert isinstance(result, PutResult)
    return result


def get(cluster: Cluster, node: str, **kw: int) -> GetResult:
    result = request(cluster, node, GetRequest(KEY, kw.get("r")))
    assert isinstance(result, GetResult)
    return result


def settle(cluster: Cluster, ticks: int = 200) -> None:
    cluster.run(until=cluster.now + ticks)
