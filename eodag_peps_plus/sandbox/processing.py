"""MAJA processing emulation: PEPS WPS 1.0.0 at ``/resto/wps`` and GEODES OGC API - Processes
under ``/api/processing``, both driving one job state machine.

Like the real cluster, at most ``max_running`` (10) jobs run at once for all users: the others
wait ``PENDING``. A job takes about an hour for its first date and 25 minutes per further date
(nominal seconds times ``SandboxConfig.time_scale``), then finishes with real small zips (some
dates ``NOVALD``: too cloudy; L1C that never came off tape counted as ``unprocessed``), fails,
or - beyond 60 degrees of latitude, where MAJA has no elevation model - is cancelled.
The WPS JSON report is a snapshot refreshed only by ``PROCESSING_STATUS``, as on PEPS.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from .app import Request, Response
from .catalogue import TILES, Entry, _unit

if TYPE_CHECKING:
    from .server import Sandbox

MAX_RUNNING = 10
FIRST_DATE_SECONDS = 3600.0
NEXT_DATE_SECONDS = 1500.0
NOVALD_CLOUDS = 90.0
MAX_LATITUDE = 60.0
OGC_ROOT = "/api/processing"
OGC_EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
WPS_NS = (
    'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.opengis.net/wps/1.0.0 '
    'http://schemas.opengis.net/wps/1.0.0/wpsExecute_response.xsd"'
)
_TILE = re.compile(r"^T?(\d{2}[C-HJ-NP-X][A-HJ-NP-Z]{2})$")
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


class InputError(ValueError):
    pass


@dataclasses.dataclass
class SimJob:
    id: str
    protocol: str  # wps | ogc
    process: str  # MAJA | FULL_MAJA
    owner: str
    inputs: dict[str, Any]
    entries: list[Entry]
    latitude: float
    label: str
    created: datetime
    state: str = "pending"  # pending running finished failed canceled
    started_at: float | None = None
    duration: float = 0.0
    ended: datetime | None = None
    message: str | None = None
    results: dict[str, Entry] = dataclasses.field(default_factory=dict)
    unprocessed: int = 0
    #: WPS: the JSON report as of the last ``PROCESSING_STATUS``.
    report: dict[str, Any] | None = None


class ProcessingService:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.max_running = MAX_RUNNING
        self.jobs: dict[str, SimJob] = {}
        self._order: list[str] = []
        self._lock = threading.RLock()
        self._clock = time.monotonic
        router = sandbox.router
        router.add("GET", r"/resto/wps/?", self.wps)
        router.add("GET", r"/wps/outputs/pywps-(?P<job>[0-9a-f]+)\.xml", self.wps_status_document)
        router.add("GET", r"/wps/outputs/(?P<job>[0-9a-f]+)\.json", self.wps_report)
        for method in ("GET", "HEAD"):
            router.add(method, r"/maja/results/(?P<job>[0-9a-f]+)/(?P<name>[^/]+)", self.wps_result)
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

    # -- the state machine -------------------------------------------------------------------
    @property
    def time_scale(self) -> float:
        return self.sandbox.config.time_scale

    def running(self) -> int:
        with self._lock:
            self._advance()
            return sum(1 for j in self.jobs.values() if j.state == "running")

    def _advance(self) -> None:
        now = self._clock()
        for job in self.jobs.values():
            if (
                job.state == "running"
                and job.started_at is not None
                and now >= job.started_at + job.duration
            ):
                self._finish(job)
        for job_id in self._order:
            job = self.jobs[job_id]
            if job.state != "pending":
                continue
            if abs(job.latitude) > MAX_LATITUDE:
                self._end(
                    job,
                    "canceled",
                    (
                        f"Job canceled: {job.label} is at {job.latitude:.1f} degrees of "
                        "latitude, beyond "
                        f"+-{MAX_LATITUDE:g}: no elevation model is available for MAJA there"
                    ),
                )
                continue
            if not job.entries:
                self._end(job, "failed", f"No Sentinel-2 L1C product found for {job.label}")
                continue
            if sum(1 for j in self.jobs.values() if j.state == "running") >= self.max_running:
                break  # first come, first served: later jobs wait behind this one
            job.state = "running"
            job.started_at = now
            nominal = FIRST_DATE_SECONDS + NEXT_DATE_SECONDS * (len(job.entries) - 1)
            job.duration = nominal * self.time_scale

    def _end(self, job: SimJob, state: str, message: str | None) -> None:
        job.state = state
        job.message = message
        job.ended = datetime.now(timezone.utc)

    def _finish(self, job: SimJob) -> None:
        for entry in job.entries:
            if self.sandbox.tape.mode(entry.uuid) == "unknown":
                job.unprocessed += 1  # could not be retrieved from tape
                continue
            novald = entry.cloud_cover is not None and entry.cloud_cover > NOVALD_CLOUDS
            stamp = f"{entry.start:%Y%m%d-%H%M%S}-{entry.start.microsecond // 1000:03d}"
            name = f"SENTINEL2{entry.platform[-1]}_{stamp}_L2A_T{entry.tile}_C_V2-2"
            if novald:
                name += "_NOVALD"
            size = 1500 + int(_unit("l2a-size", name) * 6000)
            result = dataclasses.replace(
                entry,
                uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{job.id}/{name}")),
                name=name,
                collection="MAJA_L2A",
                product_type="REFLECTANCE",
                processing_level="L2A",
                size=size,
                storage="disk",
                seed=int(_unit("l2a-seed", name) * 2**31),
            )
            self.sandbox.tape.set_mode(result.uuid, "disk")
            job.results[f"{name}.zip"] = result
        self._end(job, "finished", None)

    def _progress(self, job: SimJob) -> float:
        if job.state == "finished":
            return 100.0
        if job.state != "running" or job.started_at is None or job.duration <= 0:
            return 0.0
        return min(99.0, 100.0 * (self._clock() - job.started_at) / job.duration)

    def _create(
        self,
        protocol: str,
        process: str,
        owner: str,
        inputs: dict[str, Any],
        entries: list[Entry],
        latitude: float,
        label: str,
    ) -> SimJob:
        job = SimJob(
            id=uuid.uuid4().hex,
            protocol=protocol,
            process=process,
            owner=owner,
            inputs=inputs,
            entries=sorted(entries, key=lambda e: e.start),
            latitude=latitude,
            label=label,
            created=datetime.now(timezone.utc),
        )
        with self._lock:
            self.jobs[job.id] = job
            self._order.append(job.id)
            self._advance()
        self.sandbox.count(f"processing.{protocol}.jobs")
        return job

    def _job(self, job_id: str, owner: str, protocol: str) -> SimJob | None:
        with self._lock:
            self._advance()
            job = self.jobs.get(job_id)
        if job is None or job.owner != owner or job.protocol != protocol:
            return None
        return job

    # -- inputs (shared by both protocols) ---------------------------------------------------
    def _product(self, name: str) -> tuple[list[Entry], float, str]:
        name = name.strip().removesuffix(".zip")
        entry = self.sandbox.catalogue.by_name.get(name)
        if entry is None or entry.product_type != "S2MSI1C":
            raise InputError(f"product {name!r} is not a Sentinel-2 L1C product of the catalogue")
        lonmin, latmin, lonmax, latmax = entry.bounds
        return [entry], (latmin + latmax) / 2, name

    def _series(
        self, tile: str, start: str, end: str, orbit: str | None
    ) -> tuple[list[Entry], float, str]:
        match = _TILE.match(tile.strip().upper())
        if not match:
            raise InputError(f"Invalid tileid : {tile}")
        tile = match.group(1)
        try:
            first = date.fromisoformat(start.strip())
            last = date.fromisoformat(end.strip())
        except ValueError:
            raise InputError(f"Invalid date : {start} / {end} (expected YYYY-MM-DD)") from None
        if last < first:
            raise InputError("completionDate is before startDate")
        rel: int | None = None
        if orbit not in (None, ""):
            try:
                rel = int(str(orbit))
            except ValueError:
                raise InputError(f"Invalid relativeOrbitNumber : {orbit}") from None
        low = datetime.combine(first, datetime.min.time(), tzinfo=timezone.utc)
        high = datetime.combine(last, datetime.min.time(), tzinfo=timezone.utc) + timedelta(days=1)
        entries = [
            e
            for e in self.sandbox.catalogue
            if e.product_type == "S2MSI1C"
            and e.tile == tile
            and low <= e.start < high
            and (rel is None or e.relative_orbit == rel)
        ]
        latitude = TILES[tile][1] if tile in TILES else _tile_latitude_guess(tile)
        label = f"tile {tile} from {first} to {last}" + (f" orbit {rel}" if rel else "")
        return entries, latitude, label

    # -- WPS ---------------------------------------------------------------------------------
    def _wps_user(self, request: Request) -> str | Response:
        creds = request.basic_auth()
        if creds is None or not self.sandbox.check_password(*creds):
            return Response(
                401,
                b"Unauthorized",
                {"WWW-Authenticate": 'Basic realm="PEPS WPS"', "Content-Type": "text/plain"},
            )
        return creds[0]

    def wps(self, request: Request) -> Response:
        self.sandbox.count("processing.wps.requests")
        user = self._wps_user(request)
        if isinstance(user, Response):
            return user
        params = {k.lower(): v for k, v in request.query.items()}
        operation = params.get("request", "").lower()
        if operation == "getcapabilities":
            return _xml(_capabilities(request.base_url))
        if operation != "execute":
            return _wps_exception(
                "OperationNotSupported", f"Operation {params.get('request')!r} is not supported"
            )
        identifier = params.get("identifier", "")
        inputs = _datainputs(params.get("datainputs", ""))
        base = request.base_url
        if identifier == "PROCESSING_STATUS":
            job = self._job(inputs.get("wps_id", ""), user, "wps")
            if job is None:
                return _wps_exception(
                    "InvalidParameterValue", f"Unknown job {inputs.get('wps_id')!r}"
                )
            with self._lock:
                self._advance()
                job.report = self._wps_report(job, base)
            return _xml(
                _execute_response(
                    base,
                    job,
                    "PROCESSING_STATUS",
                    "ProcessSucceeded",
                    "PROCESSING_STATUS done",
                    outputs=False,
                )
            )
        self.sandbox.count("processing.wps.execute")
        try:
            if identifier == "MAJA":
                if "product" not in inputs:
                    raise InputError("Missing input: product")
                entries, latitude, label = self._product(inputs["product"])
            elif identifier == "FULL_MAJA":
                missing = [
                    k for k in ("startDate", "completionDate", "tileid") if not inputs.get(k)
                ]
                if missing:
                    raise InputError(f"Missing input: {', '.join(missing)}")
                entries, latitude, label = self._series(
                    inputs["tileid"],
                    inputs["startDate"],
                    inputs["completionDate"],
                    inputs.get("relativeOrbitNumber"),
                )
            else:
                return _wps_exception(
                    "InvalidParameterValue", f"Unknown process {identifier!r}", "identifier"
                )
        except InputError as exc:
            return _wps_exception("InvalidParameterValue", str(exc), "datainputs")
        job = self._create("wps", identifier, user, inputs, entries, latitude, label)
        job.report = self._wps_report(job, base)
        return _xml(
            _execute_response(
                base, job, identifier, "ProcessAccepted", f"Process {identifier} accepted"
            )
        )

    def _wps_report(self, job: SimJob, base: str) -> dict[str, Any]:
        word = {
            "pending": "PENDING",
            "running": "STALLED",
            "finished": "FINISHED",
            "failed": "ERROR",
            "canceled": "CANCELED",
        }[job.state]
        info: dict[str, Any] = {
            "job_status": word,
            "wps_id": job.id,
            "process": f"{_optimistic(self._progress(job)):.0f}%",
        }
        if job.state == "finished":
            info["results"] = [f"{base}/maja/results/{job.id}/{name}" for name in job.results]
            info["unprocessed"] = str(job.unprocessed)
        if job.state in ("failed", "canceled"):
            info["message"] = job.message
            info["logs"] = [f"{base}/wps/outputs/{job.id}.log"]
        return {"USER_INFO": info}

    def wps_status_document(self, request: Request) -> Response:
        job = self.jobs.get(request.params["job"])
        if job is None or job.protocol != "wps":
            return Response.text("Not Found", 404)
        return _xml(
            _execute_response(
                request.base_url,
                job,
                job.process,
                "ProcessSucceeded",
                f"Process {job.process} submitted to the cluster",
            )
        )

    def wps_report(self, request: Request) -> Response:
        job = self.jobs.get(request.params["job"])
        if job is None or job.protocol != "wps" or job.report is None:
            return Response.text("Not Found", 404)
        return Response.json(job.report)

    def wps_result(self, request: Request) -> Response:
        user = self._wps_user(request)
        if isinstance(user, Response):
            return user
        return self._serve_result(self._job(request.params["job"], user, "wps"), request)

    def _serve_result(self, job: SimJob | None, request: Request) -> Response:
        entry = job.results.get(request.params["name"]) if job is not None else None
        if entry is None:
            return Response.json({"ErrorCode": 404, "ErrorMessage": "Not Found"}, 404)
        self.sandbox.count("processing.result_downloads")
        return self.sandbox.serve_archive(entry, request)

    # -- OGC API - Processes -----------------------------------------------------------------
    def _ogc_user(self, request: Request) -> str | Response:
        key = request.headers.get("X-API-Key")
        if not self.sandbox.check_api_key(key):
            return _ogc_error(401, "unauthorized", "Missing or invalid API key (X-API-Key)")
        return str(key)

    def _ogc_job(self, request: Request) -> SimJob | Response:
        """The caller's job named in the path, or the OGC error reply to send instead."""
        user = self._ogc_user(request)
        if isinstance(user, Response):
            return user
        job = self._job(request.params["job"], user, "ogc")
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
        self.sandbox.count("processing.ogc.requests")
        user = self._ogc_user(request)
        if isinstance(user, Response):
            return user
        pid = request.params["process"]
        if pid not in PROCESSES:
            return _ogc_error(404, "no-such-process", f"Process {pid!r} does not exist")
        if pid not in OGC_PROCESS:
            return _ogc_error(400, "invalid-parameter-value", f"Process {pid!r} is not emulated")
        self.sandbox.count("processing.ogc.execute")
        try:
            body = request.json()
            inputs = body.get("inputs") if isinstance(body, dict) else None
            if not isinstance(inputs, dict):
                raise InputError("the body must be a JSON object with an 'inputs' object")
            if pid == "maja":
                if not inputs.get("product-title"):
                    raise InputError("missing input 'product-title'")
                entries, latitude, label = self._product(str(inputs["product-title"]))
            else:
                missing = [k for k in ("tile-id", "start-date", "end-date") if not inputs.get(k)]
                if missing:
                    raise InputError(f"missing input(s) {', '.join(missing)}")
                orbit = inputs.get("relative-orbit")
                entries, latitude, label = self._series(
                    str(inputs["tile-id"]),
                    str(inputs["start-date"]),
                    str(inputs["end-date"]),
                    None if orbit is None else str(orbit),
                )
        except (InputError, ValueError) as exc:
            return _ogc_error(400, "invalid-parameter-value", str(exc))
        job = self._create("ogc", OGC_PROCESS[pid], user, inputs, entries, latitude, label)
        location = f"{request.base_url}{OGC_ROOT}/jobs/{job.id}"
        headers = {"Location": location}
        if "respond-async" in (request.headers.get("Prefer") or ""):
            headers["Preference-Applied"] = "respond-async"
        return Response.json(self._status_info(job, request.base_url), 201, headers)

    def _status_info(self, job: SimJob, base: str) -> dict[str, Any]:
        with self._lock:
            self._advance()
            status = {
                "pending": "accepted",
                "running": "running",
                "finished": "successful",
                "failed": "failed",
                "canceled": "dismissed",
            }[job.state]
            url = f"{base}{OGC_ROOT}/jobs/{job.id}"
            info: dict[str, Any] = {
                "jobID": job.id,
                "processID": {v: k for k, v in OGC_PROCESS.items()}[job.process],
                "type": "process",
                "status": status,
                "message": job.message
                or {
                    "accepted": "Waiting for a processing slot",
                    "running": "Processing",
                    "successful": "Done",
                }.get(status, ""),
                "created": _iso(job.created),
                "progress": int(self._progress(job)),
                "links": [{"rel": "self", "href": url, "type": "application/json"}],
            }
            if job.ended is not None:
                info["finished"] = _iso(job.ended)
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
        user = self._ogc_user(request)
        if isinstance(user, Response):
            return user
        with self._lock:
            mine = [j for j in self.jobs.values() if j.owner == user and j.protocol == "ogc"]
        return Response.json(
            {"jobs": [self._status_info(j, request.base_url) for j in mine], "links": []}
        )

    def ogc_job(self, request: Request) -> Response:
        job = self._ogc_job(request)
        if isinstance(job, Response):
            return job
        return Response.json(self._status_info(job, request.base_url))

    def ogc_dismiss(self, request: Request) -> Response:
        job = self._ogc_job(request)
        if isinstance(job, Response):
            return job
        with self._lock:
            if job.state in ("pending", "running"):
                self._end(job, "canceled", "Job dismissed by the user")
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
        return self._serve_result(self._job(request.params["job"], user, "ogc"), request)


