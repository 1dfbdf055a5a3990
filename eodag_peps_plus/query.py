"""The unified query: PEPS users' vocabulary, validated once, translated by each backend.

Every entry point (EODAG plugin, pystac-style client, CLI, legacy commands) builds a
:class:`Query` through :meth:`Query.create`, so bad input is refused in one place with one
clear message, before any request is sent or any file is touched.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from . import vocabulary
from .exceptions import InvalidQueryError
from .logs import get_logger
from .vocabulary import (
    FIELD_SPELLINGS,
    ORBIT_DIRECTIONS,
    PRODUCT_TYPES,
    QUERY_FIELDS,
    SENSOR_MODES,
    shown,
)

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

__all__ = ["FORMATS", "S2ST_START", "Query", "parse_datetime", "unified_fields"]

logger = get_logger(__name__)

#: Sentinel-2 products moved to single-tile ``S2ST`` from this date on.
S2ST_START = datetime(2016, 12, 5, tzinfo=timezone.utc)

#: The spatial fields, of which a query holds one at most.
SPATIAL_FIELDS = ("bbox", "point", "geometry", "location")


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
                f"{name}: {shown(value)} is not a date (expected YYYY-MM-DD or ISO 8601)"
            ) from None
    else:
        raise InvalidQueryError(f"{name}: {shown(value)} is not a date")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


# -- one normaliser per field (pystac-client's ``_format_<param>`` habit) ------------------------
# Each takes the user's value in any accepted form and returns the field's value, or raises
# one line naming the field: a new spelling of a value is a change to one small function.


def _format_collection(value: Any) -> str:
    return vocabulary.collection(value)[0]


def _format_product_type(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidQueryError(f"product_type: {shown(value)} is not a name")
    return value.strip().upper()


def _format_sensor_mode(value: Any) -> str:
    return _choice(value, SENSOR_MODES, "sensor_mode")


def _format_start(value: Any) -> datetime:
    return parse_datetime(value, "start")


def _format_end(value: Any) -> datetime:
    return parse_datetime(value, "end", end=True)


def _format_bbox(value: Any) -> tuple[float, float, float, float]:
    lonmin, latmin, lonmax, latmax = _floats(value, 4, "bbox")
    _check_lon_lat(lonmin, latmin, "bbox")
    _check_lon_lat(lonmax, latmax, "bbox")
    if lonmin > lonmax or latmin > latmax:
        # EODAG reads a box as the rectangle between two corners in any order, and it hands
        # us only that rectangle: every entry point reads it the same way.
        logger.info("bbox: corners given max first; searching the box between them")
        lonmin, lonmax = sorted((lonmin, lonmax))
        latmin, latmax = sorted((latmin, latmax))
    return (lonmin, latmin, lonmax, latmax)


def _format_point(value: Any) -> tuple[float, float]:
    lon, lat = _floats(value, 2, "point")
    _check_lon_lat(lon, lat, "point")
    return (lon, lat)


def _format_geometry(value: Any) -> str:
    """WKT, from WKT text, a GeoJSON mapping or a shapely geometry."""
    from shapely import wkt  # imported when needed: 17 MB and 0.1 s that downloads skip
    from shapely.errors import ShapelyError
    from shapely.geometry import shape
    from shapely.geometry.base import BaseGeometry

    if isinstance(value, BaseGeometry):
        geom = value
    elif isinstance(value, Mapping):
        try:
            geom = shape(value)
        except (ShapelyError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            raise InvalidQueryError(
                f"geometry: not a GeoJSON geometry ({shown(str(exc))})"
            ) from None
    else:
        try:
            geom = wkt.loads(str(value))
        except (ShapelyError, ValueError) as exc:
            raise InvalidQueryError(f"geometry: not valid WKT ({shown(str(exc))})") from None
    if geom.is_empty:
        raise InvalidQueryError("geometry: empty geometry")
    lonmin, latmin, lonmax, latmax = geom.bounds
    _check_lon_lat(lonmin, latmin, "geometry")
    _check_lon_lat(lonmax, latmax, "geometry")
    return str(geom.wkt)


def _format_location(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidQueryError(f"location: {shown(value)} is not a name")
    return value.strip()


def _format_tile(value: Any) -> str:
    """``T31TCJ``, ``MGRS-31TCJ`` and ``31tcj`` all mean MGRS tile ``31TCJ``."""
    return vocabulary.mgrs_tile(value)


def _format_relative_orbit(value: Any) -> int:
    return _int_in(value, 1, 175, "relative_orbit")


def _format_orbit_number(value: Any) -> int:
    return _int_in(value, 1, 10**6, "orbit_number")


def _format_orbit_direction(value: Any) -> str:
    return _choice(value, ORBIT_DIRECTIONS, "orbit_direction", upper=False)


def _format_max_cloud_cover(value: Any) -> float:
    try:
        if isinstance(value, bool):
            raise TypeError
        clouds = float(value)
    except (TypeError, ValueError):
        raise InvalidQueryError(f"max_cloud_cover: {shown(value)} is not a number") from None
    if not 0 <= clouds <= 100:
        raise InvalidQueryError(f"max_cloud_cover: {clouds} is outside [0, 100]")
    return clouds


def _format_platform(value: Any) -> str:
    return vocabulary.platform(value)


def _format_identifiers(value: Any) -> tuple[str, ...]:
    """One name or a list of names (product identifiers)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)) or not all(
        isinstance(i, str) and i.strip() for i in items
    ):
        raise InvalidQueryError(f"identifiers: {shown(value)} is not a name or a list of names")
    return tuple(i.strip() for i in items)


