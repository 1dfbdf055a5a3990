"""Property: the fast paths of reply reading accept and reject exactly what the general ones do.

Issue 24 made footprint checks cost per ring instead of per position, and typed field reads
take the common value first. Each fast path may only *accept*; everything else goes to the
general rule, whose message is the one users see. These tests hold the new functions against
the general rule (geometry: the walk, kept as is; fields: the rule as it was, written out
here) on values built to sit on every edge: NaN, infinities, huge ints, bools, tuples, 3-D
positions, open and short rings, nesting one level off.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eodag_peps_plus.backends import replies
from eodag_peps_plus.backends.replies import MAX_INTEGER, FieldError, Fields, count, md5_hex
from eodag_peps_plus.geometry import (
    GeometryError,
    _walk_bbox,
    _walk_check,
    check_geometry,
    geometry_bbox,
)
from eodag_peps_plus.vocabulary import iso_utc
from tests.conftest import recorded

numbers = (
    st.floats(-400, 400)
    | st.floats(-100, 100)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-400, 400)
    | st.sampled_from([2**1100, -(2**1100), 10**400, True, False, -0.0, 360, -90, 90.0])
)
odd = st.none() | st.text(max_size=3) | st.just([]) | st.just({}) | st.booleans()
coordinate = numbers | odd
position = (
    st.lists(numbers, min_size=2, max_size=2)
    | st.lists(coordinate, min_size=0, max_size=4)
    | st.tuples(numbers, numbers).map(list)
    | st.tuples(numbers, numbers)
    | odd
    | numbers
)


@st.composite
def rings(draw: Any) -> Any:
    """Mostly closed rings of plausible positions, sometimes anything."""
    points = draw(st.lists(position, min_size=0, max_size=7))
    if points and draw(st.booleans()):
        points.append(points[0] if draw(st.booleans()) else json.loads(json.dumps(points[0])))
    return draw(st.sampled_from([points, tuple(points)])) if draw(st.booleans()) else points


def polygon() -> Any:
    return st.lists(rings(), min_size=0, max_size=3) | odd | numbers


@st.composite
def geometries(draw: Any) -> Any:
    kind = draw(
        st.sampled_from(["Polygon", "MultiPolygon"] * 4 + ["Point", "LineString", "Nope", None])
    )
    if kind == "MultiPolygon":
        coordinates = draw(st.lists(polygon(), min_size=0, max_size=3) | odd)
    elif kind == "Polygon":
        coordinates = draw(polygon())
    else:
        coordinates = draw(position | st.lists(position, max_size=4))
    value: Any = {"type": kind, "coordinates": coordinates}
    if draw(st.integers(0, 9)) == 0:
        value = draw(odd | st.just({"type": "GeometryCollection", "geometries": [value]}))
    return value


def _outcome(check: Any, value: Any) -> Any:
    try:
        return ("ok", check(value))
    except GeometryError as exc:
        return ("error", str(exc))
    except (OverflowError, TypeError, ValueError) as exc:  # the walk's own limits
        return ("raised", type(exc).__name__)


def _same_box(a: Any, b: Any) -> bool:
    if a[0] != b[0] or a[0] != "ok" or a[1] is None or b[1] is None:
        return bool(a == b)
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a[1], b[1]))


@settings(max_examples=2000, deadline=None)
@given(geometries())
def test_check_geometry_matches_the_walk(value: Any) -> None:
    def walk(v: Any) -> Any:
        _walk_check(v, "geometry")
        return v

    assert _outcome(check_geometry, value) == _outcome(walk, value)


@settings(max_examples=2000, deadline=None)
@given(geometries())
def test_geometry_bbox_matches_the_walk(value: Any) -> None:
    def walk(v: Any) -> Any:
        return _walk_bbox(v) if v else None

    assert _same_box(_outcome(geometry_bbox, value), _outcome(walk, value))


def test_recorded_footprints_take_the_fast_path() -> None:
    """The fast path is the common one: every recorded footprint goes through it."""
    for name in ("peps_search_S2ST_page1.json", "geodes_search_S2_L1C.json"):
        for feature in json.loads(recorded(name).read_text())["features"]:
            box = geometry_bbox(feature["geometry"])
            assert box is not None and box == _walk_bbox(feature["geometry"])
            assert _polygon_fast(feature["geometry"])


def _polygon_fast(value: Any) -> bool:
    from eodag_peps_plus.geometry import _polygon_bbox

    return _polygon_bbox(value) is not None


# -- typed field reads: the rule as it was before the fast branches --------------------------
class Rule:
    """``Fields`` read by the general rule only (the code before issue 24)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.fields = Fields(data, "properties", "P")

    def fail(self, key: str, problem: str) -> FieldError:
        return self.fields.fail(key, problem)

    def text(self, key: str, required: bool = False) -> Any:
        value = self.fields.data.get(key)
        if value is None and required:
            raise self.fail(key, "is missing")
        if value is None or value == "":
            if required:
                raise self.fail(key, "is empty")
            return None
        if not isinstance(value, str):
            raise self.fail(key, f"is not a string ({replies.json_kind(value)})")
        return value

    def number(self, key: str) -> Any:
        value = self.fields.data.get(key)
        if value is None or value == "":
            return None
        number = replies._to_number(value)
        if number is None:
            raise self.fail(key, f"is not a finite number ({replies.shorten(value)})")
        return number

    def integer(self, key: str) -> Any:
        value = self.fields.data.get(key)
        if value is None or value == "":
            return None
        return count(value, lambda problem: self.fail(key, problem))

    def md5(self, key: str) -> Any:
        value = self.text(key)
        if value is None:
            return None
        if len(value) != 32 or not all(c in "0123456789abcdefABCDEF" for c in value):
            raise self.fail(key, f"is not an MD5 digest ({replies.shorten(value)})")
        return value.lower()

    def time(self, key: str, required: bool = False) -> Any:
        value = self.text(key, required)
        if value is None:
            return None
        try:
            return iso_utc(value)
        except (ValueError, OverflowError):
            raise self.fail(key, f"is not an ISO 8601 date ({replies.shorten(value)})") from None


