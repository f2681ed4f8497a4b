"""The deterministic cluster simulator (``impl/sim``).

Many :class:`dynamokv.impl.core.Node` cores in one process under one seed: a
simulated network (delays, loss, duplication, reordering, symmetric and
asymmetric partitions), disks that lose unsynced writes on a crash, a zipfian
shopping-cart workload, a history recorder and checkers for the properties of
the contract (docs/architecture.md). The same seed gives the same run, byte for byte
(:attr:`Cluster.trace_hash`). ``dynamokv sim`` is its command line;
:mod:`~dynamokv.impl.sim._scenario` runs the readable scenario scripts.
"""

from __future__ import annotations

from ._checkers import History, OpRecord
from ._disk import SimDisk
from ._explore import ExploreConfig, ExploreReport, Operation, Violation, explore
from ._ladder import render_ladder
from ._planted import PLANTED_BUGS
from ._scenario import ScenarioError, run_scenario
from ._simulate import (
    DEFAULT_FAULTS,
    FAULTS,
    STORAGES,
    SimConfig,
    SimReport,
    read_your_writes_checked,
    simulate,
)
from ._simulated_cluster import MEMBERSHIPS, Cluster, DelaySampler, NetworkConfig, TraceEntry
from ._store_disk import StoreDisk

__all__ = [
    "DEFAULT_FAULTS",
    "FAULTS",
    "MEMBERSHIPS",
    "PLANTED_BUGS",
    "STORAGES",
    "Cluster",
    "DelaySampler",
    "ExploreConfig",
    "ExploreReport",
    "History",
    "NetworkConfig",
    "OpRecord",
    "Operation",
    "ScenarioError",
    "SimConfig",
    "SimDisk",
    "SimReport",
    "StoreDisk",
    "TraceEntry",
    "Violation",
    "explore",
    "read_your_writes_checked",
    "render_ladder",
    "run_scenario",
    "simulate",
]
