"""The legacy PEPS scripts as drop-in commands: ``peps_download``, ``peps_maja_process``,
``peps_maja_download``, ``full_maja_process``, ``full_maja_download``.

Same options, defaults, refusals and files as the scripts PEPS users have in their crontabs,
but underneath the project's own search (``build_query`` + backend), staging downloader and
MAJA job store: the legacy log and product-list files are still written for the users' shell
scripts, while the store stays the source of truth (a lost log file loses no job).

GEODES is the default server (PEPS is retired); ``--backend peps`` or
``PEPS_PLUS_LEGACY_BACKEND=peps`` selects PEPS. One stderr line says which, once.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

from ..backends import Backend, backend_names, spec_for
from ..collection_names import COLLECTIONS, MAJA_L1C_QUERY
from ..exceptions import (
    AuthenticationError,
    ConfigurationError,
    InvalidQueryError,
    PepsPlusError,
    ProcessingError,
)
from ..files import write_atomically
from ..legacy.gazetteer import Town, resolve_town
from ..legacy.joblog import job_store, read_job_log, write_job_log
from ..processing.base import JobState
from ..processing.store import JobRecord, JobStore, product_jobs
from ..product import Availability, Product
from ..vocabulary import mgrs_tile
from .common import backend_option as common_backend_option
from .common import build_query, open_backend
from .maja import ask, store_option

__all__ = [
    "BACKEND_ENV",
    "COMMANDS",
    "LEGACY_COMMANDS",
    "STORAGE_WORDS",
    "announce",
    "auth_option",
    "backend_option",
    "check_place",
    "full_maja_download",
    "full_maja_download_main",
    "full_maja_process",
    "full_maja_process_main",
    "job_store",
    "legacy",
    "legacy_end",
    "list_products",
    "log_option",
    "maja_jobs",
    "open_server",
    "peps_download",
    "peps_download_main",
    "peps_maja_download",
    "peps_maja_download_main",
    "peps_maja_process",
    "peps_maja_process_main",
    "place_options",
    "place_params",
    "read_job_log",
    "register",
    "report_fetch",
    "search_products",
    "server_options",
    "write_job_log",
    "write_search_json",
]

F = TypeVar("F", bound=Callable[..., Any])

#: Environment variable choosing the server of the legacy commands (``peps`` or ``geodes``).
BACKEND_ENV = "PEPS_PLUS_LEGACY_BACKEND"
#: Legacy ``storage.mode`` words for each availability, in the ``search.json`` we write.
STORAGE_WORDS = {
    Availability.ONLINE: "disk",
    Availability.STAGING: "staging",
    Availability.OFFLINE: "tape",
    Availability.UNKNOWN: "unknown",
}
LEGACY_COMMANDS = (
    "peps_download",
    "peps_maja_process",
    "peps_maja_download",
    "full_maja_process",
    "full_maja_download",
)


def register(group: click.Group) -> None:
    group.add_command(legacy)


# -- shared options and helpers ------------------------------------------------------------------
def backend_option(func: F) -> F:
    """``--backend``: the default backend (GEODES; PEPS is retired), or
    ``$PEPS_PLUS_LEGACY_BACKEND``."""
    return common_backend_option("--backend", envvar=BACKEND_ENV)(func)


def server_options(func: F) -> F:
    """``--backend`` and ``--url``."""
    func = click.option(
        "--url",
        help="Server base URL (default: the backend's public server, or "
        "EODAG__<PROVIDER>__SEARCH__API_ENDPOINT).",
    )(func)
    return backend_option(func)


def auth_option(func: F) -> F:
    return click.option(
        "-a",
        "--auth",
        type=click.Path(dir_okay=False, path_type=Path),
        help="PEPS: file with 'email password' on one line; GEODES: file with the API key "
        "(default: EODAG's environment variables or eodag.yml).",
    )(func)


def place_options(func: F) -> F:
    """The legacy spatial options: exactly one of tile, town, point or box."""
    options = [
        click.option("-t", "--tile", help="Sentinel-2 tile, 31TCJ or T31TCJ."),
        click.option("-l", "--location", help="Town name (GEODES: resolved offline; 'Name,CC' picks among homonyms)."),
        click.option("--lat", type=float, help="Point latitude."),
        click.option("--lon", type=float, help="Point longitude."),
        click.option("--latmin", type=float), click.option("--latmax", type=float),
        click.option("--lonmin", type=float), click.option("--lonmax", type=float),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def announce(backend: Backend) -> None:
    """Say once which server the legacy command talks to: users expect PEPS."""
    ctx = click.get_current_context(silent=True)
    announced: set[str] = (
        ctx.find_root().meta.setdefault("legacy_announced", set()) if ctx else set()
    )
    key = f"{backend.name} {backend.base_url}"
    if key in announced:
        return
    announced.add(key)
    others = [name for name in backend_names() if name != backend.name]
    other = others[0] if len(others) == 1 else "|".join(others)
    click.echo(
        f"Using {spec_for(backend.name).label} at {backend.base_url} (--backend {other} or "
        f"{BACKEND_ENV}={other} to change)",
        err=True,
    )


def open_server(backend_name: str, url: str | None, auth: Path | None) -> Backend:
    """The backend with the legacy ``-a`` credentials (or EODAG's), announced once."""
    backend = open_backend(backend_name, url, auth)
    announce(backend)
    return backend


def open_legacy_server(backend_name: str, url: str | None, auth: Path | None) -> Backend:
    """:func:`open_server`, an unusable ``-a`` file ending with the old status (254)."""
    with legacy_status(AUTH_FILE, AuthenticationError, ConfigurationError):
        return open_server(backend_name, url, auth)


def legacy_end(value: str | None) -> str | None:
    """PEPS read ``-f 2015-12-01`` as midnight: the old scripts' end date is exclusive."""
    if value is None or value.strip() in ("", "9999-01-01", "9999-12-31"):
        return None
    text = value.strip()
    return f"{text}T00:00:00Z" if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) else text


