"""Jobs that survive any kill: ``maja submit`` killed (``kill -9``) after the server accepted
the job but before the store heard of it. The sandbox holds the accepted reply back
(``accept_delay``), so the kill lands in that window every time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.processing import processing_for
from eodag_peps_plus.processing.base import JobState, Submission
from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import Sandbox, SandboxConfig

from .proc_helpers import SERIES, backend_for, sandbox_jobs, service

PEPS_PLUS = str(Path(sys.executable).with_name("peps-plus"))
SUBMIT = ["-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-05-01", "-o", "51"]


def _kill_after_acceptance(sandbox: Sandbox, backend: str, env: dict[str, str]) -> None:
    """Run ``maja submit`` in a subprocess and ``kill -9`` it once the server holds the job
    (its reply is still held back by the sandbox)."""
    service(sandbox).accept_delay = 30.0
    proc = subprocess.Popen(
        [PEPS_PLUS, "maja", "submit", "-B", backend, "--url", sandbox.url, *SUBMIT],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while sandbox_jobs(sandbox) == 0:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the submission never reached the sandbox"
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # also closes its pipes
        service(sandbox).accept_delay = 0.0
    assert proc.returncode == -signal.SIGKILL


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    return make_sandbox(config=SandboxConfig(time_scale=0.00005))


def test_killed_ogc_submission_is_found_on_the_server(
    sandbox: Sandbox, cli_env: dict[str, str], run_cli: Callable[..., Any]
) -> None:
    _kill_after_acceptance(sandbox, "geodes", cli_env)
    store = JobStore(cli_env["PEPS_PLUS_JOB_STORE"])
    [orphan] = store.list()
    assert orphan.state is JobState.SUBMITTING and orphan.reference is None

    # Submitting the same series again finds the job instead of sending a duplicate.
    res = run_cli("maja", "submit", "-B", "geodes", "--url", sandbox.url, *SUBMIT, "--json")
    assert res.code == 0, res.err
    [again] = json.loads(res.out)
    [server_job] = service(sandbox).jobs
    assert again["id"] == orphan.id and again["reference"] == server_job
    assert "recovered" in again["message"]
    assert sandbox_jobs(sandbox) == 1 and len(store.list()) == 1

    res = run_cli("maja", "wait", "--interval", "0.05", "--max-interval", "0.2")
    assert res.code == 0, res.err
    assert f"job {orphan.id}: finished" in res.out
    assert store.get(orphan.id).state is JobState.FINISHED


def test_killed_ogc_submission_is_followed_by_wait(
    sandbox: Sandbox, cli_env: dict[str, str]
) -> None:
    _kill_after_acceptance(sandbox, "geodes", cli_env)
    store = JobStore(cli_env["PEPS_PLUS_JOB_STORE"])
    [orphan] = store.list()
    wait = subprocess.run(
        [PEPS_PLUS, "maja", "wait", str(orphan.id), "--interval", "0.05"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert wait.returncode == 0, wait.stderr
    assert f"job {orphan.id}: finished" in wait.stdout
    assert store.get(orphan.id).reference == next(iter(service(sandbox).jobs))
    assert sandbox_jobs(sandbox) == 1


def test_killed_wps_submission_is_never_reported_done(
    sandbox: Sandbox, cli_env: dict[str, str], run_cli: Callable[..., Any]
) -> None:
    """WPS has no job list: the job cannot be found again, so ``wait`` fails with a clear line
    and a new submission of the same inputs is refused unless ``--resubmit``."""
    _kill_after_acceptance(sandbox, "peps", cli_env)
    store = JobStore(cli_env["PEPS_PLUS_JOB_STORE"])
    [orphan] = store.list()
    res = run_cli("maja", "wait", str(orphan.id), "--interval", "0.05")
    assert res.code == 1
    err = res.err
    assert f"job {orphan.id}: undetermined" in err and "no job list" in err
    assert "finished" not in res.out
    assert store.get(orphan.id).state is JobState.UNKNOWN
    res = run_cli("maja", "fetch", str(orphan.id), "--no-progress")
    assert res.code == 1 and f"job {orphan.id}: not seen on the server" in res.out

    res = run_cli("maja", "submit", "-B", "peps", "--url", sandbox.url, *SUBMIT)
    assert res.code == 1 and "--resubmit" in res.err
    assert res.err.count("\n") == 1
    assert sandbox_jobs(sandbox) == 1

    res = run_cli("maja", "submit", "-B", "peps", "--url", sandbox.url, *SUBMIT, "--resubmit")
    assert res.code == 0, res.err
    assert sandbox_jobs(sandbox) == 2


def test_submission_that_never_arrived_is_proved_absent(sandbox: Sandbox, store: JobStore) -> None:
    """Killed before the request left: the server's complete job list has no such job, so the
    row is closed as never sent and the same inputs go out again."""
    jobs = MajaJobs(backend_for(sandbox, "geodes"), store)
    inputs = {"tile": "31TCJ", "start": "2019-03-01", "end": "2019-05-01", "relative_orbit": 51}
    lost = store.begin_submission(
        backend="geodes", base_url=sandbox.url, process="FULL_MAJA", inputs=inputs, label="x"
    )
    _orphan(store, lost)
    result = jobs.reconcile(lost)
    assert result.outcome == "absent" and "never reached" in (result.job.message or "")
    assert result.job.state is JobState.FAILED
    record = jobs.submit_series(**SERIES)
    assert record.id != lost and record.reference and sandbox_jobs(sandbox) == 1
    with pytest.raises(Exception, match="never reached"):
        jobs.wait(lost, interval=0.05)


def test_two_orphans_one_server_job(sandbox: Sandbox, store: JobStore) -> None:
    """A server job is adopted by one row only; the other row is proved absent."""
    jobs = MajaJobs(backend_for(sandbox, "geodes"), store)
    sent = jobs.submit_series(**SERIES)
    assert sent.reference

    def two_orphans() -> list[int]:
        rows = []
        for _ in range(2):
            row = store.begin_submission(
                backend="geodes",
                base_url=sandbox.url,
                process="FULL_MAJA",
                inputs=dict(sent.inputs),
                label="x",
            )
            _orphan(store, row)
            rows.append(row)
        return rows

    # the first submission's reference is held already: nothing left to adopt
    assert [jobs.reconcile(r).outcome for r in two_orphans()] == ["absent", "absent"]
    # a server job nobody holds (its reply was lost) is adopted once
    processing_for(backend_for(sandbox, "geodes")).submit_series(
        "31TCJ", date(2019, 3, 1), date(2019, 5, 1), 51
    )
    assert [jobs.reconcile(r).outcome for r in two_orphans()] == ["adopted", "absent"]


def test_a_live_submitter_is_left_alone(sandbox: Sandbox, store: JobStore) -> None:
    jobs = MajaJobs(backend_for(sandbox, "geodes"), store)
    row = store.begin_submission(
        backend="geodes", base_url=sandbox.url, process="MAJA", inputs={"product": "x"}, label="x"
    )
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _orphan(store, row, pid=sleeper.pid)
        result = jobs.reconcile(row)
        assert result.outcome == "in-flight" and str(sleeper.pid) in result.detail
    finally:
        sleeper.kill()
        sleeper.wait(10)
    assert jobs.reconcile(row).outcome == "absent"


def _orphan(store: JobStore, job_id: int, pid: int = 2**22 + 1) -> None:
    """Make a row look written by another (dead, or given) process on this host."""
    import socket
    import sqlite3

    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "UPDATE jobs SET submitter = ? WHERE id = ?", (f"{socket.gethostname()}:{pid}", job_id)
        )


def test_submission_record_round_trip(store: JobStore) -> None:
    row = store.begin_submission(
        backend="geodes", base_url="http://h", process="MAJA", inputs={}, label="x"
    )
    assert store.get(row).submitter and store.get(row).submitter.endswith(f":{os.getpid()}")
    assert store.complete_submission(row, Submission("r", None, "MAJA", {}), message="m")
    assert not store.complete_submission(row, Submission("s", None, "MAJA", {}))
    assert store.get(row).reference == "r" and store.references("geodes", "http://h") == {"r"}
