"""Merkle anti-entropy: the incremental tree agrees with the spec; the exchange repairs the difference.

Reference: Dynamo §4.7
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from dataclasses import asdict, dataclass, field

import pytest
from dynamokv.impl.core import (
    AntiEntropy,
    AntiEntropyConfig,
    AntiEntropyEffect,
    AntiEntropyRounds,
    BucketSlice,
    ExchangeFinished,
    MemberConfig,
    MemberStats,
    MerkleArgumentError,
    MerkleBucketsReply,
    MerkleBucketsRequest,
    MerkleCompareReply,
    MerkleCompareRequest,
    MerkleHashCache,
    MerkleMessage,
    MerklePacket,
    MerkleSend,
    MerkleTrees,
    Outbox,
    PartitionMerkleTree,
    PartitionRing,
    PutRequest,
    RepairKeys,
    Result,
    RootsReply,
    RootsRequest,
    TimeoutHealth,
    Version,
    wire_bytes,
)
from dynamokv.impl.core import _merkle as merkle_module
from dynamokv.impl.core._merkle import EMPTY_LEAF, inner_hash, pair_digest
from dynamokv.impl.sim import Cluster
from dynamokv.impl.sim._measurements import measure_repair_traffic
from dynamokv.spec import merkle as spec_merkle
from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import InvariantError
from hypothesis import given
from hypothesis import strategies as st

KEYS = st.binary(min_size=1, max_size=6)
HASHES = st.binary(min_size=1, max_size=4)
CONTENTS = st.dictionaries(KEYS, HASHES, max_size=40)


def spec_hash_fn(payload: bytes) -> bytes:
    """A ``hash_fn`` for :func:`dynamokv.spec.merkle.build` that yields our node hashes.

    It decodes the spec's injective payloads: an inner node ``b"I" | len(left) | left |
    right`` gets :func:`inner_hash`, a leaf ``b"L" | count | (len, key, len, value_hash)*``
    the XOR of :func:`pair_digest` over its pairs. With it, the spec's tree and ours must
    agree on every node hash, not only on the diff.
    """
    if payload[:1] == b"I":
        left_length = int.from_bytes(payload[1:9], "big")
        return inner_hash(payload[9 : 9 + left_length], payload[9 + left_length :])
    assert payload[:1] == b"L"
    count = int.from_bytes(payload[1:9], "big")
    offset, leaf = 9, 0
    for _ in range(count):
        fields = []
        for _ in range(2):
            length = int.from_bytes(payload[offset : offset + 8], "big")
            fields.append(payload[offset + 8 : offset + 8 + length])
            offset += 8 + length
        leaf ^= int.from_bytes(pair_digest(fields[0], fields[1]), "big")
    assert offset == len(payload)
    return leaf.to_bytes(len(EMPTY_LEAF), "big")


def _tree(contents: dict[bytes, bytes], *, depth: int = 4) -> PartitionMerkleTree:
    tree = PartitionMerkleTree(0, partition_count=1, depth=depth)
    for key, value_hash in contents.items():
        tree.put(key, value_hash)
    return tree


def _spec_tree(tree: PartitionMerkleTree, contents: dict[bytes, bytes]) -> spec_merkle.MerkleTree:
    return spec_merkle.build(
        contents, depth=tree.depth, bucket_of=tree.bucket_of, hash_fn=spec_hash_fn
    )


@dataclass
class ExchangeRun:
    """What one in-process exchange a -> b did."""

    on_a: set[bytes] = field(default_factory=set)  # keys a was told to send to b
    on_b: set[bytes] = field(default_factory=set)  # keys b was told to send to a
    finished: list[ExchangeFinished] = field(default_factory=list)
    requests: list[MerkleMessage] = field(default_factory=list)
    requests_in_flight_max: int = 0


def _run_exchange(
    a: PartitionMerkleTree, b: PartitionMerkleTree, config: AntiEntropyConfig | None = None
) -> tuple[ExchangeRun, AntiEntropy, AntiEntropy]:
    """Run one exchange a -> b in process, messages delivered in order."""
    initiator, responder = AntiEntropy("a", config), AntiEntropy("b", config)
    run = ExchangeRun()
    queue: deque[MerkleSend] = deque()

    def take(owner: str, effects: list[AntiEntropyEffect] | None) -> None:
        for effect in effects or []:
            if isinstance(effect, MerkleSend):
                queue.append(effect)
                if owner == "a":
                    run.requests.append(effect.message)
            elif isinstance(effect, RepairKeys):
                (run.on_a if owner == "a" else run.on_b).update(effect.keys)
            else:
                run.finished.append(effect)

    take("a", initiator.start_exchange("b", a, 0))
    while queue:
        in_flight = sum(send.destination == "b" for send in queue)
        run.requests_in_flight_max = max(run.requests_in_flight_max, in_flight)
        send = queue.popleft()
        if send.destination == "b":
            take("b", responder.receive(send.message, 1, b))
        else:
            take("a", initiator.receive(send.message, 1, a))
    assert len(run.finished) == 1
    return run, initiator, responder


@given(st.lists(st.tuples(KEYS, st.one_of(st.none(), HASHES)), max_size=60))
def test_incremental_updates_equal_a_rebuild(operations: list[tuple[bytes, bytes | None]]) -> None:
    """Every put and remove keeps each node hash equal to a from-scratch computation."""
    tree = PartitionMerkleTree(0, partition_count=1, depth=3)
    model: dict[bytes, bytes] = {}
    for key, value_hash in operations:
        if value_hash is None:
            assert tree.remove(key) == (key in model)
            model.pop(key, None)
        else:
            tree.put(key, value_hash)
            model[key] = value_hash
    tree.check()
    assert dict(tree.items()) == model and len(tree) == len(model)


@given(CONTENTS, st.randoms(use_true_random=False))
def test_the_root_depends_on_contents_not_write_order(
    contents: dict[bytes, bytes], rng: random.Random
) -> None:
    items = list(contents.items())
    rng.shuffle(items)
    detour = _tree({key: b"other" for key, _ in items[:5]})  # stale values, then the real ones
    for key, value_hash in items:
        detour.put(key, value_hash)
    assert _tree(contents).root() == _tree(dict(items)).root() == detour.root()


@given(CONTENTS, st.integers(min_value=0, max_value=6))
def test_every_node_hash_equals_the_spec_tree(contents: dict[bytes, bytes], depth: int) -> None:
    """Raw hashes, level by level: the spec's build with our leaf and inner hash functions."""
    tree = _tree(contents, depth=depth)
    spec_tree = _spec_tree(tree, contents)
    assert tuple(tree.level(level) for level in range(depth + 1)) == spec_tree.levels
    assert tree.root() == spec_merkle.root(spec_tree)


