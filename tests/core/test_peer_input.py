"""What a node takes from its peers: whatever passes :class:`PeerInput`'s checks, the node
handles without breaking an invariant; what a correct peer never sends is refused whole.

The property is shown with arbitrary messages of every peer type (built from the types'
annotations, over a small alphabet of node names, keys and counters so that they hit the
node's real state: its keys, its ops in flight, its dots), fed to one node of a cluster
that has run for a while. Its negative control feeds the same messages unchecked, and the
node breaks.
"""

from __future__ import annotations

import dataclasses
import random
import types
import typing
from typing import Any

import pytest
from dynamokv.impl.core import (
    Effect,
    Event,
    GossipAck,
    GossipPacket,
    MemberEntry,
    Message,
    Node,
    Persist,
    PersistDone,
    PutRequest,
    Receive,
    RepairPush,
    Tick,
    Version,
    WriteRequest,
)
from dynamokv.impl.core import PeerInputError as Refused
from dynamokv.impl.sim import Cluster, SimDisk
from dynamokv.impl.storage import KEY_BYTES_MAX
from dynamokv.spec.errors import InvariantError

KEYS = tuple(b"k%d" % index for index in range(8))
NAMES = ("n1", "n2", "n3")


def _step_durably(node: Node, disk: SimDisk, event: Event, now: int) -> list[Effect]:
    effects = node.step(event, now)
    for effect in effects:
        if isinstance(effect, Persist):
            disk.apply(effect)
    for effect in [e for e in effects if isinstance(e, Persist)]:
        effects += _step_durably(node, disk, PersistDone(effect.persist_id), now)
    return effects


def _warmed_up(seed: int) -> Cluster:
    """Three gossiping nodes that hold a few keys, with gets and puts in flight at n1."""
    cluster = Cluster(3, seed=seed, membership="gossip", q=64)
    for index, key in enumerate(KEYS * 3):
        cluster.submit(NAMES[index % 3], PutRequest(key, b"v%d" % index), lambda _: None)
    cluster.run(until=400)
    return cluster


class _Arbitrary:
    """Messages of any peer type, drawn from ``random``, that the wire codec accepts."""

    def __init__(self, random_: random.Random, node: Node) -> None:
        self.random = random_
        self.node = node

    def int(self) -> int:
        ops = list(self.node.requests._ops)
        usual = [0, 1, 2, 3, 5, 63, 64, -1, 2**62, 2**63 - 1, self.random.randrange(1 << 16)]
        return self.random.choice(usual + ops * 3)

    def value(self, annotation: Any, depth: int = 0) -> Any:
        draw = self.random
        if annotation is type(None) or annotation is None:
            return None
        if annotation is int:
            return self.int()
        if annotation is bool:
            return draw.random() < 0.5
        if annotation is float:
            return draw.choice([0.0, 1.0, -1.0, 1e9])
        if annotation is str:
            return draw.choice(NAMES)
        if annotation is bytes:
            return draw.choice([*KEYS, b"", b"x" * (KEY_BYTES_MAX + 1), b"v1", draw.randbytes(16)])
        origin = typing.get_origin(annotation)
        arguments = typing.get_args(annotation)
        if origin is typing.Literal:
            return draw.choice(arguments)
        if origin in (typing.Union, types.UnionType):
            return self.value(draw.choice(arguments), depth)
        if origin is tuple:
            if len(arguments) == 2 and arguments[1] is Ellipsis:
                count = draw.choice([0, 1, 1, 2, 3]) if depth < 3 else 0
                return tuple(self.value(arguments[0], depth + 1) for _ in range(count))
            return tuple(self.value(argument, depth + 1) for argument in arguments)
        assert dataclasses.is_dataclass(annotation), annotation
        hints = typing.get_type_hints(annotation)
        fields = dataclasses.fields(annotation)
        return annotation(*[self.value(hints[field.name], depth + 1) for field in fields])

    def message(self) -> Message:
        kind = self.random.choice(typing.get_args(Message))
        return typing.cast(Message, self.value(kind))


