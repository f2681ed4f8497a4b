"""Helpers for the grader tests: run ``dynamokv lab`` in-process and read its JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dynamokv.impl.cli import main


def lab(
    capsys: pytest.CaptureFixture[str], *argv: str, workspace: Path | None = None
) -> tuple[int, Any, str]:
    """Run ``dynamokv lab ARGV --json``; return (exit status, parsed stdout, stderr)."""
    args = ["lab", *argv, "--json"]
    if workspace is not None:
        args += ["--workspace", str(workspace)]
    status = main(args)
    captured = capsys.readouterr()
    value = json.loads(captured.out) if captured.out.strip() else None
    return status, value, captured.err


def without_seconds(value: Any) -> Any:
    """``value`` with every field that holds seconds removed (they differ between runs)."""
    if isinstance(value, dict):
        return {k: without_seconds(v) for k, v in value.items() if not k.endswith("seconds")}
    if isinstance(value, list):
        return [without_seconds(item) for item in value]
    return value
