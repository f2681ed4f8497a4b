"""The nemesis: faults on a real cluster, one window at a time (Jepsen's word for it).

A run alternates quiet periods and *fault windows*. Each window applies one fault, holds
it, and heals it; the kinds rotate through those asked for, and every choice (which nodes,
which split) comes from the run's seed, so a seed names a schedule. Only faults the system
promises to survive are applied, and never more than a minority of the nodes at once
(at most 2 of 5 down or cut off), the condition under which sloppy quorum keeps every key
writable (Dynamo §4.6):

``partition``
    symmetric: a minority cut off from the majority, or one node isolated. On loopback
    through the nodes' peer fault layer; on network-namespace hosts by moving the minority
    to a bridge of its own, or setting an isolated host's bridge port down. A minority of
    two is drawn from the nodes outside some workload key's preference list when it can be:
    then that key's every owner is on the majority side, and a put reaching the minority
    cannot be coordinated there (only owners coordinate), which is what a partition does to
    a client stuck on the wrong side. Without that aim, sloppy quorum absorbs most splits
    and a run might see no failure at all.
``one-way``
    one node's messages to the others are lost while it still hears them (peer fault
    layer), the asymmetric failure a flaky NIC or a bad route causes.
``kill``
    SIGKILL of one or two nodes (a crash: no flush, no goodbye), restarted with their disk
    at the end of the window.
``pause``
    SIGSTOP of one node (a long GC pause, a hung disk), SIGCONT at the end.
``membership``
    a new node joins the ring (``cluster join``: the old owners stream it the partitions it
    takes over while they keep serving) and leaves it again at the end of the window
    (``cluster leave``: it hands every partition back), Dynamo §4.8.1. Not a failure: no
    request need fail, but every acknowledged write must survive both moves. Only the
    carts workload takes it, since a strict quorum's read-your-writes holds only on a
    ring that does not change (the old and new owners share no quorum while data moves).

The window's interval (``start_ns`` to ``end_ns``, on the clock the recorder uses) lets
the report attribute every request to the fault it ran under.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from dynamokv.impl.runtime._local_cluster import LocalCluster
from dynamokv.spec.errors import ArgumentError

__all__ = ["NEMESIS_KINDS", "FaultWindow", "Nemesis"]

NEMESIS_KINDS = ("partition", "one-way", "kill", "pause", "membership")


@dataclass
class FaultWindow:
    """One fault as applied: its kind, what it did, and when (``time.monotonic_ns``)."""

    kind: str
    detail: str
    start_ns: int
    end_ns: int | None = None

    def contains(self, at_ns: int) -> bool:
        """Whether ``at_ns`` falls inside the window (an open window extends to now)."""
        return self.start_ns <= at_ns and (self.end_ns is None or at_ns < self.end_ns)


@dataclass
class Nemesis:
    """Runs the fault windows against ``cluster`` in a thread until :meth:`stop`.

    Args:
        cluster: the running cluster.
        kinds: fault kinds, from :data:`NEMESIS_KINDS`, taken in turn.
        rng: the run's seeded source of every choice.
        fault_seconds: how long each fault is held.
        quiet_seconds: the healthy time before each fault.
        say: called with one line per fault applied or healed.
        preference_lists: the workload keys' preference lists, to aim minorities with.
        deadline: ``time.monotonic()`` after which no new window starts that could not
            run its whole length (a window cut short by the end of a run proves little).
    """

    cluster: LocalCluster
    kinds: tuple[str, ...]
    rng: random.Random
    fault_seconds: float = 6.0
    quiet_seconds: float = 3.0
    say: Callable[[str], None] = lambda _line: None
    preference_lists: list[list[str]] = field(default_factory=list)
    deadline: float = float("inf")
    windows: list[FaultWindow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.kinds if kind not in NEMESIS_KINDS]
        if unknown or not self.kinds:
            raise ArgumentError(
                f"nemesis kinds are {', '.join(NEMESIS_KINDS)}; got {', '.join(self.kinds)}"
            )

    def start(self) -> None:
        """Begin the windows in a background thread."""
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the current window (healing it) and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        index = 0
        # Bounded by stop(): each iteration sleeps quiet_seconds and fault_seconds (each
        # wait returns early once stop() is called) and applies and heals one fault.
        while not self._stop.wait(self.quiet_seconds):
            if time.monotonic() + self.fault_seconds > self.deadline:
                return
            kind = self.kinds[index % len(self.kinds)]
            index += 1
            try:
                self._window(kind)
            except Exception as error:  # a failed fault is reported, not fatal
                self.errors.append(f"{kind}: {error}")
                self.say(f"nemesis: {kind} failed: {error}")
                self._heal_everything()

    def _plan(
        self, kind: str
    ) -> tuple[str, list[Callable[[], object]], list[Callable[[], object]]]:
        """What one window of ``kind`` does: its description, its actions and its heals."""
        cluster = self.cluster
        names = cluster.names
        rng = self.rng
        if kind in ("partition", "kill"):
            size = rng.choice([1, 2]) if len(names) >= 5 else 1
            chosen = rng.sample(names, size)
            if kind == "partition" and size == 2 and self.preference_lists:
                outside = [
                    [name for name in names if name not in preference]
                    for preference in self.preference_lists
                ]
                aimed = [nodes for nodes in outside if len(nodes) >= 2]
                if aimed:
                    chosen = rng.sample(rng.choice(aimed), 2)
            rest = [name for name in names if name not in chosen]
        if kind == "partition":
            if size == 1 and cluster.hosts is not None and rng.random() < 0.5:
                return (
                    f"{chosen[0]} isolated (bridge port down)",
                    [partial(cluster.isolate, chosen[0])],
                    [cluster.heal],
                )
            return (
                f"{','.join(chosen)} | {','.join(rest)}",
                [partial(cluster.partition, [chosen, rest])],
                [cluster.heal],
            )
        if kind == "one-way":
            node = rng.choice(names)
            others = [name for name in names if name != node]
            return (
                f"{node} -> {','.join(others)} lost",
                [partial(cluster.partition, [[node], others], one_way=True)],
                [cluster.heal],
            )
        if kind == "kill":
            return (
                f"SIGKILL {','.join(chosen)}",
                [partial(cluster.kill, victim) for victim in chosen],
                [partial(cluster.restart, victim) for victim in chosen],
            )
        if kind == "membership":
            newcomers: list[str] = []

            def leave_again() -> None:
                for name in newcomers:
                    cluster.leave(name)

            return (
                f"{cluster.next_node_name()} joins, then leaves",
                [lambda: newcomers.append(cluster.join())],
                [leave_again],
            )
        victim = rng.choice(names)
        return (
            f"SIGSTOP {victim}",
            [partial(cluster.pause, victim)],
            [partial(cluster.resume, victim)],
        )

    def _window(self, kind: str) -> None:
        detail, actions, heals = self._plan(kind)
        window = FaultWindow(kind, detail, time.monotonic_ns())
        self.windows.append(window)
        self.say(f"nemesis: {kind}: {detail}")
        try:
            for action in actions:
                action()
            self._stop.wait(self.fault_seconds)
        finally:
            for heal in heals:
                heal()
            window.end_ns = time.monotonic_ns()
            self.say(f"nemesis: healed {kind}")

    def _heal_everything(self) -> None:
        """After a failed window: every node running, resumed and reachable again."""
        cluster = self.cluster
        for name in cluster.names:
            try:
                if cluster.is_paused(name):
                    cluster.resume(name)
                elif not cluster.is_up(name):
                    cluster.restart(name)
            except Exception as error:
                self.errors.append(f"heal {name}: {error}")
        try:
            cluster.heal()
        except Exception as error:
            self.errors.append(f"heal: {error}")
