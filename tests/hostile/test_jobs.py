"""MAJA jobs against hostile processing servers: malformed status XML/JSON, report cycles,
huge or deeply nested replies, job lists that page forever, result names that are paths.

Every case ends in one error line (or a single failed result) and never in a traceback, a
hang, a file outside the output folder, or a job reported done that the server cannot see.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from processing.proc_helpers import CliResult, run_main

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.exceptions import PepsPlusError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.processing.base import MAX_REPLY_BYTES, JobState, Submission
from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox.app import Request, Response

from .conftest import HostileServer

OGC = "/api/processing"
USER, PASSWORD, KEY = "user@example.com", "hostile-test-password", "hostile-test-key"


def _zip(name: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{name}/MTD.xml", "<x/>" * 50)
    return buffer.getvalue()


GOOD = _zip("SENTINEL2A_20190302-105416-455_L2A_T31TCJ_C_V2-2")


def _json(data: Any, status: int = 200) -> Response:
    return Response.json(data, status)


def _raw(body: bytes, content_type: str = "application/json") -> Response:
    return Response(200, body, {"Content-Type": content_type})


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(tmp_path / "jobs.sqlite3")


def _ogc_job(hostile: HostileServer, store: JobStore, status: Response | None = None) -> MajaJobs:
    """A GEODES-like server holding job ``abc`` (status reply given), and a store that knows it."""
    hostile.route(
        "GET", f"{OGC}/processes/?", _json({"processes": [{"id": "maja"}, {"id": "full-maja"}]})
    )
    if status is not None:
        hostile.route("GET", f"{OGC}/jobs/abc/?", status)
    job_id = _maja_row(store, hostile)
    store.complete_submission(job_id, Submission("abc", f"{hostile.url}{OGC}/jobs/abc", "MAJA", {}))
    backend = get_backend("geodes", hostile.url, credentials=Credentials(api_key=KEY))
    return MajaJobs(backend, store)


def _maja_row(store: JobStore, hostile: HostileServer) -> int:
    return store.begin_submission(
        backend="geodes",
        base_url=hostile.url,
        process="MAJA",
        inputs={"product": "S2A_MSIL1C_x"},
        label="x",
    )


def _wps_job(hostile: HostileServer, store: JobStore, status_doc: Response) -> MajaJobs:
    """A PEPS-like WPS server holding job ``abc`` whose status document is ``status_doc``."""
    refreshed = (
        '<?xml version="1.0"?><wps:ExecuteResponse xmlns:wps="http://www.opengis.net/wps/1.0.0" '
        'statusLocation="x"><wps:Status><wps:ProcessSucceeded>ok</wps:ProcessSucceeded>'
        "</wps:Status></wps:ExecuteResponse>"
    )
    hostile.route("GET", "/resto/wps/?", _raw(refreshed.encode(), "text/xml"))
    hostile.route("GET", "/wps/outputs/pywps-abc.xml", status_doc)
    job_id = store.begin_submission(
        backend="peps", base_url=hostile.url, process="FULL_MAJA", inputs={}, label="x"
    )
    store.complete_submission(
        job_id, Submission("abc", f"{hostile.url}/wps/outputs/pywps-abc.xml", "FULL_MAJA", {})
    )
    backend = get_backend("peps", hostile.url, credentials=Credentials(USER, PASSWORD))
    return MajaJobs(backend, store)


def _status_doc(href: str) -> Response:
    body = (
        '<?xml version="1.0"?><wps:ExecuteResponse xmlns:wps="http://www.opengis.net/wps/1.0.0">'
        "<wps:Status><wps:ProcessSucceeded>done</wps:ProcessSucceeded></wps:Status>"
        "<wps:ProcessOutputs><wps:Output>"
        f'<wps:Reference href="{href}" mimeType="application/json"/>'
        "</wps:Output></wps:ProcessOutputs></wps:ExecuteResponse>"
    )
    return _raw(body.encode(), "text/xml")


def _one_line_error(call: Callable[[], Any]) -> str:
    with pytest.raises(PepsPlusError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message and len(message) < 1000, message
    return message


# -- OGC status ---------------------------------------------------------------------------------
OGC_STATUS = [
    ("not-json", _raw(b"<html>gateway</html>", "text/html"), "did not answer JSON"),
    ("list", _json([1, 2, 3]), "unexpected status document"),
    ("nested", _raw(b"[" * 5000 + b"]" * 5000), "did not answer JSON"),
    (
        "huge",
        _raw(b'{"status": "running", "x": "' + b"a" * (MAX_REPLY_BYTES + 10) + b'"}'),
        "larger than",
    ),
]


@pytest.mark.parametrize(
    ("reply", "message"), [c[1:] for c in OGC_STATUS], ids=[c[0] for c in OGC_STATUS]
)
def test_ogc_malformed_status_is_one_line(
    hostile: HostileServer, store: JobStore, reply: Response, message: str
) -> None:
    jobs = _ogc_job(hostile, store, reply)
    assert message in _one_line_error(lambda: jobs.refresh(1))
    assert store.get(1).state is JobState.PENDING  # nothing recorded from a bad reply


@pytest.mark.parametrize(
    "status",
    [
        {"status": 5, "progress": "abc", "links": "nope"},
        {"status": "running", "progress": {"x": 1}, "message": ["a"] * 10, "links": [1, "x"]},
        {"status": "running", "message": "m" * 100_000},
    ],
    ids=["types", "shapes", "long-message"],
)
def test_ogc_odd_status_fields_are_tolerated(
    hostile: HostileServer, store: JobStore, status: dict[str, Any]
) -> None:
    jobs = _ogc_job(hostile, store, _json(status))
    record = jobs.refresh(1)
    assert record.state in (JobState.UNKNOWN, JobState.RUNNING)
    assert len(record.message or "") <= 600


def test_ogc_results_link_cycling_to_the_status_gives_no_files(
    hostile: HostileServer, store: JobStore
) -> None:
    url = f"{OGC}/jobs/abc"
    status = {"status": "successful", "links": [{"rel": "results", "href": url}]}
    jobs = _ogc_job(hostile, store, _json(status))
    record = jobs.refresh(1)
    assert record.state is JobState.FINISHED and record.results == []


# -- WPS status -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("doc", "report", "message"),
    [
        (_raw(b"<wps:Execute", "text/xml"), None, "did not answer XML"),
        (_raw(b"{}", "application/json"), None, "did not answer XML"),
        (_status_doc("/wps/outputs/pywps-abc.xml"), None, "JSON"),  # the report is itself
        (_status_doc("/report.json"), _json({"USER_INFO": "x"}), "no USER_INFO"),
        (_status_doc("/report.json"), _json({"USER_INFO": {"results": "abc"}}), "not a list"),
        (_status_doc("/report.json"), _raw(b"[" * 5000), "JSON"),
    ],
    ids=["truncated-xml", "json-not-xml", "report-cycle", "user-info", "results", "nested"],
)
def test_wps_malformed_status_is_one_line(
    hostile: HostileServer,
    store: JobStore,
    doc: Response,
    report: Response | None,
    message: str,
) -> None:
    if report is not None:
        hostile.route("GET", "/report.json", report)
    jobs = _wps_job(hostile, store, doc)
    assert message in _one_line_error(lambda: jobs.refresh(1))
    assert store.get(1).state is JobState.PENDING


def test_wps_report_with_odd_sizes_is_tolerated(hostile: HostileServer, store: JobStore) -> None:
    report = {
        "USER_INFO": {
            "job_status": "FINISHED",
            "results": [
                {"url": f"{hostile.url}/r/a.zip", "size": "abc", "md5": 5},
                {"url": f"{hostile.url}/r/b.zip", "size": -3},
                {"url": 7},
                "https://elsewhere.invalid/r/c.zip",
            ],
            "unprocessed": "x",
            "logs": "not-a-list",
        }
    }
    hostile.route("GET", "/report.json", _json(report))
    jobs = _wps_job(hostile, store, _status_doc("/report.json"))
    record = jobs.refresh(1)
    assert record.state is JobState.FINISHED
    assert [(r.name, r.size, r.md5) for r in record.results] == [
        ("a.zip", None, None),
        ("b.zip", None, None),
        ("c.zip", None, None),
    ]


def test_wps_huge_report_is_refused(hostile: HostileServer, store: JobStore) -> None:
    body = b'{"USER_INFO": {"job_status": "STALLED", "x": "' + b"a" * (MAX_REPLY_BYTES + 1) + b'"}}'
    hostile.route("GET", "/report.json", _raw(body))
    jobs = _wps_job(hostile, store, _status_doc("/report.json"))
    assert "larger than" in _one_line_error(lambda: jobs.refresh(1))


# -- wait never says done on what it cannot see ---------------------------------------------------
def test_wait_on_a_job_the_server_forgot(
    hostile: HostileServer, store: JobStore, run_jobs_cli: Callable[..., Any]
) -> None:
    reply = _json({"type": "no-such-job", "detail": "Job abc does not exist"}, 404)
    _ogc_job(hostile, store, reply)
    res = run_jobs_cli(store, "maja", "wait", "1", "--interval", "0.01")
    assert res.code == 1 and "job 1: lost on the server" in res.err
    assert "finished" not in res.out


def test_wait_gives_up_on_garbage_after_bounded_retries(
    hostile: HostileServer, store: JobStore, run_jobs_cli: Callable[..., Any]
) -> None:
    _ogc_job(hostile, store, _raw(b"garbage", "text/plain"))
    res = run_jobs_cli(store, "maja", "wait", "1", "--interval", "0.01", "--max-interval", "0.01")
    assert res.code == 1 and "unreachable on the server" in res.err
    assert res.err.count("Traceback") == 0
    assert len([r for r in hostile.requests if r.path.endswith("/jobs/abc")]) == 20


# -- reconciliation against a hostile job list ----------------------------------------------------
def _orphan(store: JobStore, hostile: HostileServer) -> int:
    """A MAJA row whose sender died before the server's reply reached the store."""
    import socket
    import sqlite3

    job_id = _maja_row(store, hostile)
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE jobs SET submitter = ? WHERE id = ?",
            (f"{socket.gethostname()}:{2**22 + 1}", job_id),
        )
    return job_id


