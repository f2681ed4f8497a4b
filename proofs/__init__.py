"""Z3 theorems about the specifications, each guarded by negative controls.

Why this package exists: the specs in :mod:`dynamokv.spec` are small enough to read,
but reading is not proof. Here each claim the docs make about them (quorums
intersect, vector clocks form a partial order with merge as least upper bound, a
join moves keys only to the new node, the Merkle diff is exact...) is a function
returning a :class:`ProofResult`. Every theorem is registered with at least one
*negative control*, a deliberately wrong variant that must be refuted, so an
encoding that cannot fail is caught. Models are decoded into plain values and
replayed through the spec functions, so the proofs speak about the code.

The package has no terminal or argument-parsing code: ``dynamokv prove``
(``impl/cli/_prove.py``) renders what :func:`run` returns.

Example:
    >>> from dynamokv.proofs import run, select
    >>> run(select(["quorum.read_write_intersect"])).ok
    True
"""

from __future__ import annotations

from ._crosshair import crosshair_check, crosshair_diffbehavior, crosshair_main
from ._lamport import (
    clock_condition,
    clock_condition_control,
    order_does_not_imply_causality,
    order_does_not_imply_causality_control,
    order_does_not_imply_causality_control_vector,
)
from ._merkle import (
    diff_is_complete,
    diff_is_complete_control,
    diff_is_sound,
    diff_is_sound_control,
)
from ._quorum import (
    read_write_intersect,
    read_write_intersect_control,
    sloppy_can_miss_strict,
    sloppy_can_miss_strict_control,
    sloppy_can_miss_strict_control_strict,
    sloppy_equals_strict_when_healthy,
    sloppy_equals_strict_when_healthy_control,
    write_write_intersect,
    write_write_intersect_control,
)
from ._registry import REGISTRY, Entry, ProofRun, UnknownProofError, run, select
from ._result import SOLVER_TIMEOUT_MS, Kind, ProofResult, Replay, Status, solver_timeout
from ._ring import (
    join_moves_keys_only_to_new_node,
    join_moves_keys_only_to_new_node_control,
    partitions_are_equal_intervals,
    partitions_are_equal_intervals_control,
)
from ._vclock import (
    compare_exactly_one,
    compare_exactly_one_control,
    descends_antisymmetric,
    descends_antisymmetric_control,
    descends_reflexive,
    descends_reflexive_control,
    descends_transitive,
    descends_transitive_control,
    increment_dominates,
    increment_dominates_control,
    merge_is_least_upper_bound,
    merge_is_least_upper_bound_control,
    merge_max,
    merge_min,
    truncation_can_order_concurrent,
    truncation_can_order_concurrent_control,
    truncation_can_order_concurrent_control_no_truncation,
)

__all__ = [
    "REGISTRY",
    "SOLVER_TIMEOUT_MS",
    "Entry",
    "Kind",
    "ProofResult",
    "ProofRun",
    "Replay",
    "Status",
    "UnknownProofError",
    "clock_condition",
    "clock_condition_control",
    "compare_exactly_one",
    "compare_exactly_one_control",
    "crosshair_check",
    "crosshair_diffbehavior",
    "crosshair_main",
    "descends_antisymmetric",
    "descends_antisymmetric_control",
    "descends_reflexive",
    "descends_reflexive_control",
    "descends_transitive",
    "descends_transitive_control",
    "diff_is_complete",
    "diff_is_complete_control",
    "diff_is_sound",
    "diff_is_sound_control",
    "increment_dominates",
    "increment_dominates_control",
    "join_moves_keys_only_to_new_node",
    "join_moves_keys_only_to_new_node_control",
    "merge_is_least_upper_bound",
    "merge_is_least_upper_bound_control",
    "merge_max",
    "merge_min",
    "order_does_not_imply_causality",
    "order_does_not_imply_causality_control",
    "order_does_not_imply_causality_control_vector",
    "partitions_are_equal_intervals",
    "partitions_are_equal_intervals_control",
    "read_write_intersect",
    "read_write_intersect_control",
    "run",
    "select",
    "sloppy_can_miss_strict",
    "sloppy_can_miss_strict_control",
    "sloppy_can_miss_strict_control_strict",
    "sloppy_equals_strict_when_healthy",
    "sloppy_equals_strict_when_healthy_control",
    "solver_timeout",
    "truncation_can_order_concurrent",
    "truncation_can_order_concurrent_control",
    "truncation_can_order_concurrent_control_no_truncation",
    "write_write_intersect",
    "write_write_intersect_control",
]
