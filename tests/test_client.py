"""pystac-client-style API: names and behaviour like pystac-client, items are pystac.Items."""

from __future__ import annotations

import pystac
import pytest

from eodag_peps_plus import Client
from eodag_peps_plus.exceptions import InvalidQueryError, UnknownBackendError
from eodag_peps_plus.sandbox import Sandbox


@pytest.fixture(scope="module")
def client(sandbox: Sandbox) -> Client:
    return Client.open(sandbox.url)


def test_open_by_url_detects_resto(client: Client, sandbox: Sandbox) -> None:
    assert client.backend.name == "peps" and client.url == sandbox.url


def test_open_errors() -> None:
    with pytest.raises(UnknownBackendError, match="neither a backend name"):
        Client.open("nonsense")
    with pytest.raises(UnknownBackendError, match="neither as PEPS nor as GEODES"):
        Client.open("http://127.0.0.1:9")


def test_search_items_are_pystac_items(client: Client) -> None:
    search = client.search(
        collections=["S2_MSI_L1C"],
        bbox=[1.0, 43.5, 1.5, 43.8],
        datetime="2020-01-01/2020-06-30",
        query={"eo:cloud_cover": {"lt": 30}},
        limit=7,
    )
    items = list(search.items())
    assert search.matched() == len(items) > 7
    assert all(isinstance(i, pystac.Item) for i in items)
    assert all(
        i.properties["eo:cloud_cover"] <= 30 and i.properties["grid:code"] == "MGRS-31TCJ"
        for i in items
    )
    collection = search.item_collection()
    assert isinstance(collection, pystac.ItemCollection) and len(collection) == len(items)
    pages = list(search.pages())
    assert [len(p) for p in pages[:-1]] == [7] * (len(pages) - 1)
    assert [i.id for p in pages for i in p] == [i.id for i in items]


def test_max_items_and_query_strings(client: Client) -> None:
    search = client.search(
        collections="S2ST",
        datetime="2019",
        query=["eo:cloud_cover<=10", "sat:relative_orbit=51"],
        max_items=5,
    )
    items = list(search.items())
    assert len(items) == 5
    assert all(i.properties["sat:relative_orbit"] == 51 for i in items)


def test_several_collections_and_open_intervals(client: Client) -> None:
    search = client.search(
        collections=["S1_SAR_GRD", "S1_SAR_OCN"],
        datetime="2019-03-01/..",
        bbox=[0, 43, 2, 44],
        max_items=40,
    )
    types = {i.properties["product:type"] for i in search.items()}
    assert types <= {"GRD", "OCN"} and "GRD" in types


def test_same_code_other_vocabularies(client: Client) -> None:
    a = {
        i.id
        for i in client.search(
            collections="S2ST", tile="31TCJ", datetime="2020-03-01/2020-03-31"
        ).items()
    }
    b = {
        i.id
        for i in client.search(
            collections="PEPS_S2_L1C",
            query={"grid:code": {"eq": "MGRS-31TCJ"}},
            datetime="2020-03-01/2020-03-31",
        ).items()
    }
    assert a and a == b


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"collections": "NOPE"}, "unknown collection"),
        ({"query": {"view:sun_elevation": {"gt": 3}}}, "cannot filter"),
        ({"query": {"eo:cloud_cover": {"gt": 3}}}, "supports"),
        ({"datetime": "2020-02-01/2020-01-01"}, "before start"),
        ({"bbox": [0, 0, 1, 100]}, "latitude"),
        ({"max_items": -1}, "max_items"),
    ],
)
def test_bad_search_raises_before_any_request(
    client: Client, sandbox: Sandbox, kwargs: dict, message: str
) -> None:
    before = sandbox.stats["requests"]
    with pytest.raises(InvalidQueryError, match=message):
        client.search(**kwargs)
    assert sandbox.stats["requests"] == before
