"""The unified query: PEPS users' vocabulary, validated once, translated by each backend.

Every entry point (EODAG plugin, pystac-style client, CLI, legacy commands) builds a
:class:`Query` through :meth:`Query.create`, so bad input is refused in one place with one
clear message, before any request is sent or any file is touched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import Any

from shapely import wkt
from shapely.errors import ShapelyError
from shapely.geometry import box as shapely_box
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from .exceptions import InvalidQueryError

#: PEPS catalogue collections (``SpotWorldHeritage`` was never part of the Sentinel mirror).
COLLECTIONS = ("S1", "S2", "S2ST", "S3")
#: Which collection a product type lives in, so users may give only the type.
PRODUCT_TYPES: dict[str, str] = {
    "GRD": "S1",
    "SLC": "S1",
    "OCN": "S1",
    "S2MSI1C": "S2ST",
    "S2MSI2A": "S2ST",
    "S2MSI2A_MAJA": "S2ST",  # THEIA's MAJA L2A: GEODES only
}
SENSOR_MODES = ("IW", "EW", "SM", "WV", "INS-NOBS", "INS-RAW")
PLATFORMS = ("S1A", "S1B", "S1C", "S2A", "S2B", "S2C", "S3A", "S3B")
ORBIT_DIRECTIONS = ("ascending", "descending")
TILE_RE = re.compile(r"^T?(\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2})$")
#: Sentinel-2 products moved to single-tile ``S2ST`` from this date on.
S2ST_START = datetime(2016, 12, 5, tzinfo=timezone.utc)

_FIELDS_HELP = (
    "collection, product_type, sensor_mode, start, end, bbox, point, geometry, tile, location, "
    "relative_orbit, orbit_number, orbit_direction, max_cloud_cover, platform, identifiers"
)


def parse_datetime(value: str | date | datetime, name: str, *, end: bool = False) -> datetime:
    """Accept ``YYYY-MM-DD``, ISO 8601 or date objects; always return an aware UTC datetime.

    A bare date given as an *end* means the end of that day: ``-d 2020-01-01 -f 2020-01-01``
    matched nothing on PEPS, which users never meant.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
        if end:
            parsed += timedelta(days=1) - timedelta(microseconds=1)
    elif isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return parse_datetime(date.fromisoformat(text), name, end=end)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidQueryError(
                f"{name}: {value!r} is not a date (expected YYYY-MM-DD or ISO 8601)"
            ) from None
    else:
        raise InvalidQueryError(f"{name}: {value!r} is not a date")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def normalize_tile(value: str) -> str:
    """``T31TCJ`` and ``31tcj`` both mean MGRS tile ``31TCJ``; anything else is refused."""
    match = TILE_RE.match(value.strip().upper())
    if not match:
        raise InvalidQueryError(
            f"tile: {value!r} is not an MGRS tile (expected like 31TCJ or T31TCJ)"
        )
    return match.group(1)


