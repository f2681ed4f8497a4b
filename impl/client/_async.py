"""The asynchronous (trio) client: one keep-alive connection over trio streams.

HTTP/1.1 here is deliberately small: the node always answers with ``Content-Length``
(``impl/runtime/_http.py``), so a response is a status line, headers up to a blank line,
and exactly that many body bytes. Anything else is a :class:`ClientError`.
"""

from __future__ import annotations

import json
import ssl
from typing import Any

import trio
from dynamokv.spec.errors import DynamoKVError

from ._model import (
    CONTEXT_HEADER,
    ClientError,
    GetReply,
    Resolver,
    key_bytes,
    kv_target,
    parse_get,
    raise_for_status,
)
from ._sync import split_address

__all__ = ["AsyncClient"]

RESPONSE_HEADER_BYTES_MAX = 64 * 1024
RESPONSE_BODY_BYTES_MAX = 64 * 1024 * 1024
_RECEIVE_BYTES = 64 * 1024


class AsyncClient:
    """The trio twin of :class:`~dynamokv.impl.client.Client`; same methods, awaited.

    Not safe for concurrent use by several tasks (one connection, one request at a time):
    open one client per task.
    """

    def __init__(
        self,
        address: str,
        *,
        timeout_seconds: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, tls = split_address(address)
        self.timeout_seconds = timeout_seconds
        self._ssl_context = ssl_context or (ssl.create_default_context() if tls else None)
        self._stream: trio.abc.Stream | None = None
        self._buffer = bytearray()

    async def _connect(self) -> trio.abc.Stream:
        if self._stream is None:
            stream: trio.abc.Stream = await trio.open_tcp_stream(self.host, self.port)
            if self._ssl_context is not None:
                stream = trio.SSLStream(stream, self._ssl_context, server_hostname=self.host)
            self._stream = stream
            self._buffer = bytearray()
        return self._stream

    async def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One raw request: ``(status, headers in lower case, body)``.

        Raises:
            ClientError: unreachable, timed out, or a response this client cannot parse.
        """
        for attempt in range(2):
            reused = self._stream is not None
            try:
                with trio.fail_after(self.timeout_seconds):
                    stream = await self._connect()
                    await stream.send_all(_encode_request(method, target, self.host, body, headers))
                    return await self._read_response(stream, head=method == "HEAD")
            except (trio.BrokenResourceError, trio.ClosedResourceError, _Closed) as error:
                await self.aclose()
                if reused and attempt == 0:
                    continue
                raise ClientError(f"{self.host}:{self.port}: connection lost ({error})") from error
            except (OSError, trio.TooSlowError) as error:
                await self.aclose()
                raise ClientError(f"{self.host}:{self.port}: {error or 'timed out'}") from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _read_response(
        self, stream: trio.abc.Stream, *, head: bool
    ) -> tuple[int, dict[str, str], bytes]:
        buffer = self._buffer
        # Each iteration receives at least one byte or raises; bounded by the header limit.
        while b"\r\n\r\n" not in buffer:
            if len(buffer) > RESPONSE_HEADER_BYTES_MAX:
                raise ClientError("response headers too large")
            data = await stream.receive_some(_RECEIVE_BYTES)
            if not data:
                raise _Closed("closed before a response")
            buffer += data
        end = buffer.index(b"\r\n\r\n")
        lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ClientError(f"not an HTTP/1.1 response: {lines[0][:80]!r}")
        status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head else int(headers.get("content-length", "0") or 0)
        if not 0 <= length <= RESPONSE_BODY_BYTES_MAX:
            raise ClientError(f"response body of {length} bytes refused")
        # Each iteration receives at least one byte or raises; bounded by ``length``.
        while len(buffer) < length:
            data = await stream.receive_some(_RECEIVE_BYTES)
            if not data:
                raise _Closed("closed mid-body")
            buffer += data
        body = bytes(buffer[:length])
        del buffer[:length]
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return status, headers, body

    async def get(self, key: bytes | str, *, r: int | None = None) -> GetReply:
        """Every sibling of ``key`` and the context; see :meth:`Client.get`."""
        status, _, body = await self.request(
            "GET", kv_target(key, {"r": r}), headers={"Accept": "application/json"}
        )
        raise_for_status(status, body)
        return parse_get(key_bytes(key), json.loads(body))

    async def put(
        self,
        key: bytes | str,
        value: bytes | str,
        context: str | None = None,
        *,
        w: int | None = None,
    ) -> str:
        """Write ``value``; returns the new context. See :meth:`Client.put`."""
        data = value.encode("utf-8") if isinstance(value, str) else value
        return await self._write("PUT", key, data, context, w)

    async def delete(
        self, key: bytes | str, context: str | None = None, *, w: int | None = None
    ) -> str:
        """Delete ``key`` (a tombstone put); returns the new context."""
        return await self._write("DELETE", key, None, context, w)

    async def _write(
        self, method: str, key: bytes | str, data: bytes | None, context: str | None, w: int | None
    ) -> str:
        headers = {"Content-Type": "application/octet-stream"}
        if context:
            headers[CONTEXT_HEADER] = context
        status, response_headers, body = await self.request(
            method, kv_target(key, {"w": w}), body=data, headers=headers
        )
        raise_for_status(status, body)
        return response_headers.get(CONTEXT_HEADER.lower(), "")

    async def get_resolved(
        self, key: bytes | str, resolver: Resolver, *, write_back: bool = True, w: int | None = None
    ) -> bytes | None:
        """Read, merge the siblings with ``resolver``, write back; see :meth:`Client.get_resolved`."""
        reply = await self.get(key)
        if len(reply.siblings) <= 1:
            return reply.siblings[0].value if reply.siblings else None
        merged = resolver(reply.siblings)
        if write_back:
            if merged is None:
                await self.delete(key, reply.context, w=w)
            else:
                await self.put(key, merged, reply.context, w=w)
        return merged

    async def json(self, path: str) -> Any:
        """``GET path`` as JSON."""
        status, _, body = await self.request("GET", path)
        raise_for_status(status, body)
        return json.loads(body)

    async def aclose(self) -> None:
        """Close the connection (the next request reopens one)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            await trio.aclose_forcefully(stream)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class _Closed(DynamoKVError):
    """The server closed the connection before a whole response."""


def _encode_request(
    method: str, target: str, host: str, body: bytes | None, headers: dict[str, str] | None
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None or method in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body or b'')}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + body if body else head
