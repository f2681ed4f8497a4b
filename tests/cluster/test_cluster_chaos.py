"""Jepsen-style runs on real processes (``dynamokv chaos``), short versions for the slow tier.

Each run starts its own 5-node cluster, runs client threads while the nemesis breaks it,
and judges the history with the simulator's checkers. The long runs (120 s, every nemesis,
5 valid runs) are a command whose output goes on the benchmarks page, not a test.

Negative controls: in every carts run the last-write-wins clients must lose items (the
harness can see a loss), and a register run with R + W <= N (no longer a strict quorum
intersection) must be caught reading stale values (the checker can fail).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import processes_under
from dynamokv.impl.chaos import ChaosConfig, run_chaos
from dynamokv.impl.cli import main
from dynamokv.spec.errors import ArgumentError

EVERY_NEMESIS = ("partition", "one-way", "kill", "pause")


def _short(tmp_path: Path, **options: object) -> ChaosConfig:
    settings: dict[str, object] = {
        "workload": "carts",
        "nemesis": EVERY_NEMESIS,
        "seconds": 34.0,
        "seed": 11,
        "directory": tmp_path / "run",
        "fault_seconds": 4.0,
        "quiet_seconds": 2.0,
        # Shorter than a fault, so that a request to a paused node times out inside it.
        "timeout_seconds": 1.5,
        "acknowledged_adds_min": 200,
    }
    settings.update(options)
    return ChaosConfig(**settings)  # type: ignore[arg-type]


@pytest.mark.slow
def test_union_carts_lose_nothing_under_every_nemesis_while_lww_carts_lose(
    tmp_path: Path,
) -> None:
    report = run_chaos(_short(tmp_path))
    assert report.violations == [], report.violations[:5]
    assert report.carts["union"]["acknowledged"] >= 200
    assert report.carts["union"]["lost"] == 0, report.carts["union"]
    assert report.carts["lww"]["lost"] > 0  # the harness sees a loss when there is one
    assert {window["kind"] for window in report.windows} == set(EVERY_NEMESIS)
    assert report.valid, report.invalid_reasons
    history = (tmp_path / "run" / "history.jsonl").read_text().splitlines()
    assert json.loads(history[0])["seed"] == 11 and len(history) > report.requests // 2
    assert (tmp_path / "run" / "report.json").exists()
    assert processes_under(tmp_path) == []


@pytest.mark.slow
def test_register_reads_are_never_stale_under_a_strict_quorum(tmp_path: Path) -> None:
    report = run_chaos(
        _short(tmp_path, workload="register", seconds=20.0, nemesis=("partition", "kill", "pause"))
    )
    assert report.violations == [], report.violations[:5]
    assert report.register["writes_ok"] > 100 and report.register["stale_reads"] == 0
    assert report.register["deletes_ok"] > 10  # a read after a delete is checked too
    assert not [reason for reason in report.invalid_reasons if "failed during" in reason]


@pytest.mark.slow
def test_a_deleted_register_reaped_under_the_nemesis_never_comes_back(tmp_path: Path) -> None:
    """With a grace of one second the owners reap deleted registers during and after
    partitions, kills and pauses, and every register is read once the reaps are done: a
    value a reaped tombstone deleted that came back would be a read older than an
    acknowledged delete (property 4), and an owner missing an acknowledged version that no
    delete superseded would break property 1."""
    report = run_chaos(
        _short(
            tmp_path,
            workload="register",
            seconds=30.0,
            nemesis=("partition", "kill", "pause"),
            keys=16,
            reap_grace_seconds=1,
        )
    )
    assert report.violations == [], report.violations[:5]
    assert report.register["deletes_ok"] > 10 and report.register["stale_reads"] == 0
    assert report.register["tombstones_reaped"] > 0
    assert not [reason for reason in report.invalid_reasons if "reaped" in reason]


@pytest.mark.slow
def test_the_checker_catches_stale_reads_when_r_plus_w_is_not_above_n(tmp_path: Path) -> None:
    """The planted weakness: R=1, W=1 with N=3 under partitions must show property 4 fail."""
    report = run_chaos(
        _short(
            tmp_path,
            workload="register",
            seconds=20.0,
            nemesis=("partition",),
            fault_seconds=7.0,
            r=1,
            w=1,
        )
    )
    assert report.register["stale_reads"] > 0
    assert any("property 4" in violation for violation in report.violations)


def test_chaos_refuses_bad_arguments_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chaos", "--nemesis", "flood", "--dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err.count("\n") == 1
    assert main(["chaos", "--seconds", "0", "--dir", str(tmp_path)]) == 1
    assert "seconds" in capsys.readouterr().err
    assert main(["chaos", "--workload", "queue"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.slow
@pytest.mark.usefixtures("netns_required")
def test_a_netns_cluster_survives_the_nemesis_and_leaves_nothing(tmp_path: Path) -> None:
    from dynamokv.impl.runtime._netns import created_suffixes, leftovers

    before = set(created_suffixes())
    report = run_chaos(_short(tmp_path, netns=True, nemesis=("partition", "kill"), seconds=20.0))
    assert report.violations == [] and report.carts["union"]["lost"] == 0
    assert report.carts["union"]["acknowledged"] > 0
    suffixes = sorted(set(created_suffixes()) - before)
    assert suffixes and leftovers(suffixes) == ([], [])
    assert processes_under(tmp_path) == []


@pytest.mark.slow
def test_union_carts_lose_nothing_while_nodes_join_and_leave_between_crashes(
    tmp_path: Path,
) -> None:
    """A node joins and leaves again between crashes: the old owners stream it the
    partitions it takes over, and it hands them back when it leaves (Dynamo §4.8.1); no
    acknowledged union add is lost, and a newcomer of a later window gets a name no node
    has had (the earlier one left)."""
    report = run_chaos(
        _short(tmp_path, nemesis=("membership", "kill"), seconds=40.0, fault_seconds=3.0)
    )
    assert report.nemesis_errors == []
    assert report.violations == [], report.violations[:5]
    assert report.carts["union"]["lost"] == 0, report.carts["union"]
    assert report.carts["lww"]["lost"] > 0
    newcomers = [
        window["detail"].split()[0] for window in report.windows if window["kind"] == "membership"
    ]
    # One window or more, as the machine's speed allows; each newcomer gets a fresh name.
    assert newcomers[:1] == ["node-6"] and len(set(newcomers)) == len(newcomers), newcomers
    assert report.valid, report.invalid_reasons
    assert processes_under(tmp_path) == []


def test_a_register_run_refuses_the_membership_nemesis_and_carts_a_reap_grace(
    tmp_path: Path,
) -> None:
    with pytest.raises(ArgumentError, match="ring that does not change"):
        _short(tmp_path, workload="register", nemesis=("membership",))
    with pytest.raises(ArgumentError, match="carts never delete"):
        _short(tmp_path, reap_grace_seconds=1)
    with pytest.raises(ArgumentError, match="reap grace must be"):
        _short(tmp_path, workload="register", reap_grace_seconds=0)


@pytest.mark.parametrize("reaping", [False, True])
def test_property_1_at_rest_with_reaping_checks_what_a_delete_superseded(reaping: bool) -> None:
    """With reaping an owner need not hold an acknowledged tombstone or the value it
    deleted, only none of the deleted values; without, it must hold the tombstone."""
    from dynamokv.impl.chaos._recorder import Recorder
    from dynamokv.impl.chaos._run import _check_durable
    from dynamokv.impl.core import Version
    from dynamokv.impl.sim import History, OpRecord

    value = Version(b"socks", ("n1", 1), ())
    tombstone = Version(None, ("n1", 2), (("n1", 1),))
    after = Version(b"shoes", ("n2", 1), ())
    recorder = Recorder()
    recorder.records += [
        OpRecord(1, "put", b"k", "n1", 0, 2, b"socks", (), 10, True, value),
        OpRecord(1, "delete", b"k", "n1", 20, 2, None, (("n1", 1),), 30, True, tombstone),
        OpRecord(2, "put", b"k", "n2", 40, 2, b"shoes", (), 50, True, after),
    ]
    held = {
        "n1": {b"k": frozenset({after})},  # reaped, then written again
        "n2": {b"k": frozenset({after, value})},  # the deleted value came back
    }
    history = History()
    _check_durable(recorder, {b"k": ["n1", "n2"]}, held, history, reaping=reaping)
    if reaping:
        assert history.violations == ["property 1: n2 lacks 1 acknowledged version(s) of b'k'"]
    else:
        assert history.violations == [
            "property 1: n1 lacks 2 acknowledged version(s) of b'k'",
            "property 1: n2 lacks 1 acknowledged version(s) of b'k'",
        ]


def test_property_1_with_reaping_excuses_what_any_acknowledged_delete_superseded() -> None:
    """A value deleted and reaped, then the key written again and deleted again: the
    second tombstone's context names n1 above the first tombstone's dot (counters are
    node-wide), yet not the value the first one deleted, since the put after the reap
    started from nothing. That value is excused by the first delete, not required of the
    owners (a register run with reaping under kills flagged 43 such versions)."""
    from dynamokv.impl.chaos._recorder import Recorder
    from dynamokv.impl.chaos._run import _check_durable
    from dynamokv.impl.core import Version
    from dynamokv.impl.sim import History, OpRecord

    old = Version(b"socks", ("n2", 1), ())
    first = Version(None, ("n1", 5), (("n2", 1),))
    again = Version(b"shoes", ("n1", 9), ())
    second = Version(None, ("n3", 1), (("n1", 9),))
    recorder = Recorder()
    recorder.records += [
        OpRecord(1, "put", b"k", "n2", 0, 2, b"socks", (), 10, True, old),
        OpRecord(1, "delete", b"k", "n1", 20, 2, None, (("n2", 1),), 30, True, first),
        OpRecord(2, "put", b"k", "n1", 40, 2, b"shoes", (), 50, True, again),
        OpRecord(2, "delete", b"k", "n3", 60, 2, None, (("n1", 9),), 70, True, second),
    ]
    history = History()
    reaped = {"n1": {b"k": frozenset()}, "n2": {b"k": frozenset()}}
    _check_durable(recorder, {b"k": ["n1", "n2"]}, reaped, history, reaping=True)
    assert history.violations == []
    back = {"n1": {b"k": frozenset()}, "n2": {b"k": frozenset({old})}}
    _check_durable(recorder, {b"k": ["n1", "n2"]}, back, history, reaping=True)
    assert history.violations == ["property 1: n2 lacks 1 acknowledged version(s) of b'k'"]


def test_the_recorder_rebuilds_a_tombstone_whose_delete_got_no_answer() -> None:
    """A node can take a delete and lose the connection before it answers (a kill): the
    tombstone later read back carries only its dot and clock. Its context is the one the
    unanswered delete sent, so it supersedes the value that delete read, as on the node;
    the clock less its dot's entry would drop the value's dot and make a read of the
    tombstone look stale."""
    from dynamokv.impl.chaos._recorder import Recorder
    from dynamokv.impl.client import ClientError
    from dynamokv.impl.core import Version, covers
    from dynamokv.impl.runtime import encode_context

    class Killed:
        def delete(self, *_args: object, **_kwargs: object) -> str:
            raise ClientError("connection reset by peer")

    value = Version(b"r1-137", ("n4", 135), (("n3", 42), ("n4", 95), ("n5", 114)))
    sent = (("n3", 42), ("n4", 135), ("n5", 114))
    recorder = Recorder()
    record = recorder.put(Killed(), 4, "n4", b"k", None, encode_context(sent), None)  # type: ignore[arg-type]
    assert not record.ok
    tombstone = recorder.version_of(b"k", None, ("n4", 149), (("n3", 42), ("n4", 149), ("n5", 114)))
    assert tombstone == Version(None, ("n4", 149), sent)
    assert covers((tombstone,), value)
    # With no delete of its key to match, the clock less the dot's entry is all there is,
    # and the tombstone no longer supersedes the value: the read that looked stale.
    guessed = recorder.version_of(
        b"other", None, ("n4", 149), (("n3", 42), ("n4", 149), ("n5", 114))
    )
    assert guessed.context == (("n3", 42), ("n5", 114)) and not covers((guessed,), value)


def test_a_register_run_in_which_no_get_follows_an_acknowledged_write_is_invalid() -> None:
    """The registers' checks compare gets with the writes acknowledged before them: a run
    in which every request failed, or no successful get came after an acknowledged write
    of its key, checked nothing and is invalid, not passed."""
    from dynamokv.impl.chaos import ChaosReport
    from dynamokv.impl.chaos._recorder import Recorder
    from dynamokv.impl.chaos._run import _invalid_reasons
    from dynamokv.impl.sim import OpRecord

    config = ChaosConfig(
        workload="register", nemesis=("partition",), seconds=30, seed=1, directory=Path("unused")
    )
    report = ChaosReport(config)
    report.windows = [
        {"kind": "partition", "detail": "node-2 alone", "start_ns": 0, "end_ns": 10**10}
    ]
    recorder = Recorder()
    for index in range(40):
        kind = "get" if index % 2 else "put"
        value = None if kind == "get" else b"v%d" % index
        recorder.records.append(
            OpRecord(0, kind, b"k", "node-1", index * 10, 0, value, (), index * 10 + 5, False)
        )
    (reason,) = _invalid_reasons(config, report, recorder)
    assert reason.startswith("no successful get started after an acknowledged write")
    put, get = recorder.records[0], recorder.records[1]
    put.ok = get.ok = True  # one acknowledged write, then one successful get of its key
    assert _invalid_reasons(config, report, recorder) == []
