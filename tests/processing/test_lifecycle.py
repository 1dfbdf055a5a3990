"""The whole life of MAJA jobs on both backends, over real HTTP against the sandbox."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import requests

from eodag_peps_plus.exceptions import AuthenticationError, InvalidQueryError, ProcessingError
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.processing import processing_for
from eodag_peps_plus.processing.base import JobState
from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, Sandbox

from .proc_helpers import SERIES, backend_for, sandbox_jobs, service

PRODUCT = "S2B_MSIL1C_20190314T104628_N0209_R051_T31TCJ_20190314T155128"


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_series_from_submission_to_fetch(
    jobs: MajaJobs, proc_sandbox: Sandbox, tmp_path: Path
) -> None:
    seen: list[tuple[JobState, float | None]] = []
    record = jobs.submit_series(**SERIES)
    assert record.state is JobState.PENDING and record.reference
    assert record.process == "FULL_MAJA" and record.inputs["tile"] == "31TCJ"
    final = jobs.wait(
        record.id,
        interval=0.1,
        max_interval=0.4,
        on_status=lambda r: seen.append((r.state, r.progress)),
    )
    assert final.state is JobState.FINISHED and final.progress == 100
    assert JobState.RUNNING in {state for state, _ in seen}
    running = [p for s, p in seen if s is JobState.RUNNING]
    assert running == sorted(running)  # progress only grows
    sim = service(proc_sandbox).jobs[final.reference]
    assert len(final.results) == len(sim.results) > 5
    novald = [r for r in final.results if r.novald]
    assert novald and len(novald) < len(final.results)
    assert final.unprocessed == sim.unprocessed

    out = tmp_path / "l2a"
    report = jobs.fetch(final.id, out)
    assert len(report.downloaded) == len(final.results) - len(novald)
    assert {p.name for p in report.downloaded} == {
        r.filename for r in final.results if not r.novald
    }
    assert not list(out.glob("*NOVALD*")) and not list(out.glob("*.part"))
    for path in report.downloaded:  # the bytes the server holds for that result
        assert _md5(path) == sim.results[path.name].md5
    again = jobs.fetch(final.id, out)
    assert not again.downloaded and len(again.present) == len(report.downloaded)
    outcomes = {d.outcome for d in jobs.get(final.id).downloads}
    assert outcomes == {"present", "novald"}


def test_per_product_job(jobs: MajaJobs, proc_sandbox: Sandbox, tmp_path: Path) -> None:
    [record] = jobs.submit_products([PRODUCT])
    assert record.process == "MAJA" and record.label == PRODUCT
    final = jobs.wait(record.id, interval=0.05, max_interval=0.2)
    assert final.state is JobState.FINISHED and len(final.results) == 1
    assert final.results[0].name.startswith("SENTINEL2B_20190314-")
    report = jobs.fetch(final.id, tmp_path)
    assert len(report.downloaded) + len(report.novald) == 1


def test_results_carry_size_and_md5_on_geodes(proc_sandbox: Sandbox, store: JobStore) -> None:
    jobs = MajaJobs(backend_for(proc_sandbox, "geodes"), store)
    final = jobs.wait(jobs.submit_products([PRODUCT])[0].id, interval=0.05, max_interval=0.2)
    [result] = final.results
    entry = service(proc_sandbox).jobs[final.reference].results[result.filename]
    assert (result.size, result.md5) == (entry.archive.size, entry.md5)


def test_worldwide_limit_of_ten_running_jobs(jobs: MajaJobs, proc_sandbox: Sandbox) -> None:
    proc_sandbox.config.time_scale = 1.0  # hours: nothing ends during the test
    records = [jobs.submit_series(**SERIES, resubmit=True) for _ in range(11)]  # 11 users
    states = [jobs.refresh(r.id).state for r in records]
    assert states == [JobState.RUNNING] * 10 + [JobState.PENDING]
    assert jobs.get(records[-1].id).server_status in ("PENDING", "accepted")
    service(proc_sandbox).max_running = 11
    assert jobs.refresh(records[-1].id).state is JobState.RUNNING


def test_server_cancels_beyond_sixty_degrees(
    proc_sandbox: Sandbox, backend_name: str, store: JobStore
) -> None:
    """The client refuses such jobs; a job sent anyway (raw protocol call) is cancelled."""
    processing = processing_for(backend_for(proc_sandbox, backend_name))
    from datetime import date

    submission = processing.submit_series("33WXS", date(2019, 6, 1), date(2019, 8, 1))
    status = processing.status(submission.reference, submission.status_url)
    assert status.state is JobState.CANCELED
    assert "latitude" in (status.message or "")
    jobs = MajaJobs(backend_for(proc_sandbox, backend_name), store)
    before = sandbox_jobs(proc_sandbox)
    with pytest.raises(InvalidQueryError, match="beyond"):
        jobs.submit_series("33WXS", "2019-06-01", "2019-08-01")
    assert sandbox_jobs(proc_sandbox) == before and store.list() == []


def test_unknown_tile_fails_with_the_server_message(jobs: MajaJobs) -> None:
    final = jobs.wait(jobs.submit_series("31TCK", "2019-03-01", "2019-05-01").id, interval=0.05)
    assert final.state is JobState.FAILED and "No Sentinel-2 L1C" in (final.message or "")


def test_refused_submission_is_recorded_not_retried(jobs: MajaJobs, proc_sandbox: Sandbox) -> None:
    unknown = "S2A_MSIL1C_20190316T105659_N0209_R051_T31TCJ_20190316T999999"
    with pytest.raises(ProcessingError, match="not a Sentinel-2 L1C product of the catalogue"):
        jobs.submit_products([unknown])
    [record] = jobs.list()
    assert record.state is JobState.FAILED and record.reference is None
    assert sandbox_jobs(proc_sandbox) == 0


@pytest.mark.parametrize(
    "creds", [Credentials(), Credentials("user@example.com", "wrong", "bad-key")]
)
def test_bad_credentials_submit_nothing(
    proc_sandbox: Sandbox, store: JobStore, backend_name: str, creds: Credentials
) -> None:
    jobs = MajaJobs(backend_for(proc_sandbox, backend_name, creds), store)
    with pytest.raises(AuthenticationError):
        jobs.submit_series(**SERIES)
    assert sandbox_jobs(proc_sandbox) == 0
    assert [r.state for r in store.list()] in ([JobState.FAILED], [])


def test_dismissed_ogc_job_is_canceled(proc_sandbox: Sandbox, store: JobStore) -> None:
    proc_sandbox.config.time_scale = 1.0
    jobs = MajaJobs(backend_for(proc_sandbox, "geodes"), store)
    record = jobs.submit_series(**SERIES)
    assert record.status_url
    requests.delete(
        record.status_url, headers={"X-API-Key": DEFAULT_API_KEY}, timeout=10
    ).raise_for_status()
    assert jobs.refresh(record.id).state is JobState.CANCELED


def test_interrupted_submission_is_kept_as_unknown(store: JobStore) -> None:
    from eodag_peps_plus.backends import get_backend

    dead = get_backend("peps", "http://127.0.0.1:9", credentials=Credentials("u", "p"))
    jobs = MajaJobs(dead, store)
    with pytest.raises(Exception, match="connect"):
        jobs.submit_series(**SERIES)
    [record] = store.list()
    assert record.state is JobState.UNKNOWN and "no answer" in (record.message or "")


@pytest.mark.parametrize(
    ("backend", "kind"),
    [("peps", "drop"), ("geodes", "drop"), ("geodes", "corrupt"), ("peps", "html200")],
)
def test_result_downloads_survive_faults(
    proc_sandbox: Sandbox, store: JobStore, tmp_path: Path, backend: str, kind: str
) -> None:
    """Results go through the staging downloader: resume after a drop, refetch on a bad MD5,
    never keep an error page as an archive."""
    from eodag_peps_plus.sandbox import Fault

    jobs = MajaJobs(backend_for(proc_sandbox, backend), store)
    final = jobs.wait(jobs.submit_products([PRODUCT])[0].id, interval=0.05, max_interval=0.2)
    [result] = final.results
    assert not result.novald
    name = result.filename[: -len(".zip")]
    proc_sandbox.faults.add(Fault(kind, at=700, products=frozenset({name})))
    report = jobs.fetch(final.id, tmp_path)
    assert (kind, name) in proc_sandbox.faults.fired
    [path] = report.downloaded
    entry = service(proc_sandbox).jobs[final.reference].results[result.filename]
    assert _md5(path) == entry.md5 and path.stat().st_size == entry.archive.size


def test_ensure_dry_run_on_geodes_sends_nothing(proc_sandbox: Sandbox, store: JobStore) -> None:
    from eodag_peps_plus.processing.ensure import ensure

    geodes = backend_for(proc_sandbox, "geodes")
    jobs = MajaJobs(geodes, store)
    report = ensure(jobs, geodes, "T31TCJ", "2019-03-01", "2019-04-30", dry_run=True)
    assert report.tile == "31TCJ" and report.l1c and report.existing and report.missing
    assert report.too_cloudy and not report.submitted
    assert len(report.l1c) == len(report.existing) + len(report.missing) + len(report.too_cloudy)
    assert sandbox_jobs(proc_sandbox) == 0 and store.list() == []


def test_wait_retries_an_unreachable_server_then_gives_up(store: JobStore) -> None:
    from eodag_peps_plus.backends import get_backend
    from eodag_peps_plus.exceptions import BackendError
    from eodag_peps_plus.processing.base import Submission

    dead = get_backend("peps", "http://127.0.0.1:9", credentials=Credentials("u", "p"))
    job_id = store.begin_submission(
        backend="peps", base_url=dead.base_url, process="FULL_MAJA", inputs={}, label="x"
    )
    store.complete_submission(job_id, Submission("abc", None, "FULL_MAJA", {}))
    sleeps: list[float] = []
    with pytest.raises(BackendError, match="connect"):
        MajaJobs(dead, store).wait(
            job_id, interval=1, max_interval=2, max_failures=3, sleep=sleeps.append
        )
    assert sleeps == [1, 1.5]  # backoff between polls, then the third failure ends it
    assert store.get(job_id).state is JobState.PENDING  # the job itself is untouched
