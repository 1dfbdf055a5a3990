"""The acquisition timeline: date across, cloud cover up, colour = availability, shape = orbit.

Drawn as inline SVG by Python rather than by a charting library: the page needs no script for
it, it is one element per product (what a test or an accessibility tool counts), and the hover
text is the SVG ``<title>`` every browser shows. The PNG export (``png.py``) draws the same
layout from the same :func:`layout`.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, timedelta
from html import escape

from .products import STATUS_STYLE, ReportProduct

__all__ = [
    "AXIS_Y",
    "LEGEND_Y",
    "Layout",
    "NA_ROW",
    "PLOT_BOTTOM",
    "SHAPES",
    "hover_text",
    "layout",
    "orbit_label",
    "shape_path",
    "timeline_svg",
    "x_of",
    "y_of",
]

#: Mark shapes (SVG name, matplotlib marker), given to relative orbits in increasing order; a
#: search over more orbits than shapes reuses them (the hover text always names the orbit).
SHAPES: tuple[tuple[str, str], ...] = (
    ("circle", "o"),
    ("square", "s"),
    ("triangle-up", "^"),
    ("diamond", "D"),
    ("triangle-down", "v"),
    ("plus", "P"),
    ("star", "*"),
    ("hexagon", "h"),
)

WIDTH, HEIGHT = 960, 360
LEFT, RIGHT, TOP = 56, 20, 16
PLOT_BOTTOM = 250  # y of 0 % cloud cover
NA_ROW = 280  # products without a cloud cover (Sentinel-1)
AXIS_Y = 300
LEGEND_Y = 340


@dataclasses.dataclass(frozen=True)
class Layout:
    first: date
    last: date
    ticks: list[tuple[date, str]]
    #: relative orbit (None: unknown) -> index into SHAPES
    shapes: dict[int | None, int]


def layout(products: list[ReportProduct]) -> Layout:
    days = [p.day for p in products] or [date.today()]
    first, last = min(days), max(days)
    pad = max(1, (last - first).days // 40)
    first, last = first - timedelta(days=pad), last + timedelta(days=pad)
    orbits = sorted({p.relative_orbit for p in products}, key=lambda o: (o is None, o or 0))
    return Layout(first, last, _ticks(first, last), {o: i for i, o in enumerate(orbits)})


def _ticks(first: date, last: date) -> list[tuple[date, str]]:
    """Round dates across the span: days, Mondays, months, quarters or years."""
    span = (last - first).days
    ticks: list[tuple[date, str]] = []
    if span <= 16:
        day = first
        while day <= last:
            ticks.append((day, day.strftime("%d %b")))
            day += timedelta(days=1)
        return ticks
    if span <= 70:
        day = first + timedelta(days=(7 - first.weekday()) % 7)
        while day <= last:
            ticks.append((day, day.strftime("%d %b")))
            day += timedelta(days=7)
        return ticks
    step = 1 if span <= 430 else 3 if span <= 1300 else 12
    year, month = first.year, first.month
    while True:
        if (month - 1) % step == 0:
            day = date(year, month, 1)
            if day > last:
                return ticks
            if day >= first:
                label = day.strftime("%Y") if step == 12 else day.strftime("%b %Y")
                ticks.append((day, label))
        month += 1
        if month > 12:
            year, month = year + 1, 1
        if date(year, month, 1) > last:
            return ticks


def x_of(day: date, lay: Layout) -> float:
    span = max(1, (lay.last - lay.first).days)
    return LEFT + (day - lay.first).days / span * (WIDTH - LEFT - RIGHT)


def y_of(cloud: float | None) -> float:
    if cloud is None:
        return NA_ROW
    return PLOT_BOTTOM - cloud / 100 * (PLOT_BOTTOM - TOP)


def shape_path(shape: str, x: float, y: float, r: float = 5.5) -> str:
    """An SVG path ``d`` for a mark centred on (x, y)."""

    def poly(points: list[tuple[float, float]]) -> str:
        return "M" + "L".join(f"{x + dx:.1f},{y + dy:.1f}" for dx, dy in points) + "Z"

    if shape == "circle":
        return f"M{x - r:.1f},{y:.1f}a{r},{r} 0 1,0 {2 * r},0a{r},{r} 0 1,0 {-2 * r},0Z"
    if shape == "square":
        s = r * 0.9
        return poly([(-s, -s), (s, -s), (s, s), (-s, s)])
    if shape == "triangle-up":
        return poly([(0, -r * 1.15), (r * 1.1, r * 0.8), (-r * 1.1, r * 0.8)])
    if shape == "triangle-down":
        return poly([(0, r * 1.15), (r * 1.1, -r * 0.8), (-r * 1.1, -r * 0.8)])
    if shape == "diamond":
        return poly([(0, -r * 1.2), (r * 1.2, 0), (0, r * 1.2), (-r * 1.2, 0)])
    if shape == "plus":
        a, b = r * 0.4, r * 1.1
        return poly([(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b),
                     (-a, a), (-b, a), (-b, -a), (-a, -a)])  # fmt: skip
    if shape == "star":
        points = []
        for i in range(10):
            radius = r * 1.3 if i % 2 == 0 else r * 0.55
            angle = math.pi / 2 + i * math.pi / 5
            points.append((radius * math.cos(angle), -radius * math.sin(angle)))
        return poly(points)
    points = [(r * math.cos(a), r * math.sin(a)) for a in (math.pi / 3 * i for i in range(6))]
    return poly(points)  # hexagon


def orbit_label(orbit: int | None) -> str:
    return "orbit unknown" if orbit is None else f"orbit {orbit}"


def hover_text(product: ReportProduct) -> str:
    return "\n".join(f"{k}: {v}" if k != "name" else v for k, v in product.popup().items())


def timeline_svg(products: list[ReportProduct]) -> str:
    """The timeline as one ``<svg>`` element; each product is one ``path.mark``."""
    lay = layout(products)
    parts = [
        f'<svg id="timeline" class="timeline" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="acquisition timeline: date and cloud cover">'
    ]
    for cloud in (0, 25, 50, 75, 100):
        y = y_of(cloud)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="ylabel" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{cloud}%</text>'
        )
    if any(p.cloud_cover is None for p in products):
        parts.append(
            f'<text class="ylabel" x="{LEFT - 6}" y="{NA_ROW + 4}" text-anchor="end">n/a</text>'
        )
    parts.append(
        f'<text class="ylabel" transform="translate(14,{(TOP + PLOT_BOTTOM) / 2}) rotate(-90)" '
        'text-anchor="middle">cloud cover</text>'
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{AXIS_Y}" y2="{AXIS_Y}"/>'
    )
    for day, label in lay.ticks:
        x = x_of(day, lay)
        parts.append(
            f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{AXIS_Y}" y2="{AXIS_Y + 5}"/>'
            f'<text class="xlabel" x="{x:.1f}" y="{AXIS_Y + 18}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    for product in products:
        shape = SHAPES[lay.shapes[product.relative_orbit] % len(SHAPES)][0]
        d = shape_path(shape, x_of(product.day, lay), y_of(product.cloud_cover))
        parts.append(
            f'<path class="mark" d="{d}" fill="{product.colour}" '
            f'data-id="{escape(product.id)}" data-status="{product.status.value}" '
            f'data-orbit="{product.relative_orbit or ""}" data-shape="{shape}">'
            f"<title>{escape(hover_text(product))}</title></path>"
        )
    parts.append(_legend(lay))
    parts.append("</svg>")
    return "".join(parts)


def _legend(lay: Layout) -> str:
    x = float(LEFT)
    parts = ['<g class="legend">']
    for colour, label in STATUS_STYLE.values():
        parts.append(
            f'<rect x="{x:.0f}" y="{LEGEND_Y - 9}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16:.0f}" y="{LEGEND_Y + 1}">{escape(label)}</text>'
        )
        x += 24 + 7 * len(label)
    x += 12
    for orbit, index in lay.shapes.items():
        if index >= len(SHAPES):
            break
        label = orbit_label(orbit)
        d = shape_path(SHAPES[index][0], x + 5, LEGEND_Y - 3, 5)
        parts.append(
            f'<path d="{d}" fill="#ffffff" stroke="#333333"/>'
            f'<text x="{x + 14:.0f}" y="{LEGEND_Y + 1}">{escape(label)}</text>'
        )
        x += 24 + 7 * len(label)
    parts.append("</g>")
    return "".join(parts)
