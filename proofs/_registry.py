"""The registry of theorems and their negative controls, and the runner.

Why a registry of pairs: a theorem whose encoding cannot fail proves nothing, and
the only way to show it can fail is to feed it something false. Each theorem is
therefore registered together with at least one *negative control*, a deliberately
wrong variant that Z3 must refute. An *exhibit* (an existential theorem, proved by
a witness) gets a control encoded on its own: the negation of the exhibit would be
refuted by the very witness that proves it, so it could never fail by itself. The verdict of a run fails when any theorem is not
proved, when any control is not refuted (the encoding could not tell right from
wrong), when a spec replay disagrees, or when the solver answers unknown.

This module knows nothing about terminals or argument parsing: the ``dynamokv
prove`` command (``impl/cli/_prove.py``) renders what :func:`run` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dynamokv.spec.errors import ArgumentError

from . import _lamport, _merkle, _quorum, _ring, _vclock
from ._result import Kind, ProofResult, Stopwatch, solver_timeout

__all__ = [
    "REGISTRY",
    "Entry",
    "ProofRun",
    "UnknownProofError",
    "run",
    "select",
]


@dataclass(frozen=True)
class Entry:
    """A registered row: a theorem, or a negative control of one.

    Attributes:
        name: unique name, ``group.theorem`` or ``group.theorem.control``.
        kind: ``"theorem"`` or ``"control"``.
        theorem: the theorem this row belongs to (its own name for a theorem).
        check: runs the solver (and the spec replay) and returns the result.
    """

    name: str
    kind: Kind
    theorem: str
    check: Callable[[], ProofResult]

    @property
    def group(self) -> str:
        """The spec module the row is about: ``quorum``, ``vclock``, ``ring``..."""
        return self.name.split(".")[0]

    @property
    def summary(self) -> str:
        """The first line of the check's docstring."""
        doc = self.check.__doc__ or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


_PAIRS: tuple[tuple[str, Callable[[], ProofResult], tuple[Callable[[], ProofResult], ...]], ...] = (
    (
        "quorum.read_write_intersect",
        _quorum.read_write_intersect,
        (_quorum.read_write_intersect_control,),
    ),
    (
        "quorum.write_write_intersect",
        _quorum.write_write_intersect,
        (_quorum.write_write_intersect_control,),
    ),
    (
        "quorum.sloppy_can_miss_strict",
        _quorum.sloppy_can_miss_strict,
        (_quorum.sloppy_can_miss_strict_control, _quorum.sloppy_can_miss_strict_control_strict),
    ),
    (
        "quorum.sloppy_is_strict_when_owners_up",
        _quorum.sloppy_equals_strict_when_healthy,
        (_quorum.sloppy_equals_strict_when_healthy_control,),
    ),
    (
        "vclock.descends_reflexive",
        _vclock.descends_reflexive,
        (_vclock.descends_reflexive_control,),
    ),
    (
        "vclock.descends_antisymmetric",
        _vclock.descends_antisymmetric,
        (_vclock.descends_antisymmetric_control,),
    ),
    (
        "vclock.descends_transitive",
        _vclock.descends_transitive,
        (_vclock.descends_transitive_control,),
    ),
    (
        "vclock.merge_is_least_upper_bound",
        _vclock.merge_is_least_upper_bound,
        (_vclock.merge_is_least_upper_bound_control,),
    ),
    (
        "vclock.increment_dominates",
        _vclock.increment_dominates,
        (_vclock.increment_dominates_control,),
    ),
    (
        "vclock.compare_exactly_one",
        _vclock.compare_exactly_one,
        (_vclock.compare_exactly_one_control,),
    ),
    (
        "vclock.truncation_can_order_concurrent",
        _vclock.truncation_can_order_concurrent,
        (
            _vclock.truncation_can_order_concurrent_control,
            _vclock.truncation_can_order_concurrent_control_no_truncation,
        ),
    ),
    (
        "lamport.order_does_not_imply_causality",
        _lamport.order_does_not_imply_causality,
        (
            _lamport.order_does_not_imply_causality_control,
            _lamport.order_does_not_imply_causality_control_vector,
        ),
    ),
    ("lamport.clock_condition", _lamport.clock_condition, (_lamport.clock_condition_control,)),
    (
        "ring.join_moves_keys_only_to_new_node",
        _ring.join_moves_keys_only_to_new_node,
        (_ring.join_moves_keys_only_to_new_node_control,),
    ),
    (
        "ring.partitions_are_equal_intervals",
        _ring.partitions_are_equal_intervals,
        (_ring.partitions_are_equal_intervals_control,),
    ),
    ("merkle.diff_is_sound", _merkle.diff_is_sound, (_merkle.diff_is_sound_control,)),
    ("merkle.diff_is_complete", _merkle.diff_is_complete, (_merkle.diff_is_complete_control,)),
)


