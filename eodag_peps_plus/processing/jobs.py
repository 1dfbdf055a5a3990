"""MAJA jobs from Python: submit, follow, wait, fetch, list - every step recorded in the store.

The CLI is a thin layer over :class:`MajaJobs`; so is anything a user scripts. A job is
recorded before it is sent, so nothing the server accepted can be forgotten, and each later
step (polls, downloads) reads and updates the same row, from any process.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import AuthenticationError, BackendError, PepsPlusError, ProcessingError
from ..product import Product
from . import checks
from .base import FULL_MAJA, MAJA, JobState, ProcessingBackend, ResultFile, Submission
from .download import DownloadOutcome, download_results, present
from .store import JobRecord, JobStore

if TYPE_CHECKING:
    from ..backends.base import Backend

logger = logging.getLogger(__name__)

BackendFactory = Callable[[str, str], "Backend"]
StatusCallback = Callable[[JobRecord], None]


@dataclasses.dataclass
class FetchReport:
    """What ``fetch`` did for one job."""

    job: JobRecord
    downloaded: list[Path] = dataclasses.field(default_factory=list)
    present: list[Path] = dataclasses.field(default_factory=list)
    novald: list[ResultFile] = dataclasses.field(default_factory=list)
    failed: list[DownloadOutcome] = dataclasses.field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.job.state is JobState.FINISHED

    @property
    def unprocessed(self) -> int:
        return self.job.unprocessed or 0


class MajaJobs:
    """MAJA processing on one backend, with jobs kept in a :class:`JobStore`.

    ``backend`` is where new jobs go; jobs already in the store are followed on the server
    that accepted them, opened with ``backend_factory(name, base_url)`` when it is not
    ``backend`` (by default: the same credentials if the backend name matches).
    """

    def __init__(
        self,
        backend: Backend | None = None,
        store: JobStore | None = None,
        *,
        backend_factory: BackendFactory | None = None,
    ) -> None:
        self.backend = backend
        self.store = store if store is not None else JobStore()
        self._factory = backend_factory
        self._processing: dict[tuple[str, str], ProcessingBackend] = {}

    # -- backends ----------------------------------------------------------------------------
    def processing_for(self, name: str, base_url: str) -> ProcessingBackend:
        key = (name, base_url.rstrip("/"))
        if key not in self._processing:
            backend = self.backend
            if backend is None or (backend.name, backend.base_url) != key:
                backend = self._open_backend(*key)
            from . import processing_for

            self._processing[key] = processing_for(backend)
        return self._processing[key]

    def _open_backend(self, name: str, base_url: str) -> Backend:
        if self._factory is not None:
            return self._factory(name, base_url)
        from ..backends import get_backend

        credentials = (
            self.backend.credentials if self.backend and self.backend.name == name else None
        )
        return get_backend(name, base_url, credentials=credentials)

    @property
    def processing(self) -> ProcessingBackend:
        if self.backend is None:
            raise ProcessingError("no backend given for new jobs")
        return self.processing_for(self.backend.name, self.backend.base_url)

    # -- submitting --------------------------------------------------------------------------
    def _submit(
        self, process: str, inputs: Mapping[str, object], label: str, send: Callable[[], Submission]
    ) -> JobRecord:
        processing = self.processing
        job_id = self.store.begin_submission(
            backend=processing.backend.name,
            base_url=processing.base_url,
            process=process,
            inputs=dict(inputs),
            label=label,
        )
        try:
            submission = send()
        except (ProcessingError, AuthenticationError) as exc:
            self.store.fail_submission(job_id, str(exc), refused=True)
            raise
        except BaseException as exc:
            # No clear answer: the server may hold the job. Keep the row as "unknown".
            self.store.fail_submission(job_id, f"no answer to the submission: {exc}", refused=False)
            raise
        self.store.complete_submission(job_id, submission)
        return self.store.get(job_id)

    def submit_series(
        self,
        tile: str,
        start: str | date | datetime,
        end: str | date | datetime,
        relative_orbit: int | str | None = None,
    ) -> JobRecord:
        """FULL_MAJA for one tile; every rule is checked before anything is sent."""
        request = checks.check_series(tile, start, end, relative_orbit)
        label = f"{request.tile} {request.start}..{request.end}"
        if request.relative_orbit is not None:
            label += f" R{request.relative_orbit:03d}"
        return self._submit(
            FULL_MAJA,
            request.as_inputs(),
            label,
            lambda: self.processing.submit_series(
                request.tile, request.start, request.end, request.relative_orbit
            ),
        )

    def submit_products(
        self,
        products: Sequence[str | Product],
        *,
        yes: bool = False,
        confirm: Callable[[int], bool] | None = None,
    ) -> list[JobRecord]:
        """Per-product MAJA. All names are checked first; 10 or more need ``yes`` or a
        ``confirm(count)`` callback answering True."""
        names: list[str] = []
        for product in products:
            if isinstance(product, Product):
                names.append(checks.check_product(product.id, _centre_latitude(product)))
            else:
                names.append(checks.check_product(str(product)))
        names = list(dict.fromkeys(names))
        if not names:
            raise ProcessingError("no product to process")
        checks.confirm_many(len(names), yes=yes, confirm=confirm)
        records = []
        for name in names:
            records.append(
                self._submit(
                    MAJA, {"product": name}, name, functools.partial(self._send_product, name)
                )
            )
        return records

    def _send_product(self, name: str) -> Submission:
        return self.processing.submit_product(name)

    # -- following ---------------------------------------------------------------------------
    def get(self, job: int | str) -> JobRecord:
        return self.store.get(job)

    def list(self, *, active_only: bool = False) -> list[JobRecord]:
        if active_only:
            return self.store.list(
                states=[JobState.SUBMITTING, JobState.PENDING, JobState.RUNNING, JobState.UNKNOWN]
            )
        return self.store.list()

    def refresh(self, job: int | str | JobRecord, *, force: bool = False) -> JobRecord:
        """Ask the server once and record the answer. Final jobs are not asked again unless
        ``force``; a job the server never acknowledged cannot be asked at all."""
        record = job if isinstance(job, JobRecord) else self.store.get(job)
        if record.reference is None or (record.is_final and not force):
            return record
        processing = self.processing_for(record.backend, record.base_url)
        status = processing.status(record.reference, record.status_url)
        self.store.update_status(record.id, status)
        return self.store.get(record.id)

    def wait(
        self,
        job: int | str,
        *,
        interval: float = 30.0,
        max_interval: float = 600.0,
        backoff: float = 1.5,
        timeout: float | None = None,
        max_failures: int = 20,
        on_status: StatusCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> JobRecord:
        """Poll until the job ends, spacing polls out (``interval`` x ``backoff`` up to
        ``max_interval``). Network hiccups are retried (up to ``max_failures`` polls in a
        row); the store is updated at every poll, so an interrupted wait loses nothing and a
        new one picks up where it was."""
        record = self.store.get(job)
        if record.reference is None:
            raise ProcessingError(
                f"job {record.id} was never acknowledged by the server "
                f"({record.message or record.state.value})"
            )
        delay = interval
        failures = 0
        started = time.monotonic()
        while True:
            try:
                record = self.refresh(record.id)
            except (AuthenticationError, ProcessingError):
                raise
            except BackendError as exc:
                failures += 1
                if failures >= max_failures:
                    raise
                logger.warning("job %s: %s; will retry", record.id, exc)
            else:
                failures = 0
            if on_status is not None:
                on_status(record)
            if record.is_final:
                return record
            if timeout is not None and time.monotonic() - started + delay > timeout:
                raise ProcessingError(
                    f"job {record.id} still {record.state.value} after {timeout:g} s; "
                    "run wait again later (the job is kept in the store)"
                )
            sleep(delay)
            delay = min(max_interval, delay * backoff)

    # -- results -----------------------------------------------------------------------------
    def fetch(
        self,
        job: int | str,
        out_dir: str | Path = ".",
        *,
        quiet: bool = True,
    ) -> FetchReport:
        """Download a finished job's L2A archives, skipping NOVALD (too cloudy) dates and files
        already present; each outcome is recorded. An unfinished job downloads nothing."""
        record = self.refresh(job)
        report = FetchReport(record)
        if record.state is not JobState.FINISHED:
            return report
        folder = Path(out_dir)
        wanted: list[ResultFile] = []
        for result in record.results:
            if result.novald:
                report.novald.append(result)
                self.store.record_download(record.id, result.name, "novald", detail="too cloudy")
            elif present(result, folder):
                path = folder / result.filename
                report.present.append(path)
                self.store.record_download(
                    record.id,
                    result.name,
                    "present",
                    path=str(path),
                    size=path.stat().st_size,
                    md5=result.md5,
                )
            else:
                wanted.append(result)
        if wanted:
            processing = self.processing_for(record.backend, record.base_url)
            for outcome in download_results(processing, wanted, folder, quiet=quiet):
                name = outcome.result.name
                if outcome.ok and outcome.path is not None:
                    report.downloaded.append(outcome.path)
                    self.store.record_download(
                        record.id,
                        name,
                        "downloaded",
                        path=str(outcome.path),
                        size=outcome.path.stat().st_size,
                        md5=outcome.result.md5,
                    )
                else:
                    report.failed.append(outcome)
                    self.store.record_download(record.id, name, "failed", detail=outcome.error)
        report.job = self.store.get(record.id)
        return report


def _centre_latitude(product: Product) -> float | None:
    if not product.geometry:
        return None
    try:
        from shapely.geometry import shape

        return float(shape(product.geometry).centroid.y)
    except (ValueError, TypeError, AttributeError, KeyError):
        return None


__all__ = ["MajaJobs", "FetchReport", "JobRecord", "JobStore", "PepsPlusError"]
