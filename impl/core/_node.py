"""One Dynamo node as a sans-IO state machine (Dynamo §4.3 to §4.6).

Theory of operation
-------------------
A :class:`Node` owns no socket, clock, disk or thread. A driver (the simulator, or
the trio runtime of issue 6) calls :meth:`Node.step` with one event (a peer
message, a client request, a tick, a storage completion) and the current time
in ticks, and carries out the returned effects in order (see
:mod:`~dynamokv.impl.core._messages`). Everything the node does follows from
the events it was given and the injected ``random.Random``, so one seed replays
one run.

*Coordinating.* A get may be coordinated by any node: it asks the first N healthy
nodes of the key's extended preference list (owners, and substitutes for owners
it suspects, Dynamo §4.6), answers after R replies with every concurrent
version and their merged context, keeps listening until every asked node has
answered or the request times out, and then sends the merged versions to every
owner that answered with less (read repair). A put is coordinated only by an
owner; any other node forwards it to one (Dynamo §4.5), so vector clocks hold at
most about N entries. The coordinator makes the new version, merges it into its
own store, sends it to the other chosen nodes, and answers after W *durable*
acknowledgements, itself included. A replica that does not answer within
``replica_timeout_ticks`` is suspected and, unless the quorum is strict,
replaced by the next healthy node of the extended preference list, which keeps
the version as a *hint* naming the owner.

*Replicas* merge what they receive into what they hold (syntactic
reconciliation, :mod:`~dynamokv.impl.core._versions`), never overwrite, and
acknowledge only after the merge is durable.

*Hinted handoff.* Hints are stored durably, bounded by ``hints_count_max`` and
``hints_bytes_max`` (a full store refuses the write, which then does not count
towards W). Every ``hint_replay_interval_ticks`` the node replays hints to
owners its health view believes are up; the owner merges, makes the merge
durable and acknowledges with the dots it received; only then is the hint
deleted.

*Dots are never issued twice* (DESIGN.md §3). The node keeps one node-wide
counter and a durable *lease*: before issuing any counter above the lease it
persists a larger lease (``counter_lease_block`` more) and waits for it to be
durable; a restarted node resumes above the durable lease, so counters issued
in a lost, unsynced past are skipped, not reissued. The counter also stays above
the node's entry in the client's context (``spec.kv.next_counter``'s rule).
We chose the lease over a fresh actor id per incarnation because actor ids
would add one clock entry per restart and defeat "only owners coordinate, so
clocks stay short"; the price is one extra fsync per ``counter_lease_block``
puts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dynamokv.errors import ArgumentError, check_at_least, invariant
from dynamokv.spec.kv import Version

from . import _vclock
from ._health import HealthView
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
    Hint,
    HintAck,
    HintReplay,
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
    Result,
    Send,
    SetTimer,
    StoreHint,
    StoreLease,
    StoreVersions,
    Tick,
    TransferAck,
    TransferBatch,
    WriteAck,
    WriteRequest,
)
from ._ring import MembershipView
from ._seams import DEFAULT_SEAMS, Seams
from ._storage import StorageView
from ._versions import context_of, reconcile

if TYPE_CHECKING:
    import random

__all__ = ["Node", "NodeConfig", "NodeStats"]

_HINT_REPLAY = -1
"""Timer entry that is the periodic hint replay rather than a request op."""


@dataclass(frozen=True, slots=True)
class _AckAfterPersist:
    """Send ``message`` once the persist it rests on is durable."""

    message: Message


@dataclass(frozen=True, slots=True)
class _LocalAck:
    """The coordinator's own write for put ``op_id`` is durable."""

    op_id: int


@dataclass(frozen=True, slots=True)
class _LeaseDurable:
    """Counters up to ``counter_max`` may now be issued."""

    counter_max: int


