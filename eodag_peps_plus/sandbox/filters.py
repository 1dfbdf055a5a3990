"""The sandbox's one filter engine: PEPS resto parameters and GEODES STAC bodies both become
tests on catalogue entries, with the same date, range and geometry rules.

Both services answer the same query with the same products because they filter here; only the
input syntax (resto query string, STAC ``bbox``/``intersects``/``query``) differs.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import Point, box, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import prep

from .catalogue import TOWNS, Entry, iso

__all__ = [
    "EntryTest",
    "FilterError",
    "NUMERIC",
    "OPERATORS",
    "PropertyTest",
    "QUERYABLES",
    "TIMES",
    "build_filter",
    "geometry_test",
    "parse_date",
    "parse_range",
    "resto_geometry",
    "stac_geometry_test",
    "stac_tests",
]

EntryTest = Callable[[Entry], bool]
PropertyTest = Callable[[dict[str, Any]], bool]


class FilterError(ValueError):
    """A query the emulated server refuses (HTTP 400, with this message)."""


# -- shared primitives ----------------------------------------------------------------------
def parse_date(value: Any, name: str) -> datetime:
    """ISO 8601 (``Z`` or offset; naive means UTC), like both servers accepted."""
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise FilterError(f"Invalid {name} : {value}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _number(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise FilterError(f"Invalid {name} : {value}") from None


def parse_range(value: str, name: str) -> tuple[float, float]:
    """resto ranges: ``[a,b]``, ``a`` (exact), ``[a,`` / ``,b]`` half-open."""
    match = re.fullmatch(r"\s*[\[\]]?\s*([-\d.]*)\s*,\s*([-\d.]*)\s*[\[\]]?\s*", value)
    if not match:
        number = _number(value, name)
        return number, number
    low, high = match.groups()
    return (
        _number(low, name) if low else float("-inf"),
        _number(high, name) if high else float("inf"),
    )


def geometry_test(geom: BaseGeometry) -> EntryTest:
    """Footprint intersects ``geom`` (bounding boxes first: most entries are far away; then
    the footprint itself, since a Sentinel-1 swath is tilted in its box)."""
    bounds = geom.bounds
    prepared = prep(geom)

    def intersects(e: Entry) -> bool:
        lonmin, latmin, lonmax, latmax = e.bounds
        if lonmax < bounds[0] or lonmin > bounds[2] or latmax < bounds[1] or latmin > bounds[3]:
            return False
        return bool(prepared.intersects(e.shape))

    return intersects


def _equals(entry: Entry, *, attr: str, wanted: str) -> bool:
    return str(getattr(entry, attr)).lower() == wanted


def _within(entry: Entry, *, attr: str, low: float, high: float) -> bool:
    value = getattr(entry, attr)
    return value is not None and bool(low <= value <= high)


# -- PEPS resto -----------------------------------------------------------------------------
#: resto parameter -> entry attribute, compared case-insensitively.
_EQUALS = (
    ("productType", "product_type"),
    ("sensorMode", "sensor_mode"),
    ("platform", "platform"),
    ("orbitDirection", "orbit_direction"),
)
#: resto parameter -> numeric entry attribute, filtered with resto ranges.
_RANGES = (
    ("relativeOrbitNumber", "relative_orbit"),
    ("orbitNumber", "orbit_number"),
    ("cloudCover", "cloud_cover"),
)


def resto_geometry(params: dict[str, str]) -> BaseGeometry | None:
    """``box``, ``lat``/``lon``, ``geometry`` (WKT) or a town in ``q`` (resto's gazetteer)."""
    if params.get("box"):
        parts = params["box"].split(",")
        if len(parts) != 4:
            raise FilterError(f"Invalid box : {params['box']}")
        lonmin, latmin, lonmax, latmax = (_number(p, "box") for p in parts)
        return box(lonmin, latmin, lonmax, latmax)
    if params.get("lat") or params.get("lon"):
        return Point(_number(params.get("lon", ""), "lon"), _number(params.get("lat", ""), "lat"))
    if params.get("geometry"):
        try:
            return wkt.loads(params["geometry"])
        except (ShapelyError, ValueError):
            raise FilterError(f"Invalid geometry : {params['geometry']}") from None
    return None


def build_filter(params: dict[str, str]) -> tuple[EntryTest, BaseGeometry | None]:
    """Turn resto query parameters into a predicate; raise :class:`FilterError` like resto."""
    tests: list[EntryTest] = []
    if params.get("startDate"):
        start = parse_date(params["startDate"], "startDate")
        tests.append(lambda e: e.start >= start)
    if params.get("completionDate"):
        end = parse_date(params["completionDate"], "completionDate")
        tests.append(lambda e: e.start <= end)
    geom = resto_geometry(params)
    if params.get("q"):
        town = TOWNS.get(params["q"].strip().lower())
        if town is None:
            return (lambda e: False), None  # resto answered "no results" for unknown places
        geom = Point(*town)
    if geom is not None:
        tests.append(geometry_test(geom))
    for key, attr in _EQUALS:
        if params.get(key):
            tests.append(functools.partial(_equals, attr=attr, wanted=params[key].lower()))
    if params.get("tileid"):
        tile = params["tileid"].upper().removeprefix("T")
        tests.append(lambda e: e.tile == tile)
    for key, attr in _RANGES:
        if params.get(key):
            low, high = parse_range(params[key], key)
            tests.append(functools.partial(_within, attr=attr, low=low, high=high))
    if params.get("productIdentifier"):
        names = set(params["productIdentifier"].split(","))
        tests.append(lambda e: e.name in names)
    return (lambda e: all(t(e) for t in tests)), geom


# -- GEODES STAC ----------------------------------------------------------------------------
#: Properties the search accepts in ``query`` (unknown ones are refused with HTTP 400).
QUERYABLES = (
    "identifier", "product:type", "start_datetime", "end_datetime", "datetime", "grid:code",
    "sat:relative_orbit", "sat:absolute_orbit", "sat:orbit_state", "sat:orbit_cycle",
    "eo:cloud_cover", "platform", "instrument", "sar:polarizations", "sar:instrument_mode",
    "swath", "endpoint_url", "processing:level", "dataset", "mission_take_id",
)  # fmt: skip
NUMERIC = frozenset(
    {"sat:relative_orbit", "sat:absolute_orbit", "sat:orbit_cycle", "eo:cloud_cover",
     "mission_take_id"}
)  # fmt: skip
TIMES = frozenset({"start_datetime", "end_datetime", "datetime"})
OPERATORS = ("eq", "neq", "in", "contains", "lt", "lte", "gt", "gte")
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def _time_value(value: Any, name: str) -> str:
    """Rendered items write times as ``...T10:30:00.000Z``: compare in that form."""
    try:
        return iso(parse_date(value, name))
    except FilterError:
        raise FilterError(f"Invalid date for {name}: {value!r}") from None


def _predicate(field: str, op: str, value: Any) -> PropertyTest:
    """One ``query`` clause on a rendered property dict."""
    if op not in OPERATORS:
        raise FilterError(
            f"Unsupported operator {op!r} on {field} (supported: {', '.join(OPERATORS)})"
        )
    if op == "in":
        if not isinstance(value, list):
            raise FilterError(f"Operator 'in' on {field} needs a list")
        values = [_time_value(v, field) if field in TIMES else v for v in value]
        return lambda p: _time_key(p.get(field), field) in values
    if field in TIMES:
        value = _time_value(value, field)
    elif field in NUMERIC and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise FilterError(f"Invalid value for {field}: {value!r} is not a number")
    if op == "eq":
        return lambda p: _time_key(p.get(field), field) == value
    if op == "neq":
        return lambda p: _time_key(p.get(field), field) != value
    if op == "contains":
        return lambda p: p.get(field) is not None and value in p[field]
    check = _COMPARE[op]
    return lambda p: p.get(field) is not None and check(_time_key(p[field], field), value)


def _time_key(value: Any, field: str) -> Any:
    """Times in the canonical millisecond form, whatever precision the item writes."""
    if field in TIMES and isinstance(value, str) and len(value) != 24:
        return iso(parse_date(value, field))
    return value


def stac_tests(query: Any) -> list[PropertyTest]:
    """The STAC ``query`` extension object -> tests on item properties."""
    query = query or {}
    if not isinstance(query, dict):
        raise FilterError("query must be an object")
    tests: list[PropertyTest] = []
    for field, clause in query.items():
        if field not in QUERYABLES:
            raise FilterError(
                f"Property {field!r} is not queryable; queryable: {', '.join(QUERYABLES)}"
            )
        if not isinstance(clause, dict):
            raise FilterError(f'query.{field} must be an object like {{"eq": value}}')
        tests.extend(_predicate(field, op, value) for op, value in clause.items())
    return tests


def stac_geometry_test(body: dict[str, Any]) -> EntryTest | None:
    """``bbox`` or ``intersects`` of a STAC search body, tested like resto's ``box``."""
    if body.get("bbox") is not None:
        bbox = body["bbox"]
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise FilterError("bbox must be [lonmin, latmin, lonmax, latmax]")
        try:
            lonmin, latmin, lonmax, latmax = (float(v) for v in bbox)
        except (TypeError, ValueError):
            raise FilterError(f"Invalid bbox : {bbox}") from None
        return geometry_test(box(lonmin, latmin, lonmax, latmax))
    if body.get("intersects") is not None:
        try:
            geom = shape(body["intersects"])
        except (ShapelyError, ValueError, KeyError, TypeError, AttributeError):
            raise FilterError("intersects is not a GeoJSON geometry") from None
        return geometry_test(geom)
    return None
