"""The core's cheaper constructor for frozen dataclasses behaves as the generated one."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pickle

import pytest
from dynamokv.impl.core import Version, WriteRequest
from dynamokv.impl.core._frozen import fast_init


def _plain_twin(cls: type) -> type:
    """The same class as ``@dataclass(frozen=True, slots=True)`` made it, before fast_init."""
    namespace = {"__annotations__": dict(cls.__annotations__)}
    for field in dataclasses.fields(cls):
        if field.default is not dataclasses.MISSING:
            namespace[field.name] = dataclasses.field(default=field.default, kw_only=field.kw_only)
        elif field.kw_only:
            namespace[field.name] = dataclasses.field(kw_only=True)
    twin: type = dataclasses.dataclass(frozen=True, slots=True)(type(cls.__name__, (), namespace))
    return twin


FAST_BY_MODULE = {
    "_messages": (
        "BucketSlice ClientRequest DeleteHint ForwardRequest ForwardResponse GetRequest "
        "GetResult Hint HintAck HintReplay MerkleBucketsReply "
        "MerkleBucketsRequest MerkleCompareReply MerkleCompareRequest MerklePacket Persist "
        "PersistDone PutRequest PutResult ReadRepair ReadRequest ReadResponse Reap ReapQuery "
        "ReapVote Receive RepairPush Reply RootsReply RootsRequest SetTimer "
        "StoreGeneration StoreHint StoreLease StoreRing StoreVersions Tick TransferAck "
        "TransferBatch WriteAck WriteRequest"
    ),
    "_gossip": (
        "EntryDigest GossipAck GossipAck2 GossipPacket GossipSyn MemberEntry "
        "MemberStatusChanged PendingChange RingAdopted SuspicionChanged"
    ),
    "_outbox": "AckWhenDurable GenerationDurable LeaseDurable LocalWriteDurable",
    "_anti_entropy": "ExchangeFinished MerkleSend RepairKeys",
    "_versions": "Version",
}
"""Every class built on a hot path, by module: each must keep the cheaper constructor."""

FAST = [
    getattr(importlib.import_module(f"dynamokv.impl.core.{module}"), name)
    for module, names in FAST_BY_MODULE.items()
    for name in names.split()
]


def _has_fast_init(cls: type) -> bool:
    code = getattr(cls.__init__, "__code__", None)
    return code is not None and code.co_filename.startswith("<fast_init")


@pytest.mark.parametrize("cls", FAST, ids=lambda cls: cls.__name__)
def test_a_hot_type_has_the_cheaper_constructor(cls: type) -> None:
    assert _has_fast_init(cls)
    assert not _has_fast_init(_plain_twin(cls))


@pytest.mark.parametrize("cls", FAST, ids=lambda cls: cls.__name__)
def test_the_signature_is_the_generated_ones(cls: type) -> None:
    assert inspect.signature(cls.__init__) == inspect.signature(_plain_twin(cls).__init__)


def test_an_instance_is_equal_frozen_hashable_and_picklable() -> None:
    version = Version(b"v", ("n1", 3), (("n2", 1),))
    message = WriteRequest("n1", "n2", 7, b"k", (version,))
    assert message.hinted_for is None
    assert message == WriteRequest("n1", "n2", 7, b"k", (version,), None)
    assert hash(message) == hash(WriteRequest("n1", "n2", 7, b"k", (version,)))
    assert dataclasses.replace(message, hinted_for="n3").hinted_for == "n3"
    assert pickle.loads(pickle.dumps(message)) == message
    with pytest.raises(dataclasses.FrozenInstanceError):
        message.op_id = 8  # type: ignore[misc]
    with pytest.raises(TypeError):
        WriteRequest("n1", "n2", 7)  # type: ignore[call-arg]


def test_keyword_only_fields_and_defaults() -> None:
    @fast_init
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Options:
        size: int
        name: str = "x"

    assert Options(size=2) == Options(size=2, name="x")
    with pytest.raises(TypeError):
        Options(2)  # type: ignore[misc]


def test_what_it_cannot_copy_is_refused() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithoutSlots:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        a: tuple[int, ...] = dataclasses.field(default_factory=tuple)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithPostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    for cls in (WithoutSlots, WithFactory, WithPostInit, Mutable):
        with pytest.raises(TypeError):
            fast_init(cls)


def test_a_nodes_configs_and_counters_are_slotted() -> None:
    """A node's configs and counters have their fields and nothing else: a misspelt
    counter (``stats.hint_stored += 1``) raises instead of counting into a new
    attribute no report reads."""
    from dynamokv.impl.core import MemberConfig, MemberStats, NodeConfig, NodeStats

    for value in (NodeConfig(), NodeStats(), MemberConfig(), MemberStats()):
        assert not hasattr(value, "__dict__"), type(value).__name__
    for counters in (NodeStats(), MemberStats()):
        with pytest.raises(AttributeError):
            counters.misspelt_counter = 1  # type: ignore[attr-defined]


UNSLOTTED = {
    "RingState": "caches its node set in a cached_property, which needs an instance dict",
    "PhiConfig": "caches its threshold's deadline in a cached_property (instance dict)",
    "GossipConfig": "made once per node: its memory does not matter",
    "AntiEntropyConfig": "made once per node",
    "GossipMetrics": "made once per node",
    "AntiEntropyMetrics": "made once per node",
}
"""The core's dataclasses without slots, each with why."""


def test_every_dataclass_of_the_core_is_slotted_but_the_few_named() -> None:
    """Messages, effects, records and versions are made by the million on hot paths: each
    is slotted (no instance dict: less memory, and a misspelt attribute raises)."""
    import pathlib

    import dynamokv.impl.core as core_package

    slotted, unslotted = [], set()
    for path in sorted(pathlib.Path(core_package.__file__).parent.glob("_*.py")):
        module = importlib.import_module(f"dynamokv.impl.core.{path.stem}")
        for cls in vars(module).values():
            if (
                isinstance(cls, type)
                and dataclasses.is_dataclass(cls)
                and cls.__module__ == module.__name__
            ):
                if "__slots__" in vars(cls):
                    slotted.append(cls)
                else:
                    unslotted.add(cls.__name__)
    assert unslotted == set(UNSLOTTED)
    assert len(slotted) >= 60


def test_a_nodes_counters_start_at_zero() -> None:
    """A node that has done nothing reports nothing: every counter starts at 0."""
    import dataclasses

    from dynamokv.impl.core import MemberStats, NodeStats

    for counters in (NodeStats(), MemberStats()):
        assert set(dataclasses.asdict(counters).values()) == {0}, type(counters).__name__
