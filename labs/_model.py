"""What a lab is made of, and what grading it produces: plain frozen values.

A :class:`Lab` is a manifest: the interview question, the functions the learner
writes and the project's own functions that are the answer key (named, never
copied), the :class:`Part` s in order, each with its tiered :class:`Check` s, the
hints, and the experiment. Grading produces :class:`CheckResult` s; the command
line renders them and ``--json`` serialises them with :func:`to_json_value`.

Every value here is data, so a run can be sent between processes, compared
between two runs, and printed in any format without the grader knowing how.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._solution import SolutionSource

__all__ = [
    "Check",
    "CheckContext",
    "CheckResult",
    "Experiment",
    "ExperimentContext",
    "ExperimentReport",
    "ExperimentRow",
    "Lab",
    "LabReport",
    "Part",
    "Status",
    "Tier",
    "Verdict",
    "to_json_value",
]


class Tier(enum.Enum):
    """How a check judges the learner's code, weakest evidence first."""

    UNIT = "unit"
    """Cases taken from the paper's own examples."""
    PROPERTY = "property"
    """Hypothesis: the learner's function equals the answer key on generated inputs."""
    SYMBOLIC = "symbolic"
    """CrossHair ``diffbehavior``: a symbolic search for an input where the two differ."""
    SIMULATION = "simulation"
    """The learner's code inside the simulated cluster, under faults, judged by checkers."""


TIER_ORDER = (Tier.UNIT, Tier.PROPERTY, Tier.SYMBOLIC, Tier.SIMULATION)


