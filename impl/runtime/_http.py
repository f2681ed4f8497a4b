"""An HTTP/1.1 server on trio streams, parsed by httptools (llhttp).

Why not a framework: we measured a trivial handler on this kind of machine, 16
keep-alive connections, one core: hypercorn on trio ~2,100 req/s, h11 on trio streams ~8,900,
httptools on trio streams ~37,000–47,000. The HTTP layer alone decides whether a cluster
can beat etcd, so the node serves HTTP itself, with llhttp (Node.js's C parser) doing the
byte work and this module doing as little as possible per request. The measured figure for
this module is in ``docs/security.md`` ("HTTP layer").

Theory of operation, one connection:

1. One ``receive_some`` (up to :data:`RECEIVE_BYTES`) feeds the parser. Its callbacks
   collect the URL, headers and body of each request; every request completed by the chunk
   is queued. A chunk may hold several pipelined requests, or a fraction of one.
2. The handler runs for each queued request, in order. Responses of one chunk are joined
   and written with one ``send_all``: pipelined requests cost one write, not one each.
3. A malformed request (or one over a limit) is answered with 4xx and a one-line JSON error
   ``{"error": "..."}``, after the responses to the requests before it, and the connection
   is closed: after bad bytes the stream's framing cannot be trusted. A handler exception is
   a 500 with the same shape; the request was well framed, so the connection stays open.

Limits (:class:`HttpLimits`) bound everything a client controls: header bytes and count,
body bytes (checked against ``Content-Length`` before the body is read), requests per
connection, open connections, time idle between requests and time to send one request.
When every connection slot is taken, a new connection evicts an idle one (one that never
sent a byte first), so a flood of silent connections cannot lock real clients out.
Header bytes are counted twice: exactly, from the parser's callbacks, and conservatively,
from the chunks received while a header section is open, because httptools accumulates a
header line split across chunks internally and would otherwise grow without bound.

Request bodies: ``Content-Length`` and ``Transfer-Encoding: chunked`` are both accepted;
llhttp decodes chunked bodies itself, so supporting them costs nothing, and the body limit
applies to the decoded bytes. llhttp refuses a request carrying both (request smuggling).
``Expect: 100-continue`` (curl sends it for bodies over 1 KiB) is answered with
``100 Continue`` once the headers pass the limits.

Graceful shutdown (:meth:`HttpServer.shutdown`): stop accepting and close the listeners;
close connections that are idle between requests; a request in flight finishes and its
response carries ``Connection: close``; whatever is still open after
``shutdown_grace_seconds`` is cancelled.
"""

from __future__ import annotations

import errno
import http
import json
import logging
import math
import ssl
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httptools
import trio
from dynamokv.spec.errors import ArgumentError, InvariantError, ProtocolError

_log = logging.getLogger("dynamokv.runtime.http")

HEADER_BYTES_MAX = 16 * 1024
"""Request line and headers, in bytes (as nginx's default large buffer; 431 beyond)."""

HEADER_COUNT_MAX = 100
"""Header fields per request (431 beyond)."""

BODY_BYTES_MAX = 4 * 1024 * 1024
"""Request body bytes, after chunked decoding (413 beyond): one stored value at most."""

REQUESTS_PER_CONNECTION_MAX = 100_000
"""Requests served on one connection before it is closed (the client reconnects)."""

CONNECTIONS_MAX = 1024
"""Connections open at once; one more evicts an idle one (see ``HttpServer._evict_one``),
or is closed at once if every connection is busy."""

EVICTIONS_PENDING_MAX = 64
"""Evicted connections still closing that may exceed :data:`CONNECTIONS_MAX` meanwhile."""

IDLE_TIMEOUT_SECONDS = 30.0
"""Time a keep-alive connection may wait for its next request, or a write may block."""

REQUEST_TIMEOUT_SECONDS = 30.0
"""Time from a request's first byte to its last (slow senders are cut off)."""

SHUTDOWN_GRACE_SECONDS = 10.0
"""Time in-flight requests get to finish after :meth:`HttpServer.shutdown`."""

