"""The recorded GEODES reply: mapped with the PEPS vocabulary, and reproduced in shape by the
sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from eodag_peps_plus.backends.geodes import (
    GEODES_PROFILE,
    GeodesBackend,
    item_to_product,
    parse_description,
)
from eodag_peps_plus.backends.paging import PageToken
from eodag_peps_plus.backends.stac_api import _matched
from eodag_peps_plus.product import Availability
from eodag_peps_plus.sandbox import Sandbox

URN = "URN:FEATURE:DATA:gdh:25416e3f-1a7f-379a-9b65-a6539b1fd95b:V1"
NAME = "S2A_MSIL1C_20250402T175741_N0511_R141_T14ULD_20250403T022035"


@pytest.fixture
def recorded(fixture_path: Callable[[str], Path]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(fixture_path("geodes_search_S2_L1C.json").read_text())
    return data


def test_recorded_item_maps_to_peps_vocabulary(recorded: dict[str, Any]) -> None:
    product = item_to_product(recorded["features"][0])
    assert product.id == NAME and product.native_id == URN and product.backend == "geodes"
    assert product.size == 764210185
    assert product.md5 == "86f828c4c7e921615d1cd0476604f780"
    assert product.availability is Availability.OFFLINE
    assert (
        product.download_url
        == f"https://geodes-portal.cnes.fr/api/download/{URN}/files/86f828c4c7e921615d1cd0476604f780"
    )
    props = product.stac_properties()
    expected = {
        "title": NAME,
        "start_datetime": "2025-04-02T17:57:41.024Z",
        "end_datetime": "2025-04-02T17:57:41.024Z",
        "created": "2025-04-03T09:00:26.809Z",
        "constellation": "sentinel-2",
        "platform": "S2A",
        "instruments": ["msi"],
        "product:type": "S2MSI1C",
        "processing:level": "L1C",
        "processing:version": "05.11",
        "sat:absolute_orbit": 51075,
        "sat:relative_orbit": 141,
        "sat:orbit_state": "descending",
        "eo:cloud_cover": 67.54958344531,
        "grid:code": "MGRS-14ULD",
        "order:status": "orderable",
        "file:size": 764210185,
        "file:checksum": "d51086f828c4c7e921615d1cd0476604f780",
        "eodag:download_link": product.download_url,
        "eodag:quicklook": f"https://geodes-portal.cnes.fr/api/quicklook/{URN}/files/1003ae6b1edf05adf7c46cb759ffeaec?scope=gdh",
        "geodes:collection": "PEPS_S2_L1C",
        "geodes:endpoint_url": "https://s3.datalake.cnes.fr/sentinel2-l1c/14/U/LD/2025/04/02/S2A_MSIL1C_20250402T175741_N0511_R141_T14ULD_20250403T022035.zip",
    }
    assert props == expected
    assert "sar:instrument_mode" not in props  # GEODES writes INS-NOBS on optical items


def test_description_parsing(recorded: dict[str, Any]) -> None:
    text = recorded["features"][0]["assets"][f"{NAME}.zip"]["description"]
    assert parse_description(text) == {
        "file size": "764210185 bytes",
        "is reference": "false",
        "is online": "false",
        "datatype": "RAWDATA",
        "checksum md5": "86f828c4c7e921615d1cd0476604f780",
    }
    assert parse_description(None) == {}


def test_recorded_paging_keeps_our_filters(recorded: dict[str, Any]) -> None:
    """The recorded ``next`` link is a GET on /collections/PEPS_S2_L1C/items with another
    limit: we re-POST our own body with page 2 instead."""
    reply = recorded
    assert _matched(reply) == 37273723
    backend = GeodesBackend("https://geodes-portal.cnes.fr/api/stac/search")
    assert backend.base_url == "https://geodes-portal.cnes.fr"
    body = {"collections": ["PEPS_S2_L1C"], "query": {"grid:code": {"eq": "T14ULD"}}, "limit": 1}
    request = PageToken(
        "geodes", url="https://geodes-portal.cnes.fr/api/stac/search", method="POST", body=body
    )
    following = backend._follow(reply, request, seen=1, matched=37273723)
    assert following is not None
    assert (following.method, following.url) == (
        "POST",
        "https://geodes-portal.cnes.fr/api/stac/search",
    )
    assert following.body == {**body, "page": 2}


def test_pgstac_style_links() -> None:
    backend = GeodesBackend("http://x")
    request = PageToken(
        "geodes", url="http://x/search", method="POST", body={"collections": ["C"], "limit": 2}
    )
    post_link = {
        "links": [
            {
                "rel": "next",
                "method": "POST",
                "href": "http://x/search",
                "body": {"token": "next:abc"},
                "merge": True,
            }
        ]
    }
    following = backend._follow(post_link, request, seen=2, matched=None)
    assert following is not None and following.body == {
        "collections": ["C"],
        "limit": 2,
        "token": "next:abc",
    }
    get_link = {
        "links": [{"rel": "next", "href": "http://x/search?collections=C&limit=2&token=next%3Aabc"}]
    }
    following = backend._follow(get_link, request, seen=2, matched=None)
    assert (
        following is not None
        and following.method == "POST"
        and following.body == {"collections": ["C"], "limit": 2, "token": "next:abc"}
    )
    assert backend._follow(get_link, request, seen=10, matched=10) is None


def _shape(value: Any) -> Any:
    """Keys and JSON types, recursively (lists by their first element)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def test_sandbox_reply_has_the_recorded_shape(sandbox: Sandbox, recorded: dict[str, Any]) -> None:
    body = {
        "collections": ["PEPS_S2_L1C"],
        "limit": 1,
        "page": 1,
        "query": {"grid:code": {"eq": "T55PDR"}},
    }
    reply = requests.post(f"{sandbox.url}/api/stac/search", json=body, timeout=30).json()
    real = recorded
    assert list(reply) == list(real)
    assert _shape({k: v for k, v in reply.items() if k != "features"}) == _shape(
        {k: v for k, v in real.items() if k != "features"}
    )
    ours, theirs = reply["features"][0], real["features"][0]
    assert list(ours) == list(theirs)
    assert list(ours["properties"]) == list(theirs["properties"])
    assert _shape(ours["properties"]) == _shape(theirs["properties"])
    assert [_shape(a) for a in ours["assets"].values()] == [
        _shape(a) for a in theirs["assets"].values()
    ]
    assert [link["rel"] for link in ours["links"]] == [link["rel"] for link in theirs["links"]]
    assert [link["rel"] for link in reply["links"]] == ["self", "next"]
    assert reply["links"][1]["href"].endswith(
        "/api/stac/collections/PEPS_S2_L1C/items?limit=2&page=2"
    )
    assert ours["id"].startswith("URN:FEATURE:DATA:gdh:") and ours["id"].endswith(":V1")
    data_key = f"{ours['properties']['identifier']}.zip"
    assert ours["assets"][data_key]["href"].startswith(
        f"{sandbox.url}/api/download/{ours['id']}/files/"
    )
    assert GEODES_PROFILE.max_page_size == 80
