"""The sans-IO core of a Dynamo node (DESIGN.md section 2, ``impl/core``).

Everything a node decides lives here, as deterministic state machines in the style
of h11 and etcd-io/raft: :class:`Node` takes events (a peer message, a client
request, a tick, a storage completion) through :meth:`Node.step` and returns
effects (send, persist, reply, set timer). It imports only :mod:`dynamokv.spec`;
time arrives in ticks, randomness through an injected ``random.Random``, storage
through a :class:`StorageView`, the ring through a :class:`MembershipView` and
failure knowledge through a :class:`HealthView`, so the simulator and the trio
runtime drive the very same code.

Start reading at :mod:`dynamokv.impl.core._node`'s theory of operation.
"""

from __future__ import annotations

from . import _vclock as vector_clock
from . import _versions as versions
from ._health import HealthView, TimeoutHealth
from ._invariant import CoreInvariantError, invariant
from ._messages import (
    ClientRequest,
    DeleteHint,
    Effect,
    Event,
    ForwardRequest,
    ForwardResponse,
    GetRequest,
    GetResult,
    Hint,
    HintAck,
    HintReplay,
    Message,
    Persist,
    PersistDone,
    PutRequest,
    PutResult,
    ReadRepair,
    ReadRequest,
    ReadResponse,
    Receive,
    Record,
    Reply,
    Request,
    Result,
    Send,
    SetTimer,
    StoreHint,
    StoreLease,
    StoreVersions,
    Tick,
    WriteAck,
    WriteRequest,
)
from ._node import PLANTED_BUGS, Node, NodeConfig, NodeStats
from ._ring import MembershipView, PartitionRing
from ._storage import StorageView
from ._vclock import Clock
from ._versions import covers

__all__ = [
    "PLANTED_BUGS",
    "ClientRequest",
    "Clock",
    "CoreInvariantError",
    "DeleteHint",
    "Effect",
    "Event",
    "ForwardRequest",
    "ForwardResponse",
    "GetRequest",
    "GetResult",
    "HealthView",
    "Hint",
    "HintAck",
    "HintReplay",
    "MembershipView",
    "Message",
    "Node",
    "NodeConfig",
    "NodeStats",
    "PartitionRing",
    "Persist",
    "PersistDone",
    "PutRequest",
    "PutResult",
    "ReadRepair",
    "ReadRequest",
    "ReadResponse",
    "Receive",
    "Record",
    "Reply",
    "Request",
    "Result",
    "Send",
    "SetTimer",
    "StorageView",
    "StoreHint",
    "StoreLease",
    "StoreVersions",
    "Tick",
    "TimeoutHealth",
    "WriteAck",
    "WriteRequest",
    "covers",
    "invariant",
    "vector_clock",
    "versions",
]
