"""``peps-plus maja``: MAJA L2A processing on PEPS (WPS) or GEODES (OGC API - Processes).

Replaces ``peps_maja_process/download.py`` and ``full_maja_process/download.py``: jobs live in
a durable store (``--store``, ``$PEPS_PLUS_JOB_STORE``, or the per-user data folder) instead
of a log file the user names, so a reused name, a killed terminal or a reboot loses nothing.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..backends import default_backend, l2a_backend, spec_for
from ..collection_names import MAJA_L1C_QUERY
from ..exceptions import InvalidQueryError, ProcessingError
from ..http_io import redact_url
from ..processing.base import JobState
from ..processing.store import STORE_ENV, JobRecord, JobStore
from ..vocabulary import shown
from .common import backend_options, build_query, open_backend, print_table

if TYPE_CHECKING:
    from ..processing.jobs import FetchReport

__all__ = [
    "HEADERS",
    "LOG_EVERY",
    "MAX_PRODUCTS_FILE",
    "check_url",
    "ensure",
    "ensure_backends",
    "ensure_options",
    "fetch",
    "json_option",
    "list_jobs",
    "maja",
    "read_products_file",
    "register",
    "status",
    "store_option",
    "submit",
    "wait",
]

F = TypeVar("F", bound=Callable[..., Any])


def register(group: click.Group) -> None:
    group.add_command(maja)


def store_option(func: F) -> F:
    return click.option(
        "--store",
        "store_path",
        type=click.Path(dir_okay=False, path_type=Path),
        envvar=STORE_ENV,
        help=f"Job store file (default: ${STORE_ENV}, else jobs.sqlite3 in your data folder).",
    )(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(
        func
    )


#: Longest products file read (one name a line; a real list is a few kB).
MAX_PRODUCTS_FILE = 1_000_000
#: Without a terminal, a job's state is logged when it changes, else at most this often (s).
LOG_EVERY = 60.0


def check_url(url: str | None, backend_name: str | None = None) -> None:
    """Refuse ``--url`` with ``user:password@``: a URL is stored with each job and shown in
    messages, a password must be neither. Credentials go in the EODAG config."""
    if url is not None and redact_url(url) != url:
        spec = spec_for(backend_name) if backend_name else default_backend()
        raise InvalidQueryError(
            f"--url {redact_url(url)}: user and password in the URL are refused (the URL "
            f"is stored with each job and shown in messages); {spec.credentials_help()}"
        )


def read_products_file(path: Path) -> list[str]:
    """One product name a line; a binary, non-UTF-8 or huge file is one clear error."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_PRODUCTS_FILE + 1)
    except OSError as exc:
        raise InvalidQueryError(f"--products-file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_PRODUCTS_FILE:
        raise InvalidQueryError(
            f"--products-file {path}: larger than {MAX_PRODUCTS_FILE:,} bytes; not a list of "
            "product names"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidQueryError(
            f"--products-file {path}: not a UTF-8 text file (byte {exc.start}); expected one "
            "product name per line"
        ) from None
    if "\x00" in text:
        raise InvalidQueryError(f"--products-file {path}: binary content (NUL bytes)")
    return [line.strip() for line in text.splitlines() if line.strip()]


def ask(question: str) -> bool:
    """A yes/no question on stderr, answered by one line of stdin (``y``/``yes``, as the legacy
    scripts read it, piped or typed). No answer (stdin closed or empty: cron, CI, ``<
    /dev/null``) is "no", and the caller refuses with a line naming ``--yes``: not click's
    ``Aborted.`` with the exit code of a Ctrl-C."""
    click.echo(f"{question} (yes/no) [no]: ", nl=False, err=True)
    line = sys.stdin.readline() if sys.stdin is not None else ""
    if not line.endswith("\n"):
        click.echo("", err=True)
    return line.strip().lower() in ("y", "yes")


def _jobs(store_path: Path | None, backend_name: str | None = None, url: str | None = None) -> Any:
    from ..processing.jobs import MajaJobs

    check_url(url, backend_name)
    backend = open_backend(backend_name, url) if backend_name else None
    return MajaJobs(backend, JobStore(store_path), backend_factory=open_backend)


def _progress(record: JobRecord) -> str:
    if record.progress is None:
        return ""
    return f"{record.progress:.0f}%"


def _rows(records: Iterable[JobRecord]) -> list[list[Any]]:
    return [
        [
            r.id,
            r.backend,
            r.process,
            r.label,
            r.state.value,
            _progress(r),
            server_word(r),
            r.submitted_at,
            (r.message or "")[:80],
        ]
        for r in records
    ]


HEADERS = (
    "job",
    "backend",
    "process",
    "inputs",
    "state",
    "progress",
    "server",
    "submitted",
    "message",
)


def _show(records: list[JobRecord], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=1, default=str))
    elif records:
        print_table(_rows(records), HEADERS)
    else:
        click.echo("no jobs", err=True)


@click.group()
def maja() -> None:
    """MAJA L2A processing: submit, follow, fetch; jobs are kept in a durable store."""


# -- submit --------------------------------------------------------------------------------------
def _submit_names(
    products: tuple[str, ...],
    products_file: Path | None,
    per_product: bool,
    series_given: bool,
    search: dict[str, Any],
    log_path: Path | None,
    write_list: Path | None,
) -> list[str]:
    """The product names ``submit`` was given, once its options are checked to agree."""
    per_product_run = bool(products or products_file or per_product)
    if log_path is not None and per_product_run:
        raise InvalidQueryError("--log names one FULL_MAJA job; per-product jobs: --write-list")
    if write_list is not None and not per_product_run:
        raise InvalidQueryError("--write-list lists per-product jobs; a FULL_MAJA job: --log")
    names = [p.strip() for p in products if p.strip()]
    if products_file is not None:
        names += read_products_file(products_file)
    search_given = [k for k, v in search.items() if v is not None]
    if names and (per_product or search_given or series_given):
        raise InvalidQueryError(
            "give either product names (-P/--products-file) or search options, not both"
        )
    if search_given and not per_product:
        raise InvalidQueryError(
            f"--{search_given[0]} selects products: add --per-product, or give -t/-d/-e "
            "for a FULL_MAJA series"
        )
    return names


def _submit_series(
    backend_name: str,
    url: str | None,
    store_path: Path | None,
    series: tuple[str | None, str | None, str | None, str | None],
    *,
    dry_run: bool,
    resubmit: bool,
    log_path: Path | None,
    as_json: bool,
) -> None:
    """``submit``'s FULL_MAJA branch: ``series`` is (tile, start, end, orbit)."""
    from ..processing import checks

    tile, start, end, orbit = series
    missing = [
        opt
        for opt, value in (("-t/--tile", tile), ("-d/--start", start), ("-e/--end", end))
        if not value
    ]
    if missing:
        raise InvalidQueryError(
            f"FULL_MAJA needs {', '.join(missing)} (or give -P/--products-file/--per-product "
            "for per-product MAJA)"
        )
    assert tile and start and end
    request = checks.check_series(tile, start, end, orbit)
    if dry_run:
        click.echo(
            f"would submit FULL_MAJA on {backend_name}: tile {request.tile} from {request.start} "
            f"to {request.end}"
            + (f", orbit {request.relative_orbit}" if request.relative_orbit else "")
        )
        return
    jobs = _jobs(store_path, backend_name, url)
    record = jobs.submit_series(
        request.tile, request.start, request.end, request.relative_orbit, resubmit=resubmit
    )
    if log_path is not None:
        from ..legacy.joblog import write_job_log

        write_job_log(log_path, record, jobs.store)
    _announce([record], jobs.store, as_json)


@maja.command()
@backend_options
@store_option
@json_option
@click.option(
    "-t",
    "--tile",
    help="MGRS tile (31TCJ or T31TCJ): FULL_MAJA series, or a search filter with --per-product.",
)
@click.option(
    "-d",
    "-s",
    "--start-date",
    "--start_date",
    "--start",
    "start",
    help="YYYY-MM-DD (-s as in eodag).",
)
@click.option(
    "-e",
    "-f",
    "--end-date",
    "--end_date",
    "--end",
    "end",
    help="YYYY-MM-DD (-e as in full_maja_process, -f as in peps_download).",
)
@click.option("-o", "--orbit", help="Relative orbit (1-143).")
@click.option(
    "-P",
    "--product",
    "products",
    multiple=True,
    help="A Sentinel-2 L1C product name: per-product MAJA (repeatable).",
)
@click.option(
    "--products-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="File with one L1C product name per line: per-product MAJA.",
)
@click.option(
    "--per-product",
    is_flag=True,
    help="One MAJA job per L1C product matching the search options (the peps_maja_process way).",
)
@click.option("-l", "--location", help="Town name (search filter, --per-product).")
@click.option("--lat", type=float, help="Point latitude (search filter, --per-product).")
@click.option("--lon", type=float, help="Point longitude (search filter, --per-product).")
@click.option("--latmin", type=float)
@click.option("--latmax", type=float)
@click.option("--lonmin", type=float)
@click.option("--lonmax", type=float)
@click.option(
    "--cc",
    "--clouds",
    "clouds",
    type=float,
    help="Maximum cloud cover (search filter, --per-product).",
)
@click.option(
    "-n",
    "--no-submit",
    "--dry-run",
    "dry_run",
    is_flag=True,
    help="Only show what would be submitted.",
)
@click.option(
    "-y", "--yes", is_flag=True, help="Do not ask before submitting 10 or more per-product jobs."
)
@click.option(
    "--resubmit",
    is_flag=True,
    help="Submit even inputs a job of the store already did or is doing, or whose earlier "
    "submission may be on the server (its reply was lost): a duplicate job.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="FULL_MAJA: write the job's log file (as full_maja_process -l); "
    "'maja fetch --log FILE' then fetches this job and no other.",
)
@click.option(
    "--write-list",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Per-product: write the submitted products, one a line (as peps_maja_process -p); "
    "'maja fetch --products-file FILE' then fetches their jobs and no others.",
)
def submit(
    backend_name: str,
    url: str | None,
    store_path: Path | None,
    as_json: bool,
    tile: str | None,
    start: str | None,
    end: str | None,
    orbit: str | None,
    products: tuple[str, ...],
    products_file: Path | None,
    per_product: bool,
    dry_run: bool,
    yes: bool,
    resubmit: bool,
    log_path: Path | None,
    write_list: Path | None,
    **search: Any,
) -> None:
    """Submit MAJA: a FULL_MAJA series (-t -d -e [-o]) or per-product jobs (-P NAME,
    --products-file, or --per-product with search options)."""
    check_url(url, backend_name)
    names = _submit_names(
        products,
        products_file,
        per_product,
        bool(tile or start or end),
        search,
        log_path,
        write_list,
    )
    if names or per_product:
        if per_product:
            candidates: list[Any] = _search_l1c(backend_name, url, tile, start, end, orbit, search)
        else:
            candidates = names
        _submit_products(
            backend_name,
            url,
            store_path,
            candidates,
            dry_run=dry_run,
            yes=yes,
            as_json=as_json,
            resubmit=resubmit,
            write_list=write_list,
        )
        return
    _submit_series(
        backend_name,
        url,
        store_path,
        (tile, start, end, orbit),
        dry_run=dry_run,
        resubmit=resubmit,
        log_path=log_path,
        as_json=as_json,
    )


def _search_l1c(
    backend_name: str,
    url: str | None,
    tile: str | None,
    start: str | None,
    end: str | None,
    orbit: str | None,
    search: dict[str, Any],
) -> list[Any]:
    params = dict(search, tile=tile, start=start, end=end, **MAJA_L1C_QUERY)
    if orbit is not None:
        from ..processing.checks import check_orbit

        params["orbit"] = check_orbit(orbit)
    query = build_query(params)
    if not (query.tile or query.location or query.point or query.bbox):
        raise InvalidQueryError("--per-product needs a place: -t, -l, --lat/--lon or a box")
    backend = open_backend(backend_name, url)
    found = list(backend.search(query))
    if not found:
        raise ProcessingError("no Sentinel-2 L1C product matches the search; nothing submitted")
    click.echo(f"{len(found)} L1C product(s) found", err=True)
    return found


def _submit_products(
    backend_name: str,
    url: str | None,
    store_path: Path | None,
    candidates: list[Any],
    *,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    resubmit: bool = False,
    write_list: Path | None = None,
) -> None:
    from ..files import write_atomically
    from ..processing import checks
    from ..product import Product

    names = [c.id if isinstance(c, Product) else str(c) for c in candidates]
    if dry_run:
        for candidate in candidates:
            if isinstance(candidate, Product):
                checks.check_product(candidate.id)
            else:
                checks.check_product(str(candidate))
        for name in dict.fromkeys(names):
            click.echo(f"would submit MAJA on {backend_name}: {name}")
        return
    jobs = _jobs(store_path, backend_name, url)

    def confirm(count: int) -> bool:
        return ask(
            f"Submit {count} per-product MAJA jobs? Each recomputes earlier dates; a FULL_MAJA "
            "series (-t -d -e) is usually better"
        )

    records = jobs.submit_products(candidates, yes=yes, confirm=confirm, resubmit=resubmit)
    if write_list is not None:
        write_atomically(write_list, "".join(f"{r.label}\n" for r in records))
    _announce(records, jobs.store, as_json)


def _announce(records: list[JobRecord], store: JobStore, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in records], indent=1, default=str))
        return
    for record in records:
        how = "recovered from" if (record.message or "").startswith("recovered") else "submitted to"
        click.echo(
            f"job {record.id}: {record.process} {record.label} {how} {record.backend} "
            f"(reference {record.reference})"
        )
    click.echo(
        f"recorded in {store.path}; follow with: peps-plus maja wait "
        + " ".join(str(r.id) for r in records),
        err=True,
    )


