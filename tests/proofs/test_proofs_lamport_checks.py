"""What the Lamport-clock rows check, pinned from the outside.

The rows compare Lamport clocks with happened-before over a bounded history of
two processes. These tests pin the shape of that history (who may receive from
whom), what the decoded counterexamples and witnesses say, and how many small
histories the exhaustive spec replay walks through.
"""

from __future__ import annotations

import itertools
import re
import types
from collections.abc import Callable

import pytest
import z3
from dynamokv.proofs import _lamport
from dynamokv.proofs._result import Status

Event = tuple[int, int]


def _event(name: str) -> Event:
    """``"p1.e2"`` -> ``(1, 2)``."""
    match = re.fullmatch(r"p(\d+)\.e(\d+)", name)
    assert match, name
    return int(match.group(1)), int(match.group(2))


def _parse_history(text: str) -> tuple[dict[Event, int], dict[Event, Event]]:
    """The clocks and messages (receiver -> sender) a decoded history prints."""
    clocks = {_event(e): int(c) for e, c in re.findall(r"(p\d+\.e\d+):C=(-?\d+)", text)}
    messages = {
        _event(receiver): _event(sender)
        for sender, receiver in re.findall(r"(p\d+\.e\d+)→(p\d+\.e\d+)", text)
    }
    return clocks, messages


def _causal_pairs(messages: dict[Event, Event], events: int) -> set[tuple[Event, Event]]:
    """Happened-before, closed by repeated relaxation (independent of the module's helper)."""
    nodes = [(p, i) for p in range(_lamport.PROCESSES) for i in range(events)]
    order = {(a, b) for a in nodes for b in nodes if a[0] == b[0] and a[1] < b[1]}
    order |= {(sender, receiver) for receiver, sender in messages.items()}
    while True:
        extra = {(a, c) for a, b in order for b2, c in order if b == b2} - order
        if not extra:
            return order
        order |= extra


def _is_cross_process(a: Event, b: Event) -> bool:
    return a[0] != b[0]


@pytest.mark.parametrize(
    "receives",
    [
        pytest.param(lambda: _lamport._History().receives, id="theorem history"),
        pytest.param(lambda: _lamport._free_receives("t"), id="control history"),
    ],
)
def test_every_event_may_receive_from_every_event_of_the_other_process_and_no_other(
    receives: Callable[[], _lamport.Receives],
) -> None:
    """A message variable exists exactly for the cross-process (receiver, sender) pairs."""
    matrix = receives()
    events = _lamport._events()
    for (k, receiver), (j, sender) in itertools.product(enumerate(events), repeat=2):
        entry = matrix[k][j]
        if _is_cross_process(receiver, sender):
            assert z3.is_const(entry) and not z3.is_false(entry), (receiver, sender)
        else:
            assert z3.is_false(entry), (receiver, sender)
    variables = sum(
        1 for row in matrix for entry in row if not z3.is_false(entry) and z3.is_const(entry)
    )
    per_process = _lamport.EVENTS
    assert variables == _lamport.PROCESSES * per_process * (_lamport.PROCESSES - 1) * per_process


def test_clock_condition_control_counterexample_follows_the_receive_rule_without_max() -> None:
    """Each printed clock is its predecessor's + 1, or the message's stamp + 1 on a receive."""
    result = _lamport.clock_condition_control()
    assert result.status is Status.REFUTED and result.counterexample
    clocks, messages = _parse_history(result.counterexample)
    assert len(clocks) == _lamport.PROCESSES * _lamport.EVENTS
    assert messages, "the planted bug needs at least one receive to show"
    for (p, i), clock in clocks.items():
        sender = messages.get((p, i))
        previous = clocks[(p, i - 1)] if i > 0 else 0
        expected = clocks[sender] + 1 if sender else previous + 1
        assert clock == expected, ((p, i), result.counterexample)


def test_clock_condition_control_names_a_causal_pair_whose_clocks_do_not_rise() -> None:
    """The pair the counterexample names is causally ordered and has C(a) ≥ C(b)."""
    result = _lamport.clock_condition_control()
    assert result.counterexample
    clocks, messages = _parse_history(result.counterexample)
    match = re.search(r"; (p\d+\.e\d+) → (p\d+\.e\d+) but C ≥$", result.counterexample)
    assert match, result.counterexample
    a, b = _event(match.group(1)), _event(match.group(2))
    assert (a, b) in _causal_pairs(messages, _lamport.EVENTS)
    assert clocks[a] >= clocks[b], result.counterexample


def _only_message(receiver: Event, sender: Event) -> type[_lamport._History]:
    """The theorem's history with one message: ``receiver`` receives what ``sender`` sent."""

    class _OnlyMessage(_lamport._History):
        def __init__(self, **kwargs: bool) -> None:
            super().__init__(**kwargs)
            index = {e: k for k, e in enumerate(self.events)}
            wanted = (index[receiver], index[sender])
            for k, j in itertools.product(range(len(self.events)), repeat=2):
                self.constraints.append(self.receives[k][j] == ((k, j) == wanted))

    return _OnlyMessage


