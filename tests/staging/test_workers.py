"""Transfers in child processes of this machine (:mod:`eodag_peps_plus.staging.workers`), over
real HTTP against the sandbox: verified batches, progress handed back, ``kill -9`` of a child
and of the scheduler, cancellation, and the fallback when no child can start."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.exceptions import ConfigurationError
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import DownloadStatus, workers
from eodag_peps_plus.staging.storage import PartState
from eodag_peps_plus.staging.transfer import run_transfer
from eodag_peps_plus.staging.workers import ProcessTransfers, default_processes

from .helpers import all_products, assert_recovered, downloader, md5_of, peps_backend, wait_for


def dl(backend: Any, out: Any, **options: Any) -> Any:
    return downloader(backend, out, timeout=60, **options)


def _children_of(pid: int) -> list[int]:
    """Linux: the processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _is_transfer_process(pid: int) -> bool:
    try:
        return b"_child_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def test_a_batch_in_two_processes_is_verified(staging_sandbox, tmp_path: Path) -> None:
    catalogue = staging_catalogue(24, size_range=(2_000, 90_000), offline=0.5, seed=71)
    sb = staging_sandbox(catalogue)
    backend = peps_backend(sb)
    products = all_products(backend)
    report = dl(backend, tmp_path, transfer_processes=2, max_transfers=4).download(products)
    assert report.ok, report.format()
    assert all(md5_of(tmp_path / f"{p.id}.zip") == p.md5 for p in products)
    assert not list(tmp_path.glob("*.part*"))
    if Path("/proc/self/stat").exists():
        left = [p for p in _children_of(os.getpid()) if _alive(p) and _is_transfer_process(p)]
        assert not left, "transfer processes left behind"


def test_progress_comes_back_from_the_children(staging_sandbox, tmp_path: Path) -> None:
    """A transfer longer than the forwarding interval shows its bytes here as they come."""
    catalogue = staging_catalogue(1, size_range=(1_000_000, 1_000_000), offline=0.0, seed=72)
    sb = staging_sandbox(catalogue, per_connection_bps=700_000)
    backend = peps_backend(sb)
    products = all_products(backend)
    seen: list[tuple[float, int]] = []

    class Bar:  # EODAG's ProgressCallback, as far as the downloader uses it
        def reset(self, total: int | None = None) -> None:
            seen.append((time.monotonic(), 0))

        def __call__(self, amount: int) -> None:
            seen.append((time.monotonic(), amount))

        update = __call__

    d = dl(backend, tmp_path, transfer_processes=1)
    report = d.download(products, bytes_bar=Bar())
    assert report.ok, report.format()
    amounts = [amount for _, amount in seen if amount]
    assert len(amounts) >= 2, seen  # several forwards while it ran, not one at the end
    assert sum(amounts) == 1_000_000


@linux_only
def test_a_child_killed_mid_transfer(staging_sandbox, tmp_path: Path) -> None:
    """``kill -9`` of the child that streams: its transfers fail back to the scheduler, a new
    child resumes them from their parts, and every archive ends verified."""
    catalogue = staging_catalogue(2, size_range=(1_200_000, 1_200_000), offline=0.0, seed=73)
    sb = staging_sandbox(catalogue, per_connection_bps=400_000)
    backend = peps_backend(sb)
    products = all_products(backend)
    with ProcessTransfers(1, threads_per_process=2) as engine:
        engine.start()
        reports: list[Any] = []
        run = threading.Thread(
            target=lambda: reports.append(
                dl(backend, tmp_path, max_transfers=2).download(products, executor=engine)
            )
        )
        run.start()
        try:
            wait_for(
                lambda: any(p.stat().st_size > 300_000 for p in tmp_path.glob("*.zip.part")),
                30,
                "a transfer to stream",
            )
            pid = engine._children[0].process.pid
            os.kill(pid, signal.SIGKILL)
        finally:
            run.join(90)
    assert not run.is_alive()
    assert_recovered(reports[0], products, tmp_path)


