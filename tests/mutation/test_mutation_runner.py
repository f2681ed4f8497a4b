"""``make mutate``'s own rules: which mutants it judges, and when a sample meets a target."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "dynamokv_mutation_run", Path(__file__).with_name("run.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


RUN = _runner()

SOURCE = """\
def f(a, *, b=2):
    return a + b == b | a
"""


def _spans() -> list[tuple[tuple[int, int], tuple[int, int]]]:
    tree = ast.parse(SOURCE)
    return [
        RUN._span(node) for node in ast.walk(tree) if isinstance(node, (ast.BinOp, ast.AugAssign))
    ]


def test_an_operator_is_replaced_only_within_its_class() -> None:
    plus = (2, 13)  # the + of a + b
    outside = RUN.outside_operator_set
    assert not outside("core/ReplaceBinaryOperator_Add_Sub", plus, _spans())
    assert outside("core/ReplaceBinaryOperator_Add_BitOr", plus, _spans())
    assert outside("core/ReplaceBinaryOperator_Add_RShift", plus, _spans())
    assert not outside("core/ReplaceBinaryOperator_BitOr_BitAnd", (2, 22), _spans())
    assert not outside("core/ReplaceComparisonOperator_Eq_LtE", (2, 17), _spans())
    assert outside("core/ReplaceComparisonOperator_Eq_Is", (2, 17), _spans())
    assert not outside("core/ReplaceComparisonOperator_Is_IsNot", (2, 17), _spans())
    assert not outside("core/NumberReplacer", (1, 14), _spans())


def test_the_star_of_keyword_only_parameters_is_not_an_operator() -> None:
    star = (1, 9)  # def f(a, *, b=2)
    assert RUN.outside_operator_set("core/ReplaceBinaryOperator_Mul_Div", star, _spans())
    assert not RUN.outside_operator_set("core/ReplaceBinaryOperator_Mul_Div", (2, 13), _spans())


def test_a_sample_meets_a_target_only_when_its_whole_interval_does() -> None:
    def tally(strata: list[tuple[int, int, int]], pending: int) -> object:
        killed = sum(k for _, k, _ in strata)
        survived = sum(j - k for _, k, j in strata)
        return RUN.Tally(killed=killed, survived=survived, pending=pending, strata=strata)

    large = tally([(1_000, 300, 300), (1_000, 299, 300)], pending=1_400)
    small = tally([(1_000, 20, 20), (1_000, 20, 20)], pending=1_960)
    unsampled = tally([(1_000, 300, 300), (1_000, 0, 0)], pending=1_700)
    complete = tally([(40, 38, 40)], pending=0)
    assert large.established(0.95)
    assert not small.established(0.95)  # all killed, yet too few to say 95%
    assert not unsampled.established(0.95)  # a module with no verdict at all
    assert complete.established(0.95) and not complete.established(0.96)


def test_type_checking_guards_of_imports_are_code_for_the_type_checker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    import random\n"
        "if TYPE_CHECKING:\n"
        "    x = 1\n"
        "def f(a: random.Random) -> int:\n"
        "    return 1\n"
    )
    (tmp_path / "m.py").write_text(source)
    monkeypatch.setattr(RUN, "ROOT", tmp_path)
    spans = RUN.annotation_spans("m.py")
    starts = [(3, 3), (5, 3), (7, 9), (8, 11)]  # two guards, an annotation, a return value
    inside = [start for start in starts if any(low <= start < high for low, high in spans)]
    assert inside == [(3, 3), (7, 9)]  # the imports' guard and the annotation only


def test_a_mark_is_stale_once_its_key_names_another_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mark records the line its mutant changes: after an edit that makes the same
    (operator, occurrence) change another line, or nothing, the mark is stale, and so
    is a mark that records no line; a mark whose line still matches holds."""
    monkeypatch.setattr(RUN, "ROOT", tmp_path)
    module = tmp_path / "m.py"
    module.write_text("def f(a):\n    return a + 1\n")
    marks = tmp_path / "equivalent.toml"
    marks.write_text(
        "[[equivalent]]\n"
        'module = "m.py"\n'
        'operator = "core/ReplaceBinaryOperator_Add_Sub"\n'
        "occurrence = 0\n"
        'line = "return a + 1"\n'
        'reason = "r"\n'
        "[[equivalent]]\n"
        'module = "m.py"\n'
        'operator = "core/NumberReplacer"\n'
        "occurrence = 0\n"
        'reason = "r"\n'
    )
    marked = RUN.equivalents(marks)
    add = ("m.py", "core/ReplaceBinaryOperator_Add_Sub", 0)
    number = ("m.py", "core/NumberReplacer", 0)
    assert marked[add].line == "return a + 1"
    assert set(RUN.stale_marks(["m.py"], marked)) == {number}  # it records no line
    assert RUN.stale_marks(["other.py"], marked) == {}  # only the modules reported
    module.write_text("def f(a):\n    b = a + 2\n    return a + 1\n")
    stale = RUN.stale_marks(["m.py"], marked)
    assert "'b = a + 2'" in stale[add]  # the first + is another line's now
    module.write_text("def f(a):\n    return a\n")
    assert RUN.stale_marks(["m.py"], marked)[add] == "the module has no such mutant now"


def test_saved_verdicts_restore_a_new_session_only_for_the_same_module_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session made on a new machine starts from the verdicts kept for the module's very
    text; once the module changes, the kept verdicts name other mutants and are not used."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    monkeypatch.setattr(RUN, "ROOT", tmp_path)
    monkeypatch.setattr(RUN, "WORKDIR", tmp_path / ".mutate")
    monkeypatch.setattr(RUN, "VERDICTS", tmp_path / "verdicts")
    module = "spec/tiny.py"
    (tmp_path / "spec").mkdir()
    (tmp_path / module).write_text("def f(a, b):\n    return a < b\n")
    plan = {module: {"package": "spec", "tests": ["tests/spec"]}}

    def outcomes(session: Path) -> dict[tuple[str, int], str | None]:
        with use_db(str(session), WorkDB.Mode.open) as database:
            return {
                (item.mutations[0].operator_name, item.mutations[0].occurrence): (
                    result.test_outcome.value if result.test_outcome else None
                )
                for item, result in database.completed_work_items
            }

    session = RUN.open_session(module, plan)
    with use_db(str(session), WorkDB.Mode.open) as database:
        first, second, *rest = list(database.pending_work_items)
        database.set_result(
            first.job_id,
            WorkResult(worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.KILLED),
        )
        database.set_result(
            second.job_id,
            WorkResult(
                worker_outcome=WorkerOutcome.NORMAL, test_outcome=TestOutcome.SURVIVED, diff="-x"
            ),
        )
    judged = {key: value for key, value in outcomes(session).items() if value}
    assert sorted(judged.values()) == ["killed", "survived"]
    assert RUN.save_verdicts(module) == 2

    session.unlink()
    restored = RUN.open_session(module, plan)
    assert {key: value for key, value in outcomes(restored).items() if value} == judged
    with use_db(str(restored), WorkDB.Mode.open) as database:
        assert len(list(database.pending_work_items)) == len(rest)

    (tmp_path / module).write_text("def f(a, b):\n    return b > a\n")
    remade = RUN.open_session(module, plan)
    assert not any(outcomes(remade).values())
