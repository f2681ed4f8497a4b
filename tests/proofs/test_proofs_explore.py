"""Exhaustive exploration: every interleaving of a tiny cluster, and its planted bugs.

The small bound here runs in the fast tier and its state count is pinned, so a
change that silently explores less (a transition forgotten, states merged that
differ) is noticed. A change to the node's state (a new field, a message more)
moves the count too: check that the exploration still covers what it did, then
pin the new count. ``dynamokv prove --explore`` runs the larger bound (slow tier).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from dynamokv.impl.cli import main
from dynamokv.impl.sim import PLANTED_BUGS, ExploreConfig, Operation, explore

SMALL = ExploreConfig(crashes_max=0, drops_max=1)
"""Two concurrent puts of one key on 3 nodes, N=3, R=W=2, strict, one lost message."""

SMALL_STATES = 1530
SMALL_FINAL_STATES = 38
SMALL_DEPTH = 11


def test_small_bound_explores_every_state_with_no_violation() -> None:
    report = explore(SMALL)
    assert report.violation is None, report.violation
    assert report.complete
    assert (report.states, report.final_states, report.depth) == (
        SMALL_STATES,
        SMALL_FINAL_STATES,
        SMALL_DEPTH,
    )
    assert report.transitions > report.states


def test_exploration_is_deterministic_whatever_the_hash_seed() -> None:
    """String hashes are salted per process, and a set pickles in hash order: the
    state identity must not depend on it, or the pinned count would wander."""
    script = (
        "from dynamokv.impl.sim import explore, ExploreConfig\n"
        "r = explore(ExploreConfig(crashes_max=0, drops_max=0))\n"
        "print(r.states, r.transitions)"
    )
    counts = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(counts) == 1, counts


@pytest.mark.slow
def test_a_crash_adds_states_and_still_no_violation() -> None:
    with_crash = explore(ExploreConfig(crashes_max=1, drops_max=0))
    without = explore(ExploreConfig(crashes_max=0, drops_max=0))
    assert with_crash.ok and without.ok
    assert with_crash.states > without.states


def test_ack_before_w_is_found_with_a_shortest_trace() -> None:
    report = explore(SMALL, seams=PLANTED_BUGS["ack-before-w"])
    violation = report.violation
    assert violation is not None
    assert violation.message.startswith("property 1:")
    # The put is answered in the very step it is issued: one step.
    assert len(violation.steps) == 1 and "client 1: put" in violation.steps[0]
    assert "WriteRequest" in violation.ladder


def test_merge_that_drops_a_sibling_is_found_with_a_shortest_trace() -> None:
    report = explore(SMALL, seams=PLANTED_BUGS["merge-drops-sibling"])
    violation = report.violation
    assert violation is not None
    assert violation.message.startswith("property 1:")
    assert len(violation.steps) == report.depth == 4
    assert "client 2: put" in "\n".join(violation.steps)
    assert "WriteAck" in violation.ladder


def test_without_read_repair_a_lost_write_breaks_convergence() -> None:
    """The end-of-suffix check (property 5) can fail: nothing repairs a lost write."""
    report = explore(
        ExploreConfig(
            operations=(Operation("put", b"k", "n1", b"v1"),),
            crashes_max=0,
            drops_max=1,
            read_repair=False,
        )
    )
    violation = report.violation
    assert violation is not None
    assert violation.message.startswith("property 5:"), violation.message
    assert any(step.split(". ", 1)[1].startswith("lose WriteRequest") for step in violation.steps)
    assert "lost" in violation.ladder


def test_a_get_after_an_acknowledged_put_is_checked_for_read_your_writes() -> None:
    operations = (Operation("put", b"k", "n1", b"v1"), Operation("get", b"k", "n3"))
    assert explore(ExploreConfig(operations=operations, crashes_max=0, drops_max=0)).ok


def test_states_max_stops_an_exploration_as_incomplete() -> None:
    report = explore(ExploreConfig(crashes_max=0, drops_max=1, states_max=100))
    assert not report.complete and not report.ok


@pytest.mark.slow
def test_prove_explore_finds_every_planted_bug_and_no_violation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["prove", "--explore", "--only", "quorum.read_write_intersect"]) == 0
    out = capsys.readouterr().out
    assert "no violation ✓" in out
    assert out.count("found at depth") == 2
    assert "shortest trace" in out and "WriteRequest" in out