@given(CONTENTS, CONTENTS, st.integers(min_value=0, max_value=5))
def test_an_exchange_finds_exactly_the_spec_diff(
    a_contents: dict[bytes, bytes], b_contents: dict[bytes, bytes], depth: int
) -> None:
    """The exchange's differing keys equal ``spec.merkle.diff`` and ``differing_keys``,
    after comparing exactly as many node pairs as the spec's top-down diff."""
    # Share most keys, so that both equal and differing subtrees occur.
    b_contents = {**a_contents, **b_contents}
    for key in list(b_contents)[::3]:
        b_contents.pop(key)
    a, b = _tree(a_contents, depth=depth), _tree(b_contents, depth=depth)
    expected = spec_merkle.diff(_spec_tree(a, a_contents), _spec_tree(b, b_contents))
    assert expected.keys == spec_merkle.differing_keys(a_contents, b_contents)
    run, _, _ = _run_exchange(a, b)
    (done,) = run.finished
    assert run.on_a == run.on_b == set(expected.keys)
    assert done.ok and done.keys_differing == len(expected.keys)
    assert done.nodes_compared == expected.nodes_compared


@given(CONTENTS, CONTENTS)
def test_pacing_bounds_hold_and_split_buckets_still_diff_exactly(
    a_contents: dict[bytes, bytes], b_contents: dict[bytes, bytes]
) -> None:
    """One hash, one pair per message, one request in flight: slower, same answer."""
    config = AntiEntropyConfig(
        exchange_requests_in_flight_max=1,
        exchange_nodes_per_message_max=1,
        exchange_entries_per_message_max=1,
    )
    run, _, _ = _run_exchange(_tree(a_contents, depth=2), _tree(b_contents, depth=2), config)
    assert run.on_a == run.on_b == spec_merkle.differing_keys(a_contents, b_contents)
    assert run.requests_in_flight_max <= 1
    for message in run.requests:
        if isinstance(message, MerkleCompareRequest):
            assert len(message.indexes) <= 1
        if isinstance(message, MerkleBucketsRequest):
            assert sum(len(piece.entries) for piece in message.slices) <= 1


def test_a_compare_request_carries_at_most_256_hashes_by_default() -> None:
    """The exchange descends level by level where hashes differ (Dynamo §4.7), and one
    request carries at most ``exchange_nodes_per_message_max`` hashes (256 by default):
    trees of 512 leaves that differ everywhere fill one request with a whole level of
    256 nodes, and no request carries more, while every differing key is still found."""
    contents = {f"k{i}".encode(): b"v" for i in range(4_000)}
    a = _tree(contents, depth=9)
    run, _, _ = _run_exchange(a, _tree({}, depth=9))
    sizes = [len(m.indexes) for m in run.requests if isinstance(m, MerkleCompareRequest)]
    assert max(sizes) == 256
    assert run.on_a == run.on_b == set(contents)


def test_equal_trees_cost_one_root_comparison() -> None:
    contents = {f"k{i}".encode(): b"v" for i in range(500)}
    run, initiator, responder = _run_exchange(_tree(contents), _tree(contents))
    assert (run.on_a, run.on_b, run.finished[0].nodes_compared) == (set(), set(), 1)
    assert initiator.metrics.trees_compared == 1
    assert initiator.metrics.nodes_exchanged == 1
    assert initiator.metrics.messages_sent == responder.metrics.messages_sent == 1


def test_exchanges_in_flight_are_bounded_and_silent_peers_time_out() -> None:
    """Repair must not starve foreground work: a node runs a bounded number of exchanges."""
    engine = AntiEntropy(
        "a", AntiEntropyConfig(exchanges_in_flight_max=2, exchange_timeout_ticks=50)
    )
    tree = _tree({b"k": b"v"})
    assert engine.start_exchange("b", tree, 0) is not None
    assert engine.start_exchange("c", tree, 0) is not None
    assert engine.start_exchange("d", tree, 0) is None
    assert engine.tick(49) == []
    effects = engine.tick(50)
    assert [e.ok for e in effects if isinstance(e, ExchangeFinished)] == [False, False]
    assert engine.exchanges_in_flight == 0 and engine.metrics.exchanges_abandoned == 2


def test_an_unanswered_exchange_is_abandoned_after_100_ticks_by_default() -> None:
    """``exchange_timeout_ticks`` is 100 by default: a silent peer holds an exchange slot
    for 100 ticks after the last progress, not one tick more or less."""
    engine = AntiEntropy("a")
    assert engine.start_exchange("b", _tree({b"k": b"v"}), 1_000) is not None
    assert engine.tick(1_099) == []
    (finished,) = engine.tick(1_100)
    assert isinstance(finished, ExchangeFinished) and not finished.ok


def test_a_peer_without_the_tree_refuses_and_the_exchange_is_abandoned() -> None:
    initiator, responder = AntiEntropy("a"), AntiEntropy("b")
    (send,) = initiator.start_exchange("b", _tree({b"k": b"v"}), 0) or []
    assert isinstance(send, MerkleSend)
    (reply,) = responder.receive(send.message, 1, None)
    assert isinstance(reply, MerkleSend)
    (finished,) = initiator.receive(reply.message, 2, None)
    assert isinstance(finished, ExchangeFinished) and not finished.ok
    assert wire_bytes(send.message) > len(EMPTY_LEAF)


