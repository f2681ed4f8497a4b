"""Exhaustive exploration of a tiny cluster: every interleaving, not a random sample.

Why: the simulator samples interleavings with a seeded random scheduler, so a bug
that needs one precise ordering of deliveries, syncs, timeouts and a crash may
hide behind millions of seeds. For a small enough configuration (three nodes, one
key, two client operations, at most one crash and one lost message) every
ordering can be tried, as DSLabs does for students' Paxos. The cores are sans-IO,
so the explorer steps :class:`~dynamokv.impl.core.Node` objects directly, with no
network or clock of its own beyond a list of messages in flight and a tick counter.

The model
---------
A *state* is every node (or ``None`` while crashed), its :class:`SimDisk`, the
persists not yet synced, the messages in flight (a multiset: any may be delivered
next), the tick, the clients' records and the faults still allowed. From a state,
each *transition* is one of:

* deliver any message in flight to its destination;
* lose any message in flight (while the loss budget lasts);
* sync a node's oldest pending persist, which steps ``PersistDone``;
* fire the earliest timer (the tick jumps to it: messages may always arrive
  before a timeout, as in an asynchronous network, but timers keep their order);
* issue a client operation that has not been issued yet;
* crash a node (while the crash budget lasts: it loses its unsynced writes and
  the messages in flight to it) or restart a crashed one over its synced disk.

States are pickled, and the pickle's digest is the state's identity: a state
reached by two orders of the same events is explored once. The search is
breadth-first, so the first violation found has a shortest trace, which is
replayed and printed as a ladder diagram (:func:`render_ladder`).

What is checked
---------------
In every reachable state, as replies arrive, the simulator's checkers
(:class:`History`) judge the records: property 2 (no phantom), 3 (no false
siblings) and 4 (read-your-writes, strict quorum only); and property 1 at the
moment of each acknowledgement (W nodes hold the version durably). At every
state with nothing left to do (no message, persist, timer or operation pending)
the fault-free suffix has ended: a repair read with R = N is run to completion,
and then property 1 (every owner holds every acknowledged version) and property
5 (every owner holds the same versions) must hold.

What it cannot cover is said on the proofs page: the bounds (nodes, keys,
operations, faults), delays only as orderings, the request-path node only.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import pickle
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dynamokv.impl.core import (
    DEFAULT_SEAMS,
    ClientRequest,
    GetRequest,
    GetResult,
    Message,
    Node,
    NodeConfig,
    PartitionRing,
    Persist,
    PersistDone,
    PutRequest,
    PutResult,
    Receive,
    Reply,
    Seams,
    SetTimer,
    Tick,
    TimeoutHealth,
    Version,
    covers,
)

from ._checkers import History, OpRecord
from ._disk import SimDisk
from ._ladder import render_ladder
from ._simulated_cluster import TraceEntry, _label

__all__ = [
    "ExploreConfig",
    "ExploreReport",
    "Operation",
    "Violation",
    "explore",
]

IN_FLIGHT = -1
"""A traced message's arrival while it is still in flight."""

REPAIR_STEPS_MAX = 400
"""Events a fault-free completion may take before property 5 counts as violated."""


@dataclass(frozen=True, slots=True)
class Operation:
    """One client operation: a put (``value``) or a get (``value`` None) through ``node``."""

    kind: str
    key: bytes
    node: str
    value: bytes | None = None


@dataclass(frozen=True, slots=True)
class ExploreConfig:
    """The configuration explored.

    Attributes:
        nodes: cluster size (``n1``, ``n2``...).
        n, r, w: replication and quorums.
        strict: strict quorum (property 4 is checked only then, and only if R + W > N).
        operations: the client operations, each issued once, in any order.
        crashes_max: crashes allowed on any path.
        drops_max: messages lost on any path.
        read_repair: the nodes repair stale owners a get meets (Dynamo §5); off, the
            repair read at the end of a suffix repairs nothing, so a lost write request
            must show up as a property 5 violation (the checker's own control).
        unsynced_writes: model a disk sync as a step of its own, so that a crash can
            lose a write made but not yet synced. Off, a persist is synced within the
            step that made it: far fewer states (no sync is interleaved with anything),
            and only the loss of unsynced writes is left out.
        states_max: stop (incomplete) after this many distinct states.
    """

    nodes: int = 3
    n: int = 3
    r: int = 2
    w: int = 2
    strict: bool = True
    operations: tuple[Operation, ...] = (
        Operation("put", b"k", "n1", b"v1"),
        Operation("put", b"k", "n2", b"v2"),
    )
    crashes_max: int = 1
    drops_max: int = 1
    read_repair: bool = True
    unsynced_writes: bool = False
    states_max: int = 2_000_000


