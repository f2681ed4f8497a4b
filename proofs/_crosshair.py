"""Running CrossHair over contract-carrying modules: the first rung of the verification ladder.

Why a subprocess: CrossHair patches the interpreter while it explores symbolic
paths, so it runs in a process of its own; its verdict comes back as a
:class:`~dynamokv.proofs.ProofResult` row, like a theorem's. "Proved" here means
"no counterexample found within the per-condition timeout", a bounded search, and
the scope says so.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ._result import ProofResult, Status, Stopwatch

__all__ = ["crosshair_check"]

OUTPUT_LINES_MAX = 5


def crosshair_check(
    target: Path | str,
    *,
    name: str = "crosshair.spec_contracts",
    per_condition_timeout: float = 4.0,
    timeout_seconds: float = 900.0,
    command: Sequence[str] | None = None,
) -> ProofResult:
    """Run ``crosshair check --analysis_kind=icontract`` on ``target`` (a file or folder).

    Args:
        target: what to check: a folder such as ``spec/``, a file, or ``file.py:LINE``
            for the one function defined at that line.
        name: the row's name.
        per_condition_timeout: seconds CrossHair spends on each contract.
        timeout_seconds: the whole run is stopped (status unknown) after this long.
        command: how to start CrossHair; default ``python -m crosshair``. The
            command line passes the project's wrapper (the one ``make crosshair``
            uses), which this package may not import.

    Returns:
        Proved when CrossHair exits 0 with no findings, refuted with its first
        findings as the counterexample, unknown when it could not run or timed out.
    """
    stopwatch = Stopwatch()
    argv = [
        *(command or (sys.executable, "-m", "crosshair")),
        "check",
        "--analysis_kind=icontract",
        f"--per_condition_timeout={per_condition_timeout:g}",
        str(target),
    ]
    status: Status
    counterexample: str | None
    note: str | None
    where = Path(str(target).split(":")[0])
    label = f"{where.name}/" if where.is_dir() else where.name
    scope = f"{label} contracts, {per_condition_timeout:g} s per condition"
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_seconds, check=False
        )
    except subprocess.TimeoutExpired:
        status, counterexample, note = (
            Status.UNKNOWN,
            None,
            f"timed out after {timeout_seconds:g} s",
        )
    else:
        findings = [line for line in completed.stdout.splitlines() if line.strip()]
        if completed.returncode == 0 and not findings:
            status, counterexample, note = Status.PROVED, None, None
        elif findings:
            status, note = Status.REFUTED, None
            counterexample = "\n".join(findings[:OUTPUT_LINES_MAX])
        else:
            status, counterexample = Status.UNKNOWN, None
            error = completed.stderr.strip().splitlines()
            note = f"crosshair exited {completed.returncode}: {error[-1] if error else ''}"
    return ProofResult(
        name=name,
        kind="theorem",
        claim="no input breaks a contract of the spec",
        scope=scope,
        status=status,
        seconds=stopwatch.seconds(),
        counterexample=counterexample,
        reference="spec contracts",
        note=note,
    )
