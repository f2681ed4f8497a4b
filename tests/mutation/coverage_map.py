"""Which fast test executes which line of the mutated modules: ``make mutate``'s oracle map.

A mutant can only be killed by a test that executes the code it changed, so a
mutant's oracle needs only those tests. This script runs the tests it is given
once, under coverage.py, switching coverage's *context* to the test's name
around every test (its setup, call and teardown), and writes for each measured
module which tests executed each of its lines. Lines executed outside any test
(while pytest imports the test modules) keep the empty context.

A test is named down to its function (``tests/core/test_x.py::test_put``): the
parameters of a parametrized test are run together, which keeps the map small
and the names safe to pass back to pytest.

Usage: ``python tests/mutation/coverage_map.py OUTPUT.json MODULE... -- PYTEST_ARGS``
(MODULE relative to the repository root; run from the root).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Generator
from pathlib import Path

import coverage
import pytest

ROOT = Path(__file__).resolve().parents[2]


def function_id(nodeid: str) -> str:
    """``path::Class::test[param]`` → ``path::Class::test``."""
    return nodeid.split("[", 1)[0]


class ContextPerTest:
    """A pytest plugin: coverage's context is the running test's name."""

    def __init__(self, measurer: coverage.Coverage) -> None:
        self.measurer = measurer
        self.seconds: dict[str, float] = {}
        self.failed: set[str] = set()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, None, None]:
        name = function_id(item.nodeid)
        self.measurer.switch_context(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.measurer.switch_context("")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed:
            self.failed.add(function_id(report.nodeid))


def main(argv: list[str]) -> int:
    split = argv.index("--")
    output, modules, pytest_args = Path(argv[0]), argv[1:split], argv[split + 1 :]
    paths = {module: str((ROOT / module).resolve()) for module in modules}
    measurer = coverage.Coverage(data_file=None, include=list(paths.values()), branch=False)
    plugin = ContextPerTest(measurer)
    measurer.start()
    try:
        exit_code = int(pytest.main(pytest_args, plugins=[plugin]))
    finally:
        measurer.stop()
    data = measurer.get_data()
    lines: dict[str, dict[str, list[str]]] = {}
    for module, path in paths.items():
        by_line = data.contexts_by_lineno(path)
        lines[module] = {str(line): sorted(set(names)) for line, names in by_line.items()}
    output.write_text(
        json.dumps(
            {
                "exit_code": exit_code,
                "lines": lines,
                "seconds": plugin.seconds,
                "failed": sorted(plugin.failed),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
