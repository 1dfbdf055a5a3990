"""PEPS resto features -> STAC items that validate, core and extensions, without network.

stac-validator fetches extension schemas from stac-extensions.github.io; ``schema_map()`` points
every URI at a local file, and ``offline`` makes any other connection attempt fail the test.
"""

from __future__ import annotations

import copy
import json
import socket
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pystac
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.peps import feature_to_product
from eodag_peps_plus.eodag_plugins.convert import to_eoproduct
from eodag_peps_plus.product import Availability, Product
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Catalogue, Sandbox
from eodag_peps_plus.stac import (
    ARCHIVE_ASSET,
    EXTENSION_SCHEMAS,
    THUMBNAIL_ASSET,
    eoproduct_to_item,
    geometry_bbox,
    items_to_collection,
    product_to_item,
    schema_map,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # "migrate to stac_valid": same module
    from stac_validator.validate import StacValidate

SCHEMAS = schema_map()
S2_EXTENSIONS = {
    EXTENSION_SCHEMAS[k] for k in ("eo", "sat", "grid", "processing", "product", "file", "order")
}
S1_EXTENSIONS = {
    EXTENSION_SCHEMAS[k] for k in ("sar", "sat", "processing", "product", "file", "order")
}


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only loopback connections (the sandbox): a schema fetched from the internet fails."""
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test is offline: refused connection to {address!r}")
        return real_connect(self, address)

    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test is offline: refused to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def validate(item: pystac.Item | dict[str, Any]) -> None:
    """Core STAC 1.1.0 + every declared extension, or an assertion naming the failure."""
    data = item.to_dict() if isinstance(item, pystac.Item) else item
    validator = StacValidate(schema_map=SCHEMAS)
    ok = validator.validate_dict(copy.deepcopy(data))
    assert ok, json.dumps(validator.message, indent=1, default=str)[:3000]
    checked = set(validator.message[0]["schema"])
    assert {SCHEMAS[uri] for uri in data.get("stac_extensions", [])} <= checked


def invalid(data: dict[str, Any]) -> str:
    validator = StacValidate(schema_map=SCHEMAS)
    assert not validator.validate_dict(copy.deepcopy(data)), "expected a validation error"
    return str(validator.message[0].get("error_message"))


@pytest.fixture
def fixture_products(fixture_path: Callable[[str], Path]) -> list[Product]:
    body = json.loads(fixture_path("peps_search_S2ST_page1.json").read_text())
    return [feature_to_product(f) for f in body["features"]]


# -- the real recorded reply ------------------------------------------------------------------
def test_recorded_feature_values(fixture_products: list[Product]) -> None:
    disk, tape = (product_to_item(p) for p in fixture_products)
    assert disk.id == "S2A_MSIL1C_20200815T005251_N0209_R002_T55PDR_20200815T023440"
    assert disk.collection_id == "S2ST"
    assert [link.rel for link in disk.links] == ["collection"]
    props = disk.properties
    assert (
        disk.datetime is not None
        and disk.datetime.isoformat() == "2020-08-15T00:52:51.024000+00:00"
    )
    assert props["start_datetime"] == props["end_datetime"] == "2020-08-15T00:52:51.024Z"
    assert props["created"] == props["updated"] == "2020-08-15T12:20:16.569Z"
    assert props["platform"] == "S2A" and props["constellation"] == "sentinel-2"
    assert props["instruments"] == ["msi"]
    assert props["product:type"] == "S2MSI1C" and props["processing:level"] == "L1C"
    assert props["processing:version"] == "02.09"
    assert props["grid:code"] == "MGRS-55PDR"
    assert props["sat:relative_orbit"] == 2 and props["sat:absolute_orbit"] == 26883
    assert props["sat:orbit_state"] == "descending"
    assert props["eo:cloud_cover"] == 20.5218
    assert props["order:status"] == "succeeded" and props["peps:storage"] == "disk"
    assert disk.bbox == pytest.approx(
        [146.07173856054, 13.478316386477, 147.09056628434, 14.472812699207]
    )

    archive = disk.assets[ARCHIVE_ASSET]
    assert (
        archive.href
        == "https://peps.cnes.fr/resto/collections/S2ST/01f888ef-3368-59ff-a639-52242d159d7c/download"
    )
    assert archive.media_type == "application/zip" and archive.roles == ["data"]
    assert archive.extra_fields["file:size"] == 781865648
    assert archive.extra_fields["file:checksum"] == "d510" + "64ffca4b9cd13d094ed05554e010db5a"
    assert props["file:checksum"] == archive.extra_fields["file:checksum"]
    thumb = disk.assets[THUMBNAIL_ASSET]
    assert (
        thumb.href.endswith("T55PDR_20200815T023440_quicklook.jpg")
        and thumb.media_type == "image/jpeg"
    )
    assert "thumbnail" in (thumb.roles or [])

    assert (
        tape.properties["order:status"] == "orderable" and tape.properties["peps:storage"] == "tape"
    )
    assert tape.assets[ARCHIVE_ASSET].extra_fields == {
        "file:size": 659478453,
        "file:checksum": "d5109fc37a160e4e23823679fcf21def1596",
    }
    assert tape.properties["grid:code"] == "MGRS-55PCR"
    for item in (disk, tape):
        assert set(item.stac_extensions) == S2_EXTENSIONS
        validate(item)


def test_item_survives_json_round_trip(fixture_products: list[Product]) -> None:
    data = json.loads(json.dumps(product_to_item(fixture_products[0]).to_dict()))
    again = pystac.Item.from_dict(data)
    assert again.to_dict() == data
    validate(data)


def test_validator_really_checks_core_and_extensions(fixture_products: list[Product]) -> None:
    good = product_to_item(fixture_products[0]).to_dict()
    broken: list[tuple[str, Any]] = [
        ("grid:code", "55PDR"),
        ("order:status", "done"),
        ("eo:cloud_cover", 120.0),
        ("sat:relative_orbit", 0),
        ("sat:orbit_state", "DESCENDING"),
        ("product:type", ""),
        ("processing:levle", "L1C"),  # unknown field of a declared extension
    ]
    for key, value in broken:
        data = copy.deepcopy(good)
        data["properties"][key] = value
        invalid(data)
    data = copy.deepcopy(good)
    data["assets"][ARCHIVE_ASSET]["file:checksum"] = "64FFCA4B9CD13D094ED05554E010DB5A"
    invalid(data)
    data = copy.deepcopy(good)
    del data["properties"]["order:status"]
    invalid(data)
    data = copy.deepcopy(good)
    data["properties"]["datetime"] = None  # and no start/end: core schema
    del data["properties"]["start_datetime"], data["properties"]["end_datetime"]
    invalid(data)
    data = copy.deepcopy(good)
    data["links"] = []  # "collection" without a collection link: core schema
    invalid(data)


def test_extensions_follow_the_fields_present(fixture_products: list[Product]) -> None:
    product = copy.deepcopy(fixture_products[0])
    for key in ("eo:cloud_cover", "grid:code"):
        del product.properties[key]
    product.properties.pop("eodag:quicklook")
    item = product_to_item(product)
    assert set(item.stac_extensions) == S2_EXTENSIONS - {
        EXTENSION_SCHEMAS["eo"],
        EXTENSION_SCHEMAS["grid"],
    }
    assert THUMBNAIL_ASSET not in item.assets
    validate(item)


def test_collection_can_be_overridden(fixture_products: list[Product]) -> None:
    item = product_to_item(
        fixture_products[0], collection="S2_MSI_L1C", collection_href="https://example.org/c.json"
    )
    assert item.collection_id == "S2_MSI_L1C"
    assert item.get_single_link("collection").href == "https://example.org/c.json"  # type: ignore[union-attr]
    validate(item)


def test_items_to_collection(fixture_products: list[Product]) -> None:
    collection = items_to_collection(fixture_products)
    assert isinstance(collection, pystac.ItemCollection)
    assert [i.id for i in collection] == [p.id for p in fixture_products]
    assert len(collection.to_dict()["features"]) == 2


# -- EODAG's own conversion ---------------------------------------------------------------------
def test_eodag_items_validate_but_lack_assets(fixture_products: list[Product]) -> None:
    """EODAG's ``as_pystac_object()`` drops nothing of ours and validates, but gives no archive
    asset (so no ``file:`` fields where the file extension defines them) and adds its own
    properties: prefer ``product_to_item``/``eoproduct_to_item`` for our products."""
    from eodag.api.search_result import SearchResult

    eo_products = [to_eoproduct(p, "peps", collection="S2_MSI_L1C") for p in fixture_products]
    ours = product_to_item(fixture_products[0]).to_dict()
    theirs = SearchResult(eo_products).as_pystac_object().items[0].to_dict()
    validate(theirs)
    assert set(theirs["stac_extensions"]) == S2_EXTENSIONS
    assert theirs["assets"] == {}
    assert set(theirs["properties"]) - set(ours["properties"]) == {
        "eodag:provider", "eodag:search_intersection", "federation:backends", "providers"
    }  # fmt: skip
    assert {k: theirs["properties"][k] for k in ours["properties"]} == ours["properties"]

    again = eoproduct_to_item(eo_products[0]).to_dict()
    assert again["properties"] == ours["properties"] and again["assets"] == ours["assets"]
    assert again["geometry"] == ours["geometry"] and again["bbox"] == ours["bbox"]
    validate(again)


# -- the sandbox catalogue --------------------------------------------------------------------
KINDS = {
    "S1 GRD": {"collection": "S1", "product_type": "GRD"},
    "S1 SLC": {"collection": "S1", "product_type": "SLC"},
    "S1 OCN": {"collection": "S1", "product_type": "OCN"},
    "S2 (before S2ST)": {"collection": "S2", "end": "2016-12-04"},
    "S2ST": {"collection": "S2", "start": "2016-12-05"},
}


@pytest.mark.parametrize("kind", list(KINDS))
def test_sandbox_search_items_validate(sandbox: Sandbox, kind: str) -> None:
    backend = get_backend("peps", sandbox.url)
    products = list(backend.search(Query.create(**KINDS[kind]), limit=40, max_items=40))
    assert len(products) == 40
    collection = items_to_collection(products)
    for item in collection:
        s1 = item.properties["platform"].startswith("S1")
        assert set(item.stac_extensions) == (S1_EXTENSIONS if s1 else S2_EXTENSIONS)
        if s1:  # S1 frames have a duration: STAC wants datetime null and the range
            assert item.datetime is None and item.properties["datetime"] is None
        else:
            assert item.datetime is not None
        validate(item)


def _entries(catalogue: Catalogue, collection: str, product_type: str | None = None) -> list[Any]:
    return [
        e
        for e in catalogue.entries
        if e.collection == collection and (product_type is None or e.product_type == product_type)
    ]


_STORAGE = ["disk", "tier2", "staging", "tape", "tier3", "unknown", "TAPE", None]


@pytest.fixture(scope="module")
def render(sandbox: Sandbox) -> Iterator[Any]:
    service = sandbox.services["peps"]
    yield lambda entry: service.render(entry, sandbox.url)


@pytest.mark.parametrize(
    ("collection", "product_type"),
    [("S1", "GRD"), ("S1", "SLC"), ("S1", "OCN"), ("S2", None), ("S2ST", None)],
)
def test_any_sandbox_feature_becomes_a_valid_item(
    catalogue: Catalogue, render: Any, collection: str, product_type: str | None
) -> None:
    entries = _entries(catalogue, collection, product_type)

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(
        entry=st.sampled_from(entries),
        storage=st.sampled_from(_STORAGE),
        hide_relative_orbit=st.booleans(),
        cloud=st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
        quicklook=st.booleans(),
    )
    def check(
        entry: Any,
        storage: str | None,
        hide_relative_orbit: bool,
        cloud: float | None,
        quicklook: bool,
    ) -> None:
        feature = render(entry)
        p = feature["properties"]
        p["storage"] = {"mode": storage} if storage else None
        if hide_relative_orbit:
            p["relativeOrbitNumber"] = None
        if collection.startswith("S2"):
            p["cloudCover"] = cloud
        if not quicklook:
            p["quicklook"] = None
        product = feature_to_product(feature)
        item = product_to_item(product)

        expected = {"disk": "succeeded", "tier2": "succeeded", "staging": "ordered"}.get(
            (storage or "").lower(), "orderable"
        )
        assert item.properties["order:status"] == expected
        assert item.properties["peps:storage"] == (storage or "unknown").lower()
        assert product.availability is not Availability.ONLINE or expected == "succeeded"
        assert item.properties["sat:relative_orbit"] == entry.relative_orbit
        assert item.assets[ARCHIVE_ASSET].extra_fields["file:size"] == entry.size
        assert (
            item.assets[ARCHIVE_ASSET].extra_fields["file:checksum"] == "d510" + entry.md5.lower()
        )
        assert (THUMBNAIL_ASSET in item.assets) is quicklook
        west, south, east, north = item.bbox or []
        assert west <= east and south <= north
        validate(item)

    check()


# -- pieces -------------------------------------------------------------------------------------
def test_geometry_bbox_shapes() -> None:
    ring = [[1.0, 2.0], [3.0, 2.0], [3.0, 5.0], [1.0, 2.0]]
    assert geometry_bbox({"type": "Polygon", "coordinates": [ring]}) == [1.0, 2.0, 3.0, 5.0]
    assert geometry_bbox(
        {"type": "MultiPolygon", "coordinates": [[ring], [[[-4, -1], [0, 0], [-4, 0], [-4, -1]]]]}
    ) == [-4, -1, 3.0, 5.0]
    assert geometry_bbox({"type": "Point", "coordinates": [7, 8]}) == [7, 8, 7, 8]
    assert geometry_bbox({"type": "Polygon", "coordinates": (tuple(tuple(p) for p in ring),)}) == [
        1.0,
        2.0,
        3.0,
        5.0,
    ]
    collection = {
        "type": "GeometryCollection",
        "geometries": [
            {"type": "Point", "coordinates": [0, 0]},
            {"type": "Point", "coordinates": [2, -3]},
        ],
    }
    assert geometry_bbox(collection) == [0, -3, 2, 0]
    assert geometry_bbox(None) is None


def test_schema_map_files_exist() -> None:
    for uri in EXTENSION_SCHEMAS.values():
        path = Path(SCHEMAS[uri])
        assert path.is_file(), uri
        assert json.loads(path.read_text())["$id"] == uri


def test_unmapped_schema_would_need_the_network(fixture_products: list[Product]) -> None:
    """Without our local copy the validator goes online, which ``offline`` refuses: so every
    passing validation above really was checked against the local schemas."""
    data = product_to_item(fixture_products[0]).to_dict()
    partial = {k: v for k, v in SCHEMAS.items() if k != EXTENSION_SCHEMAS["grid"]}
    validator = StacValidate(schema_map=partial)
    assert not validator.validate_dict(data)
    message = validator.message[0]["error_message"]
    assert "stac-extensions.github.io" in message and "offline" in message