# -- status / list -------------------------------------------------------------------------------
def _select(jobs: Any, job_ids: tuple[str, ...]) -> list[JobRecord]:
    if job_ids:
        return [jobs.get(j) for j in job_ids]
    active: list[JobRecord] = jobs.list(active_only=True)
    return active


@maja.command()
@store_option
@json_option
@click.argument("job_ids", nargs=-1)
@click.option(
    "--no-refresh", is_flag=True, help="Show what the store knows without asking the server."
)
def status(
    store_path: Path | None, as_json: bool, job_ids: tuple[str, ...], no_refresh: bool
) -> None:
    """Ask the server where jobs are (default: every unfinished job) and record the answer."""
    jobs = _jobs(store_path)
    records = _select(jobs, job_ids)
    if not no_refresh:
        records = [jobs.refresh(r) for r in records]
    _show(records, as_json)


@maja.command(name="list")
@store_option
@json_option
@click.option("--active", is_flag=True, help="Only jobs that have not ended.")
def list_jobs(store_path: Path | None, as_json: bool, active: bool) -> None:
    """Every job in the store (no network)."""
    _show(_jobs(store_path).list(active_only=active), as_json)


# -- wait ----------------------------------------------------------------------------------------
def _show_fetch(report: FetchReport) -> int:
    """Print what ``fetch`` did for one job; the number of problems."""
    problems = 0
    job = report.job
    if not report.finished:
        if job.state in (JobState.FAILED, JobState.CANCELED):
            click.echo(f"job {job.id}: {job.state.value}: {job.message or 'no message'}")
            problems += 1
        elif job.reference is None:  # reconciled and still not found on the server
            click.echo(f"job {job.id}: not seen on the server: {job.message or job.state.value}")
            problems += 1
        else:
            click.echo(f"job {job.id}: not finished yet: {_state_text(job)}; try again later")
        return problems
    for path in report.downloaded:
        click.echo(f"job {job.id}: downloaded {path}")
    for path in report.present:
        click.echo(f"job {job.id}: skipped {path.name}: already on disk")
    for result in report.novald:
        click.echo(f"job {job.id}: {result.name} was too cloudy (NOVALD), not downloaded")
    for outcome in report.failed:
        click.echo(f"job {job.id}: FAILED {shown(outcome.result.name)}: {outcome.error}")
        problems += 1
    if report.unprocessed:
        click.echo(
            f"job {job.id}: warning: {report.unprocessed} L1C product(s) could not be processed"
        )
    click.echo(
        f"job {job.id}: {len(report.downloaded)} downloaded, {len(report.present)} already "
        f"present, {len(report.novald)} NOVALD, {len(report.failed)} failed, "
        f"{report.unprocessed} unprocessed"
    )
    return problems