@pytest.mark.parametrize(
    ("jobs_reply", "outcome", "detail"),
    [
        (
            lambda r: _json({"jobs": [], "links": [{"rel": "next", "href": r.path}]}),
            "undetermined",
            "paging stopped",
        ),
        (
            lambda r: _json(
                {
                    "jobs": [],
                    "links": [{"rel": "next", "href": f"{r.path}?page={len(r.query) + 1}&x=1"}],
                }
            ),
            "undetermined",
            "paging stopped",
        ),
        (lambda r: _json([1, 2]), "undetermined", "no 'jobs' list"),
        (lambda r: _raw(b"<html/>", "text/html"), "undetermined", "did not answer JSON"),
        (
            lambda r: _json({"jobs": [{"jobID": "zzz", "processID": "maja"}]}),
            "undetermined",
            "do not show their inputs",
        ),
        (
            lambda r: _json(
                {"jobs": [{"jobID": "zzz", "inputs": {"product-title": "other"}}, "x", {}]}
            ),
            "absent",
            "never reached",
        ),
    ],
    ids=["self-next", "endless-next", "list", "html", "no-inputs", "other-inputs"],
)
def test_reconcile_against_a_hostile_job_list(
    hostile: HostileServer,
    store: JobStore,
    jobs_reply: Callable[[Request], Response],
    outcome: str,
    detail: str,
) -> None:
    jobs = _ogc_job(hostile, store)
    hostile.route("GET", f"{OGC}/jobs/?", jobs_reply)
    hostile.route("GET", f"{OGC}/jobs/zzz/inputs", _json({"detail": "no"}, 404))
    orphan = _orphan(store, hostile)
    result = jobs.reconcile(orphan)
    assert result.outcome == outcome and detail in result.detail
    listed = [r for r in hostile.requests if r.path.rstrip("/").endswith("/jobs")]
    assert len(listed) <= 20
    assert store.get(orphan).reference is None


