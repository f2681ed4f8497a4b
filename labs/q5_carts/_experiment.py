"""The experiment of lab q5: union merge against last-write-wins, as partitions grow.

Measured with the solution's resolvers and client step in six clients of a simulated
cluster (:mod:`._carts`), for partitions in 0%, 25%, 50% and 100% of the fault
intervals: the share of acknowledged adds missing from the final carts, resolved by
union and by last-write-wins. Theory (Dynamo §4.4): union merge never loses an
acknowledged add; last-write-wins keeps one branch of every conflict and silently
drops the others, partition or not (Jepsen measured Riak with last-write-wins lose
1,434 of 2,000 acknowledged writes, 71.7%, with no partition at all; with union-merged
sets, none). The other face of union: with removals in the mix, a removed item comes
back whenever a concurrent branch still held it.
"""

from __future__ import annotations

from .._model import ExperimentContext, ExperimentReport, ExperimentRow
from ._carts import run_carts

PARTITION_SHARES = (0.0, 0.25, 0.5, 1.0)
REMOVE_SHARE = 0.3


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.1%})" if whole else "0/0"


def run(ctx: ExperimentContext) -> ExperimentReport:
    """Lost adds by union and by LWW as partitions grow; removed items that come back."""
    rows: list[ExperimentRow] = []
    violations: list[str] = []
    for share in PARTITION_SHARES:
        union = run_carts(ctx.solution, seed=ctx.seed, last_write_wins=False, partition_share=share)
        lww = run_carts(ctx.solution, seed=ctx.seed, last_write_wins=True, partition_share=share)
        violations += union.violations + lww.violations
        rows.append(
            ExperimentRow(
                f"partitions in {share:.0%} of intervals: adds lost by union",
                _share(union.adds_lost, union.adds_acknowledged),
                "0",
                "exactly",
                union.adds_lost == 0 and union.adds_acknowledged > 0,
            )
        )
        rows.append(
            ExperimentRow(
                f"partitions in {share:.0%} of intervals: adds lost by last-write-wins",
                _share(lww.adds_lost, lww.adds_acknowledged),
                "> 0 (Jepsen, Riak LWW: 71.7%)",
                "> 0",
                lww.adds_lost > 0,
            )
        )
    union = run_carts(
        ctx.solution,
        seed=ctx.seed,
        last_write_wins=False,
        partition_share=0.5,
        remove_share=REMOVE_SHARE,
    )
    lww = run_carts(
        ctx.solution,
        seed=ctx.seed,
        last_write_wins=True,
        partition_share=0.5,
        remove_share=REMOVE_SHARE,
    )
    violations += union.violations + lww.violations
    rows.append(
        ExperimentRow(
            "violations the history checkers found in the store, all runs",
            str(len(violations)),
            "0",
            "exactly",
            not violations,
        )
    )
    rows.append(
        ExperimentRow(
            "removed items that came back, union",
            _share(union.removed_back, union.removals_acknowledged),
            "> 0 (Dynamo §4.4: deleted items can resurface)",
            "> 0",
            union.removed_back > 0,
        )
    )
    rows.append(
        ExperimentRow(
            "removed items that came back, last-write-wins",
            _share(lww.removed_back, lww.removals_acknowledged),
            "fewer: the newest branch wins",
            "for information",
            True,
            judged=False,
        )
    )
    notes = (
        f"6 clients on 3 carts, 5 nodes (N=3, R=2, W=2, sloppy quorum), 240 client "
        f"operations, 2% of messages lost, seed {ctx.seed}",
        f"removals: {REMOVE_SHARE:.0%} of operations remove an item instead of adding one",
    )
    return ExperimentReport("union merge against last-write-wins", tuple(rows), notes)
