"""Lamport clocks against vector clocks (interview Q2).

Why this is here: interview question Q2 asks how vector clocks differ from Lamport
timestamps.
A Lamport clock is one integer per event; it satisfies the *clock condition* (if a
happened before b then C(a) < C(b)) but not its converse, so ordering versions by
it silently picks a winner between concurrent writes. Vector clocks, as specified in
:mod:`dynamokv.spec.vclock`, characterise happened-before exactly.

The encoding is a bounded history: ``PROCESSES`` processes with ``EVENTS`` events
each; every event may receive the message sent by one event of another process.
Happened-before is the transitive closure of program order and message edges,
unrolled as a Boolean matrix (Floyd–Warshall); histories with a causal cycle are
excluded. Witnesses are replayed through the spec: the decoded history is run with
:func:`~dynamokv.spec.vclock.increment` and :func:`~dynamokv.spec.vclock.merge`, and
:func:`~dynamokv.spec.vclock.compare` must call the two events concurrent; its Lamport
timestamps are recomputed with :func:`~dynamokv.spec.lamport.increment` and
:func:`~dynamokv.spec.lamport.receive` and must equal the model's.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import z3
from dynamokv.spec import lamport as spec_lamport
from dynamokv.spec import vclock as spec_vclock

from ._result import (
    Kind,
    ProofResult,
    Replay,
    Stopwatch,
    check_exists,
    check_forall,
    model_bool,
    model_int,
    result_from,
)

__all__ = [
    "clock_condition",
    "clock_condition_control",
    "order_does_not_imply_causality",
    "order_does_not_imply_causality_control",
    "order_does_not_imply_causality_control_vector",
]

REFERENCE = "interview Q2"
PROCESSES = 2
EVENTS = 3
SPEC_CHECK_EVENTS = 2
"""The clock condition is replayed on every history of 2 processes × 2 events."""

Event = tuple[int, int]
"""(process, index within the process)."""


def _events(events: int = EVENTS) -> list[Event]:
    return [(p, i) for p in range(PROCESSES) for i in range(events)]


class _History:
    """A symbolic bounded history with Lamport clocks and happened-before.

    Args:
        receive_ignores_own_clock: plant the classic bug in the receive rule,
            ``C = C(send) + 1`` instead of ``max(C(previous), C(send)) + 1``.
    """

    def __init__(self, *, receive_ignores_own_clock: bool = False) -> None:
        self.events = _events()
        index = {e: k for k, e in enumerate(self.events)}
        count = len(self.events)
        # receives[k][j]: event k receives the message sent at event j (another process).
        self.receives = [
            [
                z3.Bool(f"recv_{k}_{j}")
                if self.events[k][0] != self.events[j][0]
                else z3.BoolVal(False)
                for j in range(count)
            ]
            for k in range(count)
        ]
        self.clock = [z3.Int(f"C_{p}_{i}") for p, i in self.events]
        self.constraints: list[z3.BoolRef] = []
        for k, (p, i) in enumerate(self.events):
            # At most one message per receive event.
            self.constraints.append(z3.AtMost(*self.receives[k], 1))
            previous = self.clock[index[(p, i - 1)]] if i > 0 else z3.IntVal(0)
            rule = previous + 1
            for j in range(count):
                sent = self.clock[j]
                if receive_ignores_own_clock:
                    on_receive = sent + 1
                else:
                    on_receive = z3.If(sent > previous, sent, previous) + 1
                rule = z3.If(self.receives[k][j], on_receive, rule)
            self.constraints.append(self.clock[k] == rule)
        # Happened-before: transitive closure of program order and message edges.
        hb = [
            [
                z3.BoolVal(a[0] == b[0] and a[1] < b[1]) if a[0] == b[0] else self.receives[kb][ka]
                for kb, b in enumerate(self.events)
            ]
            for ka, a in enumerate(self.events)
        ]
        for via in range(count):
            hb = [
                [z3.Or(hb[x][y], z3.And(hb[x][via], hb[via][y])) for y in range(count)]
                for x in range(count)
            ]
        self.happened_before = hb
        self.constraints.extend(z3.Not(hb[k][k]) for k in range(count))

    def decode(self, model: z3.ModelRef) -> tuple[dict[Event, Event], dict[Event, int]]:
        messages = {
            self.events[k]: self.events[j]
            for k in range(len(self.events))
            for j in range(len(self.events))
            if model_bool(model, self.receives[k][j])
        }
        clocks = {e: model_int(model, c) for e, c in zip(self.events, self.clock, strict=True)}
        return messages, clocks


Receives = list[list[z3.BoolRef]]
"""``receives[k][j]``: event ``k`` receives the message sent at event ``j``."""


def _free_receives(prefix: str) -> Receives:
    """Fresh message variables: any event may receive from one event of another process."""
    events = _events()
    return [
        [
            z3.Bool(f"{prefix}_{k}_{j}") if events[k][0] != events[j][0] else z3.BoolVal(False)
            for j in range(len(events))
        ]
        for k in range(len(events))
    ]


class _VectorHistory:
    """Vector and Lamport clocks over a bounded history, happened-before left implicit.

    Each event's vector clock is its predecessor's (merged with the sender's on a
    receive) with its own entry plus one; its Lamport clock follows Lamport's rule.
    A causal cycle would need an entry larger than itself, so none survives.

    Args:
        receives: the message variables (fresh, or the theorem's to share its history).
        prefix: variable names, so that two encodings never share a variable.
    """

    def __init__(self, receives: Receives, *, prefix: str) -> None:
        self.events = _events()
        self.receives = receives
        index = {e: k for k, e in enumerate(self.events)}
        count = len(self.events)
        self.vector = [
            [z3.Int(f"{prefix}V_{p}_{i}_{q}") for q in range(PROCESSES)] for p, i in self.events
        ]
        self.lamport = [z3.Int(f"{prefix}L_{p}_{i}") for p, i in self.events]
        self.constraints: list[z3.BoolRef] = []
        for k, (p, i) in enumerate(self.events):
            self.constraints.append(z3.AtMost(*receives[k], 1))
            if i > 0:
                previous = self.vector[index[(p, i - 1)]]
                previous_lamport: z3.ArithRef = self.lamport[index[(p, i - 1)]]
            else:
                previous = [z3.IntVal(0)] * PROCESSES
                previous_lamport = z3.IntVal(0)
            base = list(previous)
            lamport_base = previous_lamport
            for j in range(count):
                sent = self.vector[j]
                base = [
                    z3.If(
                        receives[k][j], z3.If(sent[q] > previous[q], sent[q], previous[q]), base[q]
                    )
                    for q in range(PROCESSES)
                ]
                lamport_base = z3.If(
                    receives[k][j],
                    z3.If(self.lamport[j] > previous_lamport, self.lamport[j], previous_lamport),
                    lamport_base,
                )
            for q in range(PROCESSES):
                self.constraints.append(self.vector[k][q] == base[q] + (1 if q == p else 0))
            self.constraints.append(self.lamport[k] == lamport_base + 1)

    def before(self, a: int, b: int) -> z3.BoolRef:
        """``VC(a) < VC(b)``: at most in every entry, and not equal."""
        return z3.And(
            *(self.vector[a][q] <= self.vector[b][q] for q in range(PROCESSES)),
            z3.Or([self.vector[a][q] < self.vector[b][q] for q in range(PROCESSES)]),
        )

    def decode(self, model: z3.ModelRef) -> tuple[dict[Event, Event], dict[Event, int]]:
        messages = {
            self.events[k]: self.events[j]
            for k in range(len(self.events))
            for j in range(len(self.events))
            if model_bool(model, self.receives[k][j])
        }
        clocks = {e: model_int(model, c) for e, c in zip(self.events, self.lamport, strict=True)}
        return messages, clocks


def _node(process: int) -> str:
    return f"p{process}"


def vector_clocks(messages: dict[Event, Event], events: int) -> dict[Event, dict[str, int]]:
    """Run a history through the spec: increment at every event, merge on receive."""
    result: dict[Event, dict[str, int]] = {}
    pending = [(p, i) for i in range(events) for p in range(PROCESSES)]
    while pending:
        progressed = False
        for event in list(pending):
            p, i = event
            previous = result.get((p, i - 1)) if i > 0 else {}
            sender = messages.get(event)
            if previous is None or (sender is not None and sender not in result):
                continue
            start = spec_vclock.merge(previous, result[sender]) if sender else previous
            result[event] = spec_vclock.increment(start, _node(p))
            pending.remove(event)
            progressed = True
        if not progressed:
            raise ValueError("the history has a causal cycle")
    return result


def _happened_before(messages: dict[Event, Event], events: int) -> set[tuple[Event, Event]]:
    nodes = [(p, i) for p in range(PROCESSES) for i in range(events)]
    edges = {(a, b) for a in nodes for b in nodes if a[0] == b[0] and a[1] < b[1]}
    edges |= {(sender, receiver) for receiver, sender in messages.items()}
    closure = set(edges)
    for via in nodes:
        closure |= {
            (a, b) for a in nodes for b in nodes if (a, via) in closure and (via, b) in closure
        }
    return closure


def _lamport(messages: dict[Event, Event], events: int) -> dict[Event, int]:
    clocks: dict[Event, int] = {}
    vcs = vector_clocks(messages, events)  # also rejects causal cycles
    for event in sorted(vcs, key=lambda e: sum(vcs[e].values())):
        p, i = event
        previous = clocks[(p, i - 1)] if i > 0 else 0
        sender = messages.get(event)
        clocks[event] = (
            spec_lamport.receive(previous, clocks[sender])
            if sender
            else spec_lamport.increment(previous)
        )
    return clocks


def _name(event: Event) -> str:
    return f"{_node(event[0])}.e{event[1]}"


def _show(messages: dict[Event, Event], clocks: dict[Event, int]) -> str:
    name = _name
    parts = [f"{name(e)}:C={c}" for e, c in sorted(clocks.items())]
    sends = [f"{name(s)}→{name(r)}" for r, s in sorted(messages.items())]
    return " ".join(parts) + ("; messages " + ", ".join(sends) if sends else "; no messages")


def _pair_formula(
    history: _History, pairs: Sequence[tuple[int, int]], *, lamport_less: bool
) -> z3.BoolRef:
    return z3.Or(
        [
            z3.And(
                history.clock[a] < history.clock[b]
                if lamport_less
                else history.clock[a] >= history.clock[b],
                z3.Not(history.happened_before[a][b])
                if lamport_less
                else history.happened_before[a][b],
            )
            for a, b in pairs
        ]
    )


def _converse(name: str, kind: Kind, claim: str) -> ProofResult:
    stopwatch = Stopwatch()
    # Looked up at call time, so that a test can break the encoding and see the row fail.
    history = _History()
    count = len(history.events)
    pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    witness = _pair_formula(history, pairs, lamport_less=True)
    outcome = check_exists(witness, assuming=history.constraints)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        messages, clocks = history.decode(model)
        chosen = next(
            (history.events[a], history.events[b])
            for a, b in pairs
            if model_bool(model, history.clock[a] < history.clock[b])
            and not model_bool(model, history.happened_before[a][b])
        )
        a, b = chosen
        vcs = vector_clocks(messages, EVENTS)
        order = spec_vclock.compare(vcs[a], vcs[b])
        lamport = _lamport(messages, EVENTS)
        agreed = (
            lamport == clocks
            and (a, b) not in _happened_before(messages, EVENTS)
            and order is spec_vclock.Order.CONCURRENT
        )
        text = f"{_show(messages, clocks)}; C({_name(a)}) < C({_name(b)}) yet not {_name(a)} → {_name(b)}"
        return text, Replay(
            agreed, f"spec vector clocks {vcs[a]} and {vcs[b]} compare {order.value}"
        )

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim=claim,
        scope=f"exhibit, {PROCESSES} processes × {EVENTS} events",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
    )


def order_does_not_imply_causality() -> ProofResult:
    """C(a) < C(b) does not imply that a happened before b (exhibited)."""
    return _converse(
        "lamport.order_does_not_imply_causality",
        "theorem",
        "some events have C(a) < C(b) but not a → b",
    )


def order_does_not_imply_causality_control() -> ProofResult:
    """Negative control: "Lamport timestamps capture causality" (C(a) < C(b) ⇒ a → b).

    Encoded on its own: happened-before is characterised by vector clocks
    (:class:`_VectorHistory`), not by the transitive closure the theorem unrolls,
    over messages and Lamport clocks of its own, so Z3 refutes it with a
    counterexample of its own rather than by answering the theorem's query again.
    """
    stopwatch = Stopwatch()
    vector = _VectorHistory(_free_receives("belief_recv"), prefix="belief_")
    count = len(vector.events)
    pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    belief = z3.And(
        [z3.Implies(vector.lamport[a] < vector.lamport[b], vector.before(a, b)) for a, b in pairs]
    )
    outcome = check_forall(belief, assuming=vector.constraints)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        messages, clocks = vector.decode(model)
        a, b = next(
            (vector.events[x], vector.events[y])
            for x, y in pairs
            if model_int(model, vector.lamport[x]) < model_int(model, vector.lamport[y])
            and not model_bool(model, vector.before(x, y))
        )
        vcs = vector_clocks(messages, EVENTS)
        order = spec_vclock.compare(vcs[a], vcs[b])
        agreed = (
            _lamport(messages, EVENTS) == clocks
            and (a, b) not in _happened_before(messages, EVENTS)
            and order is spec_vclock.Order.CONCURRENT
        )
        text = f"{_show(messages, clocks)}; C({_name(a)}) < C({_name(b)}) yet not {_name(a)} → {_name(b)}"
        return text, Replay(
            agreed, f"spec vector clocks {vcs[a]} and {vcs[b]} compare {order.value}"
        )

    return result_from(
        outcome,
        name="lamport.order_does_not_imply_causality.control",
        kind="control",
        claim="C(a) < C(b) ⇒ a → b (happened-before as vector-clock order)",
        scope=f"{PROCESSES} processes × {EVENTS} events",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
    )


def order_does_not_imply_causality_control_vector() -> ProofResult:
    """Negative control: the exhibit with vector clocks in place of Lamport's must have no witness.

    The theorem's history (the same happened-before closure) with each event's
    vector clock beside it: if Z3 found vector clocks ordering two events that are
    not causally related, the closure or the clock rules would be wrong, and the
    theorem's witness would prove nothing about Lamport clocks.
    """
    stopwatch = Stopwatch()
    history = _History()
    vector = _VectorHistory(history.receives, prefix="vc_")
    count = len(history.events)
    pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    witness = z3.Or(
        [z3.And(vector.before(a, b), z3.Not(history.happened_before[a][b])) for a, b in pairs]
    )
    outcome = check_exists(witness, assuming=[*history.constraints, *vector.constraints])

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        messages, clocks = history.decode(model)
        vcs = vector_clocks(messages, EVENTS)
        hb = _happened_before(messages, EVENTS)
        a, b = next(
            (history.events[x], history.events[y])
            for x, y in pairs
            if model_bool(model, vector.before(x, y))
            and not model_bool(model, history.happened_before[x][y])
        )
        order = spec_vclock.compare(vcs[a], vcs[b])
        agreed = order is spec_vclock.Order.BEFORE and (a, b) not in hb
        return f"{_show(messages, clocks)}; VC({_name(a)}) < VC({_name(b)})", Replay(
            agreed, f"the spec's vector clocks compare {order.value}"
        )

    return result_from(
        outcome,
        name="lamport.order_does_not_imply_causality.control2",
        kind="control",
        claim="some events have VC(a) < VC(b) but not a → b",
        scope=f"exhibit, {PROCESSES} processes × {EVENTS} events",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_refuted=_vector_clocks_characterise_causality,
    )


def _clock_condition(name: str, kind: Kind, *, buggy: bool) -> ProofResult:
    stopwatch = Stopwatch()
    history = _History(receive_ignores_own_clock=buggy)
    count = len(history.events)
    pairs = [(a, b) for a in range(count) for b in range(count) if a != b]
    violation = _pair_formula(history, pairs, lamport_less=False)
    outcome = check_forall(z3.Not(violation), assuming=history.constraints)

    def decode(model: z3.ModelRef) -> tuple[str, Replay]:
        messages, clocks = history.decode(model)
        a, b = next(
            (history.events[x], history.events[y])
            for x, y in pairs
            if model_bool(model, history.happened_before[x][y])
            and model_int(model, history.clock[x]) >= model_int(model, history.clock[y])
        )
        vcs = vector_clocks(messages, EVENTS)
        order = spec_vclock.compare(vcs[a], vcs[b])
        agreed = (
            order is spec_vclock.Order.BEFORE
            and _lamport(messages, EVENTS)[a] < _lamport(messages, EVENTS)[b]
        )
        text = f"{_show(messages, clocks)}; {_name(a)} → {_name(b)} but C ≥"
        return text, Replay(
            agreed, f"with the correct rules the spec's vector clocks compare {order.value}"
        )

    return result_from(
        outcome,
        name=name,
        kind=kind,
        claim="a → b ⇒ C(a) < C(b)" + (" (receive rule without max)" if buggy else ""),
        scope=f"{PROCESSES} processes × {EVENTS} events",
        reference=REFERENCE,
        stopwatch=stopwatch,
        decode=decode,
        replay_when_proved=_vector_clocks_characterise_causality,
    )


def _vector_clocks_characterise_causality() -> Replay:
    """On every small history, the spec's vector clocks order exactly the causal pairs."""
    events = [(p, i) for p in range(PROCESSES) for i in range(SPEC_CHECK_EVENTS)]
    choices = [[None, *[s for s in events if s[0] != e[0]]] for e in events]
    checked = 0
    for senders in itertools.product(*choices):
        messages = {e: s for e, s in zip(events, senders, strict=True) if s is not None}
        try:
            vcs = vector_clocks(messages, SPEC_CHECK_EVENTS)
        except ValueError:
            continue  # a causal cycle: not a history
        hb = _happened_before(messages, SPEC_CHECK_EVENTS)
        lamport = _lamport(messages, SPEC_CHECK_EVENTS)
        for a in events:
            for b in events:
                before = spec_vclock.compare(vcs[a], vcs[b]) is spec_vclock.Order.BEFORE
                if before != ((a, b) in hb) or ((a, b) in hb and lamport[a] >= lamport[b]):
                    return Replay(False, f"history {messages}: {a}, {b} disagree")
        checked += 1
    return Replay(
        True, f"on all {checked} histories of 2×2 events, spec vector clocks order exactly a → b"
    )


def clock_condition() -> ProofResult:
    """The clock condition: a → b implies C(a) < C(b) (Lamport 1978)."""
    return _clock_condition("lamport.clock_condition", "theorem", buggy=False)


def clock_condition_control() -> ProofResult:
    """Negative control: a receive that takes the message's stamp + 1, ignoring its own clock."""
    return _clock_condition("lamport.clock_condition.control", "control", buggy=True)
