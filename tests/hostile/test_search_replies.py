"""Hostile search replies (issue 8, items 3, 4 and 6): no reply may hang or crash a search.

A PEPS-shaped (resto), a GEODES-shaped and a generic STAC server, each on the ``hostile``
loopback server, reply every malformed thing we could think of; every search must end within
a bound with one project error naming the server and the field, never a traceback or a hang.
Tests only import names that exist before the fix, so they run (and fail) on the old code.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.base import Backend
from eodag_peps_plus.backends.stac_api import StacApiBackend
from eodag_peps_plus.exceptions import InvalidQueryError, PepsPlusError
from eodag_peps_plus.item_search import ItemSearch
from eodag_peps_plus.product import Availability
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox.app import Request, Response
from tests.conftest import recorded
from tests.hostile.bounded import within
from tests.hostile.conftest import HostileServer

PEPS_PATH = r"/resto/api/collections/[^/]+/search\.json"


# -- servers ------------------------------------------------------------------------------------
def peps_feature() -> dict[str, Any]:
    return copy.deepcopy(
        json.loads(recorded("peps_search_S2ST_page1.json").read_text())["features"][0]
    )


def geodes_item() -> dict[str, Any]:
    return copy.deepcopy(
        json.loads(recorded("geodes_search_S2_L1C.json").read_text())["features"][0]
    )


def stac_item() -> dict[str, Any]:
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "S2B_MSIL1C_20200105T105339_N0208_R051_T31TCJ_20200105T112023",
        "collection": "S2_L1C",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[1, 43], [2, 43], [2, 44], [1, 44], [1, 43]]],
        },
        "bbox": [1, 43, 2, 44],
        "properties": {
            "datetime": "2020-01-05T10:53:39Z",
            "platform": "S2B",
            "eo:cloud_cover": 12.5,
        },
        "assets": {
            "data": {"href": "http://127.0.0.1:1/x.zip", "roles": ["data"], "file:size": 10}
        },
        "links": [],
    }


def peps_page(
    features: list[Any], total: Any = None, next_url: str | None = None
) -> dict[str, Any]:
    links = [{"rel": "self", "href": "http://x/self"}]
    if next_url:
        links.append({"rel": "next", "title": "suivant", "href": next_url})
    total = len(features) if total is None else total
    return {
        "type": "FeatureCollection",
        "properties": {"totalResults": total, "links": links},
        "features": features,
    }


def stac_page(
    features: list[Any], matched: Any = None, next_link: dict[str, Any] | None = None
) -> dict[str, Any]:
    page: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "links": [next_link] if next_link else [],
    }
    page["context"] = {
        "returned": len(features),
        "matched": len(features) if matched is None else matched,
    }
    return page


class Server:
    """One server shape on the hostile server: how to answer a search, and a backend to ask."""

    def __init__(self, kind: str, hostile: HostileServer) -> None:
        self.kind = kind
        self.hostile = hostile
        self.name = {"peps": "PEPS", "geodes": "GEODES", "stac": "STAC"}[kind]
        if kind == "peps":
            self.method, self.path = "GET", PEPS_PATH
            self.search_url = f"{hostile.url}/resto/api/collections/S2ST/search.json"
        else:
            self.method = "POST"
            self.path = "/api/stac/search" if kind == "geodes" else "/search"
            self.search_url = hostile.url + self.path
            # An empty result makes the backend check the collection name; say it exists.
            collections = {"collections": [{"id": c} for c in ("PEPS_S2_L1C", "S2_L1C")]}
            method = "POST" if kind == "geodes" else "GET"
            path = "/api/stac/collections" if kind == "geodes" else "/collections"
            hostile.route(method, path, Response.json(collections))

    def feature(self) -> dict[str, Any]:
        return {"peps": peps_feature, "geodes": geodes_item, "stac": stac_item}[self.kind]()

    def backend(self) -> Backend:
        if self.kind == "stac":
            return StacApiBackend(self.hostile.url)
        return get_backend(self.kind, self.hostile.url)

    def query(self) -> Query:
        if self.kind == "stac":
            return Query.create()
        return Query.create(collection="S2ST", start="2020-01-01")  # one PEPS collection

    def page(
        self, features: list[Any], count: Any = None, next_url: str | None = None
    ) -> dict[str, Any]:
        if self.kind == "peps":
            return peps_page(features, count, next_url)
        link = {"rel": "next", "href": next_url, "method": "GET"} if next_url else None
        return stac_page(features, count, link)

    def reply(self, reply: Response | Callable[[Request], Response]) -> None:
        self.hostile.route(self.method, self.path, reply)
        self.hostile.route("GET", r"/next/.*", reply)

    def searches(self) -> int:
        return len(self.hostile.requests)


SERVERS = ("peps", "geodes", "stac")


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest, hostile: HostileServer) -> Server:
    return Server(request.param, hostile)


def one_line_error(error: BaseException, *words: str) -> None:
    """A project error, one line, naming what it must, and short whatever the server sent."""
    assert isinstance(error, PepsPlusError), f"{type(error).__name__}: {error}"
    text = str(error)
    assert "\n" not in text and len(text) < 500, text
    for word in words:
        assert word in text, f"{word!r} not in {text!r}"


def search_error(server: Server, *words: str, backend: Backend | None = None) -> None:
    backend = backend or server.backend()
    with pytest.raises(Exception) as caught:
        within(lambda: list(backend.search(server.query())))
    one_line_error(caught.value, *words)


# -- malformed features ------------------------------------------------------------------------
#: Field names per server for the properties the mutations below touch.
FIELDS = {
    "peps": {"start": "startDate", "cloud": "cloudCover", "orbit": "orbitNumber", "name": "title"},
    "geodes": {
        "start": "start_datetime",
        "cloud": "eo:cloud_cover",
        "orbit": "sat:absolute_orbit",
        "name": "identifier",
    },
    "stac": {
        "start": "datetime",
        "cloud": "eo:cloud_cover",
        "orbit": "sat:absolute_orbit",
        "name": "title",
    },
}


def _any(field: str) -> tuple[str, ...]:
    """The field's name on any of the servers: the error must name one of them."""
    return tuple(names[field] for names in FIELDS.values())


