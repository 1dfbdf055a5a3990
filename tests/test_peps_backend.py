"""PEPS resto backend against the sandbox over real HTTP: translation, routing, paging."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.peps import PepsBackend, feature_to_product, route_collections
from eodag_peps_plus.exceptions import BackendError
from eodag_peps_plus.product import Availability
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Catalogue, Sandbox
from eodag_peps_plus.sandbox.catalogue import generate


@pytest.fixture(scope="module")
def peps(sandbox: Sandbox) -> PepsBackend:
    backend = get_backend("peps", sandbox.url)
    assert isinstance(backend, PepsBackend)
    return backend


def test_recorded_fixture_maps_to_products(fixture_path: Callable[[str], Path]) -> None:
    body = json.loads(fixture_path("peps_search_S2ST_page1.json").read_text())
    disk, tape = (feature_to_product(f) for f in body["features"])
    assert disk.id == "S2A_MSIL1C_20200815T005251_N0209_R002_T55PDR_20200815T023440"
    assert disk.native_id == "01f888ef-3368-59ff-a639-52242d159d7c"
    assert disk.size == 781865648 and disk.md5 == "64ffca4b9cd13d094ed05554e010db5a"
    assert disk.download_url.endswith(
        "/resto/collections/S2ST/01f888ef-3368-59ff-a639-52242d159d7c/download"
    )
    assert disk.availability is Availability.ONLINE and tape.availability is Availability.OFFLINE
    p = disk.stac_properties()
    assert p["start_datetime"] == "2020-08-15T00:52:51.024Z"
    assert (
        p["platform"] == "S2A"
        and p["constellation"] == "sentinel-2"
        and p["instruments"] == ["msi"]
    )
    assert p["product:type"] == "S2MSI1C" and p["processing:level"] == "L1C"
    assert p["processing:version"] == "02.09"
    assert p["grid:code"] == "MGRS-55PDR"
    assert p["sat:absolute_orbit"] == 26883 and p["sat:relative_orbit"] == 2
    assert p["sat:orbit_state"] == "descending"
    assert p["eo:cloud_cover"] == pytest.approx(20.5218)
    assert p["order:status"] == "succeeded" and p["peps:storage"] == "disk"
    assert p["file:checksum"] == "d510" + "64ffca4b9cd13d094ed05554e010db5a"
    t = tape.stac_properties()
    assert t["order:status"] == "orderable" and t["peps:storage"] == "tape"
    assert t["eo:cloud_cover"] == pytest.approx(2.6607) and t["grid:code"] == "MGRS-55PCR"


def test_sandbox_reply_has_the_recorded_shape(
    sandbox: Sandbox, fixture_path: Callable[[str], Path]
) -> None:
    recorded = json.loads(fixture_path("peps_search_S2ST_page1.json").read_text())
    reply = requests.get(
        f"{sandbox.url}/resto/api/collections/S2ST/search.json",
        params={"maxRecords": 2, "tileid": "31TCJ"},
        timeout=30,
    ).json()
    assert list(reply) == list(recorded)
    assert list(reply["properties"]) == list(recorded["properties"])
    assert set(reply["properties"]["query"]) == set(recorded["properties"]["query"])
    assert [link["rel"] for link in reply["properties"]["links"]] == [
        link["rel"] for link in recorded["properties"]["links"]
    ]
    assert list(reply["features"][0]) == list(recorded["features"][0])
    assert list(reply["features"][0]["properties"]) == list(recorded["features"][0]["properties"])
    assert list(reply["features"][0]["properties"]["services"]["download"]) == [
        "url",
        "mimeType",
        "size",
        "checksum",
    ]


def test_every_product_matches_the_query(peps: PepsBackend) -> None:
    q = Query.create(
        collection="S2ST",
        tile="31TCJ",
        start="2019-01-01",
        end="2019-12-31",
        max_cloud_cover=30,
        relative_orbit=51,
    )
    products = list(peps.search(q))
    assert products and len(products) == peps.count(q)
    for p in products:
        props = p.properties
        assert props["grid:code"] == "MGRS-31TCJ" and props["sat:relative_orbit"] == 51
        assert props["eo:cloud_cover"] <= 30 and props["start_datetime"].startswith("2019")


def test_paging_beyond_the_500_cap_follows_rel_links(peps: PepsBackend, sandbox: Sandbox) -> None:
    q = Query.create(collection="S2ST", start="2017-01-01", end="2020-12-31")
    total = peps.count(q)
    assert total and total > 1500
    before = sandbox.stats["peps.search"]
    ids = [p.id for p in peps.search(q, limit=1000)]  # asked 1000, server caps at 500
    assert len(ids) == total == len(set(ids))
    assert sandbox.stats["peps.search"] - before == -(-total // 500)


def test_french_link_titles_do_not_matter(sandbox: Sandbox) -> None:
    body = requests.get(
        f"{sandbox.url}/resto/api/collections/S2ST/search.json",
        params={"lang": "fr", "maxRecords": 5},
        timeout=30,
    ).json()
    titles = {link["rel"]: link["title"] for link in body["properties"]["links"]}
    assert titles["next"] == "suivant"
    backend = get_backend("peps", sandbox.url)
    page = backend.search_page(Query.create(collection="S2ST"), limit=5)
    assert page.next_token


def test_s2_routing_spans_s2_and_s2st_transparently(peps: PepsBackend) -> None:
    q = Query.create(collection="S2", tile="31TCJ", start="2016-10-01", end="2017-02-28")
    assert route_collections(q) == ["S2", "S2ST"]
    products = list(peps.search(q, limit=7))
    collections = [p.properties["peps:collection"] for p in products]
    assert "S2" in collections and "S2ST" in collections
    assert collections == sorted(collections, key=["S2", "S2ST"].index)
    # pages are full except the last, and page numbers agree with iteration
    pages = [
        peps.search_page(q, limit=7, page=n).products for n in range(1, -(-len(products) // 7) + 1)
    ]
    assert all(len(page) == 7 for page in pages[:-1])
    assert [p.id for page in pages for p in page] == [p.id for p in products]
    assert route_collections(Query.create(collection="S2ST", end="2016-01-01")) == ["S2"]


def test_s1_relative_orbit_is_computed_when_missing(make_sandbox: Callable[..., Sandbox]) -> None:
    """Real S1 records always carry ``relativeOrbitNumber``; a record without it (a switch of
    the sandbox) still gets the right one from PEPS's formula."""
    entries = generate(
        tiles=(), start=datetime(2019, 1, 1, tzinfo=timezone.utc),
        end=datetime(2019, 1, 31, tzinfo=timezone.utc),
    )  # fmt: skip
    hidden = {e.name for e in entries[::2]}
    catalogue = Catalogue(
        dataclasses.replace(e, hide_relative_orbit=e.name in hidden) for e in entries
    )
    sb = make_sandbox(catalogue_=catalogue)
    products = list(get_backend("peps", sb.url).search(Query.create(collection="S1")))
    assert {p.id for p in products} >= hidden
    for p in products:
        assert p.properties["sat:relative_orbit"] == catalogue.by_name[p.id].relative_orbit


