"""``peps-plus serve``: PEPS and GEODES as one STAC API on this machine (see
:mod:`eodag_peps_plus.stac_server`)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .common import EXIT_CODES, BackendChoice

__all__ = ["register", "serve"]


def register(group: click.Group) -> None:
    group.add_command(serve)


@click.command(epilog=EXIT_CODES)
@click.option(
    "-B", "--backend", "backends", type=BackendChoice(), multiple=True,
    help="Servers to expose (repeatable; default: geodes and peps). Base URLs and accounts "
    "are EODAG's: EODAG__<PROVIDER>__SEARCH__API_ENDPOINT, eodag.yml.",
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "-w", "--output-dir", "output_dir", type=click.Path(file_okay=False, path_type=Path),
    default=Path("peps-plus-downloads"), show_default=True,
    help="Where staged products go (one folder per backend); served from there.",
)  # fmt: skip
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
    help="Minutes a staging may wait for a tape restore.",
)  # fmt: skip
@click.option(
    "--wait", type=click.FloatRange(min=0), default=5.0, show_default=True,
    help="Seconds a download request waits for its product before answering 202.",
)  # fmt: skip
@click.option(
    "--max-stagings", type=click.IntRange(min=1), default=16, show_default=True,
    help="Products staged at once; a download asking for one more gets 503 and Retry-After.",
)  # fmt: skip
def serve(
    backends: tuple[str, ...], host: str, port: int, output_dir: Path, timeout: float,
    wait: float, max_stagings: int,
) -> None:  # fmt: skip
    """Serve PEPS and GEODES as one STAC API: collections, search, queryables, downloads.

    Any STAC client works (pystac-client, QGIS, STAC Browser); a browser gets a page. A
    download answers 202 and starts the staging while the product is restored from tape or
    fetched, then 200 with the file from the output folder.
    """
    from ..client import Client
    from ..stac_server import StacServer
    from ..staging import StagingOptions

    names = backends or ("geodes", "peps")
    clients = {name: Client.open(name) for name in names}
    server = StacServer(
        clients, output_dir, wait=wait, staging=StagingOptions(timeout=timeout * 60.0, quiet=True),
        max_stagings=max_stagings,
    )  # fmt: skip
    server.start(host, port)
    click.echo(f"STAC API of {', '.join(names)} on {server.url}/ (Ctrl-C stops)", err=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()
