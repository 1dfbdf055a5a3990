"""MAJA on GEODES: OGC API - Processes (part 1) with an ``X-API-Key``.

GEODES documents the process list and the execution request, not the job endpoints nor
whether MAJA is one of its processes, so every path, process id and input name lives in
:class:`OgcConfig` (defaults follow the OGC standard), overridable from Python or with the
``PEPS_PLUS_GEODES_PROCESSING`` environment variable (a JSON object of ``OgcConfig`` fields).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterator, Sequence
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import orjson
import requests

from ..exceptions import AuthenticationError, BackendError, PepsPlusError, ProcessingError
from ..http_io import check_status, error_detail, send
from ..vocabulary import shown
from .base import (
    FULL_MAJA,
    LOOKUP_WINDOW,
    MAJA,
    MAX_REPLY_BYTES,
    JobLookup,
    JobState,
    JobStatus,
    ProcessingBackend,
    ResultFile,
    Submission,
    byte_count,
    server_text,
)

__all__ = [
    "CONFIG_ENV",
    "LOOKUP_MAX_PAGES",
    "LOOKUP_PAGE",
    "OGC_STATES",
    "OgcConfig",
    "OgcProcessing",
    "parse_results",
]

CONFIG_ENV = "PEPS_PLUS_GEODES_PROCESSING"
#: OGC ``statusInfo.status`` -> our states.
OGC_STATES = {
    "accepted": JobState.PENDING,
    "running": JobState.RUNNING,
    "successful": JobState.FINISHED,
    "failed": JobState.FAILED,
    "dismissed": JobState.CANCELED,
}
_RESULTS_RELS = ("results", "http://www.opengis.net/def/rel/ogc/1.0/results")


@dataclasses.dataclass(frozen=True)
class OgcConfig:
    """Where GEODES's processing lives and what its MAJA processes are called."""

    root: str = "/api/processing"
    processes_path: str = "processes"
    jobs_path: str = "jobs"
    maja_process: str = "maja"
    full_maja_process: str = "full-maja"
    product_input: str = "product-title"
    tile_input: str = "tile-id"
    start_input: str = "start-date"
    end_input: str = "end-date"
    orbit_input: str = "relative-orbit"
    notify_input: str | None = "notif-email"
    #: Some GEODES pages omit the ``/api`` prefix: try without it when the list is not found.
    try_without_api_prefix: bool = True

    @classmethod
    def from_env(cls, **overrides: Any) -> OgcConfig:
        values: dict[str, Any] = {}
        text = os.environ.get(CONFIG_ENV)
        if text:
            try:
                values = dict(json.loads(text))
            except (ValueError, TypeError):
                raise ProcessingError(f"{CONFIG_ENV}: not a JSON object") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ProcessingError(
                f"{CONFIG_ENV}: unknown field(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(known))}"
            )
        return cls(**values)


#: Jobs per page asked of ``/jobs``, and at most this many pages read while reconciling.
LOOKUP_PAGE = 100
LOOKUP_MAX_PAGES = 20


class _PagingStopped(BackendError):
    """A job list that pages on past the bound, or in a cycle."""


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _job_id(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    value = info.get("jobID") or info.get("jobId") or info.get("id")
    return str(value) if isinstance(value, (str, int)) and str(value) else None


def _same_inputs(wanted: dict[str, Any], got: dict[str, Any]) -> bool:
    """Every input we send has the same value on the server (``"51"`` == ``51``); inputs the
    server added (defaults) do not matter."""

    def norm(value: Any) -> str:
        if isinstance(value, dict) and "value" in value:  # qualified input value
            value = value["value"]
        return str(value).strip().lower()

    return all(key in got and norm(got[key]) == norm(value) for key, value in wanted.items())


def _status_info(info: dict[str, Any]) -> JobStatus:
    """An OGC ``statusInfo`` object -> :class:`JobStatus` (results not included)."""
    word = server_text(info.get("status") or "", 40).lower()
    state = OGC_STATES.get(word, JobState.UNKNOWN)
    progress = info.get("progress")
    message = info.get("message")
    return JobStatus(
        state=state,
        progress=100.0
        if state is JobState.FINISHED
        else (
            min(100.0, max(0.0, float(progress)))
            if isinstance(progress, (int, float))
            and not isinstance(progress, bool)
            and math.isfinite(progress)
            else None
        ),
        message=server_text(message) if message else None,
        server_status=word or None,
    )


def _link_list(data: Any) -> list[dict[str, Any]]:
    """The ``links`` of a reply, keeping only link objects."""
    links = data.get("links") if isinstance(data, dict) else None
    return [link for link in links if isinstance(link, dict)] if isinstance(links, list) else []


def _next_link(data: Any, url: str) -> str | None:
    for link in _link_list(data):
        if link.get("rel") == "next" and isinstance(link.get("href"), str):
            return urljoin(url, link["href"])
    return None


def _multihash_md5(value: str) -> str | None:
    text = value.strip().lower()
    if text.startswith("d510") and len(text) == 36:
        return text[4:]
    if len(text) == 32:
        return text
    return None


def _links(obj: Any) -> list[dict[str, Any]]:
    """Every ``{"href": ...}`` object in a results document, outputs in document order (walked
    with a stack: a hostile document nests deeper than Python recursion goes)."""
    found: list[dict[str, Any]] = []
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("href"), str) and node.get("rel") not in (
                "self",
                "up",
                "status",
            ):
                found.append(node)
            else:
                stack.extend(reversed([v for k, v in node.items() if k != "links"]))
        elif isinstance(node, list):
            stack.extend(reversed(node))
    return found


