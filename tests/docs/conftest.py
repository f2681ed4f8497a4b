"""Fixtures of the site tests: the built site, a local web server for it, a headless browser.

The site is built once per test run with the same command as ``make docs`` (``-W -n``), into
a directory both pytest workers share (the first to take the lock builds it, the other
waits and reuses it). The browser is Debian's Chromium driven by Debian's chromedriver,
both passed to selenium by path so that nothing is downloaded; ``make browser-deps``
installs them. Every request the browser makes goes to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from site_helpers import CHROMEDRIVER, CHROMIUM, CHROMIUM_ARGUMENTS, DOCS, serve_directory

BUILD_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The built site (``index.html`` and the rest), built once for all workers."""
    shared = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        shared = shared.parent
    output = shared / "docs-site"
    with open(shared / "docs-site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (output / "index.html").exists() or (shared / "docs-site.failed").exists():
            result = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "sphinx",
                    "-W",
                    "-n",
                    "--keep-going",
                    "-q",
                    "-b",
                    "html",
                    str(DOCS),
                    str(output),
                ],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT_SECONDS,
                check=False,
            )
            if result.returncode != 0:
                (shared / "docs-site.failed").write_text(result.stderr)
                pytest.fail(f"sphinx-build -W -n failed:\n{result.stderr[-4000:]}")
            (shared / "docs-site.failed").unlink(missing_ok=True)
    return output


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    """The built site, served on loopback (so SVG objects and scripts load same-origin)."""
    with serve_directory(site) as url:
        yield url


def _require_browser() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing: run make browser-deps "
            "(apt-get install chromium chromium-driver)"
        )


@pytest.fixture
def browser() -> Iterator[Callable[[], Any]]:
    """A factory of headless Chromium sessions; every session is quit after the test."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers: list[Any] = []
    profiles: list[tempfile.TemporaryDirectory[str]] = []

    def start() -> Any:
        profile = tempfile.TemporaryDirectory(prefix="dynamokv-chromium-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (*CHROMIUM_ARGUMENTS, f"--user-data-dir={profile.name}"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
        driver.set_page_load_timeout(60)
        drivers.append(driver)
        return driver

    try:
        yield start
    finally:
        for driver in drivers:
            with contextlib.suppress(Exception):
                driver.quit()
        for profile in profiles:
            profile.cleanup()
