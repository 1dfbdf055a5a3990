"""The MAJA coverage calendar of one tile: what exists, what runs, what ``ensure`` would send.

What would be submitted is not recomputed here: :func:`maja_calendar` runs
:func:`~eodag_peps_plus.processing.ensure.ensure` with ``dry_run=True`` and highlights the days
of its ``missing`` list, so the page and ``peps-plus maja ensure --dry-run`` cannot disagree.
The rest (job states, NOVALD results) is read from the job store, without asking any server.
"""

from __future__ import annotations

import calendar as calendar_module
import dataclasses
from collections.abc import Iterable
from datetime import date
from html import escape
from typing import TYPE_CHECKING

from ..processing.base import FULL_MAJA, MAJA
from ..processing.ensure import EnsureReport, acquisition_day, ensure, name_day
from ..processing.store import JobRecord
from ..product import Product
from .page import html_page
from .products import STATUS_STYLE

if TYPE_CHECKING:
    from ..backends.base import Backend
    from ..processing.jobs import MajaJobs

__all__ = [
    "CALENDAR_CSS",
    "Calendar",
    "DayCell",
    "build_calendar",
    "calendar_html",
    "maja_calendar",
]


@dataclasses.dataclass
class DayCell:
    """Everything known about one date of the tile."""

    day: date
    #: (product id, cloud cover, availability label)
    l1c: list[tuple[str, float | None, str]] = dataclasses.field(default_factory=list)
    l2a: list[str] = dataclasses.field(default_factory=list)
    #: (job id, process, state)
    jobs: list[tuple[int, str, str]] = dataclasses.field(default_factory=list)
    #: NOVALD results of finished jobs (MAJA found the date too cloudy).
    novald: list[str] = dataclasses.field(default_factory=list)
    #: L1C over 90 % clouds: ensure skips them, MAJA would give NOVALD.
    too_cloudy: list[str] = dataclasses.field(default_factory=list)
    #: What ``maja ensure`` would submit for this date.
    to_submit: list[str] = dataclasses.field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.l1c or self.l2a or self.jobs or self.novald)


@dataclasses.dataclass
class Calendar:
    tile: str
    start: date
    end: date
    relative_orbit: int | None
    days: dict[date, DayCell]
    report: EnsureReport

    @property
    def highlighted(self) -> list[date]:
        """Dates ``maja ensure`` would submit MAJA for."""
        return sorted(d for d, cell in self.days.items() if cell.to_submit)


def maja_calendar(
    jobs: MajaJobs,
    geodes: Backend,
    tile: str,
    start: str | date,
    end: str | date,
    relative_orbit: int | str | None = None,
) -> Calendar:
    """Search L1C (on ``jobs.backend``) and L2A (on ``geodes``) like ``maja ensure --dry-run``,
    and place them, the store's MAJA jobs and their NOVALD results on a calendar.

    Raises:
        InvalidQueryError: bad tile, dates or orbit (checked before any search).
        BackendError: a search failed.
    """
    report = ensure(jobs, geodes, tile, start, end, relative_orbit, dry_run=True)
    return build_calendar(report, jobs.list())


def build_calendar(report: EnsureReport, records: Iterable[JobRecord]) -> Calendar:
    days: dict[date, DayCell] = {}

    def cell(product: Product | str) -> DayCell | None:
        text = acquisition_day(product) if isinstance(product, Product) else name_day(product)
        if text is None:
            return None
        day = date.fromisoformat(text)
        if not report.start <= day <= report.end:
            return None
        return days.setdefault(day, DayCell(day))

    for product in report.l1c:
        if (c := cell(product)) is not None:
            clouds = product.properties.get("eo:cloud_cover")
            c.l1c.append(
                (
                    product.id,
                    None if clouds is None else float(clouds),
                    STATUS_STYLE[product.availability][1],
                )
            )
    for product in report.existing:
        if (c := cell(product)) is not None:
            c.l2a.append(product.id)
    for product in report.too_cloudy:
        if (c := cell(product)) is not None:
            c.too_cloudy.append(product.id)
    for product in report.missing:
        if (c := cell(product)) is not None:
            c.to_submit.append(product.id)
    l1c_days = {d for d, c in days.items() if c.l1c}
    for record in records:
        for day in _job_days(record, report, l1c_days):
            days.setdefault(day, DayCell(day)).jobs.append(
                (record.id, record.process, record.state.value)
            )
        if not _on_tile(record, report.tile):
            continue
        for result in record.results:
            if result.novald and (c := cell(result.name)) is not None:
                c.novald.append(result.name)
    return Calendar(report.tile, report.start, report.end, report.relative_orbit, days, report)


