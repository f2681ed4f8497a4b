"""``make mutate``: how many plausible bugs would the tests miss? (cosmic-ray, in place)

Why cosmic-ray, in place: the project is installed editable with mapped package
folders (``dynamokv.spec`` is ``spec/``...), so a tool that copies the tree and
tests the copy can end up importing the unmutated files through the install and
report every mutant killed or none. cosmic-ray mutates the file where it is,
runs the oracle, and restores it, so the installed package *is* the mutant.

How a run is made honest:

* **a sentinel first**: ``spec/vclock.py``'s merge taking the minimum instead of the
  maximum is applied by hand and its oracle must fail; a run whose oracle tests
  nothing cannot get past this line;
* **a baseline per module**: the unmutated oracle must pass, or every mutant would
  count as killed;
* **one session per module** (``.mutate/*.sqlite``), so an interrupted run resumes
  where it stopped; a module left modified (a run killed mid-mutant) is refused
  until it is restored with ``git checkout``; a session made from another version of
  its module (its SHA-256 is kept beside it) is discarded and made again, since its
  mutants' positions no longer match the file;
* **no stale bytecode**: a mutant of the same size written within the same second
  as the original would let Python load the original's cached ``.pyc``; the
  module's cached bytecode is removed before every mutant's oracle;
* **pending mutants run in a random order**, each module sampled in proportion to its
  size (the least judged module, as a share of its mutants, goes next), so a run
  stopped by ``--limit`` or ``--minutes`` has judged a uniform sample of each module,
  a stratified sample with proportional allocation: the table then shows the
  estimated score with its 95% interval (weighted by each module's mutant count),
  and a package meets its target only when every module was sampled and the whole
  interval lies at or above the target (or nothing is pending and the score does);
* **one operator set**: an operator is replaced only by one of its own class
  (arithmetic, shift, bitwise, relational, identity), and cosmic-ray's mutants of the
  ``*`` that starts keyword-only parameters are not operators; the rest are counted
  apart and never judged (:func:`outside_operator_set` says why);
* **the score per package** is killed / (killed + survived), mutants marked
  equivalent in ``tests/mutation/equivalent.toml`` (each with its reason) left out; the run
  fails when those exceed 2% of a package's judged mutants, or a package is below its
  target;
* **a mark names one mutant, checked**: a mark is keyed by (module, operator,
  occurrence), and an edit of the module can make the same key name another mutant. So
  each mark also records the text of the line its mutant changes (the ``-`` line of the
  diff), and a mark whose key, applied to the module as it is now, changes another text
  (or nothing, or whose operator is outside the set) is stale: it marks nothing, its
  mutant counts as a survivor, and the run fails until the mark is judged again. A
  module edit can then never hide a survivor behind an old mark.

A mutant's oracle is only the fast tests that execute the code it changed, run with
``-x``, the quickest first: the whole suite per mutant would take days. Which test
executes which line comes from one run of the modules' planned tests (the whole fast
tier with ``--whole-map``) under coverage.py with a context per test
(``tests/mutation/coverage_map.py``), kept per module beside its
session and made again when the module's SHA-256 changes (or with ``--rebuild-map``).
A mutant inside a function or lambda body runs the tests that executed its lines; a
mutant elsewhere (module or class level, a decorator, a default, evaluated on import)
runs every test that executed any line of its module; a mutant that no test
executes survives without running anything. ``--oracle plan`` judges with the
module's tests in ``tests/mutation/plan.toml`` instead, and ``--retest-survivors``
judges the survivors again with the whole fast tier, so a survivor is never an
artefact of the map. It is CPU-heavy and runs one mutant at a time; ``make mutate``
starts it under ``nice``.

Usage: ``python tests/mutation/run.py [--package spec] [--module spec/vclock.py] [--limit N]
[--minutes M] [--oracle coverage|plan] [--rebuild-map] [--retest-survivors] [--report]``.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import json
import math
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
WORKDIR = ROOT / ".mutate"
PLAN = ROOT / "tests" / "mutation" / "plan.toml"
EQUIVALENT = ROOT / "tests" / "mutation" / "equivalent.toml"
VERDICTS = ROOT / "tests" / "mutation" / "verdicts"
"""Judged mutants kept in the repository (``--save-verdicts``), one file per module: a
session made on a new machine starts from them while its module is unchanged."""
TARGETS = {"spec": 0.95, "impl/core": 0.90, "proofs": 0.0}
"""Least share of non-equivalent mutants killed, per package (proofs: reported only)."""
EQUIVALENT_SHARE_MAX = 0.02
MUTANT_TIMEOUT_SECONDS = 180.0
FAST_TIER = ["tests"]
"""What ``make test-fast`` runs (with ``-m "not slow"``): the map's tests, the survivors' retest."""
UNUSED_PLUGINS = ("schemathesis", "anyio", "xdist", "xdist.looponfail")
"""pytest plugins installed with the tools that no test uses as a plugin (the API fuzz
test calls schemathesis as a library): 1.9 s of CPU per run instead of 3.7 s."""
UNEXECUTED = "no fast test executes this mutant's code"
"""The output recorded for a mutant judged a survivor without running anything."""
SENTINEL_MODULE = "spec/vclock.py"
SENTINEL_FROM = "return {node: max(_counter(a, node), _counter(b, node))"
SENTINEL_TO = "return {node: min(_counter(a, node), _counter(b, node))"


@dataclass
class Tally:
    """Outcomes of one package's mutants."""

    killed: int = 0
    survived: int = 0
    equivalent: int = 0
    pending: int = 0
    incompetent: int = 0
    annotations: int = 0
    """Mutants in code for the type checker only (postponed annotations, ``TYPE_CHECKING``
    guards): not judged."""
    outside_set: int = 0
    """Mutants outside the operator set (:func:`outside_operator_set`): not judged."""
    outside_verdicts: dict[str, int] = field(default_factory=dict)
    """The verdicts the sessions hold for some of them (judged with every operator)."""
    stale_marks: list[str] = field(default_factory=list)
    """Mutants marked equivalent that a test kills, or outside the operator set: the
    mark names another mutant."""
    survivors: list[str] = field(default_factory=list)
    strata: list[tuple[int, int, int]] = field(default_factory=list)
    """Per module: (mutants, killed, killed + survived) for the sampled estimate."""

    @property
    def total(self) -> int:
        return (
            self.killed
            + self.survived
            + self.equivalent
            + self.pending
            + self.incompetent
            + self.annotations
            + self.outside_set
        )

    @property
    def score(self) -> float | None:
        judged = self.killed + self.survived
        return self.killed / judged if judged else None

    def estimate(self) -> tuple[float, float] | None:
        """The package's score estimated from each module's random sample, ± 95% half-width.

        Stratified by module: each module's sampled kill rate weighted by its share of
        the package's mutants, with the finite-population correction (a module judged
        completely contributes no uncertainty).
        """
        weighted = [(n, k, j) for n, k, j in self.strata if j]
        total = sum(n for n, _, _ in weighted)
        if not total:
            return None
        score = sum(n * k / j for n, k, j in weighted) / total
        variance = 0.0
        for n, k, j in weighted:
            rate = (k + 1) / (j + 2)  # Laplace: a sample with no survivor is not certainty
            correction = (n - j) / (n - 1) if n > 1 else 0.0
            variance += (n / total) ** 2 * rate * (1 - rate) / j * correction
        return score, 1.96 * math.sqrt(variance)

    @property
    def judged(self) -> int:
        """Mutants with a verdict: killed, survived, or marked equivalent."""
        return self.killed + self.survived + self.equivalent

    def established(self, target: float) -> bool:
        """Whether the score is at least ``target``: every mutant judged and the score
        meets it, or a sample of every module whose whole 95% interval lies at or above it."""
        score = self.score
        if score is None:
            return False
        if not self.pending:
            return score >= target
        estimate = self.estimate()
        unsampled = any(n and not j for n, _, j in self.strata)
        return estimate is not None and not unsampled and estimate[0] - estimate[1] >= target


