"""``maja wait`` follows every unfinished job in one loop (one status poll per job per round),
shows our state with the server's word as detail, and gives up at the real timeout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eodag_peps_plus.processing.base import JobState
from eodag_peps_plus.processing.jobs import MajaJobs, timeout_line
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import Sandbox

from .proc_helpers import SERIES, backend_for

PRODUCT = "S2A_MSIL1C_20190302T103326_N0209_R008_T31TCJ_20190302T161026"


class FakeClock:
    """Time that moves only when the waiter sleeps: rounds are counted, not timed."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_one_status_poll_per_job_per_round(proc_sandbox: Sandbox, store: JobStore) -> None:
    proc_sandbox.config.time_scale = 1.0  # hours: nothing ends during the test
    jobs = MajaJobs(backend_for(proc_sandbox, "peps"), store)
    records = [jobs.submit_series(**SERIES), *jobs.submit_products([PRODUCT])]
    records.append(jobs.submit_series(**{**SERIES, "relative_orbit": 8}))
    before = proc_sandbox.stats.get("processing.wps.requests", 0)
    clock = FakeClock()
    seen: list[int] = []
    report = jobs.wait_all(
        [r.id for r in records],
        interval=30,
        backoff=2,
        max_interval=600,
        timeout=240,
        sleep=clock.sleep,
        clock=clock,
        on_status=lambda r: seen.append(r.id),
    )
    rounds = len(clock.sleeps) + 1
    assert clock.sleeps == [30, 60, 120, 30]  # the last sleep ends exactly at the timeout
    assert report.timed_out and report.elapsed == 240
    # one PROCESSING_STATUS per job per round, whatever the number of jobs
    assert proc_sandbox.stats["processing.wps.requests"] - before == 3 * rounds
    assert seen == [r.id for r in records] * rounds
    assert "after 240 s" in timeout_line(report)
    assert all(store.get(r.id).state is JobState.RUNNING for r in records)


def test_finished_jobs_are_recorded_while_others_run(
    proc_sandbox: Sandbox, store: JobStore, run_cli: Callable[..., Any], cli_env: dict[str, str]
) -> None:
    """A long job first in line does not keep a short one behind it ``pending``."""
    cli_store = JobStore(cli_env["PEPS_PLUS_JOB_STORE"])
    jobs = MajaJobs(backend_for(proc_sandbox, "geodes"), cli_store)
    proc_sandbox.config.time_scale = 1.0
    long = jobs.submit_series(**SERIES)
    proc_sandbox.config.time_scale = 0.00005
    [short] = jobs.submit_products([PRODUCT])
    res = run_cli("maja", "wait", "--interval", "0.05", "--max-interval", "0.1", "--timeout", "3")
    assert res.code == 1
    assert f"job {short.id}: finished" in res.out
    assert f"job {long.id} still running after 3 s" in res.err
    assert cli_store.get(short.id).state is JobState.FINISHED
    assert cli_store.get(long.id).state is JobState.RUNNING


def test_log_lines_when_not_a_terminal(
    proc_sandbox: Sandbox, run_cli: Callable[..., Any], cli_env: dict[str, str]
) -> None:
    """Our state first; the server's word only when it says more (PEPS's ``STALLED`` is its
    name for a healthy running job: not shown, issue 23); no bar escape codes in a pipe."""
    proc_sandbox.config.time_scale = 1.0
    jobs = MajaJobs(backend_for(proc_sandbox, "peps"), JobStore(cli_env["PEPS_PLUS_JOB_STORE"]))
    job = jobs.submit_series(**SERIES)
    res = run_cli("maja", "wait", "--interval", "0.05", "--timeout", "0.3")
    assert res.code == 1
    lines = [line for line in res.err.splitlines() if line.startswith(f"job {job.id}: ")]
    assert lines and lines[0].startswith(f"job {job.id}: running ")
    assert "STALLED" not in res.err and "server:" not in lines[0] and "%" in lines[0]
    listed = run_cli("maja", "list")
    assert "STALLED" not in listed.out, listed.out
    assert "\r" not in res.err and "\x1b" not in res.err
    assert len(lines) <= 3  # a line per change, not one per poll


@pytest.mark.parametrize("backend", ["peps", "geodes"])
def test_wait_all_reports_every_job(proc_sandbox: Sandbox, store: JobStore, backend: str) -> None:
    jobs = MajaJobs(backend_for(proc_sandbox, backend), store)
    records = [jobs.submit_series(**SERIES), *jobs.submit_products([PRODUCT])]
    report = jobs.wait_all(records, interval=0.05, max_interval=0.2, timeout=60)
    assert report.ok and not report.timed_out
    assert {r.id for r in report.jobs} == {r.id for r in records}
    assert all(r.state is JobState.FINISHED for r in report.jobs)


def test_ogc_jobs_polled_with_one_listing_per_round(proc_sandbox: Sandbox, store: JobStore) -> None:
    """GEODES answers for all running jobs in one ``/jobs`` request: fewer than one request
    per job per round."""
    proc_sandbox.config.time_scale = 1.0
    jobs = MajaJobs(backend_for(proc_sandbox, "geodes"), store)
    records = [jobs.submit_series(**SERIES), *jobs.submit_products([PRODUCT])]
    records.append(jobs.submit_series(**{**SERIES, "relative_orbit": 8}))
    stats = proc_sandbox.stats
    before = (stats.get("processing.ogc.list", 0), stats.get("processing.ogc.status", 0))
    clock = FakeClock()
    report = jobs.wait_all(records, interval=30, timeout=100, sleep=clock.sleep, clock=clock)
    rounds = len(clock.sleeps) + 1
    assert report.timed_out and rounds == 4
    assert stats.get("processing.ogc.list", 0) - before[0] == rounds
    assert stats.get("processing.ogc.status", 0) - before[1] == 0
    assert all(store.get(r.id).state is JobState.RUNNING for r in records)
    assert all(store.get(r.id).progress is not None for r in records)


def test_one_bar_per_job_on_a_terminal(proc_sandbox: Sandbox, cli_env: dict[str, str]) -> None:
    """On a terminal: one tqdm bar per job, labelled with our state."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    import time
    from pathlib import Path

    jobs = MajaJobs(backend_for(proc_sandbox, "geodes"), JobStore(cli_env["PEPS_PLUS_JOB_STORE"]))
    records = [jobs.submit_series(**SERIES), *jobs.submit_products([PRODUCT])]
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    peps_plus = str(Path(sys.executable).with_name("peps-plus"))
    proc = subprocess.Popen(
        [peps_plus, "maja", "wait", "--interval", "0.05", "--max-interval", "0.2"],
        env=cli_env,
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    screen = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:  # read as it comes: a full pty would block the bars
            ready, _, _ = select.select([main], [], [], 0.2)
            try:
                chunk = os.read(main, 65536) if ready else b""
            except OSError:  # the child side closed
                break
            screen += chunk
            if not chunk and proc.poll() is not None:
                break
        assert proc.wait(5) == 0, screen[-500:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(main)
    text = screen.decode("utf-8", "replace")
    for record in records:
        assert f"job {record.id} finished" in text and f"job {record.id}: finished" in text
    assert "100%|" in text
