"""Streaming search (issue 13): ``peps-plus search --json`` and ``Client.search().items()`` hold
one page at a time, so memory does not grow with the number of products; the results file is
written as products arrive, valid and complete at the end, and never half-written in place.

The sandbox's synthetic collection (:mod:`eodag_peps_plus.sandbox.synthetic`) serves the
products, page by page. Memory is compared for ``N`` and ``4N`` products in this process
(tracemalloc peaks); no timing is asserted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from eodag_peps_plus import Client
from eodag_peps_plus.cli import cli, common
from eodag_peps_plus.cli import search as search_command
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Catalogue, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.synthetic import entry
from tests.hostile.bounded import within

#: Products of the smaller search; the larger one reads four times as many.
N = 500
#: Bytes by which the larger search's peak may exceed the smaller one's, per extra product:
#: where in a page the peak falls varies by a few MB between runs (and the test runner keeps
#: the table it captures), while a product held as an item and a feature costs about 25 kB
#: (the 430 MB for 15,000 of issue 13). Pages of 100 keep the variation small.
SLACK_PER_PRODUCT = 4_000
PAGE = 100
BACKENDS = ("peps", "geodes")
#: Seconds one search of the test may take (a shared CI machine, tracing on) before it hangs.
BOUND = 300.0


@pytest.fixture(scope="module")
def big() -> Iterator[Sandbox]:
    """A sandbox serving ``4 N`` synthetic Sentinel-1 products (and no catalogue)."""
    config = SandboxConfig(time_scale=0.01, synthetic_products=4 * N)
    with Sandbox(Catalogue([]), config) as sb:
        yield sb


def traced_peak(run: Callable[[], int]) -> tuple[int, int]:
    """(result of ``run()``, peak bytes traced while it ran)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_flat(run: Callable[[int], int], n: int) -> None:
    """``run(k)`` reads ``k`` products: its peak for ``4 n`` is that for ``n``, within slack.
    Each run is bounded in time (a hung search fails the test)."""
    within(lambda: run(50), BOUND)  # imports and one-off caches, out of the figures
    small, small_peak = traced_peak(lambda: within(lambda: run(n), BOUND))
    large, large_peak = traced_peak(lambda: within(lambda: run(4 * n), BOUND))
    assert (small, large) == (n, 4 * n)
    assert large_peak - small_peak < 3 * n * SLACK_PER_PRODUCT, (
        f"peak {small_peak / 1e6:.1f} MB for {n} products, {large_peak / 1e6:.1f} MB for "
        f"{4 * n}: memory grows with the number of products"
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_client_items_memory_is_flat(big: Sandbox, backend: str) -> None:
    client = Client.open(big.url, backend=backend)

    def run(n: int) -> int:
        search = client.search(collections="S1", max_items=n, limit=PAGE)
        return sum(1 for _ in search.items())

    assert_flat(run, N)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cli_json_memory_is_flat_and_the_file_complete(
    big: Sandbox, backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The rows that size the table's columns are held (1,000 at most): fewer here, so that
    # both searches hold them all and the figures compare what grows with the search.
    monkeypatch.setattr(common, "TABLE_SAMPLE", 20)
    out = tmp_path / "results.geojson"

    def run(n: int) -> int:
        args = ["search", "-B", backend, "--url", big.url, "-c", "S1", "--json", str(out)]
        args += ["--max-items", str(n), "--limit", str(PAGE)]
        result = CliRunner().invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, result.output[-2000:]
        return len(result.stdout.splitlines()) - 2  # the header and the rule

    assert_flat(run, N)
    features = json.loads(out.read_text())["features"]
    assert [f["id"] for f in features[:2]] == [entry(0).name, entry(1).name]
    assert features[-1]["id"] == entry(4 * N - 1).name
    assert len({f["id"] for f in features}) == len(features) == 4 * N
    assert not list(tmp_path.glob(".results.geojson.*")), "a temporary file was left behind"


def peps_plus(*args: str) -> list[str]:
    return [sys.executable, "-m", "eodag_peps_plus", *args]


def test_cli_subprocess_writes_every_product_eodag_can_read(big: Sandbox, tmp_path: Path) -> None:
    """A real process, then EODAG's own reader: the file is a search-results file."""
    out = tmp_path / "all.geojson"
    done = subprocess.run(
        peps_plus("search", "-B", "peps", "--url", big.url, "-c", "S1", "--json", str(out)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{4 * N} product(s)" in done.stderr
    from eodag.api.search_result import SearchResult

    results = SearchResult.from_dict(json.loads(out.read_text()))
    assert len(results) == 4 * N
    assert results[0].properties["id"] == entry(0).name
    assert results[-1].provider == "peps"


def test_an_interrupted_search_leaves_the_previous_file(big: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "kept.geojson"
    first = subprocess.run(
        peps_plus(
            "search",
            "-B",
            "peps",
            "--url",
            big.url,
            "-c",
            "S1",
            "--max-items",
            "3",
            "--json",
            str(out),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert first.returncode == 0, first.stderr[-2000:]
    before = out.read_bytes()
    search = subprocess.Popen(
        peps_plus("search", "-B", "peps", "--url", big.url, "-c", "S1", "--json", str(out)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.stat().st_size for p in tmp_path.glob(".kept.geojson.*")):
            assert search.poll() is None, "the search ended before it could be interrupted"
            assert time.monotonic() < deadline, "no temporary results file appeared"
            time.sleep(0.05)
        os.kill(search.pid, signal.SIGINT)
        _, stderr = search.communicate(timeout=60)
    finally:
        if search.poll() is None:
            search.kill()
            search.wait(10)
    assert search.returncode == 130, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] in ("Aborted.", "Interrupted.")
    assert "Traceback" not in stderr
    assert out.read_bytes() == before
    assert not list(tmp_path.glob(".kept.geojson.*"))


def test_the_report_draws_a_bounded_number_of_products(
    big: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A report holds what it draws: past its limit it draws the first products and says so,
    while the table and the results file still have every product."""
    monkeypatch.setattr(search_command, "REPORT_LIMIT", 5)
    html, out = tmp_path / "report.html", tmp_path / "all.geojson"
    args = ["search", "--url", big.url, "-c", "S1", "--max-items", "8"]
    result = within(
        lambda: CliRunner().invoke(cli, [*args, "--html", str(html), "--json", str(out)]), BOUND
    )
    assert result.exit_code == 0, result.output[-2000:]
    assert "the report shows the first 5 of 8 products" in result.stderr
    assert len(json.loads(out.read_text())["features"]) == 8
    assert len(result.stdout.splitlines()) == 2 + 8
    assert "first 5 of 8 products" in html.read_text()


@pytest.mark.parametrize(("backend", "page_size"), [("peps", 500), ("geodes", 80)])
def test_the_page_cap_lets_a_million_products_through(backend: str, page_size: int) -> None:
    """The last page of a million-product search, reached with the walk's count of pages
    read so far (2,000 PEPS pages, 12,500 GEODES ones): under the cap, and served."""
    million = 1_000_000
    with Sandbox(Catalogue([]), SandboxConfig(synthetic_products=million)) as sb:
        server = Client.open(sb.url, backend=backend).backend
        query = Query.create(collection="S1")
        first = server.search_page(query, limit=page_size)
        assert first.matched == million and first.next_token
        pages = million // page_size
        state = json.loads(first.next_token)
        state["pages"] = pages - 1
        if "body" in state:  # GEODES: our own body with the server's page number
            state["body"]["page"] = pages
        else:  # PEPS: the server's next link
            state["url"] = state["url"].replace("page=2", f"page={pages}")
        state["seen"] = million - page_size
        last = server.search_page(query, limit=page_size, token=json.dumps(state))
        assert [p.id for p in last.products][-1] == entry(million - 1).name
        assert len(last.products) == page_size and last.next_token is None
        assert server.max_pages >= pages
