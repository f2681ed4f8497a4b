"""Which peers a node believes are up: the injected health view.

Dynamo §4.6 sends requests to "the first N healthy nodes"; how a node decides who
is healthy is a separate concern, behind three methods.

* :class:`TimeoutHealth` uses the request path's own evidence: a peer that does not
  answer before a replica timeout is *suspected*, and any message from it clears the
  suspicion; a suspicion also lapses after ``suspect_ticks``, so that a node is tried
  again (which is how a hint's owner is noticed coming back without gossip). Nodes on a
  fixed ring use it.
* :class:`GossipHealth` adds the phi-accrual failure detector that gossip runs
  (:mod:`~dynamokv.impl.core._phi`): a peer is healthy unless phi suspects it *or* it
  missed a request timeout lately. The request path's evidence reacts within one replica
  timeout; phi needs a few gossip periods. Gossip-mode nodes use it.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["GossipHealth", "HealthView", "TimeoutHealth"]


class HealthView(Protocol):
    """The protocol: the core reports evidence and asks for a verdict."""

    def is_healthy(self, node: str, now: int) -> bool:
        """Whether requests should go to ``node`` at tick ``now``."""
        ...

    def on_message(self, node: str, now: int) -> None:
        """``node`` sent us something: it is alive."""
        ...

    def on_timeout(self, node: str, now: int) -> None:
        """``node`` did not answer a request in time."""
        ...

    def suspected(self) -> tuple[str, ...]:
        """The nodes under suspicion now, sorted (for status displays)."""
        ...


class TimeoutHealth(HealthView):
    """Suspect a peer after a timeout, until it speaks or ``suspect_ticks`` pass.

    Args:
        suspect_ticks: how long a suspicion lasts without new evidence.
    """

    __slots__ = ("_suspected_at", "suspect_ticks")

    def __init__(self, *, suspect_ticks: int = 50) -> None:
        self.suspect_ticks = suspect_ticks
        self._suspected_at: dict[str, int] = {}

    def is_healthy(self, node: str, now: int) -> bool:
        """Healthy unless suspected within the last ``suspect_ticks``."""
        since = self._suspected_at.get(node)
        return since is None or now - since >= self.suspect_ticks

    def on_message(self, node: str, now: int) -> None:
        """Clear any suspicion of ``node``."""
        if self._suspected_at:
            self._suspected_at.pop(node, None)

    def on_timeout(self, node: str, now: int) -> None:
        """Suspect ``node`` from ``now``."""
        self._suspected_at[node] = now

    def suspected(self) -> tuple[str, ...]:
        """The nodes currently under suspicion (for status displays)."""
        return tuple(sorted(self._suspected_at))


class GossipHealth(TimeoutHealth):
    """The coordinator's health view: phi-accrual suspicion plus request timeouts.

    The request timeouts are :class:`TimeoutHealth`'s own (a message clears them, as
    there); phi's verdicts arrive through :meth:`set_suspected`.

    Args:
        suspect_ticks: how long a request timeout counts against a peer.
    """

    __slots__ = ("_suspected",)

    def __init__(self, *, suspect_ticks: int = 50) -> None:
        super().__init__(suspect_ticks=suspect_ticks)
        self._suspected: set[str] = set()

    def is_healthy(self, node: str, now: int) -> bool:
        """Healthy unless phi suspects ``node`` or it timed out lately."""
        if node in self._suspected:
            return False
        since = self._suspected_at.get(node)
        return since is None or now - since >= self.suspect_ticks

    def set_suspected(self, node: str, suspected: bool) -> None:
        """Follow the failure detector's verdict on ``node``."""
        if suspected:
            self._suspected.add(node)
        else:
            self._suspected.discard(node)

    def suspected(self) -> tuple[str, ...]:
        """The peers phi suspects, sorted."""
        return tuple(sorted(self._suspected))
