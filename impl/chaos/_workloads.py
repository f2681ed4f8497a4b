"""The client workloads of a chaos run: shopping carts and registers, many threads each.

Each client is a thread with its own connections, and a *home* node it talks to first. A
request that fails (no connection, a timeout, a 503) is recorded as failed, and the client
tries the next node, as a Dynamo client library or a load balancer would (Dynamo §4.5:
any node accepts any key), until the operation's time runs out; a node that failed is tried
last for the next :data:`AVOID_SECONDS`. Every request, failed or not, is in the history.

**Carts** (set-add, as Jepsen ran it on Riak): each add reads the cart, resolves its
siblings, adds one fresh item and writes the result with the read's context. Two families
of clients share the harness on separate carts: one resolves siblings by *union* (Dynamo
§4.4's shopping cart), the other by *last-write-wins*
(:func:`~dynamokv.impl.client.last_write_wins`): of concurrent siblings it keeps one. A
cart value is its items, one per line, plus one line ``#<writer>`` naming the put, so that
every put writes a fresh value (the recorder needs that to rebuild exact versions).

**Registers** (under a strict quorum, R + W > N): each client reads a register and, half
the time, writes a fresh value with the read's context. The checker then asks whether any
read missed a write acknowledged before the read began (property 4).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dynamokv.impl.client import Client, GetReply, Sibling, last_write_wins, union

from ._recorder import Recorder

__all__ = [
    "AddRecord",
    "ClientPool",
    "Workload",
    "cart_items",
    "resolve_items",
    "run_cart_client",
    "run_register_client",
]

OPERATION_SECONDS_MAX = 10.0
"""How long one add (or register operation) may keep trying other nodes."""

AVOID_SECONDS = 1.0
"""How long a client tries a node that just failed it only after the others."""

REGISTER_DELETE_FRACTION = 0.2
"""The share of register writes that delete the register (a tombstone put): a read after an
acknowledged delete must not return the value it deleted."""

UNION = "union"
LWW = "lww"


@dataclass
class AddRecord:
    """One cart add as the client saw it: which item, and whether a write of it was
    acknowledged (through whichever node)."""

    client: int
    family: str
    cart: bytes
    item: bytes
    start_ns: int
    end_ns: int = 0
    acknowledged: bool = False
    attempts: int = 0


@dataclass
class Workload:
    """What the client threads share: the nodes, the recorder, the stop signal, results."""

    addresses: Mapping[str, str]
    recorder: Recorder
    deadline: float
    timeout_seconds: float
    client_factory: Callable[[str, float], Client]
    stop: threading.Event = field(default_factory=threading.Event)
    adds: list[AddRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def running(self) -> bool:
        """Whether clients should start another operation."""
        return not self.stop.is_set() and time.monotonic() < self.deadline


class ClientPool:
    """One thread's connections, one per node, opened lazily; closed by :meth:`close`."""

    def __init__(self, workload: Workload) -> None:
        self.workload = workload
        self.clients: dict[str, Client] = {}
        self.names = list(workload.addresses)
        self.avoid_until: dict[str, float] = {}

    def order(self, start: int) -> list[str]:
        """Every node, from ``start`` round the list, nodes that failed lately last."""
        names = self.names
        rotated = [names[(start + offset) % len(names)] for offset in range(len(names))]
        now = time.monotonic()
        return sorted(rotated, key=lambda name: self.avoid_until.get(name, 0.0) > now)

    def failed(self, node: str) -> None:
        """``node`` just failed a request: try it last for a while."""
        self.avoid_until[node] = time.monotonic() + AVOID_SECONDS

    def __call__(self, node: str) -> Client:
        client = self.clients.get(node)
        if client is None:
            client = self.workload.client_factory(
                self.workload.addresses[node], self.workload.timeout_seconds
            )
            self.clients[node] = client
        return client

    def close(self) -> None:
        """Close every connection."""
        for client in self.clients.values():
            client.close()
        self.clients.clear()


def cart_items(value: bytes | None) -> set[bytes]:
    """The items of a cart value (its ``#`` marker line left out)."""
    if value is None:
        return set()
    return {line for line in value.split(b"\n") if line and not line.startswith(b"#")}