@maja.command()
@store_option
@click.argument("job_ids", nargs=-1)
@click.option(
    "--interval",
    type=click.FloatRange(min=0.01),
    default=30.0,
    show_default=True,
    help="First polling interval (s).",
)
@click.option(
    "--max-interval",
    type=click.FloatRange(min=0.01),
    default=600.0,
    show_default=True,
    help="Longest interval between polls (s).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Give up waiting after this many seconds (the job keeps running).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def wait(
    store_path: Path | None,
    job_ids: tuple[str, ...],
    interval: float,
    max_interval: float,
    timeout: float | None,
    no_progress: bool,
) -> None:
    """Poll jobs until they end (default: every unfinished job): all of them in one loop, one
    progress bar each (log lines when stderr is not a terminal).

    Interrupting loses nothing: run it again and it picks up the jobs from the store. A job
    the server never acknowledged is looked up on it first; one it cannot see is an error."""
    jobs = _jobs(store_path)
    records = _select(jobs, job_ids)
    if not records:
        click.echo("no unfinished job to wait for", err=True)
        return
    display = _WaitDisplay(records, bars=not no_progress and sys.stderr.isatty())
    try:
        report = jobs.wait_all(
            records,
            interval=interval,
            max_interval=max_interval,
            timeout=timeout,
            on_status=display.show,
        )
    finally:
        display.close()
    problems = [f"job {r.job.id}: {r.outcome} on the server: {r.detail}" for r in report.unseen]
    for line in problems:
        click.echo(line, err=True)
    for record in report.jobs:
        if record.is_final:
            click.echo(
                f"job {record.id}: {record.state.value}"
                + (f" - {record.message}" if record.message else "")
            )
            if record.state is not JobState.FINISHED:
                problems.append(
                    f"job {record.id} {record.state.value}: {record.message or 'no message'}"
                )
    if report.timed_out:
        from ..processing.jobs import timeout_line

        problems.append(timeout_line(report))
    if problems:
        raise ProcessingError(
            "; ".join(problems)
            if len(problems) < 4
            else (f"{len(problems)} jobs did not finish: " + "; ".join(problems[:3]) + "; ...")
        )