@dataclass(frozen=True, slots=True)
class Violation:
    """A property broken in some reachable state, with a shortest path to it."""

    message: str
    steps: tuple[str, ...]
    ladder: str


@dataclass(slots=True)
class ExploreReport:
    """What one exploration did and found."""

    states: int = 0
    transitions: int = 0
    depth: int = 0
    final_states: int = 0
    complete: bool = True
    violation: Violation | None = None

    @property
    def ok(self) -> bool:
        """Every reachable state explored and no violation."""
        return self.complete and self.violation is None


# --- the world --------------------------------------------------------------------------


@dataclass(slots=True)
class _Client:
    record: OpRecord | None = None
    request_id: int = 0
    done: bool = False


@dataclass(slots=True)
class _World:
    """Everything a state is made of (pickled as the state)."""

    nodes: dict[str, Node | None]
    disks: dict[str, SimDisk]
    persists: dict[str, list[int]]
    incarnation: dict[str, int]
    network: list[Message] = field(default_factory=list)
    now: int = 0
    crashes_left: int = 0
    drops_left: int = 0
    clients: list[_Client] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)


_PLAIN_TYPES = frozenset({str, int, bytes, float, bool, type(None), tuple, list, dict})
"""Types whose objects a state's pickle always holds by value (never shared, never a set)."""


def _shared_object(reference: Any) -> Any:
    """The name under which a state's pickle refers to an object every state shares.

    :class:`_StatePickler` writes a shared object as a call of this function on its
    reference, and :class:`_StateUnpickler` resolves the name to the exploration's own
    objects, so the call is never made.
    """
    raise LookupError(f"{reference!r} is resolved by the explorer's unpickler only")


class _Shared:
    """Objects every state shares, which pickling must not copy: the ring and the config.

    Random generators are pickled as a reference to their state (625 words) kept
    once here, and restored into a fresh generator on load, so that a state stays
    small and its pickle is mostly the protocol's own data.
    """

    def __init__(self, ring: PartitionRing, config: NodeConfig, seams: Seams) -> None:
        self.by_token: dict[Any, Any] = {"ring": ring, "config": config, "seams": seams}
        self.tokens = {id(ring): "ring", id(config): "config", id(seams): "seams"}
        self.seams = seams
        self.random_states: dict[int, Any] = {}

    def reference(self, obj: Any) -> Any:
        """How a state's pickle refers to ``obj`` (None: pickled as a value)."""
        token = self.tokens.get(id(obj))
        if token is None and isinstance(obj, random.Random):
            state = obj.getstate()
            key = hash(state)
            self.random_states.setdefault(key, state)
            return ("random", key)
        return token

    def resolve(self, reference: Any) -> Any:
        """The object a :meth:`reference` refers to, in a state being loaded."""
        if isinstance(reference, tuple):
            generator = random.Random()
            generator.setstate(self.random_states[reference[1]])
            return generator
        return self.by_token[reference]

    def dumps(self, value: Any) -> bytes:
        buffer = io.BytesIO()
        _StatePickler(buffer, self).dump(value)
        return buffer.getvalue()

    def loads(self, data: bytes) -> _World:
        world: _World = _StateUnpickler(io.BytesIO(data), self).load()
        return world

    def _canonical_id(self, obj: Any) -> Any:
        # Called for every object of the pickle: most are plain values, which are
        # neither shared nor a set, and are answered first.
        if type(obj) in _PLAIN_TYPES:
            return None
        # A set pickles in hash order, which differs between processes (string hashes
        # are salted) and with the set's history: give it as its sorted content.
        if isinstance(obj, set | frozenset):
            return ("set", tuple(sorted(repr(item) for item in obj)))
        return self.reference(obj)

    def canonical_dumps(self, value: Any) -> bytes:
        """A pickle for identity only (never loaded): sets in sorted order."""
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = self._canonical_id  # type: ignore[method-assign]
        pickler.dump(value)
        return buffer.getvalue()

    def node_digest(self, world: _World, name: str) -> bytes:
        """The identity of one node's part of a state: the node and its disk."""
        return hashlib.blake2b(
            self.canonical_dumps((world.nodes[name], world.disks[name])), digest_size=16
        ).digest()

    def state_id(self, world: _World, node_digests: tuple[bytes, ...]) -> bytes:
        """The state's identity, from its nodes' digests and the rest.

        A pickle of the whole world would depend on which objects the nodes happen to
        share (a version received is the sender's object), so two orders of the same
        events would look like two states. Each node with its disk is pickled apart,
        and the messages in flight are sorted, so they do not.
        """
        digest = hashlib.blake2b(b"".join(node_digests), digest_size=16)
        digest.update(
            repr(
                (
                    world.network,
                    world.persists,
                    world.incarnation,
                    world.now,
                    world.crashes_left,
                    world.drops_left,
                    world.violations,
                )
            ).encode()
        )
        digest.update(
            self.canonical_dumps([(c.record, c.request_id, c.done) for c in world.clients])
        )
        return digest.digest()


