"""Tombstone reaping on real processes: deleted keys are forgotten on every owner only once
all of them hold the tombstone, hinted handoff and a crash in play; none comes back, and
once the faults are over every node forgets every deleted key (no tombstone is left on
any disk)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cluster_helpers import stored_versions, wait_for
from conftest import processes_under
from dynamokv.impl.cli._bench_reap import compact_store, directory_bytes
from dynamokv.impl.client import Client, ClientError
from dynamokv.impl.runtime._local_cluster import LocalCluster
from dynamokv.impl.runtime._metrics import TOMBSTONES_HELD_METRIC, TOMBSTONES_REAPED_METRIC

KEYS = [b"reap-%03d" % index for index in range(60)]
DELETED = KEYS[:48]


def _asked_total(cluster: LocalCluster) -> int:
    return sum(
        int(cluster.metrics(name).get("dynamokv_member_tombstones_asked_total", 0))
        for name in cluster.names
        if cluster.is_up(name)
    )


def _reaped_total(cluster: LocalCluster) -> int:
    return sum(
        int(cluster.metrics(name).get(TOMBSTONES_REAPED_METRIC, 0))
        for name in cluster.names
        if cluster.is_up(name)
    )


def _tombstones_held(cluster: LocalCluster) -> dict[str, int]:
    """Each node's deleted keys still stored as tombstones (-1: it did not answer)."""
    return {
        name: int(cluster.metrics(name).get(TOMBSTONES_HELD_METRIC, -1)) for name in cluster.names
    }


def _all_forgotten(cluster: LocalCluster) -> bool:
    return all(count == 0 for count in _tombstones_held(cluster).values())


def _value(client: Client, key: bytes) -> bytes | None:
    values = client.get(key).values
    assert len(values) <= 1, values
    return values[0] if values else None


@pytest.mark.slow
def test_deleted_keys_are_reaped_on_every_owner_and_never_come_back(tmp_path: Path) -> None:
    with LocalCluster(
        tmp_path / "cluster",
        nodes=4,
        partition_count=64,
        cluster_options={"tombstone_grace_seconds": 1},
    ) as cluster:
        cluster.up()
        with Client(cluster.http_address("node-1"), timeout_seconds=10) as client:
            contexts = {key: client.put(key, b"value of " + key, w=3) for key in KEYS}
        # node-4 misses the deletes: substitutes keep them as hints (Dynamo §4.6).
        cluster.kill("node-4")
        with Client(cluster.http_address("node-2"), timeout_seconds=10) as client:
            for key in DELETED:
                for _attempt in range(5):
                    try:
                        client.delete(key, contexts[key], w=2)
                        break
                    except ClientError:
                        continue
                else:
                    raise AssertionError(f"the delete of {key!r} was never acknowledged")
        # The reapers ask, node-4 cannot answer: nothing it owns may be forgotten.
        wait_for(lambda: _asked_total(cluster) >= 2 * len(DELETED), 120, "reap rounds asked")
        owned_by_node_4 = {key for key in DELETED if "node-4" in _preference_list(cluster, key)}
        assert owned_by_node_4, "node-4 owns none of the deleted keys"
        assert _reaped_total(cluster) <= 3 * (len(DELETED) - len(owned_by_node_4))
        cluster.restart("node-4")
        # Once node-4 is back every owner can vote: every node forgets every deleted key,
        # late copies (a hint replayed again, a repair) included.
        wait_for(lambda: _all_forgotten(cluster), 180, "every node forgot every deleted key")
        # A reap is written like any write and acknowledged to no one, so a kill right after
        # it may lose it (the tombstone comes back, and is reaped again later). A write
        # node-1 acknowledges after its reaps is durable only once they are: one log,
        # written in order.
        barrier = next(
            key
            for key in (b"barrier-%d" % index for index in range(1000))
            if "node-1" in _preference_list(cluster, key)
        )
        with Client(cluster.http_address("node-1"), timeout_seconds=10) as client:
            client.put(barrier, b"written after the reaps", w=3)
        # A crash and restart of a reaper: nothing deleted comes back from its disk.
        cluster.kill("node-1")
        cluster.restart("node-1")
        with Client(cluster.http_address("node-3"), timeout_seconds=10) as client:
            for key in KEYS:
                expected = None if key in DELETED else b"value of " + key
                assert _value(client, key) == expected, key
        wait_for(lambda: _all_forgotten(cluster), 180, "nothing deleted came back after the crash")
        data_dirs = {name: cluster.processes[name].data_dir for name in cluster.names}
        cluster.down()
        for name, data_dir in data_dirs.items():
            # Neither a deleted value nor its tombstone is on any disk.
            held = {
                key: versions
                for key, versions in stored_versions(data_dir, DELETED).items()
                if versions
            }
            assert held == {}, (name, held)
            before = directory_bytes(data_dir)
            compact_store(data_dir)
            assert directory_bytes(data_dir) < before
    assert processes_under(tmp_path) == []


def _preference_list(cluster: LocalCluster, key: bytes) -> list[str]:
    with Client(cluster.http_address("node-1")) as client:
        owners: list[str] = client.json(f"/cluster/ring?key={key.decode()}")["key"][
            "preference_list"
        ]
    return owners
