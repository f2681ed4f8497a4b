"""Which hint ``lab hint`` shows next: one about a function that did not pass.

Each hint of a lab's manifest begins with the name of the learner function it is
about (``preference_list: skip a token whose node ...``), so the workbench can
match hints with what the learner's last ``lab check`` found. The workspace's
stamp keeps the status of each part as last checked and the indexes of the hints
shown; from those, :func:`choose_hint` picks the first hint, in the manifest's
order, that was not shown and is about a function that did not pass (see
:func:`functions_not_passing`). A hint about a function that passes
is passed over, not used up: it stays available if that function fails later, and
``--all`` shows it anyway. Without any part recorded, the hints come in the
manifest's order.

A hint still unlocks only after a ``lab check`` (the first is free), so that the
learner tries before reading; that check is also what keeps the record current.
This module decides and never prints: the command line words the outcome.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._model import Lab, Status

__all__ = [
    "HintChoice",
    "HintOutcome",
    "choose_hint",
    "functions_not_passing",
    "hint_function",
]


def hint_function(hint: str) -> str:
    """The learner function a hint is about: the name before its first colon."""
    return hint.partition(":")[0].strip()


def functions_not_passing(lab: Lab, parts: Mapping[str, str]) -> tuple[str, ...] | None:
    """The learner functions that did not pass, by the recorded part statuses.

    A function passes when a part that grades it passed and none failed or was
    unknown. A part skipped (waiting for a part it needs) or not recorded says
    nothing either way: a function graded by one part that passed and one that was
    skipped passes, and one graded only by skipped parts does not.

    Returns:
        The functions in the order the parts name them, or None when no part of
        ``lab`` has a record (no ``lab check`` ran on the workspace).
    """
    if not any(part.part_id in parts for part in lab.parts):
        return None
    passed: set[str] = set()
    failed: set[str] = set()
    for part in lab.parts:
        status = parts.get(part.part_id)
        if status == Status.PASSED.value:
            passed.update(part.functions)
        elif status in (Status.FAILED.value, Status.UNKNOWN.value):
            failed.update(part.functions)
    functions = dict.fromkeys(f for part in lab.parts for f in part.functions)
    return tuple(f for f in functions if f in failed or f not in passed)


class HintOutcome(enum.Enum):
    """What ``lab hint`` found."""

    NEW = "new"
    """A hint not shown before: :attr:`HintChoice.index`."""
    LOCKED = "locked"
    """A hint was shown and no ``lab check`` ran since: the next one waits for one."""
    NONE_LEFT = "none_left"
    """Every hint was shown."""
    ALL_PASSED = "all_passed"
    """Every part passed in the last check."""
    ONLY_PASSING_LEFT = "only_passing_left"
    """Every hint not shown is about a function that passes."""


@dataclass(frozen=True)
class HintChoice:
    """The outcome of :func:`choose_hint`.

    Attributes:
        outcome: what was found.
        index: the hint to show (an index into ``lab.hints``), when ``outcome`` is NEW.
        not_passing: the functions that did not pass in the record, or None when there
            is no record (the hints then come in order).
        targeted: the hint was chosen by the record (False without a record or with
            ``any_function``).
    """

    outcome: HintOutcome
    index: int | None = None
    not_passing: tuple[str, ...] | None = None
    targeted: bool = False


def choose_hint(
    lab: Lab,
    *,
    shown: Sequence[int],
    parts: Mapping[str, str],
    checks_since_hint: int,
    any_function: bool = False,
) -> HintChoice:
    """The next hint for a workspace, or why there is none.

    Args:
        lab: the lab.
        shown: the indexes of the hints shown (an index past the lab's hints is ignored).
        parts: part id -> status, as last checked (empty before any check).
        checks_since_hint: ``lab check`` runs since the last hint was shown.
        any_function: choose among every hint not shown, whatever the record says.
    """
    not_passing = functions_not_passing(lab, parts)
    shown_set = set(shown)
    remaining = [index for index in range(len(lab.hints)) if index not in shown_set]
    if not remaining:
        return HintChoice(HintOutcome.NONE_LEFT, not_passing=not_passing)
    targeted = not_passing is not None and not any_function
    if targeted and not not_passing:
        return HintChoice(HintOutcome.ALL_PASSED, not_passing=not_passing)
    if len(remaining) < len(lab.hints) and checks_since_hint == 0:
        return HintChoice(HintOutcome.LOCKED, not_passing=not_passing)
    if targeted:
        assert not_passing is not None
        remaining = [i for i in remaining if hint_function(lab.hints[i]) in not_passing]
        if not remaining:
            return HintChoice(HintOutcome.ONLY_PASSING_LEFT, not_passing=not_passing)
    return HintChoice(HintOutcome.NEW, remaining[0], not_passing=not_passing, targeted=targeted)
