"""``peps-plus sandbox serve`` and ``peps-plus demo``: the emulator for people and scripts."""

from __future__ import annotations

import os
import shlex
import sys
import tempfile
import time

import click

from ..sandbox.scenarios import staging_catalogue
from ..sandbox.server import (
    BAD_KEY_REPLIES,
    DEFAULT_API_KEY,
    DEFAULT_USER,
    GEODES_ARCHIVES,
    OFFLINE_REPLIES,
    Sandbox,
    SandboxConfig,
)
from .common import PRODUCT_HEADERS, print_table, product_rows

__all__ = ["demo", "register", "sandbox", "serve", "shown", "startup_lines"]


def register(group: click.Group) -> None:
    group.add_command(sandbox)
    group.add_command(demo)


@click.group()
def sandbox() -> None:
    """The local PEPS/GEODES emulator."""


@sandbox.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback by default; the sandbox is not meant for a network.",
)
@click.option("--port", default=8642, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Multiply every nominal duration (tape restores, processing) by this.",
)
@click.option(
    "--restore-latency",
    nargs=2,
    type=float,
    default=(120.0, 360.0),
    show_default=True,
    help="Nominal restore latency range in seconds.",
)
@click.option(
    "--offline-reply",
    type=click.Choice(OFFLINE_REPLIES),
    default="202-json",
    show_default=True,
    help="How PEPS answers downloads of offline products (undocumented; all start a restore).",
)
@click.option(
    "--geodes-archive",
    type=click.Choice(GEODES_ARCHIVES),
    default="evidence",
    show_default=True,
    help="How GEODES answers downloads of products on tape: 'evidence' is what users "
    "reported (410 Gone, never restored); 'restore-on-download' is an assumption (a download "
    "starts a restore, as on PEPS).",
)
@click.option(
    "--geodes-bad-key",
    type=click.Choice(BAD_KEY_REPLIES),
    default="redirect",
    show_default=True,
    help="How GEODES answers a wrong API key (reported: a redirect loop).",
)
@click.option(
    "--geodes-quota-exhausted",
    is_flag=True,
    help="Fault: every GEODES download answers 429 (download quota spent).",
)
@click.option(
    "--geodes-retry-after",
    default="60",
    show_default=True,
    metavar="SECONDS|none",
    help="Retry-After of those 429 replies; 'none' sends none.",
)
@click.option(
    "--max-restores", type=int, default=None, help="Concurrent tape restores (default: unlimited)."
)
@click.option("--bandwidth", type=float, default=None, help="Per-connection cap in MB/s.")
@click.option("--total-bandwidth", type=float, default=None, help="Total cap in MB/s.")
@click.option(
    "--stuck-unknown",
    is_flag=True,
    help="Fault: products whose storage is 'unknown' never come online (by default they are "
    "restored like taped ones).",
)
@click.option(
    "--never-finish",
    "never_finish",
    multiple=True,
    metavar="NAME",
    help="Fault: the restore of this product, once asked, never finishes (repeatable).",
)
@click.option(
    "--staging",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Serve a staging scenario instead of the default catalogue: N Sentinel-2 products, "
    "half on tape (scale benchmarks: up to 100,000; ~10 s to build).",
)
@click.option(
    "--staging-size",
    nargs=2,
    type=int,
    default=(2_000, 4_000),
    show_default=True,
    help="Archive size range in bytes of --staging products.",
)
@click.option(
    "--synthetic",
    type=click.IntRange(min=0),
    default=0,
    metavar="N",
    help="Sentinel-1 searches see N synthetic GRD products made page by page, every other "
    "filter ignored (search only: for million-product searches).",
)
def serve(
    host: str, port: int, time_scale: float, restore_latency: tuple[float, float], offline_reply: str,
    max_restores: int | None, bandwidth: float | None, total_bandwidth: float | None,
    stuck_unknown: bool, never_finish: tuple[str, ...], staging: int | None,
    staging_size: tuple[int, int], synthetic: int, geodes_archive: str, geodes_bad_key: str,
    geodes_quota_exhausted: bool, geodes_retry_after: str,
) -> None:  # fmt: skip
    """Serve PEPS resto (and GEODES, processing) on HOST:PORT until interrupted."""
    if geodes_retry_after.lower() != "none" and not geodes_retry_after.isdigit():
        raise click.BadParameter(
            f"{geodes_retry_after!r}: whole seconds or 'none'", param_hint="--geodes-retry-after"
        )
    config = SandboxConfig(
        unknown_restores=not stuck_unknown,
        never_finish=frozenset(never_finish),
        time_scale=time_scale,
        restore_latency=restore_latency,
        offline_reply=offline_reply,
        max_concurrent_restores=max_restores,
        per_connection_bps=bandwidth * 1e6 if bandwidth else None,
        total_bps=total_bandwidth * 1e6 if total_bandwidth else None,
        synthetic_products=synthetic,
        geodes_archive=geodes_archive,
        geodes_bad_key_reply=geodes_bad_key,
        geodes_quota_exhausted=geodes_quota_exhausted,
        geodes_retry_after=None if geodes_retry_after.lower() == "none" else geodes_retry_after,
    )
    catalogue = None
    if staging is not None:
        try:
            catalogue = staging_catalogue(staging, size_range=staging_size)
        except ValueError as exc:
            raise click.ClickException(f"--staging: {exc}") from None
    try:
        server = Sandbox(catalogue, config=config, host=host, port=port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    unknown = [name for name in never_finish if name not in server.catalogue.by_name]
    if unknown:
        raise click.ClickException(f"--never-finish: no product named {', '.join(unknown)}")
    with server:
        for line in startup_lines(server):
            click.echo(line)
        click.echo("Press Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("Stopping.")


def startup_lines(server: Sandbox) -> list[str]:
    """What ``sandbox serve`` prints: where it listens and the variables pointing EODAG and
    ``peps-plus`` at it, every one of them, so the block pastes as is. The key is the
    sandbox's own public one; the password, public too, is still not printed (no password is,
    by rule): its line reads it from the package when pasted."""
    url = server.url
    faults = []
    if not server.config.unknown_restores:
        faults.append("'unknown' products never come online")
    if server.config.never_finish:
        faults.append(f"{len(server.config.never_finish)} restore(s) never finish")
    if server.config.geodes_quota_exhausted:
        faults.append("GEODES download quota spent (429)")
    archive = server.config.geodes_archive
    tape = (
        "410 Gone for products on tape, never restored (as reported)"
        if archive == "evidence"
        else "a download starts a restore (assumption)"
    )
    return [
        f"Sandbox serving {len(server.catalogue)} products at {url}",
        f"  PEPS search:    {url}/resto/api/collections/S2ST/search.json?tileid=31TCJ",
        f"  GEODES search:  {url}/api/stac/search",
        f"  PEPS account:   {DEFAULT_USER} (the sandbox's public account)",
        f"  GEODES API key: {DEFAULT_API_KEY} (the sandbox's public key)",
        f"  GEODES archive: {archive}: {tape}",
        "  Point EODAG and peps-plus at it (paste these lines):",
        f"    export EODAG__PEPS__SEARCH__API_ENDPOINT={url}",
        f"    export EODAG__PEPS__AUTH__CREDENTIALS__USERNAME={DEFAULT_USER}",
        f'    export EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD="$({shlex.quote(sys.executable)} -c '
        "'from eodag_peps_plus.sandbox import DEFAULT_PASSWORD as p; print(p)')\"",
        f"    export EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT={url}",
        f"    export EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY={DEFAULT_API_KEY}",
        f"  Faults: {'; '.join(faults) if faults else 'none'}",
    ]


@click.command()
@click.option("--tile", default="31TCJ", show_default=True)
@click.option("--start", default="2020-06-01", show_default=True)
@click.option("--end", default="2020-08-31", show_default=True)
@click.option("--max-items", default=12, show_default=True, type=click.IntRange(1, 10000))
def demo(tile: str, start: str, end: str, max_items: int) -> None:
    """Start the sandbox in-process, search it through EODAG and the pystac-style client,
    and print the STAC items found."""
    os.environ.setdefault("EODAG_CFG_DIR", tempfile.mkdtemp(prefix="peps-plus-eodag-"))
    with Sandbox(config=SandboxConfig(time_scale=0.01)) as server:
        click.echo(
            f"Sandbox running at {server.url} ({len(server.catalogue)} synthetic products)\n"
        )

        from .. import Client
        from ..eodag_plugins.convert import from_eoproduct
        from ..eodag_support import gateway
        from ..stac import product_to_item

        items = Client.open(server.url, backend="peps").search(
            collections="S2_MSI_L1C", datetime=f"{start}/{end}", tile=tile, max_items=max_items
        )
        rows = product_rows(items.items())
        click.echo(
            f"pystac-style client: {items.matched()} S2 L1C products on tile {tile}, {start} to "
            f"{end}; {shown(len(rows), items.matched())}:"
        )
        print_table(rows, PRODUCT_HEADERS)

        dag = gateway(peps=server.url)
        toulouse = {"lonmin": 0.5, "latmin": 43.0, "lonmax": 2.0, "latmax": 44.0}
        results = dag.search(
            provider="peps",
            collection="S1_SAR_GRD",
            start=start,
            end=end,
            geom=toulouse,
            count=True,
            limit=max_items,
        )
        rows = product_rows(product_to_item(from_eoproduct(p, "peps")) for p in results)
        click.echo(
            f"\nEODAG search -p peps: {results.number_matched} S1 GRD products near Toulouse; "
            f"{shown(len(rows), results.number_matched)}:"
        )
        print_table(rows, PRODUCT_HEADERS)


def shown(rows: int, matched: int | None) -> str:
    """Say how much of the result a table shows: "the first 12 of 71"."""
    if matched is None:
        return f"the first {rows}"
    return f"all {rows}" if rows >= matched else f"the first {rows} of {matched}"