#: Unified field -> its normaliser (every field of :class:`Query`, in its order).
FORMATS: dict[str, Callable[[Any], Any]] = {
    "collection": _format_collection,
    "product_type": _format_product_type,
    "sensor_mode": _format_sensor_mode,
    "start": _format_start,
    "end": _format_end,
    "bbox": _format_bbox,
    "point": _format_point,
    "geometry": _format_geometry,
    "tile": _format_tile,
    "location": _format_location,
    "relative_orbit": _format_relative_orbit,
    "orbit_number": _format_orbit_number,
    "orbit_direction": _format_orbit_direction,
    "max_cloud_cover": _format_max_cloud_cover,
    "platform": _format_platform,
    "identifiers": _format_identifiers,
}


def _same(field: str, first: Any, second: Any) -> bool:
    """Whether two values of one field mean the same once normalised (``T31TCJ`` and
    ``MGRS-31TCJ``, ``"20"`` and ``20.0``)."""
    if first == second:
        return True
    try:
        return bool(FORMATS[field](first) == FORMATS[field](second))
    except InvalidQueryError:
        return False


def unified_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Rename every spelling to its unified field; ``None`` means "not given".

    Args:
        values: search parameters in any spelling of the vocabulary
            (:data:`~eodag_peps_plus.vocabulary.FIELD_SPELLINGS`).

    Returns:
        Unified field -> the value as given (not yet normalised).

    Raises:
        InvalidQueryError: unknown name, an empty value, or two spellings of one field
            with values that differ once normalised.
    """
    out: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    unknown = []
    for key, value in values.items():
        if value is None:
            continue
        field = FIELD_SPELLINGS.get(key)
        if field is None:
            unknown.append(str(key))
            continue
        if isinstance(value, str) and not value.strip():
            raise InvalidQueryError(f"{key}: empty value (leave it out to search without it)")
        if field in out and not _same(field, out[field], value):
            raise InvalidQueryError(
                f"{given_as[field]} and {key} both given, with different values "
                f"({shown(out[field])} and {shown(value)})"
            )
        out[field] = value
        given_as[field] = key
    if unknown:
        raise InvalidQueryError(
            f"unknown search parameter(s) {', '.join(shown(k, 40) for k in sorted(unknown))}; "
            f"known: {', '.join(QUERY_FIELDS)} (or their EODAG, STAC and PEPS names: "
            f"{', '.join(k for k in FIELD_SPELLINGS if k not in QUERY_FIELDS)})"
        )
    return out


# -- rules between fields ------------------------------------------------------------------------


def _one_place(values: Mapping[str, Any]) -> None:
    spatial = [k for k in SPATIAL_FIELDS if k in values]
    if len(spatial) > 1:
        raise InvalidQueryError(
            f"give only one of box, point, geometry or location (got {' and '.join(spatial)})"
        )


def _add_implied(values: Mapping[str, Any], out: dict[str, Any]) -> None:
    """A collection name may imply a product type (``S2_MSI_L1C``), and a product type its
    collection (``GRD``): users may give either."""
    if "collection" in values and "product_type" not in out:
        implied = vocabulary.collection(values["collection"])[1]
        if implied:
            out["product_type"] = _format_product_type(implied)
    if "collection" not in out and out.get("product_type") in PRODUCT_TYPES:
        out["collection"] = PRODUCT_TYPES[out["product_type"]]


def _check_consistent(out: Mapping[str, Any]) -> None:
    family, platform = out.get("collection"), out.get("platform")
    if family and platform and not platform.startswith(family[:2]):
        raise InvalidQueryError(f"platform: {platform} does not belong to collection {family}")
    start, end = out.get("start"), out.get("end")
    if start and end and end < start:
        raise InvalidQueryError(f"end {end:%Y-%m-%d} is before start {start:%Y-%m-%d}")


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
        raise InvalidQueryError(f"{name}: expected {count} numbers, got {shown(value)}") from None
    if len(numbers) != count:
        raise InvalidQueryError(f"{name}: expected {count} numbers, got {len(numbers)}")
    return numbers


def _choice(value: Any, choices: Iterable[str], name: str, *, upper: bool = True) -> str:
    text = "" if not isinstance(value, str) else value.strip()
    text = text.upper() if upper else text.lower()
    allowed = tuple(choices)
    if text not in allowed:
        raise InvalidQueryError(f"{name}: {shown(value)} is not one of {', '.join(allowed)}")
    return text


def _int_in(value: Any, low: int, high: int, name: str) -> int:
    """Whole numbers only: ``1.7`` is refused, never truncated to 1."""
    whole = (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
        or (isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,9}\s*", value) is not None)
    )
    if not whole:
        raise InvalidQueryError(f"{name}: {shown(value)} is not a whole number")
    number = int(value)
    if not low <= number <= high:
        raise InvalidQueryError(f"{name}: {number} is outside [{low}, {high}]")
    return number


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
        """Normalise and validate a search given in any spelling of the vocabulary.

        Args:
            **kwargs: unified field names or any of their spellings
                (:data:`eodag_peps_plus.vocabulary.FIELD_SPELLINGS`: ``grid:code``,
                ``tileid``, ``eo:cloud_cover``, ``startDate``...); ``None`` means not given.

        Returns:
            The validated query.

        Raises:
            InvalidQueryError: one line naming the parameter and the fault.
        """
        values = unified_fields(kwargs)
        _one_place(values)
        out = {field: FORMATS[field](value) for field, value in values.items()}
        _add_implied(values, out)
        _check_consistent(out)
        return cls(**out)

    @classmethod
    def same_value(cls, field: str, first: Any, second: Any) -> bool:
        """Whether two values of one field mean the same once normalised (``T31TCJ`` and
        ``MGRS-31TCJ``, ``"20"`` and ``20.0``): two spellings given at once must agree."""
        return _same(field, first, second)

    def replace(self, **changes: Any) -> Query:
        """A copy with some fields changed (already-normalised values)."""
        return dataclasses.replace(self, **changes)

    # -- derived views ------------------------------------------------------------------------
    def footprint(self) -> BaseGeometry | None:
        """The spatial filter as a shapely geometry (``location`` is resolved server-side)."""
        from shapely import wkt  # imported when needed: 17 MB and 0.1 s that downloads skip
        from shapely.geometry import box as shapely_box
        from shapely.geometry import shape

        if self.bbox:
            return shapely_box(*self.bbox)
        if self.point:
            return shape({"type": "Point", "coordinates": list(self.point)})
        if self.geometry:
            return wkt.loads(self.geometry)
        return None

    def footprint_geojson(self) -> dict[str, Any] | None:
        from shapely.geometry import mapping

        geom = self.footprint()
        return dict(mapping(geom)) if geom is not None else None

    def as_dict(self) -> dict[str, Any]:
        """Only the fields that are set, for logs and job records (never holds secrets)."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) not in (None, ())
        }
