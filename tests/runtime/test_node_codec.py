"""The wire codec: every registered message type round-trips; anything else is a FrameError.

And on a running node: a malformed frame (or a well-framed message the codec refuses)
closes that one peer connection, is logged, and the node keeps serving HTTP.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from pathlib import Path
from typing import Any

import msgpack
import pytest
import trio
from dynamokv.impl.client import AsyncClient
from dynamokv.impl.core import GetRequest, Message, Version, WriteAck, WriteRequest
from dynamokv.impl.runtime import (
    MESSAGE_TYPES,
    FrameError,
    decode_frame,
    decode_message,
    encode_frame,
    encode_message,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from node_helpers import open_cluster
from runtime_helpers import trio_test

_INT = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _strategy(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of ``annotation``, built the way the codec reads annotations."""
    if annotation is type(None) or annotation is None:
        return st.none()
    simple = {
        int: _INT,
        str: st.text(max_size=8),
        bytes: st.binary(max_size=16),
        bool: st.booleans(),
        float: st.floats(allow_nan=False),
    }
    if annotation in simple:
        return simple[annotation]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return st.one_of([_strategy(arm) for arm in typing.get_args(annotation)])
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(_strategy(args[0]), max_size=3).map(tuple)
        return st.tuples(*[_strategy(arg) for arg in args])
    assert isinstance(annotation, type), annotation
    return _instances(annotation)


def _instances(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    fields = [f.name for f in dataclasses.fields(cls)]
    try:
        default = cls()
    except Exception:
        default = None

    def build(values: tuple[Any, ...]) -> Any:
        try:
            return cls(**dict(zip(fields, values, strict=True)))
        except Exception:  # a __post_init__ that refuses the combination
            return default

    generic = st.tuples(*[st.deferred(lambda h=hints[f]: _strategy(h)) for f in fields]).map(build)
    return generic.filter(lambda value: value is not None)


def test_every_core_message_is_registered() -> None:
    for cls in typing.get_args(Message):
        assert MESSAGE_TYPES[cls.__name__] is cls
    assert MESSAGE_TYPES["Version"] is Version
    assert len(set(MESSAGE_TYPES.values())) == len(MESSAGE_TYPES)


@pytest.mark.parametrize("tag", sorted(MESSAGE_TYPES))
@settings(max_examples=25)
@given(data=st.data())
def test_every_registered_type_round_trips_through_a_frame(tag: str, data: Any) -> None:
    message = data.draw(_instances(MESSAGE_TYPES[tag]))
    decoded = decode_message(decode_frame(encode_frame(encode_message(message))))
    assert decoded == message
    assert type(decoded) is type(message)


_MSGPACK = st.recursive(
    st.none() | st.booleans() | _INT | st.text(max_size=6) | st.binary(max_size=6),
    lambda children: st.lists(children, max_size=5),
    max_leaves=12,
)


@given(
    value=_MSGPACK
    | st.lists(_MSGPACK, max_size=6).flatmap(
        lambda rest: st.sampled_from(sorted(MESSAGE_TYPES)).map(lambda tag: [tag, *rest])
    )
)
def test_garbage_decodes_to_a_message_or_a_frame_error(value: Any) -> None:
    try:
        decoded = decode_message(msgpack.unpackb(msgpack.packb(value), raw=False))
    except FrameError:
        return
    assert type(decoded).__name__ in MESSAGE_TYPES


@pytest.mark.parametrize(
    "value",
    [
        ["NoSuchMessage", 1],
        [],
        "WriteAck",
        [1, 2],
        ["WriteAck", "a", "b", 1],  # too few fields
        ["WriteAck", "a", "b", 1, b"k", True, 9],  # too many
        ["WriteAck", "a", "b", "not an int", b"k", True],
        ["WriteAck", "a", "b", 1, "a str key", True],
        ["WriteAck", "a", "b", True, b"k", True],  # a bool is not an int
        ["WriteRequest", "a", "b", 1, b"k", [["NotVersion", b"v", ["a", 1], []]], None],
    ],
)
def test_malformed_messages_are_frame_errors(value: Any) -> None:
    with pytest.raises(FrameError):
        decode_message(value)


def test_nested_messages_keep_their_types() -> None:
    message = WriteRequest("a", "b", 7, b"k", (Version(None, ("a", 2), (("b", 1),)),), "c")
    assert decode_message(encode_message(message)) == message
    with pytest.raises(FrameError):
        encode_message(object())
    with pytest.raises(FrameError):  # a client request never travels between nodes
        encode_message(GetRequest(b"k"))


@trio_test
async def test_a_malformed_frame_closes_the_connection_and_the_node_keeps_serving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dynamokv")
    async with open_cluster(tmp_path, count=1, n=1, w=1, r=1) as nodes:
        process = nodes[0].process
        for payload in (
            b"GET / HTTP/1.1\r\n\r\n",  # not our protocol: bad magic
            encode_frame(["NoSuchMessage", 1]),  # well framed, unknown tag
            encode_frame(encode_message(WriteAck("x", "node-1", 1, "bad"))),  # type: ignore[arg-type]
            encode_frame(encode_message(Version(b"v", ("x", 1)))),  # a part, not a message
        ):
            stream = await trio.open_tcp_stream("127.0.0.1", process.peer_port)
            try:
                await stream.send_all(payload)
                with trio.fail_after(5):
                    assert await stream.receive_some(100) == b""  # closed by the node
            finally:
                await stream.aclose()
        assert process._pool is not None
        assert process._pool.stats.malformed_frames_count == 4
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("peer.malformed_frame") for m in messages)
        assert sum(m.startswith("peer.malformed_message") for m in messages) == 3
        async with AsyncClient(nodes[0].http) as client:
            await client.put("still", b"serving")
            assert (await client.get("still")).values == (b"serving",)
