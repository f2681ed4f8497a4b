"""The sans-IO core of a Dynamo node (DESIGN.md section 2, ``impl/core``).

Everything a node decides lives here, as deterministic state machines in the style
of h11 and etcd-io/raft: :class:`Node` takes events (a peer message, a client
request, a tick, a storage completion) through :meth:`Node.step` and returns
effects (send, persist, reply, set timer). It imports only :mod:`dynamokv.spec`;
time arrives in ticks, randomness through an injected ``random.Random``, storage
through a :class:`StorageView`, the ring through a :class:`MembershipView` and
failure knowledge through a :class:`HealthView`, so the simulator and the trio
runtime drive the very same code.

Start reading at :mod:`dynamokv.impl.core._node`'s theory of operation. The
complete node of issue 5, :class:`DynamoNode` (:mod:`~dynamokv.impl.core._member`),
wraps :class:`Node` with gossip membership and phi-accrual failure detection
(:mod:`~dynamokv.impl.core._gossip`, :mod:`~dynamokv.impl.core._phi`), explicit join
and leave with partition transfer (:mod:`~dynamokv.impl.core._partitions`) and
Merkle anti-entropy (:mod:`~dynamokv.impl.core._merkle_tree`), with the same
``step(event, now) -> effects`` shape.

The decisions a lab or a test may replace (the quorum rules first) are module-level
functions the node calls through one frozen :class:`Seams` value
(:mod:`~dynamokv.impl.core._seams`).
"""

from __future__ import annotations

from . import _vclock as vector_clock
from . import _versions as versions
from ._gossip import (
    GossipAck,
    GossipAck2,
    GossipConfig,
    GossipMembership,
    GossipSyn,
    MemberEntry,
    MembershipArgumentError,
    RingState,
)
from ._handoff import hint_size_bytes
from ._health import HealthView, TimeoutHealth
from ._member import (
    BOOTSTRAP_ISSUER,
    DynamoNode,
    GossipHealth,
    MemberConfig,
    MemberStats,
    value_hash,
)
from ._merkle_tree import (
    AntiEntropy,
    AntiEntropyConfig,
    MerkleBucketsReply,
    MerkleBucketsRequest,
    MerkleCompareReply,
    MerkleCompareRequest,
    PartitionMerkleTree,
    measure_repair_traffic,
)
from ._messages import (
    ClientRequest,
    DeleteHint,
    DropKeys,
    Effect,
    Event,
    ForwardRequest,
    ForwardResponse,
    GetRequest,
    GetResult,
    GossipPacket,
    Hint,
    HintAck,
    HintReplay,
    MerklePacket,
    Message,
    PeerUp,
    Persist,
    PersistDone,
    PutRequest,
    PutResult,
    ReadRepair,
    ReadRequest,
    ReadResponse,
    Receive,
    Record,
    RepairPush,
    Reply,
    Request,
    Result,
    RootsReply,
    RootsRequest,
    Send,
    SetTimer,
    StoreGeneration,
    StoreHint,
    StoreLease,
    StoreRing,
    StoreVersions,
    Tick,
    TransferAck,
    TransferBatch,
    WriteAck,
    WriteRequest,
)
from ._node import Node, NodeConfig, NodeStats
from ._partitions import Movement, movement, q1_table
from ._phi import PhiAccrualDetector, PhiConfig
from ._quorum import read_may_answer, write_may_answer
from ._ring import MembershipView, PartitionRing
from ._seams import DEFAULT_SEAMS, Seams
from ._storage import MemberStorageView, StorageView
from ._vclock import Clock
from ._versions import covers

__all__ = [
    "BOOTSTRAP_ISSUER",
    "DEFAULT_SEAMS",
    "AntiEntropy",
    "AntiEntropyConfig",
    "ClientRequest",
    "Clock",
    "DeleteHint",
    "DropKeys",
    "DynamoNode",
    "Effect",
    "Event",
    "ForwardRequest",
    "ForwardResponse",
    "GetRequest",
    "GetResult",
    "GossipAck",
    "GossipAck2",
    "GossipConfig",
    "GossipHealth",
    "GossipMembership",
    "GossipPacket",
    "GossipSyn",
    "HealthView",
    "Hint",
    "HintAck",
    "HintReplay",
    "MemberConfig",
    "MemberEntry",
    "MemberStats",
    "MemberStorageView",
    "MembershipArgumentError",
    "MembershipView",
    "MerkleBucketsReply",
    "MerkleBucketsRequest",
    "MerkleCompareReply",
    "MerkleCompareRequest",
    "MerklePacket",
    "Message",
    "Movement",
    "Node",
    "NodeConfig",
    "NodeStats",
    "PartitionMerkleTree",
    "PartitionRing",
    "PeerUp",
    "Persist",
    "PersistDone",
    "PhiAccrualDetector",
    "PhiConfig",
    "PutRequest",
    "PutResult",
    "ReadRepair",
    "ReadRequest",
    "ReadResponse",
    "Receive",
    "Record",
    "RepairPush",
    "Reply",
    "Request",
    "Result",
    "RingState",
    "RootsReply",
    "RootsRequest",
    "Seams",
    "Send",
    "SetTimer",
    "StorageView",
    "StoreGeneration",
    "StoreHint",
    "StoreLease",
    "StoreRing",
    "StoreVersions",
    "Tick",
    "TimeoutHealth",
    "TransferAck",
    "TransferBatch",
    "WriteAck",
    "WriteRequest",
    "covers",
    "hint_size_bytes",
    "measure_repair_traffic",
    "movement",
    "q1_table",
    "read_may_answer",
    "value_hash",
    "vector_clock",
    "versions",
    "write_may_answer",
]