def _feed(seed: int, *, checked: bool, count: int) -> tuple[int, int]:
    """Feed n1 ``count`` arbitrary messages (a tick every 25); return how many were
    refused and how many stepped."""
    cluster = _warmed_up(seed)
    node, disk = cluster.nodes["n1"], cluster.disks["n1"]
    assert node is not None
    check = node.peer_input(key_bytes_max=KEY_BYTES_MAX)
    arbitrary = _Arbitrary(random.Random(seed), node)
    now = cluster.now
    refused = stepped = 0
    for index in range(count):
        message = arbitrary.message()
        if checked:
            try:
                check.check(message)
            except Refused:
                refused += 1
                continue
        stepped += 1
        _step_durably(node, disk, Receive(message), now)
        if index % 25 == 0:
            now += 1
            _step_durably(node, disk, Tick(), now)
    return refused, stepped


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_node_handles_every_peer_message_its_checks_let_through(seed: int) -> None:
    refused, stepped = _feed(seed, checked=True, count=2_000)
    assert refused > 200 and stepped > 1_000, (refused, stepped)


def test_unchecked_the_same_messages_break_the_node() -> None:
    """The negative control: without the checks, the arbitrary messages reach states the
    core holds impossible (two versions under one dot, a partition off the ring)."""
    with pytest.raises((InvariantError, IndexError)):
        _feed(1, checked=False, count=2_000)


def _node() -> tuple[Node, SimDisk]:
    cluster = _warmed_up(7)
    node = cluster.nodes["n1"]
    assert node is not None
    return node, cluster.disks["n1"]


def test_two_versions_under_one_dot_are_refused() -> None:
    node, _disk = _node()
    check = node.peer_input(key_bytes_max=KEY_BYTES_MAX)
    twins = (Version(b"a", ("n2", 5)), Version(b"b", ("n2", 5)))
    with pytest.raises(Refused, match="two under"):
        check.check(WriteRequest("n2", "n1", 1, b"fresh", twins))
    unsorted = (Version(b"a", ("n3", 5)), Version(b"b", ("n2", 5)))
    with pytest.raises(Refused, match="not sorted"):
        check.check(WriteRequest("n2", "n1", 1, b"fresh", unsorted))


def test_a_version_that_differs_from_the_one_held_under_its_dot_is_refused() -> None:
    node, _disk = _node()
    check = node.peer_input(key_bytes_max=KEY_BYTES_MAX)
    key = next(key for key in KEYS if node.stored_versions(key))
    held = node.stored_versions(key)[0]
    check.check(WriteRequest("n2", "n1", 1, key, (held,)))  # the same version: taken
    forged = Version(b"forged", held.dot, held.context)
    with pytest.raises(Refused, match="differs"):
        check.check(WriteRequest("n2", "n1", 1, key, (forged,)))
    with pytest.raises(Refused, match="differs"):
        check.check(RepairPush("n2", "n1", node.ring.partition_of(key), ((key, (forged,)),)))


def test_a_dot_of_this_node_that_it_never_issued_is_refused() -> None:
    node, _disk = _node()
    check = node.peer_input(key_bytes_max=KEY_BYTES_MAX)
    issued = node.requests.issued
    check.check(WriteRequest("n2", "n1", 1, b"fresh", (Version(b"a", ("n1", issued)),)))
    ahead = (Version(b"a", ("n1", issued + 1)),)
    with pytest.raises(Refused, match="never issued"):
        check.check(WriteRequest("n2", "n1", 1, b"fresh", ahead))


def test_keys_partitions_counters_and_weights_out_of_bounds_are_refused() -> None:
    node, _disk = _node()
    check = node.peer_input(key_bytes_max=KEY_BYTES_MAX)
    version = (Version(b"a", ("n2", 1)),)
    too_long = b"k" * (KEY_BYTES_MAX + 1)
    with pytest.raises(Refused, match="bytes, over"):
        check.check(WriteRequest("n2", "n1", 1, too_long, version))
    with pytest.raises(Refused, match="not on a ring"):
        check.check(RepairPush("n2", "n1", 64, ()))
    elsewhere = next(key for key in KEYS if node.ring.partition_of(key) != 0)
    with pytest.raises(Refused, match="sent as one of"):
        check.check(RepairPush("n2", "n1", 0, ((elsewhere, version),)))
    with pytest.raises(Refused, match="counter out of"):
        check.check(WriteRequest("n2", "n1", 1, b"fresh", (Version(b"a", ("n2", 0)),)))
    weightless = MemberEntry("n9", "host:1", 1, 1, "joining", 0)
    with pytest.raises(Refused, match="weight"):
        check.check(
            GossipPacket("n2", "n1", "", GossipAck("n2", "", (weightless,), (), None, False))
        )
