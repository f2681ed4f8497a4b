"""The HTTP API: status codes, headers, bad input, and the OpenAPI document.

Bad input is a 4xx with one line of JSON ``{"error": ...}``, and the node stays up.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dynamokv.impl.client import AsyncClient
from dynamokv.impl.runtime import ROUTES, decode_context, encode_context, openapi_document
from dynamokv.impl.storage import KEY_BYTES_MAX
from node_helpers import open_cluster
from runtime_helpers import trio_test

_BAD_REQUESTS = [
    ("GET", "/kv/", {}, b"", 400),
    ("GET", "/kv/k?r=0", {}, b"", 400),
    ("GET", "/kv/k?r=4", {}, b"", 400),
    ("GET", "/kv/k?r=two", {}, b"", 400),
    ("GET", "/kv/k?r=%C2%B2", {}, b"", 400),  # a Unicode digit is not a quorum
    ("PUT", "/kv/k?w=9", {}, b"v", 400),
    ("GET", "/kv/k?trace=maybe", {}, b"", 400),
    ("PUT", "/kv/k", {"X-Dynamo-Context": "!!!not base64!!!"}, b"v", 400),
    ("PUT", "/kv/k", {"X-Dynamo-Context": "kZKmbm9kZS0x"}, b"v", 400),  # truncated msgpack
    ("DELETE", "/kv/k", {"X-Dynamo-Context": encode_context({"a": 1})[:-2]}, b"", 400),
    # A counter no node issues: taken, it would push the coordinator's counters past
    # what the contexts of its later versions may hold.
    ("PUT", "/kv/k", {"X-Dynamo-Context": encode_context({"node-1": (1 << 62) + 1})}, b"v", 400),
    # Node names no node has: stored, they would make every replica refuse the put.
    ("PUT", "/kv/k", {"X-Dynamo-Context": encode_context({"": 1})}, b"v", 400),
    ("PUT", "/kv/k", {"X-Dynamo-Context": encode_context({"n" * 256: 1})}, b"v", 400),
    ("GET", "/kv/" + "a" * (KEY_BYTES_MAX + 1), {}, b"", 414),
    ("PUT", "/kv/big", {}, b"x" * ((1 << 20) + 1), 413),
    ("POST", "/kv/k", {}, b"v", 405),
    ("PUT", "/health", {}, b"", 405),
    ("GET", "/nope", {}, b"", 404),
    ("GET", "/cluster/ring?key=", {}, b"", 400),
]


@trio_test
async def test_bad_requests_get_a_one_line_json_4xx_and_the_node_stays_up(
    tmp_path: Path,
) -> None:
    async with open_cluster(tmp_path) as nodes, AsyncClient(nodes[0].http) as client:
        for method, target, headers, body, status in _BAD_REQUESTS:
            got, response_headers, data = await client.request(
                method, target, headers=headers, body=body
            )
            assert got == status, (method, target, data)
            assert data.endswith(b"\n") and data.count(b"\n") == 1, data
            assert set(json.loads(data)) == {"error"}, data
            assert response_headers["content-type"] == "application/json"
        assert (await client.json("/health"))["status"] == "ok"


@trio_test
async def test_get_statuses_headers_and_json(tmp_path: Path) -> None:
    async with open_cluster(tmp_path) as nodes, AsyncClient(nodes[0].http) as client:
        status, headers, body = await client.request("GET", "/kv/absent")
        assert status == 404 and "x-dynamo-context" in headers
        status, headers, _ = await client.request("PUT", "/kv/a%2Fb%00c", body=b"\xff\x00")
        assert status == 204
        context = headers["x-dynamo-context"]
        assert dict(decode_context(context))  # the new version's clock
        status, headers, body = await client.request("GET", "/kv/a%2Fb%00c")
        assert (status, body) == (200, b"\xff\x00")
        assert headers["content-type"] == "application/octet-stream"
        # A second blind put: two live siblings, 300 with JSON.
        await client.request("PUT", "/kv/a%2Fb%00c", body=b"two")
        status, headers, body = await client.request("GET", "/kv/a%2Fb%00c")
        assert status == 300
        document = json.loads(body)
        assert len(document["siblings"]) == 2
        assert {s["value"] for s in document["siblings"]} == {None, "two"}  # \xff: not UTF-8
        # Delete with the context: only a tombstone left, 404; JSON shows it.
        status, _, _ = await client.request(
            "DELETE", "/kv/a%2Fb%00c", headers={"X-Dynamo-Context": document["context"]}
        )
        assert status == 204
        status, _, _ = await client.request("GET", "/kv/a%2Fb%00c")
        assert status == 404
        status, _, body = await client.request(
            "GET", "/kv/a%2Fb%00c", headers={"Accept": "application/json"}
        )
        siblings = json.loads(body)["siblings"]
        assert status == 200 and [s["tombstone"] for s in siblings] == [True]


@trio_test
async def test_blind_puts_of_large_values_are_refused_before_a_keys_versions_outgrow_a_record(
    tmp_path: Path,
) -> None:
    """A key's versions are one record of the store (4 MiB at most); five blind puts of
    1 MiB to one key would take it past that on every replica. A coordinator refuses the
    put that would take the key past its share of the bound (a 503 saying what to do),
    and every node stays up."""
    value = b"v" * (1 << 20)
    async with open_cluster(tmp_path) as nodes:
        statuses = []
        for index in range(6):
            async with AsyncClient(nodes[index % len(nodes)].http) as client:
                status, _, body = await client.request("PUT", "/kv/big", body=value)
                statuses.append(status)
                if status != 204:
                    assert status == 503 and b"too large" in body, body
        assert statuses[0] == 204 and 503 in statuses
        for node in nodes:
            async with AsyncClient(node.http) as client:
                assert (await client.json("/health"))["status"] == "ok"
                status, _, body = await client.request("GET", "/kv/big?r=3")
                assert status in (200, 300) and len(body) >= len(value)


@trio_test
async def test_trace_narrates_the_request_journey(tmp_path: Path) -> None:
    async with open_cluster(tmp_path) as nodes, AsyncClient(nodes[0].http) as client:
        status, _, body = await client.request("PUT", "/kv/cart?trace=1", body=b"milk")
        assert status == 200
        steps = json.loads(body)["trace"]
        names = [step["step"] for step in steps]
        assert names == [
            "md5",
            "partition",
            "preference_list",
            "coordinator",
            "wal",
            "replicate",
            "ack",
        ]
        wal = steps[4]
        assert wal["fsync_ms"] is not None and wal["fsync_ms"] >= 0
        replicate = steps[5]
        assert len(replicate["to"]) == 2 and replicate["w"] == 2
        assert steps[-1]["ok"] and steps[-1]["acks"] >= 2
        status, _, body = await client.request("GET", "/kv/cart?trace=1")
        document = json.loads(body)
        assert [s["step"] for s in document["trace"]][-2:] == ["read", "ack"]
        ring = await client.json("/cluster/ring?key=cart")
        assert ring["key"]["partition"] == steps[1]["partition"]
        assert ring["key"]["preference_list"] == steps[2]["nodes"]


@trio_test
async def test_cluster_endpoints_and_metrics(tmp_path: Path) -> None:
    async with open_cluster(tmp_path) as nodes, AsyncClient(nodes[1].http) as client:
        await client.put("m", b"1")
        await client.get("m")
        members = await client.json("/cluster/members")
        assert [m["name"] for m in members["members"]] == ["node-1", "node-2", "node-3"]
        assert [m["self"] for m in members["members"]] == [False, True, False]
        ring = await client.json("/cluster/ring")
        assert ring["partition_count"] == 64 and ring["n"] == 3
        assert sum(ring["owners"].values()) == 64
        status, headers, body = await client.request("GET", "/metrics")
        text = body.decode()
        assert status == 200 and headers["content-type"].startswith("text/plain")
        for name in (
            'dynamokv_requests_total{op="put",outcome="ok"} 1',
            'dynamokv_request_seconds_bucket{op="get",le="+Inf"} 1',
            "dynamokv_hints_pending 0",
            "dynamokv_read_repairs_total",
            "dynamokv_wal_fsyncs_total",
            "dynamokv_wal_group_commit_persists_bucket",
            "dynamokv_peer_frames_sent_total",
        ):
            assert name in text, name


def test_openapi_describes_every_route() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    for method, path in ROUTES:
        assert method.lower() in document["paths"][path], (method, path)
    described = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert described == set(ROUTES)
    json.dumps(document)  # serializable


@pytest.mark.parametrize("text", ["", encode_context({"a": 1, "b": 2}), encode_context(())])
def test_context_round_trips(text: str) -> None:
    assert encode_context(decode_context(text)) == (text or encode_context(()))


def test_a_context_holds_the_counters_a_node_issues_after_the_largest_a_put_may_name() -> None:
    """A coordinator issues (and leases, durably) counters above its put's context: the
    contexts of those later versions still decode."""
    from dynamokv.impl.runtime._api import PUT_CONTEXT_COUNTER_MAX

    issued_later = PUT_CONTEXT_COUNTER_MAX + (1 << 40)  # more than a node leases in a life
    assert decode_context(encode_context({"a": issued_later})) == (("a", issued_later),)