_AfterPersist = _AckAfterPersist | _LocalAck | _LeaseDurable


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeConfig:
    """Every knob and bound of a node; the defaults are the seed's (N=3, R=2, W=2).

    Attributes:
        n: replicas per key (per cluster).
        r: default read quorum; a request may choose its own.
        w: default write quorum; a request may choose its own.
        strict_quorum: use only the N owners, never substitutes (no hints).
        replica_timeout_ticks: silence after which a replica is suspected and, in a
            sloppy quorum, replaced by a substitute.
        request_timeout_ticks: how long a coordinated request may take.
        forward_timeout_ticks: how long a forwarded put may take at its owner.
        hint_replay_interval_ticks: period of the hinted-handoff replay.
        hint_replay_batch_max: hints replayed per period.
        hint_retry_ticks: silence after which a replayed hint is sent again.
        hints_count_max: most hints stored.
        hints_bytes_max: most bytes of hinted values stored.
        requests_in_flight_max: most coordinated or forwarded requests at once.
        lease_waiters_max: most puts waiting for a counter lease to be durable.
        versions_per_key_max: most siblings a replica keeps for one key (asserted).
        vector_clock_threshold: clock entries kept before truncation (Dynamo §4.4).
        counter_lease_block: counters leased per durable lease record.
        read_repair: repair stale owners seen by a get.
    """

    n: int = 3
    r: int = 2
    w: int = 2
    strict_quorum: bool = False
    replica_timeout_ticks: int = 8
    request_timeout_ticks: int = 40
    forward_timeout_ticks: int = 60
    hint_replay_interval_ticks: int = 20
    hint_replay_batch_max: int = 64
    hint_retry_ticks: int = 40
    hints_count_max: int = 4096
    hints_bytes_max: int = 8 << 20
    requests_in_flight_max: int = 1024
    lease_waiters_max: int = 1024
    versions_per_key_max: int = 256
    vector_clock_threshold: int = 10
    counter_lease_block: int = 1000
    read_repair: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ArgumentError(f"n must be at least 1, got n={self.n}")
        for name in ("r", "w"):
            value = getattr(self, name)
            if not 1 <= value <= self.n:
                raise ArgumentError(f"{name} must be in 1..n={self.n}, got {name}={value}")
        check_at_least(self, _POSITIVE_FIELDS)
        check_at_least(self, ("counter_lease_block",), 2)


_POSITIVE_FIELDS = (
    "replica_timeout_ticks",
    "request_timeout_ticks",
    "forward_timeout_ticks",
    "hint_replay_interval_ticks",
    "hint_replay_batch_max",
    "hint_retry_ticks",
    "hints_count_max",
    "hints_bytes_max",
    "requests_in_flight_max",
    "lease_waiters_max",
    "versions_per_key_max",
    "vector_clock_threshold",
)


@dataclass(slots=True)
class NodeStats:
    """Counters a node keeps about itself (what ``dynamokv sim`` sums up)."""

    gets_coordinated: int = 0
    puts_coordinated: int = 0
    puts_forwarded: int = 0
    siblings_returned: int = 0
    hints_stored: int = 0
    hints_refused: int = 0
    hints_replayed: int = 0
    read_repairs: int = 0
    truncations: int = 0
    leases_persisted: int = 0
    substitutions: int = 0


@dataclass(slots=True)
class _GetOp:
    reply_to: int | tuple[str, int]
    key: bytes
    r: int
    deadline: int
    targets: dict[str, str | None]
    responses: dict[str, tuple[Version, ...]] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)
    replied: bool = False


@dataclass(slots=True)
class _PutOp:
    reply_to: int | tuple[str, int]
    key: bytes
    version: Version
    w: int
    deadline: int
    targets: dict[str, str | None]
    versions: tuple[Version, ...] = ()
    acked: set[str] = field(default_factory=set)
    replaced: set[str] = field(default_factory=set)
    replied: bool = False


@dataclass(slots=True)
class _ForwardOp:
    reply_to: int | tuple[str, int]
    request: PutRequest
    candidates: tuple[str, ...]
    attempt: int
    deadline: int


_Op = _GetOp | _PutOp | _ForwardOp


