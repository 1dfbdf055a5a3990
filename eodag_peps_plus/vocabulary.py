"""The one vocabulary: every word users write in a query, and every STAC property we write back.

*Input* (first half): each spelling of a search parameter (the unified field names, EODAG/STAC
property names, PEPS resto names, the legacy ``peps_download.py`` option names), the
collection aliases of the three worlds, and the accepted forms of platforms (``S2A``,
``sentinel-2a``) and MGRS tiles (``31TCJ``, ``T31TCJ``, ``MGRS-31TCJ``). ``Query.create``, the
client, the CLI and the EODAG plugin all go through it, so one query means one request whatever
the entry point; backends keep only their server-native names.

*Output* (second half): the conversions both backends call, which is what makes "same query,
same products, same properties" hold across PEPS and GEODES.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from .collection_names import ALIASES, ROWS
from .collection_names import COLLECTIONS as COLLECTIONS
from .exceptions import InvalidQueryError
from .logs import get_logger

__all__ = [
    "COLLECTIONS",
    "COLLECTION_ALIASES",
    "COMMON_PROPERTIES",
    "ECHO_LIMIT",
    "FIELD_SPELLINGS",
    "ORBIT_DIRECTIONS",
    "PLATFORMS",
    "PRODUCT_TYPES",
    "QUERYABLES",
    "QUERY_FIELDS",
    "S1Fields",
    "SENSOR_MODES",
    "cloud_cover",
    "collection",
    "constellation",
    "datetime_interval",
    "grid_code",
    "instruments",
    "iso_utc",
    "mgrs_tile",
    "orbit_state",
    "platform",
    "processing_level",
    "processing_version",
    "relative_orbit",
    "s1_properties",
    "s1_relative_orbit",
    "sar_properties",
    "shown",
    "stac_query_fields",
    "tile_latitude",
]

logger = get_logger(__name__)

# == input: what users may write ==============================================================

#: Which collection a product type lives in, so users may give only the type (from the one
#: collections table, :mod:`.collection_names`).
PRODUCT_TYPES: dict[str, str] = {row.product_type: row.unified for row in ROWS}
SENSOR_MODES = ("IW", "EW", "SM", "WV", "INS-NOBS", "INS-RAW")
PLATFORMS = ("S1A", "S1B", "S1C", "S2A", "S2B", "S2C", "S3A", "S3B")
ORBIT_DIRECTIONS = ("ascending", "descending")

#: Collection names users may type (PEPS ``S2ST``, EODAG ``S2_MSI_L1C``, GEODES
#: ``PEPS_S2_L1C``: the same archive) -> (unified collection, product type or None).
COLLECTION_ALIASES: dict[str, tuple[str, str | None]] = dict(ALIASES)

#: The fields of the unified query (``Query``'s attributes, in order).
QUERY_FIELDS = (
    "collection", "product_type", "sensor_mode", "start", "end", "bbox", "point", "geometry",
    "tile", "location", "relative_orbit", "orbit_number", "orbit_direction", "max_cloud_cover",
    "platform", "identifiers",
)  # fmt: skip
#: Every spelling of a search parameter -> its unified field: EODAG 4 / STAC property names,
#: PEPS resto parameters, legacy ``peps_download.py`` option names, pystac-client names.
FIELD_SPELLINGS: dict[str, str] = {
    **{name: name for name in QUERY_FIELDS},
    # EODAG 4 / STAC
    "start_datetime": "start", "end_datetime": "end", "eo:cloud_cover": "max_cloud_cover",
    "product:type": "product_type", "sar:instrument_mode": "sensor_mode",
    "sat:relative_orbit": "relative_orbit", "sat:absolute_orbit": "orbit_number",
    "sat:orbit_state": "orbit_direction", "grid:code": "tile", "id": "identifiers",
    "ids": "identifiers", "intersects": "geometry",
    # PEPS resto
    "startDate": "start", "completionDate": "end", "cloudCover": "max_cloud_cover",
    "productType": "product_type", "sensorMode": "sensor_mode",
    "relativeOrbitNumber": "relative_orbit", "orbitNumber": "orbit_number",
    "orbitDirection": "orbit_direction", "tileid": "tile", "tileIdentifier": "tile",
    "q": "location", "box": "bbox", "productIdentifier": "identifiers",
    # legacy peps_download.py options and their long forms
    "start_date": "start", "end_date": "end", "orbit": "relative_orbit", "clouds": "max_cloud_cover",
    "cloud_cover": "max_cloud_cover", "satellite": "platform", "sat": "platform", "mgrs": "tile",
}  # fmt: skip
#: STAC properties the ``query`` extension may filter on -> (unified field, operators).
QUERYABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "eo:cloud_cover": ("max_cloud_cover", ("lt", "lte")),
    "grid:code": ("tile", ("eq",)),
    "sat:relative_orbit": ("relative_orbit", ("eq",)),
    "sat:absolute_orbit": ("orbit_number", ("eq",)),
    "sat:orbit_state": ("orbit_direction", ("eq",)),
    "platform": ("platform", ("eq",)),
    "product:type": ("product_type", ("eq",)),
    "sar:instrument_mode": ("sensor_mode", ("eq",)),
}


@dataclass(frozen=True)
class FieldHelp:
    """How discovery (``list_queryables``, a STAC server's ``/queryables``) presents a field.

    Attributes:
        name: the spelling shown, one of :data:`FIELD_SPELLINGS` (the STAC/EODAG name).
        kind: ``str``, ``int``, ``float``, ``datetime``, ``geometry`` or ``list``.
        text: one line on what it filters.
        low: smallest accepted value (numbers).
        high: largest accepted value (numbers).
    """

    name: str
    kind: str
    text: str
    low: float | None = None
    high: float | None = None


#: Each unified field as discovery shows it (``bbox`` and ``point`` are forms of ``geometry``).
FIELD_HELP: dict[str, FieldHelp] = {
    "collection": FieldHelp("collection", "str", "PEPS, EODAG or GEODES collection name"),
    "product_type": FieldHelp("product:type", "str", "product type (GRD, SLC, OCN, S2MSI1C...)"),
    "sensor_mode": FieldHelp("sar:instrument_mode", "str", "Sentinel-1 acquisition mode"),
    "start": FieldHelp("start_datetime", "datetime", "start of the sensing interval (ISO 8601)"),
    "end": FieldHelp("end_datetime", "datetime", "end of the sensing interval (ISO 8601)"),
    "geometry": FieldHelp("geometry", "geometry", "area: WKT, GeoJSON, bbox or (lon, lat) point"),
    "tile": FieldHelp("grid:code", "str", "MGRS tile: 31TCJ, T31TCJ or MGRS-31TCJ"),
    "location": FieldHelp("location", "str", "place name resolved by the server's gazetteer"),
    "relative_orbit": FieldHelp("sat:relative_orbit", "int", "relative orbit", 1, 175),
    "orbit_number": FieldHelp("sat:absolute_orbit", "int", "absolute orbit", 1, 10**6),
    "orbit_direction": FieldHelp("sat:orbit_state", "str", "orbit direction"),
    "max_cloud_cover": FieldHelp("eo:cloud_cover", "float", "largest cloud cover, %", 0, 100),
    "platform": FieldHelp("platform", "str", "satellite (S2A, sentinel-2a...)"),
    "identifiers": FieldHelp("id", "list", "product identifiers (ESA names)"),
}
#: Where a field's values come from a fixed list.
FIELD_CHOICES: dict[str, tuple[str, ...]] = {
    "product_type": tuple(PRODUCT_TYPES),
    "sensor_mode": SENSOR_MODES,
    "orbit_direction": ORBIT_DIRECTIONS,
    "platform": PLATFORMS,
}
#: Unified fields that are forms of another one in discovery.
FIELD_FORMS = {"bbox": "geometry", "point": "geometry"}

_QUERY_STRING = re.compile(r"^\s*([\w:]+)\s*(<=|>=|=|<|>)\s*(.+?)\s*$")
_OPS = {"=": "eq", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
#: How much of a user's value an error line repeats.
ECHO_LIMIT = 60


def shown(value: Any, limit: int = ECHO_LIMIT) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error line must stay one short line
    even when the input was 10,000 characters."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}\N{HORIZONTAL ELLIPSIS} ({len(text)} characters)"


def collection(name: Any) -> tuple[str, str | None]:
    """The unified collection for any collection name users type.

    Args:
        name: a PEPS (``S2ST``), EODAG (``S2_MSI_L1C``) or GEODES (``PEPS_S2_L1C``) name.

    Returns:
        (unified collection, the product type the name implies or None).

    Raises:
        InvalidQueryError: not a name we know.
    """
    if not isinstance(name, str):
        raise InvalidQueryError(f"collection: {shown(name)} is not a collection name")
    key = name.strip()
    for candidate in (key, key.upper()):
        if candidate in COLLECTION_ALIASES:
            return COLLECTION_ALIASES[candidate]
    raise InvalidQueryError(
        f"unknown collection {shown(name)}; known: {', '.join(sorted(COLLECTION_ALIASES))}"
    )


def platform(value: Any) -> str:
    """``S2A``, ``s2a``, ``sentinel-2a`` or ``Sentinel2A`` -> ``S2A`` (PEPS's form).

    Raises:
        InvalidQueryError: not a Sentinel platform we know.
    """
    text = str(value).strip() if isinstance(value, str) else ""
    match = re.fullmatch(r"(?i)(?:s|sentinel-?)(\d)([a-z])", text)
    name = f"S{match.group(1)}{match.group(2)}".upper() if match else ""
    if name not in PLATFORMS:
        raise InvalidQueryError(
            f"platform: {shown(value)} is not one of {', '.join(PLATFORMS)} "
            "(or sentinel-1a, sentinel-2b...)"
        )
    return name


# -- MGRS tiles ----------------------------------------------------------------------------------
_TILE_FORM = re.compile(r"^(?:MGRS-|T)?(\d{2})([A-Z])([A-Z])([A-Z])$")
_BANDS = "CDEFGHJKLMNPQRSTUVWX"  # latitude bands, 8 degrees each from 80S (X: 12)
_COLUMNS = ("STUVWXYZ", "ABCDEFGH", "JKLMNPQR")  # 100 km columns by zone % 3
_ROWS = "ABCDEFGHJKLMNPQRSTUV"


def mgrs_tile(value: Any) -> str:
    """The core tile validator: ``31TCJ``, ``T31TCJ``, ``MGRS-31TCJ`` (any case) -> ``31TCJ``.

    Refuses what cannot exist (zone 00 or above 60, I and O or other non-band letters, a
    100 km column not used in that zone, a row letter past V, a row outside its band), so a
    search for it never returns 0 products silently and processing never reaches pyproj with it.

    Raises:
        InvalidQueryError: one line naming the fault.
    """
    text = value.strip().upper() if isinstance(value, str) else ""
    match = _TILE_FORM.match(text)
    if not match:
        raise InvalidQueryError(
            f"tile: {shown(value)} is not an MGRS tile (expected like 31TCJ, T31TCJ or MGRS-31TCJ)"
        )
    zone_text, band, column, row = match.groups()
    zone = int(zone_text)
    tile = f"{zone_text}{band}{column}{row}"
    if not 1 <= zone <= 60:
        raise InvalidQueryError(f"tile: {tile} has zone {zone_text}; UTM zones are 01 to 60")
    if band not in _BANDS:
        raise InvalidQueryError(
            f"tile: {tile} has no latitude band {band} (bands are C to X without I and O)"
        )
    if column not in _COLUMNS[zone % 3]:
        raise InvalidQueryError(
            f"tile: {tile} has no column {column} in UTM zone {zone} "
            f"(columns there are {_COLUMNS[zone % 3][0]} to {_COLUMNS[zone % 3][-1]})"
        )
    if row not in _ROWS:
        raise InvalidQueryError(f"tile: {tile} has no row {row} (rows are A to V without I and O)")
    _centre_latitude(tile)  # the row must fall in the band
    return tile


def tile_latitude(tile: str) -> float:
    """Latitude of an MGRS tile's centre, from its grid reference alone (no search needed).

    Raises:
        InvalidQueryError: the tile cannot exist (see :func:`mgrs_tile`).
    """
    return _centre_latitude(mgrs_tile(tile))


@functools.lru_cache(maxsize=1024)
def _centre_latitude(tile: str) -> float:
    """The band letter gives 8 degrees; the 100 km row letter fixes the northing modulo
    2,000 km, and the band picks the one candidate that fits (or none: no such tile)."""
    from pyproj import Transformer

    zone, band, column, row = int(tile[:2]), tile[2], tile[3], tile[4]
    north = band >= "N"
    crs = f"EPSG:{(32600 if north else 32700) + zone}"
    to_utm = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    to_geo = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    easting = (_COLUMNS[zone % 3].index(column) + 1) * 100_000
    offset = 5 if zone % 2 == 0 else 0
    northing = ((_ROWS.index(row) - offset) % 20) * 100_000
    band_low = -80 + 8 * _BANDS.index(band)
    central = (zone - 1) * 6 - 180 + 3
    _, low_northing = to_utm.transform(central, band_low)
    while northing < low_northing - 200_000:
        northing += 2_000_000
    # Sentinel-2 tiles are 109.8 km wide, from the square's west edge and 20 m above its top.
    _, lat = to_geo.transform(easting + 54_900, northing + 45_120)
    band_high = band_low + (12 if band == "X" else 8)
    if not band_low - 1 <= lat <= band_high + 1:
        raise InvalidQueryError(f"tile: {tile} does not exist (row {row} is not in band {band})")
    return round(float(lat), 3)


# -- dates and the STAC query extension ----------------------------------------------------------
def datetime_interval(value: Any) -> tuple[Any, Any]:
    """STAC ``datetime`` -> (start, end): ``a/b``, ``../b``, ``a/..``, an instant, a pair,
    and pystac-client's partial dates (``2019`` is the whole year, ``2019-03`` the month).

    Raises:
        InvalidQueryError: none of these shapes (the dates themselves are checked later).
    """
    if value is None:
        return None, None
    if isinstance(value, (date, datetime)):
        return value, value
    if isinstance(value, str):
        if "/" in value:
            start, _, end = value.partition("/")
            return (
                None if start.strip() in ("", "..") else _partial(start, first=True),
                None if end.strip() in ("", "..") else _partial(end, first=False),
            )
        return _partial(value, first=True), _partial(value, first=False)
    if not isinstance(value, Sequence) or len(value) != 2:
        raise InvalidQueryError(
            f"datetime: {shown(value)} is not 'start/end', a date or a pair (start, end)"
        )
    return value[0], value[1]


def _partial(text: str, *, first: bool) -> str:
    text = text.strip()
    if re.fullmatch(r"\d{4}", text):
        return f"{text}-01-01" if first else f"{text}-12-31"
    if re.fullmatch(r"\d{4}-\d{2}", text):
        year, month = (int(v) for v in text.split("-"))
        if not 1 <= month <= 12:
            raise InvalidQueryError(f"datetime: {text!r} is not a month")
        return f"{text}-01" if first else f"{text}-{calendar.monthrange(year, month)[1]:02d}"
    return text


def stac_query_fields(query: Any) -> dict[str, Any]:
    """The STAC ``query`` extension (``{"eo:cloud_cover": {"lt": 20}}`` or strings like
    ``"eo:cloud_cover<20"``), restricted to what the unified query can express.

    Returns:
        Unified field -> value (not yet normalised).

    Raises:
        InvalidQueryError: a property or operator the unified query cannot express.
    """
    if query is None:
        return {}
    if isinstance(query, str):
        query = [query]
    if not isinstance(query, Mapping):
        if not isinstance(query, Sequence):
            raise InvalidQueryError(f"query: {shown(query)} is not a mapping or a list of strings")
        parsed: dict[str, dict[str, Any]] = {}
        for text in query:
            match = _QUERY_STRING.match(text) if isinstance(text, str) else None
            if not match:
                raise InvalidQueryError(
                    f"query: cannot parse {shown(text)} (expected like 'eo:cloud_cover<20')"
                )
            prop, op, raw = match.groups()
            parsed.setdefault(prop, {})[_OPS[op]] = raw
        query = parsed
    fields: dict[str, Any] = {}
    for prop, condition in query.items():
        if prop not in QUERYABLES:
            raise InvalidQueryError(
                f"query: cannot filter on {shown(prop, 40)}; filterable: "
                f"{', '.join(sorted(QUERYABLES))}"
            )
        name, ops = QUERYABLES[prop]
        condition = condition if isinstance(condition, Mapping) else {"eq": condition}
        for op, value in condition.items():
            if op not in ops:
                raise InvalidQueryError(
                    f"query: {prop} supports {', '.join(ops)}, not {shown(op, 20)}"
                )
            fields[name] = value
    return fields


# == output: the STAC properties both backends write ============================================

#: Property names shared by all backends (documentation and tests read this list).
COMMON_PROPERTIES = (
    "title", "start_datetime", "end_datetime", "created", "updated", "constellation", "platform",
    "instruments", "product:type", "processing:level", "processing:version", "sar:instrument_mode",
    "sar:polarizations", "sar:frequency_band", "eo:cloud_cover", "sat:absolute_orbit",
    "sat:relative_orbit", "sat:orbit_cycle", "s1:datatake_id", "sat:orbit_state", "grid:code",
    "order:status", "file:size", "file:checksum", "eodag:download_link", "eodag:quicklook",
)  # fmt: skip

_LEVELS = {"LEVEL1C": "L1C", "LEVEL2A": "L2A", "LEVEL1": "L1", "LEVEL2": "L2", "L1C": "L1C", "L2A": "L2A", "L1": "L1", "L2": "L2"}  # fmt: skip
_INSTRUMENTS = {
    "MSI": ["msi"],
    "SAR-C SAR": ["sar"],
    "SAR": ["sar"],
    "OLCI": ["olci"],
    "SLSTR": ["slstr"],
}
_S2_REL_ORBIT = re.compile(r"_R(\d{3})_")
_S2_BASELINE = re.compile(r"_N(\d{2})(\d{2})_")
_S1_POLARISATIONS = {"SV": ["VV"], "SH": ["HH"], "DV": ["VV", "VH"], "DH": ["HH", "HV"]}
_S1_MODES = ("IW", "EW", "SM", "WV")


def iso_utc(value: str | datetime) -> str:
    """Normalise a timestamp to ``YYYY-MM-DDTHH:MM:SS.fffZ`` whatever the server wrote."""
    if isinstance(value, str):
        if len(value) == 24 and value[19] == "." and value[23] == "Z" and value[10] == "T":
            return value  # already canonical (resto's own format): the common case
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def constellation(platform: str) -> str:
    """``S2A`` -> ``sentinel-2``."""
    return f"sentinel-{platform[1]}" if re.fullmatch(r"S\d[A-Z]", platform) else platform.lower()


def processing_level(level: str | None) -> str | None:
    return _LEVELS.get(level.upper(), level) if level else None


def instruments(instrument: str | None) -> list[str] | None:
    if not instrument:
        return None
    return _INSTRUMENTS.get(instrument.upper(), [instrument.lower()])


def grid_code(tile: str | None) -> str | None:
    """STAC grid extension code ``MGRS-31TCJ`` from ``31TCJ``, ``T31TCJ`` or ``MGRS-31TCJ``
    (a server's value, so reformatted, not validated: that is :func:`mgrs_tile`'s job)."""
    if not tile:
        return None
    tile = tile.upper().removeprefix("MGRS-")
    return f"MGRS-{tile.removeprefix('T')}"


def s1_relative_orbit(platform: str, absolute: int) -> int:
    """PEPS's formula, for S1 records that lack ``relativeOrbitNumber``."""
    offset = 73 if platform.upper() == "S1A" else 27
    return ((absolute - offset) % 175) + 1


def relative_orbit(name: str, platform: str, absolute: int | None, given: int | None) -> int | None:
    if given:
        return int(given)
    if platform.upper().startswith("S2"):
        match = _S2_REL_ORBIT.search(name)
        return int(match.group(1)) if match else None
    if platform.upper().startswith("S1") and absolute:
        return s1_relative_orbit(platform, int(absolute))
    return None


def processing_version(name: str) -> str | None:
    match = _S2_BASELINE.search(name)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def sar_properties(name: str, mode: str | None) -> dict[str, Any]:
    """SAR extension fields read from an S1 product name (``..._1SDV_...``)."""
    props: dict[str, Any] = {"sar:frequency_band": "C", "sar:center_frequency": 5.405}
    if mode:
        props["sar:instrument_mode"] = mode
    match = re.search(r"_\d(S[SD][VH]|SV|SH|DV|DH)_", name)
    if match:
        props["sar:polarizations"] = _S1_POLARISATIONS.get(match.group(1)[-2:], ["VV"])
    else:
        props["sar:polarizations"] = ["VV"]
    return props


@dataclass(frozen=True)
class S1Fields:
    """Where a server writes the Sentinel-1 fields (each backend has its own names)."""

    mode: tuple[str, ...]  # first one present wins
    polarisations: str
    datatake: str
    cycle: str


def s1_properties(name: str, raw: Mapping[str, Any], fields: S1Fields) -> dict[str, Any]:
    """Sentinel-1 fields from the server's own values where it gives them, else read from the
    product name.

    Args:
        name: the ESA product name (``S1A_IW_GRDH_1SDV_...``).
        raw: the server's properties (a resto feature's or a STAC item's).
        fields: where this server writes each field.

    Returns:
        ``sar:*`` fields, plus ``sat:orbit_cycle`` and ``s1:datatake_id`` when the server gives
        them as whole numbers (anything else is left out rather than guessed).
    """
    mode = next((raw[k] for k in fields.mode if raw.get(k)), None)
    polarisations, datatake, cycle = (
        raw.get(fields.polarisations),
        raw.get(fields.datatake),
        raw.get(fields.cycle),
    )
    props = sar_properties(name, mode if mode in _S1_MODES else name[4:6])
    if isinstance(polarisations, str) and polarisations.split():
        props["sar:polarizations"] = polarisations.split()
    elif isinstance(polarisations, list) and polarisations:
        props["sar:polarizations"] = [str(p) for p in polarisations]
    take, orbit_cycle = _whole(datatake), _whole(cycle)
    if take is not None:
        props["s1:datatake_id"] = str(take)  # STAC sentinel-1 extension: a string
    if orbit_cycle is not None and orbit_cycle >= 1:
        props["sat:orbit_cycle"] = orbit_cycle
    return props


def cloud_cover(platform: str, value: Any) -> float | None:
    """``eo:cloud_cover``, absent on radar products as in EODAG: PEPS and GEODES write 0 on
    Sentinel-1, a placeholder that would read as a perfectly clear optical image.

    Args:
        platform: ``S1A``, ``S2B``...
        value: the server's cloud cover (``cloudCover`` / ``eo:cloud_cover``).

    Returns:
        The percentage, or ``None`` for radar products and missing values.
    """
    if value is None or platform.upper().startswith("S1"):
        return None
    return float(value)


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def orbit_state(direction: str | None) -> str | None:
    return direction.lower() if direction else None