class _StatePickler(pickle.Pickler):
    """Pickles a state, with the objects every state shares by :meth:`_Shared.reference`.

    A ``persistent_id`` would be called for every object the pickle holds (about 600 in a
    state: every string, number and tuple); ``reducer_override`` only for an object that
    is neither one of those nor already pickled once in this state (a few dozen).
    """

    def __init__(self, file: io.BytesIO, shared: _Shared) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.shared = shared

    def reducer_override(self, obj: Any) -> Any:
        reference = self.shared.reference(obj)
        if reference is None:
            return NotImplemented
        return (_shared_object, (reference,))


class _StateUnpickler(pickle.Unpickler):
    """Loads a :class:`_StatePickler`'s state, resolving its shared objects."""

    def __init__(self, file: io.BytesIO, shared: _Shared) -> None:
        super().__init__(file)
        self.shared = shared

    def find_class(self, module_name: str, name: str) -> Any:
        if module_name == __name__ and name == _shared_object.__name__:
            return self.shared.resolve
        return super().find_class(module_name, name)


class _Machine:
    """Applies transitions to worlds; records sends and deliveries when tracing."""

    def __init__(self, config: ExploreConfig, shared: _Shared) -> None:
        self.config = config
        self.shared = shared
        self.names = tuple(f"n{i + 1}" for i in range(config.nodes))
        self.trace: list[TraceEntry] | None = None
        self._in_flight_trace: dict[int, int] = {}
        self._syncing = False
        self.trace_step = 0

    # -- building --------------------------------------------------------------------------

    def new_node(self, world: _World, name: str) -> Node:
        world.incarnation[name] += 1
        seed = f"{name}/{world.incarnation[name]}"
        return Node(
            name,
            config=self.shared.by_token["config"],
            membership=self.shared.by_token["ring"],
            health=TimeoutHealth(suspect_ticks=50),
            storage=world.disks[name],
            random=random.Random(seed),
            seams=self.shared.seams,
        )

    def initial(self) -> _World:
        world = _World(
            nodes=dict.fromkeys(self.names),
            disks={name: SimDisk() for name in self.names},
            persists={name: [] for name in self.names},
            incarnation=dict.fromkeys(self.names, 0),
            crashes_left=self.config.crashes_max,
            drops_left=self.config.drops_max,
            clients=[_Client() for _ in self.config.operations],
        )
        # Boot every node and make its first counter lease durable before exploring:
        # the interleavings of start-up are not what this search is about.
        for name in self.names:
            node = self.new_node(world, name)
            world.nodes[name] = node
            self.step(world, name, Tick())
        for name in self.names:
            while world.persists[name]:
                self.sync(world, name)
        return world

    # -- transitions -----------------------------------------------------------------------

    def transitions(self, world: _World) -> list[tuple[str, Any]]:
        """Every transition enabled in ``world``, in a fixed order."""
        moves: list[tuple[str, Any]] = []
        seen: set[Message] = set()
        for index, message in enumerate(world.network):
            if message in seen:
                continue  # an identical copy leads to the same state
            seen.add(message)
            moves.append(("deliver", index))
            if world.drops_left:
                moves.append(("drop", index))
        for name in self.names:
            if world.persists[name]:
                moves.append(("sync", name))
        if not world.network and self._next_timer(world) is not None:
            # A timeout fires only once no message is in flight: replies are never raced
            # against it (that would multiply the states by every timer's position).
            moves.append(("tick", None))
        for index, client in enumerate(world.clients):
            if client.record is None:
                moves.append(("client", index))
        for name in self.names:
            if world.nodes[name] is None:
                moves.append(("restart", name))
            elif world.crashes_left:
                moves.append(("crash", name))
        return moves

    def apply(self, world: _World, move: tuple[str, Any]) -> str | None:
        """Carry out ``move``; return the node whose node or disk it changed, if any."""
        kind, argument = move
        touched: str | None = argument if isinstance(argument, str) else None
        if kind == "deliver":
            message = world.network.pop(argument)
            self._traced_arrival(world, message, lost=False)
            touched = message.dst
            self.step(world, message.dst, Receive(message))
        elif kind == "drop":
            world.drops_left -= 1
            self._traced_arrival(world, world.network.pop(argument), lost=True)
        elif kind == "sync":
            self.sync(world, argument)
        elif kind == "tick":
            at, touched = self._next_timer(world) or (world.now, self.names[0])
            world.now = max(world.now, at)
            self.step(world, touched, Tick())
        elif kind == "client":
            touched = self.config.operations[argument].node
            self.issue(world, argument)
        elif kind == "crash":
            world.crashes_left -= 1
            self.crash(world, argument)
        else:
            node = self.new_node(world, argument)
            world.nodes[argument] = node
            self.step(world, argument, Tick())
        world.network.sort(key=repr)
        return touched

    def describe(self, world: _World, move: tuple[str, Any]) -> str:
        kind, argument = move
        if kind in ("deliver", "drop"):
            message = world.network[argument]
            verb = "deliver" if kind == "deliver" else "lose"
            return f"{verb} {_label(message)} {message.src}->{message.dst}"
        if kind == "client":
            operation = self.config.operations[argument]
            what = f"put {operation.value!r}" if operation.kind == "put" else "get"
            return f"client {argument + 1}: {what} {operation.key!r} via {operation.node}"
        if kind == "tick":
            at, name = self._next_timer(world) or (world.now, "")
            return f"timer of {name} at t={at}"
        return f"{kind} {argument}"

    def _next_timer(self, world: _World) -> tuple[int, str] | None:
        timers = [
            (node.next_timer_tick, name)
            for name, node in world.nodes.items()
            if node is not None and node.next_timer_tick is not None
        ]
        return min(timers) if timers else None

    def step(self, world: _World, name: str, event: Any) -> None:
        node = world.nodes[name]
        assert node is not None
        for effect in node.step(event, world.now):
            if isinstance(effect, Persist):
                world.disks[name].apply(effect)
                world.persists[name].append(effect.persist_id)
            elif isinstance(effect, Reply):
                self.reply(world, effect.request_id, effect.result)
            elif not isinstance(effect, SetTimer):
                # A peer message: send it.
                if world.nodes.get(effect.dst) is None:
                    self._traced_send(world, effect, lost=True)
                else:
                    self._traced_send(world, effect, lost=False)
                    world.network.append(effect)
        if not self.config.unsynced_writes and not self._syncing:
            # Synced within the step: each PersistDone may persist more, synced in turn.
            self._syncing = True
            try:
                while world.persists[name] and world.nodes[name] is not None:
                    self.sync(world, name)
            finally:
                self._syncing = False

    def sync(self, world: _World, name: str) -> None:
        persist_id = world.persists[name].pop(0)
        world.disks[name].sync(persist_id)
        self.step(world, name, PersistDone(persist_id))

    def crash(self, world: _World, name: str) -> None:
        world.nodes[name] = None
        world.disks[name].crash()
        world.persists[name] = []
        lost = [m for m in world.network if m.dst == name]
        world.network = [m for m in world.network if m.dst != name]
        for message in lost:
            self._traced_arrival(world, message, lost=True)

    # -- clients ---------------------------------------------------------------------------

    def issue(self, world: _World, index: int) -> None:
        operation = self.config.operations[index]
        client = world.clients[index]
        quorum = self.config.w if operation.kind == "put" else self.config.r
        record = OpRecord(
            index, operation.kind, operation.key, operation.node, world.now, quorum, operation.value
        )
        client.record = record
        client.request_id = index + 1
        if world.nodes[operation.node] is None:
            record.end = world.now  # connection refused: a failed request
            client.done = True
            return
        request: GetRequest | PutRequest
        if operation.kind == "put":
            request = PutRequest(operation.key, operation.value, ())
        else:
            request = GetRequest(operation.key)
        self.step(world, operation.node, ClientRequest(client.request_id, request))

    def reply(self, world: _World, request_id: int, result: Any) -> None:
        if request_id > len(world.clients):
            return  # the repair read's
        client = world.clients[request_id - 1]
        record = client.record
        if record is None or client.done:
            return
        client.done = True
        record.end = world.now
        record.ok = result.ok
        if isinstance(result, PutResult):
            record.version = result.version
            if result.ok and result.version is not None:
                self.check_durable(world, record, result.version)
        elif isinstance(result, GetResult):
            record.versions = result.versions
        history = History(
            records=[c.record for c in world.clients if c.record is not None],
            vector_clock_threshold=self.shared.by_token["config"].vector_clock_threshold,
        )
        history.check_phantoms()
        history.check_false_siblings()
        if self.config.strict and self.config.r + self.config.w > self.config.n:
            history.check_read_your_writes()
        world.violations.extend(history.violations)

    def check_durable(self, world: _World, record: OpRecord, version: Version) -> None:
        """Property 1 at the moment of the ack: W nodes hold the version durably."""
        holding = sum(
            1
            for disk in world.disks.values()
            if covers(disk.synced_versions(record.key), version)
            or any(
                hint.key == record.key and covers(hint.versions, version)
                for hint in disk.synced_hints()
            )
        )
        if holding < record.r_or_w:
            world.violations.append(
                f"property 1: {record.kind} of {record.key!r} acknowledged at t={world.now} with "
                f"{version.dot} durable on {holding} node(s), fewer than w={record.r_or_w}"
            )

    # -- the end of a fault-free suffix ------------------------------------------------------

    def settle(self, world: _World) -> bool:
        """Run the fault-free completion: FIFO deliveries, syncs, timers. False if unbounded."""
        for _ in range(REPAIR_STEPS_MAX):
            if world.network:
                self.apply(world, ("deliver", 0))
            elif any(world.persists.values()):
                name = next(n for n in self.names if world.persists[n])
                self.sync(world, name)
            elif self._next_timer(world) is not None:
                self.apply(world, ("tick", None))
            else:
                return True
        return False

    def check_final(self, world: _World) -> None:
        """Properties 1 and 5 once nothing is left to do: repair, then compare the owners."""
        keys = sorted({operation.key for operation in self.config.operations})
        for key in keys:
            coordinator = self.shared.by_token["ring"].preference_list(key)[0]
            if world.nodes[coordinator] is None:
                continue
            self.step(
                world,
                coordinator,
                ClientRequest(len(world.clients) + 1, GetRequest(key, r=self.config.n)),
            )
        if not self.settle(world):
            world.violations.append(
                f"property 5: the fault-free completion did not settle within {REPAIR_STEPS_MAX} events"
            )
            return
        ring = self.shared.by_token["ring"]
        for key in keys:
            owners = ring.preference_list(key)
            held = {owner: world.disks[owner].synced_versions(key) for owner in owners}
            if len(set(held.values())) > 1:
                summary = ", ".join(f"{o}: {[v.dot for v in h]}" for o, h in held.items())
                world.violations.append(
                    f"property 5: owners of {key!r} disagree after repair ({summary})"
                )
            for client in world.clients:
                record = client.record
                if record is None or not record.ok or record.version is None or record.key != key:
                    continue
                for owner, versions in held.items():
                    if not covers(versions, record.version):
                        world.violations.append(
                            f"property 1: acknowledged {record.version.dot} of {key!r} "
                            f"is missing on {owner} after repair"
                        )

    def is_final(self, world: _World) -> bool:
        return not self.transitions(world) or all(
            kind == "crash" for kind, _ in self.transitions(world)
        )

    # -- tracing ---------------------------------------------------------------------------

    def _traced_send(self, world: _World, message: Message, *, lost: bool) -> None:
        if self.trace is None:
            return
        entry = TraceEntry(
            self.trace_step, None if lost else IN_FLIGHT, message.src, message.dst, _label(message)
        )
        self.trace.append(entry)
        if not lost:
            self._in_flight_trace[id(message)] = len(self.trace) - 1

    def _traced_arrival(self, world: _World, message: Message, *, lost: bool) -> None:
        if self.trace is None:
            return
        index = self._in_flight_trace.pop(id(message), None)
        if index is not None:
            entry = self.trace[index]
            self.trace[index] = dataclasses.replace(
                entry, arrives_at=None if lost else self.trace_step
            )


