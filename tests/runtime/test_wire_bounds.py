"""Every message a node builds fits one frame of the runtime, however large the values.

The runtime drops a message it cannot frame (``FRAME_BYTES_MAX``), as the network may drop
any; a message the core builds again the same way every time (an anti-entropy push of the
same keys, a transfer batch) would then be lost for good. These runs give the simulated
cluster the runtime's frame bound: any message the codec cannot frame is dropped and
recorded, and the test fails on the first one.
"""

from __future__ import annotations

from dynamokv.impl.core import MemberConfig, NodeConfig, Persist, PutRequest, Reply, SetTimer
from dynamokv.impl.runtime._codec import encode_message
from dynamokv.impl.runtime._frames import FrameError, encode_frame
from dynamokv.impl.sim import Cluster, NetworkConfig

VALUE = b"x" * 700_000
"""Large enough that 64 keys (a batch by count) take 44 MB, five times a frame."""

KEYS = tuple(b"k%03d" % i for i in range(120))


class _FramedCluster(Cluster):
    """A simulated cluster whose network drops what the runtime could not frame."""

    refused: list[str]

    def _carry(self, name, node, effects):  # type: ignore[no-untyped-def]
        kept = []
        for effect in effects:
            if effect.__class__ not in (Persist, Reply, SetTimer):
                try:
                    encode_frame(encode_message(effect))
                except FrameError as error:
                    self.refused.append(f"{type(effect).__name__}: {error}")
                    continue
            kept.append(effect)
        super()._carry(name, node, kept)


def _cluster(*, spares: int = 0) -> _FramedCluster:
    network = NetworkConfig(delay_ticks_min=1, delay_ticks_max=2, disk_delay_ticks_max=1)
    cluster = _FramedCluster(
        5,
        seed=3,
        config=NodeConfig(),
        q=8,
        network=network,
        membership="gossip",
        member_config=MemberConfig(recovery_grace_ticks=0),
        spares=spares,
    )
    cluster.refused = []
    cluster.run(until=60)
    for index, key in enumerate(KEYS):
        done: list[object] = []
        cluster.submit(cluster.initial[index % 5], PutRequest(key, VALUE), done.append)
        limit = cluster.now + 400
        while not done and cluster.now < limit:
            cluster.run(until=cluster.now + 1)
        assert done and done[0].ok, done  # type: ignore[attr-defined]
    return cluster


def test_anti_entropy_rebuilds_a_lost_disk_of_large_values_in_pushes_that_fit_a_frame() -> None:
    """A replica that lost every key it owns gets them back from the others through
    Merkle repair pushes of at most ``message_bytes_max`` each."""
    cluster = _cluster()
    victim = "n2"
    lost = [key for key in KEYS if victim in cluster.ring.preference_list(key)]
    assert len(lost) > 64
    cluster.crash(victim)
    cluster.disks[victim].lose_versions(lost)
    cluster.restart(victim)
    cluster.run(until=cluster.now + 4000)
    assert cluster.refused == []
    assert [key for key in lost if len(set(cluster.holders(key).values())) != 1] == []
    assert cluster.member_stats().keys_repair_applied >= len(lost)


def test_a_join_hands_large_values_off_in_batches_that_fit_a_frame() -> None:
    """A node that joins takes its partitions from their former owners in transfer
    batches of at most ``message_bytes_max`` each, and every transfer completes."""
    cluster = _cluster(spares=1)
    cluster.restart("n6")
    cluster.run(until=cluster.now + 60)
    assert cluster.join("n6", via="n1")
    cluster.run(until=cluster.now + 4000)
    live = [node for node in cluster.nodes.values() if node is not None]
    assert cluster.refused == []
    assert [node.node_id for node in live if node.transfers_in_flight] == []
    assert [node.node_id for node in live if node.holds_data_it_does_not_own()] == []
    assert any(cluster.holders(key).get("n6") for key in KEYS)
