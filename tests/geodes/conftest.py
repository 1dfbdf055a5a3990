"""GEODES fixtures: backends on the shared sandbox, and a real stac-fastapi-pgstac server."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from eodag_peps_plus.backends.geodes import GEODES_PROFILE, GeodesBackend
from eodag_peps_plus.backends.peps import PepsBackend
from eodag_peps_plus.backends.stac_api import StacApiBackend, StacProfile
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, Sandbox

from .pgstac_server import PgstacServer, Unavailable

#: Sandbox searches whose items are loaded into pgstac (a few hundred items, all collections).
PGSTAC_LOADS = (
    {
        "collections": ["PEPS_S2_L1C"],
        "query": {
            "grid:code": {"eq": "T31TCJ"},
            "start_datetime": {
                "gte": "2018-01-01T00:00:00.000Z",
                "lte": "2018-06-30T23:59:59.999Z",
            },
        },
    },
    {
        "collections": ["PEPS_S1_L1", "PEPS_S1_L2"],
        "query": {
            "start_datetime": {"gte": "2018-01-01T00:00:00.000Z", "lte": "2018-02-28T23:59:59.999Z"}
        },
    },
    {
        "collections": ["THEIA_REFLECTANCE_SENTINEL2_L2A"],
        "query": {
            "grid:code": {"eq": "T31TCJ"},
            "start_datetime": {
                "gte": "2018-01-01T00:00:00.000Z",
                "lte": "2018-06-30T23:59:59.999Z",
            },
        },
    },
)


def january_tile(dag: Any, provider: str = "geodes_plus") -> Any:
    """EODAG's search for the fixtures' month: tile 31TCJ's Sentinel-2 L1C in January 2018."""
    return dag.search(
        provider=provider,
        collection="S2_MSI_L1C",
        tileid="31TCJ",
        start="2018-01-01",
        end="2018-01-31",
    )


@pytest.fixture(scope="session")
def geodes(sandbox: Sandbox) -> GeodesBackend:
    return GeodesBackend(sandbox.url, credentials=Credentials(api_key=DEFAULT_API_KEY))


@pytest.fixture(scope="session")
def peps(sandbox: Sandbox, credentials: Credentials) -> PepsBackend:
    return PepsBackend(sandbox.url, credentials=credentials)


def sandbox_items(url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every item of a GEODES-sandbox search, raw, following its page numbers."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        reply = requests.post(
            f"{url}/api/stac/search", json={**body, "limit": 80, "page": page}, timeout=30
        )
        reply.raise_for_status()
        data = reply.json()
        items.extend(data["features"])
        if page * 80 >= data["context"]["matched"]:
            return items
        page += 1


@pytest.fixture(scope="session")
def pgstac_items(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [item for body in PGSTAC_LOADS for item in sandbox_items(sandbox.url, body)]


@pytest.fixture(scope="session")
def pgstac_url(sandbox: Sandbox, pgstac_items: list[dict[str, Any]]) -> Iterator[str]:
    """stac-fastapi-pgstac loaded with GEODES-sandbox items; skips (saying why) when
    PostgreSQL cannot run on this machine."""
    try:
        server = PgstacServer()
    except Unavailable as exc:
        pytest.skip(f"pgstac tests skipped: {exc}")
    try:
        try:
            server.start()
        except Unavailable as exc:
            pytest.skip(f"pgstac tests skipped: {exc}")
        names = sorted({item["collection"] for item in pgstac_items})
        collections = [
            requests.get(f"{sandbox.url}/api/stac/collections/{n}", timeout=30).json()
            for n in names
        ]
        server.load(collections, pgstac_items)
        yield server.serve()
    finally:
        server.stop()


#: The GEODES mapping on a stock STAC API: pgstac pages with POST-body tokens, counts in
#: ``numberMatched``, sorts with ``sortby``.
PGSTAC_PROFILE: StacProfile = dataclasses.replace(
    GEODES_PROFILE,
    name="pgstac",
    search_path="/search",
    collections_path="/collections",
    collections_method="GET",
    max_page_size=1000,
    page_param=None,
    sort_key="sortby",
    sort=({"field": "start_datetime", "direction": "asc"},),
)


@pytest.fixture(scope="session")
def pgstac(pgstac_url: str) -> StacApiBackend:
    return StacApiBackend(pgstac_url, profile=PGSTAC_PROFILE)