def _check_lon_lat(lon: float, lat: float, name: str) -> None:
    if not -180.0 <= lon <= 180.0:
        raise InvalidQueryError(f"{name}: longitude {lon} is outside [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        raise InvalidQueryError(f"{name}: latitude {lat} is outside [-90, 90]")


def _floats(value: Any, count: int, name: str) -> tuple[float, ...]:
    if isinstance(value, str):
        value = [v for v in re.split(r"[,\s]+", value.strip()) if v]
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise InvalidQueryError(f"{name}: expected {count} numbers, got {value!r}") from None
    if len(numbers) != count:
        raise InvalidQueryError(f"{name}: expected {count} numbers, got {len(numbers)}")
    return numbers


def _choice(value: str, choices: Iterable[str], name: str, *, upper: bool = True) -> str:
    text = value.strip().upper() if upper else value.strip().lower()
    allowed = tuple(choices)
    if text not in allowed:
        raise InvalidQueryError(f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return text


@dataclasses.dataclass(frozen=True)
class Query:
    """A validated search, independent of any backend.

    Build it with :meth:`create`, which normalises and checks; the constructor trusts its input.
    """

    collection: str | None = None
    product_type: str | None = None
    sensor_mode: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    point: tuple[float, float] | None = None  # (lon, lat)
    geometry: str | None = None  # WKT, validated
    tile: str | None = None  # MGRS without the leading T
    location: str | None = None
    relative_orbit: int | None = None
    orbit_number: int | None = None
    orbit_direction: str | None = None
    max_cloud_cover: float | None = None
    platform: str | None = None
    identifiers: tuple[str, ...] = ()

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def create(cls, **kwargs: Any) -> Query:
        """Normalise and validate keyword arguments; ``None`` values are ignored."""
        values = {k: v for k, v in kwargs.items() if v is not None and v != ""}
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise InvalidQueryError(
                f"unknown search parameter(s) {', '.join(sorted(unknown))}; known: {_FIELDS_HELP}"
            )
        out: dict[str, Any] = {}
        if "product_type" in values:
            out["product_type"] = str(values["product_type"]).strip().upper()
        if "collection" in values:
            out["collection"] = _choice(str(values["collection"]), COLLECTIONS, "collection")
        elif out.get("product_type") in PRODUCT_TYPES:
            out["collection"] = PRODUCT_TYPES[out["product_type"]]
        if "sensor_mode" in values:
            out["sensor_mode"] = _choice(str(values["sensor_mode"]), SENSOR_MODES, "sensor_mode")
        if "platform" in values:
            platform = _choice(str(values["platform"]), PLATFORMS, "platform")
            family = out.get("collection")
            if family and not platform.startswith(family[:2]):
                raise InvalidQueryError(
                    f"platform: {platform} does not belong to collection {family}"
                )
            out["platform"] = platform
        if "orbit_direction" in values:
            out["orbit_direction"] = _choice(
                str(values["orbit_direction"]), ORBIT_DIRECTIONS, "orbit_direction", upper=False
            )
        if "start" in values:
            out["start"] = parse_datetime(values["start"], "start")
        if "end" in values:
            out["end"] = parse_datetime(values["end"], "end", end=True)
        if out.get("start") and out.get("end") and out["end"] < out["start"]:
            raise InvalidQueryError(
                f"end {out['end']:%Y-%m-%d} is before start {out['start']:%Y-%m-%d}"
            )
        spatial = [k for k in ("bbox", "point", "geometry", "location") if k in values]
        if len(spatial) > 1:
            raise InvalidQueryError(
                f"give only one of box, point, geometry or location (got {' and '.join(spatial)})"
            )
        if "bbox" in values:
            lonmin, latmin, lonmax, latmax = _floats(values["bbox"], 4, "bbox")
            _check_lon_lat(lonmin, latmin, "bbox")
            _check_lon_lat(lonmax, latmax, "bbox")
            if lonmin > lonmax or latmin > latmax:
                raise InvalidQueryError(
                    "bbox: expected lonmin,latmin,lonmax,latmax with min <= max"
                )
            out["bbox"] = (lonmin, latmin, lonmax, latmax)
        if "point" in values:
            lon, lat = _floats(values["point"], 2, "point")
            _check_lon_lat(lon, lat, "point")
            out["point"] = (lon, lat)
        if "geometry" in values:
            out["geometry"] = _wkt(values["geometry"])
        if "location" in values:
            out["location"] = str(values["location"]).strip()
        if "tile" in values:
            out["tile"] = normalize_tile(str(values["tile"]))
        for name, low, high in (("relative_orbit", 1, 175), ("orbit_number", 1, 10**6)):
            if name in values:
                out[name] = _int_in(values[name], low, high, name)
        if "max_cloud_cover" in values:
            try:
                clouds = float(values["max_cloud_cover"])
            except (TypeError, ValueError):
                raise InvalidQueryError(
                    f"max_cloud_cover: {values['max_cloud_cover']!r} is not a number"
                ) from None
            if not 0 <= clouds <= 100:
                raise InvalidQueryError(f"max_cloud_cover: {clouds} is outside [0, 100]")
            out["max_cloud_cover"] = clouds
        if "identifiers" in values:
            ids = values["identifiers"]
            out["identifiers"] = (ids,) if isinstance(ids, str) else tuple(str(i) for i in ids)
        return cls(**out)

    def replace(self, **changes: Any) -> Query:
        """A copy with some fields changed (already-normalised values)."""
        return dataclasses.replace(self, **changes)

    # -- derived views ------------------------------------------------------------------------
    def footprint(self) -> BaseGeometry | None:
        """The spatial filter as a shapely geometry (``location`` is resolved server-side)."""
        if self.bbox:
            return shapely_box(*self.bbox)
        if self.point:
            return shape({"type": "Point", "coordinates": list(self.point)})
        if self.geometry:
            return wkt.loads(self.geometry)
        return None

    def footprint_geojson(self) -> dict[str, Any] | None:
        geom = self.footprint()
        return dict(mapping(geom)) if geom is not None else None

    def as_dict(self) -> dict[str, Any]:
        """Only the fields that are set, for logs and job records (never holds secrets)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) not in (None, ())
        }


def _int_in(value: Any, low: int, high: int, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidQueryError(f"{name}: {value!r} is not an integer") from None
    if not low <= number <= high:
        raise InvalidQueryError(f"{name}: {number} is outside [{low}, {high}]")
    return number


def _wkt(value: Any) -> str:
    if isinstance(value, BaseGeometry):
        geom = value
    elif isinstance(value, Mapping):
        try:
            geom = shape(value)
        except (ShapelyError, ValueError, KeyError, TypeError) as exc:
            raise InvalidQueryError(f"geometry: not a GeoJSON geometry ({exc})") from None
    else:
        try:
            geom = wkt.loads(str(value))
        except (ShapelyError, ValueError) as exc:
            raise InvalidQueryError(f"geometry: not valid WKT ({exc})") from None
    if geom.is_empty:
        raise InvalidQueryError("geometry: empty geometry")
    lonmin, latmin, lonmax, latmax = geom.bounds
    _check_lon_lat(lonmin, latmin, "geometry")
    _check_lon_lat(lonmax, latmax, "geometry")
    return str(geom.wkt)
