"""A restarted node takes over its crashed incarnation's Merkle trees: they must equal a rebuild.

The simulator keeps a crashed node's trees, reads back the keys the crash may have
changed, and gives them to the next incarnation instead of letting it hash every key its
disk kept. That is only sound if the kept trees are exactly the trees a start would build
from the disk: these tests rebuild them at every such restart and compare, over the
in-memory disk and the production storage (whose recovery may keep a prefix of the
unsynced writes), and show that skipping the read-back is caught.
"""

from __future__ import annotations

from typing import Any

import pytest
from dynamokv.impl.core import MerkleTrees, Node
from dynamokv.impl.sim import SimConfig, SimDisk, _simulated_cluster, simulate

FAULTS = ("crash", "partition", "drop", "dup", "reorder")


def _differences(kept: MerkleTrees, storage: Any) -> list[str]:
    """How ``kept`` differs from the trees a start builds from ``storage``."""
    rebuilt = MerkleTrees(
        partition_count=kept.partition_count, depth=kept.depth, partition_of=kept.partition_of
    )
    for key, versions in storage.scan_versions():
        if versions:
            rebuilt.update(key, versions)
    found = []
    if sorted(kept.by_partition) != sorted(rebuilt.by_partition):
        found.append("partitions")
    if kept.touched != rebuilt.touched:
        found.append("touched")
    for partition, tree in rebuilt.by_partition.items():
        mine = kept.by_partition.get(partition)
        if mine is None or list(mine.items()) != list(tree.items()):
            found.append(f"contents of {partition}")
        elif mine.root() != tree.root():
            found.append(f"root of {partition}")
    return found


def _run_checked(
    monkeypatch: pytest.MonkeyPatch, seeds: range, config: SimConfig
) -> tuple[int, list[str], list[str]]:
    """Run ``seeds``; return how many restarts took over trees, every difference found,
    and the checkers' violations."""
    restarts = 0
    differences: list[str] = []
    violations: list[str] = []

    class CheckedNode(Node):
        def __init__(self, *args: Any, merkle_trees: MerkleTrees | None = None, **kw: Any):
            super().__init__(*args, merkle_trees=merkle_trees, **kw)
            if merkle_trees is not None:
                nonlocal restarts
                restarts += 1
                assert self.trees is merkle_trees
                differences.extend(_differences(merkle_trees, kw["storage"]))

    monkeypatch.setattr(_simulated_cluster, "Node", CheckedNode)
    for seed in seeds:
        report, _, _ = simulate(seed, config)
        violations += report.violations
    return restarts, differences, violations


@pytest.mark.parametrize("storage", ["memory", "store"])
def test_kept_trees_equal_the_trees_a_start_builds_from_the_disk(
    monkeypatch: pytest.MonkeyPatch, storage: str
) -> None:
    config = SimConfig(faults=FAULTS, ops=600, storage=storage)
    restarts, differences, violations = _run_checked(monkeypatch, range(1, 4), config)
    assert restarts > 0
    assert differences == []
    assert violations == []


def test_kept_trees_without_reading_back_the_unsynced_keys_are_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The negative control: a crash that forgets to read back what it lost leaves trees
    holding writes the disk never kept, and the comparison finds them."""
    monkeypatch.setattr(SimDisk, "unsynced_keys", lambda self: ())
    config = SimConfig(faults=FAULTS, ops=600)
    restarts, differences, _ = _run_checked(monkeypatch, range(1, 4), config)
    assert restarts > 0
    assert differences != []
