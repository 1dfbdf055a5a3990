"""Process only what is missing: many MAJA L2A products already exist on GEODES.

``ensure`` lists the L1C dates of a tile and period, the THEIA L2A products GEODES already
has (``THEIA_REFLECTANCE_SENTINEL2_L2A``), and submits MAJA only for L1C products with no L2A,
no job already in the store, and a chance of giving a result (MAJA produces nothing above
90% clouds).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING

from ..collection_names import MAJA_L1C_QUERY, MAJA_OUTPUT
from ..exceptions import InvalidQueryError
from ..product import Product
from ..query import Query
from ..vocabulary import mgrs_tile
from . import checks
from .base import FULL_MAJA, JobState
from .store import JobRecord, live, product_jobs, standing

if TYPE_CHECKING:
    from ..backends.base import Backend
    from .jobs import MajaJobs

__all__ = [
    "EnsureReport",
    "MAX_USEFUL_CLOUD_COVER",
    "THEIA_L2A_COLLECTION",
    "acquisition_day",
    "covered",
    "ensure",
    "find_l1c",
    "find_l2a",
    "l2a_query",
    "name_day",
    "series_job",
]

#: GEODES's collection of MAJA L2A products (the collections table's).
THEIA_L2A_COLLECTION = MAJA_OUTPUT.geodes or ""
#: MAJA gives NOVALD (nothing) above this cloud cover.
MAX_USEFUL_CLOUD_COVER = 90.0
_PLATFORM = re.compile(r"(?:S2|SENTINEL-?2)([A-D])", re.IGNORECASE)
_NAME_DAY = re.compile(r"(\d{8})[T-]\d{6}")


@dataclasses.dataclass
class EnsureReport:
    tile: str
    start: date
    end: date
    relative_orbit: int | None
    l1c: list[Product] = dataclasses.field(default_factory=list)
    #: L2A products that already exist (nothing to do for their dates).
    existing: list[Product] = dataclasses.field(default_factory=list)
    #: L1C products above 90% clouds: MAJA would produce nothing.
    too_cloudy: list[Product] = dataclasses.field(default_factory=list)
    #: L1C products a job of the store already processed or is processing (per-product, or a
    #: FULL_MAJA series over their date), with that job.
    in_store: list[tuple[Product, JobRecord]] = dataclasses.field(default_factory=list)
    #: L1C products with no L2A: what was (or, dry run, would be) submitted.
    missing: list[Product] = dataclasses.field(default_factory=list)
    submitted: list[JobRecord] = dataclasses.field(default_factory=list)

    @property
    def l1c_dates(self) -> list[str]:
        """The distinct acquisition dates of the L1C products (a date has several products:
        two satellites, two orbits, split granules)."""
        return sorted({d for p in self.l1c if (d := acquisition_day(p)) is not None})


def acquisition_day(product: Product) -> str | None:
    """``YYYY-MM-DD`` the product was acquired, from its start or else its name."""
    start = str(product.properties.get("start_datetime") or "")
    if start:
        return start[:10]
    return name_day(product.id)


def name_day(name: str) -> str | None:
    """``YYYY-MM-DD`` of an L1C or L2A name (``..._20190301T103021_...``, ``..._20190301-103021-...``)."""
    match = _NAME_DAY.search(name)
    if match is None:
        return None
    text = match.group(1)
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _platform(product: Product) -> str | None:
    for text in (str(product.properties.get("platform") or ""), product.id):
        match = _PLATFORM.search(text)
        if match:
            return match.group(1).upper()
    return None


def _orbit(product: Product) -> int | None:
    value = product.properties.get("sat:relative_orbit")
    if value is not None:
        return int(value)
    match = re.search(r"_R(\d{3})_", product.id)
    return int(match.group(1)) if match else None


def covered(l1c: Product, l2a_keys: set[tuple[str | None, str | None, int | None]]) -> bool:
    """An L2A of the same day, satellite and (when both are known) relative orbit exists."""
    day, platform, orbit = acquisition_day(l1c), _platform(l1c), _orbit(l1c)
    return (
        (day, platform, orbit) in l2a_keys
        or (orbit is not None and (day, platform, None) in l2a_keys)
        or (orbit is None and any(k[:2] == (day, platform) for k in l2a_keys))
    )


def l2a_query(tile: str, start: date, end: date) -> Query:
    """The THEIA L2A search: the GEODES backend routes this product type to
    ``THEIA_REFLECTANCE_SENTINEL2_L2A``."""
    from ..backends.geodes import MAJA_L2A_TYPE

    return Query.create(
        product_type=MAJA_L2A_TYPE, tile=tile, start=start.isoformat(), end=end.isoformat()
    )


def find_l2a(geodes: Backend, tile: str, start: date, end: date) -> list[Product]:
    return list(geodes.search(l2a_query(tile, start, end)))


def find_l1c(
    backend: Backend, tile: str, start: date, end: date, orbit: int | None
) -> list[Product]:
    query = Query.create(
        **MAJA_L1C_QUERY,
        tile=tile,
        start=start.isoformat(),
        end=end.isoformat(),
        relative_orbit=orbit,
    )
    return list(backend.search(query))


def _checked_report(
    tile: str,
    start: str | date | datetime,
    end: str | date | datetime,
    relative_orbit: int | str | None,
) -> EnsureReport:
    """An empty report for ``ensure``'s inputs, once every rule on them is checked."""
    normalized = mgrs_tile(tile)
    first, last = checks.as_date(start, "start"), checks.as_date(end, "end")
    if last < first:
        raise InvalidQueryError(f"end {last} is before start {first}")
    if last <= checks.EARLIEST_END:
        raise InvalidQueryError(
            f"end: {last} is not after {checks.EARLIEST_END}; older L1C products lack what "
            "MAJA needs"
        )
    if (last - first).days > checks.MAX_PERIOD_DAYS:
        raise InvalidQueryError(
            f"period: {first} to {last} is {(last - first).days} days; ensure covers at most "
            f"{checks.MAX_PERIOD_DAYS} days at a time"
        )
    orbit = checks.check_orbit(relative_orbit)
    checks.check_tile_latitude(normalized)
    return EnsureReport(normalized, first, last, orbit)


