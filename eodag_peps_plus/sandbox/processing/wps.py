"""PEPS WPS 1.0.0 at ``/resto/wps`` (Basic auth), in front of the job simulator.

The execute reply carries a ``statusLocation``; ``PROCESSING_STATUS`` refreshes the JSON report
snapshot the status document points to, as on PEPS. WPS has no job listing: a client that lost
the execute reply cannot find its job again.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..app import Request, Response, Router
from .simulator import (
    InputError,
    JobSimulator,
    SimJob,
    iso_stamp,
    optimistic_progress,
    serve_result,
)

__all__ = ["WPS_NS", "WpsFrontEnd"]

WPS_NS = (
    'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.opengis.net/wps/1.0.0 '
    'http://schemas.opengis.net/wps/1.0.0/wpsExecute_response.xsd"'
)


class WpsFrontEnd:
    """The WPS routes; every job lives in the shared :class:`JobSimulator`."""

    def __init__(self, sim: JobSimulator) -> None:
        self.sim = sim

    def register(self, router: Router) -> None:
        router.add("GET", r"/resto/wps/?", self.wps)
        router.add("GET", r"/wps/outputs/pywps-(?P<job>[0-9a-f]+)\.xml", self.wps_status_document)
        router.add("GET", r"/wps/outputs/(?P<job>[0-9a-f]+)\.json", self.wps_report)
        for method in ("GET", "HEAD"):
            router.add(method, r"/maja/results/(?P<job>[0-9a-f]+)/(?P<name>[^/]+)", self.wps_result)

    def _wps_user(self, request: Request) -> str | Response:
        creds = request.basic_auth()
        if creds is None or not self.sim.sandbox.check_password(*creds):
            return Response(
                401,
                b"Unauthorized",
                {"WWW-Authenticate": 'Basic realm="PEPS WPS"', "Content-Type": "text/plain"},
            )
        return creds[0]

    def wps(self, request: Request) -> Response:
        self.sim.sandbox.count("processing.wps.requests")
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
            return self._wps_status(inputs, user, base)
        self.sim.sandbox.count("processing.wps.execute")
        try:
            if identifier == "MAJA":
                if "product" not in inputs:
                    raise InputError("Missing input: product")
                entries, latitude, label = self.sim.product_inputs(inputs["product"])
            elif identifier == "FULL_MAJA":
                missing = [
                    k for k in ("startDate", "completionDate", "tileid") if not inputs.get(k)
                ]
                if missing:
                    raise InputError(f"Missing input: {', '.join(missing)}")
                entries, latitude, label = self.sim.series_inputs(
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
        job = self.sim.create("wps", identifier, user, inputs, entries, latitude, label)
        job.report = self._wps_report(job, base)
        reply = _xml(
            _execute_response(
                base, job, identifier, "ProcessAccepted", f"Process {identifier} accepted"
            )
        )
        reply.delay = self.sim.accept_delay
        return reply

    def _wps_status(self, inputs: dict[str, str], user: str, base: str) -> Response:
        """``PROCESSING_STATUS``: the job's report, the simulation advanced first."""
        job = self.sim.find(inputs.get("wps_id", ""), user, "wps")
        if job is None:
            return _wps_exception("InvalidParameterValue", f"Unknown job {inputs.get('wps_id')!r}")
        with self.sim.lock:
            self.sim.advance()
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
            "process": f"{optimistic_progress(self.sim.progress(job)):.0f}%",
        }
        if job.state == "finished":
            info["results"] = [f"{base}/maja/results/{job.id}/{name}" for name in job.results]
            info["unprocessed"] = str(job.unprocessed)
        if job.state in ("failed", "canceled"):
            info["message"] = job.message
            info["logs"] = [f"{base}/wps/outputs/{job.id}.log"]
        return {"USER_INFO": info}

    def wps_status_document(self, request: Request) -> Response:
        job = self.sim.jobs.get(request.params["job"])
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
        job = self.sim.jobs.get(request.params["job"])
        if job is None or job.protocol != "wps" or job.report is None:
            return Response.text("Not Found", 404)
        return Response.json(job.report)

    def wps_result(self, request: Request) -> Response:
        user = self._wps_user(request)
        if isinstance(user, Response):
            return user
        return serve_result(self.sim, self.sim.find(request.params["job"], user, "wps"), request)


# -- helpers -------------------------------------------------------------------------------------
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
        f'    <wps:Status creationTime="{iso_stamp(job.created)}">',
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
