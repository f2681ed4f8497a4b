"""Helpers for the runtime tests: run trio with a time bound, talk raw HTTP, find free ports.

Every test body runs under :func:`run_bounded` (``trio.fail_after``), opens only 127.0.0.1
sockets, and closes what it opens in ``finally`` blocks or nurseries, so a failing test
leaves nothing behind.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httptools
import trio

LOOPBACK = "127.0.0.1"
TEST_TIMEOUT_SECONDS = 10.0


def run_bounded(
    async_function: Callable[..., Awaitable[Any]],
    *args: Any,
    timeout_seconds: float = TEST_TIMEOUT_SECONDS,
) -> Any:
    """``trio.run(async_function, *args)``, failing if it takes longer than the bound."""

    async def bounded() -> Any:
        with trio.fail_after(timeout_seconds):
            return await async_function(*args)

    return trio.run(bounded)


def trio_test(function: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Decorate an async test so pytest runs it under :func:`run_bounded`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        run_bounded(functools.partial(function, *args, **kwargs))

    return wrapper


def listener_port(listener: trio.SocketListener) -> int:
    port: int = listener.socket.getsockname()[1]
    return port


async def unused_port() -> int:
    """A port that was free a moment ago (bound to port 0, then closed)."""
    listeners = await trio.open_tcp_listeners(0, host=LOOPBACK)
    port = listener_port(listeners[0])
    for listener in listeners:
        await listener.aclose()
    return port


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


@dataclass
class _ResponseCollector:
    responses: list[RawResponse] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: list[bytes] = field(default_factory=list)
    parser: Any = None

    def on_message_begin(self) -> None:
        self.headers = {}
        self.body = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode().lower()] = value.decode()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.responses.append(
            RawResponse(self.parser.get_status_code(), self.headers, b"".join(self.body))
        )


class RawHttpClient:
    """A deliberately dumb HTTP client: send any bytes, read parsed responses."""

    def __init__(self, stream: trio.abc.Stream) -> None:
        self.stream = stream
        self._collector = _ResponseCollector()
        self._collector.parser = httptools.HttpResponseParser(self._collector)
        self.eof = False

    @classmethod
    async def connect(cls, port: int) -> RawHttpClient:
        return cls(await trio.open_tcp_stream(LOOPBACK, port))

    async def send(self, data: bytes) -> None:
        await self.stream.send_all(data)

    async def read_responses(self, count: int) -> list[RawResponse]:
        """Read until ``count`` responses are complete (or the server closes)."""
        collector = self._collector
        # Bounded by the test's fail_after; each iteration reads at least one byte or stops.
        while len(collector.responses) < count and not self.eof:
            data = await self.stream.receive_some(65536)
            if not data:
                self.eof = True
                break
            collector.parser.feed_data(data)
        responses = collector.responses[:count]
        del collector.responses[:count]
        return responses

    async def read_response(self) -> RawResponse:
        responses = await self.read_responses(1)
        assert responses, "the server closed the connection without a response"
        return responses[0]

    async def wait_closed(self) -> None:
        """Read until the server closes the connection (extra bytes are an error)."""
        while not self.eof:
            try:
                data = await self.stream.receive_some(65536)
            except trio.BrokenResourceError:
                data = b""
            if not data:
                self.eof = True
            else:
                self._collector.parser.feed_data(data)
        assert self._collector.responses == [], "unexpected extra responses"

    async def aclose(self) -> None:
        await self.stream.aclose()


def get(path: str = "/", *, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n{extra}\r\n".encode()
