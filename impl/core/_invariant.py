"""A never-stripped assertion for the core's invariants.

``assert`` disappears under ``python -O``, and the core's invariants (persist before
acknowledge, never issue a dot twice, stay within every named bound) must hold in
production too. An invariant that fails is a bug, so it raises and the node crashes;
operating errors (a timeout, a full hint store) are values, never exceptions.
"""

from __future__ import annotations

__all__ = ["CoreInvariantError", "invariant"]


class CoreInvariantError(AssertionError):
    """A core invariant failed: a bug in dynamokv, never an operating error."""


def invariant(condition: bool, message: str) -> None:
    """Raise :class:`CoreInvariantError` with ``message`` unless ``condition`` holds.

    Args:
        condition: what must be true.
        message: what went wrong; keep it a constant string on hot paths.
    """
    if not condition:
        raise CoreInvariantError(message)
