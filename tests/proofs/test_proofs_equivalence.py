"""Spec ↔ implementation pairs under ``crosshair diffbehavior``, and their planted divergences.

The fast tests hold the adapters to a few concrete inputs (both sides agree; the
planted variant does not) and check that a search stopped by its bound is
*unknown*. The slow tier runs every pair through ``dynamokv prove --crosshair``:
each pair must be equivalent with every path explored, and its planted divergence
must be found within the same bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dynamokv import proofs
from dynamokv.impl.cli import _equivalence, main
from dynamokv.proofs import Status, _crosshair
from dynamokv.proofs._crosshair import run_cpu_bounded

PAIR_NAMES = [pair.name for pair in _equivalence.PAIRS]

# One input per pair on which the planted variant differs from the spec.
TELLING_INPUTS: dict[str, tuple[object, ...]] = {
    "vclock.descends": ((1, 0, 0), (1, 0, 0)),
    "vclock.merge": ((0, 1, 0), (1, 0, 0)),
    "vclock.compare": ((2, 1, 0), (2, 1, 0)),
    "versions.reconcile": (1, 0, 0, 0),
    "versions.merge": (0, 0, 1, 0, False),
    "versions.context_of": (0, 0, 0, 0),
    "ring.preference_list": (True, True, 2, 0),
}


def _adapters(name: str) -> tuple[object, object, object]:
    pair = next(pair for pair in _equivalence.PAIRS if pair.name == name)
    return tuple(
        _equivalence.resolve(path)
        for path in (pair.impl_adapter, pair.spec_adapter, pair.planted_adapter)
    )  # type: ignore[return-value]


def test_every_pair_has_a_telling_input() -> None:
    assert set(TELLING_INPUTS) == set(PAIR_NAMES)


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_impl_and_spec_agree_and_the_planted_variant_does_not(name: str) -> None:
    impl, spec, planted = _adapters(name)
    arguments = TELLING_INPUTS[name]
    assert impl(*arguments) == spec(*arguments)  # type: ignore[operator]
    assert planted(*arguments) != spec(*arguments)  # type: ignore[operator]


@pytest.mark.parametrize("name", PAIR_NAMES)
def test_the_table_names_functions_that_exist(name: str) -> None:
    pair = next(pair for pair in _equivalence.PAIRS if pair.name == name)
    assert callable(_equivalence.resolve(pair.impl))
    assert callable(_equivalence.resolve(pair.spec))


def test_a_search_stopped_by_its_bound_is_unknown_never_equivalent() -> None:
    pair = next(pair for pair in _equivalence.PAIRS if pair.name == "versions.reconcile")
    result = proofs.crosshair_diffbehavior(
        pair.impl_adapter,
        pair.spec_adapter,
        name="equivalence.versions.reconcile",
        kind="theorem",
        claim="bounded too tightly to finish",
        per_condition_timeout=0.5,
    )
    assert result.status is Status.UNKNOWN, result
    assert not result.ok
    assert result.note is not None and "bound reached" in result.note


PAIR_MODULE = """\
def plus_one(x: int) -> int:
    return x + 1


def one_plus(x: int) -> int:
    return 1 + x


def plus_two(x: int) -> int:
    return x + 2
"""


@pytest.mark.parametrize(
    ("other", "status"), [("one_plus", Status.PROVED), ("plus_two", Status.REFUTED)]
)
def test_a_pair_explored_completely_is_proved_and_a_difference_refutes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, other: str, status: Status
) -> None:
    """CrossHair's own verdicts, on a pair small enough to explore in a second: every
    path explored without a difference is proved, a difference found is refuted."""
    (tmp_path / "crosshair_pair.py").write_text(PAIR_MODULE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = proofs.crosshair_diffbehavior(
        "crosshair_pair.plus_one",
        f"crosshair_pair.{other}",
        name="equivalence.plus_one",
        kind="theorem",
        claim="x + 1 is 1 + x",
        per_condition_timeout=5,
    )
    assert result.status is status, result
    assert result.ok is (status is Status.PROVED)
    if status is Status.PROVED:
        assert result.note is not None and result.note.startswith("No differences found")
    else:
        assert result.counterexample is not None and "Given:" in result.counterexample


def test_crosshair_rows_need_the_crosshair_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "--only", "equivalence.vclock.merge"]) == 2
    assert "--crosshair" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("name", PAIR_NAMES)
def test_pair_is_equivalent_and_its_planted_divergence_is_found(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["prove", "--crosshair", "--only", f"equivalence.{name}", "--verbose"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"equivalence.{name}.planted" in out
    assert "All paths exhausted" in out or "proved ✓" in out
    assert "counterexample: Given:" in out


LOOP_MODULE = """\
def triangle(n: int) -> int:
    return sum(range(n))


def triangle_but_two(n: int) -> int:
    return -1 if n == 2 else sum(range(n))


def triangle_from_five(n: int) -> int:
    return sum(range(n)) if n < 5 else 0
"""


def test_a_difference_that_shows_ends_the_search_long_before_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``range`` of a symbolic integer has a path per length, so CrossHair alone searches
    this pair until its bound (600 s here); the command line the rows run stops at the
    difference at n=2, which shows when both run."""
    (tmp_path / "crosshair_loop.py").write_text(LOOP_MODULE)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    argv = [
        *_crosshair.COMMAND,
        "diffbehavior",
        "--per_condition_timeout=600",
        "crosshair_loop.triangle",
        "crosshair_loop.triangle_but_two",
    ]
    completed = run_cpu_bounded(argv, cpu_seconds=30)
    assert completed.returncode == 1, completed
    assert completed.stdout.startswith("Given: (n=2),"), completed.stdout


def test_the_search_goes_on_past_a_difference_that_does_not_show(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a stand-in for CrossHair's search that reports a difference on each of its
    paths: one at n=1 (both functions return 0 when run) does not end the search, the
    next at n=7 (21 against 0) does, and the other argument order is not searched."""
    from crosshair import diff_behavior

    (tmp_path / "crosshair_loop.py").write_text(LOOP_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    searched: list[int] = []

    def search(
        fn: object, sig: object, options: object, root: object, on_path_complete: Any
    ) -> None:
        for n in (1, 7, 9):
            searched.append(n)
            diff_behavior.BehaviorDiff({"n": str(n)}, None, None, None, None)
            if on_path_complete():
                return

    monkeypatch.setattr(diff_behavior, "explore_paths", search)
    monkeypatch.setattr(diff_behavior, "BehaviorDiff", diff_behavior.BehaviorDiff)
    assert _crosshair.stop_at_first_difference(
        "crosshair_loop.triangle", "crosshair_loop.triangle_from_five"
    )
    for _order in range(2):
        diff_behavior.explore_paths(None, None, None, None, lambda *path: False)
    assert searched == [1, 7]
