"""Sentinel-1 footprints over a town: several tracks, both passes, ~250 x 170 km swaths tilted
along the track, as searched over real HTTP on both services (PEPS resto, GEODES STAC)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime
from typing import Any

import requests
from shapely.geometry import LinearRing, box, shape

from eodag_peps_plus.sandbox import Sandbox
from eodag_peps_plus.sandbox.s1_orbit import passes_over, relative_orbit

TIMEOUT = 60
TOULOUSE = (1.444, 43.604)
#: Tile 31TCJ, around Toulouse (a 110 km square).
TILE = (0.7, 43.15, 1.8, 44.15)


def _km(a: list[float], b: list[float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2
    h += math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _heading(start: list[float], stop: list[float]) -> float:
    """Bearing from a slice's first line to its last (degrees from north, 0-360)."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*start, *stop))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360


def _peps(sandbox: Sandbox, **params: Any) -> list[dict[str, Any]]:
    reply = requests.get(
        f"{sandbox.url}/resto/api/collections/S1/search.json",
        params={"productType": "GRD", "maxRecords": 500, **params},
        timeout=TIMEOUT,
    )
    assert reply.status_code == 200, reply.text[:200]
    features: list[dict[str, Any]] = reply.json()["features"]
    return features


def test_a_tile_is_seen_by_several_tracks_ascending_and_descending(sandbox: Sandbox) -> None:
    area = ",".join(map(str, TILE))
    features = _peps(sandbox, box=area, startDate="2018-01-01", completionDate="2018-03-31")
    tracks: dict[tuple[int, str], list[datetime]] = defaultdict(list)
    for feature in features:
        p = feature["properties"]
        footprint = shape(feature["geometry"])
        assert footprint.is_valid and footprint.intersects(box(*TILE))
        assert relative_orbit(p["platform"], p["orbitNumber"]) == p["relativeOrbitNumber"]
        start = datetime.fromisoformat(p["startDate"].replace("Z", "+00:00"))
        tracks[(p["relativeOrbitNumber"], p["orbitDirection"])].append(start)
    assert len(tracks) >= 3, tracks.keys()
    assert {direction for _, direction in tracks} == {"ascending", "descending"}
    for (_, direction), starts in tracks.items():
        starts.sort()
        gaps = {round((b - a).total_seconds() / 86400, 3) for a, b in zip(starts, starts[1:])}
        assert gaps == {6.0}, (direction, gaps)  # S1A and S1B, 12 days each, 6 days apart
        hours = {s.hour for s in starts}
        assert hours == ({17} if direction == "ascending" else {6}), hours  # dusk / dawn


def test_swaths_are_250_by_170_km_along_the_track(sandbox: Sandbox) -> None:
    lon, lat = TOULOUSE
    features = _peps(sandbox, lon=lon, lat=lat, startDate="2018-01-01", completionDate="2018-01-31")
    assert features
    for feature in features:
        (ring,) = feature["geometry"]["coordinates"][0]
        stop_near, start_near, start_far, stop_far = ring[:4]
        assert 240 < _km(start_near, start_far) < 260 and 240 < _km(stop_near, stop_far) < 260
        assert 160 < _km(start_near, stop_near) < 180
        heading = _heading(start_near, stop_near)
        if feature["properties"]["orbitDirection"] == "ascending":
            assert 344 < heading < 352, heading  # NNW, ~-12 deg
        else:
            assert 188 < heading < 196, heading  # SSW, ~192 deg


