"""Bad input to ``dynamokv`` is one line on stderr and a non-zero exit, checked before work.

Each case is something a user could plausibly type: a file where a directory belongs, a
zero or negative bound, a value that is not a number, bytes that are not UTF-8. None of
them starts a node, reaches the network or runs a benchmark: the error comes first.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
from dynamokv.impl.cli import _main, main


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_an_os_error_is_one_line_naming_the_path_without_the_errno() -> None:
    error = NotADirectoryError(errno.ENOTDIR, "Not a directory", "/etc/passwd/q1")
    assert _main._os_error_line(error) == "/etc/passwd/q1: Not a directory"
    assert _main._os_error_line(OSError("no address")) == "no address"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["sim", "--bogus"], "dynamokv sim: error: unrecognized arguments: --bogus"),
        (
            ["cluster", "up", "--bogus"],
            "dynamokv cluster up: error: unrecognized arguments: --bogus",
        ),
        (
            ["lab", "check", "q1", "--bogus", "extra"],
            "dynamokv lab check: error: unrecognized arguments: --bogus extra",
        ),
        (["--bogus"], "dynamokv: error: unrecognized arguments: --bogus"),
    ],
)
def test_an_unrecognized_argument_is_refused_by_the_command_it_was_given_to(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert _one_line_error(capsys) == f"{line} (see --help)\n"


def test_a_lab_workspace_that_is_a_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workspace = tmp_path / "a-file"
    workspace.write_text("")
    assert main(["lab", "start", "q1", "--workspace", str(workspace)]) == 1
    assert f"{workspace}/q1: Not a directory" in _one_line_error(capsys)


def test_a_chaos_directory_that_is_a_file_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "a-file"
    runs.write_text("")
    assert main(["chaos", "--dir", str(runs), "--seconds", "1"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].endswith(": Not a directory")


@pytest.mark.parametrize(
    "argv",
    [
        ["lab", "check", "q1", "--answer-key", "--timeout", "0"],
        ["lab", "check", "q1", "--answer-key", "--timeout", "-1"],
        ["prove", "--timeout", "0"],
    ],
)
def test_a_timeout_that_is_not_positive_is_a_usage_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert "argument --timeout: must be positive" in _one_line_error(capsys)


@pytest.mark.parametrize("timeout", ["0", "-1"])
def test_cluster_up_refuses_a_timeout_that_is_not_positive_before_starting_a_node(
    timeout: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "cluster"
    assert main(["cluster", "up", "--dir", str(directory), "--timeout", timeout]) == 2
    assert "argument --timeout: must be positive" in _one_line_error(capsys)
    assert not directory.exists()


def test_a_privileged_base_port_is_refused_naming_the_allowed_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cluster", "up", "--dir", str(tmp_path), "--base-port", "80"]) == 1
    assert "--base-port must be in 1024..65525" in _one_line_error(capsys)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--fault-seconds", "-1", "--fault-seconds must be positive"),
        ("--fault-seconds", "0", "--fault-seconds must be positive"),
        ("--quiet-seconds", "-1", "--quiet-seconds must be 0 or more"),
        ("--min-adds", "-1", "--min-adds must be 0 or more"),
    ],
)
def test_chaos_refuses_negative_lengths_before_starting_a_cluster(
    option: str, value: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    assert main(["chaos", "--dir", str(runs), option, value]) == 1
    assert message in _one_line_error(capsys)
    assert not runs.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "rebalance", "--weights", "1,1,x", "--nodes", "3"], "comma-separated integers"),
        (["bench", "rebalance", "--weights", "1,1,0", "--nodes", "3"], "must each be in 1..1000"),
        (["bench", "rebalance", "--nodes", "2"], "--nodes must be in 3..32"),
        (["bench", "rebalance", "--weight", "0"], "--weight must be in 1..1000"),
        (["bench", "rebalance", "--value-bytes", "-1"], "--value-bytes must be in 1..1048576"),
        (["bench", "reap", "--value-bytes", "0"], "--value-bytes must be in 1..1048576"),
    ],
)
def test_bench_refuses_values_the_nodes_would_refuse_before_starting_them(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--dir", str(tmp_path / "cluster")]) == 1
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "cluster").exists()


@pytest.mark.parametrize("benchmark", ["storage", "cluster", "coordination"])
def test_a_bench_result_file_that_cannot_be_written_is_refused_before_the_run(
    benchmark: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", benchmark, "--json", str(tmp_path)]) == 2
    assert f"{tmp_path} is a directory, not a file" in _one_line_error(capsys)
    missing = tmp_path / "missing" / "result.json"
    assert main(["bench", benchmark, "--json", str(missing)]) == 2
    assert f"{missing.parent} is not a directory" in _one_line_error(capsys)


def test_the_rebalance_help_shows_a_single_percent_sign(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["bench", "rebalance", "--help"])
    assert "9.09% for" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "what"),
    [
        (["get", "a\udcff"], "key"),
        (["delete", "a\udcff"], "key"),
        (["put", "k", "ab\udcfe"], "value"),
    ],
)
def test_a_key_or_value_that_is_not_utf8_is_one_line_before_any_request(
    argv: list[str], what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on loopback: were a request sent, the error would be a refused connection.
    assert main([*argv, "--node", "127.0.0.1:1"]) == 1
    assert f"the {what} is not UTF-8 text" in _one_line_error(capsys)


def test_get_without_a_cluster_in_dir_names_the_file_and_the_way_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["get", "k", "--dir", str(tmp_path)]) == 1
    err = _one_line_error(capsys)
    assert f"{tmp_path}/cluster.json not found" in err and "--dir" in err


@pytest.mark.parametrize(
    ("node", "what"),
    [({"http": None}, "'http' is None"), ({"peer": "nowhere"}, "is not HOST:PORT")],
)
def test_a_cluster_file_with_a_node_field_edited_away_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], node: dict[str, object], what: str
) -> None:
    usable = {
        "name": "node-1",
        "http": "127.0.0.1:1",
        "peer": "127.0.0.1:2",
        "pid": None,
        "data_dir": str(tmp_path / "d"),
        "config": str(tmp_path / "c.toml"),
        "stdout": str(tmp_path / "o"),
        "stderr": str(tmp_path / "e"),
    }
    (tmp_path / "cluster.json").write_text(json.dumps({"nodes": [{**usable, **node}]}))
    assert main(["cluster", "restart", "1", "--dir", str(tmp_path)]) == 1
    err = _one_line_error(capsys)
    assert "is not a cluster file" in err and what in err
