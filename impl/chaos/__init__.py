"""Jepsen-style tests of a real cluster: a client workload, a nemesis, and the checkers.

``dynamokv chaos`` runs :func:`run_chaos`: real node processes (on loopback or on
network-namespace hosts), client threads doing shopping-cart adds (union against
last-write-wins) or register reads and writes under a strict quorum, and a nemesis that
partitions, kills and pauses nodes in turn (``_nemesis.py``). Every request is recorded
(``_recorder.py``) and judged by the simulator's own history checkers
(:class:`~dynamokv.impl.sim.History`), and the carts by the acknowledged items they lost.

Modules are private; this package re-exports their public names.
"""

from __future__ import annotations

from ._nemesis import NEMESIS_KINDS, FaultWindow, Nemesis
from ._recorder import Recorder, dot_of
from ._run import (
    WORKLOADS,
    ChaosConfig,
    ChaosReport,
    cluster_client_factory,
    run_chaos,
    stored_versions,
)
from ._workloads import AddRecord, cart_items, resolve_items

__all__ = [
    "NEMESIS_KINDS",
    "WORKLOADS",
    "AddRecord",
    "ChaosConfig",
    "ChaosReport",
    "FaultWindow",
    "Nemesis",
    "Recorder",
    "cart_items",
    "cluster_client_factory",
    "dot_of",
    "resolve_items",
    "run_chaos",
    "stored_versions",
]