def _on_tile(record: JobRecord, tile: str) -> bool:
    if record.process == FULL_MAJA:
        return str(record.inputs.get("tile", "")).upper().removeprefix("T") == tile
    return f"_T{tile}_" in str(record.inputs.get("product", ""))


def _job_days(record: JobRecord, report: EnsureReport, l1c_days: set[date]) -> list[date]:
    """Per-product jobs sit on their product's date; a FULL_MAJA series on every L1C date of
    the tile it covers (within its period and orbit)."""
    if not _on_tile(record, report.tile):
        return []
    if record.process == MAJA:
        text = name_day(str(record.inputs.get("product", "")))
        day = date.fromisoformat(text) if text else None
        return [day] if day and report.start <= day <= report.end else []
    if record.process != FULL_MAJA:
        return []
    try:
        first = date.fromisoformat(str(record.inputs["start"]))
        last = date.fromisoformat(str(record.inputs["end"]))
    except (KeyError, ValueError):
        return []
    orbit = record.inputs.get("relative_orbit")
    wanted = {
        product_day
        for product in report.l1c
        if (orbit is None or product.properties.get("sat:relative_orbit") in (None, orbit))
        and (text := acquisition_day(product))
        and first <= (product_day := date.fromisoformat(text)) <= last
    }
    return sorted(wanted & l1c_days)


# -- HTML ------------------------------------------------------------------------------------
CALENDAR_CSS = """
.months{display:flex;flex-wrap:wrap;gap:14px}
table.month{border-collapse:collapse;font-size:12px;table-layout:fixed}
table.month caption{font-weight:600;text-align:left;padding:2px 0}
table.month th{font-weight:500;color:#666;padding:2px}
td.day{width:92px;height:64px;vertical-align:top;border:1px solid #ddd;padding:2px 3px;background:#fff}
td.day.out{background:#f0f0f0;color:#bbb}
td.day .num{color:#888;font-size:11px}
td.day.would-submit{background:#ffe9a8;outline:3px solid #d98e04;outline-offset:-3px}
.b{display:block;border-radius:3px;padding:0 3px;margin:1px 0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.b.l1c{background:#e8eef6}.b.l2a{background:#c9ecd9}.b.job{background:#e4dcf5}
.b.novald{background:#eee;color:#555;text-decoration:line-through}.b.submit{background:#d98e04;color:#fff;font-weight:600}
table.days{border-collapse:collapse;width:100%;font-size:13px}
table.days th,table.days td{border-bottom:1px solid #e5e5e5;padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
table.days td:first-child{white-space:nowrap}
table.days tr.would-submit{background:#ffe9a8}
"""


def _badges(c: DayCell) -> str:
    parts = []
    for name, clouds, status in c.l1c:
        text = "L1C " + ("?" if clouds is None else f"{clouds:.0f}%")
        parts.append(
            f'<span class="b l1c" title="{escape(name)} ({escape(status)})">{escape(text)}</span>'
        )
    for name in c.l2a:
        parts.append(f'<span class="b l2a" title="{escape(name)}">L2A available</span>')
    for job_id, process, state in c.jobs:
        parts.append(
            f'<span class="b job" title="{escape(process)} job {job_id}">'
            f"job {job_id} {escape(state)}</span>"
        )
    for name in c.novald:
        parts.append(f'<span class="b novald" title="{escape(name)}">NOVALD</span>')
    for name in c.too_cloudy:
        parts.append(f'<span class="b novald" title="{escape(name)}">&gt;90% clouds</span>')
    for name in c.to_submit:
        parts.append(f'<span class="b submit" title="{escape(name)}">ensure submits</span>')
    return "".join(parts)


def _day_classes(c: DayCell | None) -> str:
    if c is None:
        return "day"
    flags = [
        ("has-l1c", c.l1c),
        ("has-l2a", c.l2a),
        ("has-job", c.jobs),
        ("novald", c.novald),
        ("would-submit", c.to_submit),
    ]
    return " ".join(["day", *(name for name, on in flags if on)])