def oracle_tests(module: str, plan: dict[str, dict[str, object]]) -> list[str]:
    tests = plan[module]["tests"]
    assert isinstance(tests, list)
    return [str(test) for test in tests]


def pytest_command(tests: list[str]) -> list[str]:
    """The fast tests ``tests`` stopping at the first failure.

    Their temporary files go to a folder of this run's own, so thousands of runs
    do not rotate the numbered folders other pytest runs on the machine use. The
    installed plugins no fast test needs are not loaded (:data:`UNUSED_PLUGINS`): that
    halves the CPU of a run that stops at its first, quick test.
    """
    return [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        *(option for plugin in UNUSED_PLUGINS for option in ("-p", f"no:{plugin}")),
        f"--basetemp={WORKDIR / 'tmp'}",
        "-m",
        "not slow",
        *tests,
    ]


def oracle(module: str, plan: dict[str, dict[str, object]]) -> list[str]:
    """The pytest command line that judges a mutant of ``module``."""
    return pytest_command(oracle_tests(module, plan))


def slug(module: str) -> str:
    return module.replace("/", "_").removesuffix(".py")


def run_oracle(command: list[str]) -> bool:
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return completed.returncode == 0


def sentinel(plan: dict[str, dict[str, object]], *, use_map: bool, whole_map: bool) -> bool:
    """Apply a known bug by hand; its oracle must fail. Restores the file in every case.

    With ``use_map`` its oracle is chosen from the coverage map as any mutant's is,
    so a map that names no test, or the wrong ones, cannot get past this line.
    """
    path = ROOT / SENTINEL_MODULE
    source = path.read_text()
    if SENTINEL_FROM not in source:
        print(f"sentinel: {SENTINEL_MODULE} does not contain the merge it mutates")
        return False
    command = oracle(SENTINEL_MODULE, plan)
    if use_map:
        offset = source.index(SENTINEL_FROM)
        line = source.count("\n", 0, offset) + 1
        column = offset - (source.rfind("\n", 0, offset) + 1)
        tests = mutant_tests(
            load_map(SENTINEL_MODULE, None if whole_map else oracle_tests(SENTINEL_MODULE, plan)),
            (line, column),
            (line, column + len(SENTINEL_FROM)),
            oracle_tests(SENTINEL_MODULE, plan),
        )
        if tests is None:
            print(f"sentinel: the coverage map names no test for {SENTINEL_MODULE}:{line}")
            return False
        command = pytest_command(tests)
    if not run_oracle(command):
        print(f"sentinel: the oracle of {SENTINEL_MODULE} fails unmutated; fix it first")
        return False
    try:
        forget_bytecode(SENTINEL_MODULE)
        path.write_text(source.replace(SENTINEL_FROM, SENTINEL_TO, 1))
        killed = not run_oracle(command)
    finally:
        path.write_text(source)
        forget_bytecode(SENTINEL_MODULE)
    verdict = "killed ✓" if killed else "SURVIVED ✗ (the oracle tests nothing)"
    print(f"sentinel mutant {SENTINEL_MODULE} merge takes min instead of max: {verdict}")
    return killed


