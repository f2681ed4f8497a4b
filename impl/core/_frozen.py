"""A cheaper constructor for the hot frozen dataclasses of the core.

The core's messages, events, effects and gossip entries are frozen, slotted dataclasses:
immutable, typed, compared and hashed by value. Their generated ``__init__`` stores each
field with ``object.__setattr__(self, name, value)``, which looks the name up on the type
and then calls the slot's descriptor: about three times the cost of a plain assignment,
and a simulated delivery builds several such objects (the message, the persists, timers,
gossip digests and entries).

:func:`fast_init` replaces that ``__init__`` with one of the same signature that calls
each slot's descriptor directly (the slot's ``__set__``, bound once when the class is
made). Nothing else changes: the class is still the frozen dataclass it was declared as,
assignment after construction still raises ``FrozenInstanceError``, and ``replace``,
equality, hashing, ``repr`` and pickling are the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["fast_init"]

T = TypeVar("T")


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` an ``__init__`` that sets its slots directly.

    Only plain fields are supported (a default value, or none; keyword-only or not):
    a ``default_factory``, an ``InitVar`` or a ``__post_init__`` is refused, so the
    replacement can never behave differently from the generated constructor.

    Raises:
        TypeError: ``cls`` is not a frozen, slotted dataclass of plain fields.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__") or any(
        isinstance(value, dataclasses.InitVar) for value in cls.__annotations__.values()
    ):
        raise TypeError(f"{cls.__name__}: __post_init__ and InitVar are not supported")
    namespace: dict[str, Any] = {}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    fields: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(cls)  # type: ignore[arg-type]
    for field in fields:
        if not field.init or field.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{cls.__name__}.{field.name}: only plain fields are supported")
        name = field.name
        parameter = name
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            parameter = f"{name}=_default_{name}"
        (keyword if field.kw_only else positional).append(parameter)
        namespace[f"_set_{name}"] = getattr(cls, name).__set__
        body.append(f"    _set_{name}(self, {name})")
    parameters = ["self", *positional]
    if keyword:
        parameters += ["*", *keyword]
    source = f"def __init__({', '.join(parameters)}):\n" + ("\n".join(body) if body else "    pass")
    # The source is built from the class's own field names only; the file name marks
    # the constructor as this one (tests check which classes have it).
    exec(compile(source, f"<fast_init {cls.__qualname__}>", "exec"), namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = {field.name: field.type for field in fields} | {"return": None}
    setattr(cls, "__init__", init)  # noqa: B010 (mypy refuses assigning to a method)
    return cls
