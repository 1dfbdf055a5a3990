"""GeoJSON geometries from servers: one check of their shape, and their bounding box.

Footprints feed shapely, pystac and EODAG, which each fail their own way on a shape they do
not expect, or worse: a string where coordinates belong once made the bounding-box loop spin
forever. Backends check every footprint once, where a reply becomes a ``Product``
(:func:`check_geometry`), so the code downstream can trust it; :func:`geometry_bbox` walks the
same way and cannot loop whatever it is given.

Footprints are polygons of a few dozen positions, and a search maps thousands of them: both
functions first try :func:`_polygon_bbox`, one pass per ring in C builtins (``zip``, ``map``,
``min``, ``max``, ``sum``) that can only *accept*; any doubt (another type, a 3-D position,
an int too large for a float, NaN...) sends the geometry to the walk, which decides and names
the fault. So the fast path accepts exactly what the walk accepts (a property test says so).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from .exceptions import PepsPlusError, json_kind, shorten

__all__ = [
    "DEPTHS",
    "GeometryError",
    "MAX_NESTING",
    "MAX_POSITIONS",
    "check_geometry",
    "checked_bbox",
    "geometry_bbox",
    "single_part",
]

#: How deep ``coordinates`` nests above its positions, per GeoJSON type.
DEPTHS: dict[str, int] = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}
#: A footprint has tens of positions; a reply with more than this is not sending one, and
#: checking or drawing it would take the CPU for nothing.
MAX_POSITIONS = 100_000
#: GeoJSON says geometry collections SHOULD NOT nest; a little nesting is tolerated.
MAX_NESTING = 4

_Array = (list, tuple)


class GeometryError(PepsPlusError, ValueError):
    """A geometry is not GeoJSON: ``field`` is where (``geometry.coordinates[0][3]``)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def check_geometry(value: Any, field: str = "geometry") -> dict[str, Any]:
    """``value`` if it is a GeoJSON geometry with at least one position, else raise.

    Positions are 2 or 3 finite numbers, longitude within [-360, 360] and latitude within
    [-90, 90]; linear rings are closed with at least 4 positions, lines have at least 2.

    Args:
        value: The decoded JSON (a dict for a valid geometry).
        field: Where the value was found, for the error message.

    Returns:
        ``value`` itself, unchanged.

    Raises:
        GeometryError: naming the sub-field that is wrong and how.
    """
    if _polygon_bbox(value) is None:
        _walk_check(value, field)
    geometry: dict[str, Any] = value
    return geometry


def checked_bbox(value: Any, field: str = "geometry") -> list[float] | None:
    """:func:`check_geometry` that also gives the bounding box it found on the way (``None``
    when only the walk could decide, which does not keep it): one pass instead of two.

    Raises:
        GeometryError: as :func:`check_geometry`.
    """
    box = _polygon_bbox(value)
    if box is None:
        _walk_check(value, field)
    return box


def geometry_bbox(geometry: dict[str, Any] | None) -> list[float] | None:
    """``[west, south, east, north]`` of a GeoJSON geometry, ``None`` when it has no position.

    Plain loops: faster than shapely for the few dozen points of a footprint.

    Raises:
        GeometryError: the geometry is malformed (see :func:`check_geometry`).
    """
    if not geometry:
        return None
    return _polygon_bbox(geometry) or _walk_bbox(geometry)


def _walk_check(value: Any, field: str) -> None:
    """:func:`check_geometry` the general way: every position, one step each."""
    if value is None:
        raise GeometryError(field, "is missing (null)")
    positions = sum(1 for _ in _positions(value, field, 0))  # walks it all: every check
    if not positions:
        raise GeometryError(field, "has no coordinates")


def _walk_bbox(geometry: dict[str, Any]) -> list[float] | None:
    """:func:`geometry_bbox` the general way."""
    west = south = math.inf
    east = north = -math.inf
    for x, y in _positions(geometry, "geometry", 0):
        west, east = min(west, x), max(east, x)
        south, north = min(south, y), max(north, y)
    if west == math.inf:
        return None
    return [west, south, east, north]


def single_part(geometry: dict[str, Any]) -> dict[str, Any]:
    """A one-part ``MultiPolygon`` as the ``Polygon`` it is: PEPS wraps every footprint in a
    MultiPolygon, GEODES does not, and the same product must have the same geometry (and EODAG
    search intersection) whichever server answered."""
    if geometry.get("type") == "MultiPolygon":
        parts = geometry.get("coordinates") or []
        if len(parts) == 1:
            return {"type": "Polygon", "coordinates": parts[0]}
    return geometry


_NUMBERS = frozenset({float, int})


