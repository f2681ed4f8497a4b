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
  until it is restored with ``git checkout``;
* **the score per package** is killed / (killed + survived), mutants marked
  equivalent in ``mutate/equivalent.toml`` (each with its reason) left out; the run
  fails when those exceed 2% of all mutants, or a package is below its target.

Each module's oracle is only the tests that exercise it (``mutate/plan.toml``), run
with ``-x``: the whole suite per mutant would take days. It is CPU-heavy and runs
one mutant at a time; ``make mutate`` starts it under ``nice``.

Usage: ``python mutate/run.py [--package spec] [--module spec/vclock.py] [--report]``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / ".mutate"
PLAN = ROOT / "mutate" / "plan.toml"
EQUIVALENT = ROOT / "mutate" / "equivalent.toml"
TARGETS = {"spec": 0.95, "impl/core": 0.90, "proofs": 0.0}
"""Least share of non-equivalent mutants killed, per package (proofs: reported only)."""
EQUIVALENT_SHARE_MAX = 0.02
MUTANT_TIMEOUT_SECONDS = 180.0
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
    survivors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.equivalent + self.pending + self.incompetent

    @property
    def score(self) -> float | None:
        judged = self.killed + self.survived
        return self.killed / judged if judged else None


def oracle(module: str, plan: dict[str, dict[str, object]]) -> list[str]:
    """The pytest command line that judges a mutant of ``module``."""
    tests = plan[module]["tests"]
    assert isinstance(tests, list)
    return [
        sys.executable,
        "-m",
        "pytest",
        "-x",
        "-q",
        "-p",
        "no:cacheprovider",
        "-m",
        "not slow",
        *tests,
    ]


def slug(module: str) -> str:
    return module.replace("/", "_").removesuffix(".py")


def run_oracle(command: list[str]) -> bool:
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return completed.returncode == 0


def sentinel(plan: dict[str, dict[str, object]]) -> bool:
    """Apply a known bug by hand; its oracle must fail. Restores the file in every case."""
    path = ROOT / SENTINEL_MODULE
    source = path.read_text()
    if SENTINEL_FROM not in source:
        print(f"sentinel: {SENTINEL_MODULE} does not contain the merge it mutates")
        return False
    try:
        path.write_text(source.replace(SENTINEL_FROM, SENTINEL_TO, 1))
        killed = not run_oracle(oracle(SENTINEL_MODULE, plan))
    finally:
        path.write_text(source)
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


def exec_module(module: str, plan: dict[str, dict[str, object]]) -> None:
    """Create (first time) and run (or resume) the module's session."""
    WORKDIR.mkdir(exist_ok=True)
    config = WORKDIR / f"{slug(module)}.toml"
    session = WORKDIR / f"{slug(module)}.sqlite"
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
    cosmic_ray = [sys.executable, "-m", "cosmic_ray.cli"]
    if not session.exists():
        subprocess.run([*cosmic_ray, "init", str(config), str(session)], cwd=ROOT, check=True)
    subprocess.run([*cosmic_ray, "exec", str(config), str(session)], cwd=ROOT, check=True)


def equivalents() -> dict[tuple[str, str, int], str]:
    data = tomllib.loads(EQUIVALENT.read_text())
    return {
        (entry["module"], entry["operator"], int(entry["occurrence"])): entry["reason"]
        for entry in data.get("equivalent", [])
    }


def tally(module: str, marked: dict[tuple[str, str, int], str], into: Tally) -> None:
    session = WORKDIR / f"{slug(module)}.sqlite"
    if not session.exists():
        return
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
        if result is None:
            into.pending += 1
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
                ]
                into.survivors.append(
                    f"{module}:{line_number} {key[1]} #{key[2]}  " + " | ".join(diff[:2])
                )
        elif result["test_outcome"] == "incompetent":
            into.incompetent += 1
        else:
            into.killed += 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="make mutate", description=__doc__.splitlines()[0])
    parser.add_argument("--package", action="append", default=[], choices=sorted(TARGETS))
    parser.add_argument("--module", action="append", default=[], metavar="PATH")
    parser.add_argument("--report", action="store_true", help="report the sessions, run nothing")
    args = parser.parse_args(argv)
    plan: dict[str, dict[str, object]] = tomllib.loads(PLAN.read_text())["modules"]
    modules = [
        module
        for module, entry in plan.items()
        if (not args.package and not args.module)
        or entry["package"] in args.package
        or module in args.module
    ]
    unknown = [m for m in args.module if m not in plan]
    if unknown:
        parser.error(f"not in mutate/plan.toml: {', '.join(unknown)}")
    started = time.perf_counter()
    if not args.report:
        dirty = [m for m in [SENTINEL_MODULE, *modules] if not is_clean(m)]
        if dirty:
            print(
                f"refusing to mutate modified files: {', '.join(dirty)} "
                "(a run stopped mid-mutant leaves one behind: git checkout -- FILE)"
            )
            return 2
        if not sentinel(plan):
            return 1
        for module in modules:
            if not run_oracle(oracle(module, plan)):
                print(f"baseline: the oracle of {module} fails unmutated; fix it first")
                return 1
            print(f"mutating {module} …", flush=True)
            exec_module(module, plan)
    marked = equivalents()
    packages: dict[str, Tally] = {}
    for module in modules:
        package = str(plan[module]["package"])
        tally(module, marked, packages.setdefault(package, Tally()))
    ok = True
    print(
        f"\n{'package':<12}{'mutants':>9}{'killed':>8}{'survived':>10}{'equiv.':>8}"
        f"{'pending':>9}{'score':>8}  target"
    )
    all_mutants = sum(t.total for t in packages.values())
    for package, counts in packages.items():
        score = counts.score
        target = TARGETS[package]
        meets = score is not None and score >= target and counts.pending == 0
        ok = ok and (meets or target == 0.0)
        shown = "—" if score is None else f"{score:.1%}"
        print(
            f"{package:<12}{counts.total:>9}{counts.killed:>8}{counts.survived:>10}"
            f"{counts.equivalent:>8}{counts.pending:>9}{shown:>8}  "
            + (f"≥ {target:.0%} {'✓' if meets else '✗'}" if target else "reported")
        )
    equivalent_count = sum(t.equivalent for t in packages.values())
    if all_mutants and equivalent_count / all_mutants > EQUIVALENT_SHARE_MAX:
        print(f"{equivalent_count} mutants marked equivalent: more than 2% of {all_mutants}")
        ok = False
    for counts in packages.values():
        for survivor in counts.survivors:
            print(f"survivor {survivor}")
    print(f"mutate: {time.perf_counter() - started:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
