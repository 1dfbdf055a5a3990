"""Checks made before anything is submitted, so a bad request costs nothing.

PEPS accepted many impossible jobs and failed them hours later (or cancelled them: MAJA has
no elevation model beyond 60 degrees of latitude); the legacy scripts enforced the rest.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import date, datetime

from ..exceptions import InvalidQueryError
from ..query import parse_datetime
from ..vocabulary import mgrs_tile, shown, tile_latitude

__all__ = [
    "CONFIRM_AT",
    "EARLIEST_END",
    "MAX_LATITUDE",
    "MAX_NAME",
    "MAX_PERIOD_DAYS",
    "MIN_PERIOD_DAYS",
    "ORBIT_RANGE",
    "SeriesRequest",
    "as_date",
    "check_latitude",
    "check_orbit",
    "check_period",
    "check_product",
    "check_series",
    "check_tile_latitude",
    "confirm_many",
    "product_tile",
]

MIN_PERIOD_DAYS = 50
MAX_PERIOD_DAYS = 366
#: Older L1C products lack metadata MAJA needs.
EARLIEST_END = date(2016, 4, 1)
ORBIT_RANGE = (1, 143)
MAX_LATITUDE = 60.0
#: Longer than any ESA name (the old multi-tile ones are about 80 characters).
MAX_NAME = 128
#: Submitting this many per-product jobs asks for confirmation (they recompute shared dates).
CONFIRM_AT = 10

_NAME_TILE = re.compile(r"_T(\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2})(?:_|$)")
_NAME_DATE = re.compile(r"_(?:V)?(\d{8})T\d{6}")


@dataclasses.dataclass(frozen=True)
class SeriesRequest:
    """A validated FULL_MAJA request."""

    tile: str
    start: date
    end: date
    relative_orbit: int | None = None

    def as_inputs(self) -> dict[str, str | int]:
        inputs: dict[str, str | int] = {
            "tile": self.tile,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }
        if self.relative_orbit is not None:
            inputs["relative_orbit"] = self.relative_orbit
        return inputs


def as_date(value: str | date | datetime, name: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return parse_datetime(value, name).date()


def check_orbit(value: int | str | None) -> int | None:
    if value is None or value == "":
        return None
    try:
        orbit = int(value)
    except (TypeError, ValueError):
        raise InvalidQueryError(f"orbit: {shown(value)} is not an integer") from None
    low, high = ORBIT_RANGE
    if not low <= orbit <= high:
        raise InvalidQueryError(f"orbit: Sentinel-2 relative orbits are {low}-{high}, got {orbit}")
    return orbit


def check_period(start: date, end: date) -> None:
    """A FULL_MAJA series: 50 to 366 days, starting on or after 2016-04-01 (the service's rule,
    as full_maja_process.py and its README state it: older L1C lack what MAJA needs)."""
    if end <= EARLIEST_END:
        raise InvalidQueryError(
            f"end: {end} is not after {EARLIEST_END}; older L1C products lack what MAJA needs"
        )
    if start < EARLIEST_END:
        raise InvalidQueryError(
            f"start: {start} is before {EARLIEST_END}; a FULL_MAJA series must start on or "
            f"after it (older L1C products lack what MAJA needs): -d {EARLIEST_END}"
        )
    days = (end - start).days
    if days < 0:
        raise InvalidQueryError(f"end {end} is before start {start}")
    if days < MIN_PERIOD_DAYS:
        raise InvalidQueryError(
            f"period: {start} to {end} is {days} days; MAJA needs a time series of at least "
            f"{MIN_PERIOD_DAYS} days"
        )
    if days > MAX_PERIOD_DAYS:
        raise InvalidQueryError(
            f"period: {start} to {end} is {days} days; one job covers at most "
            f"{MAX_PERIOD_DAYS} days, split it into several"
        )


def check_series(
    tile: str,
    start: str | date | datetime,
    end: str | date | datetime,
    relative_orbit: int | str | None = None,
) -> SeriesRequest:
    """Every FULL_MAJA rule at once; raises :class:`InvalidQueryError` naming the first fault."""
    normalized = mgrs_tile(tile)
    first = as_date(start, "start")
    last = as_date(end, "end")
    check_period(first, last)
    orbit = check_orbit(relative_orbit)
    check_tile_latitude(normalized)
    return SeriesRequest(normalized, first, last, orbit)


# -- latitude ------------------------------------------------------------------------------------
def check_tile_latitude(tile: str) -> None:
    lat = tile_latitude(tile)
    if abs(lat) > MAX_LATITUDE:
        hemisphere = "N" if lat > 0 else "S"
        raise InvalidQueryError(
            f"tile {tile} lies at about {abs(lat):.1f}\N{DEGREE SIGN}{hemisphere}, beyond "
            f"\N{PLUS-MINUS SIGN}{MAX_LATITUDE:g}\N{DEGREE SIGN}: MAJA has no elevation model "
            "there and such jobs are cancelled"
        )


def check_latitude(lat: float, what: str) -> None:
    if abs(lat) > MAX_LATITUDE:
        raise InvalidQueryError(
            f"{what} lies at {lat:.1f}\N{DEGREE SIGN} of latitude, beyond "
            f"\N{PLUS-MINUS SIGN}{MAX_LATITUDE:g}\N{DEGREE SIGN}: MAJA has no elevation model "
            "there and such jobs are cancelled"
        )


# -- per-product MAJA ----------------------------------------------------------------------------
def product_tile(name: str) -> str | None:
    match = _NAME_TILE.search(name)
    return match.group(1) if match else None


def check_product(name: str, latitude: float | None = None) -> str:
    """A per-product MAJA input: a Sentinel-2 L1C name, recent enough, within +-60 degrees."""
    name = name.strip()
    if name.lower().endswith(".zip"):
        name = name[:-4]
    if len(name) > MAX_NAME or not re.fullmatch(r"S2[A-D]_\w+", name) or "MSIL1C" not in name:
        raise InvalidQueryError(
            f"product: {shown(name)} is not a Sentinel-2 L1C product name (MAJA processes L1C)"
        )
    found = _NAME_DATE.search(name)
    if found:
        try:
            sensed = datetime.strptime(found.group(1), "%Y%m%d").date()
        except ValueError:
            raise InvalidQueryError(
                f"product {shown(name)}: {found.group(1)} is not a date; not a real product name"
            ) from None
        if sensed <= EARLIEST_END:
            raise InvalidQueryError(
                f"product {shown(name)}: sensed {sensed}, not after {EARLIEST_END}; older L1C "
                "products lack what MAJA needs"
            )
    if latitude is not None:
        check_latitude(latitude, f"product {shown(name)}")
    else:
        tile = product_tile(name)
        if tile:
            check_tile_latitude(tile)
    return name


def confirm_many(count: int, *, yes: bool, confirm: Callable[[int], bool] | None) -> None:
    """Refuse 10+ per-product jobs unless the user agreed: they recompute the same dates."""
    if count < CONFIRM_AT or yes:
        return
    if confirm is not None and confirm(count):
        return
    raise InvalidQueryError(
        f"{count} per-product MAJA jobs not submitted: from {CONFIRM_AT} on, confirm (or pass "
        "--yes / yes=True); a FULL_MAJA series on the tile is usually better"
    )
