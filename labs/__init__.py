"""The teaching workbench: labs that rebuild Dynamo's core ideas, graded by the project.

Each lab answers one interview question (q1 the ring, q2 clocks, q3 quorums, ...)
in a folder of its own: a README, a skeleton the learner fills in, tiered checks
(paper cases, Hypothesis differentials, CrossHair ``diffbehavior``, simulation
under faults), hints, planted wrong solutions (``mutants/``) and an experiment
that measures the learner's code against theory. The answer key is the project's
own spec and core code, named in each manifest: never a second copy.

This package has no terminal code: ``dynamokv lab`` (``impl/cli/_lab.py``)
renders what :func:`run_lab`, :func:`run_experiment` and :func:`selftest_lab`
return.

Example:
    >>> from dynamokv.labs import LABS
    >>> list(LABS)[0]
    'q1'
"""

from __future__ import annotations

from ._hints import HintChoice, HintOutcome, choose_hint, functions_not_passing, hint_function
from ._model import (
    Check,
    CheckContext,
    CheckResult,
    Experiment,
    ExperimentContext,
    ExperimentReport,
    ExperimentRow,
    Lab,
    LabReport,
    Part,
    Status,
    Tier,
    Verdict,
    to_json_value,
)
from ._registry import LABS, UnknownLabError, get_lab
from ._runner import ExperimentFailure, check_selection, run_experiment, run_lab
from ._selftest import (
    SELFTEST_SEEDS_FULL,
    SELFTEST_SEEDS_QUICK,
    Mutant,
    SelftestRow,
    answer_source,
    mutants_of,
    selftest_lab,
    skeleton_source,
)
from ._solution import (
    LearnerError,
    NotImplementedYet,
    SolutionSource,
    load_answer_key,
    load_solution,
)
from ._workspace import (
    DEFAULT_WORKSPACE,
    Stamp,
    WorkspaceError,
    lab_files_hash,
    lab_folder,
    parts_passed,
    project_version,
    read_stamp,
    record_check,
    reset_workspace,
    skeleton_path,
    staleness_warnings,
    start_workspace,
    workspace_file,
    workspace_flag,
    write_stamp,
)

__all__ = [
    "DEFAULT_WORKSPACE",
    "LABS",
    "SELFTEST_SEEDS_FULL",
    "SELFTEST_SEEDS_QUICK",
    "Check",
    "CheckContext",
    "CheckResult",
    "Experiment",
    "ExperimentContext",
    "ExperimentFailure",
    "ExperimentReport",
    "ExperimentRow",
    "HintChoice",
    "HintOutcome",
    "Lab",
    "LabReport",
    "LearnerError",
    "Mutant",
    "NotImplementedYet",
    "Part",
    "SelftestRow",
    "SolutionSource",
    "Stamp",
    "Status",
    "Tier",
    "UnknownLabError",
    "Verdict",
    "WorkspaceError",
    "answer_source",
    "check_selection",
    "choose_hint",
    "functions_not_passing",
    "get_lab",
    "hint_function",
    "lab_files_hash",
    "lab_folder",
    "load_answer_key",
    "load_solution",
    "mutants_of",
    "parts_passed",
    "project_version",
    "read_stamp",
    "record_check",
    "reset_workspace",
    "run_experiment",
    "run_lab",
    "selftest_lab",
    "skeleton_path",
    "skeleton_source",
    "staleness_warnings",
    "start_workspace",
    "to_json_value",
    "workspace_file",
    "workspace_flag",
    "write_stamp",
]
