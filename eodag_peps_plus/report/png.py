"""Static PNG pictures of the timeline and the calendar, for reports and terminals.

matplotlib (the ``png`` extra) is imported here only: it is some 30 MB with its fonts and
compiled parts, which the HTML pages do not need. The Agg backend is forced, so no display is
ever needed.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from ..extras import install_hint
from ..product import Availability
from .calendar import Calendar
from .products import STATUS_STYLE, ReportError, ReportProduct
from .timeline import SHAPES, layout, orbit_label

__all__ = ["LANES", "calendar_png", "timeline_png"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ReportError(f"PNG export needs matplotlib: {install_hint('png')}") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def timeline_png(products: list[ReportProduct]) -> bytes:
    """Date x cloud cover, colour = availability, marker = relative orbit (as the page)."""
    plt = _pyplot()
    from matplotlib.lines import Line2D

    lay = layout(products)
    fig, ax = plt.subplots(figsize=(10, 4))
    groups: dict[tuple[Availability, int | None], list[ReportProduct]] = {}
    for product in products:
        groups.setdefault((product.status, product.relative_orbit), []).append(product)
    for (status, orbit), members in groups.items():
        ax.scatter(
            [p.day for p in members],
            [-8 if p.cloud_cover is None else p.cloud_cover for p in members],
            c=STATUS_STYLE[status][0],
            marker=SHAPES[lay.shapes[orbit] % len(SHAPES)][1],
            edgecolors="#222222",
            linewidths=0.6,
            s=42,
            zorder=3,
        )
    ax.set_xlim(lay.first, lay.last)
    ax.set_ylim(-14 if any(p.cloud_cover is None for p in products) else -3, 103)
    ax.set_ylabel("cloud cover (%)")
    ax.grid(axis="y", color="#e3e3e3")
    ax.set_title(f"{len(products)} product(s): colour = availability, marker = relative orbit")
    handles = [
        Line2D([], [], marker="s", linestyle="", color=colour, label=label)
        for colour, label in STATUS_STYLE.values()
    ]
    handles += [
        Line2D([], [], marker=SHAPES[index][1], linestyle="", color="#ffffff",
               markeredgecolor="#333333", label=orbit_label(orbit))
        for orbit, index in lay.shapes.items()
        if index < len(SHAPES)
    ]  # fmt: skip
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    fig.autofmt_xdate()
    return _png(fig)


#: Calendar lanes, top to bottom.
LANES = ("L1C (cloud %)", "L2A available", "MAJA jobs", "NOVALD / >90%")


def calendar_png(cal: Calendar) -> bytes:
    """One lane per kind of fact, one column per date; ensure's dates shaded."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(11, 3.2))
    lane = {name: len(LANES) - 1 - i for i, name in enumerate(LANES)}
    for day in cal.highlighted:
        ax.axvspan(_num(day) - 0.5, _num(day) + 0.5, color="#ffd166", zorder=1)
    for day, c in cal.days.items():
        x = _num(day)
        for _name, clouds, _status in c.l1c:
            ax.scatter(x, lane[LANES[0]], s=60, marker="o", zorder=3, edgecolors="#222222",
                       c=[[1 - (clouds or 0) / 130] * 3])  # fmt: skip
            ax.annotate("?" if clouds is None else f"{clouds:.0f}", (x, lane[LANES[0]] + 0.28),
                        ha="center", fontsize=6)  # fmt: skip
        if c.l2a:
            ax.scatter(x, lane[LANES[1]], s=60, marker="s", c=STATUS_STYLE[Availability.ONLINE][0],
                       zorder=3)  # fmt: skip
        for _job_id, _process, state in c.jobs:
            ax.scatter(x, lane[LANES[2]], s=60, marker="D", c=_state_colour(state), zorder=3)
        if c.novald or c.too_cloudy:
            ax.scatter(x, lane[LANES[3]], s=60, marker="x", c="#555555", zorder=3)
    ax.set_yticks(list(lane.values()), list(lane.keys()))
    ax.set_ylim(-0.7, len(LANES) - 0.3)
    ax.set_xlim(_num(cal.start) - 1, _num(cal.end) + 1)
    ticks = [d for d in _month_starts(cal.start, cal.end)]
    ax.set_xticks([_num(d) for d in ticks], [d.strftime("%b %Y") for d in ticks])
    orbit = f", orbit {cal.relative_orbit}" if cal.relative_orbit is not None else ""
    ax.set_title(
        f"MAJA calendar {cal.tile}{orbit}: shaded = what maja ensure would submit "
        f"({len(cal.highlighted)} date(s))"
    )
    ax.grid(axis="x", color="#eeeeee")
    return _png(fig)


def _num(day: date) -> int:
    return day.toordinal()


def _month_starts(first: date, last: date) -> list[date]:
    out = [first]
    year, month = first.year, first.month
    while True:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        day = date(year, month, 1)
        if day > last:
            return out
        out.append(day)


def _state_colour(state: str) -> str:
    return {"finished": "#009e73", "failed": "#d55e00", "canceled": "#d55e00"}.get(state, "#cc79a7")
