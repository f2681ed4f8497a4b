"""The ``>>>`` examples of ``docs/spec/*.md`` run, and print what the pages say.

The pages show real values computed by the spec; this test keeps them true.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

PAGES = sorted((Path(__file__).resolve().parents[2] / "docs" / "spec").glob("*.md"))


def test_every_spec_page_is_found() -> None:
    assert {page.stem for page in PAGES} >= {"index", "ring", "quorum", "vclock", "merkle", "kv"}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_page_examples_print_what_the_page_says(page: Path) -> None:
    parser = doctest.DocTestParser()
    test = parser.get_doctest(page.read_text(), {}, page.name, str(page), 0)
    assert test.examples or page.stem == "index", f"{page.name} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.failures == 0, f"{runner.failures} example(s) in {page.name} failed"
