"""The wire codec: every frozen message dataclass of the core, to msgpack values and back.

Frames (:mod:`~dynamokv.impl.runtime._frames`) carry one msgpack value; this module decides
which value. A message is encoded as a list whose first item is a *type tag* (the class
name, ``"WriteRequest"``) and whose other items are the fields in declaration order::

    WriteRequest("n1", "n2", 7, b"k", (Version(b"v", ("n1", 3), ()),), None)
    -> ["WriteRequest", "n1", "n2", 7, b"k", [["Version", b"v", ["n1", 3], []]], None]

Why generic: the core has many message types (requests, gossip, Merkle exchanges,
partition transfer) and the runtime must not need a hand-written encoder for each. The
registry is built once, at import, from the core's :data:`~dynamokv.impl.core.Message`
union and, through their fields, every type a message carries (the core's
:class:`~dynamokv.impl.core.Version`, gossip and Merkle bodies, forwarded requests): each is
a *frozen* dataclass whose fields are plain (``None``, ``bool``, ``int``, ``float``,
``str``, ``bytes``, ``Literal`` values, tuples, unions, and other registered dataclasses)
and gets a tag and a compiled encoder and decoder. What is on the wire is therefore
exactly what the core sends, and ``tests/runtime/test_wire_schema.py`` pins its schema to
:data:`~dynamokv.impl.runtime.FRAME_VERSION`.
Tags are class names, so they stay stable while a class keeps its name, and two registered
classes with one name are refused at import (a bug to fix by renaming).

Why positional lists and not maps: a map repeats every field name in every message; on the
replication path that is most of the bytes. The price is that adding a field is a wire
change: the frame version (:data:`~dynamokv.impl.runtime.FRAME_VERSION`) must be bumped.

Why the decoder checks every field's type: a peer's bytes are untrusted input (a malformed
frame closes that connection, the node keeps running). A message
that decodes to the right class with, say, a ``str`` key would otherwise crash the core
deep inside a step. So decoding validates against the annotations and raises
:class:`~dynamokv.impl.runtime.FrameError` for an unknown tag, a wrong arity, a wrong type
or an invalid value (a dataclass whose ``__post_init__`` refuses it).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

from dynamokv.errors import ProtocolError
from dynamokv.impl.core import Message

from ._frames import FrameError

__all__ = ["MESSAGE_TYPES", "decode_message", "encode_message"]

_Encoder = Callable[[Any], Any]
_Decoder = Callable[[Any], Any]

_SEQUENCES = (list, tuple)
"""msgpack decodes arrays as lists; encoders leave tuples (the same on the wire)."""

_ENCODERS: dict[type, _Encoder] = {}
_DECODERS: dict[str, _Decoder] = {}

MESSAGE_TYPES: dict[str, type] = {}
"""Every registered type by tag (its class name): what :func:`decode_message` accepts."""


class _Unsupported(ProtocolError):
    """A field type the codec cannot carry: the class is not registered."""


def encode_message(message: object) -> Any:
    """The msgpack-ready value of ``message`` (a registered frozen dataclass).

    Raises:
        FrameError: ``message``'s type is not registered.
    """
    encoder = _ENCODERS.get(type(message))
    if encoder is None:
        raise FrameError(f"cannot encode {type(message).__name__}: not a registered message type")
    return encoder(message)


def decode_message(value: Any) -> Any:
    """The message that :func:`encode_message` made ``value`` from.

    Raises:
        FrameError: an unknown tag, a wrong number of fields, a field of the wrong type,
            or a value the class itself refuses.
    """
    if type(value) not in _SEQUENCES or not value:
        raise FrameError("a message must be a non-empty list starting with its type tag")
    decoder = _DECODERS.get(value[0]) if type(value[0]) is str else None
    if decoder is None:
        raise FrameError(f"unknown message type tag {value[0]!r}")
    try:
        return decoder(value)
    except FrameError:
        raise
    except Exception as error:  # __post_init__ checks, invariant errors, ...
        raise FrameError(f"invalid {value[0]}: {type(error).__name__}: {error}") from error


# -- compiling encoders and decoders from annotations ---------------------------------------


def _fail(expected: str, got: object) -> typing.NoReturn:
    raise FrameError(f"expected {expected}, got {type(got).__name__}")


def _compile(annotation: Any) -> tuple[_Encoder | None, _Decoder]:
    """Encoder (None: the value is already msgpack-ready) and decoder for one annotation."""
    if annotation is type(None) or annotation is None:

        def decode_none(value: Any) -> Any:
            if value is not None:
                _fail("None", value)
            return None

        return None, decode_none
    if annotation in (int, str, bytes, bool, float):
        return None, _scalar_decoder(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        allowed = frozenset(typing.get_args(annotation))
        if not all(type(a) in (str, int, bool) for a in allowed):
            raise _Unsupported(annotation)

        def decode_literal(value: Any) -> Any:
            if type(value) not in (str, int, bool) or value not in allowed:
                raise FrameError(f"expected one of {sorted(map(str, allowed))}, got {value!r}")
            return value

        return None, decode_literal
    if origin in (typing.Union, types.UnionType):
        return _compile_union(typing.get_args(annotation))
    if origin is tuple:
        return _compile_tuple(typing.get_args(annotation))
    if isinstance(annotation, type) and annotation in _ENCODERS:
        tag = annotation.__name__
        return _ENCODERS[annotation], _nested_decoder(tag)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        _register(annotation)
        return _ENCODERS[annotation], _nested_decoder(annotation.__name__)
    raise _Unsupported(annotation)


def _scalar_decoder(kind: type) -> _Decoder:
    name = kind.__name__
    if kind is float:

        def decode_float(value: Any) -> Any:
            if type(value) is int:
                return float(value)
            if type(value) is not float:
                _fail(name, value)
            return value

        return decode_float

    def decode_scalar(value: Any) -> Any:
        if type(value) is not kind:
            _fail(name, value)
        return value

    return decode_scalar


def _nested_decoder(tag: str) -> _Decoder:
    def decode_nested(value: Any) -> Any:
        if type(value) not in _SEQUENCES or not value or value[0] != tag:
            raise FrameError(f"expected a {tag}")
        return _DECODERS[tag](value)

    return decode_nested


def _compile_union(arms: tuple[Any, ...]) -> tuple[_Encoder | None, _Decoder]:
    compiled = [_compile(arm) for arm in arms]
    if all(encoder is None for encoder, _ in compiled):
        decoders = [decoder for _, decoder in compiled]

        def decode_plain_union(value: Any) -> Any:
            for decoder in decoders:
                try:
                    return decoder(value)
                except FrameError:
                    continue
            raise FrameError(f"no arm of a union accepts {type(value).__name__}")

        return None, decode_plain_union

    def encode_union(value: Any) -> Any:
        encoder = _ENCODERS.get(type(value))
        return value if encoder is None else encoder(value)

    decoders_all = [decoder for _, decoder in compiled]

    def decode_union(value: Any) -> Any:
        if type(value) in _SEQUENCES and value and type(value[0]) is str:
            decoder = _DECODERS.get(value[0])
            if decoder is not None and MESSAGE_TYPES[value[0]] in arms:
                return decoder(value)
        for decoder in decoders_all:
            try:
                return decoder(value)
            except FrameError:
                continue
        raise FrameError(f"no arm of a union accepts {type(value).__name__}")

    return encode_union, decode_union


def _compile_tuple(args: tuple[Any, ...]) -> tuple[_Encoder | None, _Decoder]:
    if len(args) == 2 and args[1] is Ellipsis:
        item_encoder, item_decoder = _compile(args[0])
        if item_encoder is None:
            encode_items = None
        else:
            ie = item_encoder

            def encode_items(value: Any) -> Any:
                return [ie(item) for item in value]

        def decode_items(value: Any) -> Any:
            if type(value) not in _SEQUENCES:
                _fail("a list", value)
            return tuple([item_decoder(item) for item in value])

        return encode_items, decode_items
    compiled = [_compile(arg) for arg in args]
    size = len(compiled)

    def encode_fixed(value: Any) -> Any:
        return [
            item if e is None else e(item) for (e, _), item in zip(compiled, value, strict=True)
        ]

    def decode_fixed(value: Any) -> Any:
        if type(value) not in _SEQUENCES or len(value) != size:
            raise FrameError(f"expected a list of {size} items")
        return tuple(d(item) for (_, d), item in zip(compiled, value, strict=True))

    any_encoder = any(e is not None for e, _ in compiled)
    return (encode_fixed if any_encoder else None), decode_fixed


def _register(cls: type) -> None:
    """Compile and register ``cls`` (a frozen dataclass), or raise :class:`_Unsupported`."""
    if cls in _ENCODERS:
        return
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        raise _Unsupported(cls)
    tag = cls.__name__
    existing = MESSAGE_TYPES.get(tag)
    if existing is not None and existing is not cls:
        raise TypeError(
            f"two message types are named {tag} ({existing.__module__} and {cls.__module__}): "
            "the wire tag must be unique; rename one"
        )
    try:
        hints = typing.get_type_hints(cls)
    except Exception as error:  # a name only imported under TYPE_CHECKING, ...
        raise _Unsupported(cls) from error
    fields = [f for f in dataclasses.fields(cls) if f.init]
    if len(fields) != len(dataclasses.fields(cls)):
        raise _Unsupported(cls)
    names = [f.name for f in fields]
    # Register a placeholder first so that a self-referencing type terminates.
    _ENCODERS[cls] = _placeholder
    try:
        encode, decode = _generate(cls, tag, [(name, hints[name]) for name in names])
    except _Unsupported:
        del _ENCODERS[cls]
        raise
    _ENCODERS[cls] = encode
    _DECODERS[tag] = decode
    MESSAGE_TYPES[tag] = cls


# -- generated code -------------------------------------------------------------------------
#
# The closures above are correct for every annotation, but on the replication path they cost
# a Python call per field and per nested value (a WriteRequest with three siblings took
# ~13 µs to decode, most of a replica's codec time). So each registered class gets one
# generated encoder and one generated decoder, built with ``exec`` as ``dataclasses`` builds
# ``__init__``: scalar checks, tuples and nested registered classes are inlined; anything
# rarer (floats, Literals, unions holding classes) calls the closure ``_compile`` made for it.
# The checks are the closures' checks, so what is accepted and refused does not change.

_SCALAR_NAMES: dict[Any, str] = {int: "int", str: "str", bytes: "bytes", bool: "bool"}

_NAMESPACE: dict[str, Any] = {
    "FrameError": FrameError,
    "_fail": _fail,
    "_SEQ": _SEQUENCES,
    "_DECODERS": _DECODERS,
    "int": int,
    "str": str,
    "bytes": bytes,
    "bool": bool,
    "tuple": tuple,
    "len": len,
    "type": type,
}
"""The globals of every generated function: classes, fallbacks and each other's names
(``_encode_<tag>``), looked up when called, so registration order does not matter."""


class _Writer:
    """Source lines of one generated function, with fresh local names."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._count = 0

    def name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def emit(self, indent: int, line: str) -> None:
        self.lines.append("    " * indent + line)


