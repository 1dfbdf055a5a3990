"""``kill -9`` of ``peps-plus maja wait`` in the middle of a job: the store keeps the job and a
new ``wait`` finishes following it, without submitting anything again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from eodag_peps_plus.processing.base import JobState
from eodag_peps_plus.processing.jobs import MajaJobs
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import SandboxConfig

from .proc_helpers import SERIES, backend_for, service

PEPS_PLUS = str(Path(sys.executable).with_name("peps-plus"))


def _wait_cmd(job_id: int) -> list[str]:
    return [PEPS_PLUS, "maja", "wait", str(job_id), "--interval", "0.2", "--max-interval", "0.4"]


def test_kill_wait_mid_job_and_restart(
    make_sandbox, cli_env: dict[str, str], tmp_path: Path
) -> None:
    # 22 dates: about 35,000 nominal seconds, so about 6 s here.
    sandbox = make_sandbox(config=SandboxConfig(time_scale=0.00017))
    store = JobStore(cli_env["PEPS_PLUS_JOB_STORE"])
    jobs = MajaJobs(backend_for(sandbox, "peps"), store)
    job = jobs.submit_series(**SERIES)

    first = subprocess.Popen(
        _wait_cmd(job.id), env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while True:  # until the first wait has recorded real progress
        record = store.get(job.id)
        if record.state is JobState.RUNNING and (record.progress or 0) > 0:
            break
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "wait never recorded progress"
        time.sleep(0.05)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=10)  # also closes its pipes
    assert first.returncode == -signal.SIGKILL

    kept = store.get(job.id)
    assert kept.reference == job.reference and kept.state is JobState.RUNNING
    assert [r.id for r in store.list()] == [job.id]

    second = subprocess.run(
        _wait_cmd(job.id), env=cli_env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 0, second.stderr
    assert f"job {job.id}: finished" in second.stdout
    done = store.get(job.id)
    assert done.state is JobState.FINISHED and done.results
    assert len(service(sandbox).jobs) == 1  # nothing was submitted twice

    report = jobs.fetch(job.id, tmp_path / "out")
    assert report.downloaded and not report.failed
