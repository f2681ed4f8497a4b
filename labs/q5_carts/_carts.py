"""Shopping carts in the simulator: concurrent clients, partitions, and what survives.

The solution's resolvers and read-resolve-write step run in the *clients* of a
simulated five-node cluster (N=3, R=2, W=2, sloppy quorum): each client repeatedly
reads a cart, resolves its siblings, adds a new item (or, with ``remove_share``,
removes one) and writes the cart back with the context it read. Every value carries
the writing client's timestamp in its first 8 bytes (what last-write-wins orders by).
Meanwhile the network is partitioned, at random, in a share of the fault intervals,
and loses a few messages. At the end the cluster heals, hints drain, a read of every
cart from all its owners (R = N) repairs them, and each cart is resolved once more.

An *acknowledged add* is an item whose put was acknowledged; it is *lost* when it is
missing from the final cart and no client ever sent a removal of it (items are
unique; a removal whose acknowledgement was lost may still have been applied). A
*removed* item is one whose removal was acknowledged; it *comes back* when it is in
the final cart anyway (Dynamo §4.4: with union merge, "deleted items can resurface").

Every request goes into a :class:`~dynamokv.impl.sim.History`, and the history
checkers judge the store under the carts: no value a put never wrote, no false
siblings, and, once the cluster has healed, every acknowledged version held (or
superseded) by every owner. Those are the store's promises; the lost adds are the
application's, which only the resolvers and the client's step can keep.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dynamokv.impl.core import GetRequest, GetResult, NodeConfig, PutRequest, PutResult, Result
from dynamokv.impl.core import versions as core_versions
from dynamokv.impl.sim import Cluster, History, NetworkConfig, OpRecord, render_ladder

NODES = 5
CARTS = 3
CLIENTS = 6
DROP = 0.02
FAULT_INTERVAL_TICKS = 60
PARTITION_TICKS_MAX = 150
CLIENT_TIMEOUT_TICKS = 150
SETTLE_TICKS = 2000
STAMP_BYTES = 8


def encode(stamp: int, items: bytes) -> bytes:
    """A cart value: the writer's timestamp, then the items one per line."""
    return stamp.to_bytes(STAMP_BYTES, "big") + items


def decode(value: bytes) -> tuple[int, bytes]:
    """``(timestamp, items)`` of a cart value."""
    return int.from_bytes(value[:STAMP_BYTES], "big"), value[STAMP_BYTES:]


def items_of(items: bytes) -> set[bytes]:
    """The items of a cart, one per line."""
    return {line for line in items.split(b"\n") if line}


@dataclass
class CartRun:
    """What one run did and what survived.

    Attributes:
        operations: client operations issued.
        adds_acknowledged: adds whose put was acknowledged.
        adds_lost: of those, items missing from the final carts.
        removals_acknowledged: removals whose put was acknowledged.
        removed_back: of those, items present in the final carts anyway.
        siblings_seen: gets that returned more than one sibling.
        lost_example: one lost item and its cart, for the ladder.
        ladder: the messages of that cart (when traced).
        violations: what the history checkers and the simulator found wrong with the
            store (see the module docstring); empty in a correct run.
    """

    operations: int = 0
    adds_acknowledged: int = 0
    adds_lost: int = 0
    removals_acknowledged: int = 0
    removed_back: int = 0
    siblings_seen: int = 0
    lost_example: tuple[bytes, bytes] | None = None
    ladder: str = ""
    violations: list[str] = field(default_factory=list)
    added: dict[bytes, set[bytes]] = field(default_factory=dict)
    removed: dict[bytes, set[bytes]] = field(default_factory=dict)
    removal_sent: dict[bytes, set[bytes]] = field(default_factory=dict)


REPAIR_PASSES_MAX = 3
"""Read repairs (R = N) of every cart after the heal; hints only reach the owners a
write skipped while they were down, so an owner a lost message skipped catches up here."""


def _repair(cluster: Cluster, carts: Sequence[bytes]) -> None:
    """Read every cart from all its owners until they agree (or the passes run out)."""
    pending = list(carts)
    for _ in range(REPAIR_PASSES_MAX):
        for key in pending:
            owner = cluster.ring.preference_list(key)[0]
            cluster.submit(owner, GetRequest(key, cluster.ring.n), lambda result: None)
        cluster.run(until=cluster.now + SETTLE_TICKS)
        pending = [key for key in carts if len(set(cluster.holders(key).values())) > 1]
        if not pending:
            return


