"""The labs' manifests: answer keys, skeletons and package data agree and cannot drift."""

from __future__ import annotations

import inspect
import tomllib
from pathlib import Path
from typing import Any

import pytest
from dynamokv.labs import (
    LABS,
    Lab,
    SolutionSource,
    hint_function,
    lab_folder,
    load_answer_key,
    load_solution,
    skeleton_path,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", list(LABS))
def test_the_skeleton_has_the_answer_keys_signatures_and_docstrings(name: str) -> None:
    lab = LABS[name]
    skeleton = load_solution(
        SolutionSource("file", str(skeleton_path(lab))), lab.answer_key, guard=False
    )
    for function, answer in load_answer_key(lab.answer_key).items():
        mine = skeleton[function]
        assert str(inspect.signature(mine)) == str(inspect.signature(answer)), function
        assert inspect.getdoc(mine) == inspect.getdoc(answer), function


@pytest.mark.parametrize("name", list(LABS))
def test_the_parts_grade_exactly_the_functions_of_the_answer_key(name: str) -> None:
    lab = LABS[name]
    graded = {function for part in lab.parts for function in part.functions}
    assert graded == set(lab.answer_key)
    ids = [check.check_id for check in lab.checks()]
    assert len(ids) == len(set(ids))
    for part in lab.parts:
        assert all(check.check_id.startswith(part.part_id + ".") for check in part.checks)
        assert set(part.needs) <= {p.part_id for p in lab.parts}


@pytest.mark.parametrize("name", list(LABS))
def test_the_answer_key_is_the_projects_own_code(name: str) -> None:
    for dotted in LABS[name].answer_key.values():
        assert dotted.startswith(("dynamokv.spec.", "dynamokv.impl.core", "dynamokv.impl.storage"))


def _setuptools() -> dict[str, Any]:
    setuptools: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]
    return setuptools


@pytest.mark.parametrize("name", list(LABS))
def test_the_readme_skeleton_and_mutants_ship_in_the_distribution(name: str) -> None:
    """The README as package data; the skeleton and mutants folders as packages."""
    lab: Lab = LABS[name]
    folder = lab_folder(lab)
    setuptools = _setuptools()
    readme = (folder / "README.md").relative_to(folder.parent)
    assert (folder / "README.md").is_file()
    assert any(readme.match(pattern) for pattern in setuptools["package-data"]["dynamokv.labs"])
    assert skeleton_path(lab).is_file()
    assert sorted((folder / "mutants").glob("*.py"))
    for package in ("", ".skeleton", ".mutants"):
        assert f"dynamokv.labs.{lab.package}{package}" in setuptools["packages"]


@pytest.mark.parametrize("name", list(LABS))
def test_the_readme_asks_the_question_word_for_word(name: str) -> None:
    lab = LABS[name]
    readme = (lab_folder(lab) / "README.md").read_text()
    assert " ".join(lab.question.split()) in " ".join(readme.replace("> ", "").split())
    assert "spoils" in readme


@pytest.mark.parametrize("name", list(LABS))
def test_every_hint_begins_with_the_learner_function_it_is_about(name: str) -> None:
    """``lab hint`` matches a hint with the parts that grade the function it names."""
    lab = LABS[name]
    functions = {function for part in lab.parts for function in part.functions}
    assert lab.hints
    for hint in lab.hints:
        assert hint_function(hint) in functions, hint
        assert hint.startswith(f"{hint_function(hint)}: "), hint