# -- result names ---------------------------------------------------------------------------------
UNSAFE = ["../x.zip", "/tmp/abs-x.zip", "a\x00b.zip", "A" * 300 + ".zip", "..", "sub/dir.zip"]


@pytest.fixture
def results_server(hostile: HostileServer) -> HostileServer:
    good = "SENTINEL2A_20190302-105416-455_L2A_T31TCJ_C_V2-2.zip"
    links = [
        {
            "href": f"/out/{i}",
            "title": name,
            "file:size": len(GOOD),
            "file:checksum": "d510" + hashlib.md5(GOOD).hexdigest(),  # noqa: S324
        }
        for i, name in enumerate([*UNSAFE, good])
    ]
    hostile.route("GET", f"{OGC}/jobs/abc/results/?", _json({"l2a": links}))
    hostile.route("GET", "/out/.*", _raw(GOOD, "application/zip"))
    return hostile


def test_unsafe_result_names_fail_alone(
    results_server: HostileServer, store: JobStore, tmp_path: Path
) -> None:
    jobs = _ogc_job(results_server, store, _json({"status": "successful"}))
    out = tmp_path / "deep" / "out"
    report = jobs.fetch(1, out)
    assert [p.name for p in report.downloaded] == [
        "SENTINEL2A_20190302-105416-455_L2A_T31TCJ_C_V2-2.zip"
    ]
    assert len(report.failed) == len(UNSAFE)
    assert all("unsafe result name" in (f.error or "") for f in report.failed)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file() and p.suffix == ".zip") == [
        "SENTINEL2A_20190302-105416-455_L2A_T31TCJ_C_V2-2.zip"
    ]
    assert not Path("/tmp/abs-x.zip").exists()
    outcomes = {d.name: d.outcome for d in store.get(1).downloads}
    assert sorted(outcomes.values()) == ["downloaded"] + ["failed"] * len(UNSAFE)