RECEIVE_BYTES = 64 * 1024
"""The most one ``receive_some`` asks for."""

RESPONSE_BYTES_BUFFERED_MAX = 256 * 1024
"""Responses to pipelined requests held before they are written: past it, what is ready
goes out before the next handler runs, so one receive of many small requests for large
values cannot make the node hold every answer at once (and a slow reader waits for its
own answers)."""

_ACCEPT_RETRY_SECONDS = 0.1
_REAPER_RESOLUTION_SECONDS_MAX = 1.0
_ACCEPT_TRANSIENT_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpLimits:
    """The bounds of :class:`HttpServer`; every field defaults to the constant of its name."""

    header_bytes_max: int = HEADER_BYTES_MAX
    header_count_max: int = HEADER_COUNT_MAX
    body_bytes_max: int = BODY_BYTES_MAX
    requests_per_connection_max: int = REQUESTS_PER_CONNECTION_MAX
    connections_max: int = CONNECTIONS_MAX
    idle_timeout_seconds: float = IDLE_TIMEOUT_SECONDS
    request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS
    shutdown_grace_seconds: float = SHUTDOWN_GRACE_SECONDS

    def __post_init__(self) -> None:
        for name in (
            "header_bytes_max",
            "header_count_max",
            "body_bytes_max",
            "requests_per_connection_max",
            "connections_max",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ArgumentError(f"HttpLimits.{name} must be a positive int, got {value!r}")
        for name in ("idle_timeout_seconds", "request_timeout_seconds", "shutdown_grace_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0 < value < math.inf:
                raise ArgumentError(f"HttpLimits.{name} must be a positive number, got {value!r}")


@dataclass(slots=True)
class HttpRequest:
    """One parsed request; treat it as read-only.

    Not frozen on purpose: a frozen dataclass costs ~0.8 µs more to build (measured), a
    few percent of the whole request at the throughput this server reaches.

    Attributes:
        method: ``"GET"``, ``"PUT"``, ... as sent.
        path: The target's path, still percent-encoded, so that a key holding ``/`` or any
            byte round-trips: decode it with :func:`urllib.parse.unquote_to_bytes`.
        query: The query string's parameters, percent-decoded (UTF-8); for a repeated
            name the last value wins.
        headers: Field names in lower case; repeated fields joined with ``", "``.
        body: The body, after chunked decoding; ``b""`` if none.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What a handler returns.

    The server adds ``content-length`` and, when it closes the connection,
    ``connection: close``; a handler must not set those (or ``transfer-encoding``).

    Attributes:
        status: A final status code, 200–599.
        body: The body (omitted on the wire for ``HEAD``).
        headers: ``(name, value)`` pairs, written in order; no CR or LF in either.
    """

    status: int
    body: bytes = b""
    headers: Sequence[tuple[str, str]] = ()


HttpHandler = Callable[[HttpRequest], Awaitable[HttpResponse]]
"""The application: one request in, one response out. Exceptions become a 500."""


def json_response(
    value: Any, *, status: int = 200, headers: Iterable[tuple[str, str]] = ()
) -> HttpResponse:
    """A response whose body is ``value`` as one line of JSON."""
    body = json.dumps(value, separators=(",", ":")).encode() + b"\n"
    return HttpResponse(status, body, (("content-type", "application/json"), *headers))


def error_response(status: int, message: str) -> HttpResponse:
    """The project's error shape: ``{"error": message}`` on one line."""
    return json_response({"error": message}, status=status)


@dataclass
class HttpStats:
    """Counters since the server started (for ``/metrics``)."""

    connections_accepted_count: int = 0
    connections_refused_count: int = 0
    connections_open_count: int = 0
    connections_timed_out_count: int = 0
    connections_evicted_count: int = 0
    requests_count: int = 0
    bad_requests_count: int = 0
    handler_errors_count: int = 0
    tls_handshake_failures_count: int = 0


_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode()
    for status in http.HTTPStatus
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_RESERVED_HEADERS = frozenset({"content-length", "connection", "transfer-encoding"})


def _encode_response(response: HttpResponse, *, keep_alive: bool, head: bool) -> bytes:
    """Serialize ``response``; raises ValueError or TypeError if the handler built a bad one."""
    status = response.status
    status_line = _STATUS_LINES.get(status)
    if status_line is None:
        if not isinstance(status, int) or not 200 <= status <= 599:
            raise ArgumentError(f"status must be a final status code 200-599, got {status!r}")
        status_line = b"HTTP/1.1 %d Unknown\r\n" % status
    elif status < 200:
        raise ArgumentError(f"status must be a final status code 200-599, got {status}")
    body = response.body
    if not isinstance(body, bytes):
        raise ArgumentError(f"response body must be bytes, got {type(body).__name__}")
    parts = [status_line]
    if response.headers:
        lines = []
        for name, value in response.headers:
            if (
                "\r" in name
                or "\n" in name
                or ":" in name
                or "\r" in value
                or "\n" in value
                or name.lower() in _RESERVED_HEADERS
            ):
                raise ArgumentError(f"response header {name!r} is not allowed or not well formed")
            lines.append(f"{name}: {value}\r\n")
        parts.append("".join(lines).encode("latin-1"))
    if keep_alive:
        parts.append(b"content-length: %d\r\n\r\n" % len(body))
    else:
        parts.append(b"connection: close\r\ncontent-length: %d\r\n\r\n" % len(body))
    if not head:
        parts.append(body)
    return b"".join(parts)


def _encode_error(status: int, message: str) -> bytes:
    return _encode_response(error_response(status, message), keep_alive=False, head=False)


_INTERNAL_ERROR = _encode_response(
    error_response(500, "internal error"), keep_alive=True, head=False
)
_INTERNAL_ERROR_CLOSE = _encode_error(500, "internal error")


class _RequestError(ProtocolError):
    """A request the server refuses: answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _Reader:
    """httptools callbacks for one connection: they build :class:`HttpRequest` values.

    httptools calls these synchronously from ``feed_data``. An exception raised here stops
    the parser; it surfaces as ``HttpParserCallbackError``, so the reason is kept in
    ``error`` as well.
    """

    __slots__ = (
        "after_chunk_header",
        "began_in_chunk",
        "body_bytes",
        "body_parts",
        "error",
        "expect_continue",
        "header_bytes",
        "header_chunk_bytes",
        "header_count",
        "headers",
        "in_headers",
        "in_message",
        "limits",
        "parser",
        "ready",
        "trailer_bytes",
        "url_parts",
    )

    def __init__(self, limits: HttpLimits) -> None:
        self.limits = limits
        self.parser = httptools.HttpRequestParser(self)
        self.ready: list[tuple[HttpRequest, bool]] = []
        self.error: _RequestError | None = None
        self.in_message = False
        self.in_headers = False
        self.began_in_chunk = False
        self.expect_continue = False
        self.url_parts: list[bytes] = []
        self.headers: dict[str, str] = {}
        self.header_bytes = 0
        self.header_chunk_bytes = 0
        self.header_count = 0
        self.body_parts: list[bytes] = []
        self.body_bytes = 0
        # A chunk header with no data after it yet: the last chunk's, then its trailer
        # fields, which httptools buffers like header lines (counted in the loop).
        self.after_chunk_header = False
        self.trailer_bytes = 0

    def _refuse(self, status: int, message: str) -> None:
        self.error = _RequestError(status, message)
        raise self.error

    def on_message_begin(self) -> None:
        self.in_message = True
        self.in_headers = True
        self.began_in_chunk = True
        self.url_parts = []
        self.headers = {}
        self.header_bytes = 0
        self.header_chunk_bytes = 0
        self.header_count = 0
        self.body_parts = []
        self.body_bytes = 0
        self.after_chunk_header = False
        self.trailer_bytes = 0

    def on_url(self, url: bytes) -> None:
        self.header_bytes += len(url)
        if self.header_bytes > self.limits.header_bytes_max:
            self._refuse(
                431, f"request line and headers exceed {self.limits.header_bytes_max} bytes"
            )
        self.url_parts.append(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value) + 4
        self.header_count += 1
        if self.header_bytes > self.limits.header_bytes_max:
            self._refuse(
                431, f"request line and headers exceed {self.limits.header_bytes_max} bytes"
            )
        if self.header_count > self.limits.header_count_max:
            self._refuse(431, f"more than {self.limits.header_count_max} header fields")
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers = self.headers
        if key in headers:
            headers[key] = f"{headers[key]}, {text}"
        else:
            headers[key] = text

    def on_headers_complete(self) -> None:
        self.in_headers = False
        headers = self.headers
        content_length = headers.get("content-length")
        # llhttp has checked that Content-Length is digits and not given twice.
        if content_length is not None and int(content_length) > self.limits.body_bytes_max:
            self._refuse(413, f"body exceeds {self.limits.body_bytes_max} bytes")
        if "host" not in headers and self.parser.get_http_version() == "1.1":
            self._refuse(400, "HTTP/1.1 request without a Host header")
        expect = headers.get("expect")
        if expect is not None:
            if expect.lower() != "100-continue":
                self._refuse(417, f"unsupported expectation {expect!r}")
            self.expect_continue = True

    def on_chunk_header(self) -> None:
        self.after_chunk_header = True

    def on_body(self, body: bytes) -> None:
        self.after_chunk_header = False
        self.trailer_bytes = 0
        self.body_bytes += len(body)
        if self.body_bytes > self.limits.body_bytes_max:
            self._refuse(413, f"body exceeds {self.limits.body_bytes_max} bytes")
        self.body_parts.append(body)

    def on_message_complete(self) -> None:
        self.in_message = False
        self.expect_continue = False
        self.after_chunk_header = False
        parts = self.url_parts
        target = (parts[0] if len(parts) == 1 else b"".join(parts)).decode("latin-1")
        if not target.startswith("/"):
            self._refuse(400, "request target must be a path starting with /")
        path, _, query_string = target.partition("?")
        query = dict(parse_qsl(query_string, keep_blank_values=True)) if query_string else {}
        body_parts = self.body_parts
        if not body_parts:
            body = b""
        elif len(body_parts) == 1:
            body = body_parts[0]
        else:
            body = b"".join(body_parts)
        parser = self.parser
        request = HttpRequest(parser.get_method().decode("ascii"), path, query, self.headers, body)
        self.ready.append((request, parser.should_keep_alive()))


@dataclass(eq=False, slots=True)
class _Connection:
    """One client connection. ``deadline`` is checked by the server's reaper task."""

    stream: trio.abc.Stream
    scope: trio.CancelScope
    reader: _Reader
    deadline: float
    idle: bool = True
    timed_out: bool = False
    evicted: bool = False
    requests_served_count: int = 0


class HttpServer:
    """Serve ``handler`` over HTTP/1.1 on trio listeners.

    Args:
        handler: The application.
        limits: Bounds on what clients may send and how long they may take.
        ssl_context: Serve HTTPS with this context (see
            :func:`~dynamokv.impl.runtime.http_server_ssl_context`); ``None`` for plain HTTP.

    Example::

        server = HttpServer(handler)
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(server.serve_tcp, 8080)
            ...
            server.shutdown()   # serve_tcp returns once in-flight requests are done
    """

    def __init__(
        self,
        handler: HttpHandler,
        *,
        limits: HttpLimits = HttpLimits(),  # Frozen, so one shared default is safe.
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(limits, HttpLimits):
            raise ArgumentError(f"limits must be HttpLimits, got {type(limits).__name__}")
        self._handler = handler
        self._limits = limits
        self._ssl_context = ssl_context
        self._connections: set[_Connection] = set()
        # Connections that have not sent a byte yet, oldest first: the first to evict.
        self._silent: dict[_Connection, None] = {}
        self._evicting = 0
        self._shutdown_requested = trio.Event()
        self._drained = trio.Event()
        self._draining = False
        self._serving = False
        # Timeouts are enforced by one reaper task that wakes this often, not by a cancel
        # scope deadline per request: moving a deadline costs ~2 µs in trio (measured),
        # which at 40,000 req/s is most of the time budget. A timeout fires up to one
        # resolution late.
        self._reaper_resolution_seconds = min(
            _REAPER_RESOLUTION_SECONDS_MAX,
            limits.idle_timeout_seconds / 8,
            limits.request_timeout_seconds / 8,
        )
        self.stats = HttpStats()

    async def serve_tcp(
        self,
        port: int,
        *,
        host: str = "127.0.0.1",
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (port 0 picks a free one) and :meth:`serve`.

        ``nursery.start(server.serve_tcp, 0)`` returns the listeners, to learn the port.
        """
        listeners = await trio.open_tcp_listeners(port, host=host)
        await self.serve(listeners, task_status=task_status)

    async def serve(
        self,
        listeners: Sequence[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[list[trio.SocketListener]] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept and serve connections until :meth:`shutdown` has drained them.

        The listeners are closed on return. Cancelling this call closes everything at once.
        """
        if self._serving:
            raise InvariantError("HttpServer.serve may run only once")
        self._serving = True
        try:
            async with trio.open_nursery() as connections_nursery:
                connections_nursery.start_soon(self._reap_timed_out)
                async with trio.open_nursery() as accept_nursery:
                    for listener in listeners:
                        accept_nursery.start_soon(self._accept_loop, listener, connections_nursery)
                    task_status.started(list(listeners))
                    await self._shutdown_requested.wait()
                    accept_nursery.cancel_scope.cancel()
                for listener in listeners:
                    await listener.aclose()
                for connection in list(self._connections):
                    if connection.idle:
                        connection.scope.cancel()
                if not self._connections:
                    self._drained.set()
                with trio.move_on_after(self._limits.shutdown_grace_seconds):
                    await self._drained.wait()
                connections_nursery.cancel_scope.cancel()
        finally:
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()

    def shutdown(self) -> None:
        """Stop accepting, close idle connections, let in-flight requests finish.

        Returns at once; :meth:`serve` returns when the connections are closed, or after
        ``limits.shutdown_grace_seconds``. Calling it again does nothing.
        """
        self._draining = True
        self._shutdown_requested.set()

    async def _reap_timed_out(self) -> None:
        # Runs for the server's lifetime, one sweep per resolution.
        resolution_seconds = self._reaper_resolution_seconds
        while True:
            await trio.sleep(resolution_seconds)
            now = trio.current_time()
            for connection in self._connections:
                if connection.deadline < now and not connection.timed_out:
                    connection.timed_out = True
                    connection.scope.cancel()

    async def _accept_loop(self, listener: trio.SocketListener, nursery: trio.Nursery) -> None:
        # Runs until shutdown cancels it; each iteration accepts one connection.
        while True:
            try:
                stream = await listener.accept()
            except OSError as error:
                if error.errno not in _ACCEPT_TRANSIENT_ERRNOS:
                    raise
                _log.warning("http.accept_failed error=%s", error)
                await trio.sleep(_ACCEPT_RETRY_SECONDS)
                continue
            if self._draining or (
                len(self._connections) >= self._limits.connections_max and not self._evict_one()
            ):
                self.stats.connections_refused_count += 1
                _log.warning(
                    "http.connection_refused peer=%s reason=%s",
                    _peer_name(stream),
                    "shutting_down" if self._draining else "too_many_connections",
                )
                await trio.aclose_forcefully(stream)
                continue
            nursery.start_soon(self._serve_connection, stream)

    def _evict_one(self) -> bool:
        """Make room for a new connection by closing an idle one; False if none is idle.

        A connection that has not sent a byte since it was accepted goes first (oldest
        first), then the keep-alive connection idle the longest. An attacker holding
        thousands of silent connections therefore only ever evicts its own, and a new
        client is always served: what a full table of idle sockets must not prevent.
        Evictions still in progress count against the table, within
        :data:`EVICTIONS_PENDING_MAX`.
        """
        if self._evicting >= EVICTIONS_PENDING_MAX:
            return False
        victim = next((c for c in self._silent if not c.evicted), None)
        if victim is None:
            idle = (c for c in self._connections if c.idle and not c.evicted)
            victim = min(idle, key=lambda c: c.deadline, default=None)
        if victim is None:
            return False
        victim.evicted = True
        self._evicting += 1
        victim.scope.cancel()
        self.stats.connections_evicted_count += 1
        return True

    async def _serve_connection(self, stream: trio.SocketStream) -> None:
        stats = self.stats
        stats.connections_accepted_count += 1
        stats.connections_open_count += 1
        connection_stream: trio.abc.Stream = stream
        if self._ssl_context is not None:
            connection_stream = trio.SSLStream(
                stream, self._ssl_context, server_side=True, https_compatible=True
            )
        with trio.CancelScope() as scope:
            connection = _Connection(
                connection_stream,
                scope,
                _Reader(self._limits),
                trio.current_time() + self._limits.idle_timeout_seconds,
            )
            self._connections.add(connection)
            self._silent[connection] = None
            try:
                if isinstance(connection_stream, trio.SSLStream):
                    try:
                        await connection_stream.do_handshake()
                    except trio.BrokenResourceError as error:
                        stats.tls_handshake_failures_count += 1
                        _log.warning(
                            "http.tls_handshake_failed peer=%s error=%s",
                            _peer_name(stream),
                            error.__cause__ or error,
                        )
                        return
                await self._connection_loop(connection)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # The client went away; nothing to answer.
            finally:
                self._connections.discard(connection)
                self._silent.pop(connection, None)
                stats.connections_open_count -= 1
                if connection.evicted:
                    self._evicting -= 1
                    _log.info("http.connection_evicted peer=%s", _peer_name(stream))
                elif connection.timed_out:
                    stats.connections_timed_out_count += 1
                    _log.info("http.connection_timed_out peer=%s", _peer_name(stream))
                if self._draining and not self._connections:
                    self._drained.set()
                await trio.aclose_forcefully(connection_stream)

    async def _connection_loop(self, connection: _Connection) -> None:
        limits = self._limits
        stream = connection.stream
        reader = connection.reader
        parser = reader.parser
        ready = reader.ready
        # Bounded by requests_per_connection_max and by the reaper: each iteration either
        # receives bytes before connection.deadline or the connection is cancelled.
        while True:
            if not reader.in_message:
                if self._draining:
                    return
                connection.idle = True
            data = await stream.receive_some(RECEIVE_BYTES)
            connection.idle = False
            if not data:
                return
            if self._silent:
                self._silent.pop(connection, None)
            reader.began_in_chunk = False
            in_trailer = reader.after_chunk_header
            error: _RequestError | None = None
            upgrade = False
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                upgrade = True  # Answer the request, then close: we speak only HTTP/1.1.
            except httptools.HttpParserError as parser_error:
                error = reader.error or _RequestError(400, f"malformed request: {parser_error}")
            if error is None and reader.in_headers:
                # Header bytes httptools holds internally (a line split across chunks) are
                # invisible to the callbacks; count whole chunks spent inside one header
                # section. The chunk in which the section began is not counted (it may hold
                # the end of an earlier request), which bounds memory to the limit plus one
                # chunk.
                if reader.began_in_chunk:
                    reader.header_chunk_bytes = 0
                else:
                    reader.header_chunk_bytes += len(data)
                    if reader.header_chunk_bytes > limits.header_bytes_max:
                        error = _RequestError(
                            431, f"request line and headers exceed {limits.header_bytes_max} bytes"
                        )
            if error is None and in_trailer and reader.after_chunk_header and reader.in_message:
                # A whole receive spent after a chunk header with no data: the last chunk's
                # trailer fields, bounded as header lines are (one receive more at most).
                reader.trailer_bytes += len(data)
                if reader.trailer_bytes > limits.header_bytes_max:
                    error = _RequestError(
                        431, f"trailer fields exceed {limits.header_bytes_max} bytes"
                    )
            # _respond sets the deadline for the write and for the next request.
            if (ready or error is not None or upgrade) and not await self._respond(
                connection, error, close=upgrade
            ):
                return
            if reader.in_message and reader.began_in_chunk:
                # A slow sender gets request_timeout_seconds for the whole request, however
                # it trickles the bytes in.
                connection.deadline = trio.current_time() + limits.request_timeout_seconds
            if reader.expect_continue:
                reader.expect_continue = False
                await stream.send_all(_CONTINUE)

    async def _respond(
        self, connection: _Connection, error: _RequestError | None, *, close: bool
    ) -> bool:
        """Answer the queued requests (and ``error``) with one write; False to close."""
        ready = connection.reader.ready
        limits = self._limits
        stats = self.stats
        chunks: list[bytes] = []
        buffered = 0
        keep_alive = True
        connection.deadline = math.inf  # The handler's own timeouts apply, not the client's.
        for request, request_keep_alive in ready:
            stats.requests_count += 1
            connection.requests_served_count += 1
            response = await self._call_handler(request)
            # Decided after the handler: a shutdown may have begun while it ran.
            keep_alive = (
                request_keep_alive
                and not close
                and not self._draining
                and connection.requests_served_count < limits.requests_per_connection_max
            )
            chunk = self._encode(request, response, keep_alive=keep_alive)
            chunks.append(chunk)
            if not keep_alive:
                break
            buffered += len(chunk)
            if buffered >= RESPONSE_BYTES_BUFFERED_MAX:
                connection.deadline = trio.current_time() + limits.idle_timeout_seconds
                await connection.stream.send_all(b"".join(chunks))
                connection.deadline = math.inf
                chunks.clear()
                buffered = 0
        ready.clear()
        if error is not None:
            stats.bad_requests_count += 1
            _log.info(
                "http.bad_request peer=%s status=%d error=%s",
                _peer_name(connection.stream),
                error.status,
                error.message,
            )
            if keep_alive:
                chunks.append(_encode_error(error.status, error.message))
            keep_alive = False
        if close:
            keep_alive = False
        connection.deadline = trio.current_time() + limits.idle_timeout_seconds
        if chunks:
            await connection.stream.send_all(chunks[0] if len(chunks) == 1 else b"".join(chunks))
        return keep_alive

    async def _call_handler(self, request: HttpRequest) -> HttpResponse | None:
        """The handler's response, or ``None`` if it raised (logged and counted)."""
        try:
            return await self._handler(request)
        except Exception:
            # Cancellation and KeyboardInterrupt are BaseException and pass through.
            self.stats.handler_errors_count += 1
            _log.exception("http.handler_error method=%s path=%s", request.method, request.path)
            return None

    def _encode(
        self, request: HttpRequest, response: HttpResponse | None, *, keep_alive: bool
    ) -> bytes:
        if response is not None:
            try:
                return _encode_response(
                    response, keep_alive=keep_alive, head=request.method == "HEAD"
                )
            except (TypeError, ValueError, AttributeError):
                self.stats.handler_errors_count += 1
                _log.exception("http.handler_error method=%s path=%s", request.method, request.path)
        return _INTERNAL_ERROR if keep_alive else _INTERNAL_ERROR_CLOSE


def _peer_name(stream: trio.abc.Stream) -> str:
    """``host:port`` of the client, for log lines (error paths only)."""
    while isinstance(stream, trio.SSLStream):
        stream = stream.transport_stream
    if isinstance(stream, trio.SocketStream):
        try:
            host, port = stream.socket.getpeername()[:2]
        except OSError:
            return "?"
        return f"{host}:{port}"
    return "?"
