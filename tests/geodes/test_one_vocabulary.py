"""One vocabulary: the same unified query on the PEPS and GEODES sandboxes gives the same
products with the same STAC property names and values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from shapely.geometry import shape

from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.backends.peps import PepsBackend
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Catalogue, Sandbox, SandboxConfig
from eodag_peps_plus.vocabulary import COMMON_PROPERTIES

#: Values that are server addresses, so differ by construction.
URL_VALUED = {"eodag:download_link", "eodag:quicklook"}
#: PEPS knows when a record was last updated; GEODES publishes no such field.
PEPS_ONLY = {"updated"}

QUERIES = [
    {"collection": "S2ST", "tile": "31TCJ", "start": "2018-01-01", "end": "2018-12-31"},
    {
        "collection": "S2",
        "tile": "31UDQ",
        "start": "2016-06-01",
        "end": "2017-03-31",
        "max_cloud_cover": 30,
    },
    {"product_type": "GRD", "start": "2019-01-01", "end": "2019-03-31", "relative_orbit": 110},
    {
        "collection": "S1",
        "start": "2017-05-01",
        "end": "2017-06-30",
        "orbit_direction": "descending",
    },
    {"product_type": "OCN", "start": "2020-01-01", "end": "2020-02-28", "platform": "S1A"},
    {"start": "2019-06-01", "end": "2019-06-10", "bbox": "0.5,43,2,44.5"},
    {
        "collection": "S2ST",
        "start": "2021-01-01",
        "end": "2021-02-28",
        "geometry": "POLYGON((5 43, 6 43, 6 44, 5 44, 5 43))",
    },
    {
        "collection": "S2ST",
        "point": "146.58,13.98",
        "start": "2020-08-01",
        "end": "2020-08-31",
        "platform": "S2A",
    },
]


@pytest.fixture(scope="module")
def still(catalogue: Catalogue) -> Iterator[Sandbox]:
    """Restores take nominal minutes here: no product changes state between two searches."""
    with Sandbox(catalogue, SandboxConfig(time_scale=1.0)) as sb:
        yield sb


@pytest.fixture(scope="module")
def peps(still: Sandbox) -> PepsBackend:
    return PepsBackend(still.url)


@pytest.fixture(scope="module")
def geodes(still: Sandbox) -> GeodesBackend:
    return GeodesBackend(still.url)


def _shared(props: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in props.items()
        if not k.startswith(("peps:", "geodes:")) and k not in URL_VALUED | PEPS_ONLY
    }


@pytest.mark.parametrize(
    "fields", QUERIES, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items())
)
def test_same_products_same_properties(
    fields: dict[str, Any], peps: PepsBackend, geodes: GeodesBackend
) -> None:
    query = Query.create(**fields)
    from_peps = {p.id: p for p in peps.search(query)}
    from_geodes = {p.id: p for p in geodes.search(query)}
    assert from_peps, "the query must match something to prove anything"
    assert from_geodes.keys() == from_peps.keys()
    assert geodes.count(query) == peps.count(query) == len(from_peps)
    for name, ours in from_geodes.items():
        theirs = from_peps[name]
        a, b = ours.stac_properties(), theirs.stac_properties()
        extra = set(a) - set(b) - {k for k in a if k.startswith("geodes:")}
        if name.startswith("S2") and "_OPER_" in name:
            extra.discard("processing:version")  # old names carry no baseline; GEODES says it
        assert not extra, f"{name}: only GEODES gives {extra}"
        missing = set(b) - set(a) - {k for k in b if k.startswith("peps:")} - PEPS_ONLY
        assert not missing, f"{name}: only PEPS gives {missing}"
        shared = set(_shared(a)) & set(_shared(b))
        assert shared >= set(COMMON_PROPERTIES) - URL_VALUED - PEPS_ONLY - _absent(b)
        # GEODES tells online from not, never "being restored": PEPS's "ordered" is our
        # "orderable" until this client asks for the restore itself.
        if b["order:status"] == "ordered":
            b = {**b, "order:status": "orderable"}
        assert {k: a[k] for k in shared} == {k: b[k] for k in shared}
        assert (ours.size, ours.md5) == (theirs.size, theirs.md5)
        assert shape(ours.geometry).equals(shape(theirs.geometry))


def _absent(props: dict[str, Any]) -> set[str]:
    """Common properties a product type does not have (no clouds on radar, no tile...)."""
    return {k for k in COMMON_PROPERTIES if k not in props}


def test_same_answer_to_location_is_a_clear_refusal(geodes: GeodesBackend) -> None:
    """PEPS resolved town names with its gazetteer; GEODES has none, and guessing a town's
    extent would change results silently, so the GEODES backend refuses and says what to use."""
    with pytest.raises(Exception, match="cannot search by place name.*bbox"):
        geodes.search_page(Query.create(location="Toulouse"))
