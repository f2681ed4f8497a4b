"""``dynamokv sim``: summary, exit status, one-line errors, the ladder diagram."""

from __future__ import annotations

import pytest
from dynamokv.impl.cli import main


def test_sim_prints_summary_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--seed", "3", "--ops", "200"]) == 0
    out = capsys.readouterr().out
    for measure in ("ops", "hints stored", "hints replayed", "read repairs", "truncations"):
        assert measure in out
    assert "deliveries/s" in out and "violations" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sim", "--faults", "meteor"], "unknown fault 'meteor'"),
        (["sim", "--nodes", "0"], "--nodes must be between 1 and 64"),
        (["sim", "--seeds", "0"], "must be positive"),
        (["sim", "-r", "4"], "need 1 <= n <= nodes"),
        (["sim", "--plant-bug", "nope"], "unknown planted bug"),
        (["sim", "--preset", "q1", "--seeds", "3"], "--seeds would be ignored"),
        (["sim", "--preset", "gossip", "--nodes", "7", "-r", "1"], "--nodes, -r would be ignored"),
        (["sim", "--preset", "pbs", "--trace", "k000"], "--trace would be ignored"),
        (["sim", "--trials", "5"], "--trials applies to --preset pbs, fig8, divergence only"),
        (["sim", "--preset", "q4", "--trials", "5"], "--trials applies to"),
    ],
)
def test_bad_input_is_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--nodes", "1", "-n", "1", "-r", "1", "-w", "1"],
        ["--nodes", "2", "-n", "2", "-r", "1", "-w", "2"],
        ["-r", "1", "-w", "1"],
        ["--strict", "-r", "3", "-w", "3"],
        ["--vector-clock-threshold", "1"],
    ],
)
def test_unusual_shapes_run_clean(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--seeds", "2", "--ops", "300", *argv]) == 0
    capsys.readouterr()


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--seed", "x"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_trace_prints_a_ladder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--seed", "2", "--ops", "100", "--faults", "none", "--trace", "k000"]) == 0
    out = capsys.readouterr().out
    assert "WriteRequest" in out and "ReadRequest" in out
    assert "n1" in out.splitlines()[0]


def test_trace_from_starts_the_ladder_at_a_tick(capsys: pytest.CaptureFixture[str]) -> None:
    """A violation names its tick; the ladder of 200 messages can start there."""
    argv = ["sim", "--seed", "3", "--trace", "k000"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    later = int(out.split("later messages: --trace-from ")[1].split()[0])
    first_rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert int(first_rows[0].split()[0]) < later
    assert main([*argv, "--trace-from", str(later)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.strip()[:1].isdigit()]
    assert rows and all(int(row.split()[0]) >= later for row in rows[:200])
    assert main(["sim", "--seed", "3", "--trace-from", "5"]) == 1
    assert "--trace-from needs --trace KEY" in capsys.readouterr().err


def test_sim_public_names_match_all() -> None:
    import dynamokv.impl.sim as sim

    public = {name for name in dir(sim) if not name.startswith("_")} - {"annotations"}
    assert public == set(sim.__all__)


def test_trace_of_a_key_no_message_carried_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    """An empty ladder would read as a key whose requests all failed; the keys are named."""
    assert main(["sim", "--seed", "2", "--ops", "50", "--keys", "8", "--trace", "cart"]) == 0
    out = capsys.readouterr().out
    assert "no message carried 'cart' in seed 2" in out
    assert "k000 to k007" in out


def test_strict_quorum_with_churn_says_read_your_writes_is_not_checked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A join or a leave moves partitions without a quorum spanning old and new owners
    (Dynamo §4.8.1): property 4 is promised on a stable ring only, and the command says
    it did not check it rather than report what the design allows."""
    from dynamokv.impl.sim import SimConfig, read_your_writes_checked

    assert read_your_writes_checked(SimConfig(strict=True))
    assert not read_your_writes_checked(SimConfig(strict=False))
    assert not read_your_writes_checked(SimConfig(strict=True, r=1, w=1))
    assert not read_your_writes_checked(SimConfig(strict=True, faults=("crash", "churn")))
    assert main(["sim", "--seed", "1", "--ops", "300", "--strict", "--faults", "churn"]) == 0
    assert "read-your-writes (property 4) is not checked with churn" in capsys.readouterr().out
    assert main(["sim", "--seed", "1", "--ops", "300", "--strict"]) == 0
    assert "not checked" not in capsys.readouterr().out
