"""The generic STAC backend against a real STAC server nobody here wrote: stac-fastapi-pgstac
(PostgreSQL + PostGIS), loaded with items rendered by the GEODES sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.backends.stac_api import StacApiBackend, StacProfile
from eodag_peps_plus.exceptions import InvalidQueryError
from eodag_peps_plus.query import Query

pytestmark = pytest.mark.pgstac

QUERIES = [
    {"collection": "S2ST", "tile": "31TCJ", "start": "2018-01-01", "end": "2018-06-30"},
    {
        "collection": "S2ST",
        "tile": "31TCJ",
        "start": "2018-02-01",
        "end": "2018-05-31",
        "max_cloud_cover": 40,
    },
    {"product_type": "GRD", "start": "2018-01-01", "end": "2018-02-28"},
    {"collection": "S1", "start": "2018-01-01", "end": "2018-02-28", "relative_orbit": 8},
    {
        "collection": "S1",
        "start": "2018-01-10",
        "end": "2018-02-10",
        "orbit_direction": "descending",
        "platform": "S1A",
    },
    {"product_type": "S2MSI2A_MAJA", "tile": "31TCJ", "start": "2018-01-01", "end": "2018-06-30"},
    {"collection": "S2ST", "start": "2018-01-01", "end": "2018-06-30", "bbox": "1.0,43.5,1.5,43.8"},
    {"collection": "S1", "start": "2018-01-01", "end": "2018-02-28", "point": "2.6,43.3"},
]


@pytest.mark.parametrize(
    "fields", QUERIES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items())
)
def test_same_products_as_the_geodes_sandbox(
    fields: dict[str, Any], pgstac: StacApiBackend, geodes: GeodesBackend
) -> None:
    query = Query.create(**fields)
    from_pgstac = {p.id: p for p in pgstac.search(query, limit=25)}
    from_sandbox = {p.id: p for p in geodes.search(query)}
    assert from_pgstac and from_pgstac.keys() == from_sandbox.keys()
    for name, product in from_pgstac.items():
        twin = from_sandbox[name]
        assert product.native_id == twin.native_id
        assert (product.size, product.md5, product.download_url) == (
            twin.size,
            twin.md5,
            twin.download_url,
        )
        assert product.properties == twin.properties


def test_token_paging_and_number_matched(pgstac: StacApiBackend) -> None:
    query = Query.create(collection="S2ST", tile="31TCJ", start="2018-01-01", end="2018-06-30")
    first = pgstac.search_page(query, limit=10)
    assert first.matched is not None and first.matched > 30
    assert len(first.products) == 10 and first.next_token
    assert '"token"' in first.next_token  # pgstac's POST-body next link, not a page number
    everything = list(pgstac.search(query, limit=10))
    assert len(everything) == first.matched == len({p.id for p in everything})
    starts = [p.properties["start_datetime"] for p in everything]
    assert starts == sorted(starts)
    assert pgstac.count(query) == first.matched


def test_explicit_page_number_walks_tokens(pgstac: StacApiBackend) -> None:
    query = Query.create(collection="S2ST", tile="31TCJ", start="2018-01-01", end="2018-06-30")
    all_ids = [p.id for p in pgstac.search(query, limit=7)]
    third = pgstac.search_page(query, limit=7, page=3)
    assert [p.id for p in third.products] == all_ids[14:21]


def test_generic_profile_on_plain_stac_vocabulary(pgstac: StacApiBackend) -> None:
    """The stock mapping (``datetime`` interval, ``ids``, plain property names) on the same
    server: server-native collection names, the ESA name from ``identifier``."""
    generic = StacApiBackend(
        pgstac.base_url,
        profile=StacProfile(name="pgstac", max_page_size=50),
        collections=["PEPS_S2_L1C"],
    )
    query = Query.create(bbox="1.0,43.5,1.5,43.8")
    products = list(generic.search(query, limit=9))
    assert len(products) == generic.count(query) > 9
    assert all(
        p.id.startswith("S2") and p.native_id.startswith("URN:FEATURE:DATA:gdh:") for p in products
    )
    assert {p.properties["pgstac:collection"] for p in products} == {"PEPS_S2_L1C"}


def test_generic_routing_names_the_missing_collection(pgstac: StacApiBackend) -> None:
    generic = StacApiBackend(pgstac.base_url, profile=StacProfile(name="pgstac"))
    with pytest.raises(
        InvalidQueryError, match=r"unknown collection\(s\) S1 on PGSTAC .*PEPS_S1_L1"
    ):
        generic.search_page(Query.create(collection="S1", start="2018-01-01"))


def test_unknown_collection_is_named(pgstac: StacApiBackend) -> None:
    backend = StacApiBackend(pgstac.base_url, profile=pgstac.profile, collections=["PEPS_S3_NOPE"])
    with pytest.raises(
        InvalidQueryError, match="unknown collection.*PEPS_S3_NOPE.*it has: .*PEPS_S2_L1C"
    ):
        backend.search_page(Query.create(start="2018-01-01"))
