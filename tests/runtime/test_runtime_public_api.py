"""The runtime package's public names are exactly its ``__all__`` (trio and Hypothesis style)."""

from __future__ import annotations

import types

import dynamokv.impl.runtime as runtime


def test_public_names_match_all() -> None:
    public = {
        name
        for name, value in vars(runtime).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    public.discard("annotations")  # from __future__
    assert public == set(runtime.__all__)
    assert runtime.__all__ == sorted(runtime.__all__, key=lambda name: (not name.isupper(), name))


def test_every_public_callable_and_class_has_a_docstring() -> None:
    for name in runtime.__all__:
        value = getattr(runtime, name)
        if isinstance(value, type) or (callable(value) and not hasattr(value, "__origin__")):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