def check_place(params: dict[str, Any]) -> None:
    """The legacy refusals: no place at all, or two kinds of place."""
    given = []
    if params.get("tile"):
        given.append("tile")
    if params.get("location"):
        given.append("location")
    if params.get("lat") is not None or params.get("lon") is not None:
        given.append("point")
    if any(params.get(k) is not None for k in ("latmin", "latmax", "lonmin", "lonmax")):
        given.append("box")
    if not given:
        raise InvalidQueryError(
            "provide at least a point, a box, a tile or a town: --lat/--lon, "
            "--latmin/--latmax/--lonmin/--lonmax, -t or -l"
        )
    if len(given) > 1:
        raise InvalidQueryError(
            f"choose one of tile, town, point or box, not {' and '.join(given)}"
        )


def place_params(params: dict[str, Any], backend_name: str) -> tuple[dict[str, Any], Town | None]:
    """A town becomes a point from the offline gazetteer when the server cannot resolve it;
    returns the new parameters and the town used (None when nothing was resolved)."""
    out = dict(params)
    if not out.get("location") or spec_for(backend_name).gazetteer:
        return out, None
    town = resolve_town(str(out.pop("location")))
    out["lat"], out["lon"] = town.lat, town.lon
    return out, town


# -- exit statuses -------------------------------------------------------------------------------
#: The legacy scripts' ``sys.exit(-N)``, as a shell sees them: cron lines such as
#: ``peps_download ... || mail ...`` keep their meaning under the drop-ins.
REFUSED = 255  # sys.exit(-1): no place, two places, --sat vs -c, no product, bad -c dates
AUTH_FILE = 254  # sys.exit(-2): the -a file (or the product list) cannot be used
NO_LOG = 253  # sys.exit(-3): full_maja_download's log file is missing
BAD_TILE = 252  # sys.exit(-4): a tile other than 31TCJ / T31TCJ; a log naming no job
BAD_PERIOD = 251  # sys.exit(-5): full_maja_process's dates (after 2016-04-01, 50-366 days)