def _polygon_bbox(geometry: Any) -> list[float] | None:
    """The bounding box of a (Multi)Polygon of closed 2-D rings of at least 4 finite, in-range
    numbers, ``None`` for anything else (which the walk then checks). Each ring costs a few C
    builtins instead of a Python step per position."""
    if type(geometry) is not dict:
        return None
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if type(coordinates) is not list or not coordinates:
        return None
    if kind == "Polygon":
        polygons: list[Any] = [coordinates]
    elif kind == "MultiPolygon":
        polygons = coordinates
    else:
        return None
    west = south = math.inf
    east = north = -math.inf
    total = 0
    for rings in polygons:
        if type(rings) is not list or not rings:
            return None
        for ring in rings:
            if type(ring) is not list or len(ring) < 4 or ring[0] != ring[-1]:
                return None
            if set(map(type, ring)) != {list} or set(map(len, ring)) != {2}:
                return None
            xs, ys = zip(*ring, strict=True)
            if not set(map(type, xs)) | set(map(type, ys)) <= _NUMBERS:
                return None  # bool, str, None, nested lists...
            low_x, high_x, low_y, high_y = min(xs), max(xs), min(ys), max(ys)
            # A NaN first makes min/max NaN and fails here; a NaN later is caught by the sum,
            # which runs only once every value is known in range (so no huge int reaches it).
            if not (low_x >= -360 and high_x <= 360 and low_y >= -90 and high_y <= 90):
                return None
            if not math.isfinite(sum(xs) + sum(ys)):
                return None
            west, east = min(west, low_x), max(east, high_x)
            south, north = min(south, low_y), max(north, high_y)
            total += len(ring)
    if total > MAX_POSITIONS:
        return None
    return [float(west), float(south), float(east), float(north)]


def _positions(geometry: Any, field: str, nesting: int) -> Iterator[tuple[float, float]]:
    """Every ``(x, y)`` of a geometry, checking the shape on the way (nothing is built)."""
    if not isinstance(geometry, dict):
        raise GeometryError(field, f"is not a JSON object ({json_kind(geometry)})")
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        if nesting >= MAX_NESTING:
            raise GeometryError(field, f"nests geometry collections more than {MAX_NESTING} deep")
        members = geometry.get("geometries")
        if not isinstance(members, _Array):
            raise GeometryError(f"{field}.geometries", f"is not a list ({json_kind(members)})")
        for index, member in enumerate(members):
            yield from _positions(member, f"{field}.geometries[{index}]", nesting + 1)
        return
    if not isinstance(kind, str) or kind not in DEPTHS:
        raise GeometryError(f"{field}.type", f"is not a GeoJSON geometry type ({shorten(kind)})")
    count = 0
    # Iterative walk with the depth fixed by the type: any other nesting is an error.
    stack: list[tuple[Any, str, int]] = [(geometry.get("coordinates"), f"{field}.coordinates", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth == DEPTHS[kind]:
            count += 1
            if count > MAX_POSITIONS:
                raise GeometryError(f"{field}.coordinates", f"has over {MAX_POSITIONS} positions")
            yield _position(value, where)
            continue
        if not isinstance(value, _Array):
            raise GeometryError(where, f"is not a list ({json_kind(value)})")
        _check_run(kind, value, where, depth)
        stack.extend((value[i], f"{where}[{i}]", depth + 1) for i in range(len(value) - 1, -1, -1))


def _check_run(kind: str, value: Any, where: str, depth: int) -> None:
    """Lines need 2 positions, linear rings 4 and closed (what GEOS will insist on)."""
    run = depth == DEPTHS[kind] - 1
    if not run or kind in ("Point", "MultiPoint") or not value:
        return
    ring = kind in ("Polygon", "MultiPolygon")
    least = 4 if ring else 2
    if len(value) < least:
        raise GeometryError(where, f"has {len(value)} position(s), fewer than {least}")
    ends = (value[0], value[-1])
    if ring and all(isinstance(end, _Array) for end in ends) and list(ends[0]) != list(ends[1]):
        raise GeometryError(where, "is not closed (first and last positions differ)")


def _position(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, _Array) or not 2 <= len(value) <= 3:
        raise GeometryError(where, f"is not a position [x, y] ({shorten(value)})")
    for number in value:
        if (
            isinstance(number, bool)
            or not isinstance(number, (int, float))
            or not math.isfinite(number)
        ):
            raise GeometryError(where, f"is not a position of finite numbers ({shorten(value)})")
    x, y = float(value[0]), float(value[1])
    if not -360 <= x <= 360 or not -90 <= y <= 90:
        raise GeometryError(where, f"is out of longitude/latitude range ({shorten(value)})")
    return x, y