def test_a_partitions_keys_run_from_its_start_up_to_the_next_ones() -> None:
    """A partition holds the ring positions from its own start up to, and without, the
    next partition's start: the first key of the next partition is not in its tree."""
    half = 1 << (spec_ring.RING_BITS - 1)
    positions = {b"first": 0, b"last": half - 1, b"next": half}
    tree = PartitionMerkleTree(0, partition_count=2, depth=2, position_of=positions.__getitem__)
    assert tree.bucket_of(b"first") == 0
    assert tree.bucket_of(b"last") == 3
    with pytest.raises(MerkleArgumentError):
        tree.bucket_of(b"next")


def test_a_key_of_another_partition_is_an_argument_error() -> None:
    tree = PartitionMerkleTree(3, partition_count=16, depth=4)
    key = next(
        f"k{i}".encode()
        for i in range(1000)
        if int.from_bytes(hashlib.md5(f"k{i}".encode()).digest(), "big") * 16 >> 128 != 3
    )
    with pytest.raises(MerkleArgumentError):
        tree.put(key, b"v")
    with pytest.raises(MerkleArgumentError):
        PartitionMerkleTree(0, depth=17)


def test_repair_traffic_is_a_small_fraction_of_a_full_copy() -> None:
    """10,000 keys, 100 divergent: the fast-tier version of the 100,000-key measurement."""
    traffic = measure_repair_traffic(keys=10_000, divergent=100)
    assert traffic.keys_repaired == 100
    assert traffic.fraction < 0.10


@pytest.mark.slow
def test_repair_traffic_for_100000_keys_with_100_divergent() -> None:
    """ "Merkle trees minimize the amount of data that needs to be transferred for synchronization."

    Reference: Dynamo §4.7
    """
    print()
    for depth in (10, 14):
        traffic = measure_repair_traffic(keys=100_000, divergent=100, depth=depth)
        print(
            f"depth {depth}: repair {traffic.repair_bytes:,} bytes "
            f"(merkle {traffic.merkle_bytes:,}, {traffic.nodes_exchanged} hashes) "
            f"vs full copy {traffic.full_copy_bytes:,} bytes = {traffic.fraction:.2%}"
        )
        assert traffic.keys_repaired == 100
        assert traffic.fraction < 0.05


# -- value hashes remembered across a restart ------------------------------------------


def test_a_hash_cache_remembers_a_version_set_by_identity() -> None:
    cache = MerkleHashCache()
    versions = (Version(b"v", ("n1", 1)), Version(None, ("n2", 1)))
    remembered = cache.value_hash(versions)
    assert remembered == merkle_module.value_hash(versions)
    assert cache.value_hash(versions) is remembered  # not computed again
    equal = tuple(list(versions))  # an equal set, another tuple: computed, same hash
    assert equal is not versions
    assert cache.value_hash(equal) == remembered
    assert cache.value_hash(equal) is not remembered


def test_a_hash_cache_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merkle_module, "HASH_CACHE_ENTRIES_MAX", 2)
    cache = MerkleHashCache()
    sets = [(Version(b"%d" % i, ("n1", i + 1)),) for i in range(3)]
    first = cache.value_hash(sets[0])
    cache.value_hash(sets[1])
    assert cache.value_hash(sets[0]) is first
    cache.value_hash(sets[2])  # the third set finds the cache full: it starts over
    assert len(cache._values) <= 2 and len(cache._versions) <= 2
    assert cache.value_hash(sets[0]) is not first
    assert cache.value_hash(sets[0]) == first
    # A new set of versions seen before hashes as value_hash does.
    both = (sets[0][0], sets[2][0])
    assert cache.value_hash(both) == merkle_module.value_hash(both)


def test_a_hash_cache_remembers_65536_entries_of_a_kind_by_default() -> None:
    """Each part of the cache holds ``HASH_CACHE_ENTRIES_MAX`` (65,536) entries; the
    next one finds it full and it starts over."""
    cache = MerkleHashCache()
    keys = [index.to_bytes(3, "big") for index in range(65_537)]
    for key in keys[:-1]:
        cache.position_of(key)
    assert len(cache._positions) == 65_536
    cache.position_of(keys[-1])
    assert len(cache._positions) == 1


def test_a_hash_cache_remembers_every_pair_and_version_until_it_is_full() -> None:
    """Below its bound the cache keeps each pair digest and each version's bytes it made:
    asked again, it answers the very object it made."""
    cache = MerkleHashCache()
    pairs = [(b"cart", b"hash"), (b"book", b"hash"), (b"pen", b"other")]
    numbers = [cache.pair_number(key, value) for key, value in pairs]
    assert [cache.pair_number(key, value) for key, value in pairs] == numbers
    assert all(
        cache.pair_number(key, value) is number
        for (key, value), number in zip(pairs, numbers, strict=True)
    )
    versions = [Version(b"%d" % index, ("n1", index + 1)) for index in range(3)]
    for version in versions:
        cache.value_hash((version,))
    assert len(cache._pairs) == 3 and len(cache._versions) == 3


def test_a_hash_cache_remembers_ring_positions_and_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(merkle_module, "HASH_CACHE_ENTRIES_MAX", 2)
    cache = MerkleHashCache()
    keys = [b"a", b"b", b"c", b"a"]
    assert [cache.position_of(key) for key in keys] == [spec_ring.md5_position(key) for key in keys]
    assert cache.position_of(b"c") is cache.position_of(b"c")  # remembered
    assert len(cache._positions) <= 2
    number = cache.pair_number(b"cart", b"hash")
    assert number == int.from_bytes(pair_digest(b"cart", b"hash"), "big")
    assert cache.pair_number(b"cart", b"hash") is number
    assert cache.pair_number(b"car", b"thash") != number  # length-prefixed: no collision
    cache.pair_number(b"c", b"hash")  # a third pair finds the cache full: it starts over
    assert len(cache._pairs) <= 2
    assert cache.pair_number(b"cart", b"hash") is not number


