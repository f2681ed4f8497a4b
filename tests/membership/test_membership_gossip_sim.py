"""Gossip converges in O(log n) rounds (property 6), measured in the simulator.

Reference: Dynamo §4.8
"""

from __future__ import annotations

import pytest
from dynamokv.impl.sim._gossip_sim import convergence_table, run_gossip


def test_a_seed_replays_the_same_run_message_for_message() -> None:
    first = run_gossip(16, seed=3, loss=0.1, partition_count=256)
    second = run_gossip(16, seed=3, loss=0.1, partition_count=256)
    assert first == second
    assert run_gossip(16, seed=4, loss=0.1, partition_count=256).trace_digest != first.trace_digest


def test_convergence_grows_sub_linearly_small_sizes() -> None:
    """Fast tier: 8 to 64 nodes (8x the nodes) in well under 8x the rounds."""
    rows = convergence_table((8, 64), seeds=(0, 1), partition_count=1024)
    small, large = rows
    assert large.membership_rounds_mean / small.membership_rounds_mean < 3
    assert large.ring_rounds_mean / small.ring_rounds_mean < 3
    assert small.false_suspicions == large.false_suspicions == 0


@pytest.mark.slow
def test_convergence_table_8_to_256_nodes() -> None:
    """ "Each node contacts a peer chosen at random every second and the two nodes efficiently
    reconcile their persisted membership change histories."

    Rounds until every view has every member and until a ring change reached every
    node, for 8, 32, 128 and 256 nodes: rounds(256) / rounds(8) < 4 although n grows 32x.
    A 256-node run costs about 14 CPU seconds (8 nodes: a few milliseconds), so the two
    large sizes run two seeds and the small ones three: about 35 CPU seconds in all.

    Reference: Dynamo §4.8.1
    """
    rows = [
        *convergence_table((8, 32), seeds=(0, 1, 2)),
        *convergence_table((128, 256), seeds=(0, 1)),
    ]
    print()
    print("nodes  membership mean/max  ring change mean/max  detection  false  log2(n)")
    for row in rows:
        print(
            f"{row.nodes:5d}  {row.membership_rounds_mean:9.1f} /{row.membership_rounds_max:3d}"
            f"  {row.ring_rounds_mean:11.1f} /{row.ring_rounds_max:3d}"
            f"  {row.detection_rounds_mean:9.1f}  {row.false_suspicions:5d}  {row.log2_nodes:7.1f}"
        )
    by_size = {row.nodes: row for row in rows}
    assert by_size[256].membership_rounds_mean / by_size[8].membership_rounds_mean < 4
    assert by_size[256].ring_rounds_mean / by_size[8].ring_rounds_mean < 4
    assert all(row.false_suspicions == 0 for row in rows)
