"""pystac-client parity: pystac-client's documented calls run against ``Client`` and give the
ids ``Client.search`` gives with the plain fields; pystac-client itself, against the sandbox's
GEODES STAC API over HTTP, gives the same products as ``Client`` for the same search."""

from __future__ import annotations

from typing import Any

import pystac
import pystac_client
import pytest
from pystac_client import ConformanceClasses

from eodag_peps_plus import Client
from eodag_peps_plus.exceptions import InvalidQueryError
from eodag_peps_plus.sandbox import Sandbox

BOX = [1.0, 43.4, 1.6, 43.8]


@pytest.fixture(scope="module")
def geodes(sandbox: Sandbox) -> Client:
    return Client.open(f"{sandbox.url}/api/stac")


@pytest.fixture(scope="module")
def peps(sandbox: Sandbox) -> Client:
    return Client.open(sandbox.url, backend="peps")


def _ids(search: Any) -> list[str]:
    return [item.id for item in search.items()]


#: pystac-client's documented usage (its docs' "Usage" page), with the plain fields of
#: ``Client.search`` that mean the same.
DOCUMENTED = [
    (
        {"filter": "eo:cloud_cover <= 30"},
        {"max_cloud_cover": 30},
    ),
    (
        {"filter": {"op": "<=", "args": [{"property": "eo:cloud_cover"}, 30]}},
        {"max_cloud_cover": 30},
    ),
    (
        {"filter": "eo:cloud_cover <= 30", "filter_lang": "cql2-text"},
        {"query": {"eo:cloud_cover": {"lte": 30}}},
    ),
    (
        {
            "filter": "platform = 'S2B' AND "
            "s_intersects(geometry, POLYGON((1 43.4, 1.6 43.4, 1.6 43.8, 1 43.8, 1 43.4)))"
        },
        {"platform": "S2B", "bbox": BOX},
    ),
    (
        {
            "filter": "datetime >= TIMESTAMP('2020-01-01T00:00:00Z') AND "
            "datetime <= TIMESTAMP('2020-06-30T23:59:59Z')"
        },  # fmt: skip
        {"datetime": "2020-01-01/2020-06-30"},
    ),
    (
        {
            "filter": "t_intersects(datetime, INTERVAL('2020-01-01T00:00:00Z', '2020-06-30T23:59:59Z'))"
        },  # fmt: skip
        {"datetime": "2020-01-01/2020-06-30"},
    ),
    (
        {"datetime": ["2020-01-01T00:00:00Z", "2020-06-30T23:59:59Z"]},
        {"start": "2020-01-01", "end": "2020-06-30"},
    ),
    ({"query": ["eo:cloud_cover<30"]}, {"max_cloud_cover": 30}),
    ({"intersects": {"type": "Point", "coordinates": [1.4, 43.6]}}, {"point": (1.4, 43.6)}),
]


@pytest.mark.parametrize(("documented", "plain"), DOCUMENTED)
@pytest.mark.parametrize("name", ["peps", "geodes"])
def test_documented_calls_give_the_same_ids(
    request: pytest.FixtureRequest, name: str, documented: dict[str, Any], plain: dict[str, Any]
) -> None:
    client: Client = request.getfixturevalue(name)
    base = {"collections": ["S2_MSI_L1C"], "max_items": 40}
    if "bbox" not in plain and "intersects" not in documented and "platform" not in plain:
        base["bbox"] = BOX
    ids = _ids(client.search(**base, **documented))
    assert ids and ids == _ids(client.search(**base, **plain))


def test_pages_items_and_dicts_agree(geodes: Client) -> None:
    search = geodes.search(collections=["PEPS_S2_L1C"], bbox=BOX, max_items=23, limit=10)
    pages = list(search.pages())
    assert [len(p) for p in pages] == [10, 10, 3]
    assert all(isinstance(p, pystac.ItemCollection) for p in pages)
    ids = [i.id for p in pages for i in p]
    assert ids == _ids(search)
    assert ids == [f["id"] for p in search.pages_as_dicts() for f in p["features"]]
    assert ids == [d["id"] for d in search.items_as_dicts()]
    assert ids == [f["id"] for f in search.item_collection_as_dict()["features"]]
    assert search.matched() and search.matched() >= 23


def test_pystac_client_on_the_same_server_finds_the_same_products(
    sandbox: Sandbox, geodes: Client
) -> None:
    theirs = pystac_client.Client.open(f"{sandbox.url}/api/stac")
    for kwargs, ours in [
        (
            {"sortby": "-eo:cloud_cover", "query": {"eo:cloud_cover": {"lte": 60}}},
            {
                "sortby": [{"field": "properties.eo:cloud_cover", "direction": "desc"}],
                "filter": "eo:cloud_cover <= 60",
            },
        ),  # fmt: skip
        ({"sortby": "+start_datetime"}, {"sortby": "datetime"}),
        ({"query": {"platform": {"eq": "S2A"}}}, {"platform": "sentinel-2a"}),
    ]:
        # One server page: GEODES's next link drops the search's filters (a recorded quirk
        # the sandbox keeps), so pystac-client's later pages are the whole collection.
        common = {"collections": ["PEPS_S2_L1C"], "bbox": BOX, "max_items": 20}
        expected = [
            i.properties["identifier"] for i in theirs.search(**common, **kwargs, limit=20).items()
        ]
        assert len(expected) == 20
        assert expected == _ids(geodes.search(**common, **ours))


