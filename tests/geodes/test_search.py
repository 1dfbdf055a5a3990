"""GEODES search over HTTP against the sandbox: routing, filters, paging, bad input."""

from __future__ import annotations

import dataclasses

import pytest
import requests

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.geodes import GEODES_PROFILE, MAJA_L2A_TYPE, GeodesBackend
from eodag_peps_plus.backends.stac_api import StacApiBackend
from eodag_peps_plus.exceptions import BackendError, InvalidQueryError
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Sandbox


def test_registry_builds_the_geodes_backend(sandbox: Sandbox) -> None:
    backend = get_backend("geodes", sandbox.url + "/api/stac/search")
    assert isinstance(backend, GeodesBackend) and backend.base_url == sandbox.url
    assert backend.count(Query.create(collection="S2ST", tile="31TCJ")) > 1000


def test_filters_translate_to_geodes_properties(geodes: GeodesBackend) -> None:
    query = Query.create(
        collection="S1",
        product_type="GRD",
        relative_orbit=132,
        orbit_direction="ascending",
        platform="S1A",
        start="2019-01-01",
        end="2019-03-31",
        point="1.6,44.2",
    )
    body = geodes.search_body(query, 80)
    assert body["collections"] == ["PEPS_S1_L1"]
    assert body["intersects"] == {"type": "Point", "coordinates": [1.6, 44.2]}
    assert body["query"] == {
        "start_datetime": {"gte": "2019-01-01T00:00:00.000Z", "lte": "2019-03-31T23:59:59.999Z"},
        "product:type": {"eq": "GRD"},
        "platform": {"eq": "S1A"},
        "sat:relative_orbit": {"eq": 132},
        "sat:orbit_state": {"eq": "Ascending"},
    }
    products = list(geodes.search(query))
    assert products
    for product in products:
        p = product.properties
        assert (
            p["product:type"],
            p["sat:relative_orbit"],
            p["sat:orbit_state"],
            p["platform"],
        ) == ("GRD", 132, "ascending", "S1A")
        assert "2019-01-01" <= p["start_datetime"][:10] <= "2019-03-31"
        assert p["sar:polarizations"] == ["VV", "VH"] and p["sar:instrument_mode"] == "IW"


