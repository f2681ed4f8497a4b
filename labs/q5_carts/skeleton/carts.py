"""Lab q5, shopping carts: union merge against last-write-wins (Dynamo §4.4).

Fill in the three functions below, part by part; each raises NotImplementedError
until you do. The clients of a simulated cluster call them for every cart they
update, so check 3.1 runs *your* resolvers while carts are written concurrently
across partitions. Check your work with `dynamokv lab check q5`.

A cart is its items, one per line (bytes, sorted). The docstrings are the
specification. The project's own answers live in spec/kv.py: reading it
spoils the lab.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# -- part 1: the two resolvers --------------------------------------------------------


def union_resolve(values: Iterable[bytes]) -> bytes:
    """The shopping cart's resolver (Dynamo §4.4, interview Q5): the union of items.

    A value is a set of items, one per line. Merging by union never loses an
    added item; a deleted item can resurface, which Amazon accepted for carts.
    """
    raise NotImplementedError("union_resolve")


def lww_resolve(versions: Iterable[tuple[int, bytes]]) -> bytes:
    """Last-write-wins: keep the value with the highest timestamp (ties: largest value).

    Interview Q5: with LWW, of two concurrent cart updates one is discarded, so an
    item a customer added can silently disappear.
    """
    raise NotImplementedError("lww_resolve")


# -- part 2: the client's read-resolve-write step -------------------------------------


def cart_update(
    siblings: Sequence[tuple[int, bytes]], item: bytes, stamp: int, *, last_write_wins: bool
) -> tuple[int, bytes]:
    """The shopping-cart client's read-resolve-write step (Dynamo §4.4, interview Q5).

    The client read the cart's siblings, each as ``(the timestamp its writer put in it,
    its items)``; it resolves them into one cart, with :func:`union_resolve` or, if
    ``last_write_wins``, with :func:`lww_resolve`; adds ``item``; and writes the result
    back, stamped with its own timestamp ``stamp``, under the context of what it read.

    Args:
        siblings: what the get returned, each sibling as ``(timestamp, items)``; empty
            for a cart that does not exist yet.
        item: the item to add (one line).
        stamp: the client's timestamp for the new value.
        last_write_wins: resolve by timestamp instead of by union.

    Returns:
        ``(stamp, items)``: the value to write back, items one per line, sorted.
    """
    raise NotImplementedError("cart_update")