def test_sortby_is_sent_or_refused(geodes: Client, peps: Client) -> None:
    clouds = [
        i.properties.get("eo:cloud_cover")
        for i in geodes.search(
            collections="S2_MSI_L1C", bbox=BOX, sortby="-eo:cloud_cover", max_items=50
        ).items()
    ]
    assert clouds == sorted(clouds, reverse=True)
    assert geodes.conforms_to(ConformanceClasses.SORT)
    assert not peps.conforms_to(ConformanceClasses.SORT)
    with pytest.raises(InvalidQueryError, match="PEPS searches cannot be sorted"):
        peps.search(collections="S2ST", sortby="-datetime")
    with pytest.raises(InvalidQueryError, match="cannot be sorted on 'gsd'"):
        geodes.search(collections="S2ST", sortby="gsd")
    with pytest.raises(InvalidQueryError, match="several collections"):
        geodes.search(collections=["S2ST", "S1"], sortby="datetime")


@pytest.mark.parametrize(
    ("cql2", "named"),
    [
        ("eo:cloud_cover < 10 OR platform = 'S2A'", "OR"),
        ("NOT (platform = 'S2A')", "NOT"),
        ("platform IN ('S2A', 'S2B')", "IN on platform"),
        ("title LIKE 'S2A%'", "LIKE"),
        ("eo:cloud_cover <= 10 AND eo:cloud_cover <= 20", "two conditions"),
        ("gsd = 10", "cannot filter on 'gsd'"),
        ("eo:cloud_cover >= 10", "not 'gte'"),
        ("this is not cql2", "not CQL2"),
    ],
)
def test_filters_a_server_cannot_take_are_refused_by_name(
    peps: Client, cql2: str, named: str
) -> None:
    with pytest.raises(InvalidQueryError, match=named):
        peps.search(collections="S2ST", filter=cql2)


def test_fields_and_modifier(sandbox: Sandbox) -> None:
    seen: list[Any] = []

    def tag(obj: Any) -> None:
        seen.append(type(obj).__name__)
        if isinstance(obj, pystac.Item):
            obj.properties["tagged"] = True

    client = Client.open(f"{sandbox.url}/api/stac", modifier=tag, headers={"X-Trace": "parity"})
    assert client.backend.session.headers["X-Trace"] == "parity"
    search = client.search(collections="S2_MSI_L1C", bbox=BOX, max_items=3, fields=["-geometry"])
    dicts = list(search.items_as_dicts())
    assert dicts and all("geometry" not in d for d in dicts)
    items = list(search.items())
    assert all(i.properties["tagged"] for i in items)
    kept = next(
        client.search(
            collections="S2_MSI_L1C",
            bbox=BOX,
            max_items=1,
            fields={"include": ["properties.eo:cloud_cover"]},
        ).items_as_dicts()
    )
    assert set(kept["properties"]) == {"eo:cloud_cover"} and "assets" not in kept
    assert "Item" in seen and "dict" in seen
    collections = list(client.get_collections())
    assert "Collection" in seen and {c.id for c in collections} >= {"PEPS_S2_L1C"}


def test_collections_and_conformance(geodes: Client, peps: Client) -> None:
    assert [c.id for c in peps.get_collections()] == ["S1", "S2", "S2ST", "S3"]
    assert geodes.get_collection("PEPS_S2_L1C").title
    with pytest.raises(InvalidQueryError, match="no collection 'S2ST' on GEODES"):
        geodes.get_collection("S2ST")
    found = geodes.collection_search(q="sentinel-2")
    assert {c.id for c in found.collections()} == {
        "PEPS_S2_L1C",
        "THEIA_REFLECTANCE_SENTINEL2_L2A",
    }
    assert found.matched() == 2
    assert {c.id for c in geodes.collection_search(q=["theia"]).collection_list()} == {
        "THEIA_REFLECTANCE_SENTINEL2_L2A"
    }
    assert geodes.conforms_to(ConformanceClasses.ITEM_SEARCH, ConformanceClasses.FILTER)
    assert geodes.conforms_to("COLLECTION_SEARCH_FREE_TEXT")
    assert not geodes.conforms_to(ConformanceClasses.TRANSACTION)


def test_get_items_by_id(peps: Client, geodes: Client) -> None:
    ids = _ids(peps.search(collections="S2ST", bbox=BOX, max_items=2))
    assert [i.id for i in peps.get_items(*ids)] == ids
    assert sorted(i.id for i in geodes.get_items(*ids)) == sorted(ids)


def test_calls_with_no_meaning_here_name_the_alternative(peps: Client, sandbox: Sandbox) -> None:
    with pytest.raises(NotImplementedError, match="search"):
        peps.get_all_items()
    with pytest.raises(NotImplementedError, match="search"):
        peps.get_items()
    with pytest.raises(NotImplementedError, match=r"\.queries"):
        peps.search(collections="S2ST").url_with_parameters()
    with pytest.raises(NotImplementedError, match="headers= or modifier="):
        Client.open(sandbox.url, backend="peps", request_modifier=lambda r: r)
    with pytest.raises(NotImplementedError, match="search fields"):
        Client.open(sandbox.url, backend="peps", parameters={"foo": 1})
    with pytest.raises(NotImplementedError, match="get_collections"):
        peps.collection_search(filter="title = 'x'")
    with pytest.raises(InvalidQueryError, match="credentials="):
        Client.open(sandbox.url, backend="peps", headers={"Authorization": "Basic eA=="})
