"""Running CrossHair over contract-carrying modules: the first rung of the verification ladder.

Why a subprocess: CrossHair patches the interpreter while it explores symbolic
paths, so it runs in a process of its own; its verdict comes back as a
:class:`~dynamokv.proofs.ProofResult` row, like a theorem's. For
contracts, "proved" means "no counterexample found within the per-condition
timeout", a bounded search, and the scope says so. For ``diffbehavior`` pairs it
means more: CrossHair reported every path explored; a search stopped by its bound
is unknown.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ._result import Kind, ProofResult, Status, Stopwatch

__all__ = ["crosshair_check", "crosshair_diffbehavior"]

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


def crosshair_diffbehavior(
    function1: str,
    function2: str,
    *,
    name: str,
    kind: Kind,
    claim: str,
    per_condition_timeout: float = 10.0,
    timeout_seconds: float = 600.0,
    command: Sequence[str] | None = None,
    reference: str = "",
) -> ProofResult:
    """Run ``crosshair diffbehavior function1 function2`` and judge its answer.

    CrossHair explores the paths through both functions symbolically. When it has
    explored every one without a difference the functions are equivalent on the
    domain the arguments' types describe: status proved. A difference is a
    counterexample: status refuted. Anything else (the time bound reached with paths
    left, a crash, a non-deterministic function) is unknown, never equivalent.

    Args:
        function1: import path of the first function (``package.module.function``).
        function2: import path of the second; both take the same arguments.
        name: the row's name.
        kind: ``"theorem"`` for a pair that must be equivalent, ``"control"`` for a
            planted divergence that must be found.
        claim: the statement, one sentence.
        per_condition_timeout: CPU seconds CrossHair spends (both argument orders together).
        timeout_seconds: the whole run is stopped (status unknown) after this long.
        command: how to start CrossHair; default ``python -m crosshair``.
        reference: the paper section or the spec the pair is about.
    """
    stopwatch = Stopwatch()
    argv = [
        *(command or (sys.executable, "-m", "crosshair")),
        "diffbehavior",
        f"--per_condition_timeout={per_condition_timeout:g}",
        function1,
        function2,
    ]
    scope = f"every path, {per_condition_timeout:g} s CPU bound"
    counterexample: str | None = None
    note: str | None = None
    status = Status.UNKNOWN
    try:
        completed = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout_seconds, check=False
        )
    except subprocess.TimeoutExpired:
        note = f"timed out after {timeout_seconds:g} s"
    else:
        lines = [line.strip() for line in completed.stdout.splitlines() if line.strip()]
        attempted = next((line for line in lines if line.startswith("No differences")), "")
        if completed.returncode == 1 and any(line.startswith("Given:") for line in lines):
            status = Status.REFUTED
            counterexample = "\n".join(lines[:OUTPUT_LINES_MAX])
        elif completed.returncode == 0 and any("All paths exhausted" in line for line in lines):
            status = Status.PROVED
            note = attempted or None
        elif completed.returncode == 0:
            note = f"bound reached with paths left: {attempted or 'no verdict'}"
        else:
            error = completed.stderr.strip().splitlines()
            note = f"crosshair exited {completed.returncode}: {error[-1] if error else ''}"
    return ProofResult(
        name=name,
        kind=kind,
        claim=claim,
        scope=scope,
        status=status,
        seconds=stopwatch.seconds(),
        counterexample=counterexample,
        reference=reference,
        note=note,
    )
