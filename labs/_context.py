"""What a check or an experiment is given: the solution, the answer key, the seed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._model import Lab
from ._solution import SolutionSource

__all__ = ["CheckContext", "ExperimentContext"]


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
        quick: a cheaper run (selftest's ``--quick``): fewer examples, smaller simulations.
    """

    lab: Lab
    solution: Mapping[str, Callable[..., Any]]
    answer: Mapping[str, Callable[..., Any]]
    seed: int
    source: SolutionSource
    quick: bool = False


@dataclass(frozen=True)
class ExperimentContext:
    """Everything an experiment needs: the functions measured and the seed.

    Attributes:
        lab: the lab's manifest.
        solution: the functions measured, by name.
        answer: the answer key's functions, by the same names.
        seed: the seed of every random choice of the measurement.
        quick: a smaller measurement (tests), with the tolerances widened to match.
    """

    lab: Lab
    solution: Mapping[str, Callable[..., Any]]
    answer: Mapping[str, Callable[..., Any]]
    seed: int
    quick: bool = False
