"""The HTTP/1.1 server: framing, keep-alive, pipelining, limits, errors, TLS and shutdown."""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio
from dynamokv.impl.runtime import (
    HttpLimits,
    HttpRequest,
    HttpResponse,
    HttpServer,
    generate_cluster_certificates,
    http_server_ssl_context,
    json_response,
    node_certificate_paths,
)
from runtime_helpers import LOOPBACK, RawHttpClient, get, listener_port, trio_test


async def echo_handler(request: HttpRequest) -> HttpResponse:
    """Returns the request as JSON; ``/boom`` raises, ``/bad-header`` builds a bad response."""
    if request.path == "/boom":
        raise RuntimeError("the handler failed")
    if request.path == "/bad-header":
        return HttpResponse(200, b"", (("x-evil", "a\r\nset-cookie: x"),))
    return json_response(
        {
            "method": request.method,
            "path": request.path,
            "query": dict(request.query),
            "headers": dict(request.headers),
            "body": request.body.decode("latin-1"),
        }
    )


@asynccontextmanager
async def running_server(
    handler: object = echo_handler,
    *,
    limits: HttpLimits | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[tuple[HttpServer, int]]:
    server = HttpServer(handler, limits=limits or HttpLimits(), ssl_context=ssl_context)  # type: ignore[arg-type]
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0)
        try:
            yield server, listener_port(listeners[0])
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def client(port: int) -> AsyncIterator[RawHttpClient]:
    http_client = await RawHttpClient.connect(port)
    try:
        yield http_client
    finally:
        await http_client.aclose()


@trio_test
async def test_request_value_carries_method_path_query_headers_and_body() -> None:
    async with running_server() as (_server, port), client(port) as http:
        await http.send(
            b"PUT /kv/a%2Fb?w=2&r=&w=3 HTTP/1.1\r\nHost: x\r\nX-Context: abc\r\n"
            b"X-Context: def\r\nContent-Length: 5\r\n\r\nhello"
        )
        response = await http.read_response()
        assert response.status == 200
        assert response.headers["content-type"] == "application/json"
        echoed = response.json()
        assert echoed["method"] == "PUT"
        assert echoed["path"] == "/kv/a%2Fb"  # still percent-encoded: keys are bytes
        assert echoed["query"] == {"w": "3", "r": ""}
        assert echoed["headers"]["x-context"] == "abc, def"
        assert echoed["body"] == "hello"


@trio_test
async def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    async with running_server() as (server, port), client(port) as http:
        for index in range(5):
            await http.send(get(f"/n/{index}"))
            response = await http.read_response()
            assert response.json()["path"] == f"/n/{index}"
            assert "connection" not in response.headers
        assert server.stats.connections_accepted_count == 1
        assert server.stats.requests_count == 5


@trio_test
async def test_pipelined_requests_are_answered_in_order() -> None:
    async with running_server() as (_server, port), client(port) as http:
        await http.send(
            get("/1") + get("/2") + b"PUT /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"
        )
        responses = await http.read_responses(3)
        assert [r.json()["path"] for r in responses] == ["/1", "/2", "/3"]
        assert responses[2].json()["body"] == "z"


