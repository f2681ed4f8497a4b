"""The sans-IO core of a Dynamo node.

Everything a node decides lives here, as one deterministic state machine in the style
of h11 and etcd-io/raft: :class:`Node` takes events (a peer message, a client request,
a tick, a storage completion) through :meth:`Node.step` and returns effects (send,
persist, reply, set timer). It imports only :mod:`dynamokv.spec` and the error root;
time arrives in ticks, randomness through an injected ``random.Random``, storage through
a :class:`StorageView`, so the simulator and the trio runtime drive the very same code.

Start reading at :mod:`dynamokv.impl.core._node`'s theory of operation and its
transition tables; each part it names is a module of its own: the request path
(:mod:`~dynamokv.impl.core._requests`), hinted handoff
(:mod:`~dynamokv.impl.core._handoff`), gossip and failure detection
(:mod:`~dynamokv.impl.core._gossip`, :mod:`~dynamokv.impl.core._phi`), partition
transfer (:mod:`~dynamokv.impl.core._transfer`) over strategy-3 assignments
(:mod:`~dynamokv.impl.core._partitions`), Merkle trees
(:mod:`~dynamokv.impl.core._merkle`) and anti-entropy
(:mod:`~dynamokv.impl.core._anti_entropy`).

The decisions a lab or a test may replace (the quorum rules, the dot counter, the hint
deletion rule) are module-level functions the node calls through one frozen
:class:`Seams` value (:mod:`~dynamokv.impl.core._seams`).
"""

from __future__ import annotations

from . import _partitions as partitions
from . import _vclock as vector_clock
from . import _versions as versions
from ._anti_entropy import (
    AntiEntropy,
    AntiEntropyEffect,
    AntiEntropyMetrics,
    AntiEntropyRounds,
    ExchangeFinished,
    MerkleSend,
    RepairKeys,
    merkle_descend,
    wire_bytes,
)
from ._gossip import (
    BOOTSTRAP_ISSUER,
    GossipAck,
    GossipAck2,
    GossipConfig,
    GossipMembership,
    GossipSyn,
    MemberEntry,
    MembershipArgumentError,
    RingState,
)
from ._handoff import HintStore, hint_may_be_deleted, hint_size_bytes, hint_to_store
from ._health import GossipHealth, HealthView, TimeoutHealth
from ._merkle import (
    MerkleArgumentError,
    MerkleHashCache,
    MerkleTracking,
    MerkleTrees,
    PartitionMerkleTree,
    value_hash,
)
from ._messages import (
    BucketSlice,
    ClientRequest,
    DeleteHint,
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
    MerkleBucketsReply,
    MerkleBucketsRequest,
    MerkleCompareReply,
    MerkleCompareRequest,
    MerkleMessage,
    MerklePacket,
    Message,
    Persist,
    PersistDone,
    PutRequest,
    PutResult,
    ReadRepair,
    ReadRequest,
    ReadResponse,
    Reap,
    ReapQuery,
    ReapVote,
    Receive,
    Record,
    RepairPush,
    Reply,
    Request,
    Result,
    RootsReply,
    RootsRequest,
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
from ._node import AFTER_PERSIST, EVENTS, MESSAGES, Node
from ._node_config import AntiEntropyConfig, MemberConfig, MemberStats, NodeConfig, NodeStats
from ._outbox import Outbox
from ._partitions import PartitionArgumentError
from ._peer_input import NODE_NAME_CHARS_MAX, PeerInput, PeerInputError
from ._phi import PhiAccrualDetector, PhiConfig
from ._quorum import read_may_answer, write_may_answer
from ._reaping import TombstoneReaper, tombstone_may_be_reaped
from ._requests import NodeStorage, RequestPath
from ._ring import MembershipView, PartitionRing, RingCache
from ._seams import DEFAULT_SEAMS, Seams
from ._storage import LocalStore, MemberStorageView, StorageView
from ._transfer import PartitionTransfers
from ._vclock import Clock
from ._versions import Version, covers, next_counter

__all__ = [
    "AFTER_PERSIST",
    "BOOTSTRAP_ISSUER",
    "DEFAULT_SEAMS",
    "EVENTS",
    "MESSAGES",
    "NODE_NAME_CHARS_MAX",
    "AntiEntropy",
    "AntiEntropyConfig",
    "AntiEntropyEffect",
    "AntiEntropyMetrics",
    "AntiEntropyRounds",
    "BucketSlice",
    "ClientRequest",
    "Clock",
    "DeleteHint",
    "Effect",
    "Event",
    "ExchangeFinished",
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
    "HintStore",
    "LocalStore",
    "MemberConfig",
    "MemberEntry",
    "MemberStats",
    "MemberStorageView",
    "MembershipArgumentError",
    "MembershipView",
    "MerkleArgumentError",
    "MerkleBucketsReply",
    "MerkleBucketsRequest",
    "MerkleCompareReply",
    "MerkleCompareRequest",
    "MerkleHashCache",
    "MerkleMessage",
    "MerklePacket",
    "MerkleSend",
    "MerkleTracking",
    "MerkleTrees",
    "Message",
    "Node",
    "NodeConfig",
    "NodeStats",
    "NodeStorage",
    "Outbox",
    "PartitionArgumentError",
    "PartitionMerkleTree",
    "PartitionRing",
    "PartitionTransfers",
    "PeerInput",
    "PeerInputError",
    "Persist",
    "PersistDone",
    "PhiAccrualDetector",
    "PhiConfig",
    "PutRequest",
    "PutResult",
    "ReadRepair",
    "ReadRequest",
    "ReadResponse",
    "Reap",
    "ReapQuery",
    "ReapVote",
    "Receive",
    "Record",
    "RepairKeys",
    "RepairPush",
    "Reply",
    "Request",
    "RequestPath",
    "Result",
    "RingCache",
    "RingState",
    "RootsReply",
    "RootsRequest",
    "Seams",
    "SetTimer",
    "StorageView",
    "StoreGeneration",
    "StoreHint",
    "StoreLease",
    "StoreRing",
    "StoreVersions",
    "Tick",
    "TimeoutHealth",
    "TombstoneReaper",
    "TransferAck",
    "TransferBatch",
    "Version",
    "WriteAck",
    "WriteRequest",
    "covers",
    "hint_may_be_deleted",
    "hint_size_bytes",
    "hint_to_store",
    "merkle_descend",
    "next_counter",
    "partitions",
    "read_may_answer",
    "tombstone_may_be_reaped",
    "value_hash",
    "vector_clock",
    "versions",
    "wire_bytes",
    "write_may_answer",
]
