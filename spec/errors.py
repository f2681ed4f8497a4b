"""The one root of every error dynamokv raises on purpose, and the never-stripped assertion.

Why a module of its own, below every layer: the spec, the core, the storage, the
runtime, the simulator, the client and the CLI each reject bad input and each can find a
bug in itself, and a caller should be able to catch "anything dynamokv refused" with one
``except DynamoKVError``, whichever layer refused. A class defined in one layer could not
be the root of another layer's errors without breaking the import rules
(``tests/test_layering.py``), so the root lives here, in the bottom layer's package,
importing nothing of the project; every layer may import this module (the storage layer
this module and nothing else of the spec).

The families, after Hypothesis's ``InvalidArgument`` and TigerBeetle's split between
operating errors and bugs:

* :class:`ArgumentError` -- the caller's input is unusable (a config value, a CLI flag, a
  constructor argument). The message names the argument, the value given and what is
  allowed, in one line, so the CLI can print it as it is.
* :class:`InvariantError` -- a bug in dynamokv. Raised only through :func:`invariant`,
  which ``python -O`` does not strip. Never raised for input a user could have typed.
* :class:`StorageError` -- the disk failed (full, a failed ``fsync``, a damaged file): an
  operating error the caller handles.
* :class:`QuorumError` -- fewer replicas answered than the request needed (Dynamo §4.5).
* :class:`ProtocolError` -- a peer or a client broke the wire protocol (a malformed
  frame, an unknown message); that connection is closed, the node keeps running.

Each layer subclasses these for its own vocabulary (``StorageArgumentError``,
``MembershipArgumentError``, ``ConfigError``, ``FrameError``, ...), and
``tests/test_errors.py`` checks that every exception class in the project descends from
:class:`DynamoKVError`.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ArgumentError",
    "DynamoKVError",
    "InvariantError",
    "ProtocolError",
    "QuorumError",
    "StorageError",
    "check_at_least",
    "invariant",
]


class DynamoKVError(Exception):
    """The root: every error dynamokv raises on purpose is one of these."""


class ArgumentError(DynamoKVError, ValueError):
    """An argument or a configuration value is unusable; the message says which and why.

    Also a :class:`ValueError`, so code that validates generically keeps working.
    """


class InvariantError(DynamoKVError, AssertionError):
    """An invariant does not hold: a bug in dynamokv, never an operating error."""


class StorageError(DynamoKVError):
    """The disk could not do what was asked (an operating error, handled by the caller)."""


class QuorumError(DynamoKVError):
    """Fewer replicas answered than the request's R or W (Dynamo §4.5)."""


class ProtocolError(DynamoKVError):
    """A peer or a client sent something the protocol does not allow."""


def invariant(condition: bool, message: str) -> None:
    """Raise :class:`InvariantError` with ``message`` unless ``condition`` holds.

    ``assert`` disappears under ``python -O``, and the invariants of the core and the
    store (persist before acknowledging, never issue a dot twice, checksum before a write
    and verify after a read, stay within every named bound) must hold in production too.

    Args:
        condition: what must be true.
        message: what went wrong; keep it a constant string on hot paths, so that
            building it costs nothing.
    """
    if not condition:
        raise InvariantError(message)


def check_at_least(options: object, names: Iterable[str], minimum: int = 1) -> None:
    """Raise :class:`ArgumentError` unless each attribute ``names`` of ``options`` is at least ``minimum``.

    For the bounds of a configuration dataclass, in its ``__post_init__``; the message
    names the field and the value given: ``"hints_count_max must be at least 1, got 0"``.
    """
    for name in names:
        value = getattr(options, name)
        if value < minimum:
            raise ArgumentError(f"{name} must be at least {minimum}, got {value}")
