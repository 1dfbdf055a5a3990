"""What every processing service offers, whatever protocol it speaks.

PEPS ran MAJA behind WPS 1.0.0, GEODES runs processes behind OGC API - Processes; both are
reduced to the same few operations and records, so the job store, the CLI and ``ensure`` are
written once.
"""

from __future__ import annotations

import abc
import dataclasses
import enum
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import requests

from ..exceptions import AuthenticationError, ForeignOriginError, PepsPlusError
from ..http_io import archive_headers, redact_url, reply_link_problem
from ..product import Product

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = [
    "FULL_MAJA",
    "JobLookup",
    "JobState",
    "JobStatus",
    "LOOKUP_WINDOW",
    "MAJA",
    "MAX_REPLY_BYTES",
    "ProcessingBackend",
    "ResultFile",
    "SERVER_TEXT",
    "Submission",
    "byte_count",
    "server_text",
]

#: Process names as the user knows them from PEPS.
MAJA = "MAJA"
FULL_MAJA = "FULL_MAJA"


class JobState(str, enum.Enum):
    """Backend-neutral job states (WPS and OGC words are mapped onto these)."""

    #: Recorded locally, not yet acknowledged by the server (a crash here leaves this state).
    SUBMITTING = "submitting"
    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self in (JobState.FINISHED, JobState.FAILED, JobState.CANCELED)


@dataclasses.dataclass(frozen=True)
class ResultFile:
    """One L2A archive a finished job produced.

    ``NOVALD`` names are dates too cloudy to produce anything: listed, never downloaded.
    """

    name: str
    url: str
    size: int | None = None
    md5: str | None = None

    @property
    def novald(self) -> bool:
        return "NOVALD" in self.name.upper()

    @property
    def filename(self) -> str:
        return self.name if self.name.lower().endswith(".zip") else f"{self.name}.zip"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultFile:
        return cls(
            name=str(data["name"]),
            url=str(data["url"]),
            size=byte_count(data.get("size")),
            md5=str(data["md5"]).lower() if data.get("md5") else None,
        )

    def as_product(self, backend: str) -> Product:
        """A minimal catalogue record, so results go through the same downloader as L1C."""
        stem = self.filename[: -len(".zip")]
        return Product(
            id=stem,
            native_id=stem,
            backend=backend,
            geometry={},
            properties={"title": stem},
            download_url=self.url,
            size=self.size,
            md5=self.md5,
        )


@dataclasses.dataclass
class JobStatus:
    """A job as the server reported it at one moment."""

    state: JobState
    #: 0-100; PEPS's figure is known to be optimistic.
    progress: float | None = None
    message: str | None = None
    results: list[ResultFile] = dataclasses.field(default_factory=list)
    #: L1C products the job could not process (often tape retrieval failures).
    unprocessed: int | None = None
    #: The server's own word (``STALLED``, ``accepted``...), for display.
    server_status: str | None = None


@dataclasses.dataclass(frozen=True)
class Submission:
    """What the server handed back when it accepted a job."""

    reference: str
    status_url: str | None
    process: str
    inputs: dict[str, Any]


@dataclasses.dataclass
class JobLookup:
    """What a server's job list says about a submission whose reply was lost.

    ``matches`` are the server's jobs with the same process and inputs, created around the
    submission time; ``complete`` is True only when the server answered for every job it
    holds in that window (so no match proves it never got the submission).
    """

    matches: list[Submission]
    complete: bool
    detail: str = ""


#: Longest server text (a job's message, an exception report) kept or shown.
SERVER_TEXT = 500


def byte_count(value: Any) -> int | None:
    """A size from a server reply (``1234``, ``"1234"``), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def server_text(value: Any, limit: int = SERVER_TEXT) -> str:
    """A server's own words (a job message, an exception report), cut to ``limit``
    characters: kept in the store and shown in one line."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else f"{text[: limit - 1]}\N{HORIZONTAL ELLIPSIS}"


#: Largest processing reply read into memory (status, report, job list, results list): a
#: status document is a few kB, a hostile one must not fill the memory.
MAX_REPLY_BYTES = 16 * 2**20