def test_trees_with_a_hash_cache_hash_alike() -> None:
    keys = [b"k%d" % i for i in range(50)]

    def partition_of(key: bytes) -> int:
        return (spec_ring.md5_position(key) * 8) >> spec_ring.RING_BITS

    plain = MerkleTrees(partition_count=8, depth=4, partition_of=partition_of)
    cached = MerkleTrees(
        partition_count=8, depth=4, partition_of=partition_of, hashes=MerkleHashCache()
    )
    for round_ in range(2):
        for index, key in enumerate(keys):
            versions = (Version(b"%d" % (index * round_), ("n1", round_ + 1)),)
            plain.update(key, versions)
            cached.update(key, versions)
    assert plain.roots(range(8)) == cached.roots(range(8))
    assert len(plain) == len(cached) == 50
    for partition, tree in plain.non_empty():
        tree.check()
        cached.tree(partition).check()


def test_a_hash_cache_shares_inner_hashes_between_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = MerkleHashCache()
    one, other = (
        PartitionMerkleTree(0, partition_count=1, depth=4, hashes=cache) for _ in range(2)
    )
    for tree in (one, other):
        tree.put(b"cart", b"hash")
    # The second replica's root is the first's object: looked up, not hashed again.
    assert other.root() is one.root()
    assert one.root() == _tree({b"cart": b"hash"}).root()
    # A full cache starts over: a path of four inner hashes leaves at most three.
    monkeypatch.setattr(merkle_module, "HASH_CACHE_ENTRIES_MAX", 3)
    bounded = MerkleHashCache()
    third = PartitionMerkleTree(0, partition_count=1, depth=4, hashes=bounded)
    third.put(b"cart", b"hash")
    assert third.root() == one.root()
    assert 1 <= len(bounded.inner) <= 3


def test_a_restarted_node_reuses_the_value_hashes_of_what_its_disk_kept() -> None:
    cluster = Cluster(3, seed=3, q=16, membership="gossip")
    cluster.run(until=100)
    results: list[Result] = []
    cluster.submit("n1", PutRequest(b"cart", b"book"), results.append)
    cluster.run(until=300)
    assert results and results[0].ok
    owner = cluster.ring.preference_list(b"cart")[0]
    node = cluster.nodes[owner]
    assert node is not None and node.stored_versions(b"cart")
    partition = node.ring.partition_of(b"cart")
    before = node.trees.value_hash(partition, b"cart")
    assert before is not None
    cluster.crash(owner)
    cluster.restart(owner)
    restarted = cluster.nodes[owner]
    assert restarted is not None and restarted is not node
    # The same bytes object: the start looked the synced version set up, not hashed it.
    assert restarted.trees.value_hash(partition, b"cart") is before


def test_the_roots_of_many_partitions_are_each_partitions_root() -> None:
    """``roots`` reads a partition's root directly: one written since its last read is
    brought up to date first, and one holding nothing has the root of an empty tree."""

    def partition_of(key: bytes) -> int:
        return (spec_ring.md5_position(key) * 8) >> spec_ring.RING_BITS

    keys = [b"k%d" % i for i in range(6)]
    read_by_roots = MerkleTrees(partition_count=8, depth=3, partition_of=partition_of)
    read_by_root = MerkleTrees(partition_count=8, depth=3, partition_of=partition_of)
    for trees in (read_by_roots, read_by_root):
        for key in keys:
            trees.update(key, (Version(key, ("n1", 1)),))
    empty_root = PartitionMerkleTree(0, partition_count=8, depth=3).root()
    roots = read_by_roots.roots(range(8))
    assert roots == [read_by_root.root(partition) for partition in range(8)]
    held = {partition_of(key) for key in keys}
    assert held != set(range(8))
    assert [root == empty_root for root in roots] == [p not in held for p in range(8)]


def test_versions_differing_only_in_their_context_hash_apart() -> None:
    """A version's context is part of its leaf value, with and without a hash cache."""
    one = (Version(b"v", ("n1", 2), (("n2", 1),)),)
    other = (Version(b"v", ("n1", 2), (("n2", 3),)),)
    assert merkle_module.value_hash(one) != merkle_module.value_hash(other)
    assert merkle_module.value_hash(one) == MerkleHashCache().value_hash(one)


def test_an_exchange_counts_from_zero_one_completed_exchange_and_what_it_sent() -> None:
    """The anti-entropy counters start at zero; one exchange run to its end counts once
    as completed (none abandoned), with the bytes and messages each side sent."""
    assert all(value == 0 for value in asdict(AntiEntropy("a").metrics).values())
    run, initiator, responder = _run_exchange(
        _tree({b"k1": b"h1", b"k2": b"h2"}), _tree({b"k1": b"h1", b"k2": b"other"})
    )
    for side in (initiator, responder):
        assert side.metrics.exchanges_abandoned == 0
        assert side.metrics.messages_sent > 0 and side.metrics.bytes_sent > 0
    assert initiator.metrics.exchanges_completed == 1
    assert initiator.metrics.keys_repaired == len(run.on_a) == 1


def test_a_tree_may_be_16_levels_deep_and_no_deeper() -> None:
    """A partition's tree has at most 2**16 leaf buckets (``DEPTH_MAX`` is 16): a tree
    of depth 16 is made, one of depth 17 refused, and a tree is only for a partition in
    ``[0, partition_count)``.

    Reference: Dynamo §4.7
    """
    deepest = PartitionMerkleTree(0, partition_count=1, depth=16)
    assert deepest.bucket_of(b"cart") < 1 << 16 and deepest.root() == _tree({}, depth=16).root()
    with pytest.raises(MerkleArgumentError, match="depth"):
        PartitionMerkleTree(0, partition_count=1, depth=17)
    assert PartitionMerkleTree(7, partition_count=8, depth=2).partition == 7
    for partition in (-1, 8, 9):
        with pytest.raises(MerkleArgumentError, match="partition"):
            PartitionMerkleTree(partition, partition_count=8, depth=2)


def test_a_tree_depth_below_zero_is_an_argument_error() -> None:
    """A tree's depth is checked against ``[0, DEPTH_MAX]`` at both ends: -1 is refused
    with the tree's own error, like ``DEPTH_MAX + 1``, and 0 (one leaf) is a tree."""
    for depth in (-1, merkle_module.DEPTH_MAX + 1):
        with pytest.raises(MerkleArgumentError, match="depth"):
            PartitionMerkleTree(0, partition_count=1, depth=depth)
    assert PartitionMerkleTree(0, partition_count=1, depth=0).level(0) == (EMPTY_LEAF,)


