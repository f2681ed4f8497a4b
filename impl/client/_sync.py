"""The synchronous client: one keep-alive ``http.client`` connection to one node."""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any

from dynamokv.spec.errors import ArgumentError

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

__all__ = ["Client", "split_address"]


def split_address(address: str) -> tuple[str, int, bool]:
    """``"host:port"``, ``"http://host:port"`` or ``"https://host:port"`` -> parts.

    Raises:
        dynamokv.spec.errors.ArgumentError: not of that form.
    """
    tls = False
    text = address.strip()
    if text.startswith("https://"):
        tls, text = True, text[8:]
    elif text.startswith("http://"):
        text = text[7:]
    text = text.rstrip("/")
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ArgumentError(f"a node address is HOST:PORT, got {address!r}")
    return host.strip("[]"), int(port_text), tls


class Client:
    """A synchronous client of one node's HTTP API (any node serves any key).

    Args:
        address: ``"HOST:PORT"`` (or with ``http://`` / ``https://``).
        timeout_seconds: per request, connect included.
        ssl_context: for ``https://`` (e.g. trusting the cluster CA).

    Example::

        with Client("127.0.0.1:7101") as client:
            context = client.put("cart", b"milk")
            reply = client.get("cart")        # reply.siblings, reply.context
            client.put("cart", b"milk\\neggs", context=reply.context)
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
        self._ssl_context = ssl_context if tls or ssl_context is not None else None
        self._tls = tls or ssl_context is not None
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            if self._tls:
                self._connection = http.client.HTTPSConnection(
                    self.host, self.port, timeout=self.timeout_seconds, context=self._ssl_context
                )
            else:
                self._connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout_seconds
                )
        return self._connection

    def request(
        self,
        method: str,
        target: str,
        *,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One raw request: ``(status, headers in lower case, body)``.

        A keep-alive connection the server closed meanwhile is reopened once.

        Raises:
            ClientError: the node cannot be reached.
        """
        for attempt in range(2):
            reused = self._connection is not None
            connection = self._connect()
            try:
                connection.request(method, target, body=body, headers=headers or {})
                response = connection.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as error:
                self.close()
                if reused and attempt == 0:
                    continue
                raise ClientError(f"{self.host}:{self.port}: {error}") from error
            except (OSError, http.client.HTTPException) as error:
                self.close()
                raise ClientError(f"{self.host}:{self.port}: {error}") from error
            if response.will_close:
                self.close()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, key: bytes | str, *, r: int | None = None) -> GetReply:
        """Every sibling of ``key`` and the context (Dynamo's ``get()``).

        Raises:
            QuorumError: fewer than R replicas answered.
            ClientError: a bad request or an unreachable node.
        """
        status, _, body = self.request(
            "GET", kv_target(key, {"r": r}), headers={"Accept": "application/json"}
        )
        raise_for_status(status, body)
        return parse_get(key_bytes(key), json.loads(body))

    def put(
        self,
        key: bytes | str,
        value: bytes | str,
        context: str | None = None,
        *,
        w: int | None = None,
    ) -> str:
        """Write ``value`` (Dynamo's ``put(key, context, object)``); returns the new context.

        Args:
            context: from the get whose siblings this write supersedes; ``None`` for a
                blind write (it becomes a sibling of whatever is there).

        Raises:
            QuorumError: fewer than W replicas acknowledged in time.
        """
        data = value.encode("utf-8") if isinstance(value, str) else value
        return self._write("PUT", key, data, context, w)

    def delete(self, key: bytes | str, context: str | None = None, *, w: int | None = None) -> str:
        """Delete ``key``: a tombstone put superseding ``context``; returns the new context."""
        return self._write("DELETE", key, None, context, w)

    def _write(
        self, method: str, key: bytes | str, data: bytes | None, context: str | None, w: int | None
    ) -> str:
        headers = {"Content-Type": "application/octet-stream"}
        if context:
            headers[CONTEXT_HEADER] = context
        status, response_headers, body = self.request(
            method, kv_target(key, {"w": w}), body=data, headers=headers
        )
        raise_for_status(status, body)
        return response_headers.get(CONTEXT_HEADER.lower(), "")

    def get_resolved(
        self, key: bytes | str, resolver: Resolver, *, write_back: bool = True, w: int | None = None
    ) -> bytes | None:
        """Read ``key``, merge its siblings with ``resolver``, and write the merge back.

        With one sibling nothing is written. With several, the merged value is written with
        the get's context, so it supersedes every sibling (Dynamo §4.4); a merged ``None``
        is written as a delete.
        """
        reply = self.get(key)
        if len(reply.siblings) <= 1:
            return reply.siblings[0].value if reply.siblings else None
        merged = resolver(reply.siblings)
        if write_back:
            if merged is None:
                self.delete(key, reply.context, w=w)
            else:
                self.put(key, merged, reply.context, w=w)
        return merged

    def json(self, path: str) -> Any:
        """``GET path`` as JSON (``/health``, ``/cluster/members``, ``/cluster/ring``)."""
        status, _, body = self.request("GET", path)
        raise_for_status(status, body)
        return json.loads(body)

    def close(self) -> None:
        """Close the connection (the next request reopens one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