def test_clock_condition_control_names_the_pair_that_does_not_rise_not_one_that_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the history fixed, the one causal pair whose clocks do not rise is the one named.

    The only message: p1's third event receives what p0 sent at its first. Under the
    planted receive rule (the message's stamp + 1, own clock ignored) p1's clocks run 1, 2,
    2: the pair p1.e1 → p1.e2 does not rise, while every earlier causal pair in the
    solver's order (p0.e0 → p0.e1 first) rises strictly.
    """
    monkeypatch.setattr(_lamport, "_History", _only_message((1, 2), (0, 0)))
    result = _lamport.clock_condition_control()
    assert result.status is Status.REFUTED and result.counterexample
    clocks, messages = _parse_history(result.counterexample)
    assert messages == {(1, 2): (0, 0)}
    assert clocks == {(0, 0): 1, (0, 1): 2, (0, 2): 3, (1, 0): 1, (1, 1): 2, (1, 2): 2}
    assert result.counterexample.endswith("; p1.e1 → p1.e2 but C ≥")


def test_exhibit_finds_rising_clocks_without_causality_from_the_later_listed_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every ordered pair is searched, including pairs from process 1 back to process 0.

    The only message: p0's first event receives what p1 sent at its second. Then every p0
    clock (3, 4, 5) is at least every p1 clock (1, 2, 3), so the only events with rising
    clocks and no causal link run from process 1 to process 0.
    """
    monkeypatch.setattr(_lamport, "_History", _only_message((0, 0), (1, 1)))
    result = _lamport.order_does_not_imply_causality()
    assert result.ok, result
    assert result.witness
    clocks, messages = _parse_history(result.witness)
    assert messages == {(0, 0): (1, 1)}
    assert clocks == {(0, 0): 3, (0, 1): 4, (0, 2): 5, (1, 0): 1, (1, 1): 2, (1, 2): 3}
    assert "yet not p1.e2 → p0.e" in result.witness


class _ProcessZeroNeverReceives(_lamport._History):
    """Messages flow one way only: from process 0 to process 1."""

    def __init__(self, **kwargs: bool) -> None:
        super().__init__(**kwargs)
        for k, (p, _) in enumerate(self.events):
            if p == 0:
                self.constraints.extend(z3.Not(r) for r in self.receives[k])


def test_clock_condition_control_still_fails_when_messages_flow_only_from_process_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The planted receive rule is caught on pairs ordered forward as well as backward."""
    monkeypatch.setattr(_lamport, "_History", _ProcessZeroNeverReceives)
    theorem = _lamport.clock_condition()
    control = _lamport.clock_condition_control()
    assert theorem.ok, theorem
    assert control.ok and control.status is Status.REFUTED, control
    assert control.counterexample
    _, messages = _parse_history(control.counterexample)
    assert all(receiver[0] == 1 for receiver in messages)


def _acyclic_histories(events: int) -> int:
    """Histories of 2 processes × ``events`` in which no event waits on itself (Kahn's sort)."""
    nodes = [(p, i) for p in range(_lamport.PROCESSES) for i in range(events)]
    options = [[None, *[s for s in nodes if s[0] != n[0]]] for n in nodes]
    count = 0
    for senders in itertools.product(*options):
        waits_on = {n: ({(n[0], n[1] - 1)} if n[1] > 0 else set()) for n in nodes}
        for receiver, sender in zip(nodes, senders, strict=True):
            if sender is not None:
                waits_on[receiver].add(sender)
        done: set[Event] = set()
        while True:
            ready = {n for n in nodes if n not in done and waits_on[n] <= done}
            if not ready:
                break
            done |= ready
        count += len(done) == len(nodes)
    return count


def test_spec_replay_walks_every_acyclic_history_of_two_by_two_events() -> None:
    """The replay reports how many 2×2 histories it checked: all those without a causal cycle."""
    expected = _acyclic_histories(_lamport.SPEC_CHECK_EVENTS)
    # 3 choices (no message, or one of the other process's 2 events) for each of 4
    # events is 81 assignments; the cyclic ones are dropped.
    assert 0 < expected < 3**4
    detail = f"on all {expected} histories of 2×2 events, spec vector clocks order exactly a → b"
    theorem = _lamport.clock_condition()
    control = _lamport.order_does_not_imply_causality_control_vector()
    assert theorem.replay is not None and theorem.replay.agreed
    assert control.replay is not None and control.replay.agreed
    assert theorem.replay.detail == detail
    assert control.replay.detail == detail


def test_spec_replay_rejects_lamport_clocks_that_run_backwards_along_causality(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clocks that count down give C(a) > C(b) for a → b; the replay must say they disagree."""
    counting_down = types.SimpleNamespace(
        increment=lambda clock: clock - 1,
        receive=lambda clock, message: min(clock, message) - 1,
    )
    monkeypatch.setattr(_lamport, "spec_lamport", counting_down)
    result = _lamport.clock_condition()
    assert result.status is Status.PROVED
    assert result.replay is not None
    assert not result.replay.agreed
    assert not result.ok