def test_check_finds_hashes_that_are_not_the_contents_at_every_level() -> None:
    """``check`` recomputes every level from the contents: a tree built on empty-subtree
    hashes that are not the empty tree's (here only the root's is wrong, then only the
    leaves', each all 0xff bytes: above the right hash, not only below it) fails it, and so does a size count above the keys
    held."""
    right = merkle_module.empty_hashes(3)
    for wrong_level in (0, 3):
        empty = tuple(
            b"\xff" * len(h) if level == wrong_level else h for level, h in enumerate(right)
        )
        tree = PartitionMerkleTree(0, partition_count=1, depth=3, empty=empty)
        with pytest.raises(InvariantError, match="incremental hash differs"):
            tree.check()
    tree = _tree({b"k1": b"h1", b"k2": b"h2"}, depth=3)
    tree.check()
    tree.size += 1
    with pytest.raises(InvariantError, match="size count is off"):
        tree.check()


def test_check_finds_a_key_filed_in_a_later_bucket_than_its_own() -> None:
    """``check`` also finds a key kept in another bucket than the one its position names,
    and says so, here a key of the first bucket filed under the last."""
    tree = _tree({}, depth=2)
    key = next(k for k in (b"k%d" % index for index in range(1_000)) if tree.bucket_of(k) == 0)
    tree.put(key, b"hash")
    tree.check()
    tree._buckets[3] = tree._buckets.pop(0)
    with pytest.raises(InvariantError, match="key in the wrong bucket"):
        tree.check()


def test_a_hash_cache_remembers_one_inner_hash_per_level_above_a_written_leaf() -> None:
    """One key written to a tree of depth 3 with a hash cache is rehashed up its path:
    three inner nodes (levels 2, 1 and the root), the cache learns those three and no
    hash above the root."""
    cache = MerkleHashCache()
    tree = PartitionMerkleTree(0, partition_count=1, depth=3, hashes=cache)
    tree.put(b"cart", b"hash")
    root = tree.root()
    assert len(cache.inner) == 3
    assert root in cache.inner.values()
    tree.check()


def test_a_hash_cache_remembers_one_inner_hash_per_node_above_leaves_written_together() -> None:
    """Keys written to the first and the last leaf of a tree of depth 3 between two reads
    are rehashed level by level: the two paths are apart up to the root, so the cache
    learns two inner hashes at levels 2 and 1 and the root's, five, and none above it."""
    cache = MerkleHashCache()
    tree = PartitionMerkleTree(0, partition_count=1, depth=3, hashes=cache)
    keys = [b"k%d" % index for index in range(1_000)]
    first = next(key for key in keys if tree.bucket_of(key) == 0)
    last = next(key for key in keys if tree.bucket_of(key) == 7)
    tree.put(first, b"hash")
    tree.put(last, b"hash")
    root = tree.root()
    assert len(cache.inner) == 5
    assert root in cache.inner.values()
    tree.check()


def test_a_responder_whose_tree_has_another_depth_refuses_the_exchange() -> None:
    """Node hashes are compared level by level only between trees of one depth: a
    responder whose tree is deeper (or shallower) than the request's refuses, and the
    initiator abandons the exchange instead of repairing from misread hashes."""
    contents = {b"k1": b"h1", b"k2": b"h2"}
    for responder_depth in (3, 5):
        initiator, responder = AntiEntropy("a"), AntiEntropy("b")
        (send,) = initiator.start_exchange("b", _tree(contents, depth=4), 0) or []
        assert isinstance(send, MerkleSend)
        (reply,) = responder.receive(send.message, 1, _tree(contents, depth=responder_depth))
        assert isinstance(reply, MerkleSend)
        (finished,) = initiator.receive(reply.message, 2, None)
        assert isinstance(finished, ExchangeFinished) and not finished.ok


def test_a_buckets_request_filled_to_its_entries_budget_takes_no_further_slice() -> None:
    """The entries budget bounds a buckets request: once one bucket's keys fill it (here
    exactly, and here by cutting a bigger bucket), the request carries that one slice and
    no empty slices of the buckets queued behind it; the exchange still diffs exactly."""
    config = AntiEntropyConfig(exchange_entries_per_message_max=2, exchange_nodes_per_message_max=8)
    a_contents = {b"k%d" % i: b"a" for i in range(12)}
    b_contents = {b"k%d" % i: b"b" for i in range(12)}
    run, _, _ = _run_exchange(_tree(a_contents, depth=2), _tree(b_contents, depth=2), config)
    buckets_requests = [m for m in run.requests if isinstance(m, MerkleBucketsRequest)]
    assert buckets_requests
    for message in buckets_requests:
        entries = [len(piece.entries) for piece in message.slices]
        assert sum(entries) <= 2
        assert all(entries), message.slices  # every slice carries a key
    assert run.on_a == run.on_b == set(a_contents)


def _rounds_of_n3(
    config: MemberConfig, held: set[int]
) -> tuple[AntiEntropyRounds, Outbox, PartitionRing]:
    """n3's roots rounds in a three-node ring of eight partitions (all shared with both
    peers, both always healthy), its outbox and the ring; n3 holds a key in each of
    ``held``."""

    def partition_of(key: bytes) -> int:
        return (spec_ring.md5_position(key) * 8) >> spec_ring.RING_BITS

    ring = PartitionRing(["n1", "n2", "n3", "n1", "n2", "n3", "n1", "n2"], n=3)
    trees = MerkleTrees(partition_count=8, depth=config.merkle_depth, partition_of=partition_of)
    keys = [b"k%d" % i for i in range(64)]
    for partition in held:
        key = next(key for key in keys if partition_of(key) == partition)
        trees.update(key, (Version(key, ("n3", 1)),))
    out = Outbox()
    rounds = AntiEntropyRounds(
        "n3",
        config=config,
        trees=trees,
        read=lambda key: (),
        health=TimeoutHealth(),
        out=out,
        stats=MemberStats(),
        now=0,
    )
    return rounds, out, ring


