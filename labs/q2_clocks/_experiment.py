"""The experiment of lab q2: what Lamport timestamps and vector clocks say about concurrency.

Random message histories are generated under the run's seed: in each step one process
has an event, which may receive a message another process sent earlier, and may
send one. Happened-before is known exactly, from the history itself (each event's
set of causal predecessors), independently of any clock. The solution's clocks are
then computed over the history (its ``increment``/``merge`` at every event, its
``lamport_increment``/``lamport_receive``) and every pair of events is classified.

Theory: a Lamport clock keeps the clock condition (a → b ⇒ C(a) < C(b)) but orders
pairs that are concurrent: ordered by (C, process id), as last-write-wins must,
*every* concurrent pair looks ordered. A vector clock classifies every pair exactly
(Dynamo §4.4). Truncating clocks to 10 entries (Dynamo §4.4) is harmless while at
most 10 processes write; with more, "the descendant relationships cannot be derived
accurately": some causally ordered pairs start to look concurrent (false siblings).
In this model a concurrent pair never looks ordered, because a process's own entry
is the newest of its clock and truncation never drops it (a concurrent pair differs
in that entry); the Z3 exhibit ``vclock.truncation_can_order_concurrent`` shows
clocks whose stamps do not follow one process's events, where it can.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dynamokv.spec import vclock as spec_vclock
from dynamokv.spec.vclock import Order

from .._model import ExperimentContext, ExperimentReport, ExperimentRow

HISTORIES = 8
PROCESSES = 6
EVENTS_PER_PROCESS = 10
RECEIVE_PROBABILITY = 0.5
RECENT_SENDS = 3
TRUNCATION_THRESHOLD = spec_vclock.TRUNCATION_THRESHOLD
WRITERS = (2, 5, 10, 15, 20, 30)
TRUNCATION_EVENTS_PER_WRITER = 5
TRUNCATION_HISTORIES = 2


@dataclass
class _Event:
    process: int
    index: int
    step: int
    sender: int | None  # the global id of the event whose message this one receives
    ancestors: frozenset[int]  # every event that happened before this one, itself excluded


def _history(rng: random.Random, processes: int, events_per_process: int) -> list[_Event]:
    """A random history; events are numbered in the order they happen.

    At each step a random process (with events left) has an event; with
    ``RECEIVE_PROBABILITY`` the event receives the message sent by one of the last
    ``RECENT_SENDS`` events of other processes (news travels while it is fresh).
    """
    events: list[_Event] = []
    last: dict[int, int] = {}
    done = dict.fromkeys(range(processes), 0)
    step = 0
    while any(count < events_per_process for count in done.values()):
        process = rng.choice([p for p, count in done.items() if count < events_per_process])
        recent = range(max(0, len(events) - RECENT_SENDS), len(events))
        candidates = [e for e in recent if events[e].process != process]
        sender: int | None = None
        if candidates and rng.random() < RECEIVE_PROBABILITY:
            sender = rng.choice(candidates)
        ancestors: set[int] = set()
        if process in last:
            ancestors |= events[last[process]].ancestors | {last[process]}
        if sender is not None:
            ancestors |= events[sender].ancestors | {sender}
        events.append(_Event(process, done[process], step, sender, frozenset(ancestors)))
        last[process] = len(events) - 1
        done[process] += 1
        step += 1
    return events


def _truth(events: list[_Event], a: int, b: int) -> Order:
    if a in events[b].ancestors:
        return Order.BEFORE
    if b in events[a].ancestors:
        return Order.AFTER
    return Order.CONCURRENT


def _vector_clocks(
    events: list[_Event], solution: Mapping[str, Callable[..., Any]], *, threshold: int | None
) -> list[dict[str, int]]:
    clocks: list[dict[str, int]] = []
    last: dict[int, int] = {}
    stamp_of: dict[tuple[str, int], int] = {}
    for event in events:
        node = f"p{event.process}"
        start: dict[str, int] = dict(clocks[last[event.process]]) if event.process in last else {}
        if event.sender is not None:
            start = dict(solution["merge"](start, clocks[event.sender]))
        clock = dict(solution["increment"](start, node))
        stamp_of[(node, clock.get(node, 0))] = event.step
        if threshold is not None and len(clock) > threshold:
            stamps = {n: stamp_of.get((n, c), -1) for n, c in clock.items()}
            clock = spec_vclock.truncate(clock, stamps, threshold)
        clocks.append(clock)
        last[event.process] = len(clocks) - 1
    return clocks


def _lamport(events: list[_Event], solution: Mapping[str, Callable[..., Any]]) -> list[int]:
    stamps: list[int] = []
    last: dict[int, int] = {}
    for event in events:
        previous = stamps[last[event.process]] if event.process in last else 0
        if event.sender is not None:
            stamp = solution["lamport_receive"](previous, stamps[event.sender])
        else:
            stamp = solution["lamport_increment"](previous)
        stamps.append(stamp)
        last[event.process] = len(stamps) - 1
    return stamps


@dataclass
class _Counts:
    pairs: int = 0
    concurrent: int = 0
    lamport_ordered: int = 0
    lamport_distinct: int = 0
    clock_condition_broken: int = 0
    vector_wrong: int = 0
    concurrent_looking_ordered: int = 0
    causal: int = 0
    causal_looking_concurrent: int = 0


def _classify(
    events: list[_Event],
    solution: Mapping[str, Callable[..., Any]],
    counts: _Counts,
    *,
    threshold: int | None,
) -> None:
    clocks = _vector_clocks(events, solution, threshold=threshold)
    lamport = _lamport(events, solution) if threshold is None else []
    compare = solution["compare"]
    for a in range(len(events)):
        for b in range(a + 1, len(events)):
            truth = _truth(events, a, b)
            seen = compare(clocks[a], clocks[b])
            counts.pairs += 1
            if truth is Order.CONCURRENT:
                counts.concurrent += 1
                if seen is not Order.CONCURRENT:
                    counts.concurrent_looking_ordered += 1
            else:
                counts.causal += 1
                if seen is Order.CONCURRENT:
                    counts.causal_looking_concurrent += 1
            if seen is not truth:
                counts.vector_wrong += 1
            if threshold is not None:
                continue
            key_a = (lamport[a], events[a].process)
            key_b = (lamport[b], events[b].process)
            if truth is Order.CONCURRENT:
                counts.lamport_ordered += key_a != key_b
                counts.lamport_distinct += lamport[a] != lamport[b]
            elif (truth is Order.BEFORE and lamport[a] >= lamport[b]) or (
                truth is Order.AFTER and lamport[b] >= lamport[a]
            ):
                counts.clock_condition_broken += 1


def _fraction(part: int, whole: int) -> str:
    return f"{part:,}/{whole:,} ({100 * part / whole:.1f}%)" if whole else "0/0"


def run(ctx: ExperimentContext) -> ExperimentReport:
    """Classify every pair of events of random histories, with and without truncation."""
    rng = random.Random(ctx.seed)
    counts = _Counts()
    for _ in range(HISTORIES):
        _classify(
            _history(rng, PROCESSES, EVENTS_PER_PROCESS), ctx.solution, counts, threshold=None
        )
    rows = [
        ExperimentRow(
            "concurrent pairs Lamport (C, process) presents as ordered",
            _fraction(counts.lamport_ordered, counts.concurrent),
            "all of them",
            "exactly",
            counts.lamport_ordered == counts.concurrent and counts.concurrent > 0,
        ),
        ExperimentRow(
            "concurrent pairs with different Lamport timestamps",
            _fraction(counts.lamport_distinct, counts.concurrent),
            "most of them",
            "for information",
            True,
            judged=False,
        ),
        ExperimentRow(
            "causal pairs a → b with C(a) ≥ C(b) (clock condition broken)",
            f"{counts.clock_condition_broken:,}",
            "0",
            "exactly",
            counts.clock_condition_broken == 0,
        ),
        ExperimentRow(
            "pairs the vector clocks misclassify",
            _fraction(counts.vector_wrong, counts.pairs),
            "0",
            "exactly",
            counts.vector_wrong == 0,
        ),
    ]
    for writers in WRITERS:
        truncated = _Counts()
        for _ in range(TRUNCATION_HISTORIES):
            history = _history(rng, writers, TRUNCATION_EVENTS_PER_WRITER)
            _classify(history, ctx.solution, truncated, threshold=TRUNCATION_THRESHOLD)
        beyond = writers > TRUNCATION_THRESHOLD
        lost = truncated.causal_looking_concurrent
        rows.append(
            ExperimentRow(
                f"{writers} writers, clocks truncated to {TRUNCATION_THRESHOLD}: "
                "causal pairs that look concurrent",
                _fraction(lost, truncated.causal),
                "some (> 0)" if beyond else "0",
                "> 0" if beyond else "exactly",
                lost > 0 if beyond else lost == 0,
            )
        )
        rows.append(
            ExperimentRow(
                f"{writers} writers, truncated: concurrent pairs that look ordered",
                _fraction(truncated.concurrent_looking_ordered, truncated.concurrent),
                "0",
                "exactly",
                truncated.concurrent_looking_ordered == 0,
            )
        )
    notes = (
        f"{HISTORIES} histories of {PROCESSES} processes × {EVENTS_PER_PROCESS} events "
        f"({counts.pairs:,} pairs, {counts.concurrent:,} concurrent), receive probability "
        f"{RECEIVE_PROBABILITY}, seed {ctx.seed}",
        f"truncation: {TRUNCATION_HISTORIES} histories per writer count, "
        f"{TRUNCATION_EVENTS_PER_WRITER} events per writer, the entries with the oldest stamps "
        "dropped (Dynamo §4.4, spec.vclock.truncate)",
        "a process's own entry is its newest and is never dropped, so here truncation only "
        "loses descendant relationships (false siblings, as Dynamo §4.4 warns); with stamps "
        "that do not follow one process's events it can also order concurrent clocks "
        "(the exhibit vclock.truncation_can_order_concurrent)",
    )
    return ExperimentReport("Lamport timestamps against vector clocks", tuple(rows), notes)
