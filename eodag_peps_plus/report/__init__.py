"""Pictures of searches and of MAJA coverage: self-contained HTML pages and PNG exports.

An adapter layer: it reads backends and processing, and only the CLI imports it.

* :func:`search_report` / :func:`write_search_report`: a map of footprints coloured by
  availability (with the search area and a popup per product), an acquisition timeline
  (date x cloud cover, colour = availability, shape = relative orbit) and a summary (count,
  size, share on tape, expected staging wait), from a ``pystac.ItemCollection``, an EODAG
  ``SearchResult`` or a GeoJSON file.
* :func:`maja_calendar` / :func:`write_calendar`: per date, L1C acquisitions, L2A already on
  GEODES, MAJA jobs in the store, NOVALD dates, and what ``maja ensure`` would submit.
* :func:`write_timeline_png` / :func:`write_calendar_png`: the same pictures as PNG
  (needs the ``png`` extra: matplotlib).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..files import write_atomically
from .calendar import Calendar, calendar_html, maja_calendar
from .page import search_report_html
from .products import (
    STATUS_STYLE,
    TYPICAL_RESTORE_SECONDS,
    ReportError,
    ReportProduct,
    Summary,
    load_features,
    search_area_geojson,
    summarize,
    to_products,
)

__all__ = [
    "STATUS_STYLE",
    "Calendar",
    "ReportError",
    "ReportProduct",
    "Summary",
    "maja_calendar",
    "read_products",
    "search_report",
    "write_calendar",
    "write_calendar_png",
    "write_search_report",
    "write_timeline_png",
]


def read_products(results: Any) -> list[ReportProduct]:
    """Products of a ``pystac.ItemCollection``, an EODAG ``SearchResult``, an iterable of
    items or GeoJSON features, or a GeoJSON file path, validated and sorted by date.

    Raises:
        ReportError: the input, or one of its products, cannot be drawn.
    """
    return to_products(load_features(results))


def search_report(
    results: Any,
    *,
    title: str = "Search report",
    search_area: Any = None,
    tiles: str | None = None,
    restore_seconds: tuple[float, float] = TYPICAL_RESTORE_SECONDS,
) -> str:
    """The search report as one self-contained HTML document.

    Args:
        results: a ``pystac.ItemCollection``, an EODAG ``SearchResult``, items, or the path
            of a GeoJSON file (``peps-plus search --json``, ``eodag search``).
        title: the page title.
        search_area: drawn dashed on the map: a GeoJSON geometry or feature, a
            ``[west, south, east, north]`` box, or a shapely geometry.
        tiles: base-map tile URL template (default: OpenStreetMap); ``""`` for none.
        restore_seconds: the service's typical restore time from tape (low, high).

    Returns:
        The HTML text; scripts and styles are embedded, tiles are the only online fetch.

    Raises:
        ReportError: the input cannot be drawn (the message names the product and why).
    """
    from . import assets

    products = read_products(results)
    return search_report_html(
        products,
        summarize(products, restore_seconds),
        title=title,
        area=search_area_geojson(search_area),
        tiles=assets.DEFAULT_TILES if tiles is None else (tiles or None),
    )


def write_search_report(results: Any, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write :func:`search_report` to ``path`` atomically; returns the path."""
    return write_atomically(path, search_report(results, **kwargs))


def write_calendar(calendar: Calendar, path: str | os.PathLike[str]) -> Path:
    """Write the MAJA calendar page to ``path`` atomically; returns the path."""
    return write_atomically(path, calendar_html(calendar))


def write_timeline_png(results: Any, path: str | os.PathLike[str]) -> Path:
    """The acquisition timeline as a PNG (matplotlib, the ``png`` extra)."""
    from .png import timeline_png

    products = read_products(results)
    return write_atomically(path, timeline_png(products))


def write_calendar_png(calendar: Calendar, path: str | os.PathLike[str]) -> Path:
    """The MAJA calendar as a PNG (matplotlib, the ``png`` extra)."""
    from .png import calendar_png

    return write_atomically(path, calendar_png(calendar))
