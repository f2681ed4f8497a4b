"""The value every theorem and control returns, and the few solver calls they share.

A row of the proof table is a *claim* checked by Z3. A universal claim ("for all N,
R + W > N implies intersection") is proved when its negation is unsatisfiable and
refuted by a model of the negation: the counterexample. An existential claim (an
*exhibit*, such as "a sloppy quorum can miss the strict one") is proved by a model:
the witness. Either way, a satisfying model is decoded into plain Python values and
*replayed through the spec*, so a proof about a formula is also a statement about the
code that readers run. The replay's verdict is part of the result: a proof whose
witness the spec does not reproduce is a failed row, not a proved one.

Every solver call has a timeout. ``unknown`` is never treated as success.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import z3

__all__ = [
    "SOLVER_TIMEOUT_MS",
    "Kind",
    "ProofResult",
    "Replay",
    "SolverOutcome",
    "Status",
    "Stopwatch",
    "check_exists",
    "check_forall",
    "model_bool",
    "model_int",
    "new_solver",
    "result_from",
    "solver_timeout",
]

SOLVER_TIMEOUT_MS = 20_000
"""Per solver check, by default. All rows together finish in seconds; this only stops a hang."""

_timeout_ms: contextvars.ContextVar[int] = contextvars.ContextVar(
    "solver_timeout_ms", default=SOLVER_TIMEOUT_MS
)


@contextlib.contextmanager
def solver_timeout(milliseconds: int) -> Iterator[None]:
    """Within the block, every solver check gives up after ``milliseconds`` (status unknown)."""
    token = _timeout_ms.set(milliseconds)
    try:
        yield
    finally:
        _timeout_ms.reset(token)


Kind = Literal["theorem", "control"]


class Status(enum.StrEnum):
    """What Z3 said about a claim."""

    PROVED = "proved"
    """Universal claim: no counterexample exists. Exhibit: a witness was found."""
    REFUTED = "refuted"
    """Universal claim: a counterexample was found. Exhibit: no witness exists."""
    UNKNOWN = "unknown"
    """The solver gave up or timed out: always a failure."""


@dataclass(frozen=True)
class Replay:
    """The outcome of running a decoded model (or a bounded exhaustive check) through the spec.

    Attributes:
        agreed: whether the spec reproduced what Z3 claimed.
        detail: one sentence saying what was replayed and what the spec answered.
    """

    agreed: bool
    detail: str


@dataclass(frozen=True)
class ProofResult:
    """One row of the proof table.

    Attributes:
        name: the registry name, e.g. ``"quorum.read_write_intersect"``.
        kind: ``"theorem"`` (must be proved) or ``"control"`` (a deliberately wrong
            variant that must be refuted, or the theorem's encoding cannot fail).
        claim: the statement checked, in one sentence.
        scope: for which sizes it was checked: ``"all N"``, ``"up to depth 4"``...
        status: proved, refuted or unknown.
        seconds: wall time of the solver calls and the replay.
        counterexample: the decoded counterexample of a refuted claim, else None.
        witness: the decoded witness of a proved exhibit, else None.
        replay: the spec replay, or None when there was nothing to replay.
        reference: where the claim comes from, e.g. ``"Dynamo §4.5"``.
        note: why the row failed or what was unusual (a timeout), else None.
    """

    name: str
    kind: Kind
    claim: str
    scope: str
    status: Status
    seconds: float
    counterexample: str | None = None
    witness: str | None = None
    replay: Replay | None = None
    reference: str = ""
    note: str | None = None

    @property
    def expected(self) -> Status:
        """The status this row must have: theorems are proved, controls refuted."""
        return Status.PROVED if self.kind == "theorem" else Status.REFUTED

    @property
    def ok(self) -> bool:
        """Whether the row passes: the expected status, and the spec replay (if any) agreed."""
        replay_ok = self.replay is None or self.replay.agreed
        return self.status is self.expected and replay_ok


@dataclass(frozen=True)
class SolverOutcome:
    """The raw answer of one check: a status and, when satisfiable, the model."""

    status: Status
    model: z3.ModelRef | None
    reason: str | None = None


def new_solver() -> z3.Solver:
    """A solver with the current timeout (see :func:`solver_timeout`)."""
    solver = z3.Solver()
    solver.set("timeout", _timeout_ms.get())
    return solver


def _check(formulas: Iterable[z3.BoolRef], *, sat_means: Status) -> SolverOutcome:
    formulas = tuple(formulas)
    solver = new_solver()
    solver.add(*formulas)
    answer = solver.check()
    if answer == z3.unknown and solver.reason_unknown() in ("timeout", "canceled"):
        # A check that takes milliseconds once came back "timeout" in a test-suite run
        # on a loaded machine; a fresh solver answers it. A check that really needs the
        # time gives up twice.
        solver = new_solver()
        solver.add(*formulas)
        answer = solver.check()
    if answer == z3.sat:
        return SolverOutcome(sat_means, solver.model())
    if answer == z3.unsat:
        other = Status.REFUTED if sat_means is Status.PROVED else Status.PROVED
        return SolverOutcome(other, None)
    return SolverOutcome(Status.UNKNOWN, None, solver.reason_unknown())


def check_forall(
    claim: z3.BoolRef,
    *,
    assuming: Iterable[z3.BoolRef] = (),
) -> SolverOutcome:
    """Check a universal claim under background assumptions.

    The claim is proved when ``assuming and not claim`` is unsatisfiable; a model
    of it is a counterexample (status refuted, model kept for decoding).
    """
    return _check([*assuming, z3.Not(claim)], sat_means=Status.REFUTED)


def check_exists(
    witness: z3.BoolRef,
    *,
    assuming: Iterable[z3.BoolRef] = (),
) -> SolverOutcome:
    """Check an existential claim (an exhibit): proved by a model of ``assuming and witness``."""
    return _check([*assuming, witness], sat_means=Status.PROVED)


class Stopwatch:
    """Wall time since construction, for :attr:`ProofResult.seconds`."""

    def __init__(self) -> None:
        self._start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self._start


def result_from(
    outcome: SolverOutcome,
    *,
    name: str,
    kind: Kind,
    claim: str,
    scope: str,
    reference: str,
    stopwatch: Stopwatch,
    decode: Callable[[z3.ModelRef], tuple[str, Replay | None]] | None = None,
    replay_when_proved: Callable[[], Replay] | None = None,
    replay_when_refuted: Callable[[], Replay] | None = None,
) -> ProofResult:
    """Build a :class:`ProofResult` from a solver outcome.

    Args:
        outcome: what the solver answered.
        name: registry name.
        kind: theorem or control.
        claim: the statement, one sentence.
        scope: the sizes it covers.
        reference: the paper section or interview question.
        stopwatch: started before the first solver call.
        decode: turns a model into text and replays it through the spec. For a
            universal claim the model is a counterexample, for an exhibit a witness.
        replay_when_proved: a bounded exhaustive check of the same law against the
            spec, run when a universal claim is proved (no model to replay).
        replay_when_refuted: the same for an exhibit that has no witness: a bounded
            exhaustive check that the spec never shows the behaviour either.
    """
    text: str | None = None
    replay: Replay | None = None
    if outcome.model is not None and decode is not None:
        text, replay = decode(outcome.model)
    elif outcome.model is None and outcome.status is Status.PROVED and replay_when_proved:
        replay = replay_when_proved()
    elif outcome.model is None and outcome.status is Status.REFUTED and replay_when_refuted:
        replay = replay_when_refuted()
    is_witness = outcome.status is Status.PROVED and outcome.model is not None
    note = None
    if outcome.status is Status.UNKNOWN:
        note = f"solver gave up: {outcome.reason}"
    elif outcome.status is Status.REFUTED and outcome.model is None:
        note = "no witness exists"
    return ProofResult(
        name=name,
        kind=kind,
        claim=claim,
        scope=scope,
        status=outcome.status,
        seconds=stopwatch.seconds(),
        counterexample=None if is_witness else text,
        witness=text if is_witness else None,
        replay=replay,
        reference=reference,
        note=note,
    )


def model_int(model: z3.ModelRef, term: Any) -> int:
    """The integer value of ``term`` in ``model`` (model completion on)."""
    value = model.eval(term, model_completion=True)
    return int(value.as_long())


def model_bool(model: z3.ModelRef, term: Any) -> bool:
    """The Boolean value of ``term`` in ``model`` (model completion on)."""
    return bool(z3.is_true(model.eval(term, model_completion=True)))