def _roots_rounds(roots_per_message_max: int, held: set[int]) -> list[RootsRequest]:
    """Eight roots rounds of n3 (:func:`_rounds_of_n3`), each answered "nothing differs"."""
    config = MemberConfig(roots_per_message_max=roots_per_message_max)
    rounds, out, ring = _rounds_of_n3(config, held)
    asked: list[RootsRequest] = []
    now = 0
    while len(asked) < 8:
        now += config.anti_entropy_interval_ticks
        effects = out.begin()
        rounds.tick(ring, now)
        (request,) = [e for e in effects if isinstance(e, RootsRequest)]
        asked.append(request)
        out.begin()
        rounds.on_roots_reply(RootsReply(request.dst, "n3", request.round_id, ()), ring, now)
    return asked


def _roots_sent_each_tick(
    rounds: AntiEntropyRounds, out: Outbox, ring: PartitionRing, ticks: int
) -> list[tuple[int, str]]:
    """Tick ``rounds`` at 1, 2... ``ticks``, answering each roots request "nothing differs":
    the (tick, peer) of every request sent."""
    sent: list[tuple[int, str]] = []
    for now in range(1, ticks + 1):
        effects = out.begin()
        rounds.tick(ring, now)
        for request in [e for e in effects if isinstance(e, RootsRequest)]:
            sent.append((now, request.dst))
            out.begin()
            rounds.on_roots_reply(RootsReply(request.dst, "n3", request.round_id, ()), ring, now)
    return sent


def test_a_node_compares_roots_with_one_peer_every_40_ticks_by_default() -> None:
    """Anti-entropy runs in the background (Dynamo §4.7): every
    ``anti_entropy_interval_ticks`` (40 by default) a node sends one peer, in turn, the
    roots of the partitions they share, and not more often, however often it is ticked."""
    rounds, out, ring = _rounds_of_n3(MemberConfig(), {2})
    assert _roots_sent_each_tick(rounds, out, ring, 200) == [
        (40, "n1"),
        (80, "n2"),
        (120, "n1"),
        (160, "n2"),
        (200, "n1"),
    ]


def test_a_recovered_peer_is_left_to_hinted_handoff_for_200_ticks_by_default() -> None:
    """A peer that stops being suspected first gets its hints back (Dynamo §4.6); the
    Merkle comparison (§4.7) leaves it alone for ``recovery_grace_ticks`` (200 by
    default), so it repairs only what the hints missed: n1, recovered at tick 0, is
    skipped by every round before tick 200 and compared with at the round of tick 200."""
    rounds, out, ring = _rounds_of_n3(MemberConfig(), {2})
    rounds.on_peer_recovered("n1", 0)
    assert _roots_sent_each_tick(rounds, out, ring, 240) == [
        (40, "n2"),
        (80, "n2"),
        (120, "n2"),
        (160, "n2"),
        (200, "n1"),
        (240, "n2"),
    ]


def test_a_roots_round_left_unanswered_is_given_up_after_the_exchange_timeout() -> None:
    """A roots round whose reply is lost holds the next rounds back only until
    ``exchange_timeout_ticks`` have passed: it is then given up and a later round is
    sent (within two intervals), so one lost message does not end anti-entropy."""
    config = MemberConfig()
    timeout = config.anti_entropy.exchange_timeout_ticks
    rounds, out, ring = _rounds_of_n3(config, {2})
    sent: list[int] = []
    for now in range(1, timeout + 3 * config.anti_entropy_interval_ticks):
        effects = out.begin()
        rounds.tick(ring, now)
        if [e for e in effects if isinstance(e, RootsRequest)]:
            sent.append(now)
    first, *later = sent
    assert later and all(at >= first + timeout for at in later)


def test_roots_rounds_to_a_peer_rotate_through_more_partitions_than_one_message_holds() -> None:
    """With more shared partitions than ``roots_per_message_max``, each round to a peer
    compares the next slice of them, wrapping around, so every partition is compared in
    turn; such a request is not ``complete`` (it lists empty partitions too)."""
    asked = _roots_rounds(3, {2})
    assert [r.dst for r in asked] == ["n1", "n2"] * 4
    to_n1 = [r.partitions for r in asked if r.dst == "n1"]
    assert to_n1 == [(0, 1, 2), (3, 4, 5), (6, 7, 0), (1, 2, 3)]
    assert not any(r.complete for r in asked)


@pytest.mark.parametrize("roots_per_message_max", [8, 9, 64])
def test_a_roots_round_whose_shared_partitions_fit_one_message_lists_only_those_holding_data(
    roots_per_message_max: int,
) -> None:
    """When the partitions shared with a peer fit one message (``roots_per_message_max``
    of them exactly, or fewer), the round is ``complete``: it lists only the partitions
    holding data here, in order, and the peer takes the rest as empty.

    Reference: Dynamo §4.7
    """
    (first, *_) = _roots_rounds(roots_per_message_max, {5, 2})
    assert first.complete and first.partitions == (2, 5)
    assert len(first.roots) == 2


def test_a_complete_roots_request_counts_what_it_leaves_out_as_empty() -> None:
    """A ``complete`` roots request means "every shared partition I leave out is empty
    here": the answering replica reports a partition it holds data in and the request
    left out as differing, so the asker starts an exchange for it. A request that is not
    complete lists a slice only, and what it leaves out says nothing.

    Reference: Dynamo §4.7
    """
    rounds, out, ring = _rounds_of_n3(MemberConfig(), {2})
    depth = rounds.config.merkle_depth
    (empty_root,) = rounds.trees.roots((5,))

    def answer(complete: bool) -> tuple[int, ...]:
        effects = out.begin()
        request = RootsRequest("n1", "n3", 7, depth, (5,), (empty_root,), complete)
        rounds.on_roots_request(request, ring)
        (reply,) = [e for e in effects if isinstance(e, RootsReply)]
        assert reply.ok and reply.dst == "n1"
        return reply.differing

    assert answer(complete=True) == (2,)
    assert answer(complete=False) == ()