def ensure(
    jobs: MajaJobs,
    geodes: Backend,
    tile: str,
    start: str | date | datetime,
    end: str | date | datetime,
    relative_orbit: int | str | None = None,
    *,
    dry_run: bool = False,
    yes: bool = False,
    confirm: Callable[[int], bool] | None = None,
    resubmit: bool = False,
) -> EnsureReport:
    """Find existing L2A on ``geodes`` and in the job store, submit per-product MAJA on
    ``jobs.backend`` for the L1C dates that lack both. ``resubmit`` also submits the products
    the store's jobs did or are doing. Checks run before any search; nothing is sent on bad
    input."""
    if jobs.backend is None:
        raise InvalidQueryError("ensure: no processing backend given")
    report = _checked_report(tile, start, end, relative_orbit)
    normalized, first, last, orbit = report.tile, report.start, report.end, report.relative_orbit
    report.existing = [
        p
        for p in find_l2a(geodes, normalized, first, last)
        if orbit is None or _orbit(p) in (None, orbit)
    ]
    report.l1c = sorted(find_l1c(jobs.backend, normalized, first, last, orbit), key=lambda p: p.id)
    keys = {(acquisition_day(p), _platform(p), _orbit(p)) for p in report.existing}
    records = jobs.list()
    per_product = {n: r for n, r in product_jobs(records).items() if live(r)}
    for product in report.l1c:
        if covered(product, keys):
            continue
        clouds = product.properties.get("eo:cloud_cover")
        job = per_product.get(product.id) or series_job(product, normalized, records)
        if clouds is not None and float(clouds) > MAX_USEFUL_CLOUD_COVER:
            report.too_cloudy.append(product)
        elif job is not None and not resubmit:
            report.in_store.append((product, job))
        else:
            report.missing.append(product)
    if report.missing and not dry_run:
        report.submitted = jobs.submit_products(
            report.missing, yes=yes, confirm=confirm, resubmit=resubmit
        )
    return report


def series_job(product: Product, tile: str, records: Iterable[JobRecord]) -> JobRecord | None:
    """The FULL_MAJA job of the store that answers for this L1C product's date: one on its
    tile, period and orbit that is under way, or finished with a result (an L2A or a NOVALD)
    for that date; a finished series that left the date out (unprocessed) does not count."""
    day, orbit = acquisition_day(product), _orbit(product)
    found = []
    for record in records:
        if record.process != FULL_MAJA or not live(record):
            continue
        inputs = record.inputs
        if mgrs_tile(str(inputs.get("tile", ""))) != tile:
            continue
        if not (day and str(inputs.get("start", "")) <= day <= str(inputs.get("end", ""))):
            continue
        wanted = inputs.get("relative_orbit")
        if wanted is not None and orbit is not None and int(wanted) != orbit:
            continue
        if record.state is JobState.FINISHED and not any(
            name_day(r.name) == day for r in record.results
        ):
            continue
        found.append(record)
    return min(found, key=standing) if found else None
