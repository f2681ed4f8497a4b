"""Gossip runs for lab gossip: the learner's rules in every view of a simulated cluster.

Views are :class:`~dynamokv.impl.core._gossip.GossipMembership` cores driven by the
gossip simulator's network (:mod:`dynamokv.impl.sim._gossip_sim`: one-tick latency,
seeded loss), with the solution's merge rule, peer choice and suspicion function
given through :class:`~dynamokv.impl.core.Seams`. To measure a join on up to 256
nodes in seconds, a *warm* cluster starts with every view already holding every
member (as after a long-converged cold start) rather than converging from scratch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

from dynamokv.impl.core import Seams
from dynamokv.impl.core._gossip import GossipAck2, GossipConfig, GossipPacket, RingState
from dynamokv.impl.sim import TraceEntry, render_ladder
from dynamokv.impl.sim._gossip_sim import _GossipNetwork
from dynamokv.spec.ring import assign_partitions

PARTITIONS = 512
SEEDS = 2


def seams_of(solution: Mapping[str, Callable[..., Any]]) -> Seams:
    """The solution's three gossip rules, as the views' seams."""
    return Seams(
        merge_entries=solution["merge_entries"],
        choose_gossip_peer=solution["choose_gossip_peer"],
        phi_of_silence=solution["phi_of_silence"],
    )


def config(threshold: float | None = None) -> GossipConfig:
    """The project's gossip parameters, Q small, and optionally another phi threshold."""
    base = GossipConfig(partition_count=PARTITIONS)
    if threshold is None:
        return base
    return dataclasses.replace(base, phi=dataclasses.replace(base.phi, threshold=threshold))


class _Network(_GossipNetwork):
    """The gossip network, where one node's messages can be slow, and every message
    can be recorded (``tracing``) for a ladder diagram."""

    slow: str | None = None
    slow_delay_ticks = 0
    tracing = False

    def __init__(self, **keywords: Any) -> None:
        super().__init__(**keywords)
        self.messages_sent: list[TraceEntry] = []

    def handle(self, effects: Any) -> None:
        delayed = []
        passed = []
        for effect in effects:
            if isinstance(effect, GossipPacket) and self.slow is not None:
                sender = effect.body.sender
                if sender == self.slow:
                    delayed.append(effect)
                    continue
            passed.append(effect)
        self._handle_traced(passed)
        tick = self.tick
        self.tick += self.slow_delay_ticks
        self._handle_traced(delayed)
        self.tick = tick

    def _handle_traced(self, effects: list[Any]) -> None:
        if not self.tracing:
            super().handle(effects)
            return
        for effect in effects:
            queued = self.sequence
            super().handle([effect])
            if isinstance(effect, GossipPacket):
                sender = effect.body.sender
                delay = self.slow_delay_ticks if sender == self.slow else 0
                arrives_at = self.tick + 1 if self.sequence > queued else None
                self.messages_sent.append(
                    TraceEntry(
                        self.tick - delay,
                        arrives_at,
                        sender,
                        effect.dst,
                        type(effect.body).__name__,
                    )
                )

    def ladder(self, observer: str, suspect: str, *, until: int, limit: int = 24) -> str:
        """The last ``limit`` messages ``observer`` received or ``suspect`` sent, up to
        ``until``: where the observer's news of the suspect could have come from."""
        related = [
            entry
            for entry in self.messages_sent
            if (entry.dst == observer or entry.src == suspect) and entry.sent_at <= until
        ]
        shown = related[-limit:]
        columns = [observer, suspect]
        for entry in shown:
            columns += [name for name in (entry.src, entry.dst) if name not in columns]
        head = (
            f"ladder of the messages {observer} received and {suspect} sent (the last "
            f"{len(shown)} up to t={until}; x: lost):"
        )
        return head + "\n" + render_ladder(shown, columns)


def warm_cluster(
    nodes: int, *, seed: int, loss: float, seams: Seams, gossip: GossipConfig
) -> tuple[_Network, list[str]]:
    """``nodes`` views that already know every member and hold the bootstrap ring."""
    network = _Network(seed=seed, loss=loss, config=gossip, seams=seams)
    ids = [f"n{index:03d}" for index in range(nodes)]
    seeds = {node_id: f"sim://{node_id}" for node_id in ids[:SEEDS]}
    ring = RingState(1, "bootstrap", assign_partitions(ids, gossip.partition_count))
    for node_id in ids:
        network.add(node_id, seeds, status="normal", ring=ring)
    entries = tuple(view.self_entry for view in network.views.values())
    for node_id, view in network.views.items():
        others = tuple(entry for entry in entries if entry.node_id != node_id)
        sender = next(n for n in ids if n != node_id)
        view.receive(GossipAck2(sender, f"sim://{sender}", others, None), network.tick)
    return network, ids


def join_rounds(nodes: int, *, seed: int, seams: Seams, loss: float = 0.0) -> int:
    """Rounds from a new node's start until every view of a warm cluster lists it."""
    gossip = config()
    network, ids = warm_cluster(nodes, seed=seed, loss=loss, seams=seams, gossip=gossip)
    newcomer = f"n{nodes:03d}"
    seeds = {node_id: f"sim://{node_id}" for node_id in ids[:SEEDS]}
    network.add(newcomer, seeds, status="joining", ring=None)
    return network.rounds_until(
        lambda: all(newcomer in view.members for view in network.views.values()),
        rounds_max=10 * max(1, math.ceil(math.log2(nodes))) + 20,
    )


def suspicion_share(
    nodes: int, *, seed: int, seams: Seams, loss: float, threshold: float, rounds: int
) -> float:
    """The share of the time a view wrongly suspects a live peer, in a warm cluster.

    Sampled once per round over every (view, peer) pair, after the detectors have
    had ten rounds to learn the rhythm; every node is alive throughout.
    """
    gossip = config(threshold)
    network, ids = warm_cluster(nodes, seed=seed, loss=loss, seams=seams, gossip=gossip)
    period = gossip.gossip_period_ticks
    for _ in range(10 * period):
        network.step()
    suspected = 0
    pairs = 0
    for _ in range(rounds):
        for _ in range(period):
            network.step()
        for view in network.views.values():
            for peer in ids:
                if peer != view.node_id:
                    pairs += 1
                    suspected += view.is_suspected(peer, network.tick)
    return suspected / pairs