def is_clean(module: str) -> bool:
    completed = subprocess.run(
        ["git", "status", "--porcelain", "--", module],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return completed.returncode == 0 and not completed.stdout.strip()


def source_digest(module: str) -> str:
    return hashlib.sha256((ROOT / module).read_bytes()).hexdigest()


def forget_bytecode(module: str) -> None:
    """Remove the module's cached bytecode, so the oracle compiles the file as it is."""
    path = ROOT / module
    for cached in (path.parent / "__pycache__").glob(f"{path.stem}.*.pyc"):
        cached.unlink(missing_ok=True)


@dataclass(frozen=True)
class LineMap:
    """One module's coverage map: which fast tests execute each of its lines."""

    lines: dict[int, frozenset[str]]
    """Line → the tests that executed it (``""`` stands for: while importing)."""
    seconds: dict[str, float]
    """How long each test took in the map's run (its oracle runs the quickest first)."""
    tree: ast.Module

    def ordered(self, tests: frozenset[str]) -> list[str]:
        return sorted(tests, key=lambda name: (self.seconds.get(name, 0.0), name))


def map_path(module: str) -> Path:
    return WORKDIR / f"{slug(module)}.lines.json"


def tree_version() -> str:
    """The commit checked out, or "" when a tracked file differs from it."""
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if status.returncode or head.returncode or status.stdout.strip():
        return ""
    return head.stdout.strip()


def mapped_on_this_tree(module: str) -> bool:
    """Whether the module's map was made by a passing run on exactly this tree."""
    version = tree_version()
    return bool(version) and json.loads(map_path(module).read_text()).get("tree") == version


def map_is_fresh(module: str, *, whole_tier: bool = False) -> bool:
    """Whether the module's map was made from this version of it (and, with
    ``whole_tier``, by a run of the whole fast tier rather than of the planned tests)."""
    path = map_path(module)
    if not path.exists():
        return False
    data = json.loads(path.read_text())
    made_by = data.get("tests", FAST_TIER)
    return data["sha256"] == source_digest(module) and (not whole_tier or made_by == FAST_TIER)


def build_maps(modules: list[str], tests: list[str], *, add: bool = False) -> bool:
    """Run ``tests`` once under coverage and keep each module's map; whether they passed.

    With ``add`` the tests' lines are added to the modules' maps (fresh ones: made
    from the same version of the module), as after new tests were written; otherwise
    the maps are made anew. A test that fails in this run is left out of every map
    (it would kill every mutant) and named; a run that did not finish (interrupted,
    no tests collected) leaves the maps as they were.
    """
    WORKDIR.mkdir(exist_ok=True)
    output = WORKDIR / "coverage-map.json"
    output.unlink(missing_ok=True)
    print(f"coverage map: {' '.join(tests)} under coverage, for {len(modules)} modules …")
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "mutation" / "coverage_map.py"),
            str(output),
            *modules,
            "--",
            *pytest_command(tests)[4:],
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    result = json.loads(output.read_text())
    if result["exit_code"] not in (0, 1):  # 1: some tests failed; else it did not finish
        print(f"coverage map: pytest exited {result['exit_code']}; no map written")
        return False
    failed = set(result["failed"])
    for name in sorted(failed):
        print(f"coverage map: {name} fails unmutated; left out of every oracle")
    for module in modules:
        lines: dict[str, set[str]] = {
            line: set(names) - failed for line, names in result["lines"][module].items()
        }
        seconds: dict[str, float] = {}
        if add:
            known = json.loads(map_path(module).read_text())
            for line, names in known["lines"].items():
                lines.setdefault(line, set()).update(set(names) - failed)
            seconds.update(known["seconds"])
        seconds.update(result["seconds"])
        named = {name for names in lines.values() for name in names if name}
        map_path(module).write_text(
            json.dumps(
                {
                    "sha256": source_digest(module),
                    "tree": tree_version() if not add else known.get("tree", ""),
                    "tests": tests if not add else known.get("tests", FAST_TIER),
                    "lines": {line: sorted(names) for line, names in lines.items()},
                    "seconds": {name: seconds.get(name, 0.0) for name in sorted(named)},
                }
            )
        )
    print(f"coverage map: {time.monotonic() - started:.0f} s, {len(failed)} tests failing")
    return not failed


def load_map(module: str, within: list[str] | None = None) -> LineMap:
    """The module's map; with ``within`` (test files or folders), only those tests in it."""

    def planned(name: str) -> bool:
        path = name.split("::", 1)[0]
        return within is None or any(
            path == entry or path.startswith(entry.rstrip("/") + "/") for entry in within
        )

    data = json.loads(map_path(module).read_text())
    return LineMap(
        lines={
            int(line): frozenset(name for name in names if not name or planned(name))
            for line, names in data["lines"].items()
        },
        seconds=data["seconds"],
        tree=ast.parse((ROOT / module).read_text()),
    )


