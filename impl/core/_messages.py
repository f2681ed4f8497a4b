"""The core's vocabulary: requests, results, peer messages, events, effects, records.

Every type is a frozen, slotted dataclass of plain fields (``str``, ``int``,
``bytes``, ``None``, tuples, and :class:`dynamokv.spec.kv.Version`, itself plain
fields), so the wire codec can serialize them field by field and the
simulator can pass them around without copying.

Theory of operation (as etcd-raft's ``Ready``): a driver feeds one *event* at a
time to :meth:`Node.step <dynamokv.impl.core.Node.step>` and carries out the
returned *effects* in order. A :class:`Persist` must be applied to the node's
storage (so that later reads through the storage view see it) before the next
event is stepped; it is *durable* only when the driver steps
:class:`PersistDone`. The node never acknowledges anything (a :class:`WriteAck`,
a :class:`HintAck`, a successful :class:`PutResult`) that rests on a write whose
:class:`PersistDone` it has not seen: persist before you acknowledge.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._frozen import fast_init
from ._gossip import GossipPacket
from ._vclock import Clock
from ._versions import Version

__all__ = [
    "BucketSlice",
    "ClientRequest",
    "DeleteHint",
    "Effect",
    "Event",
    "ForwardRequest",
    "ForwardResponse",
    "GetRequest",
    "GetResult",
    "GossipPacket",
    "Hint",
    "HintAck",
    "HintReplay",
    "MerkleBucketsReply",
    "MerkleBucketsRequest",
    "MerkleCompareReply",
    "MerkleCompareRequest",
    "MerkleMessage",
    "MerklePacket",
    "Message",
    "Persist",
    "PersistDone",
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
    "RepairPush",
    "Reply",
    "Request",
    "Result",
    "RootsReply",
    "RootsRequest",
    "SetTimer",
    "StoreGeneration",
    "StoreHint",
    "StoreLease",
    "StoreRing",
    "StoreVersions",
    "Tick",
    "TransferAck",
    "TransferBatch",
    "WriteAck",
    "WriteRequest",
]

# -- client requests and their results ------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class GetRequest:
    """``get(key)``: every sibling and a context. ``r`` None means the node's default."""

    key: bytes
    r: int | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class PutRequest:
    """``put(key, context, value)``; ``value`` None is a delete (a tombstone).

    ``context`` is the opaque context of an earlier get, as sorted pairs (empty for
    a blind write). ``w`` None means the node's default.
    """

    key: bytes
    value: bytes | None
    context: Clock = ()
    w: int | None = None


Request = GetRequest | PutRequest


@fast_init
@dataclass(frozen=True, slots=True)
class GetResult:
    """Siblings (tombstones included, sorted by dot) and the context to write back with.

    ``ok`` is False when fewer than R replicas answered in time; ``error`` says why.
    """

    ok: bool
    versions: tuple[Version, ...] = ()
    context: Clock = ()
    replies: int = 0
    error: str = ""


@fast_init
@dataclass(frozen=True, slots=True)
class PutResult:
    """The version written and how many replicas acknowledged it durably."""

    ok: bool
    version: Version | None = None
    acks: int = 0
    error: str = ""


Result = GetResult | PutResult

# -- node-to-node messages ------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class ReadRequest:
    """Coordinator -> replica: send me your versions of ``key``."""

    src: str
    dst: str
    op_id: int
    key: bytes