#: How far a server's ``created`` time may be from ours (clock skew, queueing).
LOOKUP_WINDOW = timedelta(minutes=15)


class ProcessingBackend(abc.ABC):
    """MAJA on one server. Implementations translate; they do not validate user input (see
    :mod:`.checks`), so a test can still send what the server must refuse."""

    #: Protocol name (``wps``, ``ogc``).
    protocol: ClassVar[str]

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        #: Status and result look-ups: retried, credentials bound to the backend's origins
        #: (a status or result URL taken from a reply gets no credential if it is elsewhere).
        self.session = backend.service_session
        self.timeout = backend.timeout
        #: Submissions: never resent when a reply was lost (that would duplicate a job).
        self.submit_session = backend.submit_session

    @property
    def base_url(self) -> str:
        return self.backend.base_url

    def follow(self, url: str, what: str) -> str:
        """``url`` if it may be fetched: links in replies (status locations, results, next
        pages) are the server's word, and must not aim requests at this machine, a cloud
        metadata address or another host (:func:`~..http_io.reply_link_problem`).

        Raises:
            ForeignOriginError: the link is refused; nothing was sent.
        """
        problem = reply_link_problem(url, self.base_url, self.backend.credential_origins)
        if problem is None:
            return url
        variable = f"EODAG__{self.backend.spec.provider.upper()}__AUTH__TRUSTED_ORIGINS"
        hint = f"; to follow it, add its origin to {variable}" if "origin" in problem else ""
        raise ForeignOriginError(
            f"{what}: refused to follow {redact_url(url)[:200]!r} from the server's reply: "
            f"{problem}{hint}"
        )

    @abc.abstractmethod
    def submit_product(self, product: str) -> Submission:
        """MAJA on one L1C product (its ESA name)."""

    @abc.abstractmethod
    def submit_series(
        self, tile: str, start: date, end: date, relative_orbit: int | None = None
    ) -> Submission:
        """FULL_MAJA: a whole time series for one tile."""

    @abc.abstractmethod
    def status(self, reference: str, status_url: str | None = None) -> JobStatus:
        """Ask the server where the job is (state, progress, results when finished)."""

    def find_jobs(self, process: str, inputs: dict[str, Any], submitted: datetime) -> JobLookup:
        """Look for the job a lost submission may have created (same process and inputs,
        created within :data:`LOOKUP_WINDOW` of ``submitted``). Protocols without a job list
        cannot tell."""
        return JobLookup(
            [],
            complete=False,
            detail=f"{self.protocol.upper()} offers no job list to look the job up in",
        )

    def statuses(
        self, jobs: Sequence[tuple[str, str | None]]
    ) -> dict[str, JobStatus | PepsPlusError]:
        """Where several jobs (``(reference, status_url)``) are, each answer or the error that
        came instead; one status request per job here, fewer where the server lists jobs."""
        found: dict[str, JobStatus | PepsPlusError] = {}
        for reference, status_url in jobs:
            try:
                found[reference] = self.status(reference, status_url)
            except AuthenticationError:
                raise
            except PepsPlusError as exc:
                found[reference] = exc
        return found

    def results(self, reference: str, status_url: str | None = None) -> list[ResultFile]:
        """The files of a finished job (empty while it runs)."""
        return self.status(reference, status_url).results

    def open_result(
        self,
        result: ResultFile,
        *,
        offset: int = 0,
        if_range: str | None = None,
        end: int | None = None,
    ) -> requests.Response:
        """A streamed, authenticated GET of a result file (the staging downloader's hook).

        Result URLs come from the server's reply: the account goes with the request only if
        the URL is on the server's own origins.

        Raises:
            AuthenticationError: the server needs credentials that are not configured.
            ForeignOriginError: the URL is on another host; nothing was sent.
        """
        what = f"download of MAJA result {result.name[:200]}"
        self.backend.require_credentials(what)
        url = self.backend.check_origin(self.follow(result.url, what), what)
        return self.backend.archive_session.get(
            url, headers=archive_headers(offset, if_range, end), stream=True, timeout=self.timeout
        )

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend.name, "url": self.base_url, "protocol": self.protocol}
