"""The HTTP API of a node: routes, request decoding, and responses (``docs/http-api.md``).

Every node accepts every key (Dynamo §4.5: a request may reach any node; a put reaching a
node outside the key's preference list is forwarded to an owner by the core). This module
turns HTTP into :class:`~dynamokv.impl.core.GetRequest` and
:class:`~dynamokv.impl.core.PutRequest` values, awaits
:meth:`NodeProcess.submit <dynamokv.impl.runtime.NodeProcess.submit>`, and turns the
result back into HTTP. It decides nothing about replication.

Representation choices, and why:

* The key is the path after ``/kv/``, **percent-encoded bytes** (decoded with
  ``unquote_to_bytes``), so any byte string, ``/`` included, is a key.
* The **context** (Dynamo §4.4: the merged clock of the versions a get returned) travels
  in the ``X-Dynamo-Context`` header as base64url (no padding) of msgpack pairs
  ``[[node, counter], ...]``. Clients treat it as opaque and send it back with the put
  that supersedes what they read; a put without it is a blind write that creates a
  sibling next to whatever is there.
* A get's **siblings** are all visible: one live value is the raw body (``200``, curl-
  friendly); several are ``300 Multiple Choices`` with JSON, as Riak does; none (absent, or
  tombstones only) is ``404``. ``Accept: application/json`` always gets JSON, tombstones
  included, with every sibling's vector clock.
* Errors are ``4xx``/``5xx`` with one line of JSON ``{"error": "..."}``. A quorum not
  reached is ``503``: the write may still have reached some replicas (Dynamo has no
  rollback), which the error says.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import unquote_to_bytes

import msgpack
from dynamokv.impl.core import (
    NODE_NAME_CHARS_MAX,
    GetRequest,
    GetResult,
    PutRequest,
    PutResult,
    Version,
)
from dynamokv.impl.storage import KEY_BYTES_MAX
from dynamokv.spec import ring as spec_ring
from dynamokv.spec.errors import ArgumentError

from ._admin import AdminApi
from ._http import HttpRequest, HttpResponse, error_response, json_response
from ._openapi import openapi_document
from ._routes import CONTEXT_ENTRIES_MAX, CONTEXT_HEADER, ROUTES, VALUE_BYTES_MAX
from ._ui import ui_response
from ._view import NodeView

__all__ = [
    "CONTEXT_HEADER",
    "ROUTES",
    "VALUE_BYTES_MAX",
    "NodeApi",
    "decode_context",
    "encode_context",
]

_OCTET_HEADERS = (("content-type", "application/octet-stream"),)
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no", ""})


PUT_CONTEXT_COUNTER_MAX = 1 << 62
"""The largest counter a put's context may name. A coordinator issues a counter above its
context's entry for it (and leases past it, durably), so a put naming one near the top of
what a context may hold (``2**63 - 1``) would push that node's counters past it for good,
and every context of its later versions would be refused. No node ever reaches 2**62 counters."""


def encode_context(clock: tuple[tuple[str, int], ...] | dict[str, int]) -> str:
    """The header form of a context: base64url, no padding, of msgpack pairs."""
    pairs = sorted(clock.items()) if isinstance(clock, dict) else list(clock)
    packed = msgpack.packb([[n, c] for n, c in pairs], use_bin_type=True)
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_context(text: str) -> tuple[tuple[str, int], ...]:
    """The clock in a context header, as sorted pairs.

    Raises:
        dynamokv.spec.errors.ArgumentError: not base64url, not msgpack, or not ``[[str, positive int], ...]``.
    """
    text = text.strip()
    if not text:
        return ()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        pairs = msgpack.unpackb(raw, raw=False)
    except (binascii.Error, ValueError, msgpack.UnpackException, TypeError) as error:
        raise ArgumentError(
            f"{CONTEXT_HEADER} is not a context this API issued ({error})"
        ) from error
    if not isinstance(pairs, list) or len(pairs) > CONTEXT_ENTRIES_MAX:
        raise ArgumentError(
            f"{CONTEXT_HEADER} must be a list of at most {CONTEXT_ENTRIES_MAX} pairs"
        )
    clock: dict[str, int] = {}
    for pair in pairs:
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not isinstance(pair[0], str)
            or not 0 < len(pair[0]) <= NODE_NAME_CHARS_MAX
            or type(pair[1]) is not int
            or not 0 < pair[1] < 1 << 63
        ):
            raise ArgumentError(f"{CONTEXT_HEADER} holds a malformed (node, counter) pair")
        clock[pair[0]] = max(clock.get(pair[0], 0), pair[1])
    return tuple(sorted(clock.items()))


def _clock_of(version: Version) -> tuple[tuple[str, int], ...]:
    node, counter = version.dot
    merged = dict(version.context)
    if merged.get(node, 0) < counter:
        merged[node] = counter
    return tuple(sorted(merged.items()))


def sibling_json(version: Version) -> dict[str, Any]:
    """One sibling as the API shows it (``value`` is ``null`` unless valid UTF-8)."""
    value = version.value
    text: str | None = None
    if value is not None:
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    return {
        "value": text,
        "value_base64": None if value is None else base64.b64encode(value).decode("ascii"),
        "tombstone": value is None,
        "clock": dict(_clock_of(version)),
        "dot": [version.dot[0], version.dot[1]],
    }


class _BadRequest(ArgumentError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class NodeApi:
    """The HTTP application of one node, built on its read-only :class:`NodeView`.

    Args:
        process: the node (a :class:`~dynamokv.impl.runtime.NodeProcess`); serve with
            ``process.run(http_handler=NodeApi(process).handle)``.
    """

    def __init__(self, process: NodeView) -> None:
        self.process = process
        metrics = process.metrics
        self._requests = {
            (op, outcome): metrics.counter(
                "dynamokv_requests_total",
                "Client requests by op and outcome",
                op=op,
                outcome=outcome,
            )
            for op in ("get", "put", "delete")
            for outcome in ("ok", "quorum_failed", "bad_request")
        }
        self._latency = {
            op: metrics.histogram(
                "dynamokv_request_seconds", "Client request latency, HTTP handler in to out", op=op
            )
            for op in ("get", "put", "delete")
        }
        self._siblings = metrics.counter(
            "dynamokv_get_siblings_total", "Gets answered with more than one live sibling"
        )
        self._routes = {
            "/health": self._health,
            "/cluster/members": self._members,
            "/cluster/ring": self._ring,
            "/metrics": self._metrics,
            "/openapi.json": self._openapi,
            "/ui": self._ui,
        }
        self._openapi_body: bytes | None = None
        self._openapi_n = 0
        self._admin = AdminApi(process)

    async def handle(self, request: HttpRequest) -> HttpResponse:
        """Route one request; never raises for bad input (4xx instead)."""
        path = request.path
        if path.startswith("/kv/"):
            return await self._kv(request)
        if path.startswith("/admin/"):
            return await self._admin.handle(request)
        route = self._routes.get(path)
        if route is None:
            return error_response(404, f"no such resource: {path[:200]}")
        if request.method not in ("GET", "HEAD"):
            return _method_not_allowed("GET")
        return route(request)

    # -- /kv/{key} ----------------------------------------------------------------------

    async def _kv(self, request: HttpRequest) -> HttpResponse:
        method = request.method
        op = {"GET": "get", "HEAD": "get", "PUT": "put", "DELETE": "delete"}.get(method)
        if op is None:
            return _method_not_allowed("GET, PUT, DELETE")
        started = time.perf_counter()
        try:
            key = self._key(request.path)
            trace = _flag(request.query, "trace")
            n = self._replicas()
            if op == "get":
                response = await self._get(request, key, _quorum(request.query, "r", n), trace)
            else:
                value: bytes | None = None
                if op == "put":
                    value = request.body
                    if len(value) > VALUE_BYTES_MAX:
                        raise _BadRequest(413, f"value exceeds {VALUE_BYTES_MAX} bytes")
                try:
                    context = decode_context(request.headers.get(CONTEXT_HEADER.lower(), ""))
                except ValueError as error:
                    raise _BadRequest(400, str(error)) from error
                if any(counter > PUT_CONTEXT_COUNTER_MAX for _, counter in context):
                    raise _BadRequest(
                        400,
                        f"{CONTEXT_HEADER} names a counter above {PUT_CONTEXT_COUNTER_MAX}, "
                        "more than any node issues",
                    )
                put = PutRequest(key, value, context, _quorum(request.query, "w", n))
                response = await self._put(put, op, trace)
        except _BadRequest as error:
            self._requests[op, "bad_request"].inc()
            return error_response(error.status, error.message)
        self._latency[op].observe(time.perf_counter() - started)
        return response

    def _key(self, path: str) -> bytes:
        key = unquote_to_bytes(path[4:])
        if not key:
            raise _BadRequest(400, "the key is empty: use /kv/{percent-encoded key}")
        if len(key) > KEY_BYTES_MAX:
            raise _BadRequest(414, f"the key exceeds {KEY_BYTES_MAX} bytes")
        return key

    async def _get(
        self, request: HttpRequest, key: bytes, r: int | None, trace: bool
    ) -> HttpResponse:
        result, steps = await self.process.submit(GetRequest(key, r), trace=trace)
        assert isinstance(result, GetResult)
        if not result.ok:
            self._requests["get", "quorum_failed"].inc()
            body: dict[str, Any] = {"error": result.error, "replies": result.replies}
            if steps is not None:
                body["trace"] = steps
            return json_response(body, status=503)
        self._requests["get", "ok"].inc()
        versions = result.versions
        context_header = ((CONTEXT_HEADER, encode_context(result.context)),)
        live = [v for v in versions if v.value is not None]
        if len(live) > 1:
            self._siblings.inc()
        if steps is not None or "application/json" in request.headers.get("accept", ""):
            document: dict[str, Any] = {
                "key": key.decode("utf-8", "replace"),
                "siblings": [sibling_json(v) for v in versions],
                "context": context_header[0][1],
            }
            if steps is not None:
                document["trace"] = steps
            return json_response(document, headers=context_header)
        if len(live) == 1:
            return HttpResponse(200, live[0].value or b"", (*_OCTET_HEADERS, *context_header))
        if not live:
            return json_response({"error": "not found"}, status=404, headers=context_header)
        return json_response(
            {"siblings": [sibling_json(v) for v in live], "context": context_header[0][1]},
            status=300,
            headers=context_header,
        )

    async def _put(self, put: PutRequest, op: str, trace: bool) -> HttpResponse:
        result, steps = await self.process.submit(put, trace=trace)
        assert isinstance(result, PutResult)
        if not result.ok:
            self._requests[op, "quorum_failed"].inc()
            body: dict[str, Any] = {
                "error": f"{result.error} (the write may have reached {result.acks} replica(s))",
                "acks": result.acks,
            }
            if steps is not None:
                body["trace"] = steps
            return json_response(body, status=503)
        self._requests[op, "ok"].inc()
        assert result.version is not None
        context = encode_context(_clock_of(result.version))
        headers = ((CONTEXT_HEADER, context),)
        if steps is not None:
            return json_response(
                {"ok": True, "acks": result.acks, "context": context, "trace": steps},
                headers=headers,
            )
        return HttpResponse(204, b"", headers)

    # -- cluster information ------------------------------------------------------------

    def _health(self, request: HttpRequest) -> HttpResponse:
        process = self.process
        return json_response(
            {
                "name": process.name,
                "status": "ok" if process.state == "serving" else process.state,
                "uptime_seconds": round(time.time() - process.started_at, 3),
                "members": len(process.config.members),
            }
        )

    def _members(self, request: HttpRequest) -> HttpResponse:
        process = self.process
        now = process.now_ticks()
        node = process.node
        gossip = process.gossip
        suspected = set(process.health.suspected())
        ring_nodes = set(node.ring_state.nodes())
        configured = {member.name: member for member in process.config.members}
        members = []
        for name in sorted(set(configured) | set(gossip.members)):
            me = name == process.name
            member = configured.get(name)
            entry = gossip.entry(name)
            document: dict[str, Any] = {
                "name": name,
                "self": me,
                # From gossip (Dynamo §4.8): joining, normal, leaving or left; "unknown"
                # for a configured member not heard of yet.
                "status": "unknown" if entry is None else entry.status,
                "generation": None if entry is None else entry.generation,
                "heartbeat": None if entry is None else entry.heartbeat,
                "address": None if entry is None else entry.address,
                "in_ring": name in ring_nodes,
                "suspected": name in suspected,
                "phi": 0.0 if me else round(gossip.phi(name, now), 3),
                "healthy": True if me else process.health.is_healthy(name, now),
                "connected": process.peer_connected(name),
            }
            if member is not None:
                document.update(
                    {
                        "host": member.host,
                        "http_port": member.http_port,
                        "peer_port": member.peer_port,
                        "http": f"{member.host}:{member.http_port}",
                    }
                )
            members.append(document)
        return json_response({"node": process.name, "members": members})

    def _ring(self, request: HttpRequest) -> HttpResponse:
        process = self.process
        ring = process.ring
        owners: dict[str, int] = {}
        for owner in ring.assignment:
            owners[owner] = owners.get(owner, 0) + 1
        document: dict[str, Any] = {
            "partition_count": ring.q,
            "n": ring.n,
            "strategy": "equal partitions (Dynamo §6.2 strategy 3)",
            "owners": dict(sorted(owners.items())),
            "nodes": list(ring.nodes()),
            "version": process.node.ring_state.version,
            "issuer": process.node.ring_state.issuer,
        }
        assignment = request.query.get("assignment", "0")
        if assignment not in ("0", "1"):
            return error_response(400, "assignment must be 0 or 1")
        if assignment == "1":
            # Client-driven coordination (Dynamo §6.4): a client that knows every
            # partition's owner routes each request to the key's coordinator itself.
            document["assignment"] = list(ring.assignment)
        key_text = request.query.get("key")
        if key_text is not None:
            key = key_text.encode("utf-8")
            if not key or len(key) > KEY_BYTES_MAX:
                return error_response(400, f"key must be 1 to {KEY_BYTES_MAX} bytes")
            partition = ring.partition_of(key)
            preference = ring.preference_list(key)
            document["key"] = {
                "key": key_text,
                "position": spec_ring.md5_position(key),
                "partition": partition,
                "preference_list": list(preference),
                "coordinator_http": process.http_addresses.get(preference[0]),
                "extended_preference_list": list(ring.extended_preference_list(key)),
            }
        return json_response(document)

    def _metrics(self, request: HttpRequest) -> HttpResponse:
        text = self.process.metrics.render()
        return HttpResponse(
            200, text.encode(), (("content-type", "text/plain; version=0.0.4; charset=utf-8"),)
        )

    def _ui(self, request: HttpRequest) -> HttpResponse:
        return ui_response(self.process, request)

    def _replicas(self) -> int:
        """N of the ring in place (at most its node count), the bound of ``?r=`` and ``?w=``;
        before the node has a ring, the configured N (the core then answers that it has not
        joined a ring yet)."""
        process = self.process
        return process.ring.n if process.node.ring_state.version else process.node_config.n

    def _openapi(self, request: HttpRequest) -> HttpResponse:
        n = self._replicas()
        if self._openapi_body is None or n != self._openapi_n:
            document = openapi_document(n=n)
            self._openapi_body = json.dumps(document, separators=(",", ":")).encode()
            self._openapi_n = n
        return HttpResponse(200, self._openapi_body, (("content-type", "application/json"),))


def _method_not_allowed(allow: str) -> HttpResponse:
    response = error_response(405, f"method not allowed; allowed: {allow}")
    return HttpResponse(response.status, response.body, (*response.headers, ("allow", allow)))


def _flag(query: Any, name: str) -> bool:
    value = query.get(name)
    if value is None:
        return False
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise _BadRequest(400, f"{name} must be 1 or 0, got {value[:40]!r}")


def _quorum(query: Any, name: str, n: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 6 or not 1 <= int(value) <= n:
        raise _BadRequest(400, f"{name} must be an integer in 1..{n}, got {value[:40]!r}")
    return int(value)