def test_cancel_stops_the_children_at_once(staging_sandbox, tmp_path: Path) -> None:
    """Ctrl-C (the batch's cancel): the child's transfer stops at its next chunk, reports
    "interrupted" and leaves its part with a sidecar; the next run resumes it."""
    catalogue = staging_catalogue(1, size_range=(3_000_000, 3_000_000), offline=0.0, seed=74)
    sb = staging_sandbox(catalogue, per_connection_bps=100_000)  # 30 s for the whole file
    backend = peps_backend(sb)
    products = all_products(backend)
    part = tmp_path / f"{products[0].id}.zip.part"
    d = dl(backend, tmp_path, transfer_processes=1)

    def interrupt() -> None:
        wait_for(lambda: part.exists() and part.stat().st_size > 100_000, 30, "bytes")
        d.cancel.set()

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    report = d.download(products)
    assert time.monotonic() - started < 15
    entry = report.products[0]
    assert entry.status is not DownloadStatus.DONE and "interrupted" in entry.reason
    assert entry.received > 0
    state = PartState.read(part)
    assert state is not None and state.validator
    sb.httpd.per_connection_rate = None
    report = dl(backend, tmp_path, transfer_processes=1).download(products)
    assert report.ok and "resumed at byte" in report.products[0].reason, report.format()
    assert md5_of(tmp_path / f"{products[0].id}.zip") == products[0].md5


SCHEDULER = """
import sys
from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.query import Query
from eodag_peps_plus.staging import Downloader
url, out, user, password = sys.argv[1:]
backend = get_backend("peps", url, credentials=Credentials(user, password))
products = list(backend.search(Query.create(collection="S2ST")))
Downloader(backend, out, transfer_processes=1, quiet=True).download(products)
"""


@linux_only
def test_children_stop_when_the_scheduler_is_killed(staging_sandbox, tmp_path: Path) -> None:
    """``kill -9`` of the scheduler: its child sees its pipe close and stops at the next chunk
    (no orphan keeps writing), leaving a part with its sidecar for the next run."""
    catalogue = staging_catalogue(1, size_range=(2_000_000, 2_000_000), offline=0.0, seed=75)
    sb = staging_sandbox(catalogue, per_connection_bps=200_000)  # 10 s for the whole file
    name = catalogue.entries[0].name
    part = tmp_path / f"{name}.zip.part"
    scheduler = subprocess.Popen(
        [sys.executable, "-c", SCHEDULER, sb.url, str(tmp_path), DEFAULT_USER, DEFAULT_PASSWORD],
        stderr=subprocess.PIPE,
    )
    try:
        wait_for(lambda: part.exists() and part.stat().st_size > 200_000, 30, "bytes")
        children = _children_of(scheduler.pid)
        assert children, "no transfer process"
        scheduler.kill()
        scheduler.wait(10)
        wait_for(lambda: not any(_alive(p) for p in children), 10, "the child to stop")
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
        scheduler.communicate(timeout=30)  # also closes its pipe
    assert not (tmp_path / f"{name}.zip").exists()
    state = PartState.read(part)
    assert state is not None and state.validator


@pytest.mark.parametrize("python", ["/bin/false", "/no/such/python"])
def test_without_children_the_batch_runs_in_threads(
    staging_sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog, python: str
) -> None:
    """Children that cannot start (one exits at once, one cannot be run): a batch that did not
    ask for them runs in threads, with a warning; one that asked for them stops with a clear
    error."""
    catalogue = staging_catalogue(3, size_range=(2_000, 4_000), offline=0.0, seed=76)
    sb = staging_sandbox(catalogue)
    backend = peps_backend(sb)
    products = all_products(backend)
    if os.name == "nt":
        pytest.skip("POSIX paths")
    monkeypatch.setattr(workers.sys, "executable", python)
    monkeypatch.setattr(workers, "PROCESSES_FROM", 1)
    with caplog.at_level(logging.WARNING, logger="eodag.peps_plus.staging.run"):
        report = dl(backend, tmp_path / "auto").download(products)
    assert report.ok, report.format()
    assert "the transfers run in this process" in caplog.text
    with pytest.raises(ConfigurationError, match="transfer process did not start"):
        dl(backend, tmp_path / "asked", transfer_processes=1).download(products)


def test_default_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 8)
    assert default_processes(100, 8) == 0
    assert default_processes(workers.PROCESSES_FROM, 8) == workers.MAX_DEFAULT_PROCESSES
    assert default_processes(100_000, 2) == 2
    assert default_processes(100_000, 1) == 0
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 1)
    assert default_processes(100_000, 8) == 0
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 8)
    monkeypatch.setattr(workers.sys, "frozen", True, raising=False)
    assert default_processes(100_000, 8) == 0


def test_the_engine_runs_transfers_only() -> None:
    with ProcessTransfers(1) as engine:
        with pytest.raises(TypeError):
            engine.submit(print, "x")
        with pytest.raises(TypeError):
            engine.submit(run_transfer, "not a job")
    with pytest.raises(RuntimeError):
        engine.submit(run_transfer, object())
    with pytest.raises(ValueError):
        ProcessTransfers(0)