field_values = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, MAX_INTEGER, MAX_INTEGER + 1, -1, 3.0, 3.5, -0.0, 10**400])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.text("0123456789abcdefABCDEFg", min_size=31, max_size=33)
    | st.sampled_from(["", "3", " 7 ", "NaN", "inf", "1e400", "9" * 40, "2020-01-05T10:53:39Z"])
    | st.sampled_from(["2020-08-15T00:52:51.024Z", "2020-08-15", "2020-13-01T00:00:00Z"])
    | st.just([])
    | st.just({})  # fmt: skip
)


def _read(read: Any, *args: Any) -> Any:
    try:
        value = read(*args)
        return ("ok", type(value).__name__, value if value == value else "nan")
    except FieldError as exc:
        return ("error", str(exc), exc.field, exc.product)


@settings(max_examples=2000, deadline=None)
@given(field_values, st.sampled_from(["text", "number", "integer", "md5", "time", "required"]))
def test_field_reads_match_the_rule(value: Any, read: str) -> None:
    data = {"k": value}
    fast, rule = Fields(data, "properties", "P"), Rule(data)
    if read == "required":
        for name in ("text", "time"):
            assert _read(lambda k, n=name: getattr(fast, n)(k, required=True), "k") == _read(
                lambda k, n=name: getattr(rule, n)(k, required=True), "k"
            )
        return
    assert _read(getattr(fast, read), "k") == _read(getattr(rule, read), "k")


@given(st.text(max_size=50))
def test_md5_matches_the_rule(value: Any) -> None:
    def rule(text: str) -> str:
        if len(text) != 32 or not all(c in "0123456789abcdefABCDEF" for c in text):
            raise ValueError("not")
        return text.lower()

    def fail(problem: str) -> ValueError:
        return ValueError("not")

    outcomes = []
    for check in (rule, lambda text: md5_hex(text, fail)):
        try:
            outcomes.append(check(value))
        except ValueError:
            outcomes.append(None)
    assert outcomes[0] == outcomes[1]


def test_nested_paths_are_named_when_a_field_fails() -> None:
    """Paths of nested objects are built only on failure, and still in full."""
    fields = Fields({"properties": {"services": {"download": {"size": "x"}}}}, product="P")
    download = fields.obj("properties").obj("services").obj("download")
    try:
        download.integer("size")
    except FieldError as exc:
        assert exc.field == "properties.services.download.size" and exc.product == "P"
    else:
        raise AssertionError("a string size was accepted")


@settings(max_examples=2000)
@given(st.text("ab.j/?", max_size=12) | st.text(max_size=20))
def test_quicklook_suffix_is_pathlibs(url: str) -> None:
    from pathlib import Path

    from eodag_peps_plus.stac import _suffix

    assert _suffix(url) == Path(url.split("?", 1)[0]).suffix


