"""``dynamokv prove``: the table, the exit status, ``--list`` and ``--only``."""

from __future__ import annotations

from collections.abc import Mapping

import dynamokv.spec.vclock as spec_vclock
import pytest
from dynamokv.impl.cli import main
from dynamokv.proofs import REGISTRY


def test_prove_exits_zero_when_everything_holds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove"]) == 0
    out = capsys.readouterr().out
    assert "OK:" in out
    for entry in REGISTRY:
        assert entry.name in out


def test_list_names_every_theorem_and_control(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--list"]) == 0
    out = capsys.readouterr().out
    for entry in REGISTRY:
        assert entry.name in out


def test_only_accepts_repeats_and_commas(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "prove",
            "--only",
            "quorum.read_write_intersect,vclock.descends_reflexive",
            "--only",
            "ring",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "quorum.read_write_intersect.control" in out
    assert "ring.partitions_are_equal_intervals" in out
    assert "merkle" not in out


def test_only_with_an_unknown_name_is_a_one_line_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["prove", "--only", "no.such.theorem"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "no.such.theorem" in lines[0] and "--list" in lines[0]


def test_bad_timeout_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--timeout", "0"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_prove_exits_one_and_explains_when_the_spec_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def merge_min(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
        merged = {node: min(a.get(node, 0), b.get(node, 0)) for node in set(a) | set(b)}
        return {node: counter for node, counter in merged.items() if counter > 0}

    monkeypatch.setattr(spec_vclock, "merge", merge_min)
    assert main(["prove", "--only", "vclock.merge_is_least_upper_bound"]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out
    assert "DISAGREE" in out


def test_verbose_prints_witnesses_and_counterexamples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--only", "quorum.sloppy_can_miss_strict", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "witness:" in out and "counterexample:" in out and "spec replay agreed" in out
