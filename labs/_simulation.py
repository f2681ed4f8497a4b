"""The simulation tier: the learner's code inside a simulated cluster, under faults.

The solution's functions are given to every node through
:class:`~dynamokv.impl.core.Seams`; :func:`~dynamokv.impl.sim.simulate` runs a
seeded workload with crashes, partitions, drops, duplicates and reordering, then
the history checkers judge the run. On a violation the check looks for the
*smallest* failing schedule (the same seed with fewer client requests, smallest
first), replays it with the failing key traced, and shows the simulator's ladder
diagram of that key's messages. The same seed replays the same run byte for byte,
so the check's replay command reproduces the failure exactly.
"""

from __future__ import annotations

import ast
import dataclasses
import re

from dynamokv.impl.core import Seams
from dynamokv.impl.sim import SimConfig, render_ladder, simulate

from ._model import CheckContext, Status, Verdict

__all__ = ["SCHEDULE_SIZES", "simulation_check"]

SCHEDULE_SIZES = (25, 50, 100, 200, 400, 1000)
"""Client requests per run, tried smallest first; ``quick`` stops at 400."""

LADDER_MESSAGES_MAX = 60

_KEY = re.compile(r"b'[^']*'")
_TICK = re.compile(r"t=(\d+)")


def _failing_key(violation: str) -> bytes | None:
    match = _KEY.search(violation)
    if match is None:
        return None
    value = ast.literal_eval(match.group(0))
    return value if isinstance(value, bytes) else None


def _ladder(seed: int, config: SimConfig, seams: Seams, key: bytes, violation: str) -> str:
    """The replayed run's messages for ``key``, up to a little after the violation."""
    _, cluster, _ = simulate(seed, config, trace_key=key, seams=seams)
    ticks = [int(tick) for tick in _TICK.findall(violation)]
    horizon = max(ticks) + 20 if ticks else None
    entries = [e for e in cluster.trace if horizon is None or e.sent_at <= horizon]
    shown = entries[-LADDER_MESSAGES_MAX:]
    head = f"ladder of {key!r} (the last {len(shown)} of its messages up to t={horizon}):"
    return head + "\n" + render_ladder(shown, cluster.names)


def simulation_check(ctx: CheckContext, config: SimConfig, seams: Seams, *, what: str) -> Verdict:
    """Run ``config`` with ``seams`` at growing sizes; the first violation fails the check.

    Args:
        ctx: the check's context (its seed is the simulation's seed).
        config: the run, without its ``ops`` (the sizes of :data:`SCHEDULE_SIZES` are used).
        seams: the nodes' replaceable decisions, the learner's functions among them.
        what: one line describing the run, for the counterexample.
    """
    sizes = [size for size in SCHEDULE_SIZES if not ctx.quick or size <= 400]
    checked = 0
    for size in sizes:
        sized = dataclasses.replace(config, ops=size)
        report, _, _ = simulate(ctx.seed, sized, seams=seams)
        checked += report.ops
        if not report.violations:
            continue
        violation = report.violations[0]
        key = _failing_key(violation)
        details = _ladder(ctx.seed, sized, seams, key, violation) if key is not None else ""
        more = len(report.violations) - 1
        return Verdict(
            Status.FAILED,
            violation + (f" (and {more} more)" if more else ""),
            counterexample=f"seed {ctx.seed}, {size} client requests: {what}",
            details=details,
        )
    return Verdict(
        Status.PASSED, f"no violation in {len(sizes)} runs ({checked:,} requests): {what}"
    )
