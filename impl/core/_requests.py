"""The request path (Dynamo §4.5, §4.6): how a node coordinates gets and puts, and replicates.

Reading order: :meth:`RequestPath.on_client` takes a client request;
:meth:`~RequestPath._coordinate_get` and :meth:`~RequestPath._coordinate_put` are the
coordinator; the ``on_*`` methods below them are the replica's side; the last section is
how replicas are chosen. Hinted handoff's store lives in :mod:`~dynamokv.impl.core._handoff`.

*Choosing replicas* (Dynamo §4.6). A request goes to "the first N healthy nodes" of the
key's *extended* preference list: the N owners, except that an owner the health view
suspects is replaced by the next healthy node after them, which keeps the write as a
*hint* naming the owner (sloppy quorum). With ``strict_quorum`` only the owners are used.

*Get* (Dynamo §4.5). Any node may coordinate one: it asks the chosen nodes, answers once
the read rule (:func:`~dynamokv.impl.core._quorum.read_may_answer`, R replies) allows with
every concurrent version and their merged context, keeps listening until every asked node
has answered or the request times out, and then sends the merged versions to every owner
that answered with less (*read repair*).

*Put* (Dynamo §4.5). "Only a node on the key's preference list coordinates a put": any
other node forwards it to an owner, so vector clocks hold at most about N entries. The
coordinator issues a new dot (:func:`~dynamokv.impl.core._versions.next_counter`), merges
the new version into what it holds, sends that to the other chosen nodes, and answers
once the write rule (:func:`~dynamokv.impl.core._quorum.write_may_answer`) allows: W
*durable* acknowledgements, its own among them. A replica that does not answer within
``replica_timeout_ticks`` is suspected and, unless the quorum is strict, replaced by the
next healthy node, which keeps the version as a hint.

*Replicas* merge what they receive into what they hold (syntactic reconciliation,
:mod:`~dynamokv.impl.core._versions`), never overwrite, and acknowledge only after the
merge is durable.

*Dots are never issued twice.* The node keeps one node-wide counter and a durable
*lease*: before issuing any counter above the lease it persists a larger lease
(``counter_lease_block`` more) and waits for it to be durable; a restarted node resumes
above the durable lease, so counters issued in a lost, unsynced past are skipped, not
reissued. We chose the lease over a fresh actor id per incarnation because actor ids
would add one clock entry per restart and defeat "only owners coordinate, so clocks stay
short"; the price is one extra fsync per ``counter_lease_block`` puts.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from dynamokv.spec.errors import invariant

from . import _vclock
from ._count import Count
from ._handoff import HintStore
from ._health import HealthView
from ._messages import (
    ForwardRequest,
    ForwardResponse,
    GetRequest,
    GetResult,
    Hint,
    HintAck,
    HintReplay,
    PutRequest,
    PutResult,
    ReadRepair,
    ReadRequest,
    ReadResponse,
    RepairPush,
    Result,
    StoreLease,
    TransferAck,
    TransferBatch,
    WriteAck,
    WriteRequest,
)
from ._node_config import NodeConfig, NodeStats
from ._outbox import AckWhenDurable, AfterPersist, LeaseDurable, LocalWriteDurable, Outbox
from ._ring import MembershipView
from ._seams import Seams
from ._versions import Version, context_of, reconcile, stored_bytes

if TYPE_CHECKING:
    import random

__all__ = ["NodeStorage", "RequestPath"]

_FORWARD_OWNERS_TRIED = 2
"""Owners a forwarded put is sent to in turn, each given ``forward_timeout_ticks``."""

ReplyTo = int | tuple[str, int]
"""A client request id, or ``(node, op id)`` of the node that forwarded the put."""


class NodeStorage(Protocol):
    """How the request path reads and writes the node's own data (see ``_storage``)."""

    def read(self, key: bytes) -> tuple[Version, ...]:
        """What the node stores for ``key``, writes of the current step included."""
        ...

    def write(self, key: bytes, versions: tuple[Version, ...], *after: AfterPersist) -> None:
        """Store ``versions`` for ``key``; ``after`` waits until durable."""
        ...

    def write_many(
        self, items: Sequence[tuple[bytes, tuple[Version, ...]]], *after: AfterPersist
    ) -> None:
        """Store several keys' version sets in one persist."""
        ...


