"""Search results of any origin, reduced to what the report pages draw.

Everything funnels through GeoJSON feature dicts: a ``pystac.ItemCollection``, an EODAG
``SearchResult`` (through :func:`eoproduct_to_item`, so our products read exactly as
``peps-plus search`` writes them), or a file written by ``peps-plus search --json`` or
``eodag search``. Files and server replies are untrusted: a feature the report cannot use is
refused with a one-line error naming it, never drawn half-way.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from ..exceptions import PepsPlusError
from ..product import TYPICAL_RESTORE_SECONDS, Availability, human_size
from ..stac import geometry_bbox

__all__ = [
    "MAX_PRODUCTS",
    "ReportError",
    "ReportProduct",
    "STATUS_STYLE",
    "Summary",
    "human_size",
    "load_features",
    "search_area_geojson",
    "summarize",
    "to_products",
]

#: The largest input drawn: a page of a million footprints would not open anyway.
MAX_PRODUCTS = 20_000

#: Availability -> (colour, label). One palette for the map, the timeline and the PNGs
#: (colour-blind safe: Okabe-Ito).
STATUS_STYLE: dict[Availability, tuple[str, str]] = {
    Availability.ONLINE: ("#009e73", "online"),
    Availability.STAGING: ("#e69f00", "staging"),
    Availability.OFFLINE: ("#0072b2", "on tape"),
    Availability.UNKNOWN: ("#999999", "unknown"),
}


class ReportError(PepsPlusError):
    """The input cannot be drawn: the message says which product or file and why."""


@dataclasses.dataclass(frozen=True)
class ReportProduct:
    """One product as the pages show it."""

    id: str
    day: date
    start: str
    geometry: dict[str, Any] | None
    status: Availability
    cloud_cover: float | None
    size: int | None
    relative_orbit: int | None
    platform: str | None
    tile: str | None

    @property
    def colour(self) -> str:
        return STATUS_STYLE[self.status][0]

    @property
    def status_label(self) -> str:
        return STATUS_STYLE[self.status][1]

    def popup(self) -> dict[str, str]:
        """The fields a person reads first, as display text."""
        rows = {
            "name": self.id,
            "date": self.start[:19].replace("T", " "),
            "cloud cover": "n/a" if self.cloud_cover is None else f"{self.cloud_cover:.1f} %",
            "size": human_size(self.size),
            "status": self.status_label,
        }
        if self.relative_orbit is not None:
            rows["relative orbit"] = str(self.relative_orbit)
        if self.tile:
            rows["tile"] = self.tile
        return rows


@dataclasses.dataclass(frozen=True)
class Summary:
    products: int
    total_size: int
    unknown_sizes: int
    by_status: dict[Availability, int]
    restore_seconds: tuple[float, float]

    @property
    def to_restore(self) -> int:
        return self.by_status.get(Availability.OFFLINE, 0) + self.by_status.get(
            Availability.STAGING, 0
        )

    @property
    def tape_share(self) -> float:
        return self.by_status.get(Availability.OFFLINE, 0) / self.products if self.products else 0.0

    def staging_wait(self) -> str:
        """Restores are asked all at once by the downloader, so the batch waits about one
        typical restore, not one per product."""
        if not self.to_restore:
            return "none: every product is online" if self.products else "none"
        low, high = (round(s / 60) for s in self.restore_seconds)
        return (
            f"about {low}-{high} min for {self.to_restore} product(s) to restore "
            "(typical restore time; hours when the tape robot is busy)"
        )

    def lines(self) -> list[tuple[str, str]]:
        size = human_size(self.total_size)
        if self.unknown_sizes:
            size += f" ({self.unknown_sizes} of unknown size)"
        counts = ", ".join(
            f"{count} {STATUS_STYLE[status][1]}"
            for status, count in self.by_status.items()
            if count
        )
        return [
            ("products", f"{self.products}" + (f" ({counts})" if counts else "")),
            ("total size", size),
            ("share on tape", f"{self.tape_share:.0%}"),
            ("expected staging wait", self.staging_wait()),
        ]


def summarize(
    products: list[ReportProduct],
    restore_seconds: tuple[float, float] = TYPICAL_RESTORE_SECONDS,
) -> Summary:
    by_status = {status: 0 for status in STATUS_STYLE}
    for product in products:
        by_status[product.status] += 1
    return Summary(
        products=len(products),
        total_size=sum(p.size or 0 for p in products),
        unknown_sizes=sum(1 for p in products if p.size is None),
        by_status=by_status,
        restore_seconds=restore_seconds,
    )


# -- reading ---------------------------------------------------------------------------------
def load_features(source: Any) -> list[dict[str, Any]]:
    """GeoJSON feature dicts from any supported source (see the module docstring)."""
    if isinstance(source, (str, Path)):
        return _features_from_file(Path(source))
    if isinstance(source, Mapping):
        return _features_from_document(source, "the document")
    features = getattr(source, "items", None)
    if features is not None and not callable(features):  # pystac.ItemCollection
        return [item.to_dict(transform_hrefs=False) for item in features]
    from eodag.api.search_result import SearchResult

    if isinstance(source, SearchResult):
        from ..eodag_plugins.convert import eoproduct_to_item

        return [eoproduct_to_item(p).to_dict(transform_hrefs=False) for p in source]
    if isinstance(source, Iterable):
        out = []
        for element in source:
            if hasattr(element, "to_dict"):
                out.append(element.to_dict(transform_hrefs=False))
            elif isinstance(element, Mapping):
                out.append(dict(element))
            else:
                raise ReportError(f"cannot draw a {type(element).__name__}: expected STAC items")
        return out
    raise ReportError(
        f"cannot draw a {type(source).__name__}: expected a pystac ItemCollection, an EODAG "
        "SearchResult, items, or a GeoJSON file"
    )


def _features_from_file(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a text (GeoJSON) file") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(document, Mapping):
        raise ReportError(f"{path}: expected a GeoJSON FeatureCollection")
    return _features_from_document(document, str(path))


def _features_from_document(document: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    if document.get("type") == "Feature":
        return [dict(document)]
    features = document.get("features")
    if document.get("type") != "FeatureCollection" or not isinstance(features, list):
        raise ReportError(f"{where}: expected a GeoJSON FeatureCollection of products")
    return [f if isinstance(f, dict) else {"_invalid": f} for f in features]


def to_products(features: list[dict[str, Any]]) -> list[ReportProduct]:
    """Validated rows, sorted by date; duplicates (same id) are drawn once."""
    if len(features) > MAX_PRODUCTS:
        raise ReportError(
            f"{len(features)} products: a report draws at most {MAX_PRODUCTS}; narrow the search"
        )
    seen: dict[str, ReportProduct] = {}
    for index, feature in enumerate(features):
        product = _product(feature, index)
        seen.setdefault(product.id, product)
    return sorted(seen.values(), key=lambda p: (p.start, p.id))


def _product(feature: dict[str, Any], index: int) -> ReportProduct:
    props = feature.get("properties")
    if "_invalid" in feature or not isinstance(props, dict):
        raise ReportError(f"feature {index + 1}: not a GeoJSON feature with properties")
    name = feature.get("id") or props.get("title") or props.get("id")
    if not isinstance(name, str) or not name:
        raise ReportError(f"feature {index + 1}: no product id")
    start = props.get("start_datetime") or props.get("datetime")
    if not isinstance(start, str):
        raise ReportError(f"{name}: no acquisition date (start_datetime/datetime)")
    try:
        day = date.fromisoformat(start[:10])
    except ValueError:
        raise ReportError(f"{name}: bad acquisition date {start!r}") from None
    geometry = feature.get("geometry")
    if geometry is not None and (not isinstance(geometry, dict) or _bbox_or_none(geometry) is None):
        raise ReportError(f"{name}: bad footprint geometry")
    return ReportProduct(
        id=name,
        day=day,
        start=start,
        geometry=geometry,
        status=Availability.from_properties(props),
        cloud_cover=_number(props.get("eo:cloud_cover"), name, "eo:cloud_cover", 0, 100),
        size=_size(props, feature, name),
        relative_orbit=_orbit(props.get("sat:relative_orbit"), name),
        platform=str(props["platform"]) if props.get("platform") else None,
        tile=str(props["grid:code"]).removeprefix("MGRS-") if props.get("grid:code") else None,
    )


def _bbox_or_none(geometry: dict[str, Any]) -> list[float] | None:
    try:
        box = geometry_bbox(geometry)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):  # GeometryError
        return None
    if box is None or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in box):
        return None
    west, south, east, north = box
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        return None
    return box


def _number(value: Any, name: str, field: str, low: float, high: float) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReportError(f"{name}: {field} is not a number ({value!r})")
    if not (math.isfinite(value) and low <= value <= high):
        raise ReportError(f"{name}: {field} {value!r} is outside [{low:g}, {high:g}]")
    return float(value)


def _size(props: dict[str, Any], feature: dict[str, Any], name: str) -> int | None:
    value = props.get("file:size")
    if value is None:
        archive = (feature.get("assets") or {}).get("archive") or {}
        value = archive.get("file:size") if isinstance(archive, dict) else None
    number = _number(value, name, "file:size", 0, 1e15)
    return None if number is None else int(number)


def _orbit(value: Any, name: str) -> int | None:
    number = _number(value, name, "sat:relative_orbit", 1, 175)
    return None if number is None else int(number)


def search_area_geojson(area: Any) -> dict[str, Any] | None:
    """A search area as GeoJSON: a geometry/feature dict, a bbox, a shapely geometry or None."""
    if area is None:
        return None
    if isinstance(area, Mapping):
        geometry = dict(area.get("geometry") or {}) if area.get("type") == "Feature" else dict(area)
    elif isinstance(area, (list, tuple)) and len(area) == 4:
        west, south, east, north = (float(v) for v in area)
        geometry = {
            "type": "Polygon",
            "coordinates": [
                [[west, south], [east, south], [east, north], [west, north], [west, south]]
            ],
        }
    elif hasattr(area, "__geo_interface__"):
        geometry = json.loads(json.dumps(area.__geo_interface__))
    else:
        raise ReportError(f"search area: cannot use a {type(area).__name__}")
    if _bbox_or_none(geometry) is None:
        raise ReportError("search area: not a valid GeoJSON geometry")
    return geometry