class LegacyExit(PepsPlusError, click.ClickException):
    """An error ending a drop-in with its legacy script's exit status (one line, as any);
    a :class:`PepsPlusError` for callers, a ``ClickException`` carrying the status for click."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code  # type: ignore[misc]  # click's per-class default, per instance

    def __reduce__(self) -> tuple[Any, ...]:  # pickled with its code, as every error here
        return type(self), (self.message, self.exit_code)


@contextlib.contextmanager
def legacy_status(code: int, *errors: type[Exception]) -> Iterator[None]:
    """Errors of these types (default: our refusals) end with the legacy status ``code``."""
    caught = errors or (PepsPlusError,)
    try:
        yield
    except caught as exc:
        raise LegacyExit(str(exc), code) from None


def check_legacy_place(place: dict[str, Any]) -> None:
    """The legacy place refusals with their statuses: no or two places, then a tile."""
    with legacy_status(REFUSED):
        check_place(place)
    if place.get("tile"):
        with legacy_status(BAD_TILE):
            mgrs_tile(str(place["tile"]))


#: PEPS kept Sentinel-2 in ``S2`` (one product per granule group) before this date and in
#: ``S2ST`` (single tiles) from it; the legacy script refused ``-c S2ST`` before it, with advice.
TILED_SINCE = "2016-12-05"


def tiled_start(
    collection: str, start: str | None, end: str | None
) -> tuple[str | None, list[str]]:
    """``-c S2ST`` as peps_download.py took it: a period entirely before 2016-12-05 is refused
    with its advice (use ``-c S2``); one that starts before is searched from that date, and
    the advice says so. Returns the start to search from and the advice lines (stdout).

    Raises:
        LegacyExit: the whole period is before 2016-12-05 (status 255, as the old script's
            empty search ended).
    """
    if collection != "S2ST":
        return start, []
    day = (start or "")[:10]
    last = (end or "")[:10]
    if end is not None and last <= TILED_SINCE and (last < TILED_SINCE or "T00:00:00" in end):
        raise LegacyExit(
            f"-c S2ST: products before {TILED_SINCE} are stored in the non-tiled products "
            "collection: please use option -c S2 (it also searches the tiled one after that "
            "date)",
            REFUSED,
        )
    if not day:  # no start: the tiled collection is all there is to search, nothing to say
        return TILED_SINCE, []
    if day < TILED_SINCE:
        return TILED_SINCE, [
            f"**** products before '{TILED_SINCE}' are stored in non-tiled products collection",
            "**** please use option -c S2 to get the products before that date",
            "**** products after that date will be downloaded",
        ]
    return start, []


def search_products(backend: Backend, params: dict[str, Any]) -> list[Product]:
    """The unified search (``build_query``), every page: no stop at 500."""
    params, town = place_params(params, backend.name)
    if town is not None:
        click.echo(f"Town {town.describe()}: searching at its point", err=True)
    query = build_query(params)
    found: dict[str, Product] = {}
    for product in backend.search(query):
        found.setdefault(product.id, product)
    return list(found.values())


def write_search_json(path: Path, products: list[Product]) -> None:
    """``search.json`` as the legacy scripts' readers expect (``features[].id``,
    ``properties.productIdentifier``, ``storage.mode``, ``resourceSize``...), plus the STAC
    properties, for every product found (all pages in one file)."""
    features = []
    for product in products:
        p = product.stac_properties()
        tile = str(p.get("grid:code") or "").removeprefix("MGRS-") or None
        legacy = {
            "productIdentifier": product.id,
            "title": product.id,
            "collection": p.get("peps:collection"),
            "platform": p.get("platform"),
            "productType": p.get("product:type"),
            "startDate": p.get("start_datetime"),
            "completionDate": p.get("end_datetime"),
            "orbitNumber": p.get("sat:absolute_orbit"),
            "relativeOrbitNumber": p.get("sat:relative_orbit"),
            "cloudCover": p.get("eo:cloud_cover"),
            "mgrs": tile,
            "resourceSize": product.size,
            "resourceChecksum": product.md5.upper() if product.md5 else None,
            "storage": {"mode": p.get("peps:storage") or STORAGE_WORDS[product.availability]},
            "services": {
                "download": {
                    "url": product.download_url,
                    "size": product.size,
                    "checksum": product.md5,
                }
            },
        }
        features.append(
            {
                "type": "Feature",
                "id": product.native_id,
                "geometry": product.geometry,
                "properties": {**p, **legacy},
            }
        )
    body = {
        "type": "FeatureCollection",
        "properties": {"totalResults": len(products), "exactCount": True},
        "features": features,
    }
    write_atomically(path, json.dumps(body, indent=1, default=str))


def list_products(products: Iterable[Product]) -> None:
    for product in products:
        storage = product.properties.get("peps:storage") or STORAGE_WORDS[product.availability]
        click.echo(f"{product.id} {storage}")


# -- peps_download -------------------------------------------------------------------------------
@click.command("peps_download")
@server_options
@auth_option
@click.option(
    "-w", "--write_dir", "--write-dir", "write_dir",
    type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
    help="Where <name>.zip (or <name>.SAFE with -x) go.",
)  # fmt: skip
@click.option(
    "-c", "--collection", type=click.Choice(COLLECTIONS), default="S2",
    show_default=True, help="S1, S2 (before 2016-12-05; later dates are searched in S2ST too), S2ST, S3.",
)  # fmt: skip
@click.option("-p", "--product_type", "--product-type", "product_type", default="", help="GRD, SLC, OCN (S1); S2MSI1C, S2MSI2A (S2).")  # fmt: skip
@click.option("-m", "--sensor_mode", "--sensor-mode", "sensor_mode", default="", help="EW, IW, SM, WV (S1); INS-NOBS, INS-RAW (S3).")  # fmt: skip
@click.option("-n", "--no_download", "--no-download", "no_download", is_flag=True, help="Only list what would be downloaded.")  # fmt: skip
@click.option("-d", "--start_date", "--start-date", "start", help="YYYY-MM-DD (midnight).")
@click.option("-f", "--end_date", "--end-date", "end", default=None, help="YYYY-MM-DD (midnight, excluded, as on PEPS); default: no end.")  # fmt: skip
@place_options
@click.option("-o", "--orbit", type=int, help="Relative orbit number.")
@click.option("--json", "json_path", default="search.json", show_default=True, type=click.Path(dir_okay=False, path_type=Path), help="Where the search result is saved.")  # fmt: skip
@click.option("--windows", is_flag=True, help="Accepted and ignored (Windows quoting of the old curl calls).")  # fmt: skip
@click.option("--cc", "--clouds", "clouds", type=click.IntRange(0, 100), default=100, show_default=True, help="Maximum cloud cover (S2).")  # fmt: skip
@click.option("--sat", "--satellite", "platform", help="S1A, S1B, S2A, S2B, S3A, S3B; must match -c.")  # fmt: skip
@click.option("-x", "--extract", is_flag=True, help="Unzip to <name>.SAFE, then delete the zip.")
@click.option("--trials", type=click.IntRange(min=1), default=10, show_default=True, help="With --wait: how long to wait for tape products (trials x wait minutes).")  # fmt: skip
@click.option("--wait", "wait_minutes", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Minutes between trials.")  # fmt: skip
@click.option("--timeout", type=click.FloatRange(min=0), default=None, help="Minutes to wait for tape restores (default: trials x wait); then what is still offline is reported.")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def peps_download(
    backend_name: str, url: str | None, auth: Path | None, write_dir: Path, collection: str,
    product_type: str, sensor_mode: str, no_download: bool, start: str | None, end: str | None,
    orbit: int | None, json_path: Path, windows: bool, clouds: int, platform: str | None,
    extract: bool, trials: int, wait_minutes: float, timeout: float | None, quiet: bool,
    **place: Any,
) -> None:  # fmt: skip
    """peps_download.py: search, then download with tape restores, resume and MD5 checks.

    Exit status: 0 when every product is on disk; 2 when some are not (the report says why;
    run the same command again to continue); the old script's for its refusals: 255 (no
    place, two places, --sat vs -c, -c S2ST before 2016-12-05, no product), 254 (the -a
    file), 252 (a bad tile); 1 on other errors.
    """
    from ..staging import Downloader, DownloadStatus

    check_legacy_place(place)
    start, advice = tiled_start(collection, start, legacy_end(end))
    params: dict[str, Any] = dict(
        place, collection=collection, product_type=product_type or None,
        sensor_mode=sensor_mode or None, start=start, end=legacy_end(end), orbit=orbit,
        platform=platform,
    )  # fmt: skip
    if clouds < 100 and collection.startswith("S2"):
        params["clouds"] = clouds
    with legacy_status(REFUSED):
        build_query(params)  # refuse bad input before any request or file
    for line in advice:
        click.echo(line)
    backend = open_legacy_server(backend_name, url, auth)
    products = search_products(backend, params)
    write_search_json(json_path, products)
    if not products:
        raise LegacyExit("No product matches the criteria", REFUSED)
    list_products(products)
    if no_download:
        click.echo(f"{len(products)} product(s) would be downloaded to {write_dir}", err=True)
        return
    click.echo(f"{len(products)}  products to download")  # the line scripts grep for
    minutes = timeout if timeout is not None else trials * wait_minutes
    downloader = Downloader(
        backend,
        write_dir,
        timeout=minutes * 60.0,
        extract=extract,
        delete_archive=extract,
        quiet=quiet or not sys.stderr.isatty(),
    )
    report = downloader.download(products)
    for product in report.products:  # the legacy lines, for the scripts that read them
        if product.present_before:
            click.echo(f"{product.id} already exists")
        elif product.status is DownloadStatus.DONE and product.path:
            click.echo(f"product saved as : {product.path}")
    click.echo(report.format())
    if not report.ok:
        sys.exit(2)


# -- MAJA: shared --------------------------------------------------------------------------------
def maja_jobs(
    backend_name: str, url: str | None, auth: Path | None, store: JobStore, *, new: bool
) -> Any:
    """A ``MajaJobs`` whose backends all get the ``-a`` credentials; ``new``: open the
    server for new jobs now (announced), else only when a job is followed."""
    from ..processing.jobs import MajaJobs

    def factory(name: str, base_url: str) -> Backend:
        with legacy_status(AUTH_FILE, AuthenticationError, ConfigurationError):
            backend = open_backend(name, base_url, auth)
        announce(backend)
        return backend

    backend = open_legacy_server(backend_name, url, auth) if new else None
    return MajaJobs(backend, store, backend_factory=factory)


def report_fetch(jobs: Any, record: JobRecord, write_dir: Path, quiet: bool) -> int:
    """Fetch one job's results and say what happened the legacy way; returns problems."""
    report = jobs.fetch(record.id, write_dir, quiet=quiet)
    job = report.job
    if not report.finished:
        if job.state in (JobState.FAILED, JobState.CANCELED):
            click.echo(
                f"job {job.id} ({job.label}): {job.state.value.upper()}: {job.message or 'no message'}"
            )
            if job.state is JobState.CANCELED:
                click.echo("  (jobs outside latitudes +-60 are cancelled: no elevation model)")
            return 1
        # Our state, not the server's word: PEPS calls a healthy running job STALLED (the old
        # script never showed it: "Processing is not finished yet").
        word = job.state.value.upper()
        progress = f" {job.progress:.0f}%" if job.progress is not None else ""
        click.echo(f"job {job.id} ({job.label}): {word}{progress}: not completed, try again later")
        if job.state is JobState.PENDING:
            click.echo("  Processing is still pending: the processing centre must be busy")
        return 0
    for path in report.downloaded:
        click.echo(f"completed download of {path}")
    for path in report.present:
        click.echo(f"{path.name} already downloaded")
    for result in report.novald:
        click.echo(f"{result.name}: too cloudy (NOVALD), not downloaded")
    for outcome in report.failed:
        click.echo(f"FAILED {outcome.result.name}: {outcome.error}")
    if report.unprocessed:
        click.echo(f"{report.unprocessed} product(s) could not be processed")
    return len(report.failed)