def _months(cal: Calendar) -> str:
    out = ['<div class="months">']
    year, month = cal.start.year, cal.start.month
    while date(year, month, 1) <= cal.end:
        rows = []
        for week in calendar_module.Calendar(firstweekday=0).monthdatescalendar(year, month):
            cells = []
            for day in week:
                if day.month != month or not cal.start <= day <= cal.end:
                    cells.append('<td class="day out"></td>')
                    continue
                c = cal.days.get(day)
                submit = (
                    f' data-submit="{escape(" ".join(c.to_submit))}"' if c and c.to_submit else ""
                )
                cells.append(
                    f'<td class="{_day_classes(c)}" data-date="{day.isoformat()}"{submit}>'
                    f'<span class="num">{day.day}</span>{_badges(c) if c else ""}</td>'
                )
            rows.append("<tr>" + "".join(cells) + "</tr>")
        head = "".join(f"<th>{d}</th>" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
        out.append(
            f'<table class="month"><caption>{date(year, month, 1):%B %Y}</caption>'
            f"<tr>{head}</tr>{''.join(rows)}</table>"
        )
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    out.append("</div>")
    return "".join(out)


def _day_table(cal: Calendar) -> str:
    rows = []
    for day in sorted(cal.days):
        c = cal.days[day]
        l1c = ", ".join(
            f"{name} ({'?' if clouds is None else f'{clouds:.0f}%'}, {status})"
            for name, clouds, status in c.l1c
        )
        jobs = ", ".join(f"{process} job {job_id}: {state}" for job_id, process, state in c.jobs)
        novald = ", ".join([*c.novald, *(f"{n} (>90% clouds)" for n in c.too_cloudy)])
        klass = ' class="would-submit"' if c.to_submit else ""
        rows.append(
            f'<tr{klass} data-date="{day.isoformat()}"><td>{day.isoformat()}</td>'
            f"<td>{escape(l1c)}</td><td>{escape(', '.join(c.l2a))}</td><td>{escape(jobs)}</td>"
            f"<td>{escape(novald)}</td><td>{escape(', '.join(c.to_submit))}</td></tr>"
        )
    return (
        '<table class="days"><tr><th>date</th><th>L1C (cloud cover, availability)</th>'
        "<th>L2A available</th><th>MAJA jobs in the store</th><th>NOVALD</th>"
        "<th>ensure would submit</th></tr>" + "".join(rows) + "</table>"
    )


def calendar_html(cal: Calendar) -> str:
    """The calendar page (no script at all: it opens anywhere)."""
    report = cal.report
    orbit = f", orbit {cal.relative_orbit}" if cal.relative_orbit is not None else ""
    subtitle = f"tile {cal.tile}, {cal.start} to {cal.end}{orbit}"
    in_store = sum(1 for c in cal.days.values() if c.jobs)
    summary = [
        ("L1C acquisitions", f"{len(report.l1c)} product(s) on {len(report.l1c_dates)} date(s)"),
        ("L1C done or under way in the store", str(len(report.in_store))),
        ("dates with L2A available", str(sum(1 for c in cal.days.values() if c.l2a))),
        ("dates with MAJA jobs in the store", str(in_store)),
        ("NOVALD / over 90% clouds", f"{sum(len(c.novald) for c in cal.days.values())} / "
         f"{len(report.too_cloudy)}"),
        ("maja ensure would submit", f"{len(report.missing)} product(s) on "
         f"{len(cal.highlighted)} date(s) (highlighted)"),
    ]  # fmt: skip
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in summary)
    body = (
        f'<section id="summary"><h2>Summary</h2><dl class="summary">{rows}</dl></section>'
        '<section id="calendar"><h2>Calendar</h2><p>Highlighted: the dates '
        "<code>peps-plus maja ensure</code> would submit MAJA for (L1C with no L2A, no job of "
        f"the store done or under way for it, under 90% clouds).</p>{_months(cal)}</section>"
        f'<section id="dates"><h2>Dates</h2>{_day_table(cal)}</section>'
    )
    return html_page(f"MAJA calendar {cal.tile}", subtitle, body, css=CALENDAR_CSS)
