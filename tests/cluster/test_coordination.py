"""Client-driven coordination (Dynamo §6.4) on real node processes on loopback."""

from __future__ import annotations

import random
from pathlib import Path

from dynamokv.impl.cli._bench_coordination import Latencies, measure, print_table
from dynamokv.impl.client import Client, RingAwareClient
from dynamokv.impl.runtime._local_cluster import LocalCluster


def test_ring_aware_client_routes_to_the_coordinator_and_the_bench_measures_both(
    tmp_path: Path,
) -> None:
    """The ring-aware client's preference lists are the nodes' own, its requests land on
    the key's coordinator, and the interleaved bench measures both approaches.

    Reference: Dynamo §6.4 ("the client ... can determine which set of nodes form the
    preference list for any given key").
    """
    with LocalCluster(tmp_path / "c", nodes=5, n=3, r=2, w=2, fsync="none") as cluster:
        cluster.up()
        addresses = cluster.http_addresses()
        with RingAwareClient(addresses, rng=random.Random(1)) as client:
            with Client(addresses[0]) as probe:
                for index in range(40):
                    key = f"k-{index}"
                    placement = probe.json(f"/cluster/ring?key={key}")["key"]
                    assert client.preference_list(key) == tuple(placement["preference_list"])
                    assert client.owner_addresses(key)[0] == placement["coordinator_http"]
            context = client.put("cart", b"milk")
            client.put("cart", b"milk\neggs", context)
            assert [s.value for s in client.get("cart").siblings] == [b"milk\neggs"]
        server, ring_aware, counts = measure(addresses, ops=40, keys=10, seconds_max=60, seed=3)
    assert counts["errors"] == 0
    assert len(server.reads_ms) + len(server.writes_ms) == 40
    assert len(ring_aware.reads_ms) + len(ring_aware.writes_ms) == 40
    assert counts["forwarded puts (server-driven)"] > 0
    lines = print_table(server, ring_aware, counts)
    assert any(line.startswith("client-driven, Dynamo Table 2") for line in lines)


def test_latency_percentile_is_the_nearest_rank() -> None:
    samples = [float(value) for value in range(1, 1001)]
    assert Latencies.percentile(samples, 0.999) == 999.0
    assert Latencies.percentile(samples, 0.5) == 500.0
    assert Latencies.percentile([], 0.999) == 0.0


def test_the_table_columns_line_up_under_their_headers() -> None:
    lines = print_table(Latencies([1.0, 2.0], [3.0]), Latencies([0.5], [1.5, 2.5]), {"errors": 0})
    header, *rows = lines[1:-1]
    assert len(rows) == 6
    assert {len(row) for row in rows} == {len(header)}
    assert all(
        row.startswith(label) for row, label in zip(rows[2:4], ("server", "client"), strict=True)
    )
