"""The peer pool: delivery, bounded queues, reconnects with jittered backoff, bad peers."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import ssl
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trio.testing
from dynamokv.impl.runtime import (
    FrameError,
    InboundPeer,
    PeerAddress,
    PeerPool,
    PeerPoolOptions,
    _peers,
    encode_frame,
    generate_cluster_certificates,
    node_certificate_paths,
    peer_client_ssl_context,
    peer_server_ssl_context,
    reconnect_delay_seconds,
)
from dynamokv.spec.errors import InvariantError
from runtime_helpers import LOOPBACK, listener_port, trio_test, unused_port

FAST = PeerPoolOptions(
    reconnect_delay_seconds_min=0.01,
    reconnect_delay_seconds_max=0.1,
    connect_timeout_seconds=1.0,
    tls_handshake_timeout_seconds=1.0,
)


class Inbox:
    """Collects inbound messages; tests wait for a count with a bound."""

    def __init__(self) -> None:
        self.received: list[tuple[InboundPeer, object]] = []
        self._changed = trio.Event()

    async def on_message(self, peer: InboundPeer, message: object) -> None:
        self.received.append((peer, message))
        self._changed.set()
        self._changed = trio.Event()

    def messages(self) -> list[object]:
        return [message for _peer, message in self.received]

    async def wait_for(self, count: int) -> None:
        while len(self.received) < count:  # bounded by the test's fail_after
            await self._changed.wait()


@asynccontextmanager
async def running_pool(
    inbox: Inbox | None = None,
    *,
    port: int | None = None,
    options: PeerPoolOptions = FAST,
    server_ssl_context: ssl.SSLContext | None = None,
    client_ssl_context: ssl.SSLContext | None = None,
    seed: int = 0,
) -> AsyncIterator[tuple[PeerPool, PeerAddress | None]]:
    """A pool, listening on 127.0.0.1 (at ``port``, or a free one) if ``inbox`` is given."""
    pool = PeerPool(
        (inbox or Inbox()).on_message,
        random=random.Random(seed),
        options=options,
        server_ssl_context=server_ssl_context,
        client_ssl_context=client_ssl_context,
    )
    listeners = []
    if inbox is not None:
        listeners = await trio.open_tcp_listeners(port or 0, host=LOOPBACK)
    address = PeerAddress(LOOPBACK, listener_port(listeners[0])) if listeners else None
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run, listeners)
        try:
            yield pool, address
        finally:
            nursery.cancel_scope.cancel()


@trio_test
async def test_messages_arrive_in_order_with_the_sender_address() -> None:
    inbox = Inbox()
    async with running_pool(inbox) as (_receiver, address), running_pool() as (sender, _):
        assert address is not None
        for index in range(100):
            assert sender.send(address, {"type": "put", "n": index, "value": b"v"})
        await inbox.wait_for(100)
        assert inbox.messages() == [{"type": "put", "n": i, "value": b"v"} for i in range(100)]
        peer = inbox.received[0][0]
        assert peer.remote_host == LOOPBACK and peer.node_name is None
        assert sender.stats.frames_sent_count == 100
        assert sender.stats.connects_count == 1  # one connection, lazily opened, reused


@trio_test
async def test_full_queue_drops_and_counts() -> None:
    options = PeerPoolOptions(peer_queue_frames_max=4, reconnect_delay_seconds_min=1.0)
    nobody = PeerAddress(LOOPBACK, await unused_port())
    async with running_pool(options=options) as (sender, _):
        # No checkpoint between the sends: the sender task has not taken any frame yet.
        results = [sender.send(nobody, index) for index in range(10)]
        assert results == [True] * 4 + [False] * 6
        assert sender.stats.frames_dropped_count == 6
        assert sender.stats.frames_queued_count == 4


@trio_test
async def test_pool_reconnects_after_the_peer_restarts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dynamokv.runtime.peers")
    inbox = Inbox()
    async with running_pool() as (sender, _):
        async with running_pool(inbox) as (_receiver, address):
            assert address is not None
            sender.send(address, "before")
            await inbox.wait_for(1)
        # The receiver is gone (listener closed, connections closed): sends queue up or fail.
        sender.send(address, "while down")
        with trio.fail_after(2):
            while sender.is_connected(address):  # the watcher notices the close
                await trio.sleep(0.01)
        restarted = Inbox()
        async with running_pool(restarted, port=address.port) as (_receiver, _address):
            # Keep sending until one arrives: frames sent into the dying connection may be
            # lost, which the pool tolerates as Dynamo does.
            for index in range(200):
                sender.send(address, f"after {index}")
                if restarted.received:
                    break
                await trio.sleep(0.02)
            await restarted.wait_for(1)
        assert sender.stats.connects_count >= 2
        assert sender.stats.disconnects_count >= 1
    assert any("peer.disconnected" in record.getMessage() for record in caplog.records)


@trio_test
async def test_connect_failures_back_off_and_keep_the_frame() -> None:
    inbox = Inbox()
    port = await unused_port()
    address = PeerAddress(LOOPBACK, port)
    async with running_pool() as (sender, _):
        sender.send(address, "patient")
        with trio.fail_after(2):
            while sender.stats.connect_failures_count < 3:
                await trio.sleep(0.01)
        async with running_pool(inbox, port=port):
            await inbox.wait_for(1)
    assert inbox.messages() == ["patient"]


async def _connected(sender: PeerPool, address: PeerAddress, inbox: Inbox) -> None:
    """Open the connection with one message and wait until the sender task is idle."""
    sender.send(address, "hello")
    await inbox.wait_for(1)
    await trio.testing.wait_all_tasks_blocked()


@trio_test
async def test_an_idle_connection_takes_a_frame_without_a_checkpoint() -> None:
    inbox = Inbox()
    async with running_pool(inbox) as (_receiver, address), running_pool() as (sender, _):
        assert address is not None
        await _connected(sender, address, inbox)
        sent_before = sender.stats.frames_sent_count
        assert sender.send(address, "direct")
        # Written by send() itself: no task had to run for it.
        assert sender.stats.frames_sent_count == sent_before + 1
        await inbox.wait_for(2)
        assert inbox.messages() == ["hello", "direct"]


@trio_test
async def test_held_frames_wait_for_flush_and_leave_in_one_write_in_order() -> None:
    inbox = Inbox()
    async with running_pool(inbox) as (_receiver, address), running_pool() as (sender, _):
        assert address is not None
        await _connected(sender, address, inbox)
        sent_before = sender.stats.frames_sent_count
        for index in range(5):
            assert sender.send(address, index, flush=False)
        await trio.testing.wait_all_tasks_blocked()
        assert sender.stats.frames_sent_count == sent_before  # held, not written
        assert len(inbox.received) == 1
        sender.flush()
        assert sender.stats.frames_sent_count == sent_before + 5
        await inbox.wait_for(6)
        assert inbox.messages() == ["hello", 0, 1, 2, 3, 4]
        sender.flush()  # nothing held: nothing happens
        assert sender.stats.frames_sent_count == sent_before + 5


@trio_test
async def test_a_receive_of_many_frames_lets_other_tasks_run_once_its_slice_is_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A clock that moves one slice per reading: every frame of a receive finds the slice
    # used up, so the connection's task checkpoints before handling it.
    readings = iter(range(1_000_000))
    fake_time = types.SimpleNamespace(
        perf_counter=lambda: next(readings) * _peers.RECEIVE_SLICE_SECONDS
    )
    inbox = Inbox()
    seen_by_other_task: list[int] = []
    async with running_pool(inbox) as (_receiver, address), running_pool() as (sender, _):
        assert address is not None
        await _connected(sender, address, inbox)

        async def other_task() -> None:
            while True:  # bounded by the nursery's cancellation below
                seen_by_other_task.append(len(inbox.received))
                await trio.sleep(0)

        monkeypatch.setattr(_peers, "time", fake_time)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(other_task)
            for index in range(5):
                assert sender.send(address, index, flush=False)
            sender.flush()  # one write: the five frames come in one receive
            await inbox.wait_for(6)
            nursery.cancel_scope.cancel()
        assert inbox.messages()[1:] == [0, 1, 2, 3, 4]
        # The other task ran while the receive was half handled (the hello and some, not
        # all, of the five frames), not only before and after it.
        assert any(2 <= count <= 5 for count in seen_by_other_task), seen_by_other_task


@trio_test
async def test_a_full_socket_buffer_hands_over_to_the_sender_task_keeping_order() -> None:
    release = trio.Event()
    received: list[object] = []

    async def slow_reader(peer: InboundPeer, message: object) -> None:
        received.append(message)
        await release.wait()  # the receiver stops reading: the sender's buffer fills

    pool = PeerPool(slow_reader, random=random.Random(0), options=FAST)
    listeners = await trio.open_tcp_listeners(0, host=LOOPBACK)
    address = PeerAddress(LOOPBACK, listener_port(listeners[0]))
    big = b"x" * 60_000
    count = 200  # 12 MB: far more than loopback socket buffers hold
    async with trio.open_nursery() as nursery:
        await nursery.start(pool.run, listeners)
        async with running_pool() as (sender, _):
            sender.send(address, [-1, b""])
            with trio.fail_after(5):
                while not received:
                    await trio.sleep(0.01)
            await trio.testing.wait_all_tasks_blocked()
            for index in range(count):
                assert sender.send(address, [index, big], flush=index % 3 == 0)
            sender.flush()
            assert sender.stats.frames_sent_count < count + 1  # some had to be queued
            release.set()
            with trio.fail_after(20):
                while len(received) < count + 1:
                    await trio.sleep(0.01)
            assert [item[0] for item in received] == list(range(-1, count))  # type: ignore[index]
        nursery.cancel_scope.cancel()


def test_reconnect_delays_double_up_to_the_cap_with_seeded_jitter() -> None:
    options = PeerPoolOptions(reconnect_delay_seconds_min=0.1, reconnect_delay_seconds_max=1.0)
    delays = [reconnect_delay_seconds(n, options, random.Random(7)) for n in range(8)]
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= delay < base
    assert delays == [reconnect_delay_seconds(n, options, random.Random(7)) for n in range(8)]
    assert reconnect_delay_seconds(10**6, options, random.Random(1)) < 1.0
    with pytest.raises(ValueError, match="failures_count"):
        reconnect_delay_seconds(-1, options, random.Random(1))


@pytest.mark.parametrize(
    "garbage",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        encode_frame("ok")[:2] + b"\x09" + b"\x00" * 5,
        b"DK\x01\x00\xff\xff\xff\xff",
    ],
    ids=["http", "bad-version", "oversized"],
)
@trio_test
async def test_malformed_frame_closes_only_that_connection(
    garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dynamokv.runtime.peers")
    inbox = Inbox()
    async with running_pool(inbox) as (receiver, address), running_pool() as (sender, _):
        assert address is not None
        sender.send(address, "first")
        await inbox.wait_for(1)
        bad = await trio.open_tcp_stream(address.host, address.port)
        try:
            await bad.send_all(encode_frame("valid, then garbage"))
            await inbox.wait_for(2)
            await bad.send_all(garbage)
            with trio.fail_after(2):
                assert await bad.receive_some(100) == b""  # closed by the receiver
        finally:
            await bad.aclose()
        sender.send(address, "second")
        await inbox.wait_for(3)
        assert inbox.messages() == ["first", "valid, then garbage", "second"]
        assert receiver.stats.malformed_frames_count == 1
        assert sender.stats.disconnects_count == 0
    assert any("peer.malformed_frame" in record.getMessage() for record in caplog.records)


@trio_test
async def test_inbound_connections_over_the_maximum_are_refused() -> None:
    inbox = Inbox()
    options = PeerPoolOptions(inbound_connections_max=1)
    async with running_pool(inbox, options=options) as (receiver, address):
        assert address is not None
        first = await trio.open_tcp_stream(address.host, address.port)
        try:
            await first.send_all(encode_frame(1))
            with trio.fail_after(5):
                await inbox.wait_for(1)  # a peer that spoke: never evicted for a newcomer
            second = await trio.open_tcp_stream(address.host, address.port)
            try:
                with trio.fail_after(2):
                    assert await second.receive_some(100) == b""
            finally:
                await second.aclose()
            assert receiver.stats.inbound_refused_count == 1
        finally:
            await first.aclose()


@trio_test
async def test_a_silent_inbound_connection_is_evicted_for_a_peer_that_speaks() -> None:
    inbox = Inbox()
    options = dataclasses.replace(FAST, inbound_connections_max=1)
    async with running_pool(inbox, options=options) as (receiver, address):
        assert address is not None
        silent = await trio.open_tcp_stream(address.host, address.port)
        try:
            await trio.sleep(0.05)  # accepted before the peer below
            peer = await trio.open_tcp_stream(address.host, address.port)
            try:
                await peer.send_all(encode_frame(7))
                with trio.fail_after(5):
                    await inbox.wait_for(1)
                assert inbox.messages() == [7]
                with trio.fail_after(2):
                    assert await silent.receive_some(100) == b""
                assert receiver.stats.inbound_evicted_count == 1
            finally:
                await peer.aclose()
        finally:
            await silent.aclose()


@trio_test
async def test_idle_and_half_sent_inbound_connections_time_out() -> None:
    inbox = Inbox()
    options = dataclasses.replace(FAST, inbound_idle_timeout_seconds=0.3)
    async with running_pool(inbox, options=options) as (receiver, address):
        assert address is not None
        idle = await trio.open_tcp_stream(address.host, address.port)
        half = await trio.open_tcp_stream(address.host, address.port)
        try:
            frame = encode_frame("x" * 100)
            with trio.fail_after(5):
                # A byte every 0.1 s keeps the connection busy, but not the frame alive.
                for byte in frame[:40]:
                    await half.send_all(bytes([byte]))
                    await trio.sleep(0.1)
                    if receiver.stats.inbound_timed_out_count == 2:
                        break
                assert await idle.receive_some(100) == b""
            assert receiver.stats.inbound_timed_out_count == 2
            assert inbox.messages() == []
        finally:
            await idle.aclose()
            with contextlib.suppress(trio.BrokenResourceError):
                await half.aclose()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cluster = tmp_path_factory.mktemp("cluster")
    generate_cluster_certificates(cluster, ["node-1", "node-2"])
    other = tmp_path_factory.mktemp("other-cluster")
    generate_cluster_certificates(other, ["node-2"])
    return cluster, other


@trio_test
async def test_mutual_tls_peers_exchange_messages_and_learn_the_node_name(
    certificates: tuple[Path, Path],
) -> None:
    cluster, _other = certificates
    node_1 = node_certificate_paths(cluster, "node-1")
    node_2 = node_certificate_paths(cluster, "node-2")
    inbox = Inbox()
    async with (
        running_pool(inbox, server_ssl_context=peer_server_ssl_context(node_1)) as (_r, address),
        running_pool(client_ssl_context=peer_client_ssl_context(node_2)) as (sender, _),
    ):
        assert address is not None
        sender.send(address, {"hello": "from node-2"})
        await inbox.wait_for(1)
        peer, message = inbox.received[0]
        assert message == {"hello": "from node-2"}
        assert peer.node_name == "node-2"


@trio_test
async def test_peer_without_a_valid_certificate_is_refused_and_logged(
    certificates: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dynamokv.runtime.peers")
    cluster, other = certificates
    server_context = peer_server_ssl_context(node_certificate_paths(cluster, "node-1"))
    # A client that trusts our CA but holds a certificate from another cluster's CA.
    impostor = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    impostor.load_verify_locations(cafile=str(cluster / "ca.crt"))
    impostor.load_cert_chain(str(other / "node-2.crt"), str(other / "node-2.key"))
    inbox = Inbox()
    async with (
        running_pool(inbox, server_ssl_context=server_context) as (receiver, address),
        running_pool(client_ssl_context=impostor) as (sender, _),
    ):
        assert address is not None
        sender.send(address, "let me in")
        plain = await trio.open_tcp_stream(address.host, address.port)  # no TLS at all
        try:
            await plain.send_all(encode_frame("plain"))
            with trio.fail_after(5):
                while receiver.stats.tls_handshake_failures_count < 2:
                    await trio.sleep(0.01)
        finally:
            await plain.aclose()
        assert inbox.received == []
    refusals = [r.getMessage() for r in caplog.records if "peer.tls_refused" in r.getMessage()]
    assert len(refusals) >= 2


def test_send_needs_a_running_pool_and_an_encodable_message() -> None:
    pool = PeerPool(Inbox().on_message, random=random.Random(0))
    with pytest.raises(InvariantError, match="run"):
        pool.send(PeerAddress(LOOPBACK, 1), "x")

    async def unencodable() -> None:
        async with running_pool() as (sender, _):
            with pytest.raises(FrameError):
                sender.send(PeerAddress(LOOPBACK, 1), object())

    trio.run(unencodable)


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="port"):
        PeerAddress(LOOPBACK, 0)
    with pytest.raises(ValueError, match="peer_queue_frames_max"):
        PeerPoolOptions(peer_queue_frames_max=0)
    with pytest.raises(ValueError, match="must not exceed"):
        PeerPoolOptions(reconnect_delay_seconds_min=2, reconnect_delay_seconds_max=1)
