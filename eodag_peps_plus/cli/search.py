"""``peps-plus search``: the legacy search options against PEPS or GEODES, STAC items out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..files import write_atomically
from .common import (
    PRODUCT_HEADERS,
    backend_options,
    build_query,
    open_backend,
    print_table,
    product_rows,
    query_options,
)


def register(group: click.Group) -> None:
    group.add_command(search)


@click.command()
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
        click.echo(backend.count(query))
        return
    products = list(ItemSearch(backend, [query], max_items=max_items, limit=limit).products())
    items = [product_to_item(p) for p in products]
    print_table(product_rows(items), PRODUCT_HEADERS)
    click.echo(f"{len(items)} product(s)", err=True)
    if json_path is not None:
        # Written as EODAG writes search results, so ``eodag download --search-results`` reads it.
        provider = spec_for(backend_name).provider
        footprint = query.footprint()
        features = [eodag_feature(p, provider, footprint) for p in products]
        collection = {"type": "FeatureCollection", "features": features}
        write_atomically(json_path, json.dumps(collection, indent=1))
    if html_path is not None or png_path is not None:
        from .report import write_search_pictures

        write_search_pictures(
            items,
            html_path,
            png_path,
            title=f"{backend.name.upper()} search: {_describe(params)}",
            search_area=query.footprint_geojson(),
        )


def _describe(params: dict[str, Any]) -> str:
    """The options as typed, for the report's title."""
    shown = [f"{k}={' '.join(map(str, v)) if isinstance(v, tuple) else v}"
             for k, v in params.items() if v not in (None, ())]  # fmt: skip
    return ", ".join(shown) or "everything"