def _bind(prefix: str, value: Any) -> str:
    """Put ``value`` in the generated code's namespace under a fresh name."""
    name = f"_{prefix}{len(_NAMESPACE)}"
    _NAMESPACE[name] = value
    return name


def _plain_union_types(annotation: Any) -> tuple[type, ...] | None:
    """The exact types of a union of None and non-float scalars, else None."""
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    kinds: list[type] = []
    for arm in typing.get_args(annotation):
        if arm is type(None) or arm is None:
            kinds.append(type(None))
        elif arm in _SCALAR_NAMES:
            kinds.append(arm)
        else:
            return None
    return tuple(kinds)


def _emit_decode(annotation: Any, source: str, out: _Writer, indent: int) -> str:
    """Emit lines checking the wire value in local ``source``; return the decoded expression."""
    if annotation is type(None) or annotation is None:
        out.emit(indent, f"if {source} is not None: _fail('None', {source})")
        return "None"
    scalar = _SCALAR_NAMES.get(annotation)
    if scalar is not None:
        out.emit(indent, f"if type({source}) is not {scalar}: _fail({scalar!r}, {source})")
        return source
    kinds = _plain_union_types(annotation)
    if kinds is not None:
        allowed = _bind("kinds", frozenset(kinds))
        out.emit(indent, f"if type({source}) not in {allowed}:")
        out.emit(
            indent + 1,
            f"raise FrameError(f'no arm of a union accepts {{type({source}).__name__}}')",
        )
        return source
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            items = out.name("items")
            item = out.name("item")
            out.emit(indent, f"if type({source}) not in _SEQ: _fail('a list', {source})")
            out.emit(indent, f"{items} = []")
            out.emit(indent, f"for {item} in {source}:")
            decoded = _emit_decode(args[0], item, out, indent + 1)
            out.emit(indent + 1, f"{items}.append({decoded})")
            return f"tuple({items})"
        if args and Ellipsis not in args:
            size = len(args)
            out.emit(indent, f"if type({source}) not in _SEQ or len({source}) != {size}:")
            out.emit(indent + 1, f"raise FrameError('expected a list of {size} items')")
            parts = []
            for index, arg in enumerate(args):
                part = out.name("part")
                out.emit(indent, f"{part} = {source}[{index}]")
                parts.append(_emit_decode(arg, part, out, indent))
            return "(" + "".join(f"{p}, " for p in parts) + ")"
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        _register(annotation)
        tag = annotation.__name__
        out.emit(
            indent,
            f"if type({source}) not in _SEQ or not {source} or {source}[0] != {tag!r}:",
        )
        out.emit(indent + 1, f"raise FrameError('expected a {tag}')")
        return f"_DECODERS[{tag!r}]({source})"
    _encoder, decoder = _compile(annotation)  # raises _Unsupported for foreign types
    return f"{_bind('decode', decoder)}({source})"