class Node:
    """A Dynamo storage node: coordinator, replica and hint keeper, with no IO.

    Args:
        node_id: this node's name on the ring.
        config: knobs and bounds.
        membership: the ring view (:class:`~dynamokv.impl.core.PartitionRing`).
        health: who is believed up (:class:`~dynamokv.impl.core.TimeoutHealth`).
        storage: the read side of this node's storage; it must already hold
            whatever survived a crash.
        random: the only source of randomness.
        seams: the replaceable decisions (:class:`~dynamokv.impl.core.Seams`); only
            the simulator and tests pass anything but the project's own.
    """

    def __init__(
        self,
        node_id: str,
        *,
        config: NodeConfig,
        membership: MembershipView,
        health: HealthView,
        storage: StorageView,
        random: random.Random,
        seams: Seams = DEFAULT_SEAMS,
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.seams = seams
        self.membership = membership
        self.health = health
        self.storage = storage
        self.random = random
        self.stats = NodeStats()
        self.now = 0
        self._booted = False
        self._lease_durable = storage.read_lease()
        self._lease_requested = self._lease_durable
        self._counter = self._lease_durable
        self._lease_waiters: list[tuple[int | tuple[str, int], PutRequest]] = []
        self._hints: dict[int, Hint] = {}
        self._hints_by_owner: dict[str, dict[int, None]] = {}
        self._hints_by_key: dict[bytes, dict[int, None]] = {}
        self._hints_bytes = 0
        self._hint_sent_at: dict[int, int] = {}
        for hint in storage.read_hints():
            self._add_hint(hint)
        self._hint_seq = max(self._hints, default=0)
        self._replay_scheduled = False
        # Op ids travel in messages and must not collide with a previous
        # incarnation's, whose replies may still be in flight.
        self._op_seq = random.getrandbits(40) << 20
        self._ops: dict[int, _Op] = {}
        self._persist_seq = 0
        self._after_persist: dict[int, list[_AfterPersist]] = {}
        self._timers: list[tuple[int, int]] = []
        self._timer_armed: int | None = None
        self._effects: list[Effect] = []
        self._step_writes: dict[bytes, tuple[Version, ...]] = {}
        # Dispatch by class: one dict lookup instead of a chain of isinstance calls
        # on the hottest path of every driver.
        self._event_handlers: dict[type, Callable[[Any], None]] = {
            Receive: self._on_receive,
            PersistDone: self._on_persist_done_event,
            ClientRequest: self._on_client_event,
            Tick: self._on_tick_event,
            PeerUp: self._on_peer_up,
            DropKeys: self._on_drop_keys,
        }
        self._message_handlers: dict[type, Callable[[Any], None]] = {
            WriteRequest: self._on_write,
            WriteAck: self._on_write_ack,
            ReadRequest: self._on_read,
            ReadResponse: self._on_read_response,
            ReadRepair: self._on_read_repair,
            HintReplay: self._on_hint_replay,
            HintAck: self._on_hint_ack,
            ForwardRequest: self._on_forward,
            ForwardResponse: self._on_forward_response,
            TransferBatch: self._on_transfer_batch,
            RepairPush: self._on_repair_push,
        }

    # -- the public API -------------------------------------------------------------

    def step(self, event: Event, now: int) -> list[Effect]:
        """Handle one event at tick ``now``; return the effects to carry out, in order."""
        if now < self.now:
            invariant(False, "time went backwards")
        self.now = now
        effects: list[Effect] = []
        self._effects = effects
        if self._step_writes:
            self._step_writes = {}
        if not self._booted:
            self._boot()
        handler = self._event_handlers.get(event.__class__)
        if handler is None:
            invariant(False, "unknown event")
        else:
            handler(event)
        timers = self._timers
        ops = self._ops
        # Drop the timers of requests that already finished, so they wake nobody.
        while timers and timers[0][1] != _HINT_REPLAY and timers[0][1] not in ops:
            heapq.heappop(timers)
        if timers and (self._timer_armed is None or timers[0][0] < self._timer_armed):
            self._timer_armed = timers[0][0]
            effects.append(SetTimer(timers[0][0]))
        return effects

    @property
    def hints(self) -> tuple[Hint, ...]:
        """The hints this node keeps for other owners, oldest first."""
        return tuple(self._hints.values())

    @property
    def next_timer_tick(self) -> int | None:
        """When this node next wants a :class:`Tick` (None: no timer), for composing drivers."""
        return self._timers[0][0] if self._timers else None

    def stored_versions(self, key: bytes) -> tuple[Version, ...]:
        """What this node stores for ``key`` (owned, not hinted), writes of this step included."""
        return self._read_stored(key)

    @property
    def requests_in_flight(self) -> int:
        """Coordinated and forwarded requests not yet finished."""
        return len(self._ops)

    # -- plumbing ---------------------------------------------------------------------

    def _boot(self) -> None:
        self._booted = True
        self._request_lease(self._counter + self.config.counter_lease_block)
        if self._hints:
            self._schedule_replay()

    def _send(self, message: Message) -> None:
        self._effects.append(Send(message))

    def _persist(self, records: tuple[Record, ...], *after: _AfterPersist) -> int:
        self._persist_seq += 1
        self._effects.append(Persist(self._persist_seq, records))
        if after:
            self._after_persist[self._persist_seq] = list(after)
        return self._persist_seq

    def _timer(self, at: int, op_id: int) -> None:
        heapq.heappush(self._timers, (at, op_id))

    def _reply(self, reply_to: int | tuple[str, int], result: Result) -> None:
        if isinstance(reply_to, int):
            self._effects.append(Reply(reply_to, result))
        else:
            invariant(isinstance(result, PutResult), "only puts are forwarded")
            if isinstance(result, PutResult):
                src, op_id = reply_to
                self._send(ForwardResponse(self.node_id, src, op_id, result))

    def _new_op(self, op: _Op, at: int) -> int:
        self._op_seq += 1
        self._ops[self._op_seq] = op
        self._timer(at, self._op_seq)
        return self._op_seq

    def _read_stored(self, key: bytes) -> tuple[Version, ...]:
        """What this node stores for ``key``, including writes of the current step.

        The driver applies a step's :class:`Persist` effects only after the step
        returns, so a second write to one key in the same step (two lease waiters
        released together) must see the first through ``_step_writes``.
        """
        written = self._step_writes.get(key)
        return self.storage.read_versions(key) if written is None else written

    def _store(self, key: bytes, versions: tuple[Version, ...], *after: _AfterPersist) -> None:
        self._step_writes[key] = versions
        self._persist((StoreVersions(key, versions),), *after)

    def _merge_many(
        self, items: tuple[tuple[bytes, tuple[Version, ...]], ...], *after: _AfterPersist
    ) -> None:
        """Merge several keys' incoming versions in one persist (one group commit)."""
        records: list[Record] = []
        for key, incoming in items:
            merged = self.seams.merge_versions(self._read_stored(key), incoming)
            invariant(
                len(merged) <= self.config.versions_per_key_max, "versions_per_key_max exceeded"
            )
            self._step_writes[key] = merged
            records.append(StoreVersions(key, merged))
        self._persist(tuple(records), *after)

    def _read_local(self, key: bytes) -> tuple[Version, ...]:
        """Owned versions plus hinted ones: what this node answers a read with."""
        held = self._read_stored(key)
        hint_ids = self._hints_by_key.get(key)
        if hint_ids:
            hints = self._hints
            return reconcile([*held, *(v for i in hint_ids for v in hints[i].versions)])
        return held

    def _write_local(
        self, key: bytes, incoming: tuple[Version, ...], *after: _AfterPersist
    ) -> None:
        held = self._read_stored(key)
        merged = self.seams.merge_versions(held, incoming)
        invariant(len(merged) <= self.config.versions_per_key_max, "versions_per_key_max exceeded")
        self._store(key, merged, *after)

    # -- events -----------------------------------------------------------------------

    def _on_client_event(self, event: ClientRequest) -> None:
        self._on_client(event.request_id, event.request)

    def _on_persist_done_event(self, event: PersistDone) -> None:
        self._on_persist_done(event.persist_id)

    def _on_tick_event(self, event: Tick) -> None:
        self._on_tick()

    def _on_client(self, request_id: int, request: GetRequest | PutRequest) -> None:
        if len(self._ops) >= self.config.requests_in_flight_max:
            self._reply(request_id, _failure(request, "overloaded: requests_in_flight_max"))
            return
        if isinstance(request, GetRequest):
            self._coordinate_get(request_id, request)
        else:
            self._coordinate_put(request_id, request, forwarded=False)

    def _on_tick(self) -> None:
        now = self.now
        if self._timer_armed is not None and self._timer_armed <= now:
            self._timer_armed = None
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, op_id = heapq.heappop(timers)
            if op_id == _HINT_REPLAY:
                self._replay_scheduled = False
                self._replay_hints()
                continue
            op = self._ops.get(op_id)
            if op is None:
                continue
            if isinstance(op, _ForwardOp):
                self._forward_timeout(op_id, op)
            else:
                self._op_timeout(op_id, op)

    def _on_persist_done(self, persist_id: int) -> None:
        invariant(1 <= persist_id <= self._persist_seq, "PersistDone for a persist never emitted")
        actions = self._after_persist.pop(persist_id, None)
        if not actions:
            return
        for action in actions:
            if isinstance(action, _AckAfterPersist):
                self._send(action.message)
            elif isinstance(action, _LocalAck):
                op = self._ops.get(action.op_id)
                if isinstance(op, _PutOp):
                    self._put_acked(action.op_id, op, self.node_id)
            else:
                self._lease_durable = max(self._lease_durable, action.counter_max)
                waiters, self._lease_waiters = self._lease_waiters, []
                for reply_to, request in waiters:
                    self._coordinate_put(reply_to, request, forwarded=True)

    def _on_receive(self, event: Receive) -> None:
        message = event.message
        self.health.on_message(message.src, self.now)
        handler = self._message_handlers.get(message.__class__)
        if handler is None:
            invariant(False, "unknown message")
        else:
            handler(message)

    def _on_write_ack(self, message: WriteAck) -> None:
        op = self._ops.get(message.op_id)
        if isinstance(op, _PutOp) and message.ok:
            self._put_acked(message.op_id, op, message.src)

    def _on_read(self, message: ReadRequest) -> None:
        held = self._read_local(message.key)
        self._send(ReadResponse(self.node_id, message.src, message.op_id, message.key, held))

    def _on_read_response(self, message: ReadResponse) -> None:
        op = self._ops.get(message.op_id)
        if isinstance(op, _GetOp) and message.src in op.targets:
            self._get_response(message.op_id, op, message.src, message.versions)

    def _on_read_repair(self, message: ReadRepair) -> None:
        self._write_local(message.key, message.versions)

    def _on_hint_replay(self, message: HintReplay) -> None:
        dots = tuple(v.dot for v in message.versions)
        ack = HintAck(self.node_id, message.src, message.hint_id, dots)
        self._write_local(message.key, message.versions, _AckAfterPersist(ack))

    def _on_transfer_batch(self, message: TransferBatch) -> None:
        # Partition handoff (Dynamo §4.8.1): merge, never overwrite; ack once durable.
        ack = TransferAck(self.node_id, message.src, message.transfer_id, message.batch_id)
        self._merge_many(message.items, _AckAfterPersist(ack))

    def _on_repair_push(self, message: RepairPush) -> None:
        # Anti-entropy repair (Dynamo §4.7): merge by vector clock, never overwrite.
        if message.items:
            self._merge_many(message.items)

    def _on_peer_up(self, event: PeerUp) -> None:
        # Hinted handoff (Dynamo §4.6): the owner is back, so offer its hints at once
        # rather than at the next replay period.
        if event.node_id in self._hints_by_owner:
            self._replay_hints()

    def _on_drop_keys(self, event: DropKeys) -> None:
        if event.keys:
            self._persist(tuple(StoreVersions(key, ()) for key in event.keys))
            for key in event.keys:
                self._step_writes[key] = ()

    def _on_forward(self, message: ForwardRequest) -> None:
        if len(self._ops) < self.config.requests_in_flight_max:
            reply_to = (message.src, message.op_id)
            self._coordinate_put(reply_to, message.request, forwarded=True)

    def _on_forward_response(self, message: ForwardResponse) -> None:
        op = self._ops.get(message.op_id)
        if isinstance(op, _ForwardOp):
            del self._ops[message.op_id]
            self._reply(op.reply_to, message.result)

    # -- choosing replicas (Dynamo §4.6) ------------------------------------------------

    def _targets(self, key: bytes) -> dict[str, str | None]:
        """The first N healthy nodes: owners, and substitutes holding hints for the rest."""
        extended = self.membership.extended_preference_list(key)
        n = self.config.n
        owners = extended[:n]
        me = self.node_id
        now = self.now
        healthy = self.health.is_healthy
        targets: dict[str, str | None] = {}
        if self.config.strict_quorum:
            for owner in owners:
                targets[owner] = None
            return targets
        down = [o for o in owners if o != me and not healthy(o, now)]
        for owner in owners:
            if owner == me or owner not in down:
                targets[owner] = None
        if down:
            substitutes = (s for s in extended[n:] if s == me or healthy(s, now))
            for owner in down:
                substitute = next(substitutes, None)
                if substitute is None:
                    targets[owner] = None  # nobody better: try the owner anyway
                else:
                    targets[substitute] = owner
        return targets

    def _substitute(
        self,
        targets: dict[str, str | None],
        answered: Container[str],
        replaced: set[str],
        key: bytes,
    ) -> list[tuple[str, str]]:
        """Replace every silent target by the next healthy untried node (sloppy quorum).

        A target already replaced is not replaced again: one substitute per owner.
        """
        now = self.now
        silent = [t for t in targets if t not in answered and t != self.node_id]
        for node in silent:
            self.health.on_timeout(node, now)
        silent = [t for t in silent if t not in replaced]
        if self.config.strict_quorum or not silent:
            return []
        n = self.config.n
        healthy = self.health.is_healthy
        fresh = (
            s
            for s in self.membership.extended_preference_list(key)[n:]
            if s not in targets and (s == self.node_id or healthy(s, now))
        )
        chosen: list[tuple[str, str]] = []
        for node in silent:
            owner = targets[node] or node
            substitute = next(fresh, None)
            if substitute is None:
                break
            targets[substitute] = owner
            replaced.add(node)
            chosen.append((substitute, owner))
            self.stats.substitutions += 1
        return chosen

    # -- get (Dynamo §4.5) --------------------------------------------------------------

    def _coordinate_get(self, reply_to: int | tuple[str, int], request: GetRequest) -> None:
        r = request.r or self.config.r
        if not 1 <= r <= self.config.n:
            self._reply(reply_to, GetResult(False, error=f"r must be in 1..{self.config.n}"))
            return
        self.stats.gets_coordinated += 1
        key = request.key
        targets = self._targets(key)
        op = _GetOp(reply_to, key, r, self.now + self.config.request_timeout_ticks, targets)
        op_id = self._new_op(op, self.now + self.config.replica_timeout_ticks)
        me = self.node_id
        for target in targets:
            if target != me:
                self._send(ReadRequest(me, target, op_id, key))
        if me in targets:
            self._get_response(op_id, op, me, self._read_local(key))

    def _get_response(
        self, op_id: int, op: _GetOp, node: str, versions: tuple[Version, ...]
    ) -> None:
        op.responses[node] = versions
        if not op.replied and self.seams.read_may_answer(
            op.responses, op.targets, r=op.r, strict=self.config.strict_quorum
        ):
            op.replied = True
            merged = reconcile(v for held in op.responses.values() for v in held)
            if len(merged) > 1:
                self.stats.siblings_returned += 1
            self._reply(op.reply_to, GetResult(True, merged, context_of(merged), len(op.responses)))
        if len(op.responses) == len(op.targets):
            self._finish_get(op_id, op)

    def _finish_get(self, op_id: int, op: _GetOp) -> None:
        del self._ops[op_id]
        if not op.replied:
            self._reply(
                op.reply_to,
                GetResult(False, replies=len(op.responses), error="timeout: fewer than r replies"),
            )
        if not self.config.read_repair or len(op.responses) < 2:
            return
        merged = reconcile(v for held in op.responses.values() for v in held)
        me = self.node_id
        for node, held in op.responses.items():
            if held != merged and op.targets[node] is None:
                self.stats.read_repairs += 1
                if node == me:
                    self._write_local(op.key, merged)
                else:
                    self._send(ReadRepair(me, node, op.key, merged))

    # -- put (Dynamo §4.5, §4.6) --------------------------------------------------------

    def _forward(
        self, reply_to: int | tuple[str, int], request: PutRequest, owners: tuple[str, ...]
    ) -> None:
        healthy = [o for o in owners if self.health.is_healthy(o, self.now)]
        candidates = tuple(healthy + [o for o in owners if o not in healthy])
        op = _ForwardOp(
            reply_to, request, candidates, 0, self.now + self.config.forward_timeout_ticks
        )
        op_id = self._new_op(op, op.deadline)
        self.stats.puts_forwarded += 1
        self._send(ForwardRequest(self.node_id, candidates[0], op_id, request))

    def _forward_timeout(self, op_id: int, op: _ForwardOp) -> None:
        self.health.on_timeout(op.candidates[op.attempt], self.now)
        op.attempt += 1
        if op.attempt >= len(op.candidates) or op.attempt >= 2:
            del self._ops[op_id]
            self._reply(
                op.reply_to, PutResult(False, error="timeout: no owner answered the forwarded put")
            )
            return
        op.deadline = self.now + self.config.forward_timeout_ticks
        self._timer(op.deadline, op_id)
        self._send(ForwardRequest(self.node_id, op.candidates[op.attempt], op_id, op.request))

    def _issue_counter(self, context: _vclock.Clock, held: tuple[Version, ...]) -> int | None:
        """A counter never issued before, or None until a larger lease is durable."""
        counter = self.seams.next_counter(
            self.node_id, issued=self._counter, context=context, held=held
        )
        if counter > self._lease_durable:
            if counter > self._lease_requested:
                self._request_lease(counter + self.config.counter_lease_block)
            return None
        self._counter = max(self._counter, counter)
        if self._lease_durable - self._counter < self.config.counter_lease_block // 2:
            self._request_lease(self._counter + self.config.counter_lease_block)
        return counter

    def _request_lease(self, counter_max: int) -> None:
        if counter_max <= self._lease_requested:
            return
        self._lease_requested = counter_max
        self.stats.leases_persisted += 1
        self._persist((StoreLease(counter_max),), _LeaseDurable(counter_max))

    def _coordinate_put(
        self, reply_to: int | tuple[str, int], request: PutRequest, *, forwarded: bool
    ) -> None:
        config = self.config
        w = request.w or config.w
        if not 1 <= w <= config.n:
            self._reply(reply_to, PutResult(False, error=f"w must be in 1..{config.n}"))
            return
        key = request.key
        me = self.node_id
        if not forwarded and me not in self.membership.preference_list(key):
            self._forward(reply_to, request, self.membership.preference_list(key))
            return
        held = self._read_stored(key)
        counter = self._issue_counter(request.context, held)
        if counter is None:
            if len(self._lease_waiters) >= config.lease_waiters_max:
                self._reply(reply_to, PutResult(False, error="overloaded: lease_waiters_max"))
            else:
                self._lease_waiters.append((reply_to, request))
            return
        self.stats.puts_coordinated += 1
        context = request.context
        if len(context) >= config.vector_clock_threshold:
            clock = _vclock.merge(context, ((me, counter),))
            if len(clock) > config.vector_clock_threshold:
                self.stats.truncations += 1
                kept = _vclock.truncate(clock, config.vector_clock_threshold, keep=me)
                context = tuple(pair for pair in kept if pair[0] != me) + tuple(
                    pair for pair in context if pair[0] == me
                )
                context = tuple(sorted(context))
        version = Version(request.value, (me, counter), context)
        targets = self._targets(key)
        targets[me] = None
        op = _PutOp(reply_to, key, version, w, self.now + config.request_timeout_ticks, targets)
        op_id = self._new_op(op, self.now + config.replica_timeout_ticks)
        merged = self.seams.merge_versions(held, (version,))
        invariant(len(merged) <= config.versions_per_key_max, "versions_per_key_max exceeded")
        self._store(key, merged, _LocalAck(op_id))
        # Ship every sibling we hold, not only the new version (as Riak does): a
        # replica that holds our dot c then also holds every earlier dot of ours
        # for this key, or a version that saw it. Without that, a get that meets
        # only the new version returns a context whose entry (me, c) claims our
        # concurrent sibling with a smaller counter was seen, and the next put
        # would silently supersede it.
        op.versions = merged
        for target, owner in targets.items():
            if target != me:
                self._send(WriteRequest(me, target, op_id, key, merged, owner))
        # The rule is asked whenever the acks change, and first now, with none yet
        # (the project's own rule waits for the coordinator's durable write).
        if self.seams.write_may_answer(
            op.acked, targets, w=w, coordinator=me, strict=config.strict_quorum
        ):
            op.replied = True
            self._reply(reply_to, PutResult(True, version, 0))

    def _put_acked(self, op_id: int, op: _PutOp, node: str) -> None:
        op.acked.add(node)
        # The coordinator's own durable write is one of the W (Dynamo §4.5: "writes
        # the new version locally ... if at least W-1 nodes respond"). Requiring
        # it keeps every acknowledged dot in its coordinator's store, which the
        # sibling shipping above relies on.
        if not op.replied and self.seams.write_may_answer(
            op.acked, op.targets, w=op.w, coordinator=self.node_id, strict=self.config.strict_quorum
        ):
            invariant(node in op.targets, "ack from a node the put was not sent to")
            op.replied = True
            self._reply(op.reply_to, PutResult(True, op.version, len(op.acked)))
        if len(op.acked) == len(op.targets):
            del self._ops[op_id]

    def _op_timeout(self, op_id: int, op: _GetOp | _PutOp) -> None:
        now = self.now
        # Once answered, a request waits one replica timeout for stragglers (Dynamo
        # §5: the coordinator "waits for a small period of time to receive any
        # outstanding responses") and finishes; an answered put first replaces its
        # silent replicas, so that N copies exist, some as hints.
        if now >= op.deadline or (op.replied and isinstance(op, _GetOp)):
            if isinstance(op, _GetOp):
                self._finish_get(op_id, op)
            else:
                del self._ops[op_id]
                if not op.replied:
                    error = "timeout: fewer than w acks"
                    self._reply(op.reply_to, PutResult(False, op.version, len(op.acked), error))
            return
        me = self.node_id
        if isinstance(op, _GetOp):
            for substitute, _owner in self._substitute(
                op.targets, op.responses, op.replaced, op.key
            ):
                if substitute == me:
                    self._get_response(op_id, op, me, self._read_local(op.key))
                else:
                    self._send(ReadRequest(me, substitute, op_id, op.key))
            if op_id not in self._ops:
                return
        else:
            versions = op.versions
            for substitute, owner in self._substitute(op.targets, op.acked, op.replaced, op.key):
                self._send(WriteRequest(me, substitute, op_id, op.key, versions, owner))
        if op.replied:
            del self._ops[op_id]
            return
        self._timer(min(now + self.config.replica_timeout_ticks, op.deadline), op_id)

    # -- replica side -------------------------------------------------------------------

    def _on_write(self, message: WriteRequest) -> None:
        me = self.node_id
        ack = WriteAck(me, message.src, message.op_id, message.key)
        owner = message.hinted_for
        if owner is None or owner == me:
            self._write_local(message.key, message.versions, _AckAfterPersist(ack))
            return
        config = self.config
        hint = self.seams.hint_to_store(
            owner,
            message.key,
            message.versions,
            hint_id=self._hint_seq + 1,
            hints_count=len(self._hints),
            hints_bytes=self._hints_bytes,
            count_max=config.hints_count_max,
            bytes_max=config.hints_bytes_max,
        )
        if hint is None:
            self.stats.hints_refused += 1
            self._send(WriteAck(me, message.src, message.op_id, message.key, ok=False))
            return
        self._hint_seq += 1
        self._add_hint(hint)
        self.stats.hints_stored += 1
        self._persist((StoreHint(hint),), _AckAfterPersist(ack))
        self._schedule_replay()

    def _add_hint(self, hint: Hint) -> None:
        self._hints[hint.hint_id] = hint
        self._hints_by_owner.setdefault(hint.owner, {})[hint.hint_id] = None
        self._hints_by_key.setdefault(hint.key, {})[hint.hint_id] = None
        self._hints_bytes += hint.size_bytes
        invariant(len(self._hints) <= self.config.hints_count_max, "hints_count_max exceeded")
        invariant(self._hints_bytes <= self.config.hints_bytes_max, "hints_bytes_max exceeded")

    def _drop_hint(self, hint: Hint) -> None:
        del self._hints[hint.hint_id]
        by_owner = self._hints_by_owner[hint.owner]
        del by_owner[hint.hint_id]
        if not by_owner:
            del self._hints_by_owner[hint.owner]
        by_key = self._hints_by_key[hint.key]
        del by_key[hint.hint_id]
        if not by_key:
            del self._hints_by_key[hint.key]
        self._hints_bytes -= hint.size_bytes
        self._hint_sent_at.pop(hint.hint_id, None)
        self._persist((DeleteHint(hint.hint_id),))

    def _schedule_replay(self) -> None:
        if not self._replay_scheduled:
            self._replay_scheduled = True
            self._timer(self.now + self.config.hint_replay_interval_ticks, _HINT_REPLAY)

    def _replay_hints(self) -> None:
        """Hinted handoff: offer hints to owners believed up, a bounded batch at a time."""
        now = self.now
        config = self.config
        budget = config.hint_replay_batch_max
        me = self.node_id
        for owner, ids in list(self._hints_by_owner.items()):
            if budget <= 0:
                break
            if not self.health.is_healthy(owner, now):
                continue
            for hint_id in list(ids):
                if budget <= 0:
                    break
                sent_at = self._hint_sent_at.get(hint_id)
                if sent_at is not None and now - sent_at < config.hint_retry_ticks:
                    continue  # in flight; unanswered replays go again after the retry time
                hint = self._hints[hint_id]
                budget -= 1
                self._hint_sent_at[hint_id] = now
                self._send(HintReplay(me, owner, hint_id, hint.key, hint.versions))
                # Asked now with nothing acknowledged (the project's rule keeps the hint).
                if self.seams.hint_may_be_deleted(tuple(v.dot for v in hint.versions), ()):
                    self._drop_hint(hint)
        if self._hints:
            self._schedule_replay()

    def _on_hint_ack(self, message: HintAck) -> None:
        hint = self._hints.get(message.hint_id)
        if hint is None:
            return
        if self.seams.hint_may_be_deleted(tuple(v.dot for v in hint.versions), message.dots):
            self.stats.hints_replayed += 1
            self._drop_hint(hint)


def _failure(request: GetRequest | PutRequest, error: str) -> Result:
    if isinstance(request, GetRequest):
        return GetResult(False, error=error)
    return PutResult(False, error=error)
