"""Protocol details: WPS reports and hardened XML, OGC configuration and discovery."""

from __future__ import annotations

from datetime import date

import pytest

from eodag_peps_plus.exceptions import BackendError, ProcessingError
from eodag_peps_plus.processing import processing_for
from eodag_peps_plus.processing.base import JobState
from eodag_peps_plus.processing.ogc import CONFIG_ENV, OgcConfig, OgcProcessing, parse_results
from eodag_peps_plus.processing.wps import parse_report
from eodag_peps_plus.sandbox import Catalogue, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.app import Response

from .proc_helpers import FAST, backend_for, sandbox_jobs


def test_report_states() -> None:
    assert parse_report({"USER_INFO": {"job_status": "PENDING"}}).state is JobState.PENDING
    stalled = parse_report({"USER_INFO": {"job_status": "STALLED", "process": "45%"}})
    assert (stalled.state, stalled.progress, stalled.server_status) == (
        JobState.RUNNING,
        45.0,
        "STALLED",
    )
    finished = parse_report({"USER_INFO": {
        "job_status": "FINISHED", "unprocessed": "3",
        "results": ["https://peps/x/SENTINEL2A_20190101-000000-000_L2A_T31TCJ_C_V2-2.zip",
                    "https://peps/x/SENTINEL2A_20190106-000000-000_L2A_T31TCJ_C_V2-2_NOVALD.zip"],
    }})  # fmt: skip
    assert (
        finished.state is JobState.FINISHED
        and finished.unprocessed == 3
        and finished.progress == 100
    )
    assert [r.novald for r in finished.results] == [False, True]
    error = parse_report(
        {"USER_INFO": {"job_status": "ERROR", "message": "disk full", "logs": ["https://l"]}}
    )
    assert (
        error.state is JobState.FAILED
        and "disk full" in (error.message or "")
        and "https://l" in (error.message or "")
    )
    canceled = parse_report({"USER_INFO": {"job_status": "CANCELED", "message": "beyond 60"}})
    assert canceled.state is JobState.CANCELED
    with pytest.raises(BackendError, match="USER_INFO"):
        parse_report({"nothing": 1})


EVIL = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<wps:ExecuteResponse xmlns:wps="http://www.opengis.net/wps/1.0.0" statusLocation="&lol2;"/>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<wps:ExecuteResponse xmlns:wps="http://www.opengis.net/wps/1.0.0">&x;</wps:ExecuteResponse>"""


@pytest.mark.parametrize("body", [EVIL, EXTERNAL], ids=["entity-expansion", "external-entity"])
def test_wps_xml_with_entities_is_refused(catalogue: Catalogue, body: bytes) -> None:
    with Sandbox(catalogue, SandboxConfig(time_scale=FAST), services=("peps",)) as sb:
        sb.router.add(
            "GET",
            r"/resto/wps/?",
            lambda request: Response(200, body, {"Content-Type": "text/xml"}),
        )
        processing = processing_for(backend_for(sb, "peps"))
        with pytest.raises(BackendError, match="unsafe XML"):
            processing.submit_series("31TCJ", date(2019, 3, 1), date(2019, 5, 1))


def test_wps_exception_report_is_a_processing_error(proc_sandbox: Sandbox) -> None:
    processing = processing_for(backend_for(proc_sandbox, "peps"))
    with pytest.raises(ProcessingError, match="Unknown job"):
        processing.status("0123abcd")
    with pytest.raises(ProcessingError, match="Invalid tileid"):
        processing.submit_series("ZZZ", date(2019, 3, 1), date(2019, 5, 1))
    assert sandbox_jobs(proc_sandbox) == 0


def test_ogc_process_ids_come_from_config(
    proc_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_ENV, '{"maja_process": "maja-l2a"}')
    processing = processing_for(backend_for(proc_sandbox, "geodes"))
    assert isinstance(processing, OgcProcessing) and processing.config.maja_process == "maja-l2a"
    with pytest.raises(
        ProcessingError, match="no process 'maja-l2a' .*full-maja.*set the process ids"
    ):
        processing.submit_product("S2B_MSIL1C_20190314T104628_N0209_R051_T31TCJ_20190314T155128")
    assert sandbox_jobs(proc_sandbox) == 0
    monkeypatch.setenv(CONFIG_ENV, '{"no_such_field": 1}')
    with pytest.raises(ProcessingError, match="unknown field"):
        OgcConfig.from_env()
    monkeypatch.setenv(CONFIG_ENV, "not json")
    with pytest.raises(ProcessingError, match="not a JSON object"):
        OgcConfig.from_env()


def test_ogc_root_without_api_prefix(catalogue: Catalogue) -> None:
    """Some GEODES pages omit ``/api``: the client tries both before giving up."""
    with Sandbox(catalogue, SandboxConfig(time_scale=FAST), services=("peps",)) as sb:
        sb.router.add(
            "GET",
            r"/processing/processes/?",
            lambda request: Response.json({"processes": [{"id": "maja"}, {"id": "full-maja"}]}),
        )
        processing = processing_for(backend_for(sb, "geodes"))
        assert isinstance(processing, OgcProcessing)
        assert processing.processes() == ["maja", "full-maja"]
        assert processing.root_url == f"{sb.url}/processing"
        bare = OgcProcessing(
            backend_for(sb, "geodes"),
            OgcConfig(root="/api/v2/processing", try_without_api_prefix=False),
        )
        with pytest.raises(ProcessingError, match="process list not found"):
            bare.processes()


def test_ogc_results_document_shapes() -> None:
    files, unprocessed = parse_results({
        "l2a": [{"href": "/jobs/1/outputs/A.zip", "title": "A.zip", "file:size": 12,
                 "file:checksum": "d510" + "a" * 32}],
        "other": {"href": "https://x/B_NOVALD.zip", "size": 3, "checksum": "B" * 32},
        "unprocessed": {"value": 2},
        "links": [{"href": "https://x/self", "rel": "self"}],
    }, "https://server/api/processing/jobs/1/results")  # fmt: skip
    assert [(f.name, f.url, f.size, f.md5) for f in files] == [
        ("A.zip", "https://server/jobs/1/outputs/A.zip", 12, "a" * 32),
        ("B_NOVALD.zip", "https://x/B_NOVALD.zip", 3, "b" * 32),
    ]
    assert unprocessed == 2 and files[1].novald
