"""Options and helpers shared by the CLI commands: query options, credentials, tables."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ..backends import Backend, backend_names, default_backend, specs
from ..backends import open_backend as configured_backend
from ..exceptions import InvalidQueryError
from ..product import human_size
from ..query import Query

__all__ = [
    "BackendChoice",
    "PRODUCT_HEADERS",
    "QUERY_OPTION_NAMES",
    "TABLE_SAMPLE",
    "backend_options",
    "build_query",
    "open_backend",
    "print_table",
    "product_row",
    "product_rows",
    "query_options",
]

F = TypeVar("F", bound=Callable[..., Any])


class BackendChoice(click.Choice):
    """``-B`` choices read from the backend records when parsing, so a backend registered
    after the CLI was imported (a plugin, a test) is accepted too."""

    def __init__(self) -> None:
        super().__init__(backend_names())

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        self.choices = tuple(backend_names())
        return super().convert(value, param, ctx)


def backend_option(*decls: str, envvar: str | None = None) -> Callable[[F], F]:
    """``-B/--backend``, defaulting to the one default backend record (GEODES): every command
    and drop-in reads it from :func:`~eodag_peps_plus.backends.default_backend`."""
    default = default_backend()
    retired = [s.label for s in specs().values() if s.retired]
    help_text = "Which server to talk to"
    if envvar:
        help_text += f" (also ${envvar})"
    help_text += "." + (f" {' and '.join(retired)}: retired." if retired else "")
    return click.option(
        *(decls or ("-B", "--backend")),
        "backend_name",
        type=BackendChoice(),
        default=default.name,
        envvar=envvar,
        show_default=True,
        help=help_text,
    )


def backend_options(func: F) -> F:
    """``--backend`` and ``--url`` (a sandbox or a mirror); base URL also from EODAG env."""
    func = click.option(
        "--url",
        help="Server base URL (default: the backend's public server, or EODAG__<PROVIDER>__SEARCH__API_ENDPOINT).",
    )(func)
    return backend_option()(func)


def query_options(func: F) -> F:
    """The legacy ``peps_download.py`` search options, same letters, same meaning, plus
    EODAG's ``-s/--start`` and ``-e/--end``. Values are checked by the vocabulary, not by
    click types, so every entry point refuses the same input with the same line."""
    options = [
        click.option("-c", "--collection", help="S1, S2, S2ST, S3 (or an EODAG/GEODES collection name)."),
        click.option("-p", "--product-type", "--product_type", "product_type", help="GRD, SLC, OCN, S2MSI1C..."),
        click.option("-m", "--sensor-mode", "--sensor_mode", "sensor_mode", help="IW, EW, SM, WV..."),
        click.option("-l", "--location", help="Town name (resolved by the server)."),
        click.option("-t", "--tile", help="Sentinel-2 MGRS tile: 31TCJ, T31TCJ or MGRS-31TCJ."),
        click.option("--lat", help="Point latitude."),
        click.option("--lon", help="Point longitude."),
        click.option("--latmin"), click.option("--latmax"),
        click.option("--lonmin"), click.option("--lonmax"),
        click.option("-b", "--box", nargs=4, default=None, metavar="LONMIN LATMIN LONMAX LATMAX"),
        click.option("-d", "-s", "--start-date", "--start_date", "--start", "start", help="YYYY-MM-DD (-d as in peps_download, -s as in eodag)."),
        click.option("-f", "-e", "--end-date", "--end_date", "--end", "end", help="YYYY-MM-DD, inclusive (-f as in peps_download, -e as in eodag)."),
        click.option("-o", "--orbit", help="Relative orbit number."),
        click.option("--cc", "--clouds", "clouds", help="Maximum cloud cover (%)."),
        click.option("--sat", "--satellite", "platform", help="S1A, S2B... or sentinel-2a..."),
        click.option("-g", "--geom", "geometry", metavar="WKT", help="Area as WKT, as in eodag (POLYGON ((...)), POINT (lon lat))."),
        click.option("-q", "--query", "extra", multiple=True, metavar="KEY=VALUE", help="Any search field in any spelling, as in eodag: -q tileid=31TCJ -q 'eo:cloud_cover=20&platform=S2A' (repeatable)."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


#: The parameter names :func:`query_options` adds (a command tells "a query was given" by them).
QUERY_OPTION_NAMES = tuple(
    p.name for p in query_options(click.command()(lambda **_: None)).params if p.name
)


def build_query(params: dict[str, Any]) -> Query:
    """Unified query from the CLI options; refuses mixed spatial options like the legacy tool.

    Only the option shapes peculiar to the command line (four corner options, a lat/lon pair)
    are assembled here; every name and value goes through the vocabulary via ``Query.create``.
    """
    fields = {k: v for k, v in params.items() if k not in _SHAPED and v not in (None, ())}
    for key, value in _pairs(fields.pop("extra", ())):
        if key in fields and fields[key] != value:
            raise InvalidQueryError(
                f"-q {key}: {key} is given twice ({fields[key]!r} and {value!r})"
            )
        fields[key] = value
    corners = [params.get(k) for k in ("lonmin", "latmin", "lonmax", "latmax")]
    if any(c is not None for c in corners):
        if any(c is None for c in corners):
            raise InvalidQueryError("box: give all four of --lonmin --latmin --lonmax --latmax")
        if fields.get("box"):
            raise InvalidQueryError("box: give either --box or --lonmin/--latmin/--lonmax/--latmax")
        fields["box"] = corners
    if (params.get("lat") is None) != (params.get("lon") is None):
        raise InvalidQueryError("point: give both --lat and --lon")
    if params.get("lat") is not None:
        fields["point"] = (params["lon"], params["lat"])
    return Query.create(**fields)


def _pairs(texts: Iterable[str]) -> list[tuple[str, str]]:
    """EODAG's ``-q`` values: ``key=value``, several joined by ``&``."""
    pairs = []
    for text in texts:
        for part in filter(None, (p.strip() for p in text.split("&"))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise InvalidQueryError(f"-q: {part!r} is not KEY=VALUE (e.g. -q tileid=31TCJ)")
            pairs.append((key.strip(), value.strip()))
    return pairs


#: How ``peps-plus`` commands end, for their ``--help``.
EXIT_CODES = (
    "Exit status: 0 done; 1 an error (bad input, a server's refusal: one line on stderr); "
    "2 a usage error (unknown option), or for download: some products are not on disk yet "
    "(run it again to continue); 130 interrupted."
)


#: CLI options that are parts of one query field, assembled by :func:`build_query`.
_SHAPED = frozenset({"lat", "lon", "latmin", "latmax", "lonmin", "lonmax"})


def open_backend(
    backend_name: str | None, url: str | None, auth_file: Path | None = None
) -> Backend:
    """The backend as the user configured it (endpoint, credentials by the one precedence,
    trusted origins); ``--url`` overrides the endpoint, ``-a`` is the legacy file."""
    return configured_backend(backend_name, url, auth_file=auth_file)


#: Rows that size a table's columns; later rows are printed as they come (a longer value
#: widens its own line only), so a million-row table is never held in memory.
TABLE_SAMPLE = 1000
#: Lines written to the terminal at once (one write per line is a system call per product).
_ECHO_BATCH = 500


def print_table(
    rows: Iterable[Sequence[Any]], headers: Sequence[str], *, sample: int | None = None
) -> int:
    """Print ``rows`` under ``headers``, columns sized on the first ``sample`` rows
    (default :data:`TABLE_SAMPLE`).

    Returns:
        The number of rows printed.
    """
    stream = iter(rows)
    head = [_cells(row) for row in itertools.islice(stream, sample or TABLE_SAMPLE)]
    widths = [max([len(h), *(len(r[i]) for r in head)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(v.ljust(w) for v, w in zip(cells, widths, strict=True))

    click.echo(line(headers))
    click.echo("  ".join("-" * w for w in widths))
    count, batch = 0, []
    for cells in itertools.chain(head, map(_cells, stream)):
        batch.append(line(cells))
        count += 1
        if len(batch) >= _ECHO_BATCH:
            click.echo("\n".join(batch))
            batch.clear()
    if batch:
        click.echo("\n".join(batch))
    return count


def _cells(row: Sequence[Any]) -> list[str]:
    return ["" if v is None else str(v) for v in row]


def product_row(item: Any) -> list[Any]:
    """A table row for a STAC item (pystac) showing what PEPS users look at first."""
    p = item.properties
    size = p.get("file:size")
    return [
        item.id, (p.get("start_datetime") or "")[:19], p.get("platform"),
        p.get("grid:code") or f"R{p.get('sat:relative_orbit')}",
        "" if p.get("eo:cloud_cover") is None else f"{p['eo:cloud_cover']:.1f}",
        "" if size is None else human_size(size), p.get("order:status"),
    ]  # fmt: skip


def product_rows(items: Iterable[Any]) -> list[list[Any]]:
    """Rows for STAC items (see :func:`product_row`)."""
    return [product_row(item) for item in items]


PRODUCT_HEADERS = ("id", "start", "platform", "tile/orbit", "clouds", "size", "order:status")
