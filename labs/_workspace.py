"""The learner's workspace: ``./lab-work/LAB/``, outside version control.

``lab start`` copies the lab's skeleton there and writes a stamp,
``.lab.json``: the project version and a hash of the lab's own files
(manifest, grader, README, skeleton), so that ``lab check`` can warn when the
lab changed since the workspace was made (the learner's file then may not match
the checks). The stamp also keeps the learner's progress: which hints were
shown, how many checks were run since, the status of each part as last checked
(what ``lab list`` shows and ``lab hint`` targets) and the score of the last full
check. Nothing in it depends on the clock, so two equal runs write equal stamps.

The workspace is never overwritten without ``--force``; ``lab reset`` keeps the
learner's previous file beside the fresh one (``FILE.previous``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shlex
import shutil
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path

from ._model import Lab, LabReport, Status

__all__ = [
    "DEFAULT_WORKSPACE",
    "STAMP_NAME",
    "Stamp",
    "WorkspaceError",
    "lab_files_hash",
    "lab_folder",
    "project_version",
    "read_stamp",
    "record_check",
    "reset_workspace",
    "skeleton_path",
    "start_workspace",
    "workspace_file",
    "workspace_flag",
    "write_stamp",
]

DEFAULT_WORKSPACE = Path("lab-work")
"""Relative to the current directory; ``--workspace`` chooses another."""

STAMP_NAME = ".lab.json"


def workspace_flag(root: Path) -> str:
    """`` --workspace ROOT`` (quoted for a shell), or nothing for the default workspace.

    Every command the workbench prints for the learner to type next ends with it, so
    that a command pasted as printed finds the workspace it was printed for.
    """
    return "" if root == DEFAULT_WORKSPACE else f" --workspace {shlex.quote(str(root))}"


class WorkspaceError(Exception):
    """Something the learner can fix about the workspace: one line."""


@dataclass(frozen=True)
class Stamp:
    """What ``.lab.json`` holds.

    Attributes:
        lab: the lab's short name.
        project_version: the dynamokv version that made the workspace.
        lab_hash: the hash of the lab's files at that time.
        hints_shown: the indexes (into the lab's hints) of the hints shown, in the order
            shown. A stamp may hold a count N instead, meaning the first N hints;
            :func:`read_stamp` reads it as those indexes.
        checks_since_hint: ``lab check`` runs since the last hint (a hint unlocks after one).
        parts: part id -> ``passed``/``failed``/... as last checked: a full ``lab check``
            records every part; a ``--part`` run records each part all of whose checks
            ran, and a part one of whose checks failed (see :func:`record_check`).
        score: points of the last full ``lab check``.
    """

    lab: str
    project_version: str
    lab_hash: str
    hints_shown: tuple[int, ...] = ()
    checks_since_hint: int = 0
    parts: dict[str, str] = field(default_factory=dict)
    score: int = 0


def project_version() -> str:
    """The installed dynamokv version."""
    try:
        return importlib.metadata.version("dynamokv")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def lab_folder(lab: Lab) -> Path:
    """The lab's package folder (its README, skeleton and mutants are package data)."""
    return Path(str(resources.files("dynamokv.labs").joinpath(lab.package)))


def skeleton_path(lab: Lab) -> Path:
    """The untouched skeleton file."""
    return lab_folder(lab) / "skeleton" / lab.workspace_file


def lab_files_hash(lab: Lab) -> str:
    """A hash of the lab's own files (not caches): what the workspace was made from."""
    folder = lab_folder(lab)
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _directory(root: Path, lab: Lab) -> Path:
    return root / lab.name


def _elsewhere(root: Path) -> str:
    """The end of a "no workspace" line: in the default workspace, the learner may have
    started the lab in another one."""
    return "" if root != DEFAULT_WORKSPACE else " (or pass the --workspace you started it in)"


def workspace_file(root: Path, lab: Lab) -> Path:
    """The file the learner edits."""
    return _directory(root, lab) / lab.workspace_file


def read_stamp(root: Path, lab: Lab) -> Stamp:
    """The workspace's stamp.

    Raises:
        WorkspaceError: there is no workspace for ``lab`` (say how to make one).
    """
    path = _directory(root, lab) / STAMP_NAME
    if not workspace_file(root, lab).is_file() or not path.is_file():
        raise WorkspaceError(
            f"no workspace for {lab.name} in {root}/: run `dynamokv lab start {lab.name}"
            f"{workspace_flag(root)}` first{_elsewhere(root)}"
        )
    try:
        data = json.loads(path.read_text())
        data["hints_shown"] = _hint_indexes(data.get("hints_shown", ()))
        stamp = Stamp(**data)
        _check_fields(stamp)
        return stamp
    except (ValueError, TypeError, AttributeError) as error:
        raise WorkspaceError(
            f"{path} is damaged ({error}); `dynamokv lab reset {lab.name}{workspace_flag(root)}`"
        ) from None


def _check_fields(stamp: Stamp) -> None:
    """Raise ValueError unless each field of a stamp read from disk has its type."""
    texts = (stamp.lab, stamp.project_version, stamp.lab_hash)
    counts = (stamp.checks_since_hint, stamp.score)
    if not all(isinstance(text, str) for text in texts):
        raise ValueError("lab, project_version and lab_hash must be strings")
    if not all(isinstance(count, int) and not isinstance(count, bool) for count in counts):
        raise ValueError("checks_since_hint and score must be integers")
    parts = stamp.parts
    if not isinstance(parts, dict) or not all(
        isinstance(part, str) and isinstance(status, str) for part, status in parts.items()
    ):
        raise ValueError(f"parts is {parts!r}, not a map of part ids to statuses")


def _hint_indexes(value: object) -> tuple[int, ...]:
    """``hints_shown`` as stored: a list of indexes, or a count N for the first N hints.

    Raises:
        ValueError: it is neither.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return tuple(range(value))
    if isinstance(value, list | tuple) and all(
        isinstance(index, int) and not isinstance(index, bool) and index >= 0 for index in value
    ):
        return tuple(dict.fromkeys(value))
    raise ValueError(f"hints_shown is {value!r}, not a list of hint indexes")


def write_stamp(root: Path, stamp: Stamp) -> None:
    """Write ``stamp`` into its lab's workspace."""
    path = root / stamp.lab / STAMP_NAME
    path.write_text(json.dumps(asdict(stamp), indent=2, sort_keys=True) + "\n")


def start_workspace(root: Path, lab: Lab, *, force: bool = False) -> Path:
    """Copy the skeleton into ``root/LAB/`` and stamp it; return the file to edit.

    Raises:
        WorkspaceError: the workspace exists and ``force`` is False.
    """
    target = workspace_file(root, lab)
    if target.exists() and not force:
        raise WorkspaceError(
            f"{target} exists: your work is kept. Use --force to overwrite it, "
            f"or `dynamokv lab reset {lab.name}{workspace_flag(root)}`"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(skeleton_path(lab), target)
    write_stamp(root, Stamp(lab.name, project_version(), lab_files_hash(lab)))
    return target


def reset_workspace(root: Path, lab: Lab) -> tuple[Path, Path | None]:
    """Start over: the learner's file is kept as ``FILE.previous`` (or ``.previous.2``, ...,
    beside earlier ones; an untouched skeleton is not kept); return (file, kept).

    A workspace whose stamp is damaged or whose file was deleted is reset (the line for a
    damaged stamp says to); where there is neither the file nor the stamp there is nothing
    to start over, and ``lab start`` is the command that makes a workspace.

    Raises:
        WorkspaceError: there is no workspace for ``lab`` (say how to make one).
    """
    target = workspace_file(root, lab)
    if not target.exists() and not (_directory(root, lab) / STAMP_NAME).exists():
        raise WorkspaceError(
            f"no workspace for {lab.name} in {root}/ to reset: `dynamokv lab start {lab.name}"
            f"{workspace_flag(root)}` makes one{_elsewhere(root)}"
        )
    kept: Path | None = None
    if target.exists() and target.read_bytes() != skeleton_path(lab).read_bytes():
        kept = _backup_name(target)
        shutil.copyfile(target, kept)
    start_workspace(root, lab, force=True)
    return target, kept


def _backup_name(target: Path) -> Path:
    """Where to keep ``target`` before a reset: ``FILE.previous``, or ``FILE.previous.2``,
    ``.3``, ... when an earlier reset kept a different file there (never overwritten: a
    second reset must not replace the learner's work with the skeleton it left)."""
    content = target.read_bytes()
    number = 1
    while True:
        suffix = ".previous" if number == 1 else f".previous.{number}"
        kept = target.with_name(target.name + suffix)
        if not kept.exists() or kept.read_bytes() == content:
            return kept
        number += 1


def staleness_warnings(root: Path, lab: Lab, stamp: Stamp) -> tuple[str, ...]:
    """Warnings when the lab or the project changed since the workspace was made."""
    warnings: list[str] = []
    if stamp.lab_hash != lab_files_hash(lab):
        warnings.append(
            f"the {lab.name} lab changed since {root}/{lab.name} was made: compare your file "
            f"with the new skeleton (`dynamokv lab reset {lab.name}{workspace_flag(root)}` keeps "
            "yours as .previous)"
        )
    if stamp.project_version != project_version():
        warnings.append(
            f"the workspace was made by dynamokv {stamp.project_version}; "
            f"this is {project_version()}"
        )
    return tuple(warnings)


def record_check(root: Path, lab: Lab, report: LabReport, *, full: bool) -> Stamp:
    """Count a ``lab check`` run and record what it found of each part.

    A full run records every part's status and the score. A ``--part`` run records
    the status of each part all of whose checks ran, and marks failed a part one of
    whose checks failed; a part only some of whose checks ran and passed keeps its
    record, since the checks that did not run may still fail. The score stays the
    last full run's.
    """
    stamp = read_stamp(root, lab)
    stamp = replace(stamp, checks_since_hint=stamp.checks_since_hint + 1)
    if full:
        parts = {part.part_id: report.part_status(part.part_id).value for part in lab.parts}
        stamp = replace(stamp, parts=parts, score=report.score)
    else:
        parts = dict(stamp.parts)
        ran = {result.check_id: result for result in report.results}
        for part in lab.parts:
            results = [ran[check.check_id] for check in part.checks if check.check_id in ran]
            whole = len(results) == len(part.checks)
            if whole or any(result.status is Status.FAILED for result in results):
                parts[part.part_id] = report.part_status(part.part_id).value
        stamp = replace(stamp, parts=parts)
    write_stamp(root, stamp)
    return stamp


def parts_passed(stamp: Stamp) -> int:
    """Parts that passed in the last full check."""
    return sum(1 for status in stamp.parts.values() if status == Status.PASSED.value)