# -- compiled page decoders: they accept only what the general reading accepts, the same way --
PEPS_PROPERTIES = [
    "title", "productIdentifier", "platform", "orbitNumber", "startDate", "completionDate",
    "instrument", "productType", "processingLevel", "relativeOrbitNumber", "orbitDirection",
    "collection", "published", "updated", "cloudCover", "mgrs", "quicklook", "resourceSize",
    "resourceChecksum", "sensorMode", "swath", "polarisation", "missionTakeId", "cycleNumber",
    "storage", "services", "keywords",
]  # fmt: skip
S1_NAME = "S1A_IW_GRDH_1SDV_20200105T055529_20200105T055554_030663_0383A9_2C8A"
odd_values = (
    field_values
    | geometries()
    | st.sampled_from(["S1A", "S2B", "S3A", "", S1_NAME, "IW", "VV VH", ["VV", "VH"], [1, "x"]])
    | st.sampled_from([{"mode": "tape"}, {"mode": 3}, {"download": {"size": "7"}}, [1], "disk"])
    | st.sampled_from([{"download": {"url": "https://x/y", "size": 9, "checksum": "A" * 32}}])
    | st.sampled_from([2**63 - 1, 2**63, 2**64, -(2**63) - 1, 2**53, 2**53 + 1, 1e300, "\ud800"])
).map(copy.deepcopy)  # a sampled dict is one object: pages must not share (or nest) it


@st.composite
def peps_pages(draw: Any) -> bytes:
    """A page of recorded features, some fields of some features (or of the page) replaced."""
    recorded_features = json.loads(recorded("peps_search_S2ST_page1.json").read_text())["features"]
    features = [json.loads(json.dumps(f)) for f in recorded_features][: draw(st.integers(0, 2))]
    for feature in features:
        props = feature["properties"]
        if draw(st.booleans()):
            props.update(platform="S1A", title=S1_NAME, productIdentifier=S1_NAME)
        for _ in range(draw(st.integers(0, 3))):
            where = draw(
                st.sampled_from(["id", "geometry", "properties", "download"] + PEPS_PROPERTIES * 3)
            )
            value = draw(odd_values)
            if where in ("id", "geometry", "properties"):
                feature[where] = value
            elif where == "download":
                services = props.get("services")
                download = services.get("download") if isinstance(services, dict) else None
                if isinstance(download, dict):
                    download[draw(st.sampled_from(["url", "size", "checksum"]))] = value
            elif draw(st.integers(0, 5)):
                props[where] = value
            else:
                props.pop(where, None)
    links: list[Any] = [{"rel": "self", "href": "http://x/self"}]
    if draw(st.booleans()):
        links.append(
            {"rel": "next", "href": draw(st.sampled_from(["http://x/2", "ftp://x", "", 5, None]))}
        )
    page: dict[str, Any] = {"type": "FeatureCollection", "features": features,
                            "properties": {"totalResults": len(features), "links": links}}  # fmt: skip
    if draw(st.integers(0, 5)) == 0:
        page["properties"]["totalResults"] = draw(odd_values)
    if draw(st.integers(0, 9)) == 0:
        page[draw(st.sampled_from(["ErrorCode", "properties", "features"]))] = draw(odd_values)
    raw = json.dumps(page).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw = raw.replace(b'"Summer"', draw(st.sampled_from([b'"\xff"', b'"\\ud800"', b"1e300"])))
    return raw


def _json_or_refused(raw: bytes) -> Any:
    """What ``json_or_error`` makes of a reply: its JSON, or ``"refused"`` (not JSON, or a
    resto error reply)."""
    import orjson

    try:
        data = orjson.loads(raw)
    except ValueError:
        return "refused"
    return "refused" if isinstance(data, dict) and "ErrorCode" in data else data


def _general_peps(raw: bytes) -> Any:
    """The general reading (``orjson``, ``read_reply``, ``feature_to_product``)."""
    from eodag_peps_plus.backends import peps
    from eodag_peps_plus.backends.replies import map_features
    from eodag_peps_plus.exceptions import MalformedReplyError

    data = _json_or_refused(raw)
    if data == "refused":
        return data
    try:
        reply = peps.read_reply(data, "S")
        products = map_features(reply.features, peps.feature_to_product, "peps", "S")
    except MalformedReplyError:
        return "refused"
    return reply.matched, reply.next_url, [_whole_product(p) for p in products]


def _tamed(raw: bytes) -> bytes:
    """``raw`` with every number beyond a double's range made 0: the one known difference
    (``orjson`` refuses such a number anywhere, the compiled reading skips unread members
    unconverted), which the tests below allow only where it is that and nothing else."""

    def big(text: str) -> Any:
        value = float(text)
        return 0 if math.isinf(value) else (int(text) if text.lstrip("-").isdigit() else value)

    try:
        data = json.loads(raw, parse_int=big, parse_float=big)
    except ValueError:
        return raw
    return json.dumps(data).encode("utf-8", "surrogatepass")


