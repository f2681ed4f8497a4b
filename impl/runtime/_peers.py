"""Node-to-node connections: one outbound connection per peer, and an inbound listener.

Dynamo's nodes exchange small messages (replica writes and reads, their acknowledgements,
gossip, hints, Merkle exchanges) and tolerate losing any of them: the coordinator times out
and tries another replica, gossip repeats, anti-entropy repairs what was missed (Dynamo §4.5,
§4.7). The pool is built on that tolerance. It never blocks the caller and never retries a
message: :meth:`PeerPool.send` frames the message and puts it in the peer's bounded queue
(:data:`PEER_QUEUE_FRAMES_MAX`); when the queue is full the message is dropped and counted.
A sender task per peer drains the queue into the peer's connection, many frames per write.

The fast path skips the queue and the task. While a peer's plain TCP connection is open and
its sender task is idle (nothing queued, nothing half-written), a frame is written straight
to the socket with one non-blocking ``send``; only what the kernel does not take at once
(a full socket buffer) goes to the queue, and the task finishes it before anything newer.
A node also *holds* the frames of one core step (``send(..., flush=False)``) and writes them
with :meth:`PeerPool.flush` when the step is done: one ``send`` per peer per step, however
many acknowledgements the step produced. On this machine a queued frame cost a task switch,
a channel hand-off, a cancel scope with a deadline and trio's ``send_all`` (~40 µs in all,
measured with cProfile), a direct one a single system call.

Connections go one way. A node sends on the connection it opened and receives on the
connections its peers opened to it; a peer never writes on an inbound connection. That keeps
each connection's state trivial (no request matching, no half-duplex races), and it makes
an unexpected byte from an outbound connection's peer, or its end-of-stream, a clear sign
that the connection is dead: a watcher task reads it just for that, so a restarted peer is
noticed at once, not on the next write.

Outbound connections open lazily, when the first message for the peer is queued. A failed
connect is retried after a delay that doubles from ``reconnect_delay_seconds_min`` up to
``reconnect_delay_seconds_max``, multiplied by a factor drawn uniformly from [0.5, 1) from
the injected :class:`random.Random` ("equal jitter"), so that nodes restarted together do not
reconnect in lockstep, and a test can replay the exact delays. Frames queued while a peer is
down wait (up to the bound); frames written to a connection that then breaks may be lost
and are counted as such.

Inbound, each connection gets a :class:`~dynamokv.impl.runtime.FrameDecoder`; every decoded
message is handed to the node's callback with an :class:`InboundPeer` naming the remote
address and, under mutual TLS, the node name from the peer's verified certificate. A
malformed frame, or a TLS handshake that fails (no certificate, or one from another CA),
closes that connection only, with one log line and a counter. One receive may carry
hundreds of frames (64 KiB of acknowledgements); once handling them has taken
:data:`RECEIVE_SLICE_SECONDS`, the connection's task lets the other tasks run (a trio
checkpoint) before it goes on, so a burst from one peer does not hold up the HTTP
requests and the timer behind it.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from random import Random

import trio
from dynamokv.spec.errors import ArgumentError, InvariantError

from ._frames import FRAME_BYTES_MAX, FrameDecoder, FrameError, encode_frame
from ._tls import certificate_is_node, certificate_node_name

_log = logging.getLogger("dynamokv.runtime.peers")

PEER_QUEUE_FRAMES_MAX = 4096
"""Frames queued for one peer; one more is dropped (and counted)."""

SEND_BATCH_FRAMES_MAX = 256
"""Frames joined into one write to a peer."""

INBOUND_CONNECTIONS_MAX = 256
"""Inbound peer connections open at once; one more evicts the oldest connection that has not
delivered a valid message yet, or is closed on accept if there is none (both counted)."""

INBOUND_IDLE_TIMEOUT_SECONDS = 60.0
"""An inbound connection silent this long, or this long into a frame it has not finished,
is closed (a live peer gossips every second; a slow-loris sender is cut off)."""

RECONNECT_DELAY_SECONDS_MIN = 0.05
RECONNECT_DELAY_SECONDS_MAX = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
"""Time for TCP connect plus TLS handshake to a peer."""

SEND_TIMEOUT_SECONDS = 10.0
"""Time one write to a peer may block before the connection is given up as stuck."""

EAGER_CONNECTION_SECONDS_MIN = 1.0
"""A connection that breaks sooner than this counts as a failed connect (backoff grows)."""

TLS_HANDSHAKE_TIMEOUT_SECONDS = 5.0
"""Time an inbound peer gets to complete its TLS handshake."""

RECEIVE_BYTES = 64 * 1024
"""The most one ``receive_some`` on a peer connection asks for."""

RECEIVE_SLICE_SECONDS = 0.002
"""Handling one receive's frames yields to the other tasks after this long (see above)."""

