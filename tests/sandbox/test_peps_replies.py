"""PEPS resto replies of the sandbox: Sentinel-1 fields, keywords, checksums, storage modes and
the envelope details the recorded reply and issue 11 describe."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Catalogue, Sandbox

TIMEOUT = 30
S1_FIELDS = {"swath", "polarisation", "missionTakeId", "cycleNumber", "bucket", "prefix"}
S2_ONLY = {"s2TakeId", "mgrs", "bareSoil", "highProbaClouds", "mediumProbaClouds",
           "lowProbaClouds", "snowIce", "vegetation", "water"}  # fmt: skip


def _search(sandbox: Sandbox, collection: str, **params: Any) -> dict[str, Any]:
    url = f"{sandbox.url}/resto/api/collections/{collection}/search.json"
    reply = requests.get(url, params=params, timeout=TIMEOUT)
    assert reply.status_code == 200, reply.text[:200]
    return reply.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def recorded_feature(fixture_path: Callable[[str], Path]) -> dict[str, Any]:
    body = json.loads(fixture_path("peps_search_S2ST_page1.json").read_text())
    return body["features"][0]  # type: ignore[no-any-return]


def test_s1_features_carry_s1_fields_not_s2_ones(
    sandbox: Sandbox, recorded_feature: dict[str, Any]
) -> None:
    body = _search(
        sandbox, "S1", maxRecords=500, startDate="2019-01-01", completionDate="2019-12-31"
    )
    features = body["features"]
    assert len(features) > 100
    expected = (set(recorded_feature["properties"]) - S2_ONLY) | S1_FIELDS
    for feature in features:
        p = feature["properties"]
        assert set(p) == expected
        assert p["cloudCover"] == 0 and isinstance(p["cloudCover"], int)
        assert isinstance(p["relativeOrbitNumber"], int)
        assert p["polarisation"] == "VV VH" and p["swath"] == p["sensorMode"] == "IW"
        take = int(p["title"].split("_")[-2], 16)
        assert p["missionTakeId"] == take and p["cycleNumber"] >= 1
        assert p["bucket"] == f"sentinel1-{p['productType'].lower()}"
        assert p["prefix"] == f"{p['startDate'][:10].replace('-', '/')}/{p['title']}.zip"
        assert p["resourceChecksum"] == p["resourceChecksum"].lower()


def test_a_cloud_filter_keeps_sentinel1(sandbox: Sandbox) -> None:
    """Real S1 features say ``cloudCover: 0``: a cloud filter must not drop radar products."""
    everything = _search(sandbox, "S1", productType="GRD", maxRecords=1)["properties"]
    filtered = _search(sandbox, "S1", productType="GRD", maxRecords=1, cloudCover="[0,20]")
    assert filtered["properties"]["totalResults"] == everything["totalResults"] > 0


def test_keywords_have_the_recorded_shape(
    sandbox: Sandbox, recorded_feature: dict[str, Any]
) -> None:
    real = recorded_feature["properties"]["keywords"]
    s2 = _search(sandbox, "S2ST", tileid="55PDR", maxRecords=1)["features"][0]["properties"]
    assert [k["type"] for k in s2["keywords"].values()] == [k["type"] for k in real.values()]
    s1 = _search(sandbox, "S1", maxRecords=1)["features"][0]["properties"]["keywords"]
    assert len(s1) == 19
    by_type = {k["type"]: (h, k) for h, k in s1.items()}
    assert by_type["country"][1]["parentHash"] == by_type["continent"][0]
    assert by_type["day"][1]["parentHash"] == by_type["month"][0]
    assert {"normalized", "value"} <= set(by_type["landuse"][1])


def test_checksum_case_follows_the_archive(catalogue: Catalogue, sandbox: Sandbox) -> None:
    """Lowercase for S1 and recent S2 (baseline 04.00+), uppercase for older S2 (as recorded)."""
    names = {
        "old": next(e.name for e in catalogue if e.collection == "S2ST" and "_N0209_" in e.name),
        "new": next(e.name for e in catalogue if e.collection == "S2ST" and "_N0400_" in e.name),
    }
    found = {
        age: _search(sandbox, "S2ST", productIdentifier=name)["features"][0]["properties"]
        for age, name in names.items()
    }
    assert found["old"]["resourceChecksum"].isupper()
    assert found["new"]["resourceChecksum"].islower()
    backend = get_backend("peps", sandbox.url)
    products = list(backend.search(Query.create(identifiers=list(names.values()))))
    assert all(p.md5 == catalogue.by_name[p.id].md5 for p in products) and len(products) == 2


def test_tier2_is_served_and_online(catalogue: Catalogue, sandbox: Sandbox) -> None:
    entry = next(e for e in catalogue if e.storage == "tier2" and e.collection == "S2ST")
    feature = _search(sandbox, "S2ST", productIdentifier=entry.name)["features"][0]
    assert feature["properties"]["storage"]["mode"] == "tier2"
    (product,) = get_backend("peps", sandbox.url).search(Query.create(identifiers=[entry.name]))
    assert product.stac_properties()["order:status"] == "succeeded"


def test_envelope_without_page(sandbox: Sandbox) -> None:
    """No ``page`` asked: no ``page=`` in the self link, no ``startPage``; the link keeps the
    request's parameter order; later pages add ``page`` at the end."""
    url = (
        f"{sandbox.url}/resto/api/collections/S2ST/search.json"
        "?tileid=31TCJ&maxRecords=3&productType=S2MSI1C"
    )
    body = requests.get(url, timeout=TIMEOUT).json()["properties"]
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert urlsplit(links["self"]).query == "&tileid=31TCJ&maxRecords=3&productType=S2MSI1C"
    assert urlsplit(links["next"]).query.endswith("&productType=S2MSI1C&page=2")
    assert "startPage" not in body["query"]["searchFilters"]
    paged = requests.get(url + "&page=2", timeout=TIMEOUT).json()["properties"]
    assert paged["query"]["searchFilters"]["startPage"] == "2"
    self_link = next(link["href"] for link in paged["links"] if link["rel"] == "self")
    assert urlsplit(self_link).query.endswith("&page=2")


def test_envelope_in_french(sandbox: Sandbox) -> None:
    body = _search(sandbox, "S2ST", tileid="31TCJ", maxRecords=2, lang="fr")
    filters = body["properties"]["query"]["searchFilters"]
    assert filters["language"] == "fr" and "searchTerms" in filters
    titles = {link["rel"]: link["title"] for link in body["properties"]["links"]}
    assert titles["next"] == "suivant"
    links = body["features"][0]["properties"]["links"]
    assert links[0]["title"].startswith("Lien GeoJSON pour ") and links[0]["href"].endswith(
        "lang=fr"
    )


def test_exact_count_is_false_for_large_counts(sandbox: Sandbox) -> None:
    large = _search(sandbox, "S2ST", maxRecords=1)["properties"]
    small = _search(sandbox, "S2ST", tileid="31TCJ", maxRecords=1, startDate="2020-06-01",
                    completionDate="2020-06-30")["properties"]  # fmt: skip
    assert large["totalResults"] > 10_000 and large["exactCount"] is False
    assert small["exactCount"] is True