def _whole_product(product: Any) -> Any:
    """Everything of a product, the order of its properties and its box included."""
    return product, list(product.properties.items()), product.bbox


@settings(max_examples=3000, deadline=None)
@given(peps_pages())
def test_the_compiled_peps_reading_accepts_only_what_the_general_one_does(raw: bytes) -> None:
    from eodag_peps_plus.backends.peps import typed_reply

    typed = typed_reply(raw, "peps")
    if typed is None:
        return  # the general reading decides (and names the fault)
    assert typed.mapped
    assert _general_peps(_tamed(raw)) == (
        typed.matched,
        typed.next_url,
        [_whole_product(p) for p in typed.features],
    )


def test_recorded_pages_take_the_compiled_reading() -> None:
    """The common page must not fall back: that is the whole point of the fast path."""
    from eodag_peps_plus.backends.peps import typed_reply

    raw = recorded("peps_search_S2ST_page1.json").read_bytes()
    typed = typed_reply(raw, "peps")
    assert typed is not None and len(typed.features) == 2
    assert _general_peps(raw) == (
        typed.matched,
        typed.next_url,
        [_whole_product(p) for p in typed.features],
    )


def test_a_number_beyond_a_double_unread_is_the_one_known_difference() -> None:
    """``orjson`` refuses ``1e400`` anywhere; the compiled reading skips unread members
    without converting them, so such a page is read (the value is never used)."""
    from eodag_peps_plus.backends.peps import typed_reply

    raw = recorded("peps_search_S2ST_page1.json").read_bytes().replace(b'"Summer"', b"1e400")
    assert _general_peps(raw) == "refused"
    assert typed_reply(raw, "peps") is not None


GEODES_PROPERTIES = [
    "identifier", "platform", "sat:absolute_orbit", "product:type", "start_datetime",
    "end_datetime", "instrument", "processing:level", "sat:relative_orbit", "sat:orbit_state",
    "endpoint_url", "datetime", "eo:cloud_cover", "grid:code", "processing:version",
    "sar:instrument_mode", "swath", "sar:polarizations", "mission_take_id", "sat:orbit_cycle",
    "political",
]  # fmt: skip
DESCRIPTIONS = [
    "File size: 7 bytes\n\nIs online: true\n\nChecksum MD5: " + "a" * 32,
    "File size: x\n\nIs online: maybe\n\nChecksum MD5: nope",
    "Checksum MD5: " + "F" * 32, "", "no colon",
]  # fmt: skip


@st.composite
def geodes_pages(draw: Any) -> bytes:
    """A page of the recorded item, some fields of some items (or of the page) replaced."""
    recorded_item = json.loads(recorded("geodes_search_S2_L1C.json").read_text())["features"][0]
    items = [json.loads(json.dumps(recorded_item)) for _ in range(draw(st.integers(0, 2)))]
    for item in items:
        props = item["properties"]
        if draw(st.booleans()):
            props.update(platform="S1A", identifier=S1_NAME)
        for _ in range(draw(st.integers(0, 3))):
            where = draw(
                st.sampled_from(
                    ["id", "geometry", "properties", "collection", "assets", "asset"]
                    + GEODES_PROPERTIES * 3
                )  # fmt: skip
            )
            value = draw(odd_values | st.sampled_from(DESCRIPTIONS) | st.just("MAJA_L2A"))
            if where in ("id", "geometry", "properties", "collection", "assets"):
                item[where] = value
            elif where == "asset":
                assets = item.get("assets")
                if isinstance(assets, dict) and assets:
                    key = draw(st.sampled_from(sorted(assets)))
                    field = draw(st.sampled_from(["href", "type", "roles", "description", None]))
                    if field is None:
                        assets[key] = value
                    elif isinstance(assets[key], dict):
                        assets[key][field] = value
            elif draw(st.integers(0, 5)):
                props[where] = value
            else:
                props.pop(where, None)
    links: list[Any] = [{"rel": "self", "href": "http://x/self"}]
    if draw(st.booleans()):
        links.append(draw(st.sampled_from([{"rel": "next", "href": "http://x/2"}, 5, None,
                                           {"rel": "next", "href": "http://x/2", "body": {"a": 2**70}}])))  # fmt: skip
    page: dict[str, Any] = {"type": "FeatureCollection", "features": items, "links": links,
                            "context": {"matched": len(items)}}  # fmt: skip
    if draw(st.integers(0, 5)) == 0:
        page[draw(st.sampled_from(["context", "numberMatched"]))] = draw(
            odd_values | st.just({"matched": 2**63})
        )
    if draw(st.integers(0, 9)) == 0:
        page[draw(st.sampled_from(["ErrorCode", "type", "features", "links"]))] = draw(odd_values)
    raw = json.dumps(page).encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        raw = raw.replace(
            b'"North America"', draw(st.sampled_from([b'"\xff"', b'"\\ud800"', b"1e300"]))
        )
    return raw


