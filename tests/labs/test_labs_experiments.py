"""Each experiment judges the answer key within its tolerance and its named mutant outside.

Without the second half a tolerance could be wide enough to pass a wrong answer.
"""

from __future__ import annotations

import pytest
from dynamokv.labs import LABS, answer_source, mutants_of, run_experiment

SEED = 1


@pytest.mark.parametrize("name", list(LABS))
def test_the_answer_key_lies_within_every_tolerance(name: str) -> None:
    report = run_experiment(LABS[name], answer_source(), seed=SEED)
    outside = [row for row in report.rows if row.judged and not row.within]
    assert report.within and not outside, outside


@pytest.mark.parametrize(
    ("name", "mutant_name"),
    [(name, mutant) for name, lab in LABS.items() for mutant in lab.experiment.mutants],
)
def test_each_named_mutant_falls_outside_a_tolerance(name: str, mutant_name: str) -> None:
    lab = LABS[name]
    mutant = next(m for m in mutants_of(lab) if m.name == mutant_name)
    report = run_experiment(lab, mutant.source(), seed=SEED)
    assert not report.within
    assert any(row.judged and not row.within for row in report.rows)
