"""The node's live view, ``/ui``, in a real browser against a real 3-node cluster.

Headless Chromium loads the page from one node, and the test checks what a reader would
look at: the ring table names the nodes and partition counts that ``/cluster/ring`` gives;
the members table lists every member; a put typed into the page reaches the cluster; and
the journey the page draws shows the preference list that ``?trace=1`` returns for the
same key. The console must stay free of errors, and every resource the page loads comes
from the node itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from dynamokv.impl.runtime._local_cluster import LocalCluster, http_request
from site_helpers import console_errors

pytestmark = pytest.mark.slow

WAIT_SECONDS = 60


def _json(address: str, path: str) -> Any:
    status, _, body = http_request(address, "GET", path)
    assert status == 200, (path, status, body[:200])
    return json.loads(body)


def test_ui_shows_the_cluster_and_draws_a_put_journey(
    tmp_path: Path, browser: Callable[[], Any]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with LocalCluster(tmp_path / "cluster", nodes=3, partition_count=256) as cluster:
        cluster.up()
        address = cluster.http_address("node-1")
        ring = _json(address, "/cluster/ring")
        members = _json(address, "/cluster/members")

        driver = browser()
        driver.get(f"http://{address}/ui")
        wait = WebDriverWait(driver, WAIT_SECONDS)
        wait.until(
            lambda d: (
                len(d.find_elements(By.CSS_SELECTOR, "#ring-table tbody tr[data-node]"))
                == len(ring["owners"])
            )
        )
        shown = {
            row.get_attribute("data-node"): int(row.get_attribute("data-partitions"))
            for row in driver.find_elements(By.CSS_SELECTOR, "#ring-table tbody tr[data-node]")
        }
        assert shown == ring["owners"]
        assert sum(shown.values()) == ring["partition_count"] == 256
        assert driver.find_element(By.ID, "node-name").text == "node-1"
        wait.until(
            lambda d: (
                len(d.find_elements(By.CSS_SELECTOR, "#members-table tbody tr"))
                == len(members["members"])
            )
        )
        listed = {
            row.get_attribute("data-node")
            for row in driver.find_elements(By.CSS_SELECTOR, "#members-table tbody tr")
        }
        assert listed == {m["name"] for m in members["members"]} == set(cluster.names)
        wait.until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#merkle-table tbody tr[data-counter]")
        )

        key = "cart:from-the-browser"
        for element_id, text in (("journey-key", key), ("journey-value", "eggs")):
            field = driver.find_element(By.ID, element_id)
            field.clear()
            field.send_keys(text)
        driver.find_element(By.ID, "journey-put").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "li[data-step='ack']"))
        steps = [
            li.get_attribute("data-step")
            for li in driver.find_elements(By.CSS_SELECTOR, "#journey-steps li")
        ]
        assert steps[:4] == ["md5", "partition", "preference_list", "coordinator"]
        drawn = driver.find_element(
            By.CSS_SELECTOR, "li[data-step='preference_list']"
        ).get_attribute("data-nodes")
        assert "HTTP 200" in driver.find_element(By.ID, "journey-status").text

        status, _, body = http_request(address, "GET", f"/kv/{key}?trace=1")
        assert status == 200, body[:200]
        traced = json.loads(body)
        preference = next(s for s in traced["trace"] if s["step"] == "preference_list")["nodes"]
        assert drawn.split(",") == preference
        assert [s["value"] for s in traced["siblings"]] == ["eggs"]
        assert _json(address, f"/cluster/ring?key={key}")["key"]["preference_list"] == preference

        resources = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name)"
        )
        assert resources and all(r.startswith(f"http://{address}/") for r in resources)
        assert console_errors(driver) == []
        screenshot = tmp_path / "ui.png"
        driver.save_screenshot(str(screenshot))
        print(f"screenshot of /ui: {screenshot}")
