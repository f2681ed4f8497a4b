"""Evaluate a spec function's contracts one by one, to tell *which* contract rejects a call.

``pytest.raises(ViolationError)`` says only that some contract refused a call. A
precondition weakened by a bug (``0 < r`` made ``0 <= r``) goes unnoticed when another
precondition, or a postcondition after the body, refuses the same call. These helpers
evaluate every contract on its own, the way icontract does before and after the body:

* :class:`Call`: arguments that are valid (no precondition rejects them, and the real
  call returns) or invalid in exactly one way (exactly the named precondition rejects
  them, and the real call raises ``ViolationError``);
* :class:`WrongResult`: a result that exactly one postcondition rejects (named the same
  way), while the real result of the same call passes them all.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import icontract
import pytest
from icontract._represent import represent_condition


def contract_source(contract: Any) -> str:
    """The condition's own lambda, as icontract prints it in a ``ViolationError``
    (``inspect.getsource`` would return the rest of the decorated function with it)."""
    return represent_condition(contract.condition)


def _holds(contract: Any, values: Mapping[str, Any]) -> bool:
    """A contract's verdict on ``values``; a condition that raises rejects (icontract lets
    the exception through, so the call fails just the same)."""
    try:
        return bool(contract.condition(**{name: values[name] for name in contract.condition_args}))
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError):
        return False


def _bound(function: Callable[..., Any], arguments: Mapping[str, Any]) -> dict[str, Any]:
    bound = inspect.signature(function).bind(**arguments)
    bound.apply_defaults()
    return dict(bound.arguments)


def rejecting_preconditions(
    function: Callable[..., Any], arguments: Mapping[str, Any]
) -> list[str]:
    """The source of every precondition of ``function`` that ``arguments`` fail."""
    values = _bound(function, arguments)
    groups = getattr(function, "__preconditions__", [])
    return [
        contract_source(contract)
        for group in groups
        for contract in group
        if not _holds(contract, values)
    ]


def rejecting_postconditions(
    function: Callable[..., Any], arguments: Mapping[str, Any], result: Any
) -> list[str]:
    """The source of every postcondition of ``function`` that ``result`` fails."""
    values = {**_bound(function, arguments), "result": result}
    return [
        contract_source(contract)
        for contract in getattr(function, "__postconditions__", [])
        if not _holds(contract, values)
    ]


def _only(rejected: list[str], breaks: str, what: str) -> None:
    assert len(rejected) == 1, f"{what}: expected one contract naming {breaks!r}, got {rejected}"
    assert breaks in rejected[0], f"{what}: {rejected[0]!r} rejected it, not {breaks!r}"


@dataclass(frozen=True)
class Call:
    """Arguments for ``function``: valid (``breaks`` is None) or breaking exactly the one
    precondition whose source contains ``breaks``."""

    function: Callable[..., Any]
    arguments: Mapping[str, Any]
    breaks: str | None
    why: str

    def __str__(self) -> str:
        return f"{self.function.__name__}: {self.why}"


def check_call(call: Call) -> Any:
    """Assert the call's verdict, contract by contract and through the real call; return
    the real result of a valid call."""
    rejected = rejecting_preconditions(call.function, call.arguments)
    if call.breaks is None:
        assert rejected == [], f"{call}: valid, yet rejected by {rejected}"
        return call.function(**call.arguments)
    _only(rejected, call.breaks, str(call))
    with pytest.raises(icontract.ViolationError):
        call.function(**call.arguments)
    return None


@dataclass(frozen=True)
class WrongResult:
    """A call and a result the function must never return for it; ``breaks`` names the
    one postcondition that says so (None: checked by :func:`check_wrong_result` only as
    rejected by at least one)."""

    function: Callable[..., Any]
    arguments: Mapping[str, Any]
    wrong: Any
    why: str
    breaks: str | None = None

    def __str__(self) -> str:
        return f"{self.function.__name__}: {self.why}"


def check_wrong_result(row: WrongResult) -> None:
    """The wrong result is rejected (by exactly the named postcondition, when one is
    named) and the real result of the same call by none."""
    real = row.function(**row.arguments)
    assert real != row.wrong, f"{row}: the wrong result is the real one"
    assert rejecting_postconditions(row.function, row.arguments, real) == []
    rejected = rejecting_postconditions(row.function, row.arguments, row.wrong)
    if row.breaks is None:
        assert rejected, f"{row}: no postcondition rejects it"
    else:
        _only(rejected, row.breaks, str(row))
