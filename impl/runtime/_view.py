"""The read-only view of a running node that its HTTP routes are built on.

The HTTP handlers (:class:`~dynamokv.impl.runtime.NodeApi`, the admin routes) need to read
the node (its name, ring, members, health, metrics) and to submit client requests to it;
they must not reach into the driver's private parts, and the driver
(:class:`~dynamokv.impl.runtime.NodeProcess`) must not need to know them. So the handlers
are written against this protocol, which :class:`NodeProcess` satisfies, and the driver
serves whatever HTTP application it is given: no module of the two imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from dynamokv.impl.core import (
    GossipMembership,
    HealthView,
    Node,
    NodeConfig,
    PartitionRing,
    Request,
    Result,
)

from ._config import NodeProcessConfig
from ._faults import FaultLayer, PeerFaults
from ._metrics import MetricsRegistry

__all__ = ["NodeView"]


class NodeView(Protocol):
    """What the HTTP routes may read of a node, and the two things they may do."""

    @property
    def name(self) -> str:
        """This node's id on the ring."""
        ...

    @property
    def config(self) -> NodeProcessConfig:
        """The node's validated configuration."""
        ...

    @property
    def node_config(self) -> NodeConfig:
        """The core's knobs (N, default R and W, ...)."""
        ...

    @property
    def state(self) -> str:
        """``starting``, ``serving``, ``draining`` or ``stopped``."""
        ...

    @property
    def started_at(self) -> float:
        """Wall-clock seconds when the process started."""
        ...

    @property
    def metrics(self) -> MetricsRegistry:
        """The node's Prometheus metrics."""
        ...

    @property
    def node(self) -> Node:
        """The core, for reading its membership, ring and counters (never stepped here)."""
        ...

    @property
    def ring(self) -> PartitionRing:
        """The ring this node has adopted."""
        ...

    @property
    def health(self) -> HealthView:
        """The request path's health view."""
        ...

    @property
    def gossip(self) -> GossipMembership:
        """The node's gossip membership: members, heartbeats, phi."""
        ...

    @property
    def http_addresses(self) -> Mapping[str, str]:
        """Configured member -> ``host:port`` of its HTTP API."""
        ...

    @property
    def faults(self) -> FaultLayer:
        """The peer fault layer (for the admin routes)."""
        ...

    def now_ticks(self) -> int:
        """The core's clock."""
        ...

    def peer_connected(self, name: str) -> bool | None:
        """Whether the connection to configured peer ``name`` is up (None: not a peer)."""
        ...

    async def submit(
        self, request: Request, *, trace: bool = False
    ) -> tuple[Result, list[dict[str, Any]] | None]:
        """Run a client request through the core and wait for its result."""
        ...

    def set_peer_faults(self, faults: PeerFaults) -> None:
        """Drop or delay peer traffic from now on (an empty value heals)."""
        ...

    async def change_membership(self, kind: str, node_id: str) -> int:
        """Admin: ``"join"`` or ``"leave"`` ``node_id`` (Dynamo §4.8.1); the new ring
        version, once it is durable on this node."""
        ...
