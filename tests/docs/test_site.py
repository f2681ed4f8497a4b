"""The docs site, built offline and checked as a reader would meet it.

- it builds with ``-W -n`` (the ``site`` fixture fails otherwise);
- every ``href`` and ``src`` of every page resolves to a file of the build, and nothing is
  loaded from another host (a link to the paper may leave; a script, image or stylesheet
  may not);
- no generated picture is committed, and every picture of the site is in the build;
- every page loads in headless Chromium with no missing image or diagram and no console
  error;
- every ``dynamokv …`` line in a shell block is accepted by the real argparse parser, and
  every Python example runs (``>>>`` examples as doctests, the others at least compile).
"""

from __future__ import annotations

import ast
import doctest
import re
import shlex
import subprocess
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from site_helpers import DOCS, ROOT, console_errors

pytestmark = pytest.mark.slow

# Pages whose examples another test runs already (tests/spec/test_docs_examples.py).
SPEC_PAGES = DOCS / "spec"


def _pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name in ("href", "src", "data") and value is not None:
                self.links.append((tag, name, value))


def _parse(page: Path) -> _Links:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def test_every_href_and_src_resolves_inside_the_build(site: Path) -> None:
    pages = _pages(site)
    assert len(pages) > 20, "the site has fewer pages than its toctree lists"
    root = site.resolve()
    parsed = {page: _parse(page) for page in pages}
    ids = {page: links.ids for page, links in parsed.items()}
    problems = []
    leaving = []
    for page in pages:
        for tag, attribute, value in parsed[page].links:
            parts = urlsplit(value)
            if parts.scheme in ("http", "https") or value.startswith("//"):
                # Navigation away (the paper) is fine; loading anything from elsewhere is not.
                if tag != "a":
                    problems.append(f"{page.name}: <{tag} {attribute}> loads {value}")
                leaving.append(value)
                continue
            if parts.scheme in ("mailto", "data", "javascript") or not (
                parts.path or parts.fragment
            ):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file() or root not in target.parents:
                problems.append(
                    f"{page.relative_to(site)}: {attribute}={value} is not in the build"
                )
            elif (
                parts.fragment
                and target in ids
                and unquote(parts.fragment) not in ids[target]
                # viewcode's "[docs]" links from the source pages may name objects a page
                # documents with :no-index: (the page exists; the link lands at its top).
                and "_modules" not in page.relative_to(site).parts
            ):
                problems.append(f"{page.relative_to(site)}: {value}: no such anchor")
    assert not problems, "\n".join(problems[:40])
    # Links that leave are only followed by a reader; the paper must be one of them.
    assert any(url.endswith("amazon-dynamo-sosp2007.pdf") for url in leaving)


def test_no_command_line_flag_is_typeset_as_a_dash(site: Path) -> None:
    """Smart quotes would turn ``--dir`` in plain text (the generated CLI reference, a
    caption) into an en dash and a word, which a reader copying it cannot run."""
    dashed = [
        f"{page.relative_to(site)}: {match.group(0)}"
        for page in _pages(site)
        for match in re.finditer(r"[\u2013\u2014][a-z][a-z-]+", page.read_text(encoding="utf-8"))
    ]
    assert dashed == []


def test_no_generated_image_is_committed() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "docs"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    images = [p for p in tracked if re.search(r"\.(png|svg|jpe?g|gif|pdf)$", p)]
    assert images == []


def test_every_picture_of_the_site_is_in_the_build(site: Path) -> None:
    import sys

    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import drawings
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    html = "\n".join(page.read_text(encoding="utf-8") for page in _pages(site))
    missing = [name for name in drawings.DRAWINGS if f'id="figure-{name}"' not in html]
    assert missing == [], f"pictures no page shows: {missing}"
    images = list((site / "_images").glob("*.svg"))
    assert len(images) >= len(drawings.DRAWINGS)


