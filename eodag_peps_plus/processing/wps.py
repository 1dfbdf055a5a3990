"""MAJA on PEPS: OGC WPS 1.0.0 at ``/resto/wps`` with HTTP Basic authentication.

A job is tracked in three hops, as on the real server: ``PROCESSING_STATUS`` refreshes the
pywps status document, the status document's ``wps:Reference`` points to a JSON report, and
the report's ``USER_INFO`` says PENDING / STALLED (+progress) / FINISHED (+results) / ERROR /
CANCELED. XML is parsed with defusedxml: no DTDs, no entities, nothing fetched.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit
from xml.etree.ElementTree import Element  # noqa: S405 - type only; parsing uses defusedxml

import requests
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as xml_fromstring

from ..exceptions import BackendError, ProcessingError
from ..http_io import check_status, json_or_error, send
from .base import (
    FULL_MAJA,
    MAJA,
    MAX_REPLY_BYTES,
    JobState,
    JobStatus,
    ProcessingBackend,
    ResultFile,
    Submission,
    byte_count,
    server_text,
)

__all__ = [
    "NS",
    "REPORT_STATES",
    "WPS_PATH",
    "WpsProcessing",
    "exception_text",
    "parse_progress",
    "parse_report",
    "parse_xml",
    "result_name",
]

WPS_PATH = "/resto/wps"
NS = {
    "wps": "http://www.opengis.net/wps/1.0.0",
    "ows": "http://www.opengis.net/ows/1.1",
    "xlink": "http://www.w3.org/1999/xlink",
}
_JOB_ID = re.compile(r"pywps-([^/?#]+?)\.xml")
#: ``USER_INFO.job_status`` -> our states.
REPORT_STATES = {
    "PENDING": JobState.PENDING,
    "STALLED": JobState.RUNNING,
    "RUNNING": JobState.RUNNING,
    "FINISHED": JobState.FINISHED,
    "ERROR": JobState.FAILED,
    "FAILED": JobState.FAILED,
    "CANCELED": JobState.CANCELED,
    "CANCELLED": JobState.CANCELED,
}
#: The WPS status document's own words (before the JSON report exists) -> our states.
STATUS_STATES = {
    "ProcessAccepted": JobState.PENDING,
    "ProcessStarted": JobState.RUNNING,
    "ProcessFailed": JobState.FAILED,
}


def parse_xml(text: str | bytes, what: str) -> Element:
    """Parse a server XML document, refusing DTDs and entities (billion laughs, XXE)."""
    try:
        root: Element = xml_fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise BackendError(
            f"{what}: refused unsafe XML from the server ({type(exc).__name__})"
        ) from None
    except ParseError as exc:
        snippet = text[:120] if isinstance(text, str) else text[:120].decode("utf-8", "replace")
        raise BackendError(f"{what}: the server did not answer XML ({exc}): {snippet!r}") from None
    return root


def exception_text(root: Element) -> str | None:
    """The message of an ``ows:ExceptionReport`` (or of a failed status), if the document is one."""
    texts = [
        (node.text or "").strip()
        for node in root.iter(f"{{{NS['ows']}}}ExceptionText")
        if (node.text or "").strip()
    ]
    if texts:
        return "; ".join(texts)
    if root.tag == f"{{{NS['ows']}}}ExceptionReport":
        codes = [e.get("exceptionCode", "") for e in root.iter(f"{{{NS['ows']}}}Exception")]
        return "WPS exception " + ", ".join(c for c in codes if c)
    return None


def parse_progress(value: Any) -> float | None:
    """``"45%"``, ``45``, ``"45.5 %"`` -> 45.5; anything else -> None."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    match = re.search(r"\d+(?:\.\d+)?", str(value))
    return min(100.0, float(match.group())) if match else None


def result_name(url: str) -> str:
    return unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])


def parse_report(data: Any) -> JobStatus:
    """The JSON report (``USER_INFO``) -> :class:`JobStatus`."""
    info = data.get("USER_INFO") if isinstance(data, dict) else None
    if not isinstance(info, dict):
        raise BackendError("PEPS processing report: no USER_INFO in the JSON report")
    word = server_text(info.get("job_status") or "", 40).upper()
    state = REPORT_STATES.get(word, JobState.UNKNOWN)
    listed = info.get("results") or []
    if not isinstance(listed, list):
        raise BackendError("PEPS processing report: USER_INFO.results is not a list")
    results: list[ResultFile] = []
    for item in listed:
        if isinstance(item, str):
            results.append(ResultFile(result_name(item), item))
        elif isinstance(item, dict) and isinstance(item.get("url") or item.get("href"), str):
            url = str(item.get("url") or item.get("href"))
            md5 = item.get("md5")
            results.append(
                ResultFile(
                    str(item.get("name") or result_name(url)),
                    url,
                    byte_count(item.get("size")),
                    md5.lower() if isinstance(md5, str) and md5 else None,
                )
            )
    unprocessed = str(info.get("unprocessed") or "").strip()
    message = info.get("message")
    logs = info.get("logs")
    if state in (JobState.FAILED, JobState.CANCELED) and isinstance(logs, list) and logs:
        message = f"{message or word} (logs: {server_text(logs[0])})"
    progress = parse_progress(info.get("process"))
    if state is JobState.FINISHED:
        progress = 100.0
    return JobStatus(
        state=state,
        progress=progress,
        message=server_text(message) if message else None,
        results=results,
        unprocessed=int(unprocessed) if unprocessed.isdigit() else None,
        server_status=word or None,
    )


