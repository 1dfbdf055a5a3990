"""MAJA jobs from Python: submit, follow, wait, fetch, list - every step recorded in the store.

The CLI is a thin layer over :class:`MajaJobs`; so is anything a user scripts. A job is
recorded before it is sent, so nothing the server accepted can be forgotten, and each later
step (polls, downloads) reads and updates the same row, from any process.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from ..exceptions import (
    AuthenticationError,
    BackendError,
    PepsPlusError,
    ProcessingError,
)
from ..http_io import redact_url
from ..logs import get_logger
from ..product import Product
from ..staging.options import PollSchedule
from ..vocabulary import shown
from . import checks
from .base import (
    FULL_MAJA,
    MAJA,
    JobState,
    JobStatus,
    ProcessingBackend,
    ResultFile,
    Submission,
)
from .download import DownloadOutcome, download_results, present
from .store import JobRecord, JobStore, live, now_iso, standing, submitter_alive

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack is 3.11+

    from ..backends.base import Backend

logger = get_logger(__name__)

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


@dataclasses.dataclass
class Reconciliation:
    """What became of a job whose submission reply never reached the store.

    ``outcome``: ``acknowledged`` (it had its reference), ``adopted`` (found on the server and
    now followed), ``absent`` (the server provably has no such job: safe to submit again),
    ``refused`` (the server said no), ``in-flight`` (its sender is still running) or
    ``undetermined`` (the server cannot be asked, or did not answer).
    """

    job: JobRecord
    outcome: str
    detail: str = ""
    #: The error that ended following the job, if one did (``lost``, ``unreachable``).
    error: PepsPlusError | None = None

    @property
    def followed(self) -> bool:
        """The job is known on the server and can be polled."""
        return self.outcome in ("acknowledged", "adopted")

    def line(self) -> str:
        """One line for the user."""
        return f"job {self.job.id} ({self.job.label}): {self.outcome}: {self.detail}"


@dataclasses.dataclass
class WaitReport:
    """Where every job stands when ``wait_all`` returns."""

    jobs: list[JobRecord]
    #: Jobs that cannot be followed: never seen on the server, or lost on the way.
    unseen: list[Reconciliation] = dataclasses.field(default_factory=list)
    timed_out: bool = False
    #: Real seconds spent waiting.
    elapsed: float = 0.0

    @property
    def unfinished(self) -> list[JobRecord]:
        return [r for r in self.jobs if not r.is_final]

    @property
    def ok(self) -> bool:
        return not self.unseen and all(r.state is JobState.FINISHED for r in self.jobs)


class WaitOptions(TypedDict, total=False):
    """Keyword options of :meth:`MajaJobs.wait_all` (and ``wait``)."""

    interval: float
    max_interval: float
    backoff: float
    timeout: float | None
    max_failures: int
    on_status: StatusCallback | None
    sleep: Callable[[float], None]
    clock: Callable[[], float]


class MajaJobs:
    """MAJA processing on one backend, with jobs kept in a :class:`JobStore`.

    ``backend`` is where new jobs go; jobs already in the store are followed on the server
    that accepted them, opened with ``backend_factory(name, base_url)`` when it is not
    ``backend`` (by default: ``backend``'s account, or the one credential resolver's, sent
    only if the job's URL is one of that account's origins).
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
        """The server of a stored job: the store holds its URL, never a secret, so the
        account comes from this façade's backend or the one credential resolver, and goes to
        the job's URL only if that is one of the account's origins."""
        if self._factory is not None:
            return self._factory(name, base_url)
        if self.backend is not None and self.backend.name == name:
            return self.backend.sibling(base_url)
        from ..backends import open_backend

        return open_backend(name).sibling(base_url)

    @property
    def processing(self) -> ProcessingBackend:
        if self.backend is None:
            raise ProcessingError("no backend given for new jobs")
        return self.processing_for(self.backend.name, self.backend.base_url)

    # -- submitting --------------------------------------------------------------------------
    # -- reconciling -------------------------------------------------------------------------
    def reconcile(self, job: int | str | JobRecord) -> Reconciliation:
        """Settle a job whose submission was never acknowledged (command killed, reply lost):
        find it on the server by process, inputs and submit time and follow it, or record
        that the server provably never got it. Where the server cannot be asked (WPS has no
        job list), the job stays ``unknown`` and the detail says why."""
        record = job if isinstance(job, JobRecord) else self.store.get(job)
        if record.reference is not None:
            return Reconciliation(record, "acknowledged")
        if record.state not in (JobState.SUBMITTING, JobState.UNKNOWN):
            return Reconciliation(record, "refused", record.message or record.state.value)
        submitted = _parse_stamp(record.submitted_at)
        age = (datetime.now(timezone.utc) - submitted).total_seconds()
        if record.state is JobState.SUBMITTING and submitter_alive(record.submitter, age):
            return Reconciliation(
                record, "in-flight", f"still being submitted by process {record.submitter}"
            )
        return _settle(self, record, submitted)

    def submit_series(
        self,
        tile: str,
        start: str | date | datetime,
        end: str | date | datetime,
        relative_orbit: int | str | None = None,
        *,
        resubmit: bool = False,
    ) -> JobRecord:
        """FULL_MAJA for one tile; every rule is checked before anything is sent. The same
        inputs already done or under way on this server are refused unless ``resubmit``; an
        earlier submission whose reply was lost is reconciled first (see :meth:`reconcile`),
        and ``resubmit`` sends anyway when the server cannot tell."""
        request = checks.check_series(tile, start, end, relative_orbit)
        _refuse_duplicates(self, FULL_MAJA, [request.as_inputs()], resubmit)
        label = f"{request.tile} {request.start}..{request.end}"
        if request.relative_orbit is not None:
            label += f" R{request.relative_orbit:03d}"
        return _submit(
            self,
            FULL_MAJA,
            request.as_inputs(),
            label,
            lambda: self.processing.submit_series(
                request.tile, request.start, request.end, request.relative_orbit
            ),
            resubmit=resubmit,
        )

    def submit_products(
        self,
        products: Sequence[str | Product],
        *,
        yes: bool = False,
        confirm: Callable[[int], bool] | None = None,
        resubmit: bool = False,
    ) -> list[JobRecord]:
        """Per-product MAJA. All names are checked first; a product already done or under way
        on this server refuses the batch unless ``resubmit``; 10 or more need ``yes`` or a
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
        _refuse_duplicates(self, MAJA, [{"product": name} for name in names], resubmit)
        checks.confirm_many(len(names), yes=yes, confirm=confirm)
        records = []
        for name in names:
            records.append(
                _submit(
                    self,
                    MAJA,
                    {"product": name},
                    name,
                    functools.partial(self._send_product, name),
                    resubmit=resubmit,
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
        ``force``; a job the server never acknowledged is reconciled first (:meth:`reconcile`)
        and asked only if found."""
        record = job if isinstance(job, JobRecord) else self.store.get(job)
        if record.reference is None and record.state in (JobState.SUBMITTING, JobState.UNKNOWN):
            record = self.reconcile(record).job
        if record.reference is None or (record.is_final and not force):
            return record
        processing = self.processing_for(record.backend, record.base_url)
        status = processing.status(record.reference, record.status_url)
        self.store.update_status(record.id, status)
        return self.store.get(record.id)

    def wait(self, job: int | str, **options: Unpack[WaitOptions]) -> JobRecord:
        """Poll one job until it ends; ``options`` are :meth:`wait_all`'s.

        Raises:
            ProcessingError: the job is not on the server (never acknowledged and not found),
                or still unfinished after ``timeout`` seconds.
            BackendError: the server could not be reached ``max_failures`` polls in a row.
        """
        report = self.wait_all([job], **options)
        if report.unseen:
            unseen = report.unseen[0]
            raise unseen.error or ProcessingError(unseen.line())
        if report.timed_out:
            raise ProcessingError(timeout_line(report))
        return report.jobs[0]

    def wait_all(
        self,
        jobs: Iterable[int | str | JobRecord],
        *,
        interval: float = 30.0,
        max_interval: float = 600.0,
        backoff: float = 1.5,
        timeout: float | None = None,
        max_failures: int = 20,
        on_status: StatusCallback | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> WaitReport:
        """Poll every job in one loop until all end: each round asks the server once per
        unfinished job, then sleeps (``interval`` x ``backoff`` up to ``max_interval``).

        A job never acknowledged is reconciled first (:meth:`reconcile`); one that cannot be
        found is reported in ``unseen``, never as done. Network hiccups are retried (up to
        ``max_failures`` polls in a row per job); the store is updated at every poll, so an
        interrupted wait loses nothing. At ``timeout`` (real seconds) the last round is made
        and the report says ``timed_out``; jobs keep running on the server.

        Raises:
            AuthenticationError: the server refused the credentials.
        """
        started = clock()
        report = WaitReport([])
        current = {r.id: r for r in _followable(self, jobs, report)}
        failures = dict.fromkeys(current, 0)
        delays = PollSchedule(interval, backoff, max_interval).intervals()
        deadline = None if timeout is None else started + timeout
        while True:
            _poll_once(self, current, failures, max_failures, report, on_status)
            if all(r.is_final for r in current.values()):
                break
            now = clock()
            if deadline is not None and now >= deadline:
                report.timed_out = True
                break
            delay = next(delays)
            pause = delay if deadline is None else min(delay, deadline - now)
            sleep(max(0.0, pause))
        report.jobs = list(current.values())
        report.elapsed = clock() - started
        return report

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
        wanted = _sort_results(self.store, record, folder, report)
        if wanted:
            _download_wanted(self, record, wanted, folder, report, quiet=quiet)
        report.job = self.store.get(record.id)
        return report


def _settle(jobs: MajaJobs, record: JobRecord, submitted: datetime) -> Reconciliation:
    """Ask the server for an unacknowledged job and record what it says (see
    :meth:`MajaJobs.reconcile`)."""
    try:
        processing = jobs.processing_for(record.backend, record.base_url)
        lookup = processing.find_jobs(record.process, dict(record.inputs), submitted)
    except AuthenticationError:
        raise
    except PepsPlusError as exc:
        detail = f"the server could not be asked: {exc}"
        jobs.store.fail_submission(record.id, _unknown(detail), refused=False)
        return Reconciliation(jobs.store.get(record.id), "undetermined", detail)
    claimed = jobs.store.references(record.backend, record.base_url)
    matches = [m for m in lookup.matches if m.reference not in claimed]
    if matches:
        found = matches[0]
        detail = f"found on the server as {found.reference} (same inputs, submitted {record.submitted_at})"
        if len(matches) > 1:
            detail += f"; {len(matches) - 1} other job(s) with the same inputs are on it too"
        jobs.store.complete_submission(record.id, found, message=f"recovered: {detail}")
        return Reconciliation(jobs.store.get(record.id), "adopted", detail)
    if lookup.complete:
        detail = (
            f"the server's job list at {now_iso()} has no {record.process} job with these "
            "inputs from that time: the submission never reached it; submit again"
        )
        jobs.store.fail_submission(record.id, f"never reached the server: {detail}")
        return Reconciliation(jobs.store.get(record.id), "absent", detail)
    detail = lookup.detail or "the server cannot say whether it holds the job"
    jobs.store.fail_submission(record.id, _unknown(detail), refused=False)
    return Reconciliation(jobs.store.get(record.id), "undetermined", detail)


def _followable(
    jobs: MajaJobs, given: Iterable[int | str | JobRecord], report: WaitReport
) -> list[JobRecord]:
    """The jobs a wait can poll; one never acknowledged is reconciled first, and one that
    cannot be found goes to ``report.unseen``."""
    followed: list[JobRecord] = []
    for job in given:
        record = job if isinstance(job, JobRecord) else jobs.store.get(job)
        if record.reference is None:
            result = jobs.reconcile(record)
            if not result.followed:
                report.unseen.append(result)
                continue
            record = result.job
        followed.append(record)
    return followed


def _poll_once(
    jobs: MajaJobs,
    current: dict[int, JobRecord],
    failures: dict[int, int],
    max_failures: int,
    report: WaitReport,
    on_status: StatusCallback | None,
) -> None:
    """One round of :meth:`MajaJobs.wait_all`: every unfinished job asked once, its answer
    recorded; a job lost or unreachable ``max_failures`` times in a row leaves ``current``."""
    for record, answer in _poll_round(jobs, [r for r in current.values() if not r.is_final]):
        if isinstance(answer, ProcessingError):  # the server says no such job (any more)
            report.unseen.append(Reconciliation(record, "lost", str(answer), answer))
            del current[record.id]
            continue
        if isinstance(answer, PepsPlusError):
            failures[record.id] += 1
            if failures[record.id] >= max_failures:
                report.unseen.append(
                    Reconciliation(
                        record,
                        "unreachable",
                        f"{max_failures} polls failed: {answer}",
                        answer,
                    )
                )
                del current[record.id]
                continue
            logger.warning("job %s: %s; will retry", record.id, answer)
        else:
            failures[record.id] = 0
            jobs.store.update_status(record.id, answer)
            record = jobs.store.get(record.id)
        current[record.id] = record
        if on_status is not None:
            on_status(record)


def _sort_results(
    store: JobStore, record: JobRecord, folder: Path, report: FetchReport
) -> list[ResultFile]:
    """The results of a finished job still to download; NOVALD, unsafe and present ones are
    recorded in ``report`` and the store."""
    wanted: list[ResultFile] = []
    for result in record.results:
        if result.novald:
            report.novald.append(result)
            store.record_download(record.id, result.name, "novald", detail="too cloudy")
            continue
        refusal = unusable_name(result)
        if refusal is not None:  # this result fails alone; the others are still fetched
            report.failed.append(DownloadOutcome(result, None, refusal))
            store.record_download(record.id, result.name, "failed", detail=refusal)
        elif present(result, folder):
            path = folder / result.filename
            report.present.append(path)
            store.record_download(
                record.id,
                result.name,
                "present",
                path=str(path),
                size=path.stat().st_size,
                md5=result.md5,
            )
        else:
            wanted.append(result)
    return wanted


def _download_wanted(
    jobs: MajaJobs,
    record: JobRecord,
    wanted: list[ResultFile],
    folder: Path,
    report: FetchReport,
    *,
    quiet: bool,
) -> None:
    processing = jobs.processing_for(record.backend, record.base_url)
    for outcome in download_results(processing, wanted, folder, quiet=quiet):
        name = outcome.result.name
        if outcome.ok and outcome.path is not None:
            report.downloaded.append(outcome.path)
            jobs.store.record_download(
                record.id,
                name,
                "downloaded",
                path=str(outcome.path),
                size=outcome.path.stat().st_size,
                md5=outcome.result.md5,
            )
        else:
            report.failed.append(outcome)
            jobs.store.record_download(record.id, name, "failed", detail=outcome.error)


def _submit(
    jobs: MajaJobs,
    process: str,
    inputs: Mapping[str, object],
    label: str,
    send: Callable[[], Submission],
    *,
    resubmit: bool = False,
) -> JobRecord:
    processing = jobs.processing
    base_url = redact_url(processing.base_url)
    recovered = _earlier_submission(jobs, processing, base_url, process, inputs, resubmit)
    if recovered is not None:
        return recovered
    job_id = jobs.store.begin_submission(
        backend=processing.backend.name,
        base_url=base_url,
        process=process,
        inputs=dict(inputs),
        label=label,
    )
    try:
        submission = send()
    except (ProcessingError, AuthenticationError) as exc:
        jobs.store.fail_submission(job_id, str(exc), refused=True)
        raise
    except BaseException as exc:
        # No clear answer: the server may hold the job. Keep the row as "unknown".
        jobs.store.fail_submission(job_id, f"no answer to the submission: {exc}", refused=False)
        raise
    jobs.store.complete_submission(job_id, submission)
    return jobs.store.get(job_id)


def _earlier_submission(
    jobs: MajaJobs,
    processing: ProcessingBackend,
    base_url: str,
    process: str,
    inputs: Mapping[str, object],
    resubmit: bool,
) -> JobRecord | None:
    """A job with these inputs whose submission reply was lost: the job found on the server
    (returned: nothing is sent again), or proof the server has none (submit anew), or an
    error unless ``resubmit`` (the user accepts a possible duplicate)."""
    same = _canonical(inputs)
    for earlier in jobs.store.list(
        states=[JobState.SUBMITTING, JobState.UNKNOWN],
        backend=processing.backend.name,
        base_url=base_url,
        process=process,
    ):
        if earlier.reference is not None or _canonical(earlier.inputs) != same:
            continue
        result = jobs.reconcile(earlier)
        if result.followed:
            logger.warning("%s: not submitted again", result.line())
            return result.job
        if result.outcome in ("in-flight", "undetermined") and not resubmit:
            raise ProcessingError(
                f"job {earlier.id} with the same inputs may already be on the server "
                f"({result.detail}); not submitted again. Pass --resubmit (resubmit=True) "
                "to submit anyway, at the risk of a duplicate job"
            )
    return None


def _refuse_duplicates(
    jobs: MajaJobs, process: str, inputs: Sequence[Mapping[str, object]], resubmit: bool
) -> None:
    """Submitting what this server already did or is doing costs hours of its cluster for
    nothing (the legacy README's two per-product examples in a row made 18 duplicates):
    refused, before anything is sent, unless ``resubmit``."""
    if resubmit:
        return
    processing = jobs.processing
    wanted = {_canonical(i) for i in inputs}
    earlier = [
        r
        for r in jobs.store.list(
            backend=processing.backend.name,
            base_url=redact_url(processing.base_url),
            process=process,
        )
        if r.reference is not None and live(r) and _canonical(r.inputs) in wanted
    ]
    if not earlier:
        return
    answering = {_canonical(r.inputs): r for r in sorted(earlier, key=standing, reverse=True)}
    shown_jobs = sorted(answering.values(), key=lambda r: r.id)
    listed = ", ".join(f"job {r.id} {r.label} {r.state.value}" for r in shown_jobs[:3])
    more = f" and {len(shown_jobs) - 3} more" if len(shown_jobs) > 3 else ""
    raise ProcessingError(
        f"{len(answering)} of the {len(wanted)} {process} submission(s) already have a job "
        f"on {processing.backend.name} ({listed}{more}); nothing submitted: `peps-plus maja "
        f"fetch {' '.join(str(r.id) for r in shown_jobs)}` gets their results, --resubmit "
        "(resubmit=True) processes them again"
    )


def _poll_round(
    jobs: MajaJobs, records: Sequence[JobRecord]
) -> Sequence[tuple[JobRecord, JobStatus | PepsPlusError]]:
    """One status answer (or error) per job, asking each server for all of its jobs at once
    (:meth:`ProcessingBackend.statuses`)."""
    groups: dict[tuple[str, str], list[JobRecord]] = {}
    for record in records:
        groups.setdefault((record.backend, record.base_url.rstrip("/")), []).append(record)
    answers: dict[int, JobStatus | PepsPlusError] = {}
    for (name, base_url), members in groups.items():
        processing = jobs.processing_for(name, base_url)
        found = processing.statuses([(str(r.reference), r.status_url) for r in members])
        for record in members:
            answers[record.id] = found.get(
                str(record.reference), BackendError(f"job {record.id}: no answer")
            )
    return [(record, answers[record.id]) for record in records]


def unusable_name(result: ResultFile) -> str | None:
    """Why a result named by the server cannot be saved (a path, ``..``, NUL, too long...),
    or None: checked per result before any transfer, by staging's one file-name rule."""
    from ..staging.file_names import name_problem

    for name in (result.filename, result.filename[: -len(".zip")]):
        problem = name_problem(name)
        if problem is not None:
            return f"unsafe result name {shown(result.name)} refused: {problem}"
    return None


def timeout_line(report: WaitReport) -> str:
    left = ", ".join(f"job {r.id} still {r.state.value}" for r in report.unfinished)
    return (
        f"{left} after {report.elapsed:.0f} s of waiting; run wait again later "
        "(the jobs are kept in the store and keep running on the server)"
    )


def _canonical(inputs: Mapping[str, Any]) -> str:
    return json.dumps(dict(inputs), sort_keys=True, default=str)


def _parse_stamp(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return datetime.now(timezone.utc)


def _unknown(detail: str) -> str:
    return f"submission not acknowledged; {detail}"


def _centre_latitude(product: Product) -> float | None:
    if not product.geometry:
        return None
    try:
        from shapely.geometry import shape

        return float(shape(product.geometry).centroid.y)
    except (ValueError, TypeError, AttributeError, KeyError):
        return None


__all__ = [
    "FetchReport",
    "JobRecord",
    "JobStore",
    "MajaJobs",
    "PepsPlusError",
    "Reconciliation",
    "WaitReport",
]
