"""Grading the graders: ``dynamokv lab selftest``.

A grader that cannot fail is worse than none (a false pass teaches a wrong
answer). So every lab is graded three ways, on fixed seeds:

1. the untouched skeleton: every part must fail, each with "not implemented"
   (each part graded on its own, so a part is not merely skipped);
2. the answer key (the project's own functions): every part must pass;
3. each planted wrong solution in ``mutants/``: the *first* check that fails, in
   the order the checks run, must be the one the mutant names in ``CAUGHT_BY``;
   with ``--full``, each check it names in ``ALSO_CAUGHT_BY`` must fail too when
   run on its own (so every check of a lab is shown to catch some planted bug).

``--quick`` uses one seed, smaller simulations, grades a mutant only on the parts
that grade the functions it replaces (the others run the answer key's own code), and
stops each mutant at its first failing check; ``--full`` uses three seeds and grades each mutant completely.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._model import Lab, LabReport, Status
from ._runner import run_lab
from ._solution import SolutionSource
from ._workspace import lab_folder, skeleton_path

__all__ = [
    "SELFTEST_SEEDS_FULL",
    "SELFTEST_SEEDS_QUICK",
    "Mutant",
    "SelftestRow",
    "mutants_of",
    "selftest_lab",
]

SELFTEST_SEEDS_QUICK = (1,)
SELFTEST_SEEDS_FULL = (1, 2, 3)


@dataclass(frozen=True)
class Mutant:
    """A planted wrong solution.

    Attributes:
        name: its file's stem.
        path: the file.
        description: the first line of its docstring.
        caught_by: the check id that must catch it first.
        also_caught_by: checks that, each run on its own, must catch it too.
        functions: the functions it replaces (the rest is the answer key).
    """

    name: str
    path: Path
    description: str
    caught_by: str
    also_caught_by: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()

    def source(self) -> SolutionSource:
        """How the runner loads it (over the answer key)."""
        return SolutionSource(
            "mutant", str(self.path), f"mutant {self.name}", f"--mutant {self.name}"
        )


@dataclass(frozen=True)
class SelftestRow:
    """One graded solution and whether the grader behaved.

    Attributes:
        lab: the lab.
        solution: ``skeleton``, ``answer key`` or ``mutant NAME``.
        seed: the random seed.
        expected: what the grader must report.
        found: what it reported.
        ok: whether the two agree.
        seconds: wall-clock time.
    """

    lab: str
    solution: str
    seed: int
    expected: str
    found: str
    ok: bool
    seconds: float


def _constants(tree: ast.Module) -> dict[str, object]:
    """The module's top-level ``NAME = literal`` assignments."""
    found: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    try:
                        found[target.id] = ast.literal_eval(node.value)
                    except ValueError:
                        continue
    return found


def mutants_of(lab: Lab) -> tuple[Mutant, ...]:
    """The lab's planted wrong solutions, sorted by name.

    Each file's module docstring describes the bug; its ``CAUGHT_BY`` names the check
    that must catch it first, and ``ALSO_CAUGHT_BY`` (optional) checks that, run on
    their own, catch it too (so every check is shown to catch some planted bug).
    """
    found: list[Mutant] = []
    for path in sorted((lab_folder(lab) / "mutants").glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        constants = _constants(tree)
        caught_by = constants.get("CAUGHT_BY")
        also = constants.get("ALSO_CAUGHT_BY", ())
        docstring = ast.get_docstring(tree) or ""
        if not isinstance(caught_by, str) or not isinstance(also, tuple) or not docstring:
            raise ValueError(f"{path} needs a docstring and CAUGHT_BY = 'CHECK'")
        functions = tuple(
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef) and node.name in lab.answer_key
        )
        found.append(
            Mutant(
                path.stem,
                path,
                docstring.splitlines()[0],
                caught_by,
                tuple(str(check_id) for check_id in also),
                functions,
            )
        )
    return tuple(found)


def skeleton_source(lab: Lab) -> SolutionSource:
    """The untouched skeleton, loaded like a learner's file."""
    return SolutionSource("file", str(skeleton_path(lab)), "skeleton", "--skeleton")


def answer_source() -> SolutionSource:
    """The project's own functions."""
    return SolutionSource("answer", label="answer key", flags="--answer-key")


