"""``peps-plus download``: search (or read saved results), then the tape-aware batch download
with a per-product report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..backends import spec_for, spec_for_provider
from ..exceptions import InvalidQueryError
from ..product import Product
from ..staging.options import StagingOptions, from_click
from ..staging.options import click_options as staging_options
from .common import (
    EXIT_CODES,
    QUERY_OPTION_NAMES,
    backend_options,
    build_query,
    open_backend,
    query_options,
)

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = ["download", "read_results", "register"]


def register(group: click.Group) -> None:
    group.add_command(download)


def read_results(path: Path, backend: str) -> list[Product]:
    """Products from a GeoJSON written by ``eodag search`` or ``peps-plus search --json``."""
    from ..eodag_plugins.convert import products_from_geojson

    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidQueryError(f"{path}: not a readable GeoJSON file ({exc})") from None
    return products_from_geojson(data, backend, str(path))


def _results_backend_name(path: Path, backend_name: str) -> str:
    """A results file's products go back to their own provider (and its account): ``-B``
    only names it, and a ``-B`` naming another is refused."""
    found = results_backend(path)
    if found is None or found == backend_name:
        return backend_name
    ctx = click.get_current_context()
    if ctx.get_parameter_source("backend_name") in (
        click.core.ParameterSource.DEFAULT,
        click.core.ParameterSource.DEFAULT_MAP,
    ):
        return found
    raise InvalidQueryError(
        f"{path} holds {spec_for(found).label} products (eodag:provider "
        f"{spec_for(found).provider}), not {spec_for(backend_name).label} ones: drop "
        f"-B {backend_name}, or search {spec_for(backend_name).label} again"
    )


def results_backend(path: Path) -> str | None:
    """The backend whose products a results file holds, from its features'
    ``eodag:provider`` (``geodes_plus`` -> ``geodes``); ``None`` when they name none.

    Raises:
        InvalidQueryError: the file mixes providers, or names one no backend serves.
    """
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return None  # read_results says what is wrong with the file
    features = data.get("features") if isinstance(data, dict) else None
    providers = {
        str(f["properties"]["eodag:provider"])
        for f in features or []
        if isinstance(f, dict)
        and isinstance(f.get("properties"), dict)
        and f["properties"].get("eodag:provider")
    }
    if len(providers) > 1:
        raise InvalidQueryError(
            f"{path}: products of several providers ({', '.join(sorted(providers))}); "
            "download each provider's products with its own file"
        )
    if not providers:
        return None
    (provider,) = providers
    spec = spec_for_provider(provider)
    if spec is None:
        raise InvalidQueryError(
            f"{path}: products of provider {provider[:60]!r}, which peps-plus does not serve; "
            "use eodag download --search-results"
        )
    return spec.name


@click.command(epilog=EXIT_CODES)
@backend_options
@query_options
@click.option(
    "--search-results",
    "results_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Download the products of a GeoJSON from `eodag search` or `peps-plus search --json`.",
)
@click.option(
    "-w", "--write-dir", "--write_dir", "--output-dir", "output_dir", default=".",
    show_default=True,
    help="Where <name>.zip (and <name>.SAFE) go, the ledger too: a folder, or an fsspec URL "
    "such as s3://bucket/prefix (credentials and endpoint from the AWS_* variables).",
)  # fmt: skip
@click.option(
    "--max-items", type=click.IntRange(min=1), default=None, help="Stop after this many products."
)
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=60.0, show_default=True,
    help="Minutes to wait for tape restores; what is still offline is reported (run again later).",
)  # fmt: skip
@click.option(
    "--dask-scheduler", metavar="ADDRESS",
    help="Run the transfers on this dask.distributed cluster (tcp://host:8786); the output "
    "must be reachable by its workers (a shared folder or a URL).",
)  # fmt: skip
@click.option(
    "--dask-workers", type=click.IntRange(1, 256), metavar="N",
    help="Run the transfers on N local dask worker processes.",
)  # fmt: skip
@click.option(
    "--fallback", metavar="SOURCE[,SOURCE]", default=None,
    help="Fetch each product the first backend refuses (or cannot serve before the timeout) "
    "from these backends (peps, geodes...; NAME=URL for another server; eodag:PROVIDER for "
    "a provider EODAG serves with its own plugins), the copy online "
    "soonest first; the report names each product's source.",
)  # fmt: skip
@staging_options()
@click.option(
    "--include", "include", multiple=True, metavar="REGEX",
    help="Fetch only the archive members whose path matches (repeatable), by range requests, "
    "each CRC-checked, under <output>/<name>.SAFE/...; e.g. --include 'B0[48]' --include MTD.",
)  # fmt: skip
@click.option(
    "--bands", metavar="B04,B08",
    help="Only these Sentinel-2 band files (B01-B12, B8A, TCI; L2A: AOT, WVP, SCL).",
)  # fmt: skip
@click.option(
    "--polarisation", "--polarization", "polarisation", metavar="VV[,VH]",
    help="Only these Sentinel-1 polarisations' measurement, annotation and calibration files.",
)  # fmt: skip
@click.option(
    "--metadata", "metadata_only", is_flag=True,
    help="Only the manifest and the XML metadata files.",
)  # fmt: skip
@click.option(
    "-n",
    "--no-download",
    "--no_download",
    "dry_run",
    is_flag=True,
    help="Only list what would be downloaded.",
)
def download(
    backend_name: str, url: str | None, results_path: Path | None, output_dir: str,
    max_items: int | None, timeout: float, dask_scheduler: str | None,
    dask_workers: int | None, dry_run: bool, fallback: str | None, **params: Any,
) -> None:  # fmt: skip
    """Download products, restoring those on tape first; ends with one line per product.

    Exit status: 0 when every product is on disk and verified, 2 when some are not (the
    report says why; run the same command again to continue), 1 on errors.
    """
    from ..staging import Downloader
    from ..staging.cluster import download_on
    from ..staging.members import member_pattern

    members = member_pattern(
        params.pop("include"),
        bands=_listed(params.pop("bands")),
        polarisations=_listed(params.pop("polarisation")),
        metadata=params.pop("metadata_only"),
    )
    options = from_click(params, timeout=timeout * 60.0, members=members)
    given = [k for k in QUERY_OPTION_NAMES if params.get(k) not in (None, (), False)]
    _check_download_options(
        options, results_path, bool(given), dask_scheduler, dask_workers, output_dir
    )
    if results_path is not None and results_path.is_file():
        backend_name = _results_backend_name(results_path, backend_name)
    backend = open_backend(backend_name, url)
    sources = _fallback_sources(fallback)
    if sources and (dask_scheduler or dask_workers):
        raise InvalidQueryError("--fallback runs on this machine: not with a dask cluster")
    # Before searching: options that cannot work (extracting into a bucket) fail first.
    downloader = Downloader(backend, output_dir, options)
    products = _products_to_download(backend, results_path, bool(given), params, max_items)
    if not products:
        click.echo("No product matches.", err=True)
        return
    if dry_run:
        for product in products:
            click.echo(f"{product.id}  {product.availability.value}")
        click.echo(f"{len(products)} product(s) would be downloaded to {output_dir}", err=True)
        return
    if sources:
        from ..fallback import download_with_fallback

        report = download_with_fallback(backend, products, output_dir, options, sources=sources)
    else:
        report = download_on(downloader, products, dask_scheduler or dask_workers)
    click.echo(report.format())
    hint = _fallback_hint(report, backend.name, bool(sources))
    if hint:
        click.echo(hint, err=True)
    if not report.ok:
        sys.exit(2)


def _check_download_options(
    options: StagingOptions,
    results_path: Path | None,
    given: bool,
    dask_scheduler: str | None,
    dask_workers: int | None,
    output_dir: str,
) -> None:
    """``download``'s option combinations that cannot work, refused before anything is sent."""
    from ..staging.storage import is_url

    if results_path is not None and given:
        raise InvalidQueryError("give either --search-results or query options, not both")
    if options.delete_archive and not options.extract:
        raise InvalidQueryError("--delete-archive only makes sense with --extract")
    if dask_scheduler and dask_workers:
        raise InvalidQueryError("give either --dask-scheduler or --dask-workers, not both")
    if (dask_scheduler or dask_workers) and options.transfer_processes:
        raise InvalidQueryError("--transfer-processes has no effect on a dask cluster")
    if not is_url(output_dir) and Path(output_dir).exists() and not Path(output_dir).is_dir():
        raise InvalidQueryError(f"--output-dir: {output_dir} is a file, not a folder")