def _on(record: JobRecord, backend: Backend) -> bool:
    return record.backend == backend.name and record.base_url.rstrip("/") == backend.base_url.rstrip("/")  # fmt: skip


def _given(names: Iterable[str]) -> bool:
    """Whether the user chose one of these options (command line or environment variable),
    rather than leaving their defaults."""
    ctx = click.get_current_context()
    return any(
        ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
        for name in names
    )


# -- peps_maja_process / peps_maja_download ------------------------------------------------------
@click.command("peps_maja_process")
@server_options
@auth_option
@store_option
@place_options
@click.option("-w", "--write_dir", "--write-dir", "write_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Where each <product>.log goes.")  # fmt: skip
@click.option("-n", "--no_download", "--no-download", "no_download", is_flag=True, help="Only list the products; submit nothing.")  # fmt: skip
@click.option("-d", "--start_date", "--start-date", "start", help="YYYY-MM-DD")
@click.option("-f", "--end_date", "--end-date", "end", help="YYYY-MM-DD (excluded, as on PEPS)")
@click.option("-o", "--orbit", type=click.IntRange(1, 143), help="Relative orbit.")
@click.option("-p", "--prod_list", "--prod-list", "prod_list", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File where the submitted products are listed.")  # fmt: skip
@click.option("-c", "--collection", type=click.Choice(["S2", "S2ST"]), default="S2ST", help="Accepted (MAJA takes Sentinel-2 L1C only).")  # fmt: skip
@click.option("--json", "json_path", default="search.json", show_default=True, type=click.Path(dir_okay=False, path_type=Path), help="Where the search result is saved.")  # fmt: skip
@click.option("--windows", is_flag=True, help="Accepted and ignored.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask before submitting 10 or more jobs.")
@click.option("--resubmit", is_flag=True, help="Submit even what a job of the store already did or is doing (a duplicate).")  # fmt: skip
def peps_maja_process(
    backend_name: str, url: str | None, auth: Path | None, store_path: Path | None,
    write_dir: Path, no_download: bool, start: str | None, end: str | None, orbit: int | None,
    prod_list: Path, collection: str, json_path: Path, windows: bool, yes: bool,
    resubmit: bool, **place: Any,
) -> None:  # fmt: skip
    """peps_maja_process.py: one MAJA job per Sentinel-2 L1C product found."""
    from ..processing import checks

    check_legacy_place(place)
    params = dict(place, **MAJA_L1C_QUERY, start=start, end=legacy_end(end), orbit=orbit)
    with legacy_status(REFUSED):
        build_query(params)
    store = JobStore(store_path)
    jobs = maja_jobs(backend_name, url, auth, store, new=True)
    products = search_products(jobs.backend, params)
    write_search_json(json_path, products)
    if not products:
        raise LegacyExit("No product matches the criteria; nothing submitted", REFUSED)
    click.echo("list of products retrieved by catalog request")
    for index, product in enumerate(products):
        click.echo(f"{index} {product.id}")
    if no_download:
        write_atomically(prod_list, "".join(f"{p.id}\n" for p in products))
        click.echo(f"{len(products)} product(s) would be submitted (dry run)", err=True)
        return

    def confirm(count: int) -> bool:
        return ask(
            f"You are about to ask for the processing of {count} products, one job each "
            "(a FULL_MAJA series is usually better); please confirm"
        )

    checks.confirm_many(len(products), yes=yes, confirm=confirm)
    records = jobs.submit_products(products, yes=True, resubmit=resubmit)
    write_atomically(prod_list, "".join(f"{p.id}\n" for p in products))
    for record in records:
        write_job_log(write_dir / f"{record.label}.log", record, store)
        click.echo(f"job {record.id}: MAJA {record.label} submitted ({record.state.value})")
    click.echo(f"{len(records)} job(s) recorded in {store.path}", err=True)


def _jobs_for_products(
    jobs: Any, names: list[str], folders: list[Path], backend: Backend | None
) -> dict[str, JobRecord]:
    """Each listed product's job: the one its ``<product>.log`` names (in the L2A folder or
    beside the list, where ``peps_maja_process -w`` put it), else the store's job for it on
    this command's server (:func:`~eodag_peps_plus.processing.store.product_jobs`): never a
    newer duplicate on another server."""
    found: dict[str, JobRecord] = {}
    for name in names:
        log = next((f / f"{name}.log" for f in folders if (f / f"{name}.log").is_file()), None)
        record = jobs.get(read_job_log(log)["job"]) if log is not None else None
        if record is not None and (backend is None or _on(record, backend)):
            found[name] = record  # (a log rewritten by a run on another server is passed over)
    rest = [n for n in names if n not in found]
    if rest:
        where = {} if backend is None else {"backend": backend.name, "base_url": backend.base_url}
        found.update(product_jobs(jobs.list(), rest, **where))
    return found


@click.command("peps_maja_download")
@server_options
@auth_option
@store_option
@click.option("-p", "--prod_list", "--prod-list", "prod_list", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The product list written by peps_maja_process.")  # fmt: skip
@click.option("-w", "--write_dir", "--write-dir", "write_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Where the L2A zips go (and the <product>.log files are).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def peps_maja_download(
    backend_name: str, url: str | None, auth: Path | None, store_path: Path | None,
    prod_list: Path, write_dir: Path, quiet: bool,
) -> None:  # fmt: skip
    """peps_maja_download.py: download finished products, report unfinished ones."""
    try:
        names = [n.strip() for n in prod_list.read_text().splitlines() if n.strip()]
    except OSError as exc:
        raise LegacyExit(f"cannot read the product list {prod_list}: {exc.strerror}", AUTH_FILE) from None  # fmt: skip
    if not names:
        raise LegacyExit(f"{prod_list}: no product listed", AUTH_FILE)
    jobs = maja_jobs(backend_name, url, auth, JobStore(store_path), new=False)
    given = _given(("backend_name", "url"))
    server = open_legacy_server(backend_name, url, auth) if given else None
    bound = _jobs_for_products(jobs, names, [write_dir, prod_list.parent, Path(".")], server)
    problems = 0
    for name in names:
        record = bound.get(name)
        if record is None:
            click.echo(f"{name}: no MAJA job in the store for this product (never submitted?)")
            problems += 1
            continue
        problems += report_fetch(jobs, record, write_dir, quiet or not sys.stderr.isatty())
    if problems:
        raise ProcessingError(f"{problems} problem(s); run the command again to retry downloads")


# -- full_maja_process / full_maja_download ------------------------------------------------------
def log_option(func: F) -> F:
    return click.option(
        "-l", "-g", "--log", "log_path",
        type=click.Path(dir_okay=False, path_type=Path), default=Path("Full_Maja.log"),
        show_default=True, help="Log file naming the job (the job store keeps it too).",
    )(func)  # fmt: skip


@click.command("full_maja_process")
@server_options
@auth_option
@store_option
@log_option
@click.option("-t", "--tile", required=True, help="Tile, 31TCJ or T31TCJ.")
@click.option("-d", "--start_date", "--start-date", "start", required=True, help="YYYY-MM-DD")
@click.option("-e", "-f", "--end_date", "--end-date", "end", required=True, help="YYYY-MM-DD (-e; older versions used -f).")  # fmt: skip
@click.option("-o", "--orbit", type=click.IntRange(1, 143), help="Relative orbit: only process this one.")  # fmt: skip
@click.option("-n", "--no_download", "--no-download", "no_download", is_flag=True, help="Check and show the request; submit nothing.")  # fmt: skip
@click.option("-w", "--write_dir", "--write-dir", "write_dir", default=None, help="Accepted and ignored (results go where full_maja_download -w says).")  # fmt: skip
@click.option("--json", "json_path", default=None, help="Accepted and ignored (no catalogue search here).")  # fmt: skip
@click.option("--resubmit", is_flag=True, help="Submit even what a job of the store already did or is doing (a duplicate).")  # fmt: skip
def full_maja_process(
    backend_name: str, url: str | None, auth: Path | None, store_path: Path | None,
    log_path: Path, tile: str, start: str, end: str, orbit: int | None, no_download: bool,
    write_dir: str | None, json_path: str | None, resubmit: bool,
) -> None:  # fmt: skip
    """full_maja_process.py: one FULL_MAJA job for a tile's time series.

    Exit status as the old script's: 251 for the dates (from 2016-04-01, 50 to 366 days),
    254 for the -a file, 1 for a bad tile or orbit (it raised ValueError)."""
    from ..processing import checks

    with legacy_status(BAD_PERIOD):
        checks.check_period(checks.as_date(start, "start"), checks.as_date(end, "end"))
    request = checks.check_series(tile, start, end, orbit)
    if no_download:
        click.echo(
            f"would submit FULL_MAJA on {backend_name}: tile {request.tile} from {request.start} "
            f"to {request.end}"
            + (f", orbit {request.relative_orbit}" if request.relative_orbit else "")
        )
        return
    store = JobStore(store_path)
    jobs = maja_jobs(backend_name, url, auth, store, new=True)
    if log_path.exists():
        click.echo(
            f"Warning: {log_path} exists and is replaced; its job stays in the store", err=True
        )
    record = jobs.submit_series(
        request.tile, request.start, request.end, request.relative_orbit, resubmit=resubmit
    )
    write_job_log(log_path, record, store)
    click.echo(
        f"Request OK: job {record.id}, FULL_MAJA {record.label} ({record.state.value}); log {log_path}"
    )


@click.command("full_maja_download")
@server_options
@auth_option
@store_option
@log_option
@click.option("-w", "--write_dir", "--write-dir", "write_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Where the L2A zips go.")  # fmt: skip
@click.option("--job", "job_id", type=int, help="A job number from the store (instead of the log file).")  # fmt: skip
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def full_maja_download(
    backend_name: str, url: str | None, auth: Path | None, store_path: Path | None,
    log_path: Path, write_dir: Path, job_id: int | None, quiet: bool,
) -> None:  # fmt: skip
    """full_maja_download.py: progress of the job, or its L2A results once finished.

    Exit status as the old script's: 253 when the log file is missing, 252 when it names no
    job, 254 for the -a file."""
    log = None
    if job_id is None:
        if not log_path.is_file():
            with legacy_status(NO_LOG):
                read_job_log(log_path)
        with legacy_status(BAD_TILE):
            log = read_job_log(log_path)
    jobs = maja_jobs(backend_name, url, auth, job_store(store_path, log), new=False)
    record = jobs.get(job_id if job_id is not None else int(log["job"]))  # type: ignore[index]
    if report_fetch(jobs, record, write_dir, quiet or not sys.stderr.isatty()):
        raise ProcessingError("problems while downloading; run the command again to retry")


# -- group and console scripts -------------------------------------------------------------------
COMMANDS: dict[str, click.Command] = {
    "peps_download": peps_download,
    "peps_maja_process": peps_maja_process,
    "peps_maja_download": peps_maja_download,
    "full_maja_process": full_maja_process,
    "full_maja_download": full_maja_download,
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def legacy() -> None:
    """The old PEPS scripts, same options and files, on GEODES (default) or PEPS."""


def _stray(ctx: click.Context, _param: click.Parameter, words: tuple[str, ...]) -> None:
    """optparse ignored words that are not options (``peps_maja_process.py 2 --lon 1 ...``,
    copied from two legacy READMEs): so do we, saying so (``migrate`` lists them as notes)."""
    if not words:
        return
    ctx.meta["legacy_stray"] = list(words)
    if not (isinstance(ctx.obj, dict) and ctx.obj.get("legacy_translating")):
        click.echo(
            f"Ignoring {' '.join(words)}: not an option (the old script ignored it too)", err=True
        )


for _command in COMMANDS.values():
    _command.context_settings.setdefault("help_option_names", ["-h", "--help"])  # as optparse
    _command.params.append(
        click.Argument(["stray"], nargs=-1, expose_value=False, callback=_stray, required=False)
    )
    legacy.add_command(_command)


def _entry(command: click.Command) -> Callable[[], None]:
    def main() -> None:
        from . import main as run

        run(command)

    main.__name__ = f"{command.name}_main"
    return main


peps_download_main = _entry(peps_download)
peps_maja_process_main = _entry(peps_maja_process)
peps_maja_download_main = _entry(peps_maja_download)
full_maja_process_main = _entry(full_maja_process)
full_maja_download_main = _entry(full_maja_download)
