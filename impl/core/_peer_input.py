"""What a node takes from its peers: the checks a message passes before the node acts on it.

A correct peer sends only what its own core built, and that has a shape the rest of the
core relies on: a key's versions sorted by dot, one version per dot; a context sorted by
node; counters that fit a clock; keys the store can hold; partitions of the ring, and keys
of the partition a message names; weights of at least one. And it never contradicts what
this node holds: one dot is one write, so a version under a dot this node holds is the
version it holds, and a dot of this node's own is one it issued. A message that breaks
one of these comes from a bug, corruption, or a process that is not one of the cluster's
nodes. Acted on, it would break an invariant of this node (and stop it) or leave a version
this node cannot reconcile.

:meth:`PeerInput.check` refuses such a message whole, with :class:`PeerInputError`, and
changes nothing; the runtime calls it before it hands a peer's message to the node, and
closes the connection the message came on (as it does for a malformed frame), so one
faulty peer cannot stop the others: they only refuse what it sends. The simulator's
nodes are all correct, so it need not check; a test feeds a node arbitrary decodable
messages to show that whatever passes the check, the node handles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from dynamokv.spec.errors import ProtocolError

from ._gossip import GossipAck, GossipAck2, MemberEntry
from ._messages import (
    ForwardRequest,
    ForwardResponse,
    GossipPacket,
    HintReplay,
    MerkleBucketsReply,
    MerkleBucketsRequest,
    MerkleCompareReply,
    MerkleCompareRequest,
    MerklePacket,
    ReadRepair,
    ReadResponse,
    Reap,
    ReapQuery,
    RepairPush,
    RootsReply,
    RootsRequest,
    TransferBatch,
    WriteRequest,
)
from ._versions import Version

__all__ = ["COUNTER_MAX", "NODE_NAME_CHARS_MAX", "PeerInput", "PeerInputError"]

COUNTER_MAX = (1 << 63) - 1
"""The largest counter a dot or a context may carry: a signed 64-bit integer."""

NODE_NAME_CHARS_MAX = 255
"""The longest node name a dot or a context may carry."""


class PeerInputError(ProtocolError):
    """A peer's message that no correct node sends; refused whole, nothing changed."""


