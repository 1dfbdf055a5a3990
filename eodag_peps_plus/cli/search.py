"""``peps-plus search``: the legacy search options against PEPS or GEODES, STAC items out."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import click

from ..files import open_atomically
from .common import (
    EXIT_CODES,
    PRODUCT_HEADERS,
    backend_options,
    build_query,
    open_backend,
    print_table,
    product_row,
    query_options,
)

__all__ = ["REPORT_LIMIT", "register", "search"]

#: Products an ``--html``/``--png`` report draws: a report holds what it draws (a map of a
#: million footprints is neither readable nor small), so beyond this it shows the first ones
#: and says so; the table and the ``--json`` file always have every product.
REPORT_LIMIT = 20_000


def register(group: click.Group) -> None:
    group.add_command(search)


@click.command(epilog=EXIT_CODES)
@backend_options
@query_options
@click.option(
    "--max-items",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many products (default: all).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Page size asked of the server."
)
@click.option("--count", is_flag=True, help="Only print how many products match.")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the results as a STAC ItemCollection (GeoJSON).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a report page: map, acquisition timeline, tape summary (see `report`).",
)
@click.option(
    "--png",
    "png_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the acquisition timeline as a PNG (needs the png extra).",
)
def search(backend_name: str, url: str | None, max_items: int | None, limit: int | None, count: bool, json_path: Path | None, html_path: Path | None, png_path: Path | None, **params: Any) -> None:  # fmt: skip
    """Search the catalogue and print one line per product."""
    from ..backends import spec_for
    from ..eodag_support import eodag_feature
    from ..item_search import ItemSearch
    from ..stac import product_to_item

    query = build_query(params)
    backend = open_backend(backend_name, url)
    if count:
        matched = backend.count(query)
        click.echo("unknown (the server gives no count)" if matched is None else matched)
        return
    products = ItemSearch(backend, [query], max_items=max_items, limit=limit).products()
    provider = spec_for(backend_name).provider
    footprint = query.footprint()
    pictured: list[Any] | None = [] if html_path or png_path else None
    seen = 0

    def rows(out: IO[bytes] | None) -> Iterator[list[Any]]:
        """Table rows as products arrive, each product also written to ``out`` (a results
        file) and kept for the report: nothing else is held, whatever the number."""
        nonlocal seen
        for product in products:
            item = product_to_item(product)
            if out is not None:
                # Written as EODAG writes search results: ``eodag download --search-results``
                # reads it back.
                feature = eodag_feature(product, provider, footprint, item=item)
                out.write(b",\n" if seen else b"\n")
                out.write(json.dumps(feature, separators=(",", ":")).encode())
            if pictured is not None and len(pictured) < REPORT_LIMIT:
                pictured.append(item)
            seen += 1
            yield product_row(item)

    with contextlib.ExitStack() as stack:
        out = None
        if json_path is not None:
            out = stack.enter_context(open_atomically(json_path))
            out.write(b'{"type":"FeatureCollection","features":[')
        print_table(rows(out), PRODUCT_HEADERS)
        if out is not None:
            out.write(b"\n]}\n")
    click.echo(f"{seen} product(s)", err=True)
    if pictured is not None:
        from .report import write_search_pictures

        title = f"{backend.name.upper()} search: {_describe(params)}"
        if seen > len(pictured):
            click.echo(
                f"the report shows the first {len(pictured)} of {seen} products (a report holds "
                "every product it draws; narrow the search or set --max-items)",
                err=True,
            )
            title += f" (first {len(pictured)} of {seen} products)"
        write_search_pictures(
            pictured, html_path, png_path, title=title, search_area=query.footprint_geojson()
        )


def _describe(params: dict[str, Any]) -> str:
    """The options as typed, for the report's title."""
    shown = [f"{k}={' '.join(map(str, v)) if isinstance(v, tuple) else v}"
             for k, v in params.items() if v not in (None, ())]  # fmt: skip
    return ", ".join(shown) or "everything"
