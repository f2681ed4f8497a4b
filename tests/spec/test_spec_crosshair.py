"""CrossHair searches every contract of every spec module for an input that breaks it.

One test per module, so that the pytest workers share the search instead of one process
doing it alone after the suite. Each runs the command ``make crosshair`` runs (the wrapper
that raises the recursion limit), with its bound of CPU seconds per condition: CrossHair
counts the CPU it spends (``time.process_time``), so a busy machine changes how long a
module takes, not how far the search goes. ``make crosshair CROSSHAIR_TIMEOUT=30`` searches
deeper; ``tests/proofs/test_proofs_planted_bugs.py`` shows CrossHair refuting a planted bug.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dynamokv.spec
import pytest
from dynamokv.proofs._crosshair import run_cpu_bounded

PER_CONDITION_TIMEOUT_SECONDS = 2
"""CPU seconds CrossHair spends on each condition (``make crosshair``'s default)."""

RUN_CPU_SECONDS_MAX = 600
"""A bound on one module's run in CPU seconds (the longest, ``ring.py``, uses about 60 s):
a busy machine makes the run longer, not the bound nearer."""

SPEC = Path(dynamokv.spec.__file__).resolve().parent
MODULES = sorted(path.name for path in SPEC.glob("*.py"))


@pytest.mark.slow
@pytest.mark.parametrize("module", MODULES)
def test_no_input_breaks_a_contract_of(module: str) -> None:
    completed = run_cpu_bounded(
        [
            sys.executable,
            "-m",
            "dynamokv.impl.cli._crosshair",
            "check",
            "--analysis_kind=icontract",
            f"--per_condition_timeout={PER_CONDITION_TIMEOUT_SECONDS}",
            str(SPEC / module),
        ],
        cpu_seconds=RUN_CPU_SECONDS_MAX,
    )
    assert completed.returncode == 0 and not completed.stdout.strip(), (
        f"crosshair check {module} ({completed.note or 'exited'}):\n"
        f"{completed.stdout}{completed.stderr[-2000:]}"
    )
