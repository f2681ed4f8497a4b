"""The demo's closing panel: the addresses a newcomer copies into a browser and a shell."""

from __future__ import annotations

import argparse
import io
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from dynamokv.impl.cli._demo import _Demo
from rich.console import Console


def _closing_panel(*, tls: bool) -> str:
    demo = _Demo(argparse.Namespace(dir=".dynamokv", nodes=3, tls=tls))
    output = io.StringIO()
    demo.console = Console(file=output, width=200, highlight=False)
    addresses = {1: "127.0.0.1:7101", 2: "127.0.0.1:7102", 3: "127.0.0.1:7103"}
    demo.cluster = SimpleNamespace(  # type: ignore[assignment]
        tls=tls,
        names=["node-1", "node-2", "node-3"],
        directory=".dynamokv",
        certificates_directory=".dynamokv/certs",
        http_address=addresses.__getitem__,
    )
    demo.finish()
    return output.getvalue()


@pytest.mark.parametrize("tls", [False, True])
def test_the_live_view_address_has_one_scheme(tls: bool) -> None:
    scheme = "https" if tls else "http"
    text = _closing_panel(tls=tls)
    assert f"{scheme}://127.0.0.1:7101/ui" in text
    assert not re.search(r"https?://https?://", text), text


def test_the_cli_lines_name_the_command_a_shell_can_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Under ``make run`` the virtualenv is not activated: a bare ``dynamokv`` would be
    'command not found', so the panel prints the path the demo was started by."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(sys, "argv", [str(tmp_path / ".venv" / "bin" / "dynamokv"), "demo"])
    text = _closing_panel(tls=False)
    assert ".venv/bin/dynamokv put greeting hello" in text
    assert ".venv/bin/dynamokv cluster down" in text
    assert not re.search(r"(?<![/\w])dynamokv (put|get|cluster)", text), text