@dataclass(slots=True)
class _GetOp:
    reply_to: ReplyTo
    key: bytes
    r: int
    deadline: int
    targets: dict[str, str | None]
    responses: dict[str, tuple[Version, ...]] = field(default_factory=dict)
    replaced: set[str] = field(default_factory=set)
    replied: bool = False


@dataclass(slots=True)
class _PutOp:
    reply_to: ReplyTo
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
    reply_to: ReplyTo
    request: PutRequest
    candidates: tuple[str, ...]  # the owner asked now first, then those left to try
    deadline: int


_Op = _GetOp | _PutOp | _ForwardOp


class RequestPath:
    """A node's coordinator and replica: gets, puts, forwards, read repair, hints.

    Args:
        node_id: this node's name on the ring.
        config: knobs and bounds.
        stats: where to count what it does.
        seams: the replaceable rules (quorums, dot counters, hint deletion).
        membership: the ring (:class:`~dynamokv.impl.core.PartitionRing`); the node
            replaces it when it adopts a new one.
        health: who is believed up.
        store: the node's own storage (reads see this step's writes).
        out: where the effects go.
        hints: the hints that survived in storage.
        lease: the counter lease that survived in storage.
        random: the only source of randomness.
    """

    now: int
    """The current tick: the node sets it right after making the request path, and again
    before every step."""

    def __init__(
        self,
        node_id: str,
        *,
        config: NodeConfig,
        stats: NodeStats,
        seams: Seams,
        membership: MembershipView,
        health: HealthView,
        store: NodeStorage,
        out: Outbox,
        hints: Iterable[Hint],
        lease: int,
        random: random.Random,
    ) -> None:
        self.node_id = node_id
        self.config = config
        self.stats = stats
        self.seams = seams
        self.membership = membership
        self.health = health
        self.store = store
        self.out = out
        self._lease_durable = lease
        self._lease_requested = lease
        self._counter = lease
        self._lease_waiters: list[tuple[ReplyTo, PutRequest]] = []
        self.hints = HintStore(
            node_id,
            config=config,
            stats=stats,
            may_delete=seams.hint_may_be_deleted,
            to_store=seams.hint_to_store,
            health=health,
            out=out,
            stored=hints,
            schedule=self._schedule_hint_replay,
        )
        # Op ids travel in messages and must not collide with a previous
        # incarnation's, whose replies may still be in flight.
        self._op_ids = Count(random.getrandbits(40) << 20)
        # The periodic hint replay's timer entry: an id no op has, and taken first, so it
        # sorts before the ops due at the same tick.
        self._hint_replay = next(self._op_ids)
        self._ops: dict[int, _Op] = {}
        self._timers: list[tuple[int, int]] = []
        # Whether a copy another node sends is a late copy of tombstones this node reaped
        # (:meth:`~dynamokv.impl.core._reaping.TombstoneReaper.is_stale_copy`).
        self.is_stale_copy: (
            Callable[[bytes, tuple[Version, ...], tuple[Version, ...]], bool] | None
        ) = None

    # -- what the node asks ------------------------------------------------------------------

    def boot(self) -> None:
        """The first step: lease counters ahead, and replay surviving hints in due time."""
        self._request_lease(self._counter + self.config.counter_lease_block)
        if self.hints.hints:
            self.hints.schedule_replay(self.now)

    def next_deadline(self) -> int | None:
        """When the earliest pending request times out (or hints are due), if ever.

        The timers of requests that already finished are dropped here, so they wake nobody.
        """
        timers = self._timers
        ops = self._ops
        while timers and timers[0][1] != self._hint_replay and timers[0][1] not in ops:
            heapq.heappop(timers)
        return timers[0][0] if timers else None

    @property
    def requests_in_flight(self) -> int:
        """Coordinated and forwarded requests not yet finished."""
        return len(self._ops)

    def on_tick(self) -> None:
        """Time passed: run every request timeout and hint replay that is due."""
        now = self.now
        timers = self._timers
        while timers and timers[0][0] <= now:
            _, op_id = heapq.heappop(timers)
            if op_id == self._hint_replay:
                self.hints.on_replay_tick(now)
                continue
            op = self._ops.get(op_id)
            if op is None:
                continue
            if isinstance(op, _ForwardOp):
                self._forward_timeout(op_id, op)
            else:
                self._op_timeout(op_id, op)

    def on_local_write_durable(self, op_id: int) -> None:
        """The coordinator's own write for put ``op_id`` is durable: one of the W."""
        op = self._ops.get(op_id)
        if isinstance(op, _PutOp):
            self._put_acked(op_id, op, self.node_id)

    def on_lease_durable(self, counter_max: int) -> None:
        """Counters up to ``counter_max`` may be issued: release the puts that waited."""
        self._lease_durable = max(self._lease_durable, counter_max)
        waiters, self._lease_waiters = self._lease_waiters, []
        for reply_to, request in waiters:
            self._coordinate_put(reply_to, request, forwarded=True)

    # -- plumbing ----------------------------------------------------------------------------

    def _schedule_hint_replay(self, at: int) -> None:
        heapq.heappush(self._timers, (at, self._hint_replay))

    def _timer(self, at: int, op_id: int) -> None:
        heapq.heappush(self._timers, (at, op_id))

    def _new_op(self, op: _Op, at: int) -> int:
        op_id = next(self._op_ids)
        self._ops[op_id] = op
        self._timer(at, op_id)
        return op_id

    def _reply(self, reply_to: ReplyTo, result: Result) -> None:
        if isinstance(reply_to, int):
            self.out.reply(reply_to, result)
        else:
            invariant(isinstance(result, PutResult), "only puts are forwarded")
            if isinstance(result, PutResult):
                src, op_id = reply_to
                self.out.send(ForwardResponse(self.node_id, src, op_id, result))

    @property
    def issued(self) -> int:
        """The largest counter this node has issued (or leased, since its start)."""
        return self._counter

    def answers_so_far(self, op_id: int) -> Iterable[tuple[Version, ...]] | None:
        """The versions the replicas have answered get ``op_id`` with, or None if no get
        of that id is in flight."""
        op = self._ops.get(op_id)
        return op.responses.values() if isinstance(op, _GetOp) else None

    def versions_held(self, key: bytes) -> Iterable[Version]:
        """Every version of ``key`` this node holds, owned and hinted, as stored (hinted
        ones are not reconciled with the owned ones until a read)."""
        hinted = self.hints.versions_for(key)
        held = self.store.read(key)
        return (*held, *hinted) if hinted else held

    def read_local(self, key: bytes) -> tuple[Version, ...]:
        """Owned versions plus hinted ones: what this node answers a read with."""
        held = self.store.read(key)
        hinted = self.hints.versions_for(key)
        if hinted:
            return reconcile([*held, *hinted])
        return held

    def _write_local(self, key: bytes, incoming: tuple[Version, ...], *after: AfterPersist) -> bool:
        """Merge a copy another node sent (a replica write, a repair, a replayed hint).

        Returns False, writing nothing, if the merge would pass ``version_set_bytes_max``.
        """
        held = self.store.read(key)
        is_stale_copy = self.is_stale_copy
        if is_stale_copy is not None and is_stale_copy(key, held, incoming):
            incoming = ()
        merged = self.seams.merge_versions(held, incoming)
        if self._too_large(merged):
            return False
        self.store.write(key, merged, *after)
        return True

    def _too_large(self, merged: tuple[Version, ...]) -> bool:
        """Whether a replica must refuse ``merged``: more bytes than a key may hold."""
        if stored_bytes(merged) <= self.config.version_set_bytes_max:
            return False
        self.stats.merges_refused += 1
        return True

    def merge_many(
        self, items: Sequence[tuple[bytes, tuple[Version, ...]]], *after: AfterPersist
    ) -> tuple[dict[bytes, tuple[Version, ...]], int]:
        """Merge several keys' incoming versions in one persist (one group commit).

        A key whose merge would pass ``version_set_bytes_max`` keeps what it holds, and
        then ``after`` is dropped: whoever waits for an acknowledgement of all the keys
        (a transfer batch) does not get one, and sends them again.

        Returns each key's merged versions, and how many keys the merge changed.
        """
        store = self.store
        merge = self.seams.merge_versions
        is_stale_copy = self.is_stale_copy
        merged_items: dict[bytes, tuple[Version, ...]] = {}
        changed = 0
        refused = False
        for key, incoming in items:
            held = merged_items.get(key)
            if held is None:
                held = store.read(key)
            if is_stale_copy is not None and is_stale_copy(key, held, incoming):
                incoming = ()
            merged = merge(held, incoming)
            if merged != held:
                if self._too_large(merged):
                    refused = True
                    merged = held
                else:
                    changed += 1
            merged_items[key] = merged
        store.write_many(tuple(merged_items.items()), *(() if refused else after))
        return merged_items, changed

    # -- the client's request ----------------------------------------------------------------

    def on_client(self, request_id: int, request: GetRequest | PutRequest) -> None:
        """A client request reached this node: coordinate it (or forward a put)."""
        if len(self._ops) >= self.config.requests_in_flight_max:
            self._reply(request_id, _failure(request, "overloaded: requests_in_flight_max"))
            return
        if isinstance(request, GetRequest):
            self._coordinate_get(request_id, request)
        else:
            self._coordinate_put(request_id, request, forwarded=False)

    # -- get (Dynamo §4.5) -------------------------------------------------------------------

    def _coordinate_get(self, reply_to: ReplyTo, request: GetRequest) -> None:
        r = request.r or self.config.r
        if not 1 <= r <= self.config.n:
            self._reply(reply_to, GetResult(False, error=f"r must be in 1..{self.config.n}"))
            return
        self.stats.gets_coordinated += 1
        key = request.key
        targets = self._targets(key)
        if not request.r:
            # The default quorum is capped at the ring's N (fewer nodes than N: each holds
            # every key), as N is: a cluster that leaves fall below R still answers.
            r = min(r, len(targets))
        op = _GetOp(reply_to, key, r, self.now + self.config.request_timeout_ticks, targets)
        op_id = self._new_op(op, self.now + self.config.replica_timeout_ticks)
        me = self.node_id
        for target in targets:
            if target != me:
                self.out.send(ReadRequest(me, target, op_id, key))
        if me in targets:
            self._get_response(op_id, op, me, self.read_local(key))

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
        if not self.config.read_repair:
            return
        # Read repair: every owner that answered with less gets the merge.
        merged = reconcile(v for held in op.responses.values() for v in held)
        me = self.node_id
        for node, held in op.responses.items():
            if held != merged and op.targets[node] is None:
                self.stats.read_repairs += 1
                if node == me:
                    self._write_local(op.key, merged)
                else:
                    self.out.send(ReadRepair(me, node, op.key, merged))

    # -- put (Dynamo §4.5, §4.6) -------------------------------------------------------------

    def _coordinate_put(self, reply_to: ReplyTo, request: PutRequest, *, forwarded: bool) -> None:
        config = self.config
        w = request.w or config.w
        if not 1 <= w <= config.n:
            self._reply(reply_to, PutResult(False, error=f"w must be in 1..{config.n}"))
            return
        key = request.key
        me = self.node_id
        owners = self.membership.preference_list(key)
        if not request.w:
            w = min(w, len(owners))  # capped at the ring's N, as the get's R
        if me not in owners:
            if not forwarded:
                self._forward(reply_to, request, owners)
                return
            # Only an owner coordinates (Dynamo §4.5). A put forwarded here by a node whose
            # ring still names this one, or released from the lease wait after a ring
            # change, is refused: coordinated, this node's own write would count as one of
            # the W while it is no replica of the key, and forwarded again the put could
            # bounce between nodes whose rings disagree. The client retries; by then the
            # rings agree.
            self._reply(
                reply_to,
                PutResult(False, error="unavailable: this node is no owner of the key now"),
            )
            return
        held = self.store.read(key)
        counter = self._issue_counter(request.context, held)
        if counter is None:
            if len(self._lease_waiters) >= config.lease_waiters_max:
                self._reply(reply_to, PutResult(False, error="overloaded: lease_waiters_max"))
            else:
                self._lease_waiters.append((reply_to, request))
            return
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
        merged = self.seams.merge_versions(held, (version,))
        if len(merged) > config.versions_per_key_max:
            # Each put that names none of a key's siblings adds one more: past the bound
            # the coordinator refuses, as an operating error the client can act on (read
            # the siblings and write back with their context). Only owners coordinate, so
            # a replica merging what N coordinators sent holds at most N times the bound,
            # and merges everything it is sent: refusing there would keep replicas apart.
            self._reply(
                reply_to,
                PutResult(
                    False,
                    error=f"too many siblings: the key holds {len(held)} (versions_per_key_max); "
                    "read it and write back with its context to merge them",
                ),
            )
            return
        size_max = config.version_set_bytes_max // config.n
        size = stored_bytes(merged)
        if size > size_max and (len(merged) > 1 or size > config.version_set_bytes_max):
            # Every replica must hold what the n owners may accept at once, within
            # version_set_bytes_max (the store's largest record): each coordinator keeps
            # a key's siblings to its share. A put that supersedes every sibling leaves
            # one version, which may take the whole bound.
            self._reply(
                reply_to,
                PutResult(
                    False,
                    error=f"too large: the key's versions would take {size} bytes, over "
                    f"{size_max} (version_set_bytes_max / n); read it and write back with "
                    "its context to merge its siblings",
                ),
            )
            return
        self.stats.puts_coordinated += 1
        targets = self._targets(key)
        targets[me] = None
        op = _PutOp(reply_to, key, version, w, self.now + config.request_timeout_ticks, targets)
        op_id = self._new_op(op, self.now + config.replica_timeout_ticks)
        self.store.write(key, merged, LocalWriteDurable(op_id))
        versions = _to_ship(merged, version)
        op.versions = versions
        for target, owner in targets.items():
            if target != me:
                self.out.send(WriteRequest(me, target, op_id, key, versions, owner))
        # The rule is asked whenever the acks change, and first now, with none yet
        # (the project's own rule waits for the coordinator's durable write).
        if self.seams.write_may_answer(
            op.acked, targets, w=w, coordinator=me, strict=config.strict_quorum
        ):
            op.replied = True
            self._reply(reply_to, PutResult(True, version, 0))

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
        # Renewed against the lease asked for, not the durable one: while a renewal is on
        # its way to disk, the puts issued under the durable lease ask for nothing more.
        if self._lease_requested - self._counter < self.config.counter_lease_block // 2:
            self._request_lease(self._counter + self.config.counter_lease_block)
        return counter

    def _request_lease(self, counter_max: int) -> None:
        """Persist a lease up to ``counter_max``, above every lease asked for so far."""
        self._lease_requested = counter_max
        self.stats.leases_persisted += 1
        self.out.persist((StoreLease(counter_max),), LeaseDurable(counter_max))

    def _put_acked(self, op_id: int, op: _PutOp, node: str) -> None:
        op.acked.add(node)
        # The coordinator's own durable write is one of the W (Dynamo §4.5: "writes the
        # new version locally ... if at least W-1 nodes respond"). Requiring it keeps every
        # acknowledged dot in its coordinator's store, which the sibling shipping relies on.
        if not op.replied and self.seams.write_may_answer(
            op.acked, op.targets, w=op.w, coordinator=self.node_id, strict=self.config.strict_quorum
        ):
            invariant(node in op.targets, "ack from a node the put was not sent to")
            op.replied = True
            self._reply(op.reply_to, PutResult(True, op.version, len(op.acked)))
        if len(op.acked) == len(op.targets):
            del self._ops[op_id]
            if not op.replied:  # every target acked and still short of W: no more will
                error = f"w={op.w} is more than the {len(op.targets)} replica(s) the key has now"
                self._reply(op.reply_to, PutResult(False, op.version, len(op.acked), error))

    def _forward(self, reply_to: ReplyTo, request: PutRequest, owners: tuple[str, ...]) -> None:
        healthy = [o for o in owners if self.health.is_healthy(o, self.now)]
        candidates = tuple(healthy + [o for o in owners if o not in healthy])
        candidates = candidates[:_FORWARD_OWNERS_TRIED]
        op = _ForwardOp(reply_to, request, candidates, self.now + self.config.forward_timeout_ticks)
        op_id = self._new_op(op, op.deadline)
        self.stats.puts_forwarded += 1
        self.out.send(ForwardRequest(self.node_id, candidates[0], op_id, request))

    def _forward_timeout(self, op_id: int, op: _ForwardOp) -> None:
        self.health.on_timeout(op.candidates[0], self.now)
        op.candidates = op.candidates[1:]
        if not op.candidates:
            del self._ops[op_id]
            self._reply(
                op.reply_to, PutResult(False, error="timeout: no owner answered the forwarded put")
            )
            return
        op.deadline = self.now + self.config.forward_timeout_ticks
        self._timer(op.deadline, op_id)
        self.out.send(ForwardRequest(self.node_id, op.candidates[0], op_id, op.request))

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
                    self._get_response(op_id, op, me, self.read_local(op.key))
                else:
                    self.out.send(ReadRequest(me, substitute, op_id, op.key))
            if op_id not in self._ops:
                return
        else:
            versions = op.versions
            for substitute, owner in self._substitute(op.targets, op.acked, op.replaced, op.key):
                self.out.send(WriteRequest(me, substitute, op_id, op.key, versions, owner))
        if op.replied:
            del self._ops[op_id]
            return
        self._timer(min(now + self.config.replica_timeout_ticks, op.deadline), op_id)

    # -- the replica's side ------------------------------------------------------------------

    def on_write(self, message: WriteRequest) -> None:
        """Merge the versions (or keep them as a hint for their owner); ack once durable."""
        owner = message.hinted_for
        if owner is None or owner == self.node_id:
            ack = WriteAck(self.node_id, message.src, message.op_id, message.key)
            if not self._write_local(message.key, message.versions, AckWhenDurable(ack)):
                refusal = WriteAck(self.node_id, message.src, message.op_id, message.key, ok=False)
                self.out.send(refusal)
            return
        self.hints.keep(message, self.now)

    def on_write_ack(self, message: WriteAck) -> None:
        """A replica holds the put durably (or refused it: a full hint store, or a key
        whose versions would pass ``version_set_bytes_max``)."""
        op = self._ops.get(message.op_id)
        if isinstance(op, _PutOp) and message.ok:
            self._put_acked(message.op_id, op, message.src)

    def on_read(self, message: ReadRequest) -> None:
        """Answer with what this node holds for the key, hinted versions included."""
        held = self.read_local(message.key)
        self.out.send(ReadResponse(self.node_id, message.src, message.op_id, message.key, held))

    def on_read_response(self, message: ReadResponse) -> None:
        """A replica's versions for a get this node coordinates."""
        op = self._ops.get(message.op_id)
        if isinstance(op, _GetOp) and message.src in op.targets:
            self._get_response(message.op_id, op, message.src, message.versions)

    def on_read_repair(self, message: ReadRepair) -> None:
        """A coordinator saw this node answer with less: merge (no ack)."""
        self._write_local(message.key, message.versions)

    def on_hint_replay(self, message: HintReplay) -> None:
        """A substitute hands back a write kept for this node: merge, ack once durable
        (a merge refused for its size is not acknowledged: the substitute keeps the hint)."""
        dots = tuple(v.dot for v in message.versions)
        ack = HintAck(self.node_id, message.src, message.hint_id, dots)
        self._write_local(message.key, message.versions, AckWhenDurable(ack))

    def on_hint_ack(self, message: HintAck) -> None:
        """An owner holds a replayed hint durably."""
        self.hints.on_ack(message)

    def on_transfer_batch(self, message: TransferBatch) -> None:
        """Partition handoff (Dynamo §4.8.1): merge, never overwrite; ack once durable.

        A key whose sent versions this node's copy supersedes (a delete the former owner
        never saw, say) goes back to the sender as a read repair, sent before the ack: a
        former owner that keeps the key until every new owner has it then keeps the
        tombstone, not the deleted value, so once the tombstone is reaped a handoff
        finished later cannot bring the value back.
        """
        ack = TransferAck(self.node_id, message.src, message.transfer_id, message.batch_id)
        merged_items, _changed = self.merge_many(message.items, AckWhenDurable(ack))
        me = self.node_id
        for key, incoming in message.items:
            merged = merged_items[key]
            # Nothing held (a late copy of what this node reaped, merged into nothing):
            # nothing to tell; the sender drops the key once every new owner acks.
            if merged and any(version not in merged for version in incoming):
                self.out.send(ReadRepair(me, message.src, key, merged))

    def on_repair_push(self, message: RepairPush) -> int:
        """Anti-entropy repair (Dynamo §4.7): merge by vector clock, never overwrite.

        Returns how many keys the repair changed.
        """
        if not message.items:
            return 0
        return self.merge_many(message.items)[1]

    def on_forward(self, message: ForwardRequest) -> None:
        """A node outside the preference list hands this owner a put to coordinate."""
        if len(self._ops) < self.config.requests_in_flight_max:
            reply_to = (message.src, message.op_id)
            self._coordinate_put(reply_to, message.request, forwarded=True)

    def on_forward_response(self, message: ForwardResponse) -> None:
        """The owner's result for a put this node forwarded: pass it to the client."""
        op = self._ops.get(message.op_id)
        if isinstance(op, _ForwardOp):
            del self._ops[message.op_id]
            self._reply(op.reply_to, message.result)

    # -- choosing replicas (Dynamo §4.6) -----------------------------------------------------

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


