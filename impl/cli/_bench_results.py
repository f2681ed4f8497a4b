"""The JSON result files of ``dynamokv bench``: one object per run, dated, machine described.

A benchmark figure means something only beside the peer measured in the same run and the
machine it ran on, so every ``--json`` file carries both: the command line that produced
it, the date, a description of the machine (cores, CPU model, memory, kernel, Python), and
the rows under ``results``. The documentation's charts read the files committed under
``docs/benchmarks/`` (named ``DATE-KIND.json``), so a new result is one new file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["command_line", "machine_description", "write_results"]

NOT_OPTIONS = ("handler", "json", "dir")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


def machine_description() -> str:
    """``2 cores (CPU model), 24 GiB, Linux 6.x, Python 3.11.x, load average 3.1``."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{os.cpu_count()} cores ({_cpu_model()}), {_memory_gib():.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {sys.version.split()[0]}, "
        f"load average {load:.1f} at the start"
    )


def command_line(benchmark: str, args: argparse.Namespace) -> str:
    """The ``dynamokv bench`` command that repeats this run, every option spelled out."""
    words = ["dynamokv", "bench", benchmark]
    for name, value in vars(args).items():
        if name in NOT_OPTIONS or value is None:
            continue
        option = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(option if value else "--no-" + name.replace("_", "-"))
        elif isinstance(value, list):
            for item in value:
                words += [option, str(item)]
        else:
            words += [option, str(value)]
    return " ".join(words)


def write_results(
    path: Path,
    *,
    benchmark: str,
    args: argparse.Namespace,
    machine: str,
    results: list[dict[str, Any]],
) -> None:
    """Write one run's ``results`` to ``path`` with its command, date and machine.

    ``machine`` is :func:`machine_description` taken when the run started (its load
    average says how busy the machine was).
    """
    document = {
        "benchmark": benchmark,
        "command": command_line(benchmark, args),
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine,
        "results": results,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
