"""GEODES OGC API - Processes under ``/api/processing`` (``X-API-Key``), in front of the job
simulator: process list and description, async execution, ``/jobs`` (a paged listing filtered
by ``processID`` and ``datetime``, as Part 1 specifies), ``/jobs/{id}``, its ``inputs``
(Part 4, job management), results and outputs, dismissal.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from ..app import Request, Response, Router
from .simulator import InputError, JobSimulator, SimJob, iso_stamp, serve_result

__all__ = [
    "JOBS_PAGE_DEFAULT",
    "JOBS_PAGE_MAX",
    "OGC_EXC",
    "OGC_PROCESS",
    "OGC_ROOT",
    "OGC_STATUS",
    "OgcFrontEnd",
    "PROCESSES",
]

OGC_ROOT = "/api/processing"
OGC_EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
PROCESSES = {
    "ortho-s1-grd": {
        "title": "Orthorectification of a Sentinel-1 GRD product",
        "inputs": ["product-title", "restoration", "notif-email"],
    },
    "maja": {
        "title": "MAJA L2A (one Sentinel-2 L1C product)",
        "inputs": ["product-title", "notif-email"],
    },
    "full-maja": {
        "title": "MAJA L2A time series (one tile)",
        "inputs": ["tile-id", "start-date", "end-date", "relative-orbit", "notif-email"],
    },
}
OGC_PROCESS = {"maja": "MAJA", "full-maja": "FULL_MAJA"}
#: Simulator states -> OGC ``statusInfo.status``.
OGC_STATUS = {
    "pending": "accepted",
    "running": "running",
    "finished": "successful",
    "failed": "failed",
    "canceled": "dismissed",
}
JOBS_PAGE_DEFAULT = 10
JOBS_PAGE_MAX = 100


class OgcFrontEnd:
    """The OGC routes; every job lives in the shared :class:`JobSimulator`."""

    def __init__(self, sim: JobSimulator) -> None:
        self.sim = sim

    def register(self, router: Router) -> None:
        for method in ("GET", "HEAD"):
            router.add(
                method,
                rf"{OGC_ROOT}/jobs/(?P<job>[0-9a-f]+)/outputs/(?P<name>[^/]+)",
                self.ogc_result,
            )
        router.add("GET", rf"{OGC_ROOT}/processes/?", self.ogc_processes)
        router.add("GET", rf"{OGC_ROOT}/processes/(?P<process>[\w-]+)/?", self.ogc_process)
        router.add(
            "POST", rf"{OGC_ROOT}/processes/(?P<process>[\w-]+)/execution/?", self.ogc_execute
        )
        router.add("GET", rf"{OGC_ROOT}/jobs/?", self.ogc_jobs)
        router.add("GET", rf"{OGC_ROOT}/jobs/(?P<job>[0-9a-f]+)/?", self.ogc_job)
        router.add("DELETE", rf"{OGC_ROOT}/jobs/(?P<job>[0-9a-f]+)/?", self.ogc_dismiss)
        router.add("GET", rf"{OGC_ROOT}/jobs/(?P<job>[0-9a-f]+)/results/?", self.ogc_results)
        router.add("GET", rf"{OGC_ROOT}/jobs/(?P<job>[0-9a-f]+)/inputs/?", self.ogc_job_inputs)

    def _ogc_user(self, request: Request) -> str | Response:
        key = request.headers.get("X-API-Key")
        if not self.sim.sandbox.check_api_key(key):
            return _ogc_error(401, "unauthorized", "Missing or invalid API key (X-API-Key)")
        return str(key)

    def _ogc_job(self, request: Request) -> SimJob | Response:
        """The caller's job named in the path, or the OGC error reply to send instead."""
        user = self._ogc_user(request)
        if isinstance(user, Response):
            return user
        job = self.sim.find(request.params["job"], user, "ogc")
        if job is None:
            return _ogc_error(404, "no-such-job", f"Job {request.params['job']} does not exist")
        return job

    def ogc_processes(self, request: Request) -> Response:
        base = f"{request.base_url}{OGC_ROOT}/processes"
        return Response.json(
            {
                "processes": [
                    {
                        "id": pid,
                        "title": p["title"],
                        "version": "1.0.0",
                        "jobControlOptions": ["async-execute"],
                        "links": [
                            {"rel": "self", "href": f"{base}/{pid}", "type": "application/json"}
                        ],
                    }
                    for pid, p in PROCESSES.items()
                ],
                "links": [{"rel": "self", "href": base, "type": "application/json"}],
            }
        )

    def ogc_process(self, request: Request) -> Response:
        pid = request.params["process"]
        if pid not in PROCESSES:
            return _ogc_error(404, "no-such-process", f"Process {pid!r} does not exist")
        process = PROCESSES[pid]
        return Response.json(
            {
                "id": pid,
                "title": process["title"],
                "version": "1.0.0",
                "jobControlOptions": ["async-execute"],
                "inputs": {name: {"schema": {"type": "string"}} for name in process["inputs"]},
                "outputs": {"l2a": {"schema": {"type": "array"}}},
            }
        )

    def ogc_execute(self, request: Request) -> Response:
        self.sim.sandbox.count("processing.ogc.requests")
        user = self._ogc_user(request)
        if isinstance(user, Response):
            return user
        pid = request.params["process"]
        if pid not in PROCESSES:
            return _ogc_error(404, "no-such-process", f"Process {pid!r} does not exist")
        if pid not in OGC_PROCESS:
            return _ogc_error(400, "invalid-parameter-value", f"Process {pid!r} is not emulated")
        self.sim.sandbox.count("processing.ogc.execute")
        try:
            body = request.json()
            inputs = body.get("inputs") if isinstance(body, dict) else None
            if not isinstance(inputs, dict):
                raise InputError("the body must be a JSON object with an 'inputs' object")
            if pid == "maja":
                if not inputs.get("product-title"):
                    raise InputError("missing input 'product-title'")
                entries, latitude, label = self.sim.product_inputs(str(inputs["product-title"]))
            else:
                missing = [k for k in ("tile-id", "start-date", "end-date") if not inputs.get(k)]
                if missing:
                    raise InputError(f"missing input(s) {', '.join(missing)}")
                orbit = inputs.get("relative-orbit")
                entries, latitude, label = self.sim.series_inputs(
                    str(inputs["tile-id"]),
                    str(inputs["start-date"]),
                    str(inputs["end-date"]),
                    None if orbit is None else str(orbit),
                )
        except (InputError, ValueError) as exc:
            return _ogc_error(400, "invalid-parameter-value", str(exc))
        job = self.sim.create("ogc", OGC_PROCESS[pid], user, inputs, entries, latitude, label)
        location = f"{request.base_url}{OGC_ROOT}/jobs/{job.id}"
        headers = {"Location": location}
        if "respond-async" in (request.headers.get("Prefer") or ""):
            headers["Preference-Applied"] = "respond-async"
        reply = Response.json(self._status_info(job, request.base_url), 201, headers)
        reply.delay = self.sim.accept_delay
        return reply

    def _status_info(self, job: SimJob, base: str) -> dict[str, Any]:
        with self.sim.lock:
            self.sim.advance()
            status = OGC_STATUS[job.state]
            url = f"{base}{OGC_ROOT}/jobs/{job.id}"
            info: dict[str, Any] = {
                "jobID": job.id,
                "processID": _process_id(job),
                "type": "process",
                "status": status,
                "message": job.message
                or {
                    "accepted": "Waiting for a processing slot",
                    "running": "Processing",
                    "successful": "Done",
                }.get(status, ""),
                "created": iso_stamp(job.created),
                "progress": int(self.sim.progress(job)),
                "links": [{"rel": "self", "href": url, "type": "application/json"}],
            }
            if job.ended is not None:
                info["finished"] = iso_stamp(job.ended)
            if job.state == "finished":
                info["links"].append(
                    {
                        "rel": "http://www.opengis.net/def/rel/ogc/1.0/results",
                        "href": f"{url}/results",
                        "type": "application/json",
                    }
                )
            return info

    def ogc_jobs(self, request: Request) -> Response:
        """The caller's jobs, oldest first, ``limit`` per page with a ``next`` link; filtered
        by ``processID`` and ``status`` (comma lists) and ``datetime`` (an interval on
        ``created``, open ends as ``..``)."""
        user = self._ogc_user(request)
        if isinstance(user, Response):
            return user
        query = request.query
        try:
            limit = max(1, min(JOBS_PAGE_MAX, int(query.get("limit") or JOBS_PAGE_DEFAULT)))
            offset = max(0, int(query.get("offset") or 0))
            low, high = _interval(query.get("datetime"))
        except ValueError as exc:
            return _ogc_error(400, "invalid-parameter-value", str(exc))
        wanted = {p for p in (query.get("processID") or "").split(",") if p}
        states = {s for s in (query.get("status") or "").split(",") if s}
        self.sim.sandbox.count("processing.ogc.list")
        with self.sim.lock:
            self.sim.advance()
            mine = [
                j
                for j in (self.sim.jobs[i] for i in self.sim.order)
                if j.owner == user
                and j.protocol == "ogc"
                and (not wanted or _process_id(j) in wanted)
                and (not states or OGC_STATUS[j.state] in states)
                and (low is None or j.created >= low)
                and (high is None or j.created <= high)
            ]
        page = mine[offset : offset + limit]
        base = f"{request.base_url}{OGC_ROOT}/jobs"
        links = [{"rel": "self", "href": base, "type": "application/json"}]
        if offset + limit < len(mine):
            params = {k: v for k, v in query.items() if k != "offset"}
            params.update(offset=str(offset + limit), limit=str(limit))
            links.append(
                {"rel": "next", "href": f"{base}?{urlencode(params)}", "type": "application/json"}
            )
        return Response.json(
            {"jobs": [self._status_info(j, request.base_url) for j in page], "links": links}
        )

    def ogc_job_inputs(self, request: Request) -> Response:
        """The inputs a job was executed with (Part 4, job management)."""
        job = self._ogc_job(request)
        if isinstance(job, Response):
            return job
        return Response.json({"inputs": job.inputs})

    def ogc_job(self, request: Request) -> Response:
        self.sim.sandbox.count("processing.ogc.status")
        job = self._ogc_job(request)
        if isinstance(job, Response):
            return job
        return Response.json(self._status_info(job, request.base_url))

    def ogc_dismiss(self, request: Request) -> Response:
        job = self._ogc_job(request)
        if isinstance(job, Response):
            return job
        with self.sim.lock:
            if job.state in ("pending", "running"):
                self.sim.end(job, "canceled", "Job dismissed by the user")
        return Response.json(self._status_info(job, request.base_url))

    def ogc_results(self, request: Request) -> Response:
        job = self._ogc_job(request)
        if isinstance(job, Response):
            return job
        if job.state in ("pending", "running"):
            return _ogc_error(404, "result-not-ready", f"Job {job.id} is still {job.state}")
        if job.state != "finished":
            return _ogc_error(400, "failed", job.message or f"Job {job.id} did not succeed")
        base = f"{request.base_url}{OGC_ROOT}/jobs/{job.id}/outputs"
        links = [
            {
                "href": f"{base}/{name}",
                "type": "application/zip",
                "rel": "item",
                "title": name,
                "roles": ["data"],
                "file:size": e.archive.size,
                "file:checksum": "d510" + e.md5,
            }
            for name, e in job.results.items()
        ]
        return Response.json({"l2a": links, "unprocessed": job.unprocessed})

    def ogc_result(self, request: Request) -> Response:
        user = self._ogc_user(request)
        if isinstance(user, Response):
            return user
        return serve_result(self.sim, self.sim.find(request.params["job"], user, "ogc"), request)


# -- helpers -------------------------------------------------------------------------------------
def _ogc_error(status: int, kind: str, detail: str) -> Response:
    return Response.json(
        {
            "type": OGC_EXC + kind,
            "title": kind.replace("-", " "),
            "status": status,
            "detail": detail,
        },
        status,
        {"Content-Type": "application/problem+json"},
    )


def _process_id(job: SimJob) -> str:
    return {v: k for k, v in OGC_PROCESS.items()}[job.process]


def _interval(text: str | None) -> tuple[datetime | None, datetime | None]:
    """``start/end``, ``start/..``, ``../end`` or one instant -> bounds (UTC)."""
    if not text:
        return None, None
    parts = text.split("/") if "/" in text else [text, text]
    if len(parts) != 2:
        raise ValueError(f"datetime: {text!r} is not an instant or an interval")
    bounds: list[datetime | None] = []
    for part in parts:
        if part in ("", ".."):
            bounds.append(None)
            continue
        try:
            moment = datetime.fromisoformat(part.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"datetime: {part!r} is not an RFC 3339 date-time") from None
        bounds.append(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))
    return bounds[0], bounds[1]