def _encode_expression(annotation: Any, value: str) -> str | None:
    """An expression encoding the plain name ``value``, or None if it is msgpack-ready."""
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        _register(annotation)
        return f"_encode_{annotation.__name__}({value})"
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _encode_expression(args[0], "x")
            return None if item is None else f"[{item} for x in {value}]"
    encoder, _decoder = _compile(annotation)
    return None if encoder is None else f"{_bind('encode', encoder)}({value})"


def _generate(cls: type, tag: str, fields: list[tuple[str, Any]]) -> tuple[_Encoder, _Decoder]:
    """Generate and compile ``cls``'s encoder and decoder."""
    class_name = _bind("cls", cls)
    out = _Writer()
    arity = len(fields) + 1
    out.emit(0, f"def _decode_{tag}(value):")
    out.emit(1, f"if len(value) != {arity}:")
    out.emit(2, f"raise FrameError(f'{tag} has {arity - 1} fields, got {{len(value) - 1}}')")
    arguments = []
    # Keyword-only classes (configurations) need names; messages are built positionally,
    # which is cheaper on the replication path.
    keywords = any(f.kw_only for f in dataclasses.fields(cls))
    for index, (name, annotation) in enumerate(fields, start=1):
        local = out.name("field")
        out.emit(1, f"{local} = value[{index}]")
        decoded = _emit_decode(annotation, local, out, 1)
        arguments.append(f"{name}={decoded}" if keywords else decoded)
    out.emit(1, f"return {class_name}({', '.join(arguments)})")
    items = []
    for name, annotation in fields:
        expression = _encode_expression(annotation, f"message.{name}")
        items.append(f"message.{name}" if expression is None else expression)
    out.emit(0, f"def _encode_{tag}(message):")
    out.emit(1, f"return [{tag!r}, {', '.join(items)}]" if items else f"return [{tag!r}]")
    local_names: dict[str, Any] = {}
    exec("\n".join(out.lines), _NAMESPACE, local_names)  # the source is built above
    encode = local_names[f"_encode_{tag}"]
    _NAMESPACE[f"_encode_{tag}"] = encode
    return encode, local_names[f"_decode_{tag}"]


def _placeholder(value: Any) -> Any:  # pragma: no cover - replaced before use
    raise AssertionError("codec placeholder used")


def _build_registry() -> None:
    """Register every peer message (:data:`~dynamokv.impl.core.Message`) and, through their
    fields, every type they carry (versions, gossip and Merkle bodies, forwarded requests)."""
    for cls in typing.get_args(Message):
        _register(cls)


_build_registry()
