"""The sandbox at scale: staging catalogues beyond one tile, the PEPS search index giving the
same matches as a scan, tape restores at a tiny time scale, and serving from a child process
(starts, counts, stops, bounded in time). No timed asserts: speed is bench/scale.py's."""

from __future__ import annotations

import functools
import re
import time

import pytest
import requests

from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.filters import build_filter
from eodag_peps_plus.sandbox.process import SandboxProcess, SandboxProcessError, staging_sandbox
from eodag_peps_plus.sandbox.scenarios import staging_catalogue

from .helpers import serve_cli

AUTH = (DEFAULT_USER, DEFAULT_PASSWORD)


def test_staging_catalogue_beyond_one_tile_is_unique_sorted_and_deterministic() -> None:
    catalogue = staging_catalogue(2500, size_range=(2_000, 4_000), seed=3)
    again = staging_catalogue(2500, size_range=(2_000, 4_000), seed=3)
    names = [e.name for e in catalogue]
    assert len(set(names)) == 2500 and names == [e.name for e in again]
    assert len({e.tile for e in catalogue}) > 1
    assert [e.start for e in catalogue] == sorted(e.start for e in catalogue)
    assert sum(e.storage == "tape" for e in catalogue) == 1250
    # Up to one tile's worth, the catalogue is what it always was: one tile, date order.
    assert {e.tile for e in staging_catalogue(300)} == {"31TCJ"}


def test_indexed_search_matches_a_full_scan() -> None:
    catalogue = staging_catalogue(2500, size_range=(2_000, 4_000))
    queries = [
        {"startDate": "2019-03-01T00:00:00Z", "completionDate": "2019-06-30T23:59:59Z"},
        {"startDate": "2019-03-01T00:00:00Z", "box": "0,43,2,44"},
        {"completionDate": "2018-02-01T00:00:00Z"},
        {"startDate": "2030-01-01T00:00:00Z"},
        {"startDate": "2019-01-01T00:00:00Z", "completionDate": "2018-01-01T00:00:00Z"},
        {},
    ]
    with Sandbox(catalogue, services=("peps",)) as sb:
        session = requests.Session()
        url = f"{sb.url}/resto/api/collections/S2ST/search.json"
        for params in queries:
            accept, _ = build_filter(params)
            expected = [e.uuid for e in catalogue if accept(e)]
            seen: list[str] = []
            for page in range(1, 20):  # bounded: at most 2,500 / 500 pages
                reply = session.get(
                    url, params={**params, "maxRecords": 500, "page": page}, timeout=30
                ).json()
                assert reply["properties"]["totalResults"] == len(expected)
                seen.extend(f["id"] for f in reply["features"])
                if len(reply["features"]) < 500:
                    break
            assert seen == expected, params


def test_restores_at_a_tiny_time_scale_come_online() -> None:
    catalogue = staging_catalogue(4, size_range=(2_000, 4_000), offline=1.0)
    config = SandboxConfig(time_scale=1e-4)  # nominal 2-6 min -> 12-36 ms
    with Sandbox(catalogue, config, services=("peps",)) as sb:
        entry = catalogue.entries[0]
        link = f"{sb.url}/resto/collections/S2ST/{entry.uuid}/download"
        assert requests.get(link, auth=AUTH, timeout=10).status_code == 202
        assert sb.tape.latency_for(entry.uuid) < 0.04
        deadline = time.monotonic() + 10
        while sb.tape.mode(entry.uuid) != "disk" and time.monotonic() < deadline:
            time.sleep(0.01)
        reply = requests.get(link, auth=AUTH, timeout=10)
        assert reply.status_code == 200 and len(reply.content) == entry.size


def test_sandbox_process_serves_counts_and_stops() -> None:
    catalogue = staging_catalogue(20, size_range=(2_000, 4_000), offline=0.0)
    entry = catalogue.entries[0]
    served = SandboxProcess(lambda: Sandbox(catalogue, services=("peps",)), start_timeout=60)
    with served:
        link = f"{served.url}/resto/collections/S2ST/{entry.uuid}/download"
        reply = requests.get(link, auth=AUTH, timeout=10)
        assert reply.status_code == 200 and len(reply.content) == entry.size
        stats = served.stats()
        assert stats["requests"] == 1 and stats["peps.download"] == 1
        served.clear_stats()
        assert served.stats().get("requests", 0) == 0
        process = served._process
    assert served.pid is None and process is not None and not process.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(link, auth=AUTH, timeout=5)
    with pytest.raises(SandboxProcessError):
        served.stats()


def test_sandbox_process_spawned_from_a_picklable_factory() -> None:
    make = functools.partial(staging_sandbox, 3, size_range=(2_000, 4_000))
    with SandboxProcess(make, start_method="spawn", start_timeout=120) as served:
        reply = requests.get(f"{served.url}/resto/api/collections/S2ST/search.json", timeout=30)
        assert reply.json()["properties"]["totalResults"] == 3


def test_sandbox_process_reports_a_failed_build() -> None:
    def broken() -> Sandbox:
        raise ValueError("no such scenario")

    with pytest.raises(SandboxProcessError, match="no such scenario"):
        SandboxProcess(broken, start_timeout=60).start()


def test_serve_a_staging_scenario() -> None:
    options = ("--staging", "30", "--staging-size", "2000", "3000", "--time-scale", "0.001")
    with serve_cli(*options) as text:
        url = re.search(r"30 products at (http://\S+)", text)
        assert url, text
        reply = requests.get(
            f"{url.group(1)}/resto/api/collections/S2ST/search.json", timeout=30
        ).json()
        sizes = [f["properties"]["resourceSize"] for f in reply["features"]]
        assert reply["properties"]["totalResults"] == 30 and all(2000 <= s <= 3000 for s in sizes)