def run_carts(
    solution: Mapping[str, Callable[..., Any]],
    *,
    seed: int,
    last_write_wins: bool,
    partition_share: float,
    operations: int = 240,
    remove_share: float = 0.0,
    trace_key: bytes | None = None,
) -> CartRun:
    """Run the cart workload with the solution's client code; see the module docstring."""
    network = NetworkConfig(drop=DROP)
    cluster = Cluster(
        NODES,
        seed=seed,
        config=NodeConfig(n=3, r=2, w=2),
        q=64,
        network=network,
        trace_key=trace_key,
    )
    rng = random.Random(seed)
    run = CartRun()
    history = History()
    carts = [b"cart-%d" % index for index in range(CARTS)]
    counter = [0]
    resolve_union = solution["union_resolve"]
    resolve_lww = solution["lww_resolve"]
    update = solution["cart_update"]

    def resolved(values: Sequence[bytes]) -> bytes:
        siblings = [decode(value) for value in values]
        if not siblings:
            return b""
        if last_write_wins:
            return bytes(resolve_lww(siblings))
        return bytes(resolve_union([items for _, items in siblings]))

    def next_operation(client: int) -> None:
        if run.operations >= operations:
            return
        run.operations += 1
        key = rng.choice(carts)
        node = rng.choice([name for name in cluster.names if cluster.is_up(name)])
        record = OpRecord(client, "get", key, node, cluster.now, 2)
        submit(client, record, GetRequest(key, 2), functools.partial(on_get, client, record))

    def submit(
        client: int, record: OpRecord, request: Any, on_reply: Callable[[Result], None]
    ) -> None:
        """Send a request; a client that hears nothing in time gives up and goes on."""
        history.records.append(record)

        def on_result(result: Result) -> None:
            record.end = cluster.now
            record.ok = result.ok
            if isinstance(result, GetResult):
                record.versions = result.versions
            elif isinstance(result, PutResult):
                record.version = result.version
            on_reply(result)

        request_id = cluster.submit(record.node, request, on_result)

        def give_up() -> None:
            if cluster.abandon(request_id):
                record.end = cluster.now
                later(client)

        cluster.call_at(cluster.now + CLIENT_TIMEOUT_TICKS, give_up)

    def later(client: int) -> None:
        cluster.call_at(cluster.now + 1 + rng.randrange(5), lambda: next_operation(client))

    def on_get(client: int, get: OpRecord, result: Result) -> None:
        key = get.key
        if not isinstance(result, GetResult) or not result.ok:
            later(client)
            return
        values = [v.value for v in result.versions if v.value is not None]
        if len(values) > 1:
            run.siblings_seen += 1
        stamp = cluster.now * 100 + client
        current = items_of(resolved(values))
        if remove_share and current and rng.random() < remove_share:
            item = sorted(current)[rng.randrange(len(current))]
            value = encode(stamp, b"\n".join(sorted(current - {item})))
            removing = True
            run.removal_sent.setdefault(key, set()).add(item)
        else:
            counter[0] += 1
            item = b"c%d-item%d" % (client, counter[0])
            siblings = [decode(v) for v in values]
            written_stamp, items = update(siblings, item, stamp, last_write_wins=last_write_wins)
            value = encode(int(written_stamp), bytes(items))
            removing = False
        node = rng.choice([name for name in cluster.names if cluster.is_up(name)])
        put = OpRecord(client, "put", key, node, cluster.now, 2, value, result.context)
        request = PutRequest(key, value, result.context, 2)
        submit(client, put, request, functools.partial(on_put, client, key, item, removing))

    def on_put(client: int, key: bytes, item: bytes, removing: bool, result: Result) -> None:
        if isinstance(result, PutResult) and result.ok:
            book = run.removed if removing else run.added
            book.setdefault(key, set()).add(item)
        later(client)

    def strike() -> None:
        if run.operations >= operations:
            return
        cluster.call_at(cluster.now + FAULT_INTERVAL_TICKS, strike)
        if rng.random() < partition_share:
            names = list(cluster.names)
            rng.shuffle(names)
            cut = rng.randint(1, len(names) - 1)
            cluster.partition(tuple(names[:cut]), tuple(names[cut:]))
            cluster.call_at(cluster.now + rng.randint(20, PARTITION_TICKS_MAX), cluster.heal)

    for client in range(CLIENTS):
        cluster.call_at(rng.randrange(5), functools.partial(next_operation, client))
    cluster.call_at(1, strike)
    cluster.run(until=operations * 40 + SETTLE_TICKS)
    network.drop = 0.0
    cluster.heal()
    cluster.run(until=cluster.now + SETTLE_TICKS)
    _repair(cluster, carts)
    history.check_phantoms()
    history.check_false_siblings()
    for put in history.records:
        if put.kind == "put" and put.ok and put.version is not None:
            for name, owned in cluster.holders(put.key).items():
                if not cluster.covered(put.key, owned, put.version):
                    history.violations.append(
                        f"property 1: acknowledged {put.version.dot} of {put.key!r} "
                        f"(t={put.end}) is missing on owner {name} after the cluster healed"
                    )
                    break
    run.violations = [*cluster.violations, *history.violations]
    for key in carts:
        held = [v for versions in cluster.holders(key).values() for v in versions]
        final = core_versions.reconcile(held)
        cart = items_of(resolved([v.value for v in final if v.value is not None]))
        for item in sorted(run.added.get(key, ())):
            run.adds_acknowledged += 1
            if item not in cart and item not in run.removal_sent.get(key, ()):
                run.adds_lost += 1
                if run.lost_example is None:
                    run.lost_example = (key, item)
        for item in run.removed.get(key, ()):
            run.removals_acknowledged += 1
            run.removed_back += item in cart
    if trace_key is not None:
        run.ladder = render_ladder(cluster.trace, cluster.names)
    return run