def test_routing() -> None:
    route = GEODES_PROFILE.route
    assert route(Query.create(product_type="SLC")) == ["PEPS_S1_L1"]
    assert route(Query.create(product_type="OCN")) == ["PEPS_S1_L2"]
    assert route(Query.create(collection="S1")) == ["PEPS_S1_L1", "PEPS_S1_L2"]
    assert (
        route(Query.create(collection="S2"))
        == route(Query.create(collection="S2ST"))
        == ["PEPS_S2_L1C"]
    )
    assert route(Query.create(product_type=MAJA_L2A_TYPE)) == ["THEIA_REFLECTANCE_SENTINEL2_L2A"]
    assert route(Query.create(product_type="REFLECTANCE", collection="S2ST")) == [
        "THEIA_REFLECTANCE_SENTINEL2_L2A"
    ]
    assert route(Query.create()) == ["PEPS_S1_L1", "PEPS_S1_L2", "PEPS_S2_L1C"]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"collection": "S3"}, "no Sentinel-3"),
        ({"product_type": "S2MSI2A"}, "no Sen2Cor L2A.*S2MSI2A_MAJA"),
        ({"product_type": "FOO"}, "GEODES backend knows GRD, OCN, S2MSI1C, SLC, S2MSI2A_MAJA"),
        ({"collection": "S1", "product_type": "S2MSI1C"}, "not in collection S1"),
        ({"location": "Toulouse"}, "GEODES cannot search by place name.*bbox"),
    ],
)
def test_queries_geodes_cannot_answer_are_refused_clearly(
    geodes: GeodesBackend, fields: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        geodes.search_page(Query.create(**fields))


def test_maja_l2a_products(geodes: GeodesBackend) -> None:
    products = list(
        geodes.search(
            Query.create(
                product_type=MAJA_L2A_TYPE, tile="31TCJ", start="2019-01-01", end="2019-06-30"
            )
        )
    )
    assert products
    p = products[0].properties
    assert p["product:type"] == MAJA_L2A_TYPE and p["geodes:product_type"] == "REFLECTANCE"
    assert (
        p["processing:level"] == "L2A"
        and p["grid:code"] == "MGRS-31TCJ"
        and p["constellation"] == "sentinel-2"
    )
    assert products[0].id.startswith("SENTINEL2") and products[0].availability.is_online


def test_pages_are_capped_at_80_and_follow_page_numbers(
    geodes: GeodesBackend, sandbox: Sandbox
) -> None:
    query = Query.create(collection="S2ST", tile="31TCJ", start="2017-01-01", end="2018-12-31")
    # A page bigger than the server's cap is gathered from capped server pages.
    first = geodes.search_page(query, limit=500)
    assert first.matched and first.matched > 200
    assert len(first.products) == min(500, first.matched)
    # (ids, not whole products: the shared sandbox's tape state may move between two reads)
    capped = geodes.search_page(query, limit=80).products
    assert [p.id for p in capped] == [p.id for p in first.products[:80]]
    ids = [p.id for p in geodes.search(query, limit=500)]
    assert len(ids) == len(set(ids)) == first.matched
    starts = [p.properties["start_datetime"] for p in geodes.search(query)]
    assert starts == sorted(starts)
    second = geodes.search_page(query, limit=80, page=2)
    assert [p.id for p in second.products] == ids[80:160]
    # EODAG may hand back a bare page number as the token
    assert [p.id for p in geodes.search_page(query, limit=80, token="2").products] == ids[80:160]
    # the server caps silently too
    raw = requests.post(
        f"{sandbox.url}/api/stac/search",
        json={"collections": ["PEPS_S2_L1C"], "limit": 500},
        timeout=30,
    ).json()
    assert raw["context"]["limit"] == 80 and len(raw["features"]) == 80


def test_max_items_and_count(geodes: GeodesBackend) -> None:
    query = Query.create(collection="S1", start="2018-01-01", end="2018-12-31")
    assert len(list(geodes.search(query, max_items=100))) == 100
    assert geodes.count(query) == geodes.search_page(query, limit=3).matched


def test_unknown_collection_names_the_fix(sandbox: Sandbox) -> None:
    backend = GeodesBackend(sandbox.url, collections=["PEPS_S2_L1D"])
    with pytest.raises(
        InvalidQueryError, match="unknown collection.*PEPS_S2_L1D on GEODES.*it has: .*PEPS_S2_L1C"
    ):
        backend.search_page(Query.create())
    native = GeodesBackend(sandbox.url, collections=["THEIA_REFLECTANCE_SENTINEL2_L2A"])
    assert native.search_page(Query.create(tile="31UDQ")).products


def test_property_the_server_cannot_filter_on(sandbox: Sandbox) -> None:
    """A server that refuses a filter: the message names the property and the fix."""
    profile = dataclasses.replace(
        GEODES_PROFILE, filters=lambda q: {"query": {"snow:cover": {"lte": 10}}}
    )
    backend = StacApiBackend(sandbox.url, profile=profile)
    with pytest.raises(
        BackendError,
        match=r"refused the query \(HTTP 400: Property 'snow:cover' is not queryable.*remove or ch",
    ):
        backend.search_page(Query.create(collection="S2ST"))


def test_bad_stac_requests_are_answered_like_a_server(sandbox: Sandbox) -> None:
    url = f"{sandbox.url}/api/stac/search"
    assert requests.post(url, data=b"{", timeout=30).status_code == 400
    assert requests.post(url, json={"limit": 0}, timeout=30).status_code == 400
    assert (
        requests.post(
            url, json={"query": {"eo:cloud_cover": {"lte": "ten"}}}, timeout=30
        ).status_code
        == 400
    )
    assert requests.post(url, json={"sortBy": [{"field": "area"}]}, timeout=30).status_code == 400
    root = requests.get(f"{sandbox.url}/api/stac", timeout=30).json()
    assert root["stac_version"] and any(link["rel"] == "search" for link in root["links"])
    listed = requests.post(
        f"{sandbox.url}/api/stac/collections", json={"limit": 100}, timeout=30
    ).json()
    assert {"PEPS_S1_L1", "PEPS_S1_L2", "PEPS_S2_L1C", "THEIA_REFLECTANCE_SENTINEL2_L2A"} <= {
        c["id"] for c in listed["collections"]
    }


def test_pystac_style_client_opens_geodes(sandbox: Sandbox, geodes: GeodesBackend) -> None:
    from eodag_peps_plus import Client

    assert isinstance(Client.open("geodes").backend, GeodesBackend)
    client = Client.open(f"{sandbox.url}/api/stac")
    assert isinstance(client.backend, GeodesBackend) and client.url == sandbox.url
    search = client.search(
        collections="S2_MSI_L1C", bbox=[1.0, 43.5, 1.5, 43.8], datetime="2020-01-01/2020-03-01"
    )
    items = list(search.items())
    query = Query.create(
        collection="S2ST", bbox=(1.0, 43.5, 1.5, 43.8), start="2020-01-01", end="2020-03-01"
    )
    assert search.matched() == len(items) == geodes.count(query) > 0
    assert {item.properties["grid:code"] for item in items} == {"MGRS-31TCJ"}
