"""The peer fault layer (``_faults.py``): specifications, partitions, delays, and a node
that applies them to its real peer traffic (in-process nodes on loopback)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import trio
from dynamokv.impl.client import AsyncClient
from dynamokv.impl.runtime._faults import (
    DELAY_MS_MAX,
    DELAYED_MESSAGES_MAX,
    FaultLayer,
    FaultSpecError,
    PeerFaults,
    parse_peer_faults,
    partition_faults,
)
from node_helpers import open_cluster


async def _request_json(
    client: AsyncClient, method: str, path: str, document: object = None
) -> tuple[int, Any]:
    body = None if document is None else json.dumps(document).encode()
    status, _headers, data = await client.request(method, path, body=body)
    return status, json.loads(data)


def test_a_fault_specification_round_trips_through_json() -> None:
    faults = parse_peer_faults(
        {"drop_to": ["b"], "drop_from": ["c", "b"], "delay_ms": {"d": 250.0, "e": 0}}
    )
    assert faults == PeerFaults(frozenset({"b"}), frozenset({"b", "c"}), {"d": 250})
    assert parse_peer_faults(faults.to_json()) == faults
    assert parse_peer_faults({}) == PeerFaults() and not PeerFaults().active


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"drop": ["b"]},
        {"drop_to": "b"},
        {"drop_to": [""]},
        {"drop_to": ["\n"]},
        {"drop_to": [1]},
        {"delay_ms": {"b": -1}},
        {"delay_ms": {"b": DELAY_MS_MAX + 1}},
        {"delay_ms": {"b": 2.5}},
        {"delay_ms": {"b": True}},
        {"delay_ms": {"b": float("inf")}},
        {"delay_ms": {"b": float("nan")}},
        {"delay_ms": ["b"]},
    ],
)
def test_a_bad_fault_specification_is_refused(document: object) -> None:
    with pytest.raises(FaultSpecError):
        parse_peer_faults(document)


def test_a_symmetric_partition_cuts_both_directions_between_groups_only() -> None:
    faults = partition_faults([["a", "b"], ["c", "d", "e"]])
    assert faults["a"].drop_to == faults["a"].drop_from == {"c", "d", "e"}
    assert faults["e"].drop_to == faults["e"].drop_from == {"a", "b"}
    three = partition_faults([["a"], ["b"], ["c"]])
    assert three["b"].drop_to == {"a", "c"}
    assert "z" not in partition_faults([["a"], ["b"]])  # a node in no group is untouched


def test_a_one_way_partition_cuts_one_direction_at_both_ends() -> None:
    faults = partition_faults([["a"], ["b", "c"]], one_way=True)
    assert faults["a"] == PeerFaults(drop_to=frozenset({"b", "c"}))
    assert faults["b"] == PeerFaults(drop_from=frozenset({"a"}))
    delayed = partition_faults([["a"], ["b"]], one_way=True, delay_ms=300)
    assert delayed["a"].delay_ms == {"b": 300} and not delayed["b"].active


@pytest.mark.parametrize(
    ("groups", "options"),
    [
        ([["a", "b"]], {}),
        ([["a"], []], {}),
        ([["a", "b"], ["b"]], {}),
        ([["a"], ["b"], ["c"]], {"one_way": True}),
        ([["a"], ["b"]], {"delay_ms": 0}),
    ],
)
def test_a_bad_partition_is_refused(groups: list[list[str]], options: dict[str, object]) -> None:
    with pytest.raises(FaultSpecError):
        partition_faults(groups, **options)  # type: ignore[arg-type]


def test_delayed_messages_come_out_in_due_order_and_the_queue_is_bounded() -> None:
    layer = FaultLayer(enabled=True)
    layer.set(PeerFaults(delay_ms={"slow": 500, "slower": 900}))
    layer.hold("slower", "x", now=0.0)
    layer.hold("slow", "y", now=0.1)
    assert layer.next_due() == pytest.approx(0.6)
    assert list(layer.due(now=0.5)) == []
    assert list(layer.due(now=0.95)) == [("slow", "y"), ("slower", "x")]
    for index in range(DELAYED_MESSAGES_MAX):
        assert layer.hold("slow", index, now=1.0)
    assert not layer.hold("slow", "one too many", now=1.0)
    assert layer.stats.delay_overflow_count == 1


def test_a_node_refuses_faults_unless_its_configuration_enables_them(tmp_path: Path) -> None:
    async def main() -> None:
        async with open_cluster(tmp_path, 1, n=1, r=1, w=1) as nodes:
            async with AsyncClient(nodes[0].http) as client:
                status, document = await _request_json(
                    client, "PUT", "/admin/faults", {"drop_to": ["node-2"]}
                )
                assert status == 403 and "off" in document["error"]
            with pytest.raises(PermissionError):
                nodes[0].process.set_peer_faults(PeerFaults(drop_to=frozenset({"x"})))

    trio.run(main)


def test_a_partitioned_coordinator_writes_with_the_replicas_it_reaches_and_heals(
    tmp_path: Path,
) -> None:
    """node-1 cut off from node-2 (both ways) still gets W=2 with node-3; node-2 never
    sees the write until the heal, then a get with R=3 repairs it (read repair)."""

    async def main() -> None:
        async with open_cluster(tmp_path, 3, fault_injection=True) as nodes:
            one, two = nodes[0].process, nodes[1].process
            async with AsyncClient(nodes[0].http) as client:
                status, document = await _request_json(
                    client, "PUT", "/admin/faults", {"drop_to": ["node-2"], "drop_from": ["node-2"]}
                )
                assert status == 200 and document["drop_to"] == ["node-2"]
                await client.put("during", b"partition", w=2)
                assert one.faults.stats.dropped_outbound_count >= 1
                assert two.node.stored_versions(b"during") == ()
                status, document = await _request_json(client, "DELETE", "/admin/faults")
                assert status == 200 and document["drop_to"] == []
                reply = await client.get("during", r=3)
                assert reply.values == (b"partition",)
            with trio.fail_after(10):
                while not two.node.stored_versions(b"during"):
                    await trio.sleep(0.02)

    trio.run(main)


def test_a_delayed_peer_gets_every_message_later_and_in_order(tmp_path: Path) -> None:
    async def main() -> None:
        async with open_cluster(tmp_path, 3, fault_injection=True) as nodes:
            one = nodes[0].process
            one.set_peer_faults(PeerFaults(delay_ms={"node-2": 150, "node-3": 150}))
            async with AsyncClient(nodes[0].http) as client:
                for index in range(5):
                    await client.put(f"slow-{index}", b"v", w=1)
            assert one.faults.stats.delayed_count >= 5
            for other in nodes[1:]:
                with trio.fail_after(10):
                    while not all(
                        other.process.node.stored_versions(f"slow-{i}".encode()) for i in range(5)
                    ):
                        await trio.sleep(0.02)

    trio.run(main)