@trio_test
async def test_pipelined_answers_past_the_buffer_bound_are_written_as_they_come(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Answers to pipelined requests are held only up to ``RESPONSE_BYTES_BUFFERED_MAX``
    (1 byte here): past it each is written before the next handler runs, in order."""
    from dynamokv.impl.runtime import _http

    monkeypatch.setattr(_http, "RESPONSE_BYTES_BUFFERED_MAX", 1)
    writes: list[int] = []
    real_send_all = trio.SocketStream.send_all

    async def send_all(self: trio.SocketStream, data: bytes) -> None:
        writes.append(len(data))
        await real_send_all(self, data)

    monkeypatch.setattr(trio.SocketStream, "send_all", send_all)
    async with running_server() as (_server, port), client(port) as http:
        await http.send(get("/1") + get("/2") + get("/3"))
        responses = await http.read_responses(3)
        assert [r.json()["path"] for r in responses] == ["/1", "/2", "/3"]
    assert len(writes) == 4  # the client's one write, then the three answers one by one


@trio_test
async def test_request_split_into_single_bytes_is_parsed() -> None:
    async with running_server() as (_server, port), client(port) as http:
        request = b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        for index in range(len(request)):
            await http.send(request[index : index + 1])
        assert (await http.read_response()).json()["body"] == "abc"


@trio_test
async def test_chunked_request_body_is_decoded() -> None:
    async with running_server() as (_server, port), client(port) as http:
        await http.send(
            b"PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        assert (await http.read_response()).json()["body"] == "abcde"


@trio_test
async def test_expect_100_continue_gets_an_interim_response() -> None:
    async with running_server() as (_server, port), client(port) as http:
        await http.send(
            b"PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
        interim = await http.stream.receive_some(1024)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        await http.send(b"ok")
        assert (await http.read_response()).json()["body"] == "ok"


def _assert_one_line_error(body: bytes) -> str:
    assert body.endswith(b"\n") and body.count(b"\n") == 1
    error = json.loads(body)["error"]
    assert isinstance(error, str) and error
    return error


@pytest.mark.parametrize(
    "garbage",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost x\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET http://elsewhere/ HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n",
    ],
    ids=[
        "not-http",
        "header-without-colon",
        "bad-version",
        "two-content-lengths",
        "length-and-chunked",
        "bad-chunk-size",
        "absolute-target",
        "no-host",
        "unknown-expectation",
    ],
)
@trio_test
async def test_malformed_request_gets_4xx_json_and_the_connection_closes(garbage: bytes) -> None:
    async with running_server() as (server, port), client(port) as http:
        await http.send(garbage)
        response = await http.read_response()
        assert 400 <= response.status < 500
        assert response.headers["connection"] == "close"
        _assert_one_line_error(response.body)
        await http.wait_closed()
        assert server.stats.bad_requests_count == 1
    # The server is still up for the next client.
    async with running_server() as (_server, port), client(port) as http:
        await http.send(get())
        assert (await http.read_response()).status == 200


@trio_test
async def test_good_requests_before_a_malformed_one_are_answered_first() -> None:
    async with running_server() as (_server, port), client(port) as http:
        await http.send(get("/a") + get("/b") + b"BROKEN\r\n\r\n")
        responses = await http.read_responses(3)
        assert [r.status for r in responses] == [200, 200, 400]
        await http.wait_closed()


@trio_test
async def test_header_limits_answer_431() -> None:
    limits = HttpLimits(header_bytes_max=1024, header_count_max=4)
    async with running_server(limits=limits) as (_server, port):
        async with client(port) as http:
            await http.send(get(extra="X-Big: " + "a" * 2000 + "\r\n"))
            assert (await http.read_response()).status == 431
            await http.wait_closed()
        async with client(port) as http:
            await http.send(get(extra="".join(f"X-{i}: v\r\n" for i in range(5))))
            assert (await http.read_response()).status == 431
        async with client(port) as http:
            await http.send(("GET /" + "u" * 2000 + " HTTP/1.1\r\nHost: x\r\n\r\n").encode())
            assert (await http.read_response()).status == 431


async def _trickle_until_answered(http: Any) -> Any:
    """Send 1 KiB at a time, up to 100 KiB (far past any limit here), until answered."""
    for _ in range(100):
        try:
            await http.send(b"a" * 1024)
        except trio.BrokenResourceError:
            break
        await trio.sleep(0.001)
        with trio.move_on_after(0.001):
            responses = await http.read_responses(1)
            if responses:
                return responses[0]
    return await http.read_response()


@trio_test
async def test_header_line_trickled_across_chunks_is_cut_off_at_the_limit() -> None:
    """httptools buffers a header split across chunks; the server must still bound it."""
    limits = HttpLimits(header_bytes_max=1024)
    async with running_server(limits=limits) as (_server, port), client(port) as http:
        await http.send(b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ")
        assert (await _trickle_until_answered(http)).status == 431


@trio_test
async def test_a_trailer_field_trickled_after_the_last_chunk_is_cut_off_at_the_limit() -> None:
    """The trailer fields of a chunked body are header lines httptools buffers the same
    way: an endless one is cut off at ``header_bytes_max`` too, not held until the request
    times out. A chunked body of many receives, and short trailers, are taken."""
    limits = HttpLimits(header_bytes_max=1024)
    async with running_server(limits=limits) as (_server, port):
        async with client(port) as http:
            await http.send(b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(20):  # 20 receives of 2 KiB chunks: a body, not a trailer
                await http.send(b"800\r\n" + b"b" * 2048 + b"\r\n")
                await trio.sleep(0.001)
            await http.send(b"0\r\nX-Short: t\r\n\r\n")
            assert (await http.read_response()).status == 200
        async with client(port) as http:
            await http.send(
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\n0\r\nX-Long: "
            )
            assert (await _trickle_until_answered(http)).status == 431


@trio_test
async def test_body_over_the_limit_is_refused_with_413_before_it_is_read() -> None:
    limits = HttpLimits(body_bytes_max=10)
    async with running_server(limits=limits) as (_server, port):
        async with client(port) as http:
            await http.send(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
            assert (await http.read_response()).status == 413
        async with client(port) as http:
            await http.send(
                b"PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
            )
            assert (await http.read_response()).status == 413


@trio_test
async def test_handler_exception_is_a_500_and_the_connection_stays_usable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR, logger="dynamokv.runtime.http")
    async with running_server() as (server, port), client(port) as http:
        await http.send(get("/boom") + get("/bad-header") + get("/fine"))
        boom, bad_header, fine = await http.read_responses(3)
        assert boom.status == 500 and bad_header.status == 500
        assert _assert_one_line_error(boom.body) == "internal error"
        assert "x-evil" not in bad_header.headers
        assert fine.status == 200
        assert server.stats.handler_errors_count == 2
    assert any("http.handler_error" in record.getMessage() for record in caplog.records)


@trio_test
async def test_head_response_has_no_body_but_its_length() -> None:
    async with running_server() as (_server, port), client(port) as http:
        await http.send(b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        raw = b""
        while chunk := await http.stream.receive_some(65536):
            raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")
        assert b"content-length: " in head and body == b""


@pytest.mark.parametrize(
    "request_bytes",
    [
        get(extra="Connection: close\r\n"),
        b"GET / HTTP/1.0\r\n\r\n",
        get(extra="Connection: Upgrade\r\nUpgrade: h2c\r\n"),
    ],
    ids=["connection-close", "http-1.0", "upgrade"],
)
@trio_test
async def test_server_closes_after_answering_when_asked_to(request_bytes: bytes) -> None:
    async with running_server() as (_server, port), client(port) as http:
        await http.send(request_bytes)
        response = await http.read_response()
        assert response.status == 200
        assert response.headers["connection"] == "close"
        await http.wait_closed()


@trio_test
async def test_requests_per_connection_max_closes_the_connection() -> None:
    limits = HttpLimits(requests_per_connection_max=2)
    async with running_server(limits=limits) as (_server, port), client(port) as http:
        await http.send(get() + get() + get())
        first, second = await http.read_responses(2)
        assert "connection" not in first.headers
        assert second.headers["connection"] == "close"
        await http.wait_closed()


@trio_test
async def test_a_new_connection_evicts_a_silent_one_before_an_idle_keep_alive_one() -> None:
    async with (
        running_server(limits=HttpLimits(connections_max=2)) as (server, port),
        client(port) as keep_alive,
        client(port) as silent,
    ):
        await keep_alive.send(get())
        assert (await keep_alive.read_response()).status == 200
        async with client(port) as newcomer:
            await newcomer.send(get())
            assert (await newcomer.read_response()).status == 200
            with trio.fail_after(2):
                await silent.wait_closed()  # never sent a byte: the first to go
            await keep_alive.send(get())
            assert (await keep_alive.read_response()).status == 200
        assert server.stats.connections_evicted_count == 1
        assert server.stats.connections_refused_count == 0


@trio_test
async def test_a_new_connection_evicts_the_longest_idle_keep_alive_one() -> None:
    async with (
        running_server(limits=HttpLimits(connections_max=1)) as (server, port),
        client(port) as first,
    ):
        await first.send(get())
        assert (await first.read_response()).status == 200
        async with client(port) as second:
            await second.send(get())
            assert (await second.read_response()).status == 200
            with trio.fail_after(2):
                await first.wait_closed()
        assert server.stats.connections_evicted_count == 1


@trio_test
async def test_connections_over_the_maximum_are_refused_when_none_is_idle() -> None:
    release = trio.Event()
    entered = trio.Event()

    async def slow_handler(request: HttpRequest) -> HttpResponse:
        entered.set()
        await release.wait()
        return HttpResponse(200, b"done")

    async with (
        running_server(slow_handler, limits=HttpLimits(connections_max=1)) as (server, port),
        client(port) as busy,
    ):
        await busy.send(get())
        await entered.wait()
        async with client(port) as second:
            with trio.fail_after(2):
                await second.wait_closed()
        assert server.stats.connections_refused_count == 1
        release.set()
        assert (await busy.read_response()).body == b"done"


@trio_test
async def test_idle_connection_times_out() -> None:
    limits = HttpLimits(idle_timeout_seconds=0.2)
    async with running_server(limits=limits) as (server, port), client(port) as http:
        await http.send(get())
        assert (await http.read_response()).status == 200
        with trio.fail_after(2):
            await http.wait_closed()
        assert server.stats.connections_timed_out_count == 1


@trio_test
async def test_slow_request_is_cut_off_by_the_request_timeout() -> None:
    limits = HttpLimits(request_timeout_seconds=0.3, idle_timeout_seconds=5)
    async with running_server(limits=limits) as (_server, port), client(port) as http:
        with trio.fail_after(3):
            try:
                # Trickle one byte every 50 ms: each arrives well within the idle timeout.
                for byte in get(extra="X-Pad: " + "p" * 100 + "\r\n"):
                    await http.send(bytes([byte]))
                    await trio.sleep(0.05)
            except trio.BrokenResourceError:
                pass
            await http.wait_closed()


@trio_test
async def test_shutdown_finishes_in_flight_requests_and_closes_idle_ones() -> None:
    release = trio.Event()
    entered = trio.Event()

    async def slow_handler(request: HttpRequest) -> HttpResponse:
        if request.path == "/slow":
            entered.set()
            await release.wait()
        return HttpResponse(200, b"done")

    server = HttpServer(slow_handler)
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0)
        port = listener_port(listeners[0])
        async with client(port) as busy, client(port) as idle:
            await idle.send(get())
            assert (await idle.read_response()).status == 200
            await busy.send(get("/slow"))
            await entered.wait()
            server.shutdown()
            await idle.wait_closed()  # idle between requests: closed at once
            with pytest.raises(OSError):
                await (await RawHttpClient.connect(port)).aclose()  # not accepting
            release.set()
            response = await busy.read_response()
            assert response.body == b"done"
            assert response.headers["connection"] == "close"
            await busy.wait_closed()
    # serve_tcp returned by itself: the nursery exited without being cancelled.


@trio_test
async def test_shutdown_cancels_requests_still_running_after_the_grace_period() -> None:
    async def stuck_handler(request: HttpRequest) -> HttpResponse:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    server = HttpServer(stuck_handler, limits=HttpLimits(shutdown_grace_seconds=0.2))
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(server.serve_tcp, 0)
        async with client(listener_port(listeners[0])) as http:
            await http.send(get())
            await trio.sleep(0.05)
            server.shutdown()
            with trio.fail_after(2):
                await http.wait_closed()


@trio_test
async def test_https_serves_with_the_node_certificate(tmp_path: Path) -> None:
    generate_cluster_certificates(tmp_path, ["node-1"])
    paths = node_certificate_paths(tmp_path, "node-1")
    client_context = ssl.create_default_context(cafile=str(paths.ca_cert_path))
    async with running_server(ssl_context=http_server_ssl_context(paths)) as (server, port):
        stream = trio.SSLStream(
            await trio.open_tcp_stream(LOOPBACK, port), client_context, server_hostname="localhost"
        )
        async with client(port) as plain:
            await plain.send(get())  # plain HTTP to the TLS port: refused, server unharmed
            await plain.wait_closed()
        http = RawHttpClient(stream)
        try:
            await http.send(get("/secure"))
            assert (await http.read_response()).json()["path"] == "/secure"
        finally:
            await trio.aclose_forcefully(stream)
        assert server.stats.tls_handshake_failures_count == 1


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="body_bytes_max"):
        HttpLimits(body_bytes_max=0)
    with pytest.raises(ValueError, match="idle_timeout_seconds"):
        HttpLimits(idle_timeout_seconds=float("inf"))