def server_word(record: JobRecord) -> str:
    """The server's own word for a job, only when it says more than our state: PEPS calls a
    healthy running job ``STALLED`` and GEODES a waiting one ``accepted``, which read as alarms
    or noise next to ``running`` / ``pending``."""
    from ..processing.ogc import OGC_STATES
    from ..processing.wps import REPORT_STATES, STATUS_STATES

    word = record.server_status or ""
    words = {**STATUS_STATES, **REPORT_STATES, **OGC_STATES}
    meaning = {k.lower(): v for k, v in words.items()}.get(word.lower())
    return "" if meaning is record.state or word.lower() == record.state.value else word


def _state_text(record: JobRecord, *, percent: bool = True) -> str:
    """Our state first (``running 38%``); the server's own word only when it adds to it."""
    text = record.state.value
    if percent and record.progress is not None and not record.is_final:
        text += f" {record.progress:.0f}%"
    word = server_word(record)
    if word:
        text += f" (server: {word})"
    return text


class _WaitDisplay:
    """One tqdm bar per job on a terminal; otherwise a log line when a job's state changes
    (or every ``LOG_EVERY`` seconds), since bars in a file or pipe are escape-code noise."""

    def __init__(self, records: list[JobRecord], *, bars: bool) -> None:
        self.bars: dict[int, Any] = {}
        self.last: dict[int, tuple[str, float]] = {}
        if bars:
            from tqdm import tqdm

            for position, record in enumerate(records):
                self.bars[record.id] = tqdm(
                    total=100,
                    desc=f"job {record.id}",
                    position=position,
                    leave=True,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}|",
                )

    def show(self, record: JobRecord) -> None:
        bar = self.bars.get(record.id)
        if bar is not None:
            bar.n = min(100.0, record.progress or (100.0 if record.is_final else 0.0))
            bar.set_description_str(f"job {record.id} {_state_text(record, percent=False)}")
            return
        text = _state_text(record)
        now = time.monotonic()
        previous = self.last.get(record.id)
        if previous is None or previous[0] != text or now - previous[1] >= LOG_EVERY:
            self.last[record.id] = (text, now)
            click.echo(f"job {record.id}: {text}", err=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


# -- fetch ---------------------------------------------------------------------------------------
@maja.command()
@store_option
@click.argument("job_ids", nargs=-1)
@click.option(
    "-w",
    "--write-dir",
    "--write_dir",
    "write_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the L2A zips go.",
)
@click.option(
    "--log",
    "log_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Fetch the job this log file names (full_maja_process -l, maja submit --log).",
)
@click.option(
    "--products-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Fetch the per-product jobs of the products listed (peps_maja_process -p, "
    "maja submit --write-list).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def fetch(
    store_path: Path | None,
    job_ids: tuple[str, ...],
    write_dir: Path,
    log_path: Path | None,
    products_file: Path | None,
    no_progress: bool,
) -> None:
    """Download finished jobs' L2A archives (the jobs given, the one a --log names, those of a
    --products-file; default: every finished job not fully fetched), skipping NOVALD (too
    cloudy) dates and files already present; report unprocessed L1C."""
    chosen, jobs = _bound_jobs(store_path, job_ids, log_path, products_file)
    if chosen is not None:
        records = chosen
    else:
        records = [
            r
            for r in jobs.list()
            if not r.is_final or (r.state is JobState.FINISHED and not _fetched(r))
        ]
    if not records:
        click.echo("nothing to fetch", err=True)
        return
    problems = 0
    for record in records:
        problems += _show_fetch(jobs.fetch(record.id, write_dir, quiet=no_progress))
    if problems:
        raise ProcessingError(
            f"{problems} problem(s) while fetching; run fetch again to retry downloads"
        )


def _bound_jobs(
    store_path: Path | None,
    job_ids: tuple[str, ...],
    log_path: Path | None,
    products_file: Path | None,
) -> tuple[list[JobRecord] | None, Any]:
    """The jobs a fetch is bound to (None: not bound, every finished job), and the façade.

    A log or a product list binds a download to its own jobs, as the legacy scripts did: one
    log and one folder per tile must never receive another tile's L2A."""
    from ..legacy.joblog import job_store, read_job_log
    from ..processing.jobs import MajaJobs
    from ..processing.store import product_jobs

    log = read_job_log(log_path) if log_path is not None else None
    jobs = MajaJobs(None, job_store(store_path, log), backend_factory=open_backend)
    if not (job_ids or log or products_file):
        return None, jobs
    records = [jobs.get(j) for j in job_ids]
    if log is not None:
        records.append(jobs.get(log["job"]))
    if products_file is not None:
        names = [n.removesuffix(".zip") for n in read_products_file(products_file)]
        found = product_jobs(jobs.list(), names)
        for name in names:
            if name not in found:
                click.echo(f"{name}: no MAJA job in the store for this product", err=True)
        records += [found[n] for n in names if n in found]
        if not found:
            raise ProcessingError(f"--products-file {products_file}: no job in the store")
    return list({r.id: r for r in records}.values()), jobs


def _fetched(record: JobRecord) -> bool:
    done = {d.name for d in record.downloads if d.outcome in ("downloaded", "present", "novald")}
    return all(r.name in done for r in record.results)


# -- ensure --------------------------------------------------------------------------------------
def ensure_backends(
    store_path: Path | None, backend_name: str, url: str | None, geodes_url: str | None
) -> tuple[Any, Any]:
    """The jobs façade (new jobs go to ``backend_name``) and the GEODES backend searched for
    existing L2A: shared by ``maja ensure`` and ``maja calendar``, so both see the same."""
    jobs = _jobs(store_path, backend_name, url)
    geodes = (
        jobs.backend
        if spec_for(backend_name).l2a and not geodes_url
        else open_backend(l2a_backend().name, geodes_url)
    )
    return jobs, geodes


def ensure_options(func: F) -> F:
    """Where and when ``ensure`` looks (shared with ``maja calendar``); the orbit is added by
    each command (``calendar`` also reads an older ``-o FILE`` as its output)."""
    options = [
        backend_options,
        store_option,
        click.option("-t", "--tile", required=True, help="MGRS tile."),
        click.option(
            "-d", "-s", "--start-date", "--start_date", "--start", "start", required=True,
            help="YYYY-MM-DD",
        ),
        click.option(
            "-e", "-f", "--end-date", "--end_date", "--end", "end", required=True,
            help="YYYY-MM-DD",
        ),
        click.option(
            "--geodes-url",
            help="GEODES server searched for existing L2A (default: --url with --backend geodes).",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


@maja.command()
@ensure_options
@click.option("-o", "--orbit", help="Relative orbit (1-143).")
@click.option(
    "-n",
    "--dry-run",
    "--no-submit",
    "dry_run",
    is_flag=True,
    help="Report what is missing, submit nothing.",
)
@click.option("-y", "--yes", is_flag=True, help="Do not ask before submitting 10 or more jobs.")
@click.option(
    "--resubmit",
    is_flag=True,
    help="Also submit the products the store's jobs already processed or are processing.",
)
def ensure(
    backend_name: str,
    url: str | None,
    store_path: Path | None,
    tile: str,
    start: str,
    end: str,
    orbit: str | None,
    geodes_url: str | None,
    dry_run: bool,
    yes: bool,
    resubmit: bool,
) -> None:
    """Make sure L2A exists for a tile and period: use THEIA L2A already on GEODES and the
    store's MAJA jobs (done or under way), submit MAJA only for the L1C dates that have none."""
    from ..processing.ensure import ensure as run_ensure

    jobs, geodes = ensure_backends(store_path, backend_name, url, geodes_url)

    def confirm(count: int) -> bool:
        return ask(f"Submit {count} per-product MAJA jobs for the missing dates?")

    report = run_ensure(
        jobs,
        geodes,
        tile,
        start,
        end,
        orbit,
        dry_run=dry_run,
        yes=yes,
        confirm=confirm,
        resubmit=resubmit,
    )
    click.echo(
        f"tile {report.tile} from {report.start} to {report.end}: {len(report.l1c)} L1C "
        f"product(s) on {len(report.l1c_dates)} date(s), {len(report.existing)} L2A already "
        f"on GEODES, {len(report.in_store)} product(s) done or under way in the job store"
    )
    for product in report.existing:
        click.echo(f"  exists:    {product.id}")
    for product in report.too_cloudy:
        click.echo(f"  skipped:   {product.id} (over 90% clouds: MAJA would give NOVALD)")
    for product, record in report.in_store:
        click.echo(
            f"  in store:  {product.id} (job {record.id} {record.process}, {record.state.value})"
        )
    if dry_run:
        for product in report.missing:
            click.echo(f"  missing:   {product.id} (would submit)")
    for record in report.submitted:
        click.echo(f"  submitted: {record.label} (job {record.id})")
    click.echo(f"{len(report.missing)} missing, {len(report.submitted)} submitted")