def parse_results(data: Any, base_url: str) -> tuple[list[ResultFile], int | None]:
    """An OGC results document -> files (links) and the ``unprocessed`` count if given."""
    files: list[ResultFile] = []
    seen: set[str] = set()
    for link in _links(data):
        url = urljoin(base_url, link["href"])
        if url in seen:
            continue
        seen.add(url)
        title = link.get("title")
        name = (
            title
            if isinstance(title, str) and title
            else unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
        )
        size = link.get("file:size", link.get("size", link.get("length")))
        checksum = link.get("file:checksum") or link.get("checksum") or link.get("md5")
        files.append(
            ResultFile(
                name,
                url,
                byte_count(size),
                _multihash_md5(checksum) if isinstance(checksum, str) else None,
            )
        )
    unprocessed = data.get("unprocessed") if isinstance(data, dict) else None
    if isinstance(unprocessed, dict):
        unprocessed = unprocessed.get("value")
    return files, byte_count(unprocessed)


class OgcProcessing(ProcessingBackend):
    """GEODES processing: process list, async execution, ``/jobs/{id}`` and its results."""

    protocol = "ogc"

    def __init__(self, backend: Any, config: OgcConfig | None = None) -> None:
        super().__init__(backend)
        self.config = config or OgcConfig.from_env()
        self._root: str | None = None
        self._process_ids: list[str] | None = None

    # -- plumbing ----------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        once: bool = False,
        allow_404: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        session = self.submit_session if once else self.session
        self.backend.require_credentials(what)
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        response = send(
            session,
            method,
            self.follow(url, what),
            what,
            max_bytes=MAX_REPLY_BYTES,
            headers=headers,
            timeout=self.timeout,
            **kwargs,
        )
        if response.status_code == 404 and allow_404:
            return response
        if response.status_code in (400, 404, 405, 409, 422):
            detail = server_text(error_detail(response))
            raise ProcessingError(f"{what} refused (HTTP {response.status_code}): {detail}")
        check_status(response, what, self.backend.credentials_hint)
        return response

    def _json(self, response: requests.Response, what: str) -> Any:
        try:
            return orjson.loads(response.content)  # refuses nesting past 1024 levels
        except ValueError:
            raise BackendError(
                f"{what}: the server did not answer JSON (HTTP {response.status_code})",
                response.status_code,
            ) from None

    @property
    def root_url(self) -> str:
        return f"{self.base_url}{self._root if self._root is not None else self.config.root}"

    def processes(self) -> list[str]:
        """Ids of the processes the server offers (cached), finding the root on the way."""
        if self._process_ids is not None:
            return self._process_ids
        roots = [self.config.root]
        if self.config.try_without_api_prefix and self.config.root.startswith("/api/"):
            roots.append(self.config.root[len("/api") :])
        last: requests.Response | None = None
        for root in roots:
            url = f"{self.base_url}{root}/{self.config.processes_path}"
            response = self._request("GET", url, "GEODES process list", allow_404=True)
            if response.status_code == 404:
                last = response
                continue
            data = self._json(response, "GEODES process list")
            items = data.get("processes", []) if isinstance(data, dict) else data
            self._root = root
            self._process_ids = [str(p.get("id")) for p in items if isinstance(p, dict)]
            return self._process_ids
        raise ProcessingError(
            f"GEODES process list not found at {self.base_url}{self.config.root}/"
            f"{self.config.processes_path} (HTTP {last.status_code if last else '?'}); "
            f"set the paths in {CONFIG_ENV}"
        )

    def _process_url(self, process_id: str) -> str:
        available = self.processes()
        if process_id not in available:
            raise ProcessingError(
                f"GEODES offers no process {process_id!r} (available: "
                f"{', '.join(available) or 'none'}); set the process ids in {CONFIG_ENV}"
            )
        return f"{self.root_url}/{self.config.processes_path}/{process_id}"

    def _job_url(self, reference: str) -> str:
        if self._root is None:
            self.processes()
        return f"{self.root_url}/{self.config.jobs_path}/{reference}"

    # -- operations --------------------------------------------------------------------------
    def _execute(self, process: str, process_id: str, inputs: dict[str, Any]) -> Submission:
        url = f"{self._process_url(process_id)}/execution"
        what = f"GEODES {process_id} execution"
        response = self._request(
            "POST",
            url,
            what,
            once=True,
            json={"inputs": inputs},
            headers={"Prefer": "respond-async", "Content-Type": "application/json"},
        )
        data: dict[str, Any] = {}
        if response.content:
            body = self._json(response, what)
            data = body if isinstance(body, dict) else {}
        location = response.headers.get("Location")
        reference = data.get("jobID") or data.get("jobId") or data.get("id")
        if not reference and location:
            reference = urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]
        if not reference:
            raise ProcessingError(
                f"{what}: the server answered no job id (HTTP {response.status_code})"
            )
        status_url = urljoin(url, location) if location else None
        for link in _link_list(data):
            if (
                link.get("rel") in ("monitor", "status", "self")
                and link.get("href")
                and not status_url
            ):
                status_url = urljoin(url, link["href"])
        return Submission(
            str(reference), status_url or self._job_url(str(reference)), process, inputs
        )

    def server_inputs(self, process: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Our neutral inputs (as the job store keeps them) -> the process id and the inputs
        the server is sent; submission and reconciliation both use it, so they agree."""
        cfg = self.config
        if process == MAJA:
            process_id = cfg.maja_process
            sent: dict[str, Any] = {cfg.product_input: inputs["product"]}
        elif process == FULL_MAJA:
            process_id = cfg.full_maja_process
            sent = {
                cfg.tile_input: inputs["tile"],
                cfg.start_input: str(inputs["start"]),
                cfg.end_input: str(inputs["end"]),
            }
            if inputs.get("relative_orbit") is not None:
                sent[cfg.orbit_input] = inputs["relative_orbit"]
        else:
            raise ProcessingError(f"unknown process {process!r}")
        if cfg.notify_input:
            sent[cfg.notify_input] = False
        return process_id, sent

    def submit_product(self, product: str) -> Submission:
        inputs: dict[str, Any] = {"product": product}
        return self._execute(MAJA, *self.server_inputs(MAJA, inputs))

    def submit_series(
        self, tile: str, start: date, end: date, relative_orbit: int | None = None
    ) -> Submission:
        inputs: dict[str, Any] = {"tile": tile, "start": start.isoformat(), "end": end.isoformat()}
        if relative_orbit is not None:
            inputs["relative_orbit"] = relative_orbit
        return self._execute(FULL_MAJA, *self.server_inputs(FULL_MAJA, inputs))

    # -- reconciliation ----------------------------------------------------------------------
    def find_jobs(self, process: str, inputs: dict[str, Any], submitted: datetime) -> JobLookup:
        """Read ``/jobs`` (filtered by ``processID`` and a ``datetime`` window on ``created``,
        filters re-applied here in case the server ignores them) and compare each candidate's
        inputs (inline, or from ``/jobs/{id}/inputs``) with what we would have sent."""
        process_id, wanted = self.server_inputs(process, inputs)
        low, high = submitted - LOOKUP_WINDOW, submitted + LOOKUP_WINDOW
        window = {"processID": process_id, "datetime": f"{_stamp(low)}/{_stamp(high)}"}
        matches: list[Submission] = []
        unknown = 0
        try:
            for info in self._listed_jobs(window):
                reference = _job_id(info)
                if reference is None or str(info.get("processID") or process_id) != process_id:
                    continue
                created = _parse_time(info.get("created"))
                if created is not None and not low <= created <= high:
                    continue
                got = info.get("inputs")
                if not isinstance(got, dict):
                    got = self._job_inputs(reference)
                if got is None:
                    unknown += 1
                elif _same_inputs(wanted, got):
                    matches.append(Submission(reference, self._job_url(reference), process, inputs))
        except _PagingStopped as exc:
            return JobLookup(matches, False, str(exc))
        if unknown:
            return JobLookup(
                matches,
                False,
                f"{unknown} job(s) of that time do not show their inputs, so none can be ruled out",
            )
        return JobLookup(matches, True)

    def _listed_jobs(self, params: dict[str, str]) -> Iterator[Any]:
        """Every entry of ``/jobs?params``, page after page along ``next`` links: at most
        :data:`LOOKUP_MAX_PAGES` pages, never one URL twice (raises :class:`_PagingStopped`)."""
        if self._root is None:
            self.processes()
        what = "GEODES job list"
        query = urlencode({**params, "limit": LOOKUP_PAGE})
        url: str | None = f"{self.root_url}/{self.config.jobs_path}?{query}"
        seen: set[str] = set()
        while url is not None:
            if url in seen or len(seen) >= LOOKUP_MAX_PAGES:
                raise _PagingStopped(f"{what}: paging stopped ({len(seen)} pages, or a cycle)")
            seen.add(url)
            data = self._json(self._request("GET", url, what), what)
            jobs = data.get("jobs") if isinstance(data, dict) else None
            if not isinstance(jobs, list):
                raise BackendError(f"{what}: the reply has no 'jobs' list")
            yield from jobs
            url = _next_link(data, url)

    def _job_inputs(self, reference: str) -> dict[str, Any] | None:
        """``/jobs/{id}/inputs`` (OGC API - Processes Part 4), None when not offered."""
        what = f"GEODES job {shown(reference)} inputs"
        try:
            response = self._request(
                "GET", f"{self._job_url(reference)}/inputs", what, allow_404=True
            )
        except ProcessingError:
            return None
        if response.status_code == 404:
            return None
        data = self._json(response, what)
        if isinstance(data, dict) and isinstance(data.get("inputs"), dict):
            data = data["inputs"]
        return data if isinstance(data, dict) else None

    def status(self, reference: str, status_url: str | None = None) -> JobStatus:
        url = status_url or self._job_url(reference)
        what = f"GEODES job {reference}"
        info = self._json(self._request("GET", url, what), what)
        if not isinstance(info, dict):
            raise BackendError(f"{what}: unexpected status document")
        status = _status_info(info)
        if status.state is JobState.FINISHED:
            results_url = next(
                (
                    urljoin(url, link["href"])
                    for link in _link_list(info)
                    if link.get("rel") in _RESULTS_RELS and isinstance(link.get("href"), str)
                ),
                f"{url.rstrip('/')}/results",
            )
            results_what = f"GEODES job {reference} results"
            data = self._json(self._request("GET", results_url, results_what), results_what)
            status.results, status.unprocessed = parse_results(data, results_url)
        return status

    def statuses(
        self, jobs: Sequence[tuple[str, str | None]]
    ) -> dict[str, JobStatus | PepsPlusError]:
        """Several jobs from one ``/jobs?status=accepted,running`` listing (bounded paging);
        jobs it does not show (ended, or beyond the pages read) are asked one by one, since
        an ended job's results need their own request anyway."""
        if len(jobs) < 2:
            return super().statuses(jobs)
        wanted = {reference for reference, _ in jobs}
        listed: dict[str, JobStatus] = {}
        try:
            listed = self._running_jobs(wanted)
        except AuthenticationError:
            raise
        except PepsPlusError:
            listed = {}  # no usable list: ask each job
        found: dict[str, JobStatus | PepsPlusError] = dict(listed)
        rest = [(reference, url) for reference, url in jobs if reference not in listed]
        found.update(super().statuses(rest))
        return found

    def _running_jobs(self, wanted: set[str]) -> dict[str, JobStatus]:
        found: dict[str, JobStatus] = {}
        try:
            for info in self._listed_jobs({"status": "accepted,running"}):
                reference = _job_id(info)
                if reference in wanted:
                    status = _status_info(info)
                    if not status.state.is_final and status.state is not JobState.UNKNOWN:
                        found[reference] = status
                        if wanted <= found.keys():
                            break
        except _PagingStopped:
            pass  # the jobs not seen are asked one by one
        return found
