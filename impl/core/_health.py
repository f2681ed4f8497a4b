"""Which peers a node believes are up: the injected health view.

Dynamo §4.6 sends requests to "the first N healthy nodes"; how a node decides who
is healthy is a separate concern. In this issue the only evidence is the request
path itself: a peer that does not answer before a replica timeout is *suspected*,
and any message from it clears the suspicion. :class:`TimeoutHealth` also lets a
suspicion lapse after ``suspect_ticks``, so that a node is tried again (which is
how a hint's owner is noticed coming back without gossip).

Gossip and a phi-accrual failure detector (issue 5) implement the same three
methods and are injected in its place; the core never asks anything else.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["HealthView", "TimeoutHealth"]


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