def _to_ship(merged: tuple[Version, ...], version: Version) -> tuple[Version, ...]:
    """What a put sends its replicas: the new version and the held siblings it must carry.

    The rule to keep: a replica that holds our dot ``(me, c)`` also holds every earlier
    dot of ours for this key, or a version that saw it. Without that, a get that meets
    only the new version returns a context whose entry ``(me, c)`` claims that our
    concurrent sibling with a smaller counter was seen, and the next put with that
    context would silently supersede it.

    Shipping every sibling we hold keeps it (as Riak does), but the rule is about our
    own dots only, so this ships less. ``merged`` is what we now hold: our own durable
    write is one of the W of every acknowledged put, so each earlier dot ``d`` of ours
    is in ``merged``, or superseded by a version in it (a version whose context covers
    ``d``). Take such a ``d`` that the new version has not seen (``d`` above its
    context's entry for us). If ``d`` is held, its version has our dot and is shipped.
    If a version of ours supersedes it, that one is shipped. If only another node's
    version supersedes it, that version's context names us above the new version's
    context, and then everything held is shipped. Other nodes' dots are not shipped,
    so a replica's versions of theirs change only by being superseded, as before, and
    the same rule for their dots holds at the replica as it did. The version of ours
    superseded by the new one need not travel: the new version saw it.

    Under concurrent updates of a hot key the siblings come from all its owners, so
    this sends about a third of them (see the benchmarks page, the cluster section).
    """
    me = version.dot[0]
    seen = 0
    for node, counter in version.context:
        if node == me:
            seen = counter
            break
    shipped: list[Version] = []
    for held in merged:
        if held.dot[0] == me:
            shipped.append(held)
            continue
        for node, counter in held.context:
            if node == me:
                if counter > seen:
                    return merged
                break
    if len(shipped) == len(merged):
        return merged
    return tuple(shipped)


def _failure(request: GetRequest | PutRequest, error: str) -> Result:
    if isinstance(request, GetRequest):
        return GetResult(False, error=error)
    return PutResult(False, error=error)
