"""Sentinel-1 passes: when a relative orbit flies over a place, and the swath it images.

The sandbox's Sentinel-1 products are slices of real-looking passes, so a search over a town
finds what it would on the real archive: several relative orbits, ascending and descending,
each a ~250 km wide, ~170 km long quadrilateral tilted along the track. What the model rests
on (``docs/sandbox-products.md``, section *Sentinel-1 footprints*, gives the sources):

* documented (ESA Sentinel-1 User Guide, *Orbit* and *Interferometric Wide swath*): a
  sun-synchronous orbit at 693 km, inclination 98.18 deg, 175 orbits in a 12-day repeat
  cycle, ascending node at 18:00 local solar time; IW is right-looking, 250 km wide, incidence
  29.1-46.0 deg (ground range ~343-593 km from the nadir track, computed here);
* documented (ESA's mission performance centre on the STEP forum): relative orbit
  ``(absolute - 73) % 175 + 1`` for S1A, ``(absolute - 27) % 175 + 1`` for S1B, and "15 s is
  approx. 100 km along track" (a 25 s GRD slice is ~170 km); S1A and S1B fly the same tracks
  6 days apart;
* documented (the recorded GEODES item, ``fixtures/geodes_item_S1_GRD.json``): an IW GRD
  footprint is four corners, ~253 km across and ~197 km along a 29 s slice, heading ~-12 deg
  in the ascending pass, written far/near corners counter-clockwise as here;
* assumed: the time of one ascending node, S1A absolute orbit 18302 at 2017-09-09 17:44:00 UTC,
  13 minutes before the real product ``S1A_IW_GRDH_1SDV_20170909T175748_..._018302`` (relative
  orbit 30) started; slices cut every 25 s from the ascending node (real slicing follows
  each datatake). Which relative orbits see a town follows from that anchor and may differ
  from the real ones by one track.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from datetime import datetime, timedelta, timezone

from shapely.geometry import Polygon, box

__all__ = [
    "ANCHORS",
    "FAR_KM",
    "NEAR_KM",
    "ORBITS_PER_CYCLE",
    "PERIOD",
    "SLICE",
    "Pass",
    "passes_over",
    "relative_orbit",
    "swath",
]

ORBITS_PER_CYCLE = 175
#: One orbit, in seconds (12 days / 175).
PERIOD = 12 * 86400 / ORBITS_PER_CYCLE
SLICE = 25.0
NEAR_KM, FAR_KM = 343.0, 593.0
_INCLINATION = math.radians(98.18)
_EARTH_RADIUS_KM = 6371.0
_SIDEREAL_DAY = 86164.1
#: Relative-orbit offsets of the absolute orbit numbers (documented formulas).
_OFFSETS = {"S1A": 73, "S1B": 27}
#: (absolute orbit, time of its ascending node) per satellite; S1B flies S1A's tracks 6 days
#: apart, so its anchor is S1A's ground track 6 days earlier (orbit 7231 was relative 30 too).
ANCHORS = {
    "S1A": (18302, datetime(2017, 9, 9, 17, 44, tzinfo=timezone.utc)),
    "S1B": (7231, datetime(2017, 9, 3, 17, 44, tzinfo=timezone.utc)),
}


def relative_orbit(platform: str, absolute: int) -> int:
    """The documented formula (``relativeOrbitNumber`` when a record lacks it)."""
    return (absolute - _OFFSETS[platform]) % ORBITS_PER_CYCLE + 1


def _node_time(platform: str, absolute: int) -> datetime:
    anchor, when = ANCHORS[platform]
    return when + timedelta(seconds=(absolute - anchor) * PERIOD)


def _node_longitude(when: datetime) -> float:
    """Ascending node at 18:00 mean local solar time: its longitude from the UTC time."""
    hours = when.hour + when.minute / 60 + when.second / 3600
    return (15.0 * (18.0 - hours) + 180.0) % 360.0 - 180.0


def _nadir(node_lon: float, seconds: float) -> tuple[float, float]:
    """(lon, lat) under the satellite ``seconds`` after the ascending node."""
    u = 2 * math.pi * seconds / PERIOD
    lat = math.asin(math.sin(_INCLINATION) * math.sin(u))
    inertial = math.atan2(math.cos(_INCLINATION) * math.sin(u), math.cos(u))
    lon = node_lon + math.degrees(inertial) - 360.0 * seconds / _SIDEREAL_DAY
    return (lon + 180.0) % 360.0 - 180.0, math.degrees(lat)


def _destination(lon: float, lat: float, bearing: float, km: float) -> tuple[float, float]:
    """Great-circle destination from ``(lon, lat)`` (degrees) along ``bearing``."""
    phi, lam, theta = math.radians(lat), math.radians(lon), math.radians(bearing)
    delta = km / _EARTH_RADIUS_KM
    phi2 = math.asin(
        math.sin(phi) * math.cos(delta) + math.cos(phi) * math.sin(delta) * math.cos(theta)
    )
    lam2 = lam + math.atan2(
        math.sin(theta) * math.sin(delta) * math.cos(phi),
        math.cos(delta) - math.sin(phi) * math.sin(phi2),
    )
    return (math.degrees(lam2) + 540.0) % 360.0 - 180.0, math.degrees(phi2)


def _bearing(a: tuple[float, float], b: tuple[float, float]) -> float:
    (lon1, lat1), (lon2, lat2) = (tuple(map(math.radians, p)) for p in (a, b))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x))


def swath(node_lon: float, start: float, stop: float) -> list[list[float]]:
    """The IW footprint imaged from ``start`` to ``stop`` seconds after the ascending node:
    stop-near, start-near, start-far, stop-far (counter-clockwise), closed."""
    corners: list[list[float]] = []
    for seconds, edges in ((stop, (NEAR_KM,)), (start, (NEAR_KM, FAR_KM)), (stop, (FAR_KM,))):
        here = _nadir(node_lon, seconds)
        right = _bearing(here, _nadir(node_lon, seconds + 1.0)) + 90.0
        for km in edges:
            lon, lat = _destination(*here, right, km)
            corners.append([round(lon, 6), round(lat, 6)])
    return [*corners, corners[0]]


@dataclasses.dataclass(frozen=True)
class Pass:
    """One relative orbit's slice over a place: the same ground footprint every 12 days."""

    relative: int
    direction: str  # ascending or descending
    #: Seconds from the ascending node to the slice's first line.
    offset: float
    polygon: tuple[tuple[float, float], ...]

    def absolute(self, platform: str, cycle: int) -> int:
        """Absolute orbit number of this pass in the satellite's ``cycle`` (from 0)."""
        return _OFFSETS[platform] + self.relative - 1 + ORBITS_PER_CYCLE * cycle

    def start(self, platform: str, cycle: int) -> datetime:
        """When the slice's sensing starts (consistent with its absolute orbit)."""
        return _node_time(platform, self.absolute(platform, cycle)) + timedelta(seconds=self.offset)

    def cycle_at(self, platform: str, moment: datetime) -> int:
        """The first cycle whose pass starts at or after ``moment``."""
        anchor, when = ANCHORS[platform]
        base = _OFFSETS[platform] + self.relative - 1
        first = when + timedelta(seconds=(base - anchor) * PERIOD + self.offset)
        return math.ceil((moment - first).total_seconds() / (12 * 86400))