def test_at_most_exchange_queue_max_differing_partitions_wait_for_an_exchange() -> None:
    """A roots reply may name every shared partition; ``exchange_queue_max`` of them are
    queued for an exchange and the rest left to a later round, so with exchange slots to
    spare, a reply naming eight partitions to a node that queues two starts two exchanges.

    Reference: Dynamo §4.7
    """
    config = MemberConfig(
        exchange_queue_max=2, anti_entropy=AntiEntropyConfig(exchanges_in_flight_max=4)
    )
    rounds, out, ring = _rounds_of_n3(config, set())
    now = config.anti_entropy_interval_ticks
    effects = out.begin()
    rounds.tick(ring, now)
    (request,) = [e for e in effects if isinstance(e, RootsRequest)]
    effects = out.begin()
    rounds.on_roots_reply(
        RootsReply(request.dst, "n3", request.round_id, tuple(range(8))), ring, now
    )
    started = [e.body.partition for e in effects if isinstance(e, MerklePacket)]
    assert started == [0, 1]


def test_a_node_runs_two_exchanges_at_once_by_default() -> None:
    """``exchanges_in_flight_max`` is 2 by default: a third exchange waits for a slot."""
    engine = AntiEntropy("a")
    tree = _tree({b"k": b"v"})
    started = [engine.start_exchange(peer, tree, 0) is not None for peer in ("b", "c", "d")]
    assert started == [True, True, False]


def test_a_buckets_request_naming_a_bucket_past_the_tree_is_refused() -> None:
    """A buckets request is judged before any bucket is read: a slice naming a leaf
    beyond the responder's ``2**depth`` (here two past the last) is refused with ``ok``
    False and no key reported, rather than every key it carries being taken as missing."""
    responder = AntiEntropy("b")
    tree = _tree({b"k1": b"h1"}, depth=2)
    for bucket, valid in ((3, True), (5, False)):
        piece = BucketSlice(bucket, b"", None, ((b"k9", b"h9"),))
        request = MerkleBucketsRequest(0, 0, "a", 0, 2, (piece,))
        (reply, *repairs) = responder.receive(request, 1, tree)
        assert isinstance(reply, MerkleSend) and isinstance(reply.message, MerkleBucketsReply)
        assert reply.message.ok is valid
        assert bool(repairs) is valid and bool(reply.message.keys) is valid


def test_every_node_hash_and_value_hash_is_128_bits() -> None:
    """Node hashes are 128-bit BLAKE2b digests (16 bytes), at every level of a tree,
    empty or not, and so is a key's value hash."""
    tree = _tree({b"k%d" % i: b"h" for i in range(20)}, depth=3)
    empty = PartitionMerkleTree(0, partition_count=1, depth=3)
    for each in (tree, empty):
        for level in range(4):
            assert {len(node) for node in each.level(level)} == {16}
    assert len(merkle_module.value_hash((Version(b"v", ("n1", 1)),))) == 16


def test_a_key_just_before_a_partitions_start_is_not_in_it() -> None:
    """A partition starts at its own first position: the last position of the partition
    before it (one below the start) is refused like the next partition's first."""
    half = 1 << (spec_ring.RING_BITS - 1)
    positions = {b"before": half - 1, b"first": half, b"last": (1 << spec_ring.RING_BITS) - 1}
    tree = PartitionMerkleTree(1, partition_count=2, depth=2, position_of=positions.__getitem__)
    assert (tree.bucket_of(b"first"), tree.bucket_of(b"last")) == (0, 3)
    with pytest.raises(MerkleArgumentError):
        tree.bucket_of(b"before")


def test_a_slice_of_a_cut_bucket_is_diffed_only_within_its_key_range() -> None:
    """A slice covers keys from its low key up to, and without, its high key: the
    responder's keys at or past the high key belong to the bucket's next slice and are
    not reported as missing from this one."""
    contents = {b"k%d" % i: b"same" for i in range(8)}
    tree = _tree(contents, depth=0)
    low_half = tuple(sorted(contents.items()))[:4]
    piece = BucketSlice(0, b"", low_half[-1][0] + b"\x00", low_half)
    request = MerkleBucketsRequest(0, 0, "a", 0, 0, (piece,))
    (reply,) = AntiEntropy("b").receive(request, 1, tree)
    assert isinstance(reply, MerkleSend) and isinstance(reply.message, MerkleBucketsReply)
    assert reply.message.ok and reply.message.keys == ()


