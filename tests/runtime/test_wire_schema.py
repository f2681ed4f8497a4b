"""The wire schema is pinned to FRAME_VERSION: changing one without the other fails here.

The codec encodes every registered type as its tag and its fields in declaration order
(``impl/runtime/_codec.py``), so adding, removing, reordering or retyping a field of any
type a peer message carries changes the wire format. Nodes of two builds refuse each
other's frames only if ``FRAME_VERSION`` differs; this test makes sure it does whenever the
schema does. After a deliberate change: bump ``FRAME_VERSION`` in ``_frames.py`` and add
the new digest below (the failure message prints it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import types
import typing
from typing import Any

import pytest
from dynamokv.impl.core import Message, Version
from dynamokv.impl.runtime import FRAME_VERSION, MESSAGE_TYPES

PINNED_SCHEMAS = {
    1: "22fde0a58ccaf5e1835559278dede0f576db0b59022cea338cd0b389cb4e4d4b",
    2: "f7824e9911484c3e9c98f787ea4941f879c66bccafe9277e75896189c39e0e7c",
}
"""FRAME_VERSION -> the SHA-256 of :func:`wire_schema` that version speaks."""


def _describe(annotation: Any) -> str:
    """An annotation as the wire sees it: classes by tag, unions as sets, tuples in order."""
    if annotation is type(None) or annotation is None:
        return "None"
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return "|".join(sorted(_describe(arm) for arm in typing.get_args(annotation)))
    if origin is tuple:
        return (
            "tuple["
            + ",".join(
                "..." if arg is Ellipsis else _describe(arg) for arg in typing.get_args(annotation)
            )
            + "]"
        )
    if origin is typing.Literal:
        return "Literal[" + ",".join(sorted(map(repr, typing.get_args(annotation)))) + "]"
    if isinstance(annotation, type):
        return annotation.__name__
    raise AssertionError(f"an annotation the codec would not carry: {annotation!r}")


def wire_schema(types_by_tag: dict[str, type]) -> str:
    """Every registered type's tag and fields, in wire order, and which tags are messages."""
    lines = []
    for tag in sorted(types_by_tag):
        cls = types_by_tag[tag]
        hints = typing.get_type_hints(cls)
        fields = ", ".join(
            f"{field.name}: {_describe(hints[field.name])}" for field in dataclasses.fields(cls)
        )
        lines.append(f"{tag}({fields})")
    messages = sorted(cls.__name__ for cls in typing.get_args(Message))
    lines.append("messages: " + ", ".join(messages))
    return "\n".join(lines)


def _digest(schema: str) -> str:
    return hashlib.sha256(schema.encode()).hexdigest()


def test_the_wire_schema_is_the_one_its_frame_version_was_pinned_with() -> None:
    schema = wire_schema(dict(MESSAGE_TYPES))
    digest = _digest(schema)
    assert PINNED_SCHEMAS.get(FRAME_VERSION) == digest, (
        f"the wire schema differs from the one FRAME_VERSION={FRAME_VERSION} was pinned with.\n"
        f"If the change is deliberate, bump FRAME_VERSION and pin {digest!r} for it.\n"
        f"The schema now:\n{schema}"
    )


def test_the_core_version_is_the_wire_type() -> None:
    """The core owns the type on the wire: a spec change cannot change the format."""
    assert MESSAGE_TYPES["Version"] is Version
    assert Version.__module__.startswith("dynamokv.impl.core")
    assert not hasattr(Version(b"v", ("n1", 1)), "__dict__")  # slotted


@pytest.mark.parametrize("change", ["add a field", "reorder", "retype", "drop a message"])
def test_any_schema_change_changes_the_digest(change: str) -> None:
    """Negative control: each kind of wire change gives another digest."""
    original = dict(MESSAGE_TYPES)
    changed = dict(original)

    @dataclasses.dataclass(frozen=True)
    class WriteAck:  # the real one's fields, changed
        src: str
        dst: str
        op_id: int
        key: bytes
        ok: bool = True

    if change == "add a field":
        changed["WriteAck"] = dataclasses.make_dataclass(
            "WriteAck", [*((f.name, f.type) for f in dataclasses.fields(WriteAck)), ("x", int)]
        )
    elif change == "reorder":
        changed["WriteAck"] = dataclasses.make_dataclass(
            "WriteAck", [("dst", str), ("src", str), ("op_id", int), ("key", bytes), ("ok", bool)]
        )
    elif change == "retype":
        changed["WriteAck"] = dataclasses.make_dataclass(
            "WriteAck", [("src", str), ("dst", str), ("op_id", str), ("key", bytes), ("ok", bool)]
        )
    else:
        del changed["WriteAck"]
    assert wire_schema(original) == wire_schema(dict(MESSAGE_TYPES))  # deterministic
    assert _digest(wire_schema(changed)) != _digest(wire_schema(original))