# -- helpers -------------------------------------------------------------------------------------
def _optimistic(progress: float) -> float:
    """PEPS's percentage ran ahead of the real work."""
    if progress <= 0 or progress >= 100:
        return progress
    return min(99.0, 100.0 * (progress / 100.0) ** 0.6)


def _tile_latitude_guess(tile: str) -> float:
    """Centre of the MGRS latitude band (tiles missing from the sandbox table)."""
    bands = "CDEFGHJKLMNPQRSTUVWX"
    return -80 + 8 * bands.index(tile[2]) + 4


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _datainputs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _xml(text: str) -> Response:
    return Response(200, text.encode(), {"Content-Type": "text/xml; charset=utf-8"})


def _wps_exception(code: str, text: str, locator: str | None = None) -> Response:
    where = f" locator={quoteattr(locator)}" if locator else ""
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1" version="1.0.0" '
        'xml:lang="en-US">\n'
        f'  <ows:Exception exceptionCode="{code}"{where}>\n'
        f"    <ows:ExceptionText>{escape(text)}</ows:ExceptionText>\n"
        "  </ows:Exception>\n"
        "</ows:ExceptionReport>\n"
    )
    return Response(400, body.encode(), {"Content-Type": "text/xml; charset=utf-8"})


def _execute_response(
    base: str, job: SimJob, identifier: str, status: str, text: str, *, outputs: bool = True
) -> str:
    """pywps 3 layout: the start tag on one line ending with ``statusLocation`` (the legacy
    scripts grepped it), a ``wps:Reference`` to the JSON report once processing is handed on."""
    location = f"{base}/wps/outputs/pywps-{job.id}.xml"
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<wps:ExecuteResponse {WPS_NS} service="WPS" version="1.0.0" xml:lang="eng" '
        f'serviceInstance="{base}/resto/wps?service=WPS&amp;request=GetCapabilities'
        '&amp;version=1.0.0" '
        f'statusLocation="{location}">',
        '    <wps:Process wps:processVersion="1.0">',
        f"        <ows:Identifier>{escape(identifier)}</ows:Identifier>",
        f"        <ows:Title>{escape(identifier)}</ows:Title>",
        "    </wps:Process>",
        f'    <wps:Status creationTime="{_iso(job.created)}">',
        f"        <wps:{status}>{escape(text)}</wps:{status}>",
        "    </wps:Status>",
    ]
    if outputs and status == "ProcessSucceeded":
        lines += [
            "    <wps:ProcessOutputs>",
            "        <wps:Output>",
            "            <ows:Identifier>report</ows:Identifier>",
            "            <ows:Title>Execution report</ows:Title>",
            f'            <wps:Reference href="{base}/wps/outputs/{job.id}.json"'
            ' mimeType="application/json"/>',
            "        </wps:Output>",
            "    </wps:ProcessOutputs>",
        ]
    lines.append("</wps:ExecuteResponse>")
    return "\n".join(lines) + "\n"


def _capabilities(base: str) -> str:
    offerings = "".join(
        f'<wps:Process wps:processVersion="1.0"><ows:Identifier>{p}</ows:Identifier>'
        f"<ows:Title>{p}</ows:Title></wps:Process>"
        for p in ("MAJA", "FULL_MAJA", "PROCESSING_STATUS")
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<wps:Capabilities {WPS_NS} service="WPS" version="1.0.0" xml:lang="eng">'
        f"<wps:ProcessOfferings>{offerings}</wps:ProcessOfferings></wps:Capabilities>\n"
    )


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