def test_orbit_filters_and_geodes_agree(sandbox: Sandbox) -> None:
    lon, lat = TOULOUSE
    dates = {"startDate": "2019-01-01", "completionDate": "2019-02-28"}
    both = _peps(sandbox, lon=lon, lat=lat, **dates)
    one = _peps(sandbox, lon=lon, lat=lat, relativeOrbitNumber="110", **dates)
    assert one and {f["properties"]["relativeOrbitNumber"] for f in one} == {110}
    down = _peps(sandbox, lon=lon, lat=lat, orbitDirection="descending", **dates)
    assert down and {f["properties"]["orbitDirection"] for f in down} == {"descending"}
    assert len(down) < len(both)
    body = {
        "collections": ["PEPS_S1_L1"],
        "intersects": {"type": "Point", "coordinates": [lon, lat]},
        "query": {
            "product:type": {"eq": "GRD"},
            "start_datetime": {"gte": "2019-01-01T00:00:00Z", "lte": "2019-02-28T23:59:59Z"},
        },
        "limit": 500,
    }
    items = requests.post(f"{sandbox.url}/api/stac/search", json=body, timeout=TIMEOUT).json()
    by_name = {f["properties"]["title"]: f for f in both}
    assert {i["properties"]["identifier"] for i in items["features"]} == by_name.keys()
    for item in items["features"]:
        feature = by_name[item["properties"]["identifier"]]
        assert item["geometry"]["coordinates"] == feature["geometry"]["coordinates"][0]
        assert 40_000 < item["properties"]["area"] < 45_000  # km², 250 x 170
        assert (
            item["properties"]["sat:orbit_state"]
            == feature["properties"]["orbitDirection"].capitalize()
        )


def test_a_box_beside_a_swath_does_not_match_it(sandbox: Sandbox) -> None:
    """The footprint itself is tested, not its bounding box (a tilted swath's box is wider)."""
    features = _peps(sandbox, startDate="2019-01-01", completionDate="2019-01-31")
    feature = features[0]
    footprint = shape(feature["geometry"])
    lonmin, latmin, lonmax, latmax = footprint.bounds
    corner = f"{lonmin},{latmin},{lonmin + 0.05},{latmin + 0.05}"
    assert not footprint.intersects(shape({"type": "Point", "coordinates": [lonmin, latmin]}))
    names = {
        f["properties"]["title"]
        for f in _peps(sandbox, box=corner, startDate="2019-01-01", completionDate="2019-01-31")
    }
    assert feature["properties"]["title"] not in names


def test_the_orbit_model_against_the_recorded_item(fixture_path: Any) -> None:
    """The recorded GEODES S1 GRD item (S1C, relative orbit 76, ascending): the model puts an
    ascending slice of the neighbouring track over it, drawn the same way (counter-clockwise,
    the same corner first, the same size and tilt)."""
    item = json.loads(fixture_path("geodes_item_S1_GRD.json").read_text())
    real = shape(item["geometry"])
    lon, lat = real.centroid.x, real.centroid.y
    near = passes_over(((lon - 0.2, lat - 0.2, lon + 0.2, lat + 0.2),), 0.5)
    (model,) = [p for p in near if p.direction == "ascending"]
    assert abs(model.relative - item["properties"]["sat:relative_orbit"]) <= 1
    ring = list(model.polygon)
    assert LinearRing(ring).is_ccw and LinearRing(real.exterior.coords).is_ccw
    assert (
        shape({"type": "Polygon", "coordinates": [ring]}).intersection(real).area > 0.5 * real.area
    )
    real_ring = item["geometry"]["coordinates"][0]
    assert abs(_heading(real_ring[1], real_ring[0]) - _heading(ring[1], ring[0])) < 2


def test_paris_and_marseille_have_sentinel1_too(sandbox: Sandbox) -> None:
    """Away from Toulouse the catalogue keeps the passes covering most of a town: a search
    there finds Sentinel-1 products (Marseille, in both directions)."""
    seen = {}
    for town, (lon, lat) in {"paris": (2.352, 48.857), "marseille": (5.370, 43.296)}.items():
        features = _peps(
            sandbox, lon=lon, lat=lat, startDate="2018-01-01", completionDate="2018-01-31"
        )
        assert features, town
        seen[town] = {f["properties"]["orbitDirection"] for f in features}
    assert seen["marseille"] == {"ascending", "descending"}
