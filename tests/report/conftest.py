"""A real headless browser for the report pages: Debian's chromium, driven by selenium.

No network: pages are opened from ``file://`` and every host name resolves to nothing, so a
page that needed anything but its base-map tiles would show it. Tests skip, saying why, only
when chromium or its driver is absent (``.ci/browser.sh`` installs both).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("PEPS_PLUS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("PEPS_PLUS_CHROMEDRIVER", "/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND",  # no DNS at all: nothing can leave the machine
    "--window-size=1280,1600",
)
#: Seconds any page load, script or wait may take before the test fails (never hangs).
TIMEOUT = 30


def _missing() -> str | None:
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)) and not shutil.which(path):
            return f"{what} is absent ({path}): run .ci/browser.sh (apt-get install chromium chromium-driver)"
    return None


class Page:
    """A loaded page and what its console said."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def js(self, script: str, *args: Any) -> Any:
        return self.driver.execute_script(script, *args)

    def console_errors(self, allowed_prefixes: tuple[str, ...] = ()) -> list[str]:
        """SEVERE console entries, except failed fetches of the allowed URLs (tiles)."""
        errors = []
        for entry in self.driver.get_log("browser"):
            if entry["level"] != "SEVERE":
                continue
            if entry.get("source") == "network" and entry["message"].startswith(allowed_prefixes):
                continue
            errors.append(entry["message"])
        return errors


def chromium(flags: tuple[str, ...] = FLAGS) -> Iterator[Any]:
    """A headless Chromium with ``flags`` until the generator ends (skips without one)."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in flags:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(TIMEOUT)
    driver.set_script_timeout(TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    yield from chromium()


@pytest.fixture
def open_page(browser: Any) -> Any:
    def load(path: Path) -> Page:
        browser.get_log("browser")  # forget the previous page's messages
        browser.get(path.resolve().as_uri())
        return Page(browser)

    return load