def _general_geodes(raw: bytes) -> Any:
    """The general reading (``orjson``, ``_post``'s checks, ``item_to_product``)."""
    from eodag_peps_plus.backends.geodes import item_to_product
    from eodag_peps_plus.backends.replies import map_features, reply_list, reply_object
    from eodag_peps_plus.backends.stac_api import _matched
    from eodag_peps_plus.exceptions import MalformedReplyError

    data = _json_or_refused(raw)
    if data == "refused":
        return data
    try:
        data = reply_object(data, "S")
        if data.get("type") != "FeatureCollection":
            return "refused"
        products = map_features(reply_list(data, "features", "S"), item_to_product, "geodes", "S")
        matched = _matched(data, "S")
    except MalformedReplyError:
        return "refused"
    return matched, data.get("links"), [_whole_product(p) for p in products]


@settings(max_examples=3000, deadline=None)
@given(geodes_pages())
def test_the_compiled_geodes_reading_accepts_only_what_the_general_one_does(raw: bytes) -> None:
    from eodag_peps_plus.backends.geodes import GEODES_PROFILE
    from eodag_peps_plus.backends.stac_api import typed_reply

    assert GEODES_PROFILE.typed_item is not None
    typed = typed_reply(raw, GEODES_PROFILE.typed_item, "geodes")
    if typed is None:
        return  # the general reading decides (and names the fault)
    general = _general_geodes(_tamed(raw))
    assert general != "refused"
    matched, links, products = general
    assert (matched, [_whole_product(p) for p in typed.products]) == (typed.matched, products)
    assert typed.data["links"] == (links or [])  # what ``_follow`` reads, as it reads it


def test_recorded_geodes_pages_take_the_compiled_reading() -> None:
    from eodag_peps_plus.backends.geodes import GEODES_PROFILE
    from eodag_peps_plus.backends.stac_api import typed_reply

    assert GEODES_PROFILE.typed_item is not None
    raw = recorded("geodes_search_S2_L1C.json").read_bytes()
    typed = typed_reply(raw, GEODES_PROFILE.typed_item, "geodes")
    assert typed is not None and len(typed.products) == 1
    assert _general_geodes(raw) == (
        typed.matched,
        typed.data["links"],
        [_whole_product(p) for p in typed.products],
    )


EDGES = [2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**400,
         1e300, 3.0, -1, True, "7", "", None, [], "VV", ["VV"]]  # fmt: skip


@pytest.mark.parametrize("value", EDGES, ids=repr)
@pytest.mark.parametrize("kind", ["peps", "geodes"])
def test_each_read_field_on_its_edges(kind: str, value: Any) -> None:
    """Every field either reading reads, on the values where JSON decoders and integer
    ranges part ways, on an S1 product (whose extra fields are read) and an S2 one."""
    from eodag_peps_plus.backends.geodes import GEODES_PROFILE
    from eodag_peps_plus.backends.peps import typed_reply as peps_reply
    from eodag_peps_plus.backends.stac_api import typed_reply as stac_reply

    name = "peps_search_S2ST_page1.json" if kind == "peps" else "geodes_search_S2_L1C.json"
    keys = PEPS_PROPERTIES if kind == "peps" else GEODES_PROPERTIES
    for s1 in (False, True):
        for key in keys:
            page = json.loads(recorded(name).read_text())
            props = page["features"][0]["properties"]
            if s1:
                props.update(platform="S1A", title=S1_NAME, identifier=S1_NAME)
                props["productIdentifier"] = S1_NAME
            props[key] = value
            raw = json.dumps(page).encode()
            if kind == "peps":
                typed = peps_reply(raw, "peps")
                if typed is not None:
                    assert _general_peps(_tamed(raw)) == (
                        typed.matched,
                        typed.next_url,
                        [_whole_product(p) for p in typed.features],
                    ), (key, s1)
            else:
                assert GEODES_PROFILE.typed_item is not None
                got = stac_reply(raw, GEODES_PROFILE.typed_item, "geodes")
                if got is not None:
                    general = _general_geodes(_tamed(raw))
                    assert general != "refused", (key, s1)
                    assert general[0] == got.matched, (key, s1)
                    assert general[2] == [_whole_product(p) for p in got.products], (key, s1)