def _skeleton_row(lab: Lab, report: LabReport, seed: int) -> SelftestRow:
    not_failed = [
        part.part_id for part in lab.parts if report.part_status(part.part_id) is not Status.FAILED
    ]
    silent = [
        result.check_id
        for result in report.results
        if result.status is Status.FAILED and "not implemented" not in result.verdict.summary
    ]
    first_per_part = {
        part.part_id: next(r for r in report.results if r.part_id == part.part_id)
        for part in lab.parts
    }
    first_not_failing = [
        part_id
        for part_id, result in first_per_part.items()
        if result.status is not Status.FAILED or "not implemented" not in result.verdict.summary
    ]
    ok = not not_failed and not first_not_failing
    found = (
        f"every part failed ({len(lab.parts)}/{len(lab.parts)}), 'not implemented'"
        if ok
        else f"parts not failed: {not_failed or '-'}; without 'not implemented': "
        f"{first_not_failing or silent or '-'}"
    )
    return SelftestRow(
        lab.name,
        "skeleton",
        seed,
        "every part fails: not implemented",
        found,
        ok,
        report.seconds,
    )


def _answer_row(lab: Lab, report: LabReport, seed: int) -> SelftestRow:
    bad = [r.check_id for r in report.results if r.status is not Status.PASSED]
    ok = not bad
    found = (
        f"every part passed, {report.score}/{report.score_max} points"
        if ok
        else "not passed: "
        + ", ".join(
            f"{r.check_id} {r.status.value}"
            for r in report.results
            if r.status is not Status.PASSED
        )
    )
    return SelftestRow(lab.name, "answer key", seed, "every part passes", found, ok, report.seconds)


def _mutant_row(
    lab: Lab, mutant: Mutant, report: LabReport, seed: int, also: dict[str, bool]
) -> SelftestRow:
    first = report.first_failure()
    found = f"first caught by {first.check_id}" if first else "not caught"
    ok = first is not None and first.check_id == mutant.caught_by
    expected = f"first caught by {mutant.caught_by}"
    if also:
        expected += f"; alone, also by {', '.join(also)}"
        missed = [check_id for check_id, caught in also.items() if not caught]
        found += f"; alone, missed by {', '.join(missed)}" if missed else "; alone, also by all"
        ok = ok and not missed
    return SelftestRow(lab.name, f"mutant {mutant.name}", seed, expected, found, ok, report.seconds)


def _touched_parts(lab: Lab, mutant: Mutant) -> list[str]:
    """The parts that grade a function the mutant replaces.

    Every other part runs exactly the answer key's functions, which the answer-key
    row has just graded on the same seed and passed, so ``--quick`` skips them;
    ``--full`` runs every part anyway.
    """
    return [part.part_id for part in lab.parts if set(part.functions) & set(mutant.functions)]


def _caught_alone(lab: Lab, mutant: Mutant, seed: int, *, quick: bool) -> dict[str, bool]:
    """Each of the mutant's ``also_caught_by`` checks, run on its own: did it fail?"""
    caught: dict[str, bool] = {}
    for check_id in mutant.also_caught_by:
        report = run_lab(lab, mutant.source(), seed=seed, selection=[check_id], quick=quick)
        caught[check_id] = report.first_failure() is not None
    return caught


def selftest_lab(
    lab: Lab,
    *,
    full: bool = False,
    on_row: Callable[[SelftestRow], None] | None = None,
) -> list[SelftestRow]:
    """Grade the skeleton, the answer key and every mutant of ``lab``; one row each per seed."""
    rows: list[SelftestRow] = []

    def add(row: SelftestRow) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    for seed in SELFTEST_SEEDS_FULL if full else SELFTEST_SEEDS_QUICK:
        quick = not full
        skeleton = run_lab(lab, skeleton_source(lab), seed=seed, ignore_needs=True, quick=quick)
        add(_skeleton_row(lab, skeleton, seed))
        answer = run_lab(lab, answer_source(), seed=seed, quick=quick)
        add(_answer_row(lab, answer, seed))
        for mutant in mutants_of(lab):
            report = run_lab(
                lab,
                mutant.source(),
                seed=seed,
                selection=None if full else _touched_parts(lab, mutant),
                stop_at_first_failure=not full,
                quick=quick,
            )
            also = _caught_alone(lab, mutant, seed, quick=quick) if full else {}
            add(_mutant_row(lab, mutant, report, seed, also))
    return rows
