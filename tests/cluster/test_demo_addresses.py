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


def _closing_panel(*, tls: bool, directory: str = ".dynamokv", nodes: int = 3) -> str:
    demo = _Demo(argparse.Namespace(dir=directory, nodes=nodes, tls=tls))
    output = io.StringIO()
    demo.console = Console(file=output, width=400, highlight=False)
    addresses: dict[str | int, str] = {}
    for index in range(1, nodes + 1):  # as LocalCluster.http_address: a name or its number
        addresses[index] = addresses[f"node-{index}"] = f"127.0.0.1:{7100 + index}"
    demo.cluster = SimpleNamespace(  # type: ignore[assignment]
        tls=tls,
        names=[f"node-{index}" for index in range(1, nodes + 1)],
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


def test_the_cli_lines_name_the_demo_directory_and_a_node_the_cluster_has(
    tmp_path: Path,
) -> None:
    """Pasted as printed, every command reaches the demo's cluster: without ``--dir`` they
    would look in ./.dynamokv, and a 2-node cluster has no node 3 to kill."""
    directory = str(tmp_path / "demo")
    text = _closing_panel(tls=False, directory=directory, nodes=2)
    for command in ("put greeting hello", "get greeting", "cluster status", "cluster down"):
        assert f"{command} --dir {directory}" in text, command
    assert f"cluster kill 2 --dir {directory}" in text
    assert f"cluster restart 2 --dir {directory}" in text
    assert "kill 3" not in text


def test_the_cli_lines_for_the_default_directory_need_no_dir() -> None:
    text = _closing_panel(tls=False, nodes=5)
    assert "cluster kill 3;" in text and "--dir" not in text


def test_the_closing_panel_names_nodes_the_cluster_still_has_after_a_leave() -> None:
    """node-2 left a 3-node cluster: no line may name node-2 (by name or as `2`)."""
    demo = _Demo(argparse.Namespace(dir=".dynamokv", nodes=3, tls=False))
    output = io.StringIO()
    demo.console = Console(file=output, width=400, highlight=False)
    addresses = {"node-1": "127.0.0.1:7101", "node-3": "127.0.0.1:7103"}
    demo.cluster = SimpleNamespace(  # type: ignore[assignment]
        tls=False,
        names=list(addresses),
        directory=".dynamokv",
        certificates_directory=".dynamokv/certs",
        http_address=addresses.__getitem__,
    )
    demo.finish()
    text = output.getvalue()
    assert "http://127.0.0.1:7103/kv/greeting" in text
    assert "cluster kill 3;" in text and "cluster restart 3" in text
