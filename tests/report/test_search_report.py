"""The search report page, opened in a real headless browser with no network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pystac
import pytest

from eodag_peps_plus import Client
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.product import Availability
from eodag_peps_plus.report import STATUS_STYLE, read_products, search_report, write_search_report
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Catalogue,
    Sandbox,
    SandboxConfig,
)

from .conftest import TIMEOUT

TILE_PREFIX = ("https://tile.openstreetmap.org/",)
AREA = [1.0, 43.4, 1.6, 43.8]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=os.environ.copy(),
        timeout=180,
    )


@pytest.fixture(scope="module")
def fresh(catalogue: Catalogue) -> Iterator[Sandbox]:
    """A sandbox of our own: the shared one's tape states change as other tests download."""
    with Sandbox(catalogue, SandboxConfig(time_scale=0.01)) as sb:
        yield sb


@pytest.fixture(scope="module")
def items(fresh: Sandbox) -> pystac.ItemCollection:
    found = (
        Client.open(fresh.url, backend="peps")
        .search(collections="S2ST", tile="31TCJ", datetime="2019-01/2019-06")
        .item_collection()
    )
    statuses = {Availability.from_properties(i.properties) for i in found}
    assert len(statuses) == 4, "the test wants every availability on the page"
    return found


def _wait_tiles_notice(page: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(page.driver, TIMEOUT).until(
        lambda d: d.execute_script("return !document.getElementById('tiles-status').hidden")
    )


def _check_page(page: Any, expected: dict[str, Availability]) -> None:
    """No console error, one shape and one mark per product, colours = statuses."""
    _wait_tiles_notice(page)  # offline: the page says the base map is unreachable
    assert page.console_errors(TILE_PREFIX) == []
    shapes = page.js(
        "return Array.from(document.querySelectorAll('#map path.footprint')).map("
        "p => [p.getAttribute('class'), p.getAttribute('fill'), p.getAttribute('stroke')])"
    )
    assert len(shapes) == len(expected)
    by_status: dict[str, int] = {}
    for classes, fill, stroke in shapes:
        status = next(c.removeprefix("status-") for c in classes.split() if c.startswith("status-"))
        colour = STATUS_STYLE[Availability(status)][0]
        assert fill == colour and stroke == colour
        by_status[status] = by_status.get(status, 0) + 1
    wanted: dict[str, int] = {}
    for status in expected.values():
        wanted[status.value] = wanted.get(status.value, 0) + 1
    assert by_status == wanted
    marks = page.js(
        "return Array.from(document.querySelectorAll('#timeline path.mark')).map("
        "m => [m.dataset.id, m.dataset.status, m.getAttribute('fill'),"
        " m.querySelector('title').textContent])"
    )
    assert len(marks) == len(expected)
    assert {m[0] for m in marks} == set(expected)
    for product_id, status, fill, hover in marks:
        assert status == expected[product_id].value
        assert fill == STATUS_STYLE[expected[product_id]][0]
        assert hover.splitlines()[0] == product_id


def test_report_in_browser(items: pystac.ItemCollection, tmp_path: Path, open_page: Any) -> None:
    path = write_search_report(items, tmp_path / "report.html", search_area=AREA)
    html = path.read_text()
    assert "<script src" not in html and "<link" not in html  # everything is embedded
    page = open_page(path)
    expected = {i.id: Availability.from_properties(i.properties) for i in items}
    _check_page(page, expected)
    assert page.js("return document.querySelectorAll('#map path.search-area').length") == 1
    # Relative orbits are told apart by the mark shape.
    shapes = page.js(
        "const s = {}; document.querySelectorAll('#timeline path.mark').forEach("
        "m => { (s[m.dataset.orbit] = s[m.dataset.orbit] || new Set()).add(m.dataset.shape) });"
        "return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Array.from(v)]))"
    )
    assert len(shapes) == 2 and all(len(v) == 1 for v in shapes.values())
    assert len({v[0] for v in shapes.values()}) == 2
    # A click on a timeline mark opens that product's popup on the map.
    first = items[0].id
    text = page.js(
        "document.querySelector(`#timeline path.mark[data-id='${arguments[0]}']`)"
        ".dispatchEvent(new MouseEvent('click', {bubbles: true}));"
        "const p = document.querySelector('.leaflet-popup-content'); return p && p.textContent",
        first,
    )
    assert text and first in text and "cloud cover" in text
    summary = page.js("return document.getElementById('summary').textContent")
    assert f"{len(items)} (" in summary and "share on tape" in summary
    assert page.console_errors(TILE_PREFIX) == []


def test_search_result_and_geodes_items(sandbox: Sandbox, tmp_path: Path, open_page: Any) -> None:
    """An EODAG SearchResult and GEODES items give the same kind of page."""
    from eodag_peps_plus.eodag_support import gateway

    results = gateway(peps=sandbox.url).search(
        provider="peps", collection="S2_MSI_L1C", geom=AREA, start="2020-06-01", end="2020-07-31"
    )
    assert len(results) > 0
    page = open_page(write_search_report(results, tmp_path / "eodag.html"))
    _check_page(
        page, {p.properties["title"]: Availability.from_properties(p.properties) for p in results}
    )

    creds = Credentials(DEFAULT_USER, DEFAULT_PASSWORD, DEFAULT_API_KEY)
    geodes_items = (
        Client.open(sandbox.url, backend="geodes", credentials=creds)
        .search(collections="S1_SAR_GRD", bbox=AREA, datetime="2019-03")
        .item_collection()
    )
    assert len(geodes_items) > 0
    assert all(i.properties.get("eo:cloud_cover") is None for i in geodes_items)  # the n/a row
    page = open_page(write_search_report(geodes_items, tmp_path / "geodes.html"))
    _check_page(page, {i.id: Availability.from_properties(i.properties) for i in geodes_items})


def test_hostile_names_stay_text(tmp_path: Path, open_page: Any) -> None:
    """Names and fields from a server or a file never run as code in the page."""
    evil = "</script><script>window.pwned=1</script><img src=x onerror='window.pwned=2'>"
    features = [
        {
            "type": "Feature",
            "id": f"S2A_{n}_{evil}",
            "geometry": {"type": "Point", "coordinates": [1.2 + n / 10, 43.5]},
            "properties": {
                "start_datetime": f"2020-01-0{n + 1}T10:00:00Z",
                "order:status": "orderable",
                "platform": evil,
                "grid:code": evil,
                "file:size": 1000,
            },
        }
        for n in range(3)
    ]
    path = tmp_path / "evil.html"
    path.write_text(search_report({"type": "FeatureCollection", "features": features}, tiles=""))
    page = open_page(path)
    assert page.js("return window.pwned === undefined")
    assert page.console_errors() == []
    assert page.js("return document.querySelectorAll('#map path.footprint').length") == 3
    assert page.js("return document.querySelectorAll('#timeline path.mark').length") == 3
    assert (
        "no base map"
        in page.js("return document.getElementById('tiles-status').textContent").lower()
    )


def test_cli_search_html_png_and_report(sandbox: Sandbox, tmp_path: Path, open_page: Any) -> None:
    common = ["--url", sandbox.url, "-c", "S2ST", "-t", "31TCJ", "-d", "2019-03-01", "-f", "2019-04-30"]  # fmt: skip
    result = run_cli(
        "search", *common, "--json", "res.geojson", "--html", "search.html", "--png", "t.png",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    features = json.loads((tmp_path / "res.geojson").read_text())["features"]
    expected = {f["id"]: Availability.from_properties(f["properties"]) for f in features}
    assert len(expected) > 10
    _check_page(open_page(tmp_path / "search.html"), expected)

    result = run_cli(
        "report", "res.geojson", "-o", "report.html", "--png", "t2.png", "--box", *map(str, AREA),
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "t2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = open_page(tmp_path / "report.html")
    _check_page(page, expected)
    assert page.js("return document.querySelectorAll('#map path.search-area').length") == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ('{"type": "Feature"}', "not a GeoJSON feature"),
        ("[1, 2]", "expected a GeoJSON FeatureCollection"),
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature","id":"P1","geometry":null,'
            '"properties":{"start_datetime":"2020-01-01","eo:cloud_cover":250}}]}',
            "P1: eo:cloud_cover 250 is outside",
        ),
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature","id":"P2","geometry":'
            '{"type":"Polygon","coordinates":[[[500,1],[2,2],[1,1]]]},'
            '"properties":{"start_datetime":"2020-01-01"}}]}',
            "P2: bad footprint geometry",
        ),
        (
            '{"type":"FeatureCollection","features":[{"type":"Feature","id":"P3",'
            '"geometry":null,"properties":{}}]}',
            "P3: no acquisition date",
        ),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "in.geojson").write_text(content)
    (tmp_path / "out.html").write_text("previous report")
    result = run_cli("report", "in.geojson", "-o", "out.html", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (tmp_path / "out.html").read_text() == "previous report"  # never half-written


def test_products_and_summary_from_python(items: pystac.ItemCollection) -> None:
    products = read_products(items)
    assert [p.id for p in products] == sorted((i.id for i in items), key=lambda n: (
        next(i for i in items if i.id == n).properties["start_datetime"], n))  # fmt: skip
    assert read_products(list(items)) == products
    html = search_report(items, title="<b>31TCJ</b>")
    assert "<title>&lt;b&gt;31TCJ&lt;/b&gt;</title>" in html


def test_empty_results_page(tmp_path: Path, open_page: Any) -> None:
    page = open_page(write_search_report(pystac.ItemCollection([]), tmp_path / "empty.html"))
    _wait_tiles_notice(page)
    assert page.console_errors(TILE_PREFIX) == []
    assert page.js("return document.querySelectorAll('path.footprint, path.mark').length") == 0
    assert "none" in page.js("return document.getElementById('summary').textContent")
