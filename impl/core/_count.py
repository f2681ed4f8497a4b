"""Successive integers, for ids and turns kept in a node's state.

An anti-entropy exchange, a request within it, or a round of root comparisons is named
by the next integer of its owner's :class:`Count`: a reply is matched to what it
answers, and nothing else reads the number. A round robin takes its turns from one too,
and a node's request ops their ids, from a random start per incarnation. This is
``itertools.count()`` as a plain object, because whole nodes are pickled (the explorer
identifies and stores states by their pickle) and itertools' iterators lose their
pickling (deprecated in Python 3.12, removed in 3.14).
"""

from __future__ import annotations

__all__ = ["Count"]


class Count:
    """``next(count)`` gives ``start``, ``start + 1``, ... (0, 1, 2, ... by default): each
    number once."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 0) -> None:
        self._next = start

    def __next__(self) -> int:
        number = self._next
        self._next = number + 1
        return number
