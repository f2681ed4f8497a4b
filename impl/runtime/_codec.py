"""The wire codec: every frozen message dataclass of the core, to msgpack values and back.

Frames (:mod:`~dynamokv.impl.runtime._frames`) carry one msgpack value; this module decides
which value. A message is encoded as a list whose first item is a *type tag* (the class
name, ``"WriteRequest"``) and whose other items are the fields in declaration order::

    WriteRequest("n1", "n2", 7, b"k", (Version(b"v", ("n1", 3), ()),), None)
    -> ["WriteRequest", "n1", "n2", 7, b"k", [["Version", b"v", ["n1", 3], []]], None]

Why generic: the core grows message types (gossip, Merkle exchanges, partition transfer,
issue 5) and the runtime must not need a hand-written encoder for each. The registry is
built once, at import, from the ``__all__`` of every module of :mod:`dynamokv.impl.core`
(plus :class:`dynamokv.spec.kv.Version`): every *frozen* dataclass whose fields are plain
(``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``Literal`` values, tuples,
unions, and other registered dataclasses) gets a tag and a compiled encoder and decoder.
A dataclass with any other field type (a ``dict``, a callable) is simply not a message.
Tags are class names, so they stay stable while a class keeps its name, and two registered
classes with one name are refused at import (a bug to fix by renaming).

Why positional lists and not maps: a map repeats every field name in every message; on the
replication path that is most of the bytes. The price is that adding a field is a wire
change: the frame version (:data:`~dynamokv.impl.runtime.FRAME_VERSION`) must be bumped.

Why the decoder checks every field's type: a peer's bytes are untrusted input (DESIGN.md
section 5: a malformed frame closes that connection, the node keeps running). A message
that decodes to the right class with, say, a ``str`` key would otherwise crash the core
deep inside a step. So decoding validates against the annotations and raises
:class:`~dynamokv.impl.runtime.FrameError` for an unknown tag, a wrong arity, a wrong type
or an invalid value (a dataclass whose ``__post_init__`` refuses it).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import types
import typing
from collections.abc import Callable
from typing import Any

import dynamokv.impl.core as _core_package
from dynamokv.spec.kv import Version

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


class _Unsupported(Exception):
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
        compiled = [_compile(hints[name]) for name in names]
    except _Unsupported:
        del _ENCODERS[cls]
        raise
    encoders = [e for e, _ in compiled]
    decoders = [d for _, d in compiled]
    arity = len(names) + 1
    getters = [_getter(name) for name in names]
    pairs = list(zip(getters, encoders, strict=True))
    plain = all(e is None for e in encoders)

    if plain:

        def encode(message: Any) -> Any:
            return [tag, *[get(message) for get in getters]]

    else:

        def encode(message: Any) -> Any:
            return [tag, *[get(message) if e is None else e(get(message)) for get, e in pairs]]

    indexed = list(enumerate(decoders, start=1))

    def decode(value: Any) -> Any:
        if len(value) != arity:
            raise FrameError(f"{tag} has {arity - 1} fields, got {len(value) - 1}")
        return cls(*[d(value[i]) for i, d in indexed])

    _ENCODERS[cls] = encode
    _DECODERS[tag] = decode
    MESSAGE_TYPES[tag] = cls


def _placeholder(value: Any) -> Any:  # pragma: no cover - replaced before use
    raise AssertionError("codec placeholder used")


def _getter(name: str) -> Callable[[Any], Any]:
    def get(message: Any) -> Any:
        return getattr(message, name)

    return get


def _build_registry() -> None:
    candidates: list[type] = [Version]
    for info in pkgutil.iter_modules(_core_package.__path__):
        module = importlib.import_module(f"{_core_package.__name__}.{info.name}")
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name, None)
            if isinstance(value, type) and dataclasses.is_dataclass(value):
                candidates.append(value)
    for cls in candidates:
        try:
            _register(cls)
        except _Unsupported:
            continue


_build_registry()