def test_unsafe_result_names_cli_report(
    results_server: HostileServer,
    store: JobStore,
    tmp_path: Path,
    run_jobs_cli: Callable[..., Any],
) -> None:
    _ogc_job(results_server, store, _json({"status": "successful"}))
    res = run_jobs_cli(store, "maja", "fetch", "1", "-w", str(tmp_path / "o"), "--no-progress")
    assert res.code == 1 and "Traceback" not in res.err
    assert res.out.count("FAILED") == len(UNSAFE) and "1 downloaded" in res.out
    assert max(len(line) for line in res.out.splitlines()) < 400
    assert (tmp_path / "o" / "SENTINEL2A_20190302-105416-455_L2A_T31TCJ_C_V2-2.zip").is_file()


# -- the CLI against a store pointing at the hostile server ---------------------------------------
@pytest.fixture
def run_jobs_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Iterator[Callable[..., CliResult]]:
    """``peps-plus ARGS`` on a given store, checking no secret is ever printed."""
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", PASSWORD)
    monkeypatch.setenv("EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY", KEY)
    monkeypatch.setenv("EODAG_CFG_FILE", str(tmp_path / "none.yml"))

    def run(store: JobStore, *args: str) -> CliResult:
        monkeypatch.setenv("PEPS_PLUS_JOB_STORE", str(store.path))
        result = run_main(monkeypatch, capsys, *args)
        for secret in (PASSWORD, KEY):
            assert secret not in result.out + result.err
        return result

    yield run


# -- links in replies aim nowhere else (issue 25 item 6) ------------------------------------------
AIMED = [
    ("metadata", "http://169.254.169.254/latest/meta-data/", "link-local"),
    ("private", "http://10.1.2.3/wps/outputs/pywps-abc.xml", "private network address"),
    ("elsewhere", "http://127.0.0.2:9/pywps-abc.xml", "another origin"),
]


@pytest.mark.parametrize(("link", "why"), [a[1:] for a in AIMED], ids=[a[0] for a in AIMED])
def test_maja_status_refuses_a_status_location_aimed_elsewhere(
    hostile: HostileServer,
    store: JobStore,
    run_jobs_cli: Callable[..., Any],
    link: str,
    why: str,
) -> None:
    """The WPS ``statusLocation`` kept from the submission points at the cloud metadata
    address, a private address or another host: refused before anything is sent, said so in
    one line, and never called "credentials refused"."""
    hostile.route("GET", "/resto/wps/?", _raw(b"<x/>", "text/xml"))
    job_id = store.begin_submission(
        backend="peps", base_url=hostile.url, process="MAJA", inputs={}, label="x"
    )
    store.complete_submission(job_id, Submission("abc", link, "MAJA", {}))
    res = run_jobs_cli(store, "maja", "status", "1")
    assert why in res.err and link[:30] in res.err, res.err
    assert "credentials refused" not in res.err and "Traceback" not in res.err
    assert not [r for r in hostile.requests if "pywps" in r.path]


def test_a_result_report_link_aimed_at_the_metadata_address_is_refused(
    hostile: HostileServer, store: JobStore
) -> None:
    jobs = _wps_job(hostile, store, _status_doc("http://169.254.169.254/latest/report.json"))
    assert "link-local" in _one_line_error(lambda: jobs.refresh(1))


def test_a_loopback_link_from_a_remote_server_is_refused() -> None:
    from eodag_peps_plus.http_io import reply_link_problem

    allowed = {"https://peps.cnes.fr:443", "http://127.0.0.1:8080"}
    problem = reply_link_problem("http://127.0.0.1:8080/x", "https://peps.cnes.fr", allowed)
    assert problem is not None and "loopback" in problem
    assert reply_link_problem("https://peps.cnes.fr/x", "https://peps.cnes.fr", allowed) is None
