"""The MAJA scripts: ``full_maja_process``/``full_maja_download`` and
``peps_maja_process``/``peps_maja_download`` on both backends, their log and list files, the
job store behind them, and their refusals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.sandbox import Sandbox, SandboxConfig

from .conftest import Run, auth_file

BACKENDS = ["peps", "geodes"]
#: Nominal hours at this scale: a two-month series finishes in about two seconds.
FAST = 0.00005
#: Bound on polling loops (each iteration is one real request).
MAX_POLLS = 200


def _until_finished(legacy: Callable[..., Run], *args: str) -> Run:
    """Run the download command until it downloads (bounded: a stuck job fails the test)."""
    for _ in range(MAX_POLLS):
        run = legacy(*args)
        if "not completed" not in run.out:
            return run
        import time

        time.sleep(0.2)
    pytest.fail(f"job still unfinished after {MAX_POLLS} polls: {run.out}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_full_maja_process_then_download(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path, backend: str
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=FAST))
    common = ["-a", auth_file(workdir, backend), "--backend", backend, "--url", sb.url]
    run = legacy("full_maja_process", "-t", "T31TCJ", "-d", "2019-03-01", "-e", "2019-05-01",
                 "-o", "51", "-l", "31TCJ.log", *common)  # fmt: skip
    assert run.code == 0, run.text
    assert "Request OK: job 1" in run.out
    log = (workdir / "31TCJ.log").read_text()
    assert "job=1" in log and "statusLocation=" in log
    run = _until_finished(legacy, "full_maja_download", "-l", "31TCJ.log", "-w", "l2a", *common)
    assert run.code == 0, run.text
    zips = list((workdir / "l2a").glob("*.zip"))
    assert zips and all(z.stat().st_size > 0 and "NOVALD" not in z.name for z in zips)
    assert "completed download of" in run.out
    again = legacy("full_maja_download", "-l", "31TCJ.log", "-w", "l2a", *common)
    assert again.code == 0 and "already downloaded" in again.out
    assert "completed download" not in again.out


def test_lost_log_loses_no_job(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=FAST))
    common = ["-a", auth_file(workdir, "geodes"), "--url", sb.url]
    legacy("full_maja_process", "-t", "31TCJ", "-d", "2019-03-01", "-f", "2019-05-01", "-g", "a.log", *common)  # fmt: skip
    # The classic mistake: the same log name for a second tile overwrites the first job's log.
    run = legacy("full_maja_process", "-t", "31TCJ", "-d", "2019-06-01", "-e", "2019-08-01", "-g", "a.log", *common)  # fmt: skip
    assert run.code == 0 and "its job stays in the store" in run.err
    (workdir / "a.log").unlink()
    run = legacy("full_maja_download", "-l", "a.log", *common)
    assert run.code == 253 and "--job ID" in run.err  # legacy: no log file, sys.exit(-3)
    assert len(JobStore(workdir / "jobs.sqlite3").list()) == 2
    run = _until_finished(legacy, "full_maja_download", "--job", "1", "-w", "first", *common)
    assert run.code == 0 and list((workdir / "first").glob("*.zip"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-03-20"], "days"),
        (["-t", "31TCJ", "-d", "2018-01-01", "-e", "2019-06-01"], "days"),
        (["-t", "31TC", "-d", "2019-03-01", "-e", "2019-05-01"], "tile"),
        (["-t", "31TCJ", "-d", "2015-12-01", "-e", "2016-02-01"], "2016-04-01"),
        (["-t", "31TCJ", "-d", "2019-03-01"], "Missing option"),
    ],
)
def test_full_maja_refusals_send_and_write_nothing(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path, args: list[str], message: str
) -> None:
    run = legacy("full_maja_process", *args, "--url", sandbox.url, "-a", auth_file(workdir, "geodes"))  # fmt: skip
    assert run.code != 0 and message in run.err
    assert not (workdir / "Full_Maja.log").exists()
    assert not (workdir / "jobs.sqlite3").exists() or not JobStore(workdir / "jobs.sqlite3").list()


def test_full_maja_dry_run(legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path) -> None:
    run = legacy("full_maja_process", "-t", "31TCJ", "-d", "2019-03-01", "-e", "2019-05-01",
                 "-n", "--url", sandbox.url, "-a", auth_file(workdir, "peps"), "--backend", "peps")  # fmt: skip
    assert run.code == 0 and "would submit FULL_MAJA on peps: tile 31TCJ" in run.out
    assert not (workdir / "Full_Maja.log").exists()


PER_PRODUCT = ["-t", "31TCJ", "-d", "2019-03-01", "-f", "2019-03-10", "-o", "51"]
MANY = ["-t", "31TCJ", "-d", "2019-03-01", "-f", "2019-05-01"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_peps_maja_process_then_download(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path, backend: str
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=FAST))
    common = ["-a", auth_file(workdir, backend), "--backend", backend, "--url", sb.url]
    run = legacy("peps_maja_process", *PER_PRODUCT, "-p", "prods.txt", *common)
    assert run.code == 0, run.text
    names = (workdir / "prods.txt").read_text().split()
    assert names and all("MSIL1C" in n and "_R051_" in n for n in names)
    assert all((workdir / f"{n}.log").exists() for n in names)
    run = _until_finished(legacy, "peps_maja_download", "-p", "prods.txt", "-w", ".", *common)
    assert run.code == 0, run.text
    assert "completed download of" in run.out or "NOVALD" in run.out


@pytest.mark.parametrize("backend", BACKENDS)
def test_ten_or_more_jobs_need_confirmation(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path, backend: str
) -> None:
    sb = make_sandbox(SandboxConfig(time_scale=FAST))
    common = ["-a", auth_file(workdir, backend), "--backend", backend, "--url", sb.url]
    run = legacy("peps_maja_process", *MANY, "-p", "prods.txt", *common, stdin="no\n")
    assert run.code == 1 and "not submitted" in run.err
    assert not (workdir / "prods.txt").exists()
    assert not sb.services["processing"].jobs
    run = legacy("peps_maja_process", *MANY, "-p", "prods.txt", "-n", *common)
    assert run.code == 0 and len((workdir / "prods.txt").read_text().split()) >= 10
    assert not sb.services["processing"].jobs
    run = legacy("peps_maja_process", *MANY, "-p", "prods.txt", *common, stdin="yes\n")
    assert run.code == 0, run.text
    assert len(sb.services["processing"].jobs) == len((workdir / "prods.txt").read_text().split())


def test_peps_maja_process_refusals(
    legacy: Callable[..., Run], sandbox: Sandbox, workdir: Path
) -> None:
    auth = ["-a", auth_file(workdir, "geodes"), "--url", sandbox.url]
    run = legacy("peps_maja_process", "-d", "2019-03-01", "-p", "p.txt", *auth)
    assert run.code == 255 and "provide at least a point" in run.err
    run = legacy("peps_maja_process", "-t", "31TCJ", "-d", "2019-03-01", *auth)
    assert run.code != 0 and "Missing option '-p'" in run.err
    run = legacy("peps_maja_process", "-t", "31TCJ", "-l", "Toulouse", "-p", "p.txt", *auth)
    assert run.code == 255 and "not tile and location" in run.err
    assert not (workdir / "p.txt").exists()


def test_download_keeps_to_its_server_and_duplicates_need_resubmit(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path
) -> None:
    """Issue 23: the same products submitted again on the same server are refused without
    --resubmit; submitted on another server, the download given --backend fetches its own
    server's jobs, not the newest duplicates (even though their logs overwrote the first)."""
    sb = make_sandbox(SandboxConfig(time_scale=FAST))
    on = {b: ["-a", auth_file(workdir, b), "--backend", b, "--url", sb.url] for b in BACKENDS}
    assert legacy("peps_maja_process", *PER_PRODUCT, "-p", "p1.txt", *on["peps"]).code == 0
    count = len(sb.services["processing"].jobs)
    again = legacy("peps_maja_process", *PER_PRODUCT, "-p", "p1.txt", *on["peps"])
    assert again.code == 1 and "--resubmit" in again.err
    assert len(sb.services["processing"].jobs) == count
    assert legacy("peps_maja_process", *PER_PRODUCT, "-p", "p2.txt", *on["geodes"]).code == 0
    assert len(sb.services["processing"].jobs) == 2 * count
    store = JobStore(workdir / "jobs.sqlite3")
    names = (workdir / "p1.txt").read_text().split()
    peps_jobs = [r for r in store.list() if r.backend == "peps"]
    run = _until_finished(legacy, "peps_maja_download", "-p", "p1.txt", "-w", "out", *on["peps"])
    assert run.code == 0, run.text
    wanted = {r.filename for job in peps_jobs for r in store.get(job.id).results if not r.novald}
    assert {p.name for p in (workdir / "out").glob("*.zip")} == wanted
    assert len(peps_jobs) == len(names)
    resent = legacy("peps_maja_process", *PER_PRODUCT, "-p", "p1.txt", *on["peps"], "--resubmit")
    assert resent.code == 0 and len(sb.services["processing"].jobs) == 3 * count


def test_unfinished_job_shows_our_state_not_stalled(
    legacy: Callable[..., Run], make_sandbox: Callable[..., Sandbox], workdir: Path
) -> None:
    """PEPS's STALLED is its word for a healthy running job: the drop-in says RUNNING."""
    sb = make_sandbox(SandboxConfig(time_scale=1.0))
    common = ["-a", auth_file(workdir, "peps"), "--backend", "peps", "--url", sb.url]
    run = legacy("full_maja_process", *MANY[:4], "-e", "2019-05-01", "-l", "s.log", *common)
    assert run.code == 0, run.text
    run = legacy("full_maja_download", "-l", "s.log", "-w", "out", *common)
    assert run.code == 0 and "not completed" in run.out, run.text
    assert "STALLED" not in run.text and ("RUNNING" in run.out or "PENDING" in run.out)
