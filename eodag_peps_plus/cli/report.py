"""``peps-plus report`` and ``peps-plus maja calendar``: pictures of searches and MAJA coverage.

The pages themselves are built in :mod:`eodag_peps_plus.report`; this module only parses
options. ``peps-plus search --html/--png`` calls :func:`write_search_pictures` too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..exceptions import InvalidQueryError
from .maja import ensure_backends, ensure_options

__all__ = ["OUTPUT", "calendar", "register", "report", "write_search_pictures"]

OUTPUT = click.Path(dir_okay=False, path_type=Path)


def register(group: click.Group) -> None:
    group.add_command(report)
    maja = group.commands.get("maja")
    if isinstance(maja, click.Group):
        maja.add_command(calendar)


def write_search_pictures(
    results: Any,
    html: Path | None,
    png: Path | None,
    *,
    title: str = "Search report",
    search_area: Any = None,
    tiles: str | None = None,
) -> None:
    """The HTML report and/or the PNG timeline of search results, each announced on stderr."""
    from ..report import write_search_report, write_timeline_png

    if html is not None:
        write_search_report(results, html, title=title, search_area=search_area, tiles=tiles)
        click.echo(f"report written to {html}", err=True)
    if png is not None:
        write_timeline_png(results, png)
        click.echo(f"timeline written to {png}", err=True)


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "html", type=OUTPUT, help="HTML report to write.")
@click.option("--png", type=OUTPUT, help="Timeline as a PNG image (needs the png extra).")
@click.option("--title", default="Search report", show_default=True, help="Page title.")
@click.option("-b", "--box", nargs=4, type=float, default=None, metavar="LONMIN LATMIN LONMAX LATMAX", help="Search area drawn on the map.")  # fmt: skip
@click.option(
    "--area",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Search area drawn on the map: a GeoJSON geometry or feature file.",
)
@click.option("--tiles", help="Base-map tile URL template ({z}/{x}/{y}); '' for none.")
def report(
    results: Path,
    html: Path | None,
    png: Path | None,
    title: str,
    box: tuple[float, float, float, float] | None,
    area: Path | None,
    tiles: str | None,
) -> None:
    """Picture search results (a GeoJSON file from `search --json` or `eodag search`): map of
    footprints by availability, acquisition timeline, size and tape summary, in one HTML file
    that opens offline."""
    from ..exceptions import InvalidQueryError
    from ..report import ReportError

    if html is None and png is None:
        raise InvalidQueryError("give -o/--output FILE.html and/or --png FILE.png")
    if box and area:
        raise InvalidQueryError("give either --box or --area, not both")
    search_area: Any = list(box) if box else None
    if area is not None:
        try:
            search_area = json.loads(area.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ReportError(f"{area}: not a GeoJSON file") from None
    write_search_pictures(results, html, png, title=title, search_area=search_area, tiles=tiles)


@click.command()
@ensure_options
@click.option("--orbit", help="Relative orbit (1-143).")
@click.option(
    "-o",
    "short_o",
    metavar="ORBIT",
    help="Relative orbit, as -o in maja submit/ensure; a file name is still read as --output.",
)
@click.option("--output", "html", type=OUTPUT, help="HTML calendar to write.")
@click.option("--png", type=OUTPUT, help="Calendar as a PNG image (needs the png extra).")
def calendar(
    backend_name: str,
    url: str | None,
    store_path: Path | None,
    tile: str,
    start: str,
    end: str,
    orbit: str | None,
    short_o: str | None,
    geodes_url: str | None,
    html: Path | None,
    png: Path | None,
) -> None:
    """Per date of a tile: L1C acquisitions (cloud cover), L2A already on GEODES, MAJA jobs in
    the store and their state, NOVALD dates; what `maja ensure` would submit, highlighted."""
    from ..report import maja_calendar, write_calendar, write_calendar_png

    orbit, html = calendar_o(short_o, orbit, html)
    if html is None and png is None:
        raise InvalidQueryError("give --output FILE.html and/or --png FILE.png")
    jobs, geodes = ensure_backends(store_path, backend_name, url, geodes_url)
    cal = maja_calendar(jobs, geodes, tile, start, end, orbit)
    if html is not None:
        write_calendar(cal, html)
        click.echo(f"calendar written to {html}", err=True)
    if png is not None:
        write_calendar_png(cal, png)
        click.echo(f"calendar written to {png}", err=True)
    click.echo(
        f"tile {cal.tile}: {len(cal.report.l1c)} L1C on {len(cal.report.l1c_dates)} date(s), "
        f"{len(cal.report.existing)} L2A available, {len(cal.report.in_store)} in the job store, "
        f"ensure would submit {len(cal.report.missing)} on {len(cal.highlighted)} date(s)"
        + (": " + " ".join(d.isoformat() for d in cal.highlighted) if cal.highlighted else "")
    )


def calendar_o(
    value: str | None, orbit: str | None, html: Path | None
) -> tuple[str | None, Path | None]:
    """``-o`` is the relative orbit in every ``maja`` command (``submit``, ``ensure``, and the
    legacy scripts): ``maja calendar -o 51`` once wrote a file named ``51``. A value that is
    not a number keeps its older meaning, the output file (``-o calendar.html``)."""
    if value is None:
        return orbit, html
    if value.strip().isdigit():
        if orbit is not None and orbit.strip() != value.strip():
            raise InvalidQueryError(f"-o {value} and --orbit {orbit}: two different orbits")
        return value, html
    if html is not None:
        raise InvalidQueryError(
            f"-o {value}: not an orbit number, and --output {html} is given; -o is the orbit"
        )
    click.echo(f"-o {value}: taken as the output file (-o is the orbit; write --output)", err=True)
    return orbit, Path(value)