# --- the search -------------------------------------------------------------------------


def explore(
    config: ExploreConfig | None = None,
    *,
    seams: Seams = DEFAULT_SEAMS,
    on_progress: Callable[[int, int], None] | None = None,
) -> ExploreReport:
    """Explore every interleaving of ``config`` breadth-first; stop at the first violation.

    Args:
        config: what to explore (default: 3 nodes, N=3, R=W=2, strict, two
            concurrent puts of one key, one crash, one lost message).
        seams: the nodes' replaceable rules; a planted bug is a :class:`Seams` with
            one wrong rule (:data:`~dynamokv.impl.sim.PLANTED_BUGS`).
        on_progress: called with (states, depth) now and then (a progress bar).
    """
    config = config or ExploreConfig()
    node_config = NodeConfig(
        n=config.n,
        r=config.r,
        w=config.w,
        strict_quorum=config.strict,
        read_repair=config.read_repair,
    )
    names = tuple(f"n{i + 1}" for i in range(config.nodes))
    ring = PartitionRing.balanced(names, n=min(config.n, config.nodes), q=config.nodes)
    shared = _Shared(ring, node_config, seams)
    machine = _Machine(config, shared)
    report = ExploreReport()
    initial = machine.initial()
    root = shared.dumps(initial)
    root_digests = tuple(shared.node_digest(initial, name) for name in machine.names)
    root_id = shared.state_id(initial, root_digests)
    index = {name: i for i, name in enumerate(machine.names)}
    parents: dict[bytes, tuple[bytes, tuple[str, Any]] | None] = {root_id: None}
    frontier: collections.deque[tuple[bytes, bytes, tuple[bytes, ...], int]] = collections.deque(
        [(root, root_id, root_digests, 0)]
    )
    while frontier:
        data, state_id, digests, depth = frontier.popleft()
        report.states += 1
        report.depth = max(report.depth, depth)
        if on_progress is not None and report.states % 1000 == 0:
            on_progress(report.states, depth)
        world = shared.loads(data)
        moves = machine.transitions(world)
        final = machine.is_final(world)
        if final:
            report.final_states += 1
            machine.check_final(world)
            if world.violations:
                report.violation = _violation(machine, parents, state_id, world)
                break
        for position, move in enumerate(moves):
            # Each move starts from a copy of the state; the last one from the state
            # loaded above, which nothing has changed unless the final check ran on it.
            last = position == len(moves) - 1
            child = world if last and not final else shared.loads(data)
            touched = machine.apply(child, move)
            report.transitions += 1
            child_digests = digests
            if touched is not None:
                position = index[touched]
                child_digests = (
                    *digests[:position],
                    shared.node_digest(child, touched),
                    *digests[position + 1 :],
                )
            child_id = shared.state_id(child, child_digests)
            if child_id in parents:
                continue
            parents[child_id] = (state_id, move)
            if child.violations:
                report.states += 1
                report.depth = max(report.depth, depth + 1)
                report.violation = _violation(machine, parents, child_id, child)
                break
            frontier.append((shared.dumps(child), child_id, child_digests, depth + 1))
        if report.violation is not None:
            break
        if len(parents) >= config.states_max:
            report.complete = False
            break
    return report