class WpsProcessing(ProcessingBackend):
    """PEPS WPS: ``MAJA`` (one product), ``FULL_MAJA`` (a tile's series), ``PROCESSING_STATUS``."""

    protocol = "wps"

    @property
    def wps_url(self) -> str:
        return f"{self.base_url}{WPS_PATH}"

    def _get(self, url: str, what: str, *, once: bool = False) -> requests.Response:
        session = self.submit_session if once else self.session
        self.backend.require_credentials(what)
        url = self.follow(url, what)
        response = send(session, "GET", url, what, max_bytes=MAX_REPLY_BYTES, timeout=self.timeout)
        if response.status_code == 400 and response.content.lstrip().startswith(b"<"):
            return response  # pywps answers an ows:ExceptionReport with HTTP 400
        check_status(response, what, self.backend.credentials_hint)
        if response.text.lstrip().startswith("{"):
            json_or_error(
                response, what, self.backend.credentials_hint
            )  # resto's JSON errors, sometimes with HTTP 200
        return response

    def _execute(self, identifier: str, datainputs: str, *, store: bool) -> Element:
        flag = "true" if store else "false"
        query = urlencode(
            {
                "service": "WPS",
                "request": "execute",
                "version": "1.0.0",
                "identifier": identifier,
                "datainputs": datainputs,
                "status": flag,
                "storeExecuteResponse": flag,
            },
            safe=";=:",
        )
        what = f"PEPS WPS {identifier}"
        response = self._get(f"{self.wps_url}?{query}", what, once=store)
        root = parse_xml(response.content, what)
        error = exception_text(root)
        if error is not None:
            raise ProcessingError(f"{what} refused: {server_text(error)}")
        return root

    def _submit(self, identifier: str, datainputs: str, inputs: dict[str, Any]) -> Submission:
        root = self._execute(identifier, datainputs, store=True)
        location = root.get("statusLocation") or ""
        match = _JOB_ID.search(location)
        accepted = root.find("wps:Status/wps:ProcessAccepted", NS)
        if not match or accepted is None:
            status = root.find("wps:Status", NS)
            detail = "".join(status.itertext()).strip() if status is not None else "no status"
            raise ProcessingError(f"PEPS WPS {identifier} was not accepted: {detail or location}")
        return Submission(match.group(1), location, identifier, inputs)

    def submit_product(self, product: str) -> Submission:
        return self._submit(MAJA, f"product={product}", {"product": product})

    def submit_series(
        self, tile: str, start: date, end: date, relative_orbit: int | None = None
    ) -> Submission:
        datainputs = f"startDate={start:%Y-%m-%d};completionDate={end:%Y-%m-%d};tileid={tile}"
        inputs: dict[str, Any] = {"tile": tile, "start": start.isoformat(), "end": end.isoformat()}
        if relative_orbit is not None:
            datainputs += f";relativeOrbitNumber={relative_orbit}"
            inputs["relative_orbit"] = relative_orbit
        return self._submit(FULL_MAJA, datainputs, inputs)

    def status(self, reference: str, status_url: str | None = None) -> JobStatus:
        """Refresh, read the status document, then the JSON report it points to."""
        self._execute("PROCESSING_STATUS", f"wps_id={reference}", store=False)
        status_url = status_url or self._guess_status_url(reference)
        what = f"PEPS job {reference} status"
        root = parse_xml(self._get(status_url, what).content, what)
        failed = root.find("wps:Status/wps:ProcessFailed", NS)
        if failed is not None:
            return JobStatus(
                JobState.FAILED,
                message=exception_text(root) or "process failed",
                server_status="ProcessFailed",
            )
        reference_node = root.find("wps:ProcessOutputs/wps:Output/wps:Reference", NS)
        href = None
        if reference_node is not None:
            href = reference_node.get("href") or reference_node.get(f"{{{NS['xlink']}}}href")
        if not href:
            started = root.find("wps:Status/wps:ProcessStarted", NS)
            if started is not None:
                return JobStatus(
                    JobState.RUNNING,
                    parse_progress(started.get("percentCompleted")),
                    server_status="ProcessStarted",
                )
            return JobStatus(JobState.PENDING, server_status="ProcessAccepted")
        report_what = f"PEPS job {reference} report"
        href = urljoin(status_url, href)
        return parse_report(json_or_error(self._get(href, report_what), report_what))

    def _guess_status_url(self, reference: str) -> str:
        return f"{self.base_url}/wps/outputs/pywps-{reference}.xml"