def _node_longitude_of(relative: int) -> float:
    """Where ``relative``'s ascending node is (the same every cycle, for both satellites)."""
    anchor = ANCHORS["S1A"][0]
    cycle = (anchor - _OFFSETS["S1A"]) // ORBITS_PER_CYCLE
    return _node_longitude(_node_time("S1A", _OFFSETS["S1A"] + relative - 1 + 175 * cycle))


def _slice_over(relative: int, ascending: bool, area: Polygon, share: float) -> Pass | None:
    """The slice of ``relative``'s pass that overlaps ``area`` most, if it covers at least
    ``share`` of it."""
    node_lon = _node_longitude_of(relative)
    lon, lat = area.centroid.x, area.centroid.y
    u = math.asin(math.sin(math.radians(lat)) / math.sin(_INCLINATION))
    centre = (u if ascending else math.pi - u) / (2 * math.pi) * PERIOD
    nadir_lon = _nadir(node_lon, centre)[0]
    if abs((nadir_lon - lon + 180.0) % 360.0 - 180.0) > 15.0:  # the other side of the Earth
        return None
    best: tuple[float, float, list[list[float]]] | None = None
    for first in range(int(centre // SLICE) - 4, int(centre // SLICE) + 5):
        polygon = swath(node_lon, first * SLICE, (first + 1) * SLICE)
        overlap = area.intersection(Polygon(polygon)).area
        if overlap > 0 and (best is None or overlap > best[0]):
            best = (overlap, first * SLICE, polygon)
    if best is None or best[0] < share * area.area:
        return None
    direction = "ascending" if ascending else "descending"
    return Pass(relative, direction, best[1], tuple((x, y) for x, y in best[2]))


@functools.lru_cache(maxsize=64)
def passes_over(
    areas: tuple[tuple[float, float, float, float], ...], share: float = 0.15
) -> tuple[Pass, ...]:
    """For each of ``areas`` ((lonmin, latmin, lonmax, latmax) boxes), the slice of every
    relative orbit, ascending and descending, that covers at least ``share`` of it (the one
    covering most), without duplicates, in that order."""
    found: dict[tuple[int, str, float], Pass] = {}
    for bounds in areas:
        area = box(*bounds)
        for ascending in (True, False):
            for relative in range(1, ORBITS_PER_CYCLE + 1):
                hit = _slice_over(relative, ascending, area, share)
                if hit is not None:
                    found.setdefault((hit.relative, hit.direction, hit.offset), hit)
    return tuple(found.values())