def _path(
    parents: dict[bytes, tuple[bytes, tuple[str, Any]] | None], state_id: bytes
) -> list[tuple[str, Any]]:
    moves: list[tuple[str, Any]] = []
    link = parents[state_id]
    while link is not None:
        parent, move = link
        moves.append(move)
        link = parents[parent]
    return moves[::-1]


def _violation(
    machine: _Machine,
    parents: dict[bytes, tuple[bytes, tuple[str, Any]] | None],
    state_id: bytes,
    found: _World,
) -> Violation:
    """Replay the shortest path to the violating state, recording the messages."""
    moves = _path(parents, state_id)
    machine.trace = []
    world = machine.initial()
    machine.trace = []  # start-up messages are not part of the story
    steps = []
    for number, move in enumerate(moves, start=1):
        machine.trace_step = number
        steps.append(f"{number:3d}. {machine.describe(world, move)}")
        machine.apply(world, move)
    if machine.is_final(world) and not world.violations:
        machine.trace_step = len(moves) + 1
        steps.append(f"{len(moves) + 1:3d}. repair read with R = N, then compare the owners")
        machine.check_final(world)
    entries = [
        dataclasses.replace(entry, label=entry.label + " (in flight)", arrives_at=entry.sent_at)
        if entry.arrives_at == IN_FLIGHT
        else entry
        for entry in machine.trace
    ]
    ladder = render_ladder(entries, machine.names)
    machine.trace = None
    return Violation(found.violations[0], tuple(steps), ladder)
