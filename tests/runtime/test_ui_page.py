"""The live view ``/ui``: a self-contained page, and its JSON state of hints and Merkle counters.

The browser test (``tests/docs/test_ui_browser.py``) drives the page in Chromium; these
tests check the route itself quickly: the page loads nothing from anywhere else, and
``/ui?state=1`` counts the hints a node keeps for an owner that is down, per owner, in
agreement with ``/metrics``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import trio
from dynamokv.impl.client import AsyncClient
from node_helpers import open_cluster
from runtime_helpers import trio_test

SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@trio_test
async def test_ui_page_is_self_contained_html(tmp_path: Path) -> None:
    async with open_cluster(tmp_path) as nodes, AsyncClient(nodes[0].http) as client:
        status, headers, body = await client.request("GET", "/ui")
        assert status == 200
        assert headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in headers["content-security-policy"]
        page = body.decode()
        assert "node-1" in page and "__NODE__" not in page
        # No URL of another host anywhere (the SVG namespace is a name, never fetched).
        assert re.findall(r"https?://[^\s\"'<>]+", page.replace(SVG_NAMESPACE, "")) == []
        assert re.findall(r"""(?:src|href)=["'](?!data:)""", page) == []


@trio_test
async def test_ui_state_counts_hints_per_owner_like_the_metrics(tmp_path: Path) -> None:
    async with open_cluster(tmp_path, 4) as nodes:
        nodes[3].scope.cancel()
        await nodes[3].stopped.wait()
        live = nodes[:3]
        states: list[dict[str, Any]] = []
        async with AsyncClient(live[0].http) as client:
            with trio.fail_after(60):
                for index in range(300):
                    await client.put(f"key-{index}", b"v", w=2)
                    if index % 20 == 19:
                        states = [await _json(node.http, "/ui?state=1") for node in live]
                        if sum(sum(s["hints_pending"].values()) for s in states) >= 5:
                            break
        assert sum(sum(s["hints_pending"].values()) for s in states) >= 5
        # Hints are kept per intended owner: node-4's are there. On a busy machine a live
        # replica that answers late gets a hint too (sloppy quorum), so others may appear.
        assert any(state["hints_pending"].get("node-4", 0) > 0 for state in states), states
        for node, state in zip(live, states, strict=True):
            assert set(state["hints_pending"]) <= {"node-1", "node-2", "node-3", "node-4"}
            async with AsyncClient(node.http) as client:
                # A put acknowledged at W=2 may still be waiting for node-4 and store its
                # hint later, so the count can grow between two requests. While node-4 is
                # down it only grows: when /metrics gives the same count before and after
                # /ui?state=1, the state must give that count too.
                with trio.fail_after(60):
                    while True:
                        before = await _hints_pending_metric(client)
                        fresh = await client.json("/ui?state=1")
                        if await _hints_pending_metric(client) == before:
                            break
            assert before == sum(fresh["hints_pending"].values())
            assert {"trees_compared", "keys_repaired", "roots_compared"} <= set(fresh["merkle"])


async def _hints_pending_metric(client: AsyncClient) -> int:
    _, _, metrics = await client.request("GET", "/metrics")
    pending = re.search(rb"^dynamokv_hints_pending (\d+)", metrics, re.M)
    assert pending is not None
    return int(pending[1])


async def _json(address: str, path: str) -> Any:
    async with AsyncClient(address) as client:
        return await client.json(path)