def test_point_box_geometry_and_town(peps: PepsBackend) -> None:
    base = {"collection": "S2ST", "start": "2020-06-01", "end": "2020-06-30"}
    by_point = {p.id for p in peps.search(Query.create(**base, point=(1.44, 43.6)))}
    by_town = {p.id for p in peps.search(Query.create(**base, location="Toulouse"))}
    by_box = {p.id for p in peps.search(Query.create(**base, bbox=(1.3, 43.5, 1.5, 43.7)))}
    by_wkt = {
        p.id
        for p in peps.search(
            Query.create(**base, geometry="POLYGON((1.3 43.5,1.5 43.5,1.5 43.7,1.3 43.7,1.3 43.5))")
        )
    }
    assert by_point and by_point == by_town == by_box == by_wkt
    assert not list(peps.search(Query.create(**base, location="Atlantis")))


def test_availability_is_batched(peps: PepsBackend, sandbox: Sandbox) -> None:
    products = list(
        peps.search(
            Query.create(collection="S2ST", tile="31UDQ", start="2018-01-01", end="2018-12-31")
        )
    )
    before = sandbox.stats["peps.search"]
    found = peps.availability(products)
    assert set(found) == {p.id for p in products}
    assert sandbox.stats["peps.search"] - before <= 3
    assert {a for a in found.values()} <= set(Availability)


def test_server_errors_are_typed(sandbox: Sandbox) -> None:
    backend = get_backend("peps", sandbox.url)
    with pytest.raises(BackendError, match="cannot connect"):
        get_backend("peps", "http://127.0.0.1:9").search_page(Query.create(collection="S1"))
    response = requests.get(
        f"{sandbox.url}/resto/api/collections/S2ST/search.json",
        params={"startDate": "nope"},
        timeout=30,
    )
    assert response.status_code == 400 and set(response.json()) == {"ErrorCode", "ErrorMessage"}
    with pytest.raises(BackendError, match="404"):
        backend._get(f"{sandbox.url}/resto/api/collections/NOPE/search.json")


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(5, 600), s2_span=st.booleans())
def test_any_page_size_gives_the_same_products(
    peps: PepsBackend, limit: int, s2_span: bool
) -> None:
    """Page numbers and tokens agree with plain iteration for any page size, across the
    S2/S2ST split and beyond the server's 500 cap."""
    start = "2016-06-01" if s2_span else "2017-01-01"
    q = Query.create(collection="S2", start=start, end="2017-04-30")  # ~1,000 products
    reference = [p.id for p in peps.search(q)]
    by_token: list[str] = []
    page = peps.search_page(q, limit=limit)
    while True:
        assert len(page.products) <= limit
        by_token += [p.id for p in page.products]
        if not page.next_token:
            break
        assert len(page.products) == limit  # only the last page is short
        page = peps.search_page(q, limit=limit, token=page.next_token)
    assert by_token == reference
    number = min(2, -(-len(reference) // limit))
    assert [p.id for p in peps.search_page(q, limit=limit, page=number).products] == reference[
        (number - 1) * limit : number * limit
    ]
