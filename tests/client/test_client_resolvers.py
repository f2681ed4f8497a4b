"""The client's resolvers and helpers, without a node (the node tests use the client too)."""

from __future__ import annotations

import pytest
from dynamokv.impl.client import (
    ClientError,
    GetReply,
    Sibling,
    last_write_wins,
    split_address,
    union,
)


def _sibling(value: bytes | None, **clock: int) -> Sibling:
    node, counter = max(clock.items(), key=lambda item: item[1])
    return Sibling(value, clock, (node, counter))


def test_union_keeps_every_item_of_every_sibling() -> None:
    """Dynamo §4.4: the cart's union merge never loses an added item. Interview Q5."""
    siblings = [_sibling(b"milk\neggs", a=1), _sibling(b"eggs\nbread", b=1), _sibling(None, c=1)]
    assert union(siblings) == b"bread\neggs\nmilk"
    assert union([_sibling(None, a=1)]) is None


def test_last_write_wins_discards_a_concurrent_update() -> None:
    """Interview Q5: LWW keeps one sibling; the other customer's item is silently gone."""
    siblings = [_sibling(b"milk", a=3), _sibling(b"eggs", b=1)]
    assert last_write_wins(siblings) == b"milk"
    assert last_write_wins([_sibling(None, a=5), _sibling(b"x", b=1)]) is None
    assert last_write_wins([]) is None


def test_get_reply_value_refuses_to_pick_among_siblings() -> None:
    reply = GetReply(b"k", (_sibling(b"1", a=1), _sibling(b"2", b=1)), "ctx")
    assert reply.values == (b"1", b"2")
    with pytest.raises(ClientError):
        _ = reply.value
    assert GetReply(b"k", (_sibling(None, a=1),), "").value is None


@pytest.mark.parametrize(
    ("address", "parts"),
    [
        ("127.0.0.1:7101", ("127.0.0.1", 7101, False)),
        ("http://localhost:80/", ("localhost", 80, False)),
        ("https://[::1]:8443", ("::1", 8443, True)),
    ],
)
def test_split_address(address: str, parts: tuple[str, int, bool]) -> None:
    assert split_address(address) == parts


@pytest.mark.parametrize("address", ["", "host", "host:", "host:0", "host:99999", ":80"])
def test_split_address_refuses_bad_addresses(address: str) -> None:
    with pytest.raises(ValueError):
        split_address(address)