def _products_to_download(
    backend: Backend,
    results_path: Path | None,
    given: bool,
    params: dict[str, Any],
    max_items: int | None,
) -> list[Product]:
    """The products ``download`` fetches: read from ``--search-results`` or searched for."""
    if results_path is not None:
        if not results_path.is_file():
            raise InvalidQueryError(f"--search-results: no such file: {results_path}")
        return read_results(results_path, backend.name)[:max_items]
    if not given:
        raise InvalidQueryError(
            "give query options (e.g. --tile, --location, --box) or --search-results"
        )
    query = build_query(params)
    return list(backend.search(query, max_items=max_items))


def _listed(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v.strip()]


def _fallback_hint(report: Any, first: str, asked: bool) -> str | None:
    """Off unless asked, but a batch with refused products names the other sources that
    may have them (not looked up: that is what ``--fallback`` does)."""
    from ..backends import specs
    from ..staging import DownloadStatus

    refused = len(report.with_status(DownloadStatus.REFUSED))
    if not refused or asked:
        return None
    others = sorted(name for name in specs() if name != first)
    if not others:
        return None
    return (
        f"{refused} product(s) refused by {spec_for(first).label}; other sources may have "
        f"them: run again with --fallback {','.join(others)} (or NAME=URL, or eodag:PROVIDER "
        "for a provider configured in EODAG, e.g. eodag:cop_dataspace)"
    )


def _fallback_sources(value: str | None) -> list[Any]:
    """``--fallback peps,geodes=https://...,eodag:cop_dataspace``: each backend, or EODAG
    provider, as the user configured it."""
    if not value:
        return []
    sources: list[Any] = []
    for item in value.split(","):
        name, _, source_url = item.strip().partition("=")
        if not name:
            raise InvalidQueryError(f"--fallback: {value!r} names an empty source")
        if name.strip().startswith("eodag:"):  # a provider EODAG serves with its own plugins
            from ..eodag_source import open_eodag_source

            sources.append(open_eodag_source(item.strip()))
            continue
        sources.append(open_backend(name.strip(), source_url.strip() or None))
    return sources
