"""The papers' presets of ``dynamokv sim``: PBS staleness and the Dynamo paper's §6.

They are presets of ``sim`` because each is a measurement of simulated clusters
under one seed, like ``--preset q1``; the §6.4 coordination measurement needs a
real cluster and is ``dynamokv bench coordination`` instead.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ._errors import CliError

PAPER_PRESETS = ("pbs", "fig8", "divergence")
"""The ``--preset`` names this module runs."""

PBS_TRIALS_DEFAULT = 10_000
FIG8_SEEDS_DEFAULT = 5
DIVERGENCE_ROUNDS_DEFAULT = 40


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def run_paper_preset(preset: str, *, seed: int, trials: int | None) -> int:
    """Run ``preset``, print its tables; the exit status."""

    if trials is not None and trials < 1:
        raise CliError("--trials must be positive")
    console = Console(highlight=False)
    started = time.perf_counter()
    cpu_started = time.process_time()
    if preset == "pbs":
        lines, ok = _pbs(console, seed=seed, trials=trials or PBS_TRIALS_DEFAULT)
    elif preset == "fig8":
        lines, ok = _fig8(console, seed=seed, seeds=trials or FIG8_SEEDS_DEFAULT)
    elif preset == "divergence":
        lines, ok = _divergence(console, seed=seed, rounds=trials or DIVERGENCE_ROUNDS_DEFAULT)
    else:
        raise CliError(f"unknown preset {preset!r}")
    console.print("\n".join(lines), markup=False, soft_wrap=True)
    console.print(
        f"({time.perf_counter() - started:.0f} s wall, "
        f"{time.process_time() - cpu_started:.0f} s CPU; seed {seed})",
        markup=False,
    )
    return 0 if ok else 1


def _fig8(console: Console, *, seed: int, seeds: int) -> tuple[list[str], bool]:
    from dynamokv.impl.sim import _paper

    with _progress(console) as progress:
        task = progress.add_task("Figure 8", total=len(_paper.FIG8_METADATA_SIZES))
        rows = _paper.fig8_table(seeds=seeds, seed=seed, on_row=lambda: progress.advance(task))
    return _paper.print_fig8(rows), True


def _divergence(console: Console, *, seed: int, rounds: int) -> tuple[list[str], bool]:
    from dynamokv.impl.sim import _paper

    rows = []
    with _progress(console) as progress:
        task = progress.add_task("versions per read", total=len(_paper.DIVERGENCE_WRITERS))
        for writers in _paper.DIVERGENCE_WRITERS:
            rows.append(_paper.measure_divergence(writers=writers, rounds=rounds, seed=seed))
            progress.advance(task)
    ok = all(row.items_lost == 0 and row.failed == 0 for row in rows)
    return _paper.print_divergence(rows), ok


def _pbs(console: Console, *, seed: int, trials: int) -> tuple[list[str], bool]:
    from dynamokv.impl.sim import _pbs

    settings = [(name, r, w) for name in _pbs.FITS for r, w in _pbs.QUORUMS]
    rows = []
    with _progress(console) as progress:
        task = progress.add_task(
            "PBS", total=len(settings) * _pbs.trials_per_row(trials) + 3 * 2000
        )
        for name, r, w in settings:
            progress.update(task, description=f"PBS {name} R={r} W={w}")

            def advance(count: int) -> None:
                progress.advance(task, count)

            rows.append(
                _pbs.measure_row(name, r=r, w=w, trials=trials, seed=seed, on_trials=advance)
            )
        progress.update(task, description="PBS writes held at W")
        held = _pbs.held_writes_check(trials=2000, seed=seed)
        progress.advance(task, 3 * 2000)
    failures = sum(row.core.failures for row in rows)
    lines = _pbs.print_pbs(rows, held)
    if failures:
        lines.append(f"{failures} requests failed (expected none)")
    return lines, failures == 0