def _ring(points: int) -> list[list[float]]:
    ring = [[1 + (i % 1000) / 1000, 43 + (i // 1000) / 1000] for i in range(points - 1)]
    return [*ring, ring[0]]


#: name -> (change to a valid feature (kind, feature), words the error must contain)
FEATURE_CASES: dict[str, tuple[Callable[[str, dict[str, Any]], Any], tuple[str, ...]]] = {
    "coordinates garbage": (
        lambda k, f: f["geometry"].update(coordinates="garbage"),
        ("geometry.coordinates",),
    ),
    "coordinates a number": (
        lambda k, f: f["geometry"].update(coordinates=7),
        ("geometry.coordinates",),
    ),
    "coordinates nested too little": (
        lambda k, f: f["geometry"].update(
            type="Polygon", coordinates=[[1, 43], [2, 43], [2, 44], [1, 43]]
        ),
        ("geometry.coordinates",),
    ),
    "coordinates nested too deep": (
        lambda k, f: f["geometry"].update(type="Point", coordinates=[[1, 43]]),
        ("geometry.coordinates",),
    ),
    "coordinates strings": (
        lambda k, f: f["geometry"].update(type="Point", coordinates=["1", "43"]),
        ("geometry.coordinates",),
    ),
    "coordinates NaN string": (
        lambda k, f: f["geometry"].update(type="Point", coordinates=["NaN", 43]),
        ("geometry.coordinates",),
    ),
    "coordinates booleans": (
        lambda k, f: f["geometry"].update(type="Point", coordinates=[True, False]),
        ("geometry.coordinates",),
    ),
    "coordinates out of range": (
        lambda k, f: f["geometry"].update(type="Point", coordinates=[1, 1e300]),
        ("geometry.coordinates",),
    ),
    "coordinates empty": (
        lambda k, f: f["geometry"].update(type="Polygon", coordinates=[]),
        ("geometry", "no coordinates"),
    ),
    "ring not closed": (
        lambda k, f: f["geometry"].update(
            type="Polygon", coordinates=[[[1, 43], [2, 43], [2, 44], [1, 44]]]
        ),
        ("geometry.coordinates[0]", "closed"),
    ),
    "ring of 2 positions": (
        lambda k, f: f["geometry"].update(type="Polygon", coordinates=[[[1, 43], [1, 43]]]),
        ("geometry.coordinates[0]",),
    ),
    "huge ring": (
        lambda k, f: f["geometry"].update(type="Polygon", coordinates=[_ring(150_000)]),
        ("geometry.coordinates", "100000"),
    ),
    "geometry type unknown": (lambda k, f: f["geometry"].update(type="Circle"), ("geometry.type",)),
    "geometry null": (lambda k, f: f.update(geometry=None), ("geometry",)),
    "geometry empty object": (lambda k, f: f.update(geometry={}), ("geometry",)),
    "geometry a string": (lambda k, f: f.update(geometry="POLYGON((1 43, 2 43))"), ("geometry",)),
    "collections nested deep": (lambda k, f: f.update(geometry=_nested(50)), ("geometries",)),
    "no properties": (lambda k, f: f.pop("properties"), ("properties",)),
    "properties a list": (lambda k, f: f.update(properties=[1, 2]), ("properties",)),
    "no start date": (
        lambda k, f: f["properties"].pop(FIELDS[k]["start"]),
        ("startDate", "start_datetime"),
    ),
    "start date garbage": (
        lambda k, f: f["properties"].update({FIELDS[k]["start"]: "yesterday"}),
        _any("start"),
    ),
    "start date a number": (
        lambda k, f: f["properties"].update({FIELDS[k]["start"]: 1578221619}),
        _any("start"),
    ),
    "start date huge": (
        lambda k, f: f["properties"].update({FIELDS[k]["start"]: "2020" * 250_000}),
        _any("start"),
    ),
    "cloud cover text": (
        lambda k, f: f["properties"].update({FIELDS[k]["cloud"]: "cloudy"}),
        _any("cloud"),
    ),
    "cloud cover NaN": (
        lambda k, f: f["properties"].update({FIELDS[k]["cloud"]: "NaN"}),
        _any("cloud"),
    ),
    "cloud cover object": (
        lambda k, f: f["properties"].update({FIELDS[k]["cloud"]: {"value": 3}}),
        _any("cloud"),
    ),
    "orbit text": (
        lambda k, f: f["properties"].update({FIELDS[k]["orbit"]: "twelve"}),
        _any("orbit"),
    ),
    "orbit fractional": (
        lambda k, f: f["properties"].update({FIELDS[k]["orbit"]: 1.5}),
        _any("orbit"),
    ),
    "orbit huge digits": (
        lambda k, f: f["properties"].update({FIELDS[k]["orbit"]: "9" * 5000}),
        _any("orbit"),
    ),
    "name a list": (
        lambda k, f: f["properties"].update({FIELDS[k]["name"]: ["S2A"]}),
        _any("name"),
    ),
    "id missing": (
        lambda k, f: (f.pop("id"), f["properties"].pop(FIELDS[k]["name"], None)),
        ("id",),
    ),
    "platform a number": (lambda k, f: f["properties"].update(platform=2), ("platform",)),
    "instrument an object": (
        lambda k, f: f["properties"].update(instrument={"x": 1}, instruments={"x": 1}),
        ("instrument",),
    ),
    "grid code a list": (
        lambda k, f: f["properties"].update({"mgrs": ["31TCJ"], "grid:code": ["31TCJ"]}),
        ("mgrs", "grid:code"),
    ),
}


def _nested(depth: int) -> dict[str, Any]:
    geometry: dict[str, Any] = {"type": "Point", "coordinates": [1, 43]}
    for _ in range(depth):
        geometry = {"type": "GeometryCollection", "geometries": [geometry]}
    return geometry


def _size(value: Any) -> Callable[[str, dict[str, Any]], Any]:
    """A malformed archive size (GEODES writes sizes in a text description, where a bad one
    just reads as unknown: its assets' roles get the malformed value instead)."""

    def change(kind: str, feature: dict[str, Any]) -> None:
        if kind == "peps":
            feature["properties"]["services"]["download"]["size"] = value
        elif kind == "stac":
            feature["assets"]["data"]["file:size"] = value
        else:
            feature["assets"] = {"data": {"href": "http://x", "roles": value}}

    return change


def _checksum(kind: str, feature: dict[str, Any]) -> None:
    if kind == "peps":
        feature["properties"]["services"]["download"]["checksum"] = "<script>"
    elif kind == "stac":
        feature["assets"]["data"]["file:checksum"] = "d510" + "zz" * 16
    else:
        for asset in feature["assets"].values():
            asset["description"] = "File size: 3 bytes\n\nChecksum MD5: nothex"


def _assets(kind: str, feature: dict[str, Any]) -> None:
    feature["assets"] = ["data"]
    if kind == "peps":
        feature["properties"]["services"] = "download"


FEATURE_CASES.update(
    {
        "size text": (_size("big"), ("size", "roles")),
        "size negative": (_size(-5), ("size", "roles")),
        "size fractional": (_size(2.5), ("size", "roles")),
        "checksum not md5": (_checksum, ("checksum", "Checksum")),
        "assets a list": (_assets, ("assets", "services")),
    }
)


@pytest.mark.parametrize("case", sorted(FEATURE_CASES))
def test_a_malformed_feature_fails_the_search_with_one_line(server: Server, case: str) -> None:
    change, words = FEATURE_CASES[case]
    feature = server.feature()
    change(server.kind, feature)
    server.reply(Response.json(server.page([feature])))
    search = ItemSearch(server.backend(), [server.query()])
    with pytest.raises(Exception) as caught:  # items, as users get them (bbox included)
        within(lambda: list(search.items()))
    error = caught.value
    one_line_error(error, f"{server.name} search")
    assert any(word in str(error) for word in words), str(error)


@pytest.mark.parametrize("value", ["a string", 42, None, ["a", "list"], True])
def test_a_feature_that_is_not_an_object(server: Server, value: Any) -> None:
    server.reply(Response.json(server.page([server.feature(), value])))
    search_error(server, f"{server.name} search", "#2", "not a JSON object")


def test_a_valid_feature_still_maps(server: Server) -> None:
    server.reply(Response.json(server.page([server.feature()])))
    products = within(lambda: list(server.backend().search(server.query())))
    assert len(products) == 1 and products[0].geometry["type"] in ("Polygon", "MultiPolygon")


# -- malformed pages ---------------------------------------------------------------------------
def _page_cases(kind: str) -> dict[str, tuple[Response, tuple[str, ...]]]:
    feature = {"peps": peps_feature, "geodes": geodes_item, "stac": stac_item}[kind]()
    count = "properties.totalResults" if kind == "peps" else "context.matched"
    links = "properties.links" if kind == "peps" else "links"

    def page(**change: Any) -> dict[str, Any]:
        body = peps_page([feature]) if kind == "peps" else stac_page([feature])
        for key, value in change.items():
            if key == "count":
                target = body["properties"] if kind == "peps" else body["context"]
                target["totalResults" if kind == "peps" else "matched"] = value
            elif key == "links":
                (body["properties"] if kind == "peps" else body)["links"] = value
            else:
                body[key] = value
        return body

    def raw(text: str, kind_: str = "application/json") -> Response:
        return Response(200, text.encode(), {"Content-Type": kind_})

    cases = {
        "top-level list": (Response.json([feature]), ("not a JSON object",)),
        "top-level string": (Response.json("features"), ("not a JSON object",)),
        "top-level null": (Response.json(None), ("not a JSON object",)),
        "features an object": (Response.json(page(features={"a": feature})), ("features",)),
        "features a string": (Response.json(page(features="many")), ("features",)),
        "count not a number": (Response.json(page(count="many")), (count,)),
        "count 5000 digits": (Response.json(page(count="9" * 5000)), (count,)),
        "count negative": (Response.json(page(count=-3)), (count,)),
        "count fractional": (Response.json(page(count=2.5)), (count,)),
        "count an object": (Response.json(page(count={"n": 1})), (count,)),
        "links a string": (Response.json(page(links="next", count=5)), (links,)),
        "links an object": (Response.json(page(links={"rel": "next"}, count=5)), (links,)),
        "next href a number": (
            Response.json(page(links=[{"rel": "next", "href": 12}], count=5)),
            (links,),
        ),
        "next href not http": (
            Response.json(page(links=[{"rel": "next", "href": "file:///etc/passwd"}], count=5)),
            (links,),
        ),
        "NaN literal": (raw('{"type": "FeatureCollection", "features": [], "x": NaN}'), ("JSON",)),
        "not JSON": (raw("<html>maintenance</html>", "text/html"), ("JSON",)),
        "empty body": (raw(""), ("JSON",)),
        "truncated JSON": (raw('{"type": "FeatureCollection", "features": [{"id": '), ("JSON",)),
        "huge error text": (raw("x" * 1_000_000, "text/plain"), ("JSON",)),
    }
    if kind == "peps":
        cases["properties a list"] = (Response.json(page(properties=[1])), ("properties",))
    else:
        cases["type not FeatureCollection"] = (
            Response.json(page(type="Feature")),
            ("ItemCollection",),
        )
        cases["context a string"] = (Response.json(page(context="all")), ("context",))
        cases["numberMatched text"] = (
            Response.json(page(numberMatched="lots")),
            ("numberMatched",),
        )
    return cases


PAGE_CASES = sorted({(kind, case) for kind in SERVERS for case in _page_cases(kind)})


@pytest.mark.parametrize(("kind", "case"), PAGE_CASES)
def test_a_malformed_page_fails_with_one_line(hostile: HostileServer, kind: str, case: str) -> None:
    server = Server(kind, hostile)
    reply, words = _page_cases(kind)[case]
    server.reply(reply)
    search_error(server, f"{server.name} search", *words)


# -- paging ------------------------------------------------------------------------------------
def _paged(server: Server, pages: Callable[[int, Request], dict[str, Any]]) -> None:
    """Serve ``pages(n, request)`` for the first search (n=0) and every ``/next/{n}`` link."""

    def reply(request: Request) -> Response:
        n = int(request.path.rsplit("/", 1)[1]) if request.path.startswith("/next/") else 0
        return Response.json(pages(n, request))

    server.reply(reply)


def _next(server: Server, n: int) -> str:
    return f"{server.hostile.url}/next/{n}"


def test_a_self_link_ends_with_an_error(server: Server) -> None:
    _paged(server, lambda n, r: server.page([server.feature()], 10, _next(server, 1)))
    search_error(server, f"{server.name} search", "already read")
    assert server.searches() <= 3


def test_a_link_to_the_first_page_is_a_cycle(hostile: HostileServer) -> None:
    """PEPS only: a STAC first page is a POST of our own body, which no link can name."""
    server = Server("peps", hostile)
    first = f"{server.search_url}?maxRecords=500&page=1"
    server.reply(Response.json(server.page([server.feature()], 10, first)))
    search_error(server, "PEPS search", "already read")


def test_a_two_page_cycle_ends_with_an_error(server: Server) -> None:
    _paged(
        server, lambda n, r: server.page([server.feature()], 10, _next(server, 2 if n == 1 else 1))
    )
    search_error(server, "already read")
    assert server.searches() <= 4


def test_a_long_cycle_across_page_tokens(server: Server) -> None:
    """The caller pages one product at a time with our tokens (as EODAG does): the cycle
    1 -> 2 -> ... -> 5 -> 1 spans calls, so tokens must remember it."""
    _paged(server, lambda n, r: server.page([server.feature()], 10**6, _next(server, n % 5 + 1)))
    backend = server.backend()

    def walk() -> int:
        page = backend.search_page(server.query(), limit=1)
        calls = 1
        while page.next_token and calls < 100:
            page = backend.search_page(server.query(), limit=1, token=page.next_token)
            calls += 1
        return calls

    with pytest.raises(Exception) as caught:
        within(walk)
    one_line_error(caught.value, "already read")
    assert server.searches() <= 8


def test_endless_distinct_links_to_empty_pages_end_quietly(server: Server) -> None:
    _paged(
        server,
        lambda n, r: server.page([server.feature()] if n == 0 else [], 10**6, _next(server, n + 1)),
    )
    products = within(lambda: list(server.backend().search(server.query())))
    assert len(products) == 1 and server.searches() <= 3


def test_links_past_the_count_are_not_followed(server: Server) -> None:
    _paged(server, lambda n, r: server.page([server.feature()], 2, _next(server, n + 1)))
    products = within(lambda: list(server.backend().search(server.query())))
    assert len(products) == 2 and server.searches() <= 3


def test_endless_full_pages_without_a_count_hit_the_page_cap(server: Server) -> None:
    def page(n: int, request: Request) -> dict[str, Any]:
        body = server.page([server.feature()], None, _next(server, n + 1))
        if server.kind == "peps":
            body["properties"].pop("totalResults")
        else:
            body.pop("context")
        return body

    _paged(server, page)
    backend = server.backend()
    backend.max_pages = 12  # the real cap is 20,000 pages
    search_error(server, f"{server.name} search", "more than 12 pages", backend=backend)
    assert server.searches() <= 14


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "[1, 2]",
        '{"backend": "other", "url": "http://x/"}',
        '{"backend": "%s", "url": "file:///etc/passwd"}',
        '{"backend": "%s", "url": "http://x/", "seen": -4}',
        '{"backend": "%s", "url": "http://x/", "pages": "many"}',
        '{"backend": "%s", "offset": 3, "totals": ["a"]}',
        '{"backend": "%s", "url": "http://x/", "evil": 1}',
        "99999999",
        "0",
        "x" * 200_000,
    ],
)
def test_a_token_handed_back_is_checked(server: Server, token: str) -> None:
    server.reply(Response.json(server.page([server.feature()])))
    backend = server.backend()
    text = token.replace("%s", server.kind) if "%s" in token else token
    with pytest.raises(InvalidQueryError) as caught:
        within(lambda: backend.search_page(server.query(), limit=1, token=text))
    one_line_error(caught.value)
    assert server.searches() == 0


def test_tokens_have_readable_keys(server: Server) -> None:
    _paged(server, lambda n, r: server.page([server.feature()], 3, _next(server, n + 1)))
    page = within(lambda: server.backend().search_page(server.query(), limit=1))
    assert page.next_token is not None
    state = json.loads(page.next_token)
    assert state["backend"] == server.kind and state["seen"] == 1 and state["matched"] == 3
    assert set(state) <= {"backend", "url", "method", "body", "seen", "matched", "pages", "trail"}


def test_peps_availability_stops_at_a_self_link(
    hostile: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    server = Server("peps", hostile)
    first = peps_feature()
    server.reply(Response.json(server.page([first], 10, _next(server, 1))))
    backend = server.backend()
    product = within(lambda: list(backend.search_page(server.query(), limit=1).products))[0]
    other = copy.copy(product)
    other.id = "S2A_NOT_ON_ANY_PAGE"
    with caplog.at_level(logging.WARNING):
        found = within(lambda: backend.availability([product, other]))
    assert found[product.id] in set(Availability) and other.id not in found
    assert "already read" in caplog.text


def test_peps_availability_ignores_malformed_features(hostile: HostileServer) -> None:
    server = Server("peps", hostile)
    good = peps_feature()
    product = _map_peps(good)[0]
    server.reply(
        Response.json(server.page(["junk", {"properties": []}, {"properties": {"title": 3}}, good]))
    )
    found = within(lambda: server.backend().availability([product]))
    assert found == {product.id: product.availability}


def _map_peps(feature: dict[str, Any]) -> list[Any]:
    from eodag_peps_plus.backends.peps import feature_to_product

    return [feature_to_product(feature)]


def test_a_geometry_from_a_saved_file_cannot_hang_the_bbox() -> None:
    """``geometry_bbox`` is the loop that spun at 100 % CPU: it ends on anything."""
    from eodag_peps_plus.stac import geometry_bbox

    for value in ("garbage", [[[]]], {"a": 1}, 7, [["x"]], [[[[[]]]]]):
        with pytest.raises(ValueError):
            within(lambda: geometry_bbox({"type": "Polygon", "coordinates": value}), 5)


# -- the commands --------------------------------------------------------------------------------
def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@pytest.mark.parametrize("case", ["coordinates garbage", "no start date", "cloud cover text"])
def test_peps_plus_search_prints_one_error_line(
    hostile: HostileServer, case: str, tmp_path: Path
) -> None:
    server = Server("peps", hostile)
    feature = server.feature()
    FEATURE_CASES[case][0]("peps", feature)
    server.reply(Response.json(server.page([feature])))
    out = tmp_path / "results.geojson"
    out.write_text("previous results")
    result = subprocess.run(
        [_bin("peps-plus"), "search", "-B", "peps", "--url", hostile.url, "-c", "S2ST", "--json", str(out)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "PEPS search" in errors[0], result.stderr
    assert out.read_text() == "previous results"


@pytest.mark.parametrize("case", ["self link", "coordinates garbage", "top-level list"])
def test_eodag_search_prints_one_error_line(
    hostile: HostileServer, case: str, tmp_path: Path
) -> None:
    from eodag_peps_plus.eodag_support import providers_yaml

    server = Server("peps", hostile)
    feature = server.feature()
    if case == "self link":
        _paged(server, lambda n, r: server.page([peps_feature()], 10**6, _next(server, 1)))
    elif case == "top-level list":
        server.reply(Response.json([feature]))
    else:
        FEATURE_CASES[case][0]("peps", feature)
        server.reply(Response.json(server.page([feature])))
    providers = tmp_path / "providers"
    providers.mkdir()
    (providers / "peps_plus.yml").write_text(providers_yaml())
    env = {
        **os.environ,
        "EODAG__PEPS__SEARCH__API_ENDPOINT": hostile.url,
        "EODAG_PROVIDERS_CFG_DIR": str(providers),
    }
    result = subprocess.run(
        [_bin("eodag"), "search", "-p", "peps", "-c", "S2ST", "-s", "2020-01-01", "--all"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "PEPS search" in errors[0], result.stderr


def test_eodag_python_api_gets_eodag_exceptions(hostile: HostileServer) -> None:
    from eodag.utils.exceptions import RequestError

    from eodag_peps_plus.eodag_support import gateway

    server = Server("peps", hostile)
    server.reply(Response.json([peps_feature()]))
    dag = gateway(peps=hostile.url)
    with pytest.raises(RequestError, match="PEPS search"):
        within(lambda: dag.search(provider="peps", collection="S2ST", raise_errors=True))


def test_a_real_sized_page_maps_fast_enough_to_matter_nowhere(hostile: HostileServer) -> None:
    """Not a timing test: 500 valid features with 200-position footprints all map."""
    server = Server("peps", hostile)
    features = []
    for i in range(500):
        feature = peps_feature()
        feature["id"] = f"id-{i}"
        feature["properties"]["title"] = f"S2A_MSIL1C_20200105T105339_N0208_R051_T31TCJ_{i:015d}"
        feature["geometry"] = {"type": "Polygon", "coordinates": [_ring(200)]}
        features.append(feature)
    server.reply(Response.json(server.page(features)))
    products = within(lambda: list(server.backend().search(server.query())), 60)
    assert len(products) == 500 and not any(
        math.isnan(p.geometry["coordinates"][0][0][0]) for p in products
    )


@pytest.mark.parametrize("kind", ["geodes", "stac"])
@pytest.mark.parametrize(
    ("href", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/?page=2", "link-local"),
        ("http://127.0.0.2:9/next/1?token=t", "another origin"),
    ],
    ids=["metadata", "elsewhere"],
)
def test_a_next_link_aimed_elsewhere_is_refused(
    hostile: HostileServer, kind: str, href: str, why: str
) -> None:
    """Issue 25 item 6: a results page's ``next`` link is not a place to go."""
    server = Server(kind, hostile)
    _paged(server, lambda n, r: server.page([server.feature()], 10, href))
    search_error(server, "refused to follow the next link", why)


def test_a_count_beyond_any_catalogue_is_no_count(server: Server) -> None:
    """Issue 25 item 8: ``totalResults`` of 10^30 is a whole number, just not a count a
    catalogue can have: the search goes on without it and ``--max-items 5`` works."""
    features = [dict(server.feature(), id=f"x{n}") for n in range(7)]
    server.reply(Response.json(server.page(features, 10**30)))
    backend = server.backend()
    assert within(lambda: backend.count(server.query())) is None
    found = within(lambda: list(backend.search(server.query(), max_items=5)))
    assert len(found) == 5


def test_the_cli_counts_unknown_and_lists_five(hostile: HostileServer) -> None:
    from click.testing import CliRunner

    from eodag_peps_plus.cli import cli

    server = Server("peps", hostile)
    features = [dict(server.feature(), id=f"x{n}") for n in range(7)]
    server.reply(Response.json(server.page(features, 10**30)))
    for since in ("2020-01-01", "2016-01-01"):  # S2ST alone, then S2 and S2ST one after the other
        base = ["search", "-B", "peps", "--url", hostile.url, "--collection", "S2ST"]
        base += ["--start", since]
        counted = CliRunner().invoke(cli, [*base, "--count"])
        assert counted.exit_code == 0 and "unknown" in counted.output, counted.output
        listed = CliRunner().invoke(cli, [*base, "--max-items", "5"])
        assert listed.exit_code == 0, listed.output


@pytest.mark.parametrize("cover", [1e308, -5, 101])
def test_a_cloud_cover_that_is_no_percentage_is_refused(server: Server, cover: float) -> None:
    """Issue 25 item 8: ``eo:cloud_cover`` of 1e308 is not a percentage."""
    feature = server.feature()
    feature["properties"]["cloudCover" if server.kind == "peps" else "eo:cloud_cover"] = cover
    server.reply(Response.json(server.page([feature], 1)))
    search_error(server, f"{server.name} search", "is not a percentage")