_ACCEPT_RETRY_SECONDS = 0.1


@dataclass(frozen=True, slots=True, order=True)
class PeerAddress:
    """Where a peer listens for frames."""

    host: str
    port: int

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host:
            raise ArgumentError(f"PeerAddress.host must be a non-empty str, got {self.host!r}")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ArgumentError(f"PeerAddress.port must be in 1..65535, got {self.port!r}")

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class InboundPeer:
    """Who sent an inbound message.

    Attributes:
        remote_host: The connecting socket's address.
        remote_port: Its (ephemeral) port: not where the peer listens.
        node_name: The common name of the peer's certificate, verified against the cluster
            CA, under mutual TLS; ``None`` without TLS. The core should check that a
            message's claimed sender matches it.
    """

    remote_host: str
    remote_port: int
    node_name: str | None


MessageHandler = Callable[[InboundPeer, object], Awaitable[None]]
"""The node's callback for each inbound message (awaited in order, per connection).

It may raise :class:`~dynamokv.impl.runtime.FrameError` to refuse a message it cannot
decode: the connection is then closed and logged exactly as for a malformed frame."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerPoolOptions:
    """Bounds and timings of a :class:`PeerPool`; fields default to the constants."""

    peer_queue_frames_max: int = PEER_QUEUE_FRAMES_MAX
    send_batch_frames_max: int = SEND_BATCH_FRAMES_MAX
    inbound_connections_max: int = INBOUND_CONNECTIONS_MAX
    frame_bytes_max: int = FRAME_BYTES_MAX
    reconnect_delay_seconds_min: float = RECONNECT_DELAY_SECONDS_MIN
    reconnect_delay_seconds_max: float = RECONNECT_DELAY_SECONDS_MAX
    connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS
    send_timeout_seconds: float = SEND_TIMEOUT_SECONDS
    tls_handshake_timeout_seconds: float = TLS_HANDSHAKE_TIMEOUT_SECONDS
    inbound_idle_timeout_seconds: float = INBOUND_IDLE_TIMEOUT_SECONDS

    def __post_init__(self) -> None:
        for name in (
            "peer_queue_frames_max",
            "send_batch_frames_max",
            "inbound_connections_max",
            "frame_bytes_max",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArgumentError(f"PeerPoolOptions.{name} must be a positive int, got {value!r}")
        for name in (
            "reconnect_delay_seconds_min",
            "reconnect_delay_seconds_max",
            "connect_timeout_seconds",
            "send_timeout_seconds",
            "tls_handshake_timeout_seconds",
            "inbound_idle_timeout_seconds",
        ):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ArgumentError(
                    f"PeerPoolOptions.{name} must be a positive number, got {value!r}"
                )
        if self.reconnect_delay_seconds_min > self.reconnect_delay_seconds_max:
            raise ArgumentError("reconnect_delay_seconds_min must not exceed the max")


@dataclass
class PeerPoolStats:
    """Counters since the pool started (for ``/metrics``)."""

    frames_queued_count: int = 0
    frames_dropped_count: int = 0
    frames_sent_count: int = 0
    frames_lost_count: int = 0
    frames_received_count: int = 0
    connects_count: int = 0
    connect_failures_count: int = 0
    disconnects_count: int = 0
    inbound_connections_count: int = 0
    inbound_refused_count: int = 0
    inbound_evicted_count: int = 0
    inbound_timed_out_count: int = 0
    tls_handshake_failures_count: int = 0
    malformed_frames_count: int = 0


def reconnect_delay_seconds(failures_count: int, options: PeerPoolOptions, random: Random) -> float:
    """The wait before the next connect, after ``failures_count`` failures in a row.

    Capped exponential backoff with equal jitter: the base delay doubles from
    ``reconnect_delay_seconds_min`` up to ``reconnect_delay_seconds_max``, and is multiplied
    by a factor drawn uniformly from [0.5, 1) so that peers restarted together spread out,
    while the wait never drops to zero.
    """
    if failures_count < 0:
        raise ArgumentError(f"failures_count must be >= 0, got {failures_count}")
    # 2.0**60 overflows nothing and is far past any cap; it bounds the exponent.
    base_seconds = min(
        options.reconnect_delay_seconds_min * 2.0 ** min(failures_count, 60),
        options.reconnect_delay_seconds_max,
    )
    return base_seconds * (0.5 + 0.5 * random.random())


class _Inbound:
    """One inbound connection, for the reaper and for eviction.

    ``deadline`` is when it is cut off unless more bytes arrive (``trio.current_time()``);
    ``messages_count`` counts valid messages, so a connection that never delivered one is
    the first to go when the table is full.
    """

    __slots__ = ("deadline", "evicted", "messages_count", "scope", "stream", "timed_out")

    def __init__(self, scope: trio.CancelScope, deadline: float) -> None:
        self.scope = scope
        self.stream: trio.abc.Stream | None = None
        self.deadline = deadline
        self.messages_count = 0
        self.evicted = False
        self.timed_out = False


class _Outbound:
    """One peer's queue and the state of its sender task.

    ``direct`` is the connection's socket while the sender task is idle (connected, plain
    TCP, nothing queued or half-written): frames may then be written to it at once. ``held``
    are frames of the current step, written by :meth:`PeerPool.flush`.
    """

    __slots__ = (
        "address",
        "connected",
        "direct",
        "eager",
        "held",
        "receive_channel",
        "send_channel",
    )

    def __init__(self, address: PeerAddress, queue_frames_max: int) -> None:
        self.address = address
        self.send_channel, self.receive_channel = trio.open_memory_channel[bytes](queue_frames_max)
        self.connected = False
        self.eager = False
        self.direct: socket.socket | None = None
        self.held: list[bytes] = []


class PeerPool:
    """Frames to and from the other nodes of the cluster.

    Args:
        on_message: Awaited for each inbound message with its sender. A
            :class:`~dynamokv.impl.runtime.FrameError` from it closes that connection (as a
            malformed frame does); any other exception is a bug in the node and propagates
            (crashing :meth:`run`).
        random: The source of reconnect jitter (injected, so runs can be replayed).
        options: Bounds and timings.
        server_ssl_context: Require TLS on inbound connections
            (:func:`~dynamokv.impl.runtime.peer_server_ssl_context`), or ``None``.
        client_ssl_context: Use TLS on outbound connections
            (:func:`~dynamokv.impl.runtime.peer_client_ssl_context`), or ``None``.

    Example::

        pool = PeerPool(on_message, random=random.Random(seed))
        async with trio.open_nursery() as nursery:
            await nursery.start(pool.run, await trio.open_tcp_listeners(0, host="127.0.0.1"))
            pool.send(PeerAddress("127.0.0.1", 7001), {"type": "ping"})
    """

    def __init__(
        self,
        on_message: MessageHandler,
        *,
        random: Random,
        options: PeerPoolOptions = PeerPoolOptions(),  # Frozen: sharing is safe.
        server_ssl_context: ssl.SSLContext | None = None,
        client_ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(options, PeerPoolOptions):
            raise ArgumentError(f"options must be PeerPoolOptions, got {type(options).__name__}")
        self._on_message = on_message
        self._random = random
        self._options = options
        self._server_ssl_context = server_ssl_context
        self._client_ssl_context = client_ssl_context
        self._outbound: dict[PeerAddress, _Outbound] = {}
        self._held: list[_Outbound] = []
        self._inbound_open_count = 0
        # Open inbound connections, oldest first.
        self._inbound: dict[_Inbound, None] = {}
        self._nursery: trio.Nursery | None = None
        self.stats = PeerPoolStats()

    async def run(
        self,
        listeners: Sequence[trio.SocketListener] = (),
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Serve inbound connections on ``listeners`` and run the senders, until cancelled.

        :meth:`send` works once this has started. The listeners are closed on return.
        """
        if self._nursery is not None:
            raise InvariantError("PeerPool.run may run only once")
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                for listener in listeners:
                    nursery.start_soon(self._accept_loop, listener, nursery)
                if listeners:
                    nursery.start_soon(self._reap_inbound)
                task_status.started()
                await trio.sleep_forever()
        finally:
            self._nursery = None
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()

    def send(self, address: PeerAddress, message: object, *, flush: bool = True) -> bool:
        """Queue ``message`` for the peer at ``address``; never blocks.

        Args:
            address: the peer.
            message: a msgpack-encodable value.
            flush: write it now (the default). ``False`` holds it until :meth:`flush`, so
                that the messages of one batch of work go out in one write per peer; the
                caller must then call :meth:`flush` before it next yields to trio.

        Returns:
            ``True`` if sent or queued (or held), ``False`` if dropped because the peer's
            queue is full.

        Raises:
            FrameError: ``message`` cannot be framed (too big, not msgpack): a bug in the
                caller, since the core builds every message.
            dynamokv.spec.errors.InvariantError: :meth:`run` is not running (a bug in the caller).
        """
        nursery = self._nursery
        if nursery is None:
            raise InvariantError("PeerPool.send needs PeerPool.run to be running")
        frame = encode_frame(message, frame_bytes_max=self._options.frame_bytes_max)
        outbound = self._outbound.get(address)
        if outbound is None:
            if not isinstance(address, PeerAddress):
                raise ArgumentError(f"address must be a PeerAddress, got {address!r}")
            outbound = _Outbound(address, self._options.peer_queue_frames_max)
            self._outbound[address] = outbound
            nursery.start_soon(self._sender, outbound)
        held = outbound.held
        if flush and not held:
            return self._write(outbound, [frame])
        if len(held) >= self._options.peer_queue_frames_max:
            self.stats.frames_dropped_count += 1
            return False
        if not held:
            self._held.append(outbound)
        held.append(frame)
        if flush:
            self.flush()
        return True

    def connect(self, address: PeerAddress) -> None:
        """Keep a connection to ``address`` open from now on, even with nothing to send.

        A node calls this for its configured peers at start, so that the first request
        does not wait for a connect (and ``/cluster/members`` shows the peer connected as
        soon as it listens). A broken connection is opened again at once, and after a
        failure or a connection that broke within :data:`EAGER_CONNECTION_SECONDS_MIN`
        with the usual jittered backoff, so a peer that closes at once cannot make it spin.

        Raises:
            RuntimeError: :meth:`run` is not running.
        """
        nursery = self._nursery
        if nursery is None:
            raise RuntimeError("PeerPool.connect needs PeerPool.run to be running")
        outbound = self._outbound.get(address)
        if outbound is None:
            outbound = _Outbound(address, self._options.peer_queue_frames_max)
            outbound.eager = True
            self._outbound[address] = outbound
            nursery.start_soon(self._sender, outbound)
        else:
            # A sender waiting on an empty queue connects with its next frame; from its
            # next disconnect on, it reconnects at once.
            outbound.eager = True

    def flush(self) -> None:
        """Write every held frame: one write per peer (see :meth:`send`)."""
        held_by = self._held
        if not held_by:
            return
        self._held = []
        for outbound in held_by:
            frames, outbound.held = outbound.held, []
            self._write(outbound, frames)

    def _write(self, outbound: _Outbound, frames: list[bytes]) -> bool:
        """Write ``frames`` to the socket if the sender is idle, else queue them."""
        stats = self.stats
        direct = outbound.direct
        if direct is not None:
            data = frames[0] if len(frames) == 1 else b"".join(frames)
            try:
                sent = direct.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                # The connection broke under us: the frames are lost, as on a failed
                # write; the watcher task sees the close and the sender reconnects.
                outbound.direct = None
                stats.frames_queued_count += len(frames)
                stats.frames_lost_count += len(frames)
                _log.info("peer.send_failed peer=%s error=%s", outbound.address, error)
                return True
            stats.frames_queued_count += len(frames)
            if sent == len(data):
                stats.frames_sent_count += len(frames)
                return True
            # The socket buffer is full: the sender task writes the rest, before anything
            # queued after it. The queue is empty (the task was idle), so this fits.
            outbound.direct = None
            stats.frames_sent_count += len(frames) - 1
            outbound.send_channel.send_nowait(data[sent:])
            return True
        ok = True
        for frame in frames:
            try:
                outbound.send_channel.send_nowait(frame)
            except trio.WouldBlock:
                stats.frames_dropped_count += 1
                ok = False
            else:
                stats.frames_queued_count += 1
        return ok

    @property
    def running(self) -> bool:
        """Whether :meth:`run` is running (so :meth:`send` works)."""
        return self._nursery is not None

    def is_connected(self, address: PeerAddress) -> bool:
        """Whether an outbound connection to ``address`` is open right now."""
        outbound = self._outbound.get(address)
        return outbound is not None and outbound.connected

    # -- outbound ---------------------------------------------------------------------------

    async def _sender(self, outbound: _Outbound) -> None:
        """Connect when there is something to send; send; reconnect with backoff."""
        options = self._options
        stats = self.stats
        pending: list[bytes] = []
        failures_count = 0
        # Runs for the pool's lifetime; each iteration waits for work or sleeps a backoff
        # delay of at least reconnect_delay_seconds_min / 2, so it cannot spin.
        while True:
            if not pending and not outbound.eager:
                pending.append(await outbound.receive_channel.receive())
            stream = await self._connect(outbound.address)
            if stream is None:
                stats.connect_failures_count += 1
                await trio.sleep(reconnect_delay_seconds(failures_count, options, self._random))
                failures_count += 1
                continue
            stats.connects_count += 1
            outbound.connected = True
            _log.info("peer.connected peer=%s", outbound.address)
            direct = _direct_socket(stream)
            connected_at = trio.current_time()
            try:
                await self._pump(stream, outbound, pending, direct)
            finally:
                outbound.connected = False
                outbound.direct = None
                if direct is not None:
                    direct.close()
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(stream)
            stats.disconnects_count += 1
            stats.frames_lost_count += len(pending)
            pending.clear()
            _log.info("peer.disconnected peer=%s", outbound.address)
            if trio.current_time() - connected_at < EAGER_CONNECTION_SECONDS_MIN:
                # Broke at once: back off as after a failed connect (bounds a reconnect loop
                # against a peer that accepts and closes).
                await trio.sleep(reconnect_delay_seconds(failures_count, options, self._random))
                failures_count += 1
            else:
                failures_count = 0

    async def _connect(self, address: PeerAddress) -> trio.abc.Stream | None:
        """A connected (and, with TLS, handshaken) stream, or ``None`` after logging why."""
        with trio.move_on_after(self._options.connect_timeout_seconds):
            try:
                stream: trio.abc.Stream = await trio.open_tcp_stream(address.host, address.port)
            except OSError as error:
                _log.debug("peer.connect_failed peer=%s error=%s", address, error)
                return None
            if self._client_ssl_context is not None:
                ssl_stream = trio.SSLStream(
                    stream, self._client_ssl_context, server_hostname=address.host
                )
                try:
                    await ssl_stream.do_handshake()
                except trio.BrokenResourceError as error:
                    _log.warning(
                        "peer.tls_handshake_failed peer=%s error=%s",
                        address,
                        error.__cause__ or error,
                    )
                    await trio.aclose_forcefully(ssl_stream)
                    return None
                stream = ssl_stream
            return stream
        _log.debug("peer.connect_timed_out peer=%s", address)
        return None

    async def _pump(
        self,
        stream: trio.abc.Stream,
        outbound: _Outbound,
        pending: list[bytes],
        direct: socket.socket | None,
    ) -> None:
        """Write queued frames until the connection breaks; ``pending`` holds unsent ones.

        While idle it lends ``direct`` (the socket, ``None`` under TLS) to :meth:`_write`.
        """
        options = self._options
        receive_channel = outbound.receive_channel
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                self._watch_for_close, stream, outbound.address, nursery.cancel_scope
            )
            # Runs until the connection breaks (the watcher cancels) or a write fails.
            while True:
                while len(pending) < options.send_batch_frames_max:
                    try:
                        pending.append(receive_channel.receive_nowait())
                    except trio.WouldBlock:
                        break
                if not pending:
                    # Idle: senders may write to the socket directly until a frame has to
                    # be queued (which wakes this task) or the connection ends.
                    outbound.direct = direct
                    try:
                        pending.append(await receive_channel.receive())
                    finally:
                        outbound.direct = None
                    continue
                data = pending[0] if len(pending) == 1 else b"".join(pending)
                try:
                    with trio.fail_after(options.send_timeout_seconds):
                        await stream.send_all(data)
                except (
                    trio.BrokenResourceError,
                    trio.ClosedResourceError,
                    trio.TooSlowError,
                ) as error:
                    _log.info("peer.send_failed peer=%s error=%s", outbound.address, error)
                    nursery.cancel_scope.cancel()
                    return
                self.stats.frames_sent_count += len(pending)
                pending.clear()

    async def _watch_for_close(
        self, stream: trio.abc.Stream, address: PeerAddress, cancel_scope: trio.CancelScope
    ) -> None:
        """Peers never write on our outbound connection: any read result means it is over."""
        try:
            data = await stream.receive_some(RECEIVE_BYTES)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""
        if data:
            _log.warning("peer.unexpected_data peer=%s bytes=%d", address, len(data))
        cancel_scope.cancel()

    # -- inbound ----------------------------------------------------------------------------

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        # Runs until the pool is cancelled; each iteration accepts one connection.
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                _log.warning("peer.accept_failed error=%s", error)
                await trio.sleep(_ACCEPT_RETRY_SECONDS)
                continue
            if (
                self._inbound_open_count >= self._options.inbound_connections_max
                and not self._evict_one()
            ):
                self.stats.inbound_refused_count += 1
                _log.warning("peer.inbound_refused reason=too_many_connections")
                await trio.aclose_forcefully(stream)
                continue
            nursery.start_soon(self._serve_inbound, stream)

    def _evict_one(self) -> bool:
        """Close the oldest inbound connection that has not delivered a valid message yet
        (a real peer sends within a second of connecting): a flood of silent connections
        then only evicts its own, and a peer that reconnects always gets in."""
        for inbound in self._inbound:
            if inbound.messages_count == 0 and not inbound.evicted:
                inbound.evicted = True
                inbound.scope.cancel()
                self.stats.inbound_evicted_count += 1
                return True
        return False

    async def _reap_inbound(self) -> None:
        """Cut off inbound connections past their deadline (see :class:`_Inbound`)."""
        resolution = min(1.0, self._options.inbound_idle_timeout_seconds / 8)
        # Runs for the pool's lifetime, one sweep per resolution.
        while True:
            await trio.sleep(resolution)
            now = trio.current_time()
            for inbound in self._inbound:
                if inbound.deadline < now and not inbound.timed_out:
                    inbound.timed_out = True
                    inbound.scope.cancel()

    async def _serve_inbound(self, socket_stream: trio.SocketStream) -> None:
        stats = self.stats
        stats.inbound_connections_count += 1
        self._inbound_open_count += 1
        try:
            remote_host, remote_port = socket_stream.socket.getpeername()[:2]
        except OSError:
            remote_host, remote_port = "?", 0
        stream: trio.abc.Stream = socket_stream
        timeout = self._options.inbound_idle_timeout_seconds
        inbound = _Inbound(trio.CancelScope(), trio.current_time() + timeout)
        self._inbound[inbound] = None
        decoder = FrameDecoder(frame_bytes_max=self._options.frame_bytes_max)
        try:
            with inbound.scope:
                await self._receive_inbound(
                    socket_stream, inbound, decoder, remote_host, remote_port
                )
        finally:
            del self._inbound[inbound]
            self._inbound_open_count -= 1
            if inbound.evicted:
                _log.warning(
                    "peer.inbound_evicted remote=%s:%s reason=too_many_connections",
                    remote_host,
                    remote_port,
                )
            elif inbound.timed_out:
                stats.inbound_timed_out_count += 1
                _log.warning(
                    "peer.inbound_timed_out remote=%s:%s unfinished_frame_bytes=%d",
                    remote_host,
                    remote_port,
                    decoder.buffered_bytes,
                )
            with trio.CancelScope(shield=True):
                await trio.aclose_forcefully(inbound.stream or stream)

    async def _receive_inbound(
        self,
        socket_stream: trio.SocketStream,
        inbound: _Inbound,
        decoder: FrameDecoder,
        remote_host: str,
        remote_port: int,
    ) -> None:
        stats = self.stats
        timeout = self._options.inbound_idle_timeout_seconds
        stream: trio.abc.Stream = socket_stream
        node_name = None
        if self._server_ssl_context is not None:
            ssl_stream = trio.SSLStream(socket_stream, self._server_ssl_context, server_side=True)
            stream = inbound.stream = ssl_stream
            try:
                with trio.fail_after(self._options.tls_handshake_timeout_seconds):
                    await ssl_stream.do_handshake()
            except (trio.BrokenResourceError, trio.TooSlowError) as error:
                stats.tls_handshake_failures_count += 1
                _log.warning(
                    "peer.tls_refused remote=%s:%s error=%s",
                    remote_host,
                    remote_port,
                    str(error.__cause__ or error) or type(error).__name__,
                )
                return
            certificate = ssl_stream.getpeercert()
            if not certificate_is_node(certificate):
                stats.tls_handshake_failures_count += 1
                _log.warning(
                    "peer.tls_refused remote=%s:%s error=%s",
                    remote_host,
                    remote_port,
                    "a client certificate, not a node's",
                )
                return
            node_name = certificate_node_name(certificate)
        peer = InboundPeer(remote_host, remote_port, node_name)
        frame_began = 0.0
        # Runs until the peer closes, breaks, sends a malformed frame or times out.
        while True:
            try:
                data = await stream.receive_some(RECEIVE_BYTES)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return
            if not data:
                return
            had_partial = decoder.buffered_bytes > 0
            try:
                messages = decoder.feed(data)
            except FrameError as error:
                stats.malformed_frames_count += 1
                _log.warning(
                    "peer.malformed_frame remote=%s:%s node=%s error=%s",
                    remote_host,
                    remote_port,
                    node_name,
                    error,
                )
                return
            now = trio.current_time()
            if decoder.buffered_bytes == 0:
                inbound.deadline = now + timeout
            else:
                # A frame in progress must be finished in time, however it trickles in.
                if not had_partial or messages:
                    frame_began = now
                inbound.deadline = frame_began + timeout
            slice_began = time.perf_counter()
            for message in messages:
                if time.perf_counter() - slice_began >= RECEIVE_SLICE_SECONDS:
                    await trio.lowlevel.checkpoint()
                    slice_began = time.perf_counter()
                stats.frames_received_count += 1
                try:
                    await self._on_message(peer, message)
                except FrameError as error:
                    # The callback refused a well-framed message it cannot understand
                    # (an unknown type tag, a wrong field): as bad as a broken frame.
                    stats.malformed_frames_count += 1
                    _log.warning(
                        "peer.malformed_message remote=%s:%s node=%s error=%s",
                        remote_host,
                        remote_port,
                        node_name,
                        error,
                    )
                    return
                inbound.messages_count += 1


def _direct_socket(stream: trio.abc.Stream) -> socket.socket | None:
    """A duplicate of a plain TCP stream's socket for synchronous writes (None under TLS).

    A duplicate shares the connection; closing it leaves ``stream`` open. The socket is
    non-blocking already (trio's), so ``send`` takes what fits and never waits.
    """
    if not isinstance(stream, trio.SocketStream):
        return None
    trio_socket = stream.socket
    direct = socket.socket(
        trio_socket.family, trio_socket.type, trio_socket.proto, fileno=os.dup(trio_socket.fileno())
    )
    direct.setblocking(False)
    return direct
