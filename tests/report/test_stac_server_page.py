"""``peps-plus serve`` in a real headless Chromium: its landing page, then one search made
with the page's own form (Debian's chromium; skipped, saying why, without it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus import Client
from eodag_peps_plus.sandbox import Sandbox
from eodag_peps_plus.stac_server import StacServer
from tests.report.conftest import FLAGS, chromium

#: Nothing resolves but the loopback server under test.
RESOLVER = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@pytest.fixture
def loopback_browser() -> Iterator[Any]:
    """The report tests' headless Chromium, allowed to reach 127.0.0.1 (and only that)."""
    yield from chromium(
        tuple(RESOLVER if f.startswith("--host-resolver-rules") else f for f in FLAGS)
    )


@pytest.fixture
def server(sandbox: Sandbox, tmp_path: Path) -> Iterator[StacServer]:
    clients = {
        "geodes": Client.open(f"{sandbox.url}/api/stac"),
        "peps": Client.open(sandbox.url, backend="peps"),
    }
    with StacServer(clients, tmp_path) as srv:
        yield srv


def test_landing_page_and_one_search_in_chromium(loopback_browser: Any, server: StacServer) -> None:
    browser = loopback_browser
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get_log("browser")
    browser.get(f"{server.url}/")
    assert browser.title == "PEPS and GEODES STAC API"
    listed = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "#collections li")]
    assert any(text.startswith("PEPS_S2_L1C") for text in listed) and len(listed) == 8
    form = browser.find_element(By.ID, "search")
    Select(form.find_element(By.NAME, "collections")).select_by_visible_text("PEPS_S2_L1C")
    form.find_element(By.NAME, "bbox").send_keys("1,43.4,1.6,43.8")
    form.find_element(By.NAME, "datetime").send_keys("2020-01-01/2020-06-30")
    form.find_element(By.TAG_NAME, "button").click()
    # The results are a new page: wait for it rather than read the form page under load.
    WebDriverWait(browser, 60).until(
        lambda b: "item(s) of" in b.find_element(By.TAG_NAME, "h1").text
    )
    rows = browser.find_elements(By.CSS_SELECTOR, "#results tr")[1:]
    shown = [row.find_element(By.TAG_NAME, "td").text for row in rows]
    expected = server.clients["geodes"].search(
        collections="PEPS_S2_L1C", bbox=[1, 43.4, 1.6, 43.8], datetime="2020-01-01/2020-06-30",
        max_items=10,
    )  # fmt: skip
    assert shown and shown == [item.id for item in expected.items()]
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith(f"{len(shown)} item(s) of ")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
