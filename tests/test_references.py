"""The project speaks of itself alone: no tracked file points outside it or into its past.

Code, docstrings, comments, tests, docs pages, labs, the Makefile, pyproject and the
README explain the project in its own words. They do not cite a design file kept outside
the repository (``DESIGN.md``, "DESIGN §3", "DESIGN property 6"), an issue number, "the
seed" (the document the project started from), or what was true earlier ("previously",
"formerly", "as of session ..."). "No longer" is left to reviewers: here it mostly states a
consequence ("with R + W <= N the quorums no longer intersect"), not the project's past. Rationale belongs in the code's own words or on the
docs' Architecture page; measurements belong, dated, on the benchmarks page.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a design file outside the repository", re.compile(r"\bDESIGN\b")),
    ("an issue number", re.compile(r"\bissues?\s+#?\d+|\bissue\s*#\d+", re.IGNORECASE)),
    (
        "the seed document",
        re.compile(
            r"\bseed document\b|\bthe seed's\b|\bthe seed (asks|says|lists|describes)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "what was true earlier",
        re.compile(
            r"\bpreviously\b|\bformerly\b|\bas of session\b|\bnot yet wired\b|\bused to be\b",
            re.IGNORECASE,
        ),
    ),
)
"""What a tracked file must not say, and the pattern that finds it."""

THIS_FILE = Path(__file__).resolve().relative_to(ROOT).as_posix()
"""This test names the patterns it looks for, so it is the one file not scanned."""


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = []
    for raw in listed:
        name = raw.decode()
        if not name or name == THIS_FILE:
            continue
        path = ROOT / name
        if not path.is_file():
            continue  # deleted in the working tree, not yet committed
        files.append(path)
    return files


def _findings(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []  # a binary file (a picture): it has no prose
    found = []
    lines = text.splitlines()
    where = path.relative_to(ROOT).as_posix()
    for index, line in enumerate(lines):
        # A phrase may run onto the next line of a paragraph or comment ("the\n# seed's"):
        # search each line joined with the next, and report what starts on this one.
        following = lines[index + 1].lstrip(" \t#*/>-") if index + 1 < len(lines) else ""
        joined = f"{line} {following}"
        for what, pattern in FORBIDDEN:
            for match in pattern.finditer(joined):
                if match.start() < len(line):
                    found.append(f"{where}:{index + 1}: {what}: {match.group(0)!r}")
                    break
    return found


def test_no_tracked_file_points_outside_the_project_or_into_its_past() -> None:
    files = _tracked_text_files()
    assert len(files) > 100, "git ls-files found too few files to be scanning the project"
    findings = [finding for path in files for finding in _findings(path)]
    assert findings == [], "tracked files that do not stand alone:\n" + "\n".join(findings)


@pytest.mark.parametrize(
    "line",
    [
        "See DESIGN.md section 2.",
        "as DESIGN §3 says",
        "DESIGN property 6 holds",
        "added in issue 6",
        "(issues 5 and 6)",
        "see issue #12",
        "the seed's interview questions",
        "the seed document lists",
        "the seed asks how",
        "this was previously a thread",
        "it used to be a thread",
        "as of session 4",
        "interview questions of the\n# seed's page",
    ],
)
def test_each_pattern_catches_what_it_is_for(line: str, tmp_path: Path) -> None:
    """Negative control: every kind of reference is found in a planted line."""
    planted = tmp_path / "planted.md"
    planted.write_text(f"Intro.\n{line}\n")
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        assert _findings(planted), line
    finally:
        ROOT = saved


@pytest.mark.parametrize(
    "line",
    [
        "one seed replays one run",
        "the seed nodes' addresses",
        "dynamokv sim --seed 4",
        "the design of the store",
        "a tissue 5 layers deep",
        "with R + W <= N the quorums no longer intersect",
    ],
)
def test_ordinary_words_are_not_references(line: str, tmp_path: Path) -> None:
    planted = tmp_path / "planted.md"
    planted.write_text(line + "\n")
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        assert _findings(planted) == [], line
    finally:
        ROOT = saved
