"""A never-stripped assertion for invariants that must hold in production.

``assert`` disappears under ``python -O``. The store's invariants guard what goes to disk
(pair assertions: checksum before write, verify after read), so they must not.
"""

from __future__ import annotations

from ._errors import StorageInvariantError


def invariant(condition: bool, message: str) -> None:
    """Raise :class:`StorageInvariantError` with ``message`` unless ``condition`` holds.

    Args:
        condition: What must be true.
        message: What went wrong, for the crash report. Keep it a constant string on hot
            paths, so that building it costs nothing.
    """
    if not condition:
        raise StorageInvariantError(message)
