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
from typing import TYPE_CHECKING, Any

from . import vocabulary
from .exceptions import InvalidQueryError
from .logs import get_logger
from .vocabulary import (  # noqa: F401 - re-exported: the words live in the vocabulary
    COLLECTIONS,
    ORBIT_DIRECTIONS,
    PLATFORMS,
    PRODUCT_TYPES,
    SENSOR_MODES,
    shown,
)

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

logger = get_logger(__name__)

#: Sentinel-2 products moved to single-tile ``S2ST`` from this date on.
S2ST_START = datetime(2016, 12, 5, tzinfo=timezone.utc)


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


def normalize_tile(value: str) -> str:
    """``T31TCJ``, ``MGRS-31TCJ`` and ``31tcj`` all mean MGRS tile ``31TCJ``; impossible
    tiles are refused (see :func:`eodag_peps_plus.vocabulary.mgrs_tile`)."""
    return vocabulary.mgrs_tile(value)


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
        values = vocabulary.unified_fields(kwargs, cls.same_value)
        out: dict[str, Any] = {}
        if "collection" in values:
            out["collection"], implied = vocabulary.collection(values["collection"])
            if implied and "product_type" not in values:
                values["product_type"] = implied
        if "product_type" in values:
            product_type = values["product_type"]
            if not isinstance(product_type, str):
                raise InvalidQueryError(f"product_type: {shown(product_type)} is not a name")
            out["product_type"] = product_type.strip().upper()
            if "collection" not in out and out["product_type"] in PRODUCT_TYPES:
                out["collection"] = PRODUCT_TYPES[out["product_type"]]
        if "sensor_mode" in values:
            out["sensor_mode"] = _choice(values["sensor_mode"], SENSOR_MODES, "sensor_mode")
        if "platform" in values:
            platform = vocabulary.platform(values["platform"])
            family = out.get("collection")
            if family and not platform.startswith(family[:2]):
                raise InvalidQueryError(
                    f"platform: {platform} does not belong to collection {family}"
                )
            out["platform"] = platform
        if "orbit_direction" in values:
            out["orbit_direction"] = _choice(
                values["orbit_direction"], ORBIT_DIRECTIONS, "orbit_direction", upper=False
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
                # EODAG reads a box as the rectangle between two corners in any order, and it
                # hands us only that rectangle: every entry point reads it the same way.
                logger.info("bbox: corners given max first; searching the box between them")
                lonmin, lonmax = sorted((lonmin, lonmax))
                latmin, latmax = sorted((latmin, latmax))
            out["bbox"] = (lonmin, latmin, lonmax, latmax)
        if "point" in values:
            lon, lat = _floats(values["point"], 2, "point")
            _check_lon_lat(lon, lat, "point")
            out["point"] = (lon, lat)
        if "geometry" in values:
            out["geometry"] = _wkt(values["geometry"])
        if "location" in values:
            if not isinstance(values["location"], str):
                raise InvalidQueryError(f"location: {shown(values['location'])} is not a name")
            out["location"] = values["location"].strip()
        if "tile" in values:
            out["tile"] = normalize_tile(values["tile"])
        for name, low, high in (("relative_orbit", 1, 175), ("orbit_number", 1, 10**6)):
            if name in values:
                out[name] = _int_in(values[name], low, high, name)
        if "max_cloud_cover" in values:
            raw = values["max_cloud_cover"]
            try:
                if isinstance(raw, bool):
                    raise TypeError
                clouds = float(raw)
            except (TypeError, ValueError):
                raise InvalidQueryError(f"max_cloud_cover: {shown(raw)} is not a number") from None
            if not 0 <= clouds <= 100:
                raise InvalidQueryError(f"max_cloud_cover: {clouds} is outside [0, 100]")
            out["max_cloud_cover"] = clouds
        if "identifiers" in values:
            out["identifiers"] = _names(values["identifiers"], "identifiers")
        return cls(**out)

    @classmethod
    def same_value(cls, field: str, first: Any, second: Any) -> bool:
        """Whether two values of one field mean the same once normalised (``T31TCJ`` and
        ``MGRS-31TCJ``, ``"20"`` and ``20.0``): two spellings given at once must agree."""
        try:
            return bool(
                getattr(cls.create(**{field: first}), field)
                == getattr(cls.create(**{field: second}), field)
            )
        except InvalidQueryError:
            return False

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


def _names(value: Any, name: str) -> tuple[str, ...]:
    """One name or a list of names (product identifiers)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple, set, frozenset)) or not all(
        isinstance(i, str) and i.strip() for i in items
    ):
        raise InvalidQueryError(f"{name}: {shown(value)} is not a name or a list of names")
    return tuple(i.strip() for i in items)


def _wkt(value: Any) -> str:
    from shapely import wkt
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