class Status(enum.Enum):
    """The outcome of one check."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"
    """The check ran out of time or search before deciding: 0 points, never a pass."""


@dataclass(frozen=True)
class Verdict:
    """What a check function decided, before the runner adds names and timing.

    Attributes:
        status: passed, failed or unknown (the runner decides skipped).
        summary: one line: what was found.
        counterexample: the smallest failing input found, as the learner should read it.
        yours: what the learner's code returned for it.
        expected: what the answer key returns for it.
        details: more lines (a ladder diagram, CrossHair's own report, a table).
    """

    status: Status
    summary: str = ""
    counterexample: str = ""
    yours: str = ""
    expected: str = ""
    details: str = ""


@dataclass(frozen=True)
class CheckContext:
    """Everything one check needs.

    Attributes:
        lab: the lab's manifest.
        solution: the functions being graded, by name (learner functions raise
            :class:`~dynamokv.labs.LearnerError` instead of arbitrary exceptions).
        answer: the answer key's functions, by the same names.
        seed: the run's seed; every randomised choice derives from it.
        source: where ``solution`` came from (for a check that runs a subprocess).
        quick: a cheaper run (selftest's ``--quick``): smaller simulations.
    """

    lab: Lab
    solution: Mapping[str, Callable[..., Any]]
    answer: Mapping[str, Callable[..., Any]]
    seed: int
    source: SolutionSource
    quick: bool = False


@dataclass(frozen=True)
class ExperimentContext:
    """Everything an experiment needs: the functions measured and the random seed.

    Attributes:
        lab: the lab's manifest.
        solution: the functions measured, by name.
        answer: the answer key's functions, by the same names.
        seed: the random seed of every choice of the measurement.
    """

    lab: Lab
    solution: Mapping[str, Callable[..., Any]]
    answer: Mapping[str, Callable[..., Any]]
    seed: int


@dataclass(frozen=True)
class Check:
    """One graded check.

    Attributes:
        check_id: ``PART.N``, e.g. ``"2.1"``; the replay command names it.
        title: what is checked, in one line.
        tier: how it judges.
        points: what it is worth.
        section: the paper section it checks, e.g. ``"Dynamo §4.3"``.
        rationale: why the rule holds (shown on failure).
        help: what to look at when it fails.
        run: the check itself; it gets a :class:`~dynamokv.labs.CheckContext`.
        timeout_seconds: bound on the CPU seconds of the check's process (and ten
            times it of wall-clock time, for code that blocks); a check that exceeds
            it failed (the learner's code looped) unless the tier is symbolic.
    """

    check_id: str
    title: str
    tier: Tier
    points: int
    section: str
    rationale: str
    help: str
    run: Callable[[CheckContext], Verdict]
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class Part:
    """One thing the learner builds, with the checks that grade it, in tier order.

    Attributes:
        part_id: ``"1"``, ``"2"``, ...
        title: what the learner builds.
        functions: the learner's functions this part grades.
        checks: in tier order; a check is skipped while an earlier one of the part fails.
        needs: parts that must pass first (their functions are used here).
    """

    part_id: str
    title: str
    functions: tuple[str, ...]
    checks: tuple[Check, ...]
    needs: tuple[str, ...] = ()

    @property
    def points(self) -> int:
        """The part's total points."""
        return sum(check.points for check in self.checks)


@dataclass(frozen=True)
class ExperimentRow:
    """One measured quantity beside its theory.

    Attributes:
        quantity: what was measured.
        measured: the measurement, as shown.
        theory: the theoretical value, as shown.
        tolerance: the stated tolerance, as shown (e.g. ``"± 0.5 points"``).
        within: whether the measurement lies within the tolerance of the theory.
        judged: False for a row shown for information only (not part of the verdict).
    """

    quantity: str
    measured: str
    theory: str
    tolerance: str
    within: bool
    judged: bool = True


@dataclass(frozen=True)
class ExperimentReport:
    """A table of measurements against theory, and the verdict.

    Attributes:
        title: what the experiment measures.
        rows: the measurements.
        notes: lines printed under the table (setup, seed, sources).
    """

    title: str
    rows: tuple[ExperimentRow, ...]
    notes: tuple[str, ...] = ()

    @property
    def within(self) -> bool:
        """Every judged row is within its tolerance."""
        return all(row.within for row in self.rows if row.judged)


@dataclass(frozen=True)
class Experiment:
    """A measurement of the learner's code (or the answer key) against theory.

    Attributes:
        title: what it measures.
        question: what the learner is asked to predict before the measurement.
        run: the measurement; it gets an :class:`~dynamokv.labs.ExperimentContext`.
        mutant: the planted wrong solution that must fall outside the tolerance.
        timeout_seconds: bound on the CPU seconds of the experiment's process (and ten
            times it of wall-clock time).
        also_mutants: more planted wrong solutions that must fall outside it too.
    """

    title: str
    question: str
    run: Callable[[ExperimentContext], ExperimentReport]
    mutant: str
    timeout_seconds: float = 300.0
    also_mutants: tuple[str, ...] = ()

    @property
    def mutants(self) -> tuple[str, ...]:
        """Every planted wrong solution that must fall outside the tolerance."""
        return (self.mutant, *self.also_mutants)


@dataclass(frozen=True)
class Lab:
    """A lab's manifest.

    Attributes:
        name: the short name the commands take (``q1``).
        package: the lab's folder under ``labs/`` (``q1_ring``).
        title: one line.
        question: the interview question, word for word.
        workspace_file: the file the learner edits (copied from ``skeleton/``).
        answer_key: each function the learner writes -> the dotted name of the
            project's own function that is its answer key.
        parts: in order.
        hints: in order, each beginning with the learner function it is about
            (``preference_list: ...``); ``lab hint`` shows them one at a time, passing
            over those about functions that passed the last check.
        experiment: the measurement against theory.
        seams: the learner's functions that run inside the node, each with the
            :class:`~dynamokv.impl.core.Seams` field (or other seam) it plugs into.
    """

    name: str
    package: str
    title: str
    question: str
    workspace_file: str
    answer_key: Mapping[str, str]
    parts: tuple[Part, ...]
    hints: tuple[str, ...]
    experiment: Experiment
    seams: Mapping[str, str] = field(default_factory=dict)

    @property
    def points(self) -> int:
        """The lab's total points."""
        return sum(part.points for part in self.parts)

    def checks(self) -> tuple[Check, ...]:
        """Every check, part by part, in tier order within a part."""
        return tuple(check for part in self.parts for check in part.checks)

    def part_of(self, check_id: str) -> Part:
        """The part that holds ``check_id``."""
        for part in self.parts:
            if any(check.check_id == check_id for check in part.checks):
                return part
        raise KeyError(check_id)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome, as reported.

    Attributes:
        check_id: the check.
        part_id: its part.
        title: its title.
        tier: its tier's name.
        section: the paper section.
        points: points earned.
        points_max: points available.
        status: the outcome.
        verdict: what the check found (empty when skipped).
        skipped_because: the check or part it waits for, when skipped.
        replay: the exact command that replays this check.
        rationale: why the rule holds.
        help: what to look at.
        seconds: wall-clock time.
        cpu_seconds: CPU time of the check's process (with what it waited for); it
            and ``seconds`` are the only fields that differ between equal runs.
    """

    check_id: str
    part_id: str
    title: str
    tier: str
    section: str
    points: int
    points_max: int
    status: Status
    verdict: Verdict
    skipped_because: str
    replay: str
    rationale: str
    help: str
    seconds: float
    cpu_seconds: float = 0.0


@dataclass(frozen=True)
class LabReport:
    """Every check of one ``lab check`` run.

    Attributes:
        lab: the lab's short name.
        solution: what was graded (``workspace``, ``answer key``, ``skeleton``, ``mutant NAME``).
        seed: the random seed every randomised check used.
        results: in the order run.
        warnings: lines shown before the results (the lab changed since the workspace was made).
        seconds: wall-clock time of the whole run.
        cpu_seconds: CPU time of its checks' processes.
    """

    lab: str
    solution: str
    seed: int
    results: tuple[CheckResult, ...]
    warnings: tuple[str, ...] = ()
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def score(self) -> int:
        """Points earned."""
        return sum(result.points for result in self.results)

    @property
    def score_max(self) -> int:
        """Points available in the checks that were selected."""
        return sum(result.points_max for result in self.results)

    def part_status(self, part_id: str) -> Status:
        """A part passed when all its checks passed; failed when one failed, else skipped/unknown."""
        statuses = [r.status for r in self.results if r.part_id == part_id]
        if not statuses:
            return Status.SKIPPED
        if all(status is Status.PASSED for status in statuses):
            return Status.PASSED
        if any(status is Status.FAILED for status in statuses):
            return Status.FAILED
        if any(status is Status.UNKNOWN for status in statuses):
            return Status.UNKNOWN
        return Status.SKIPPED

    def first_failure(self) -> CheckResult | None:
        """The first check that failed, in the order run."""
        return next((r for r in self.results if r.status is Status.FAILED), None)


def to_json_value(value: Any) -> Any:
    """A JSON-ready copy of a report value: dataclasses as dicts, enums by value."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            item.name: to_json_value(getattr(value, item.name))
            for item in dataclasses.fields(value)
            if not callable(getattr(value, item.name))
        }
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    return value
