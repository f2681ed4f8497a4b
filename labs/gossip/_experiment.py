"""The experiment of lab gossip: how fast a join spreads, and how often phi is wrong.

Measured with the solution's three rules in every view (:mod:`._scenario`):

* a new node joins a warm cluster of n = 8, 32, 128, 256 views; the rounds until
  every view lists it are set against the epidemic's theory: each round every node
  that knows a fact tells a random other, so with push alone the rumour reaches all n
  in about log₂ n + ln n rounds, and with push-pull (ours: a three-message exchange)
  in about log₃ n rounds. The measurement must lie between the two;
* 16 live views under 30% message loss, for each phi threshold: the share of the
  time a view wrongly suspects a live peer. If heartbeat intervals were normal, each
  unit of phi would divide it by 10; gossip's intervals have a heavier tail (a
  heartbeat arrives relayed, after a random number of rounds), so it falls more
  slowly, but it must fall tenfold from phi 1 to 8 and stay below 0.5% at phi 8.
"""

from __future__ import annotations

import math

from .._model import ExperimentContext, ExperimentReport, ExperimentRow
from ._scenario import join_rounds, seams_of, suspicion_share

SIZES = (8, 32, 128, 256)
THRESHOLDS = (1.0, 2.0, 4.0, 8.0)
SUSPICION_NODES = 16
SUSPICION_LOSS = 0.3
SUSPICION_ROUNDS = 300
SHARE_AT_EIGHT_MAX = 0.005
FALL_MIN = 10.0


def run(ctx: ExperimentContext) -> ExperimentReport:
    """Time a join at four sizes; measure wrong suspicions at four thresholds."""
    seams = seams_of(ctx.solution)
    rows: list[ExperimentRow] = []
    for size in SIZES:
        rounds = join_rounds(size, seed=ctx.seed, seams=seams)
        low = math.log(size, 3)
        high = math.log2(size) + math.log(size)
        rows.append(
            ExperimentRow(
                f"rounds until a join reaches all of n = {size}",
                f"{rounds}",
                f"log₃ n = {low:.1f} (push-pull) .. log₂ n + ln n = {high:.1f} (push)",
                "between the two",
                low <= rounds <= high,
            )
        )
    shares = {
        threshold: suspicion_share(
            SUSPICION_NODES,
            seed=ctx.seed,
            seams=seams,
            loss=SUSPICION_LOSS,
            threshold=threshold,
            rounds=SUSPICION_ROUNDS,
        )
        for threshold in THRESHOLDS
    }
    for threshold, share in shares.items():
        normal = shares[THRESHOLDS[0]] / 10 ** (threshold - THRESHOLDS[0])
        judged = threshold == THRESHOLDS[-1]
        rows.append(
            ExperimentRow(
                f"time a live peer is suspected, phi threshold {threshold:g}",
                f"{share:.3%}",
                f"{normal * 100:.3g}% if intervals were normal (÷10 per unit of phi)",
                f"≤ {SHARE_AT_EIGHT_MAX:.1%}" if judged else "for information",
                share <= SHARE_AT_EIGHT_MAX if judged else True,
                judged=judged,
            )
        )
    first, last = shares[THRESHOLDS[0]], shares[THRESHOLDS[-1]]
    fall = first / last if last > 0 else math.inf
    rows.append(
        ExperimentRow(
            f"fall of that time from phi {THRESHOLDS[0]:g} to {THRESHOLDS[-1]:g}",
            f"×{fall:.0f}" if math.isfinite(fall) else "to zero",
            f"×{10 ** (THRESHOLDS[-1] - THRESHOLDS[0]):.0e} if intervals were normal",
            f"≥ ×{FALL_MIN:g}",
            fall >= FALL_MIN,
        )
    )
    notes = (
        f"join: a warm cluster (every view knows every member), no loss, seed {ctx.seed}",
        f"suspicion: {SUSPICION_NODES} views, {SUSPICION_LOSS:.0%} of messages lost, "
        f"{SUSPICION_ROUNDS} rounds per threshold sampled after 10 rounds of warm-up",
    )
    return ExperimentReport("gossip: a join's epidemic, and phi's mistakes", tuple(rows), notes)