def resolve_items(family: str, siblings: Sequence[Sibling]) -> set[bytes]:
    """The items a client of ``family`` keeps from a read's siblings."""
    if not siblings:
        return set()
    resolver = union if family == UNION else last_write_wins
    return cart_items(resolver(siblings))


def run_cart_client(
    workload: Workload, client_id: int, family: str, carts: Sequence[bytes], seed: int
) -> None:
    """One cart client's loop (a thread's target) until the workload stops."""
    rng = random.Random(seed)
    pool = ClientPool(workload)
    recorder = workload.recorder
    sequence = 0
    try:
        while workload.running():
            sequence += 1
            cart = rng.choice(carts)
            item = b"i%d-%d" % (client_id, sequence)
            add = AddRecord(client_id, family, cart, item, time.monotonic_ns())
            give_up = time.monotonic() + OPERATION_SECONDS_MAX
            attempt = 0
            # Bounded by give_up and by the number of nodes per round.
            while not add.acknowledged and time.monotonic() < give_up and workload.running():
                for node in pool.order(client_id):
                    attempt += 1
                    add.attempts += 1
                    _record, reply = recorder.get(pool(node), client_id, node, cart, None)
                    if reply is None:
                        pool.failed(node)
                        continue
                    items = resolve_items(family, reply.siblings) | {item}
                    marker = b"#c%d-%d-%d" % (client_id, sequence, attempt)
                    value = b"\n".join([*sorted(items), marker])
                    record = recorder.put(
                        pool(node), client_id, node, cart, value, reply.context, None
                    )
                    if record.ok:
                        add.acknowledged = True
                        break
                    pool.failed(node)
                    if time.monotonic() >= give_up or not workload.running():
                        break
            add.end_ns = time.monotonic_ns()
            with workload.lock:
                workload.adds.append(add)
    finally:
        pool.close()


def run_register_client(
    workload: Workload, client_id: int, registers: Sequence[bytes], seed: int
) -> None:
    """One register client's loop: read, and half the time write after it with the read's
    context: a fresh value, or (:data:`REGISTER_DELETE_FRACTION` of the writes) a delete."""
    rng = random.Random(seed)
    pool = ClientPool(workload)
    recorder = workload.recorder
    sequence = 0
    try:
        while workload.running():
            sequence += 1
            key = rng.choice(registers)
            write = rng.random() < 0.5
            node = pool.order(client_id + sequence)[0]
            _record, reply = recorder.get(pool(node), client_id, node, key, None)
            if reply is None:
                pool.failed(node)
                continue
            if not write:
                continue
            deleting = rng.random() < REGISTER_DELETE_FRACTION
            value = None if deleting else b"r%d-%d" % (client_id, sequence)
            record = recorder.put(pool(node), client_id, node, key, value, reply.context, None)
            if not record.ok:
                pool.failed(node)
    finally:
        pool.close()


def final_items(
    read: Callable[[bytes], GetReply | None], carts: Mapping[bytes, str]
) -> dict[bytes, set[bytes]]:
    """Each cart's items as its family resolves the siblings of one last read."""
    result: dict[bytes, set[bytes]] = {}
    for cart, family in carts.items():
        reply = read(cart)
        result[cart] = set() if reply is None else resolve_items(family, reply.siblings)
    return result


def summarize_adds(adds: Sequence[AddRecord], final: Mapping[bytes, set[bytes]]) -> dict[str, Any]:
    """Per family: adds attempted and acknowledged, and acknowledged items missing from
    the final carts (lost)."""
    summary: dict[str, Any] = {}
    for family in (UNION, LWW):
        mine = [add for add in adds if add.family == family]
        acknowledged = [add for add in mine if add.acknowledged]
        lost = [add for add in acknowledged if add.item not in final.get(add.cart, set())]
        summary[family] = {
            "adds": len(mine),
            "acknowledged": len(acknowledged),
            "lost": len(lost),
            "lost_fraction": len(lost) / len(acknowledged) if acknowledged else 0.0,
            "lost_examples": [add.item.decode() for add in lost[:5]],
        }
    return summary