class PeerInput:
    """The checks of one node (see the module docstring).

    Args:
        node_id: this node.
        issued: the largest counter this node has issued (its own dots above it are
            forged).
        held: a key -> what this node holds of it (owned and hinted).
        responses: an op id -> the versions the replicas have answered a get with so far
            (a reply's dots must agree with theirs), or ``None``.
        partition_of: a key -> its partition.
        partition_count: Q.
        key_bytes_max: the longest key the node's store takes.
    """

    __slots__ = (
        "_checks",
        "held",
        "issued",
        "key_bytes_max",
        "node_id",
        "partition_count",
        "partition_of",
        "responses",
    )

    def __init__(
        self,
        node_id: str,
        *,
        issued: Callable[[], int],
        held: Callable[[bytes], Iterable[Version]],
        responses: Callable[[int], Iterable[tuple[Version, ...]] | None],
        partition_of: Callable[[bytes], int],
        partition_count: int,
        key_bytes_max: int,
    ) -> None:
        self.node_id = node_id
        self.issued = issued
        self.held = held
        self.responses = responses
        self.partition_of = partition_of
        self.partition_count = partition_count
        self.key_bytes_max = key_bytes_max
        self._checks: dict[type, Callable[[Any], None]] = {
            WriteRequest: self._key_and_versions,
            ReadRepair: self._key_and_versions,
            HintReplay: self._key_and_versions,
            ReadResponse: self._read_response,
            TransferBatch: self._partition_items,
            RepairPush: self._partition_items,
            ReapQuery: self._items,
            Reap: self._items,
            ForwardRequest: self._forward_request,
            ForwardResponse: self._forward_response,
            RootsRequest: self._roots_request,
            RootsReply: self._roots_reply,
            MerklePacket: self._merkle,
            GossipPacket: self._gossip,
        }

    def check(self, message: object) -> None:
        """Raise :class:`PeerInputError` unless ``message`` is one a correct peer may send."""
        check = self._checks.get(message.__class__)
        if check is not None:
            check(message)

    # -- keys and versions ------------------------------------------------------------------

    def _key(self, key: bytes) -> None:
        if len(key) > self.key_bytes_max:
            raise PeerInputError(f"a key of {len(key)} bytes, over {self.key_bytes_max}")

    def _versions(self, key: bytes, versions: tuple[Version, ...]) -> None:
        """One key's versions: well formed, and agreeing with what this node holds."""
        self._key(key)
        previous: tuple[str, int] | None = None
        for version in versions:
            dot = version.dot
            _check_counter(dot, 1)
            if previous is not None and not previous < dot:
                raise PeerInputError(f"versions not sorted by dot, or two under {dot}")
            previous = dot
            _check_context(version.context)
            if dot[0] == self.node_id and dot[1] > self.issued():
                raise PeerInputError(f"a dot {dot} this node never issued")
        if versions:
            self._agrees(versions, self.held(key))

    def _agrees(self, versions: tuple[Version, ...], others: Iterable[Version]) -> None:
        by_dot = {version.dot: version for version in others}
        if not by_dot:
            return
        for version in versions:
            known = by_dot.get(version.dot)
            if known is not None and known is not version and known != version:
                raise PeerInputError(f"a version under {version.dot} that differs from this node's")

    def _key_and_versions(self, message: WriteRequest | ReadRepair | HintReplay) -> None:
        self._versions(message.key, message.versions)

    def _read_response(self, message: ReadResponse) -> None:
        self._versions(message.key, message.versions)
        answered = self.responses(message.op_id)
        if answered is not None:
            for versions in answered:
                self._agrees(message.versions, versions)

    def _items(self, message: ReapQuery | Reap) -> None:
        for key, versions in message.items:
            self._versions(key, versions)

    def _partition(self, partition: int) -> None:
        if not 0 <= partition < self.partition_count:
            raise PeerInputError(
                f"partition {partition} is not on a ring of {self.partition_count}"
            )

    def _partition_items(self, message: TransferBatch | RepairPush) -> None:
        self._partition(message.partition)
        partition_of = self.partition_of
        for key, versions in message.items:
            self._versions(key, versions)
            if partition_of(key) != message.partition:
                raise PeerInputError(
                    f"a key of partition {partition_of(key)} sent as one of {message.partition}"
                )

    def _forward_request(self, message: ForwardRequest) -> None:
        request = message.request
        self._key(request.key)
        _check_context(request.context)

    def _forward_response(self, message: ForwardResponse) -> None:
        version = message.result.version
        if version is not None:
            _check_counter(version.dot, 1)

    # -- anti-entropy and gossip ----------------------------------------------------------

    def _roots_request(self, message: RootsRequest) -> None:
        for partition in message.partitions:
            self._partition(partition)

    def _roots_reply(self, message: RootsReply) -> None:
        for partition in message.differing:
            self._partition(partition)

    def _merkle(self, message: MerklePacket) -> None:
        body = message.body
        if isinstance(
            body,
            MerkleCompareRequest | MerkleCompareReply | MerkleBucketsRequest | MerkleBucketsReply,
        ):
            self._partition(body.partition)
        if isinstance(body, MerkleBucketsReply):
            for key in body.keys:
                self._key(key)

    def _gossip(self, message: GossipPacket) -> None:
        body = message.body
        if isinstance(body, GossipAck | GossipAck2):
            for entry in body.entries:
                _check_entry(entry)


def _check_context(context: tuple[tuple[str, int], ...]) -> None:
    previous: str | None = None
    for entry in context:
        _check_counter(entry, 0)
        if previous is not None and not previous < entry[0]:
            raise PeerInputError(f"a context not sorted by node: {context}")
        previous = entry[0]


def _check_counter(pair: tuple[str, int], lowest: int) -> None:
    node, counter = pair
    if not node or len(node) > NODE_NAME_CHARS_MAX:
        raise PeerInputError(f"a node name of {len(node)} characters in {pair}")
    if not lowest <= counter <= COUNTER_MAX:
        raise PeerInputError(f"a counter out of {lowest}..2**63-1 in {pair}")


def _check_entry(entry: MemberEntry) -> None:
    if entry.weight < 1:
        raise PeerInputError(f"{entry.node_id}'s weight is {entry.weight}, not at least 1")
    if entry.generation < 0 or entry.heartbeat < 0:
        raise PeerInputError(f"{entry.node_id}'s generation or heartbeat is negative")