def _position(node: ast.AST, *, end: bool = False) -> tuple[int, int]:
    if end:
        return (getattr(node, "end_lineno", 0) or 0, getattr(node, "end_col_offset", 0) or 0)
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def mutant_tests(
    line_map: LineMap, start: tuple[int, int], end: tuple[int, int], on_import: list[str]
) -> list[str] | None:
    """The tests that can tell the mutant spanning ``start``–``end`` apart; None: no test.

    Code in a function or lambda body runs only when it is called, so only the tests
    that executed one of its lines (or its statement's first lines) can see a change
    in it. Code that ran on import (module or class level, a decorator, a default, a
    function called while importing) can change what any user of the module sees,
    and coverage cannot say which tests use it: those get ``on_import``, the module's
    planned tests. Code that never ran, not even on import, no test can see.
    """
    in_body = False
    innermost: ast.stmt | None = None
    for node in ast.walk(line_map.tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            body = (_position(node.body[0]), _position(node.body[-1], end=True))
        elif isinstance(node, ast.Lambda):
            body = (_position(node.body), _position(node.body, end=True))
        else:
            body = None
        if body is not None and body[0] <= start <= body[1]:
            in_body = True
        contains = isinstance(node, ast.stmt) and (
            _position(node) <= start <= _position(node, end=True)
        )
        if contains and (innermost is None or _position(node) >= _position(innermost)):
            assert isinstance(node, ast.stmt)
            innermost = node
    lines = set(range(start[0], end[0] + 1))
    if innermost is not None:
        inner_body = getattr(innermost, "body", None)
        last = (
            max(innermost.lineno, inner_body[0].lineno - 1)
            if isinstance(inner_body, list) and inner_body
            else innermost.end_lineno or innermost.lineno
        )
        lines |= set(range(innermost.lineno, last + 1))
    names = {name for line in lines for name in line_map.lines.get(line, frozenset())}
    if not names:
        return None
    if not in_body or "" in names:
        return list(on_import)
    return line_map.ordered(frozenset(name for name in names if name))


def annotation_spans(module: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the module's code for the type checker only is: its type annotations, if
    it postpones their evaluation, and the ``TYPE_CHECKING`` guards of its imports.

    Under ``from __future__ import annotations`` an annotation is a string that the
    program never evaluates (mypy checks it), so a mutant inside one (``bytes | None``
    turned into ``bytes + None``) is not a change of behaviour: such mutants are left
    out of the score rather than marked equivalent one by one. So is ``if
    TYPE_CHECKING:`` made ``if not TYPE_CHECKING:``: the imports it guards are the
    annotations' names, and importing them at run time as well changes nothing the
    program does.
    """
    tree = ast.parse((ROOT / module).read_text())
    guards = [
        node.test
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and isinstance(node.test, ast.Name)
        and node.test.id == "TYPE_CHECKING"
        and all(isinstance(line, (ast.Import, ast.ImportFrom)) for line in node.body)
        and not node.orelse
    ]
    spans = [_span(guard) for guard in guards]
    postponed = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    if not postponed:
        return spans
    annotations: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            annotations.append(node.annotation)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
    return spans + [
        ((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0))
        for a in annotations
    ]


OPERATOR_CLASSES = (
    frozenset({"Add", "Sub", "Mul", "Div", "FloorDiv", "Mod", "Pow"}),
    frozenset({"LShift", "RShift"}),
    frozenset({"BitAnd", "BitOr", "BitXor"}),
    frozenset({"Eq", "NotEq", "Lt", "LtE", "Gt", "GtE"}),
    frozenset({"Is", "IsNot"}),
)
"""Arithmetic, shift, bitwise, relational, identity: a replacement stays within its class."""


OperatorSpans = list[tuple[tuple[int, int], tuple[int, int]]]
"""Where code is: (line, column) of its start, and of its end."""


def operator_spans(module: str) -> OperatorSpans:
    """Where the module's binary operations (plain and augmented) are."""
    tree = ast.parse((ROOT / module).read_text())
    return [_span(node) for node in ast.walk(tree) if isinstance(node, (ast.BinOp, ast.AugAssign))]


def _span(node: ast.AST) -> tuple[tuple[int, int], tuple[int, int]]:
    return _position(node), _position(node, end=True)


def outside_operator_set(operator: str, start: tuple[int, ...], spans: OperatorSpans) -> bool:
    """Whether a mutant lies outside the operator set, and is left out of the score.

    cosmic-ray replaces each binary and comparison operator by every other one. The
    set kept replaces an operator only by one of its own class (arithmetic by
    arithmetic, relational by relational...), as the classic AOR and ROR operators
    do: ``i + 1`` made ``i | 1`` for an even ``i``, or ``a == b`` made ``a is b`` on
    two bools, are the same computation written otherwise far more often than a
    plausible bug, and were most of the mutants marked equivalent. cosmic-ray also
    takes the ``*`` that starts keyword-only parameters for a multiplication; a
    binary-operator mutant outside any binary operation is that ``*``, not an operator.
    """
    parts = operator.split("_")
    if not parts[0].startswith(("core/ReplaceBinaryOperator", "core/ReplaceComparisonOperator")):
        return False
    if not any(set(parts[1:]) <= operators for operators in OPERATOR_CLASSES):
        return True
    binary = parts[0] == "core/ReplaceBinaryOperator"
    return binary and not any(low <= start < high for low, high in spans)


def skip_unjudged_mutants(module: str, session: Path) -> None:
    """Record the mutants never judged as skipped: those inside postponed annotations
    and those outside the operator set."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    spans = annotation_spans(module)
    operators = operator_spans(module)
    with use_db(str(session), WorkDB.Mode.open) as database:
        for item in database.pending_work_items:
            mutation = item.mutations[0]
            start = tuple(mutation.start_pos)
            if any(low <= start < high for low, high in spans) or outside_operator_set(
                mutation.operator_name, start, operators
            ):
                database.set_result(item.job_id, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))


def open_session(module: str, plan: dict[str, dict[str, object]]) -> Path:
    """The module's session, made (again, if the module changed since) when needed."""
    WORKDIR.mkdir(exist_ok=True)
    config = WORKDIR / f"{slug(module)}.toml"
    session = WORKDIR / f"{slug(module)}.sqlite"
    digest_file = WORKDIR / f"{slug(module)}.sha256"
    digest = source_digest(module)
    if session.exists() and (not digest_file.exists() or digest_file.read_text().strip() != digest):
        print(f"{module} changed since its session was made: starting it again")
        session.unlink()
    command = shlex.join(oracle(module, plan))
    config.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {MUTANT_TIMEOUT_SECONDS}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )
    made = not session.exists()
    if made:
        subprocess.run(
            [sys.executable, "-m", "cosmic_ray.cli", "init", str(config), str(session)],
            cwd=ROOT,
            check=True,
        )
        digest_file.write_text(digest + "\n")
    skip_unjudged_mutants(module, session)
    if made and (restored := restore_verdicts(module, session, digest)):
        print(
            f"{module}: {restored} verdicts restored from {verdict_file(module).relative_to(ROOT)}"
        )
    return session


def verdict_file(module: str) -> Path:
    return VERDICTS / f"{slug(module)}.json"


def save_verdicts(module: str) -> int:
    """Write the module's judged mutants (killed or survived; a survivor with its diff) to
    its verdict file, when its session was made from the module as it is; the count."""
    session = WORKDIR / f"{slug(module)}.sqlite"
    digest_file = WORKDIR / f"{slug(module)}.sha256"
    digest = source_digest(module)
    if not session.exists() or not digest_file.exists():
        return 0
    if digest_file.read_text().strip() != digest:
        return 0
    rows = []
    with sqlite3.connect(session) as connection:
        for operator, occurrence, outcome, diff in connection.execute(
            "SELECT s.operator_name, s.occurrence, lower(r.test_outcome), r.diff"
            " FROM mutation_specs s JOIN work_results r ON r.job_id = s.job_id"
            " WHERE lower(r.test_outcome) IN ('killed', 'survived')"
            " ORDER BY s.operator_name, s.occurrence"
        ):
            row = [operator, occurrence, outcome]
            if outcome == "survived":
                row.append(diff)
            rows.append(row)
    VERDICTS.mkdir(exist_ok=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    verdict_file(module).write_text(
        json.dumps({"module": module, "sha256": digest, "commit": commit, "judged": rows}, indent=0)
        + "\n"
    )
    return len(rows)


def restore_verdicts(module: str, session: Path, digest: str) -> int:
    """Record in a new session the verdicts its module's file holds for this very text of
    the module (the SHA-256 must match); the count. Survivors stay survivors, to be judged
    again with ``--retest-survivors``; a killed mutant stays killed while tests only grow."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    path = verdict_file(module)
    if not path.exists():
        return 0
    saved = json.loads(path.read_text())
    if saved.get("sha256") != digest:
        print(f"{module}: {path.relative_to(ROOT)} was judged on another version of it; not used")
        return 0
    verdicts = {(row[0], row[1]): row[2:] for row in saved["judged"]}
    restored = 0
    with use_db(str(session), WorkDB.Mode.open) as database:
        for item in database.pending_work_items:
            mutation = item.mutations[0]
            verdict = verdicts.get((mutation.operator_name, mutation.occurrence))
            if verdict is None:
                continue
            outcome, *diff = verdict
            result = WorkResult(
                output=f"restored from {path.relative_to(ROOT)} (saved at {saved['commit']})",
                diff=diff[0] if diff else None,
                test_outcome=TestOutcome(outcome),
                worker_outcome=WorkerOutcome.NORMAL,
            )
            database.set_result(item.job_id, result)
            restored += 1
    return restored


STOP_REQUESTED: list[int] = []
"""Signals received: the run stops once the mutant under test is judged and restored."""


def request_stop(signal_number: int, _frame: object) -> None:
    STOP_REQUESTED.append(signal_number)
    print("\nstopping after the mutant under test (its file is then restored)", flush=True)


def judged_share(session: Path) -> tuple[int, int]:
    """A session's mutants judged so far, and its mutants to judge (those in the set)."""
    with sqlite3.connect(session) as connection:
        ((items,),) = connection.execute("SELECT COUNT(*) FROM work_items")
        ((skipped, judged),) = connection.execute(
            "SELECT COUNT(*) FILTER (WHERE worker_outcome IN ('SKIPPED', 'skipped')),"
            " COUNT(*) FILTER (WHERE worker_outcome NOT IN ('SKIPPED', 'skipped'))"
            " FROM work_results"
        )
    return judged, items - skipped


def next_module(
    queues: dict[str, list[Any]],
    shares: dict[str, tuple[int, int]],
    retested: set[str] | frozenset[str] = frozenset(),
) -> str:
    """The module whose mutants are the least judged, as a share of its mutants; a
    module whose next mutant is a survivor to judge again (a job id in ``retested``)
    goes before any other, so survivors are judged again before new mutants.

    Each module is then sampled in proportion to its size (a stratified sample with
    proportional allocation), so a run cut short by ``deadline`` has sampled every
    module, the small ones as finely as the large ones, rather than finished the
    small ones and barely started the large.
    """
    return min(
        (module for module, queue in queues.items() if queue),
        key=lambda module: (
            queues[module][0].job_id not in retested,
            (shares[module][0] + 1) / max(shares[module][1], 1),
        ),
    )


def exec_modules(
    modules: list[str],
    plan: dict[str, dict[str, object]],
    *,
    limit: int | None,
    deadline: float | None,
    retest_survivors: bool,
    retest_with_fast_tier: bool = True,
    whole_map: bool = False,
    use_map: bool,
) -> None:
    """Judge the modules' pending mutants, the least judged module next
    (:func:`next_module`). Survivors judged again are judged by the whole fast tier."""
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult
    from rich.progress import Progress

    line_maps = {
        module: load_map(module, None if whole_map else oracle_tests(module, plan))
        for module in modules
        if use_map
    }
    judged = 0
    unexecuted = 0
    seconds = 0.0

    queues: dict[str, list[Any]] = {}
    sessions: dict[str, Path] = {}
    retested_jobs: set[str] = set()
    for module in modules:
        session = open_session(module, plan)
        sessions[module] = session
        with use_db(str(session), WorkDB.Mode.open) as database:
            pending = list(database.pending_work_items)
            # A survivor keeps its verdict until it is judged again (the new one
            # overwrites it), so a retest cut short leaves the rest survivors.
            again = (
                [
                    item
                    for item, result in database.completed_work_items
                    if result.test_outcome is not None and result.test_outcome.value == "survived"
                ]
                if retest_survivors
                else []
            )
        if again:
            print(f"{module}: judging its {len(again)} survivors again")
        fresh = pending
        queues[module] = again + (fresh if limit is None else fresh[:limit])
        for item in again:
            retested_jobs.add(item.job_id)
    total = sum(len(queue) for queue in queues.values())
    shares = {module: judged_share(sessions[module]) for module in modules}

    def judge(module: str, item: Any) -> Any:
        mutation = item.mutations[0]
        if item.job_id in retested_jobs and retest_with_fast_tier:
            tests: list[str] | None = FAST_TIER
        elif use_map:
            tests = mutant_tests(
                line_maps[module],
                mutation.start_pos,
                mutation.end_pos,
                oracle_tests(module, plan),
            )
        else:
            tests = oracle_tests(module, plan)
        if tests is None:
            diff = mutant_diff(
                (ROOT / module).read_text(),
                module,
                mutation.operator_name,
                mutation.occurrence,
            )
            if diff is None:
                return WorkResult(worker_outcome=WorkerOutcome.NO_TEST)
            return WorkResult(
                output=UNEXECUTED,
                diff=diff,
                test_outcome=TestOutcome.SURVIVED,
                worker_outcome=WorkerOutcome.NORMAL,
            )
        forget_bytecode(module)
        try:
            return mutate_and_test(
                item.mutations, shlex.join(pytest_command(tests)), MUTANT_TIMEOUT_SECONDS
            )
        finally:
            forget_bytecode(module)

    def summary() -> None:
        if judged:
            print(
                f"judged {judged} mutants in {seconds:.0f} s: {seconds / judged:.1f} s each "
                f"(oracle: {'coverage map' if use_map else 'plan'}; "
                f"{unexecuted} executed by no test)"
            )

    with Progress(transient=True) as progress:
        task = progress.add_task("mutants", total=total)
        while any(queues.values()):
            if STOP_REQUESTED:
                summary()
                return
            if deadline is not None and time.monotonic() >= deadline:
                left = sum(len(queue) for queue in queues.values())
                progress.console.print(f"time is up: {left} chosen mutants left pending")
                summary()
                return
            module = next_module(queues, shares, retested_jobs)
            item = queues[module].pop(0)
            started = time.monotonic()
            result = judge(module, item)
            seconds += time.monotonic() - started
            judged += 1
            unexecuted += result.output == UNEXECUTED
            if not is_clean(module):
                raise SystemExit(f"{module} is left modified; git checkout -- {module}")
            with use_db(str(sessions[module]), WorkDB.Mode.open) as database:
                database.set_result(item.job_id, result)
            if item.job_id not in retested_jobs:
                shares[module] = (shares[module][0] + 1, shares[module][1])
            progress.advance(task)
            if result.test_outcome is not None and result.test_outcome.value == "survived":
                mutation = item.mutations[0]
                progress.console.print(
                    f"survived: {module}:{mutation.start_pos[0]} {mutation.operator_name}"
                )
    summary()


MarkKey = tuple[str, str, int]
"""A mark's mutant: module, operator, occurrence (as ``cosmic-ray dump`` names them)."""


@dataclass(frozen=True)
class Mark:
    """A mutant marked equivalent: why, and the text of the line it changes."""

    reason: str
    line: str | None
    """The mutated line as the mark was judged (``None``: the mark records none)."""


def equivalents(path: Path = EQUIVALENT) -> dict[MarkKey, Mark]:
    data = tomllib.loads(path.read_text())
    return {
        (entry["module"], entry["operator"], int(entry["occurrence"])): Mark(
            entry["reason"], entry.get("line")
        )
        for entry in data.get("equivalent", [])
    }


def removed_text(diff: str) -> str:
    """The lines a mutant's unified diff removes, each stripped, one per line (blank ones
    left out: removing a decorator may take the blank lines above it along)."""
    return "\n".join(
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("-") and not line.startswith("---") and line[1:].strip()
    )


def mutant_diff(source: str, module: str, operator: str, occurrence: int) -> str | None:
    """The unified diff of the mutant (``operator``, ``occurrence``) of ``source``; None
    when the source has no such mutant."""
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    mutated = mutate_code(source, cosmic_ray.plugins.get_operator(operator)(), occurrence)
    if mutated is None:
        return None
    diff = difflib.unified_diff(
        source.splitlines(), mutated.splitlines(), module, module, lineterm=""
    )
    return "\n".join(diff)


def stale_marks(modules: list[str], marked: dict[MarkKey, Mark]) -> dict[MarkKey, str]:
    """The marks of ``modules`` that no longer name the mutant they were judged for, each
    with why: the line their key changes in the module as it is now is not the line they
    record (the module was edited since), or there is no such mutant any more."""
    stale: dict[MarkKey, str] = {}
    sources: dict[str, str] = {}
    for key, mark in marked.items():
        module, operator, occurrence = key
        if module not in modules:
            continue
        if module not in sources:
            sources[module] = (ROOT / module).read_text()
        if mark.line is None:
            stale[key] = "the mark records no line"
            continue
        diff = mutant_diff(sources[module], module, operator, occurrence)
        if diff is None:
            stale[key] = "the module has no such mutant now"
        elif (now := removed_text(diff)) != mark.line:
            stale[key] = f"it records {mark.line!r}, the mutant now changes {now!r}"
    return stale


STALE_REPORTED: set[str] = set()
"""Modules whose stale session was named already (each is tallied twice)."""


def tally(module: str, marked: dict[MarkKey, Mark], into: Tally) -> None:
    """Count the module's session into ``into``; ``marked``: the marks that still hold."""
    session = WORKDIR / f"{slug(module)}.sqlite"
    if not session.exists():
        return
    digest_file = WORKDIR / f"{slug(module)}.sha256"
    if not digest_file.exists() or digest_file.read_text().strip() != source_digest(module):
        if module not in STALE_REPORTED:
            STALE_REPORTED.add(module)
            print(f"{module}: its session was made from another version of it; not counted")
        return
    operators = operator_spans(module)
    typing_only = annotation_spans(module)
    before = (
        into.total - into.annotations - into.outside_set - into.incompetent - into.equivalent,
        into.killed,
        into.survived,
    )
    dump = subprocess.run(
        [sys.executable, "-m", "cosmic_ray.cli", "dump", str(session)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for line in dump.stdout.splitlines():
        item, result = json.loads(line)
        mutation = item["mutations"][0]
        key = (module, mutation["operator_name"], int(mutation["occurrence"]))
        if outside_operator_set(key[1], tuple(mutation["start_pos"]), operators):
            into.outside_set += 1  # judged or not: the score counts only the set's mutants
            if result is not None and result["test_outcome"] in ("killed", "survived"):
                verdict = result["test_outcome"]
                into.outside_verdicts[verdict] = into.outside_verdicts.get(verdict, 0) + 1
            if key in marked:
                into.stale_marks.append(f"{module} {key[1]} #{key[2]} (outside the operator set)")
        elif result is not None and result["worker_outcome"] == "skipped":
            into.annotations += 1
        elif any(low <= tuple(mutation["start_pos"]) < high for low, high in typing_only):
            into.annotations += 1  # judged before the rule: for the type checker only
        elif result is None:
            into.pending += 1
        elif result["worker_outcome"] == "no-test":
            into.incompetent += 1
        elif result["test_outcome"] == "survived":
            if key in marked:
                into.equivalent += 1
            else:
                into.survived += 1
                line_number = mutation["start_pos"][0]
                diff = [
                    d
                    for d in (result.get("diff") or "").splitlines()
                    if d.startswith(("+", "-")) and not d.startswith(("+++", "---"))
                ]  # what it changed, for the reader
                into.survivors.append(
                    f"{module}:{line_number} {key[1]} #{key[2]}  " + " | ".join(diff[:2])
                )
        elif result["test_outcome"] == "incompetent":
            into.incompetent += 1
        else:
            into.killed += 1
            if key in marked:
                into.stale_marks.append(f"{module} {key[1]} #{key[2]} (killed)")
    total, killed, survived = (
        into.total
        - into.annotations
        - into.outside_set
        - into.incompetent
        - into.equivalent
        - before[0],
        into.killed - before[1],
        into.survived - before[2],
    )
    into.strata.append((total, killed, killed + survived))


def has_pending(module: str) -> bool:
    """Whether the module has mutants not judged yet (or no session at all)."""
    session = WORKDIR / f"{slug(module)}.sqlite"
    digest_file = WORKDIR / f"{slug(module)}.sha256"
    if not session.exists() or not digest_file.exists():
        return True
    if digest_file.read_text().strip() != source_digest(module):
        return True
    with sqlite3.connect(session) as connection:
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM work_items WHERE job_id NOT IN (SELECT job_id FROM work_results)"
        ).fetchone()
    return bool(count)


def print_table(modules: list[str], plan: dict[str, dict[str, object]]) -> bool:
    """Print the score per module and per package; whether every package meets its target."""
    every_mark = equivalents()
    outdated = stale_marks(modules, every_mark)
    marked = {key: mark for key, mark in every_mark.items() if key not in outdated}
    packages: dict[str, Tally] = {}
    rows: list[tuple[str, Tally]] = []
    for module in modules:
        own = Tally()
        tally(module, marked, own)
        rows.append((module, own))
        tally(module, marked, packages.setdefault(str(plan[module]["package"]), Tally()))
    heading = (
        f"{'':<28}{'mutants':>8}{'killed':>8}{'survived':>9}{'equiv.':>7}{'pending':>8}"
        f"{'score':>8}   estimate (95%)  target"
    )

    def line(name: str, counts: Tally, target: str) -> str:
        score = counts.score
        shown = "—" if score is None else f"{score:.1%}"
        estimate = counts.estimate()
        if counts.pending and estimate is not None:
            interval = f"{estimate[0]:.1%} ± {estimate[1]:.1%}"
        elif estimate is not None:
            interval = "(all judged)"
        else:
            interval = "—"
        return (
            f"{name:<28}{counts.total:>8}{counts.killed:>8}{counts.survived:>9}"
            f"{counts.equivalent:>7}{counts.pending:>8}{shown:>8}   {interval:<16}{target}"
        )

    print("\n" + heading)
    for module, own in rows:
        if own.total:
            print(line(module, own, ""))
    ok = True
    print()
    for package, counts in packages.items():
        target = TARGETS[package]
        meets = counts.established(target)
        ok = ok and (meets or target == 0.0)
        verdict = f"≥ {target:.0%} {'✓' if meets else '✗'}" if target else "reported"
        if target and counts.pending:
            verdict += " (sampled: 95% interval)" if meets else " (not established by the sample)"
        print(line(f"package {package}", counts, verdict))
    print()
    for package, counts in packages.items():
        share = counts.equivalent / counts.judged if counts.judged else 0.0
        within = share <= EQUIVALENT_SHARE_MAX
        ok = ok and within
        print(
            f"package {package}: {counts.equivalent} of {counts.judged} judged mutants marked "
            f"equivalent ({share:.1%}; at most {EQUIVALENT_SHARE_MAX:.0%}) {'✓' if within else '✗'}"
        )
    for _, own in rows:
        for stale in own.stale_marks:
            print(f"stale mark, not a survivor (fix {EQUIVALENT.name}): {stale}")
            ok = False
    for (module, operator, occurrence), why in outdated.items():
        print(
            f"stale mark, not counted (judge it again, fix {EQUIVALENT.name}): "
            f"{module} {operator} #{occurrence}: {why}"
        )
        ok = False
    skipped = sum(t.annotations for t in packages.values())
    if skipped:
        print(
            f"{skipped} mutants inside type annotations or TYPE_CHECKING guards "
            "(code for the type checker only) are not judged"
        )
    outside = sum(t.outside_set for t in packages.values())
    if outside:
        verdicts: dict[str, int] = {}
        for counts in packages.values():
            for verdict, count in counts.outside_verdicts.items():
                verdicts[verdict] = verdicts.get(verdict, 0) + count
        earlier = ", ".join(f"{count} {verdict}" for verdict, count in sorted(verdicts.items()))
        print(
            f"{outside} mutants replace an operator by one of another class, or take a "
            "keyword-only * for an operator: outside the operator set, not judged"
            + (f" (verdicts the sessions hold for them: {earlier})" if earlier else "")
        )
    for _, own in rows:
        for survivor in own.survivors:
            print(f"survivor {survivor}")
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make mutate", description=__doc__.splitlines()[0])
    parser.add_argument("--package", action="append", default=[], choices=sorted(TARGETS))
    parser.add_argument("--module", action="append", default=[], metavar="PATH")
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="judge at most N mutants per module"
    )
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        metavar="M",
        help="stop starting mutants after M minutes (the sessions resume later)",
    )
    parser.add_argument(
        "--retest-survivors",
        action="store_true",
        help="judge the survivors again (after tests were added to kill them)",
    )
    parser.add_argument(
        "--retest-oracle",
        choices=["fast-tier", "oracle"],
        default="fast-tier",
        help="the survivors' retest: the whole fast tier (default), or the --oracle again "
        "(after --add-to-map put the new tests in the map)",
    )
    parser.add_argument(
        "--oracle",
        choices=["coverage", "plan"],
        default="coverage",
        help="a mutant's tests: those executing its code (coverage map) or its module's plan",
    )
    parser.add_argument(
        "--whole-map",
        action="store_true",
        help="a mutant's tests: every fast test executing its code, not only its module's "
        "planned tests that do",
    )
    parser.add_argument(
        "--rebuild-map",
        action="store_true",
        help="make the coverage map again (after tests were added) even for unchanged modules",
    )
    parser.add_argument(
        "--add-to-map",
        action="append",
        default=[],
        metavar="TEST",
        help="run these (new) tests under coverage and add them to the modules' maps",
    )
    parser.add_argument("--report", action="store_true", help="report the sessions, run nothing")
    parser.add_argument(
        "--save-verdicts",
        action="store_true",
        help="after the run (or report), keep the modules' verdicts in tests/mutation/verdicts/",
    )
    args = parser.parse_args(argv)
    plan: dict[str, dict[str, object]] = tomllib.loads(PLAN.read_text())["modules"]
    unknown = [m for m in args.module if m not in plan]
    if unknown:
        parser.error(f"not in tests/mutation/plan.toml: {', '.join(unknown)}")
    missing = [m for m in plan if not (ROOT / m).exists()]
    if missing:
        parser.error(
            f"tests/mutation/plan.toml names modules that do not exist: {', '.join(missing)}"
        )
    packages_on_disk = {
        str(path.relative_to(ROOT))
        for package in TARGETS
        for path in (ROOT / package).glob("*.py")
        if path.name != "__init__.py"
    }
    unplanned = sorted(packages_on_disk - set(plan))
    if unplanned:
        print(f"not in tests/mutation/plan.toml (no oracle, not mutated): {', '.join(unplanned)}")
    modules = [
        module
        for module, entry in plan.items()
        if (not args.package and not args.module)
        or entry["package"] in args.package
        or module in args.module
    ]
    started = time.monotonic()
    deadline = None if args.minutes is None else started + args.minutes * 60
    if not args.report:
        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        dirty = [m for m in [SENTINEL_MODULE, *modules] if not is_clean(m)]
        if dirty:
            print(
                f"refusing to mutate modified files: {', '.join(dirty)} "
                "(a run stopped mid-mutant leaves one behind: git checkout -- FILE)"
            )
            return 2
        use_map = args.oracle == "coverage"
        mapped_now: list[str] = []
        if use_map:
            stale = [
                m
                for m in dict.fromkeys([SENTINEL_MODULE, *modules])
                if args.rebuild_map or not map_is_fresh(m, whole_tier=args.whole_map)
            ]
            # An oracle is the map's tests within the module's plan, so the planned tests
            # are all a map needs to run; --whole-map needs the whole fast tier.
            mapped_by = (
                FAST_TIER
                if args.whole_map
                else list(dict.fromkeys(t for m in stale for t in oracle_tests(m, plan)))
            )
            if stale and not build_maps(stale, mapped_by):
                print("coverage map: tests fail on the unmutated tree; fix them first")
                return 1
            mapped_now = stale
            fresh = [m for m in dict.fromkeys([SENTINEL_MODULE, *modules]) if m not in stale]
            if args.add_to_map and fresh and not build_maps(fresh, args.add_to_map, add=True):
                print("coverage map: the added tests fail on the unmutated tree; fix them first")
                return 1
        if not sentinel(plan, use_map=use_map, whole_map=args.whole_map):
            return 1
        chosen = [m for m in modules if args.retest_survivors or has_pending(m)]
        if chosen:
            for module in chosen:
                forget_bytecode(module)
            tests = list(dict.fromkeys(t for m in chosen for t in oracle_tests(m, plan)))
            # A map made on this very tree ran the whole fast tier unmutated: that is the
            # baseline.
            on_this_tree = use_map and all(
                m in mapped_now or mapped_on_this_tree(m) for m in chosen
            )
            if not on_this_tree and not run_oracle(pytest_command(tests)):
                print("baseline: the oracles fail on the unmutated tree; fix them first")
                return 1
            print(f"mutating {len(chosen)} modules, each in proportion to its size …", flush=True)
            exec_modules(
                chosen,
                plan,
                limit=args.limit,
                deadline=deadline,
                retest_survivors=args.retest_survivors,
                retest_with_fast_tier=args.retest_oracle == "fast-tier",
                whole_map=args.whole_map,
                use_map=use_map,
            )
    ok = print_table(modules, plan)
    if args.save_verdicts:
        for module in modules:
            if saved := save_verdicts(module):
                print(
                    f"{module}: {saved} verdicts kept in {verdict_file(module).relative_to(ROOT)}"
                )
    print(f"mutate: {time.monotonic() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
