"""One error root: every exception class of the project descends from ``DynamoKVError``.

A caller catches "anything dynamokv refused on purpose" with one ``except``; user input is
an :class:`~dynamokv.spec.errors.ArgumentError` with a message naming the value, never an
:class:`~dynamokv.spec.errors.InvariantError` (which means a bug in dynamokv).
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest
from dynamokv.spec import errors
from dynamokv.spec.errors import ArgumentError, DynamoKVError, InvariantError, invariant

PACKAGES = ("dynamokv.spec", "dynamokv.proofs", "dynamokv.impl")


def _modules() -> Iterator[ModuleType]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        yield package
        for info in pkgutil.walk_packages(package.__path__, prefix=name + "."):
            if info.name.endswith("__main__"):
                continue
            yield importlib.import_module(info.name)


def _exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module in _modules():
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def test_every_exception_class_descends_from_the_root() -> None:
    classes = _exception_classes()
    assert len(classes) >= 20, "the walk found too few classes to be looking at the project"
    strays = [
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, DynamoKVError)
    ]
    assert strays == [], "exception classes outside DynamoKVError: " + ", ".join(strays)


def test_the_walk_would_see_a_stray_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: a module defining a foreign exception class is reported."""
    stray = ModuleType("dynamokv.impl._stray_for_test")
    exec("class StrayError(Exception):\n    pass\n", stray.__dict__)
    stray.StrayError.__module__ = stray.__name__
    monkeypatch.setitem(sys.modules, stray.__name__, stray)
    real_modules = _modules

    def with_stray() -> Iterator[ModuleType]:
        yield from real_modules()
        yield stray

    monkeypatch.setattr(sys.modules[__name__], "_modules", with_stray)
    names = [f"{c.__module__}.{c.__qualname__}" for c in _exception_classes()]
    assert "dynamokv.impl._stray_for_test.StrayError" in names


def test_invariant_raises_even_under_python_dash_o() -> None:
    with pytest.raises(InvariantError, match="boom"):
        invariant(False, "boom")
    invariant(True, "never raised")


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        ("NodeConfig(n=3, r=4)", "r must be in 1..n=3, got r=4"),
        ("NodeConfig(n=3, w=0)", "w must be in 1..n=3, got w=0"),
        ("NodeConfig(n=0)", "n must be at least 1, got n=0"),
        ("NodeConfig(vector_clock_threshold=0)", "vector_clock_threshold must be at least 1"),
        ("MemberConfig(merkle_depth=17)", "merkle_depth must be in 0..16, got 17"),
        ("GossipConfig(gossip_period_ticks=0)", "gossip_period_ticks must be at least 1"),
        ("PhiConfig(threshold=0)", "threshold must be positive"),
        (
            "AntiEntropyConfig(exchange_timeout_ticks=0)",
            "exchange_timeout_ticks must be at least 1",
        ),
    ],
)
def test_user_input_is_an_argument_error_naming_the_value(build: str, fragment: str) -> None:
    from dynamokv.impl import core

    with pytest.raises(ArgumentError, match=fragment.replace(".", r"\.")) as caught:
        eval(build, vars(core))  # the expressions above, over the core's public names
    assert not isinstance(caught.value, InvariantError)


@pytest.mark.parametrize(
    "build",
    [
        "NodeConfig(3, 2, 2)",
        "MemberConfig(None)",
        "AntiEntropyConfig(2)",
        "GossipConfig(10)",
        "PhiConfig(8.0)",
    ],
)
def test_options_are_keyword_only(build: str) -> None:
    from dynamokv.impl import core

    with pytest.raises(TypeError, match="positional"):
        eval(build, vars(core))


@pytest.mark.parametrize(
    ("build", "option"),
    [
        ("NodeConfig()", "r"),
        ("MemberConfig()", "merkle_depth"),
        ("AntiEntropyConfig()", "exchange_timeout_ticks"),
        ("GossipConfig()", "gossip_period_ticks"),
        ("PhiConfig()", "threshold"),
    ],
)
def test_options_cannot_be_changed_once_checked(build: str, option: str) -> None:
    """Options are checked when they are made: one changed afterwards would skip the
    check (an R above N, a Merkle depth of 99) and reach every node given the same
    options. So options are frozen."""
    from dynamokv.impl import core

    options = eval(build, vars(core))
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(options, option, 0)


def test_the_root_module_exports_what_it_defines() -> None:
    public = {
        name
        for name, value in vars(errors).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == errors.__name__
    }
    assert public == set(errors.__all__)