def _build() -> tuple[Entry, ...]:
    entries: list[Entry] = []
    for name, theorem, controls in _PAIRS:
        entries.append(Entry(name, "theorem", name, theorem))
        for index, control in enumerate(controls):
            suffix = ".control" if index == 0 else f".control{index + 1}"
            entries.append(Entry(name + suffix, "control", name, control))
    return tuple(entries)


REGISTRY: tuple[Entry, ...] = _build()
"""Every theorem, each followed by its negative controls, in table order."""


class UnknownProofError(ArgumentError):
    """A name given to :func:`select` is not a theorem, control or group."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no theorem, control or group named {name!r}")
        self.name = name


def select(names: Iterable[str], registry: Sequence[Entry] = REGISTRY) -> tuple[Entry, ...]:
    """The entries that ``names`` pick, in registry order.

    A theorem's name picks it and its controls; a control's name picks that control;
    a group (``quorum``, ``vclock``, ``lamport``, ``ring``, ``merkle``) picks all of it.

    Raises:
        UnknownProofError: for the first name that matches nothing.
    """
    chosen: set[str] = set()
    for name in names:
        matched = {
            entry.name for entry in registry if name in (entry.name, entry.theorem, entry.group)
        }
        if not matched:
            raise UnknownProofError(name)
        chosen |= matched
    return tuple(entry for entry in registry if entry.name in chosen)


@dataclass(frozen=True)
class ProofRun:
    """The results of one run, in registry order.

    Attributes:
        results: one per entry run.
        seconds: wall time of the whole run.
    """

    results: tuple[ProofResult, ...]
    seconds: float

    @property
    def failures(self) -> tuple[ProofResult, ...]:
        """Rows that did not get their expected status or whose spec replay disagreed."""
        return tuple(result for result in self.results if not result.ok)

    @property
    def ok(self) -> bool:
        """Every theorem proved, every control refuted, every replay agreed, nothing unknown."""
        return bool(self.results) and not self.failures

    def count(self, kind: Kind) -> int:
        return sum(1 for result in self.results if result.kind == kind)


def run(
    entries: Sequence[Entry] = REGISTRY,
    *,
    timeout_ms: int | None = None,
    on_result: Callable[[ProofResult], None] | None = None,
) -> ProofRun:
    """Run the given entries (all by default) and collect their results.

    Args:
        entries: what to run, e.g. from :func:`select`.
        timeout_ms: per solver check; None keeps the default
            (:data:`~dynamokv.proofs.SOLVER_TIMEOUT_MS`).
        on_result: called with each result as soon as it is ready (progress display).
    """
    stopwatch = Stopwatch()
    results: list[ProofResult] = []
    for entry in entries:
        if timeout_ms is None:
            result = entry.check()
        else:
            with solver_timeout(timeout_ms):
                result = entry.check()
        if result.name != entry.name or result.kind != entry.kind:
            raise AssertionError(
                f"{entry.name} returned a result for {result.name} ({result.kind})"
            )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return ProofRun(tuple(results), stopwatch.seconds())