def test_every_page_loads_in_chromium_with_no_missing_image_or_error(
    site: Path, site_url: str, browser: Callable[[], Any]
) -> None:
    driver = browser()
    problems = []
    pictures = 0
    for page in _pages(site):
        relative = page.relative_to(site).as_posix()
        driver.get(f"{site_url}/{relative}")
        state = driver.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            const settle = () => {
              const images = [...document.images];
              const objects = [...document.querySelectorAll("object")];
              const ready = images.every(i => i.complete) && document.readyState === "complete";
              if (!ready) { setTimeout(settle, 50); return; }
              done({
                broken: images.filter(i => i.naturalWidth === 0).map(i => i.src),
                objects: objects.map(o => ({data: o.data,
                  svg: !!(o.contentDocument && o.contentDocument.documentElement &&
                          o.contentDocument.documentElement.nodeName === "svg")})),
                images: images.length,
              });
            };
            settle();
            """
        )
        problems += [f"{relative}: broken image {src}" for src in state["broken"]]
        problems += [
            f"{relative}: diagram did not load {o['data']}"
            for o in state["objects"]
            if not o["svg"]
        ]
        problems += [f"{relative}: console: {m}" for m in console_errors(driver)]
        pictures += state["images"] + len(state["objects"])
    assert not problems, "\n".join(problems[:40])
    assert pictures >= 14


# --------------------------------------------------------------------------- examples

_FENCE = re.compile(r"^```(?P<lang>[\w{}-]*)[^\n]*\n(?P<body>.*?)^```", re.S | re.M)


def _blocks(languages: tuple[str, ...]) -> Iterator[tuple[Path, int, str]]:
    for page in sorted(DOCS.rglob("*.md")):
        if "_build" in page.parts:
            continue
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            if match["lang"] in languages:
                yield page, text[: match.start()].count("\n") + 1, match["body"]


def _dynamokv_lines(body: str) -> Iterator[str]:
    for raw in body.splitlines():
        line = raw.strip().removeprefix("$ ")
        for command in re.split(r"\s*(?:&&|;|\|\|)\s*", line):
            if command.startswith("dynamokv "):
                yield command


def test_every_dynamokv_line_in_a_shell_block_parses() -> None:
    from dynamokv.impl.cli import _main

    parser = _main.build_parser()
    checked = 0
    problems = []
    for page, line_number, body in _blocks(("sh", "bash", "console", "shell")):
        for command in _dynamokv_lines(body):
            words = shlex.split(command, comments=True)[1:]
            try:
                parser.parse_args(words)
            except _main._UsageError as error:
                problems.append(f"{page.relative_to(DOCS)}:{line_number}: {command}: {error}")
            except SystemExit:  # --help
                pass
            checked += 1
    assert not problems, "\n".join(problems)
    assert checked > 40


def test_the_parser_check_catches_a_wrong_flag() -> None:
    from dynamokv.impl.cli import _main

    wrong = list(_dynamokv_lines("dynamokv bench cluster --no-etcd\n$ dynamokv sim --loss 0.1"))
    parser = _main.build_parser()
    for command in wrong:
        with pytest.raises(_main._UsageError):
            parser.parse_args(shlex.split(command)[1:])


def test_python_examples_run() -> None:
    ran = compiled = 0
    failures = []
    for page, line_number, body in _blocks(("python", "pycon")):
        where = f"{page.relative_to(DOCS)}:{line_number}"
        if ">>>" in body:
            if SPEC_PAGES in page.parents:
                continue
            test = doctest.DocTestParser().get_doctest(body, {}, where, str(page), line_number)
            runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
            output: list[str] = []
            result = runner.run(test, out=output.append)
            if result.failed:
                failures.append("".join(output))
            ran += 1
        else:
            try:
                ast.parse(body, where)
            except SyntaxError as error:
                failures.append(f"{where}: {error}")
            compiled += 1
    assert not failures, "\n".join(failures)
    assert ran >= 3 and compiled >= 3
