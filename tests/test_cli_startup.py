"""A ``dynamokv COMMAND`` process imports only that command's module, and sees the same CLI.

Node processes are started many times (``dynamokv cluster up``, the cluster tests), so the
command line registers only the command it runs; ``--help`` and a mistyped command still
register every command.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from dynamokv.impl.cli import _main, main

COMMANDS = [command for _, commands in _main._COMMAND_MODULES for command in commands]


def _help(parser: _main.ArgumentParser, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    return capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_a_command_parsed_alone_has_the_help_it_has_among_all(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alone = _help(_main.build_parser(command), [command, "--help"], capsys)
    among_all = _help(_main.build_parser(), [command, "--help"], capsys)
    assert alone == among_all
    assert f"usage: dynamokv {command}" in alone


def test_every_command_module_registers_the_commands_it_is_listed_with(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = _help(_main.build_parser(), ["--help"], capsys)
    for command in COMMANDS:
        assert f"    {command} " in listed, command
    for _, commands in _main._COMMAND_MODULES:
        parser = _main.build_parser(commands[0])
        for command in commands:
            assert f"usage: dynamokv {command}" in _help(parser, [command, "--help"], capsys)


def test_a_mistyped_command_is_one_line_naming_every_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["nodes", "run"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "invalid choice: 'nodes'" in error
    assert all(f"'{command}'" in error for command in COMMANDS)


def _cli_modules_imported(command: str) -> set[str]:
    script = (
        "import sys\n"
        "from dynamokv.impl.cli._main import build_parser\n"
        f"build_parser({command!r})\n"
        "print(' '.join(m for m in sys.modules if m.startswith('dynamokv.impl.cli.')))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(completed.stdout.split())


def test_a_node_process_imports_no_other_command() -> None:
    imported = _cli_modules_imported("node")
    assert "dynamokv.impl.cli._node_command" in imported
    others = {f"dynamokv.impl.cli.{name}" for name, _ in _main._COMMAND_MODULES} - imported
    assert len(others) == len(_main._COMMAND_MODULES) - 1
    # The same check sees every module when no command is known (the --help case).
    assert "dynamokv.impl.cli._bench" in _cli_modules_imported("--help")
