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


def plant_mutant(workspace: Path, lab_name: str, mutant: str) -> None:
    """Make ``workspace``'s file for ``lab_name`` the planted mutant ``mutant``.

    A mutant defines only the functions it gets wrong; the workspace file also imports
    the lab's answer key for the others, so exactly the parts that grade the mutant's
    functions fail.
    """
    from dynamokv.labs import LABS, mutants_of, workspace_file

    lab_ = LABS[lab_name]
    planted = next(m for m in mutants_of(lab_) if m.name == mutant)
    text = planted.path.read_text()
    imports = [
        f"from {dotted.rpartition('.')[0]} import {dotted.rpartition('.')[2]} as {name}"
        for name, dotted in lab_.answer_key.items()
        if name not in planted.functions
    ]
    workspace_file(workspace, lab_).write_text(text + "\n" + "\n".join(imports) + "\n")
