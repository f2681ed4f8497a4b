"""Simulation sweeps: every fault on, every checker, every seed replayable (a rung of the verification ladder)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from dynamokv.impl.cli import main
from dynamokv.impl.core import DEFAULT_SEAMS
from dynamokv.impl.persist import StoreAdapter
from dynamokv.impl.runtime import MetricsRegistry, StoreWriter
from dynamokv.impl.sim import DEFAULT_FAULTS, PLANTED_BUGS, SimConfig, StoreDisk, simulate


def test_same_seed_same_run_byte_for_byte() -> None:
    config = SimConfig(ops=400)
    first, _, _ = simulate(11, config)
    second, _, _ = simulate(11, config)
    assert first.trace_hash == second.trace_hash
    assert first.deliveries == second.deliveries > 0


def test_different_seeds_give_different_runs() -> None:
    config = SimConfig(ops=200)
    assert simulate(1, config)[0].trace_hash != simulate(2, config)[0].trace_hash


@pytest.mark.parametrize("seed", range(12))
def test_sweep_with_every_fault_finds_no_violation(seed: int) -> None:
    report, _, _ = simulate(seed, SimConfig(ops=600))
    assert report.violations == []
    assert report.acks > 0


@pytest.mark.parametrize("seed", range(4))
def test_sweep_with_churn_loses_nothing_and_converges_by_anti_entropy(seed: int) -> None:
    """Joins and leaves during the run, under every other fault: no acknowledged write
    lost, Merkle roots equal after faults stop, transfers only to owners (properties
    1, 5, 6)."""
    config = SimConfig(ops=600, faults=(*DEFAULT_FAULTS, "churn"))
    report, _, _ = simulate(seed, config)
    assert report.violations == []
    assert report.joins + report.leaves > 0
    assert report.keys_transferred > 0


def test_static_membership_still_repairs_by_read_repair() -> None:
    report, _, _ = simulate(3, SimConfig(ops=400, membership="static"))
    assert report.violations == []
    assert report.keys_repaired == 0


@pytest.mark.parametrize("seed", range(6))
def test_strict_quorum_sweep_gives_read_your_writes(seed: int) -> None:
    report, _, _ = simulate(seed, SimConfig(ops=600, strict=True))
    assert report.violations == []
    assert report.node_stats.hints_stored == 0


def test_an_owner_that_hands_a_key_off_and_owns_it_again_may_see_its_hint_go() -> None:
    """Seed 10552 of the reaping sweep with churn: n4 stores a replayed hint, hands the
    key off under a new ring and drops it, then owns it again in the next ring; the
    substitute deletes the hint once n4 acknowledged it. The version is durable at the
    node the key was handed to, so nothing was lost, and the hint rule's checker must
    not call it an early delete."""
    config = SimConfig(ops=2000, faults=(*DEFAULT_FAULTS, "churn"), tombstone_grace_ticks=300)
    report, cluster, _ = simulate(10552, config)
    assert report.violations == []
    assert any(key == b"k003" for _, key in cluster.dropped_by_handoff)


def test_sweep_with_w_above_two_counts_each_replica_once() -> None:
    """N=5, W=4 on seven nodes: with W above two, an owner that answers late and the
    substitute sent in its place must count once, or a put is acknowledged while fewer
    than W replicas hold it (property 1). The rule that counts both is caught on some of
    the same seeds (on half of them, at the time of writing: it needs a late owner)."""
    config = SimConfig(ops=2000, nodes=7, n=5, r=2, w=4, faults=(*DEFAULT_FAULTS, "churn"))

    def both_count(acked: Any, targets: Any, *, w: int, coordinator: str, strict: bool) -> bool:
        return coordinator in acked and len(acked) >= w

    wrong = dataclasses.replace(DEFAULT_SEAMS, write_may_answer=both_count)
    caught = 0
    for seed in range(4):
        report, _, _ = simulate(seed, config)
        assert report.violations == [], seed
        assert report.acks > 0 and report.node_stats.hints_stored > 0
        report, _, _ = simulate(seed, config, seams=wrong)
        caught += any(violation.startswith("property 1") for violation in report.violations)
    assert caught > 0


@pytest.mark.parametrize("drop", ["first entry", "every entry"])
def test_a_coordinator_that_mangles_contexts_is_caught_not_excused_as_truncation(
    monkeypatch: pytest.MonkeyPatch, drop: str
) -> None:
    """Property 3's negative control: a coordinator that stores a new version with less
    of the client's context than it sent (far below the truncation threshold) makes
    siblings of versions the client had seen. Only a cut of a context that reached
    ``vector_clock_threshold`` entries, dropping entries, is excused as truncation."""
    from dynamokv.impl.core import _requests
    from dynamokv.impl.core._versions import Version

    def mangled(value: bytes | None, dot: tuple[str, int], context: Any = ()) -> Version:
        return Version(value, dot, context[1:] if drop == "first entry" else ())

    monkeypatch.setattr(_requests, "Version", mangled)
    report, _, _ = simulate(1, SimConfig(ops=300))
    assert any(violation.startswith("property 3") for violation in report.violations)
    assert report.excused_truncations == 0


@pytest.mark.parametrize("seed", range(4))
def test_truncated_clocks_give_false_siblings_never_lost_writes(seed: int) -> None:
    """With a threshold of 2 clocks are cut on most puts; the checkers account for it."""
    report, _, _ = simulate(seed, SimConfig(ops=600, vector_clock_threshold=2))
    assert report.violations == []
    assert report.node_stats.truncations > 0
    assert report.excused_truncations > 0


@pytest.mark.parametrize("bug", ["ack-before-w", "drop-hint-before-ack", "reuse-dots"])
def test_planted_bug_makes_the_sweep_fail(bug: str, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["sim", "--seeds", "3", "--ops", "300", "--plant-bug", bug])
    out = capsys.readouterr().out
    assert status == 1
    assert (
        f"replay: dynamokv sim --seed 1 --nodes 5 --ops 300 --faults {','.join(DEFAULT_FAULTS)}"
        in out
    )
    assert f"--plant-bug {bug}" in out


@pytest.mark.parametrize(
    ("bug", "evidence"),
    [
        ("ack-before-w", "property 1"),
        ("drop-hint-before-ack", "deleted hint"),
        ("reuse-dots", "property 2"),
    ],
)
def test_each_planted_bug_is_caught_by_its_own_checker(bug: str, evidence: str) -> None:
    """Not just "the sweep fails": the history checker meant for the bug reports it,
    so a checker that went dead would be noticed even if another one still fires."""
    found = []
    for seed in range(1, 6):
        report, _, _ = simulate(seed, SimConfig(ops=300, planted_bug=bug))
        found += [v for v in report.violations if evidence in v]
    assert found, f"no {evidence!r} violation for --plant-bug {bug} in seeds 1-5"


def test_replay_command_reproduces_the_failure(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["sim", "--seed", "4", "--ops", "300", "--plant-bug", "ack-before-w"]
    assert main(argv) == 1
    first = capsys.readouterr().out
    assert main(argv) == 1
    assert capsys.readouterr().out.split("deliveries/s")[0] == first.split("deliveries/s")[0]


@pytest.mark.parametrize("seed", range(3))
def test_sweep_over_the_real_store_with_torn_writes(seed: int) -> None:
    """The production storage over FaultyFiles: crashes tear unsynced bytes."""
    config = SimConfig(ops=400, storage="store")
    report, cluster, _ = simulate(seed, config)
    assert report.violations == []
    assert report.crashes > 0
    assert simulate(seed, config)[0].trace_hash == report.trace_hash
    assert sum(disk.files.crash_count for disk in cluster.disks.values()) > 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("membership", ["gossip", "static"])
def test_the_store_mode_runs_the_production_storage_adapter(
    membership: str, tmp_path: Path
) -> None:
    """The sweeps test the code that runs in production: every node of a ``--storage store``
    run reads and writes through the runtime's own class, dynamokv.impl.persist.StoreAdapter
    (its exact type, not a look-alike), including the nodes restarted after a crash."""
    report, cluster, _ = simulate(
        1, SimConfig(ops=200, storage="store", membership=membership, crash_ticks_max=40)
    )
    assert report.violations == [] and report.crashes > 0
    for name, node in cluster.nodes.items():
        disk = cluster.disks[name]
        assert isinstance(disk, StoreDisk)
        assert type(disk.adapter) is StoreAdapter
        if node is not None:
            storage = node.storage
            assert storage is disk.adapter
    # ...and the runtime's node process reads and writes through that same class.
    writer = StoreWriter.open(str(tmp_path / "node"), fsync="none", metrics=MetricsRegistry())
    try:
        assert type(writer.adapter) is StoreAdapter
    finally:
        writer.close()


@pytest.mark.slow
def test_slow_sweep_over_the_real_store() -> None:
    failing = []
    for seed in range(40):
        report, _, _ = simulate(seed, SimConfig(ops=1000, storage="store"))
        if report.violations:
            failing.append((seed, report.violations[:3]))
    assert failing == []


SWEEP_SEEDS = 500
SWEEP_CHUNKS = 10


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(SWEEP_CHUNKS))
def test_slow_sweep_500_seeds_of_2000_ops_every_fault(chunk: int) -> None:
    """The big sweep: 500 seeds x 2,000 requests, crash, partition, drop, dup and
    reorder on, complete nodes (gossip, phi, handoff, anti-entropy). Split in chunks
    so that both pytest workers share it."""
    size = SWEEP_SEEDS // SWEEP_CHUNKS
    failing = []
    for seed in range(chunk * size, (chunk + 1) * size):
        report, _, _ = simulate(seed, SimConfig(ops=2000))
        assert report.acks > 0
        if report.violations:
            failing.append((seed, report.violations[:3]))
    assert failing == [], f"replay with: dynamokv sim --seed SEED --ops 2000 ({failing})"


CHURN_SWEEP_SEEDS = 120
CHURN_SWEEP_CHUNKS = 4


@pytest.mark.slow
@pytest.mark.parametrize("chunk", range(CHURN_SWEEP_CHUNKS))
def test_slow_sweep_120_seeds_of_2000_ops_every_fault_and_churn(chunk: int) -> None:
    """Every fault and churn (nodes join and leave), in chunks that the workers share."""
    size = CHURN_SWEEP_SEEDS // CHURN_SWEEP_CHUNKS
    failing = []
    for seed in range(chunk * size, (chunk + 1) * size):
        report, _, _ = simulate(seed, SimConfig(ops=2000, faults=(*DEFAULT_FAULTS, "churn")))
        if report.violations:
            failing.append((seed, report.violations[:3]))
    assert failing == []


def test_each_planted_bug_replaces_exactly_one_rule() -> None:
    """A planted bug is one wrong function; everything else is the project's own."""
    for name, seams in PLANTED_BUGS.items():
        replaced = [
            field.name
            for field in dataclasses.fields(seams)
            if getattr(seams, field.name) is not getattr(DEFAULT_SEAMS, field.name)
        ]
        assert len(replaced) == 1, (name, replaced)