def test_a_hash_cache_encodes_each_version_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new version set made of versions seen before (as the replicas of a write hold
    the same versions in sets of their own) encodes only the versions it has not seen."""
    encoded: list[Version] = []
    version_bytes = merkle_module.version_bytes

    def counting(version: Version) -> bytes:
        encoded.append(version)
        return version_bytes(version)

    seen, new = Version(b"a", ("n1", 1)), Version(b"b", ("n2", 1))
    cache = MerkleHashCache()
    expected = cache.value_hash((seen,)), merkle_module.value_hash((seen, new))
    monkeypatch.setattr(merkle_module, "version_bytes", counting)
    assert cache.value_hash((seen, new)) == expected[1]
    assert encoded == [new]


def test_a_reply_is_read_against_the_request_it_answers() -> None:
    """A compare reply names which of the nodes asked about differ; a peer cannot steer
    the initiator's walk below the leaves or onto nodes it never sent, and an answer of
    the other kind abandons the exchange instead of crashing the initiator."""
    initiator = AntiEntropy("a")
    (send,) = initiator.start_exchange("b", _tree({b"k": b"v"}, depth=2), 0) or []
    assert isinstance(send, MerkleSend)
    request = send.message
    assert isinstance(request, MerkleCompareRequest)
    assert (request.level, request.indexes) == (0, (0,))
    below_the_leaves = MerkleCompareReply(
        request.exchange_id, request.request_id, "b", request.partition, 3, (0, 7), True
    )
    (follow_up,) = initiator.receive(below_the_leaves, 1, None)
    assert isinstance(follow_up, MerkleSend)
    children = follow_up.message
    assert isinstance(children, MerkleCompareRequest)
    assert (children.level, children.indexes) == (1, (0, 1))
    other_kind = MerkleBucketsReply(
        children.exchange_id, children.request_id, "b", children.partition, (b"k",), True
    )
    (finished,) = initiator.receive(other_kind, 2, None)
    assert isinstance(finished, ExchangeFinished) and not finished.ok
    assert initiator.metrics.exchanges_abandoned == 1


def test_a_reply_from_another_node_than_the_exchanges_peer_is_ignored() -> None:
    """An exchange compares this replica's tree with one peer's: a reply carrying the
    exchange's ids from any other node, whatever its name sorts as, is dropped, and the
    peer's own reply to the same request still advances the walk.

    Reference: Dynamo §4.7
    """
    initiator = AntiEntropy("a")
    (send,) = initiator.start_exchange("m", _tree({b"k": b"v"}, depth=2), 0) or []
    assert isinstance(send, MerkleSend)
    request = send.message
    assert isinstance(request, MerkleCompareRequest)

    def root_differs(sender: str) -> MerkleCompareReply:
        return MerkleCompareReply(
            request.exchange_id, request.request_id, sender, request.partition, 0, (0,), True
        )

    assert initiator.receive(root_differs("c"), 1, None) == []  # sorts before the peer
    assert initiator.receive(root_differs("x"), 1, None) == []  # and after it
    (follow_up,) = initiator.receive(root_differs("m"), 2, None)
    assert isinstance(follow_up, MerkleSend) and follow_up.destination == "m"
    children = follow_up.message
    assert isinstance(children, MerkleCompareRequest)
    assert (children.level, children.indexes) == (1, (0, 1))


@given(CONTENTS, CONTENTS)
def test_a_message_of_a_few_hashes_compares_one_level_and_still_finds_the_spec_diff(
    a_contents: dict[bytes, bytes], b_contents: dict[bytes, bytes]
) -> None:
    """With three hashes per message, a level's last few nodes wait in the frontier while
    the children of its first ones join it: each request still carries the nodes of one
    level only, and the exchange compares exactly the spec's node pairs."""
    config = AntiEntropyConfig(exchange_requests_in_flight_max=1, exchange_nodes_per_message_max=3)
    b_contents = {**a_contents, **b_contents}
    for key in list(b_contents)[::3]:
        b_contents.pop(key)
    a, b = _tree(a_contents, depth=3), _tree(b_contents, depth=3)
    expected = spec_merkle.diff(_spec_tree(a, a_contents), _spec_tree(b, b_contents))
    run, _, _ = _run_exchange(a, b, config)
    (done,) = run.finished
    assert run.on_a == run.on_b == set(expected.keys)
    assert done.nodes_compared == expected.nodes_compared


def test_an_exchange_is_abandoned_at_the_first_tick_past_its_timeout() -> None:
    """Ticks need not fall on the timeout exactly (a node's ticks come when it wakes): the
    first tick at or after ``exchange_timeout_ticks`` without progress abandons it."""
    engine = AntiEntropy("a", AntiEntropyConfig(exchange_timeout_ticks=100))
    assert engine.start_exchange("b", _tree({b"k": b"v"}), 1_000) is not None
    assert engine.tick(1_099) == []
    (finished,) = engine.tick(1_150)
    assert isinstance(finished, ExchangeFinished) and not finished.ok


def test_a_compare_request_whose_indexes_and_hashes_differ_in_number_is_refused() -> None:
    """A peer's request is checked before a tree is read: every index needs its hash, and
    every hash its index; a request with one more of either is answered ``ok`` False."""
    tree = _tree({b"k": b"v"}, depth=2)
    responder = AntiEntropy("b")

    def answer(indexes: tuple[int, ...], hashes: tuple[bytes, ...]) -> MerkleCompareReply:
        request = MerkleCompareRequest(0, 0, "a", 0, 2, 1, indexes, hashes)
        (send,) = responder.receive(request, 1, tree)
        assert isinstance(send, MerkleSend) and isinstance(send.message, MerkleCompareReply)
        return send.message

    assert answer((0, 1), (b"?", tree.node_hash(1, 1))) == MerkleCompareReply(
        0, 0, "b", 0, 1, (0,), True
    )
    assert not answer((0, 1), (b"?",)).ok
    assert not answer((0,), (b"?", b"?")).ok


def test_a_reply_meant_for_an_exchange_of_a_nodes_earlier_life_matches_none_of_this_one() -> None:
    """Exchange ids start at ``generation << 40`` in each life of a node: a reply still in
    flight when the node restarted (here: "the roots are equal", from before three keys
    were lost) is not taken as the answer of the new life's exchange, whose real answer
    ("they differ") then counts. A restarted node's transfers, reaping rounds and roots
    rounds are numbered the same way."""

    def tree(keys: list[bytes]) -> PartitionMerkleTree:
        built = PartitionMerkleTree(0, partition_count=1, depth=4)
        for key in keys:
            built.put(key, b"h" * 16)
        return built

    keys = [b"k%d" % index for index in range(10)]
    first_life = AntiEntropy("A", first_id=1 << 40)
    request = first_life.start_exchange("B", tree(keys), now=0)[0].message
    stale = AntiEntropy("B").receive(request, 1, tree(keys))[0].message
    second_life = AntiEntropy("A", first_id=2 << 40)
    request = second_life.start_exchange("B", tree(keys[:7]), now=10)[0].message
    assert second_life.receive(stale, 11, None) == []
    fresh = AntiEntropy("B").receive(request, 11, tree(keys))[0].message
    assert fresh.differing and second_life.receive(fresh, 12, None)
    cluster = Cluster(3, seed=1, membership="gossip", q=16)
    cluster.run(until=50)
    cluster.crash("n1")
    cluster.restart("n1")
    node = cluster.nodes["n1"]
    assert node is not None and node.generation == 2
    assert next(node.transfers._transfer_ids) == 2 << 40
    assert next(node.anti_entropy_rounds._roots_round_ids) == 2 << 40