@fast_init
@dataclass(frozen=True, slots=True)
class ReadResponse:
    """Replica -> coordinator: the versions held (including hinted ones)."""

    src: str
    dst: str
    op_id: int
    key: bytes
    versions: tuple[Version, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class WriteRequest:
    """Coordinator -> replica: merge ``versions``; ``hinted_for`` names the owner a
    substitute stands in for (None for an owner), Dynamo §4.6."""

    src: str
    dst: str
    op_id: int
    key: bytes
    versions: tuple[Version, ...]
    hinted_for: str | None = None


@fast_init
@dataclass(frozen=True, slots=True)
class WriteAck:
    """Replica -> coordinator, sent only once the write is durable. ``ok`` False:
    refused (a full hint store)."""

    src: str
    dst: str
    op_id: int
    key: bytes
    ok: bool = True


@fast_init
@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """A node outside the preference list hands a put to an owner (Dynamo §4.5)."""

    src: str
    dst: str
    op_id: int
    request: PutRequest


@fast_init
@dataclass(frozen=True, slots=True)
class ForwardResponse:
    """The owner's result for a forwarded put."""

    src: str
    dst: str
    op_id: int
    result: PutResult


@fast_init
@dataclass(frozen=True, slots=True)
class ReadRepair:
    """Coordinator -> stale replica after a get: merge these versions. No ack."""

    src: str
    dst: str
    key: bytes
    versions: tuple[Version, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class HintReplay:
    """Substitute -> recovered owner: the write it kept for you (hinted handoff)."""

    src: str
    dst: str
    hint_id: int
    key: bytes
    versions: tuple[Version, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class HintAck:
    """Owner -> substitute, once the replayed versions are durable. Carries their dots,
    so the substitute deletes a hint only if the owner holds everything in it."""

    src: str
    dst: str
    hint_id: int
    dots: tuple[tuple[str, int], ...]


# -- membership and anti-entropy messages --------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class TransferBatch:
    """Old owner -> new owner: one bounded batch of a partition handed off after a ring
    change (Dynamo §4.8.1). The receiver merges (never overwrites) and acknowledges once
    the merge is durable.

    Attributes:
        transfer_id: the sender's transfer, echoed in the ack.
        batch_id: the batch within the transfer, echoed.
        partition: the strategy-3 partition moved.
        ring_version: the ring under which the receiver is an owner of ``partition``...
        ring_issuer: ... and its issuer (racing rings may share a version).
        items: ``(key, versions)`` pairs, at most ``transfer_batch_keys_max``.
    """

    src: str
    dst: str
    transfer_id: int
    batch_id: int
    partition: int
    ring_version: int
    ring_issuer: str
    items: tuple[tuple[bytes, tuple[Version, ...]], ...]


@fast_init
@dataclass(frozen=True, slots=True)
class TransferAck:
    """New owner -> old owner: every item of the batch is durable here."""

    src: str
    dst: str
    transfer_id: int
    batch_id: int


@fast_init
@dataclass(frozen=True, slots=True)
class RepairPush:
    """Replica -> replica after a Merkle exchange found these keys differing (Dynamo §4.7):
    merge my versions into yours. No ack: the next exchange finds what was lost."""

    src: str
    dst: str
    partition: int
    items: tuple[tuple[bytes, tuple[Version, ...]], ...]


@fast_init
@dataclass(frozen=True, slots=True)
class MerkleCompareRequest:
    """Initiator -> responder: my hashes of these nodes at one level.

    Attributes:
        exchange_id: chosen by the initiator; echoed in the reply.
        request_id: the request within the exchange; echoed.
        sender: the initiator's node id.
        partition: whose tree.
        depth: the initiator's tree depth (must equal the responder's).
        level: the depth of the nodes compared (0: the root).
        indexes: the nodes' indexes at that level.
        hashes: the initiator's hashes of those nodes, in the same order.
    """

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    depth: int
    level: int
    indexes: tuple[int, ...]
    hashes: tuple[bytes, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class MerkleCompareReply:
    """Responder -> initiator: which of the compared nodes differ.

    ``ok`` is false when the responder holds no tree for the partition or its
    depth differs; the initiator then abandons the exchange.
    """

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    level: int
    differing: tuple[int, ...]
    ok: bool


@fast_init
@dataclass(frozen=True, slots=True)
class BucketSlice:
    """The initiator's pairs of one bucket within a key range.

    Attributes:
        bucket: the leaf index.
        key_low: the first key the slice covers (inclusive).
        key_high: the end of the range (exclusive), or ``None``: to the bucket's end.
        entries: the initiator's ``(key, value_hash)`` pairs in the range, sorted by key.
    """

    bucket: int
    key_low: bytes
    key_high: bytes | None
    entries: tuple[tuple[bytes, bytes], ...]


@fast_init
@dataclass(frozen=True, slots=True)
class MerkleBucketsRequest:
    """Initiator -> responder: my contents of differing buckets, to be diffed key by key."""

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    depth: int
    slices: tuple[BucketSlice, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class MerkleBucketsReply:
    """Responder -> initiator: the keys on which the slices differ (either side)."""

    exchange_id: int
    request_id: int
    sender: str
    partition: int
    keys: tuple[bytes, ...]
    ok: bool


MerkleMessage = (
    MerkleCompareRequest | MerkleCompareReply | MerkleBucketsRequest | MerkleBucketsReply
)


@fast_init
@dataclass(frozen=True, slots=True)
class MerklePacket:
    """A Merkle exchange message (:mod:`~dynamokv.impl.core._anti_entropy`)."""

    src: str
    dst: str
    body: MerkleMessage


@fast_init
@dataclass(frozen=True, slots=True)
class RootsRequest:
    """Anti-entropy's first step: my Merkle roots of partitions we both own.

    One message compares many partitions (a flat "tree of roots"), so replicas that
    agree cost one round trip per peer instead of one per partition. With ``complete``
    the request lists only the sender's non-empty partitions and means "every other
    partition we share is empty here"; otherwise it lists a slice of them all.
    """

    src: str
    dst: str
    round_id: int
    depth: int
    partitions: tuple[int, ...]
    roots: tuple[bytes, ...]
    complete: bool = False


@fast_init
@dataclass(frozen=True, slots=True)
class RootsReply:
    """The partitions of a :class:`RootsRequest` whose roots differ here (``ok`` False:
    the trees' depths differ)."""

    src: str
    dst: str
    round_id: int
    differing: tuple[int, ...]
    ok: bool = True


@fast_init
@dataclass(frozen=True, slots=True)
class ReapQuery:
    """Reaper -> the other owners: do you hold these tombstones, or deleted versions that
    superseded them (:mod:`~dynamokv.impl.core._reaping`)? Asked under ``ring_version``."""

    src: str
    dst: str
    round_id: int
    ring_version: int
    items: tuple[tuple[bytes, tuple[Version, ...]], ...]


@fast_init
@dataclass(frozen=True, slots=True)
class ReapVote:
    """Owner -> reaper: the keys of a :class:`ReapQuery` whose tombstones it holds."""

    src: str
    dst: str
    round_id: int
    keys: tuple[bytes, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Reap:
    """Reaper -> the other owners: every owner holds these tombstones; forget them (a key
    whose stored versions they do not cover is kept)."""

    src: str
    dst: str
    items: tuple[tuple[bytes, tuple[Version, ...]], ...]


Message = (
    ReadRequest
    | ReadResponse
    | WriteRequest
    | WriteAck
    | ForwardRequest
    | ForwardResponse
    | ReadRepair
    | HintReplay
    | HintAck
    | TransferBatch
    | TransferAck
    | RepairPush
    | GossipPacket
    | MerklePacket
    | RootsRequest
    | RootsReply
    | ReapQuery
    | ReapVote
    | Reap
)

# -- durable records ------------------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class StoreVersions:
    """Replace ``key``'s stored versions with ``versions`` (already merged by the core)."""

    key: bytes
    versions: tuple[Version, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Hint:
    """A write kept for an unreachable owner (Dynamo §4.6)."""

    hint_id: int
    owner: str
    key: bytes
    versions: tuple[Version, ...]
    size_bytes: int


@fast_init
@dataclass(frozen=True, slots=True)
class StoreHint:
    """Keep ``hint`` durably until its owner acknowledges it."""

    hint: Hint


@fast_init
@dataclass(frozen=True, slots=True)
class DeleteHint:
    """The owner acknowledged the hint: forget it."""

    hint_id: int


@fast_init
@dataclass(frozen=True, slots=True)
class StoreLease:
    """Dot counters up to ``counter_max`` may be issued (see ``_node``'s docstring)."""

    counter_max: int


@fast_init
@dataclass(frozen=True, slots=True)
class StoreRing:
    """The ring this node adopted (gossip's :class:`~dynamokv.impl.core.RingState`), so a
    restart rejoins with the ring it had rather than the bootstrap one."""

    version: int
    issuer: str
    owners: tuple[str, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class StoreGeneration:
    """This node's incarnation (gossip's generation): a restart takes the next one."""

    generation: int


Record = StoreVersions | StoreHint | DeleteHint | StoreLease | StoreRing | StoreGeneration

# -- events (into the node) -----------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Receive:
    """A message from a peer arrived."""

    message: Message


@fast_init
@dataclass(frozen=True, slots=True)
class ClientRequest:
    """A client request; ``request_id`` is the driver's, echoed in the :class:`Reply`."""

    request_id: int
    request: Request


@fast_init
@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed. Drivers step one at boot and whenever a :class:`SetTimer` falls due."""


@fast_init
@dataclass(frozen=True, slots=True)
class PersistDone:
    """The records of :class:`Persist` ``persist_id`` are durable."""

    persist_id: int


Event = Receive | ClientRequest | Tick | PersistDone | Message
"""What a driver steps. A peer message may be stepped as it is or wrapped in
:class:`Receive`; both are the same event."""

# -- effects (out of the node) --------------------------------------------------------


@fast_init
@dataclass(frozen=True, slots=True)
class Persist:
    """Apply ``records`` to storage now; step :class:`PersistDone` once they are durable."""

    persist_id: int
    records: tuple[Record, ...]


@fast_init
@dataclass(frozen=True, slots=True)
class Reply:
    """Answer the client request ``request_id``."""

    request_id: int
    result: Result


@fast_init
@dataclass(frozen=True, slots=True)
class SetTimer:
    """Step a :class:`Tick` at (or after) tick ``at``."""

    at: int


Effect = Message | Persist | Reply | SetTimer
"""What a driver carries out, in order. A peer message among the effects is sent to its
``dst``, best effort (it may be lost): it is its own effect, with no envelope around it."""
