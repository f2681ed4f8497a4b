"""The experiment of lab q4: how a node catches up after 3 hours, and what Merkle costs.

Measured with the solution's functions:

* the Q4 story in the simulator (:func:`~dynamokv.impl.sim._presets.measure_q4`),
  with its hinted handoff and Merkle walk in every node: five nodes, n5 down for 3
  simulated hours under a write every 5 s, a hint bound of 100 per substitute, the
  busiest substitute crashing with its hints. Theory (Dynamo §4.6, §4.7): every hint
  still held when n5 returns is handed off and acknowledged; what no hint carried
  (refused at the bound, lost with the substitute) is found by Merkle anti-entropy;
  every replica ends identical and no acknowledged write is lost;
* its ``diff`` between two replicas of 4,000 keys that differ in d keys, in trees
  of 1,024 leaves: the walk compares two children per level on each of the d paths
  from the root, so between d·log₂(leaves) and 2·d·log₂(leaves) + 1 node pairs;
* the bytes of a repair by exchange (its Merkle walk step in the project's
  anti-entropy, 20,000 keys, 20 of them differing) against a full copy: traffic
  proportional to the difference, within 20 times d/keys of the full copy.
"""

from __future__ import annotations

import hashlib
import math

from dynamokv.impl.sim._measurements import measure_repair_traffic
from dynamokv.impl.sim._presets import measure_q4
from dynamokv.spec.merkle import MerkleTree, build

from .._model import ExperimentContext, ExperimentReport, ExperimentRow
from ._run import seams_of

DIFF_KEYS = 4000
DIFF_DEPTH = 10
DIFFERING = (1, 8, 32)
REPAIR_KEYS = 20_000
REPAIR_DIFFERING = 20
REPAIR_FACTOR_MAX = 20


def _tree(leaves: dict[bytes, bytes]) -> MerkleTree:
    return build(
        leaves,
        depth=DIFF_DEPTH,
        bucket_of=lambda key: int.from_bytes(hashlib.md5(key).digest()[:2], "big"),
        hash_fn=lambda data: hashlib.sha256(data).digest(),
    )


def run(ctx: ExperimentContext) -> ExperimentReport:
    """The Q4 story, the diff's cost, and repair traffic against a full copy."""
    seams = seams_of(ctx.solution)
    q4 = measure_q4(seed=ctx.seed, seams=seams)
    rows = [
        ExperimentRow(
            "hints handed off and acknowledged when n5 returned",
            f"{q4.hints_replayed:,}",
            f"{q4.hints_pending_at_return:,} (every hint held for it)",
            "exactly",
            q4.hints_replayed == q4.hints_pending_at_return,
        ),
        ExperimentRow(
            "keys repaired by Merkle anti-entropy",
            f"{q4.keys_repaired:,}",
            f"≥ {q4.keys_missed - q4.keys_in_hints:,} (keys n5 missed that no hint carried)",
            "at least",
            q4.keys_repaired >= q4.keys_missed - q4.keys_in_hints,
        ),
        ExperimentRow(
            "acknowledged writes lost; replicas identical afterwards; the simulator's violations",
            f"{q4.acknowledged_lost}; {'yes' if q4.identical else 'no'}; {len(q4.violations)}",
            "0; yes; 0",
            "exactly",
            q4.acknowledged_lost == 0 and q4.identical and not q4.violations,
        ),
    ]
    levels = math.log2(1 << DIFF_DEPTH)
    base = {b"key-%05d" % index: b"v0" for index in range(DIFF_KEYS)}
    for differing in DIFFERING:
        changed = {**base, **{b"key-%05d" % (index * 97): b"v1" for index in range(differing)}}
        result = ctx.solution["diff"](_tree(base), _tree(changed))
        low, high = differing * levels, 2 * differing * levels + 1
        rows.append(
            ExperimentRow(
                f"node pairs compared for d = {differing} differing keys of {DIFF_KEYS:,}",
                f"{result.nodes_compared:,} (found {len(result.keys)})",
                f"d·log₂ L = {low:g} .. 2·d·log₂ L + 1 = {high:g}",
                "between the two, every key found",
                low <= result.nodes_compared <= high and len(result.keys) == differing,
            )
        )
    traffic = measure_repair_traffic(
        keys=REPAIR_KEYS, divergent=REPAIR_DIFFERING, descend=ctx.solution["merkle_descend"]
    )
    share = REPAIR_DIFFERING / REPAIR_KEYS
    rows.append(
        ExperimentRow(
            f"repair bytes / a full copy ({REPAIR_DIFFERING} of {REPAIR_KEYS:,} keys differ)",
            f"{traffic.fraction:.2%} ({traffic.nodes_exchanged} node hashes sent)",
            f"∝ d/keys = {share:.2%}",
            f"≤ {REPAIR_FACTOR_MAX}× d/keys = {REPAIR_FACTOR_MAX * share:.0%}",
            traffic.fraction <= REPAIR_FACTOR_MAX * share
            and traffic.keys_repaired == REPAIR_DIFFERING,
        )
    )
    notes: tuple[str, ...] = (
        f"Q4 run, seed {ctx.seed}: {q4.writes:,} writes acknowledged while n5 was down; hints "
        f"stored {q4.hints_stored:,}, refused at the bound {q4.hints_refused:,}, lost with the "
        f"substitute {q4.hints_lost:,}; n5 missed {q4.keys_missed:,} keys, {q4.keys_in_hints:,} "
        f"of them in a hint; caught up in {q4.convergence_ticks / 10:.0f} simulated s",
        f"diff: trees of depth {DIFF_DEPTH} (L = {1 << DIFF_DEPTH} leaves); repair: the "
        "project's anti-entropy exchange with the solution's walk step",
    )
    if q4.violations:
        notes += (f"the simulator's first violation: {q4.violations[0]}",)
    return ExperimentReport("a node down for 3 hours, and what Merkle costs", tuple(rows), notes)
