"""Interruptions: a real ``kill -9`` in the middle of a transfer, and resumption from any cut
point (property test)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER, Fault, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import DownloadStatus
from eodag_peps_plus.staging.ledger import LEDGER_NAME, Ledger
from eodag_peps_plus.staging.storage import PartState
from eodag_peps_plus.staging.transfer import Outcome, TransferJob, run_transfer

from .helpers import all_products, downloader, md5_of, peps_backend

CHILD = textwrap.dedent(
    """
    import sys
    from eodag_peps_plus.backends import get_backend
    from eodag_peps_plus.http_io import Credentials
    from eodag_peps_plus.query import Query
    from eodag_peps_plus.staging import Downloader

    url, out, user, password = sys.argv[1:5]
    backend = get_backend("peps", url, credentials=Credentials(user, password))
    products = list(backend.search(Query.create(collection="S2ST")))
    Downloader(backend, out, quiet=True, poll_initial=0.05, poll_max=0.2).download(products)
    """
)


def test_kill_9_mid_transfer_then_clean_resume(staging_sandbox, tmp_path: Path) -> None:
    catalogue = staging_catalogue(1, size_range=(1_500_000, 1_500_000), offline=0.0, seed=11)
    sb = staging_sandbox(catalogue, per_connection_bps=500_000)  # 3 s for the whole file
    name = catalogue.entries[0].name
    part = tmp_path / f"{name}.zip.part"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sb.url, str(tmp_path), DEFAULT_USER, DEFAULT_PASSWORD],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if part.exists() and part.stat().st_size >= 400_000:
                break
            if child.poll() is not None:
                raise AssertionError(f"child ended early: {child.stderr.read().decode()}")
            time.sleep(0.02)
        else:
            raise AssertionError("the transfer never started")
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)  # also closes its pipe
    assert child.returncode == -signal.SIGKILL
    cut = part.stat().st_size
    assert 0 < cut < 1_500_000
    assert not (tmp_path / f"{name}.zip").exists(), "a partial file must never look like a product"
    row = Ledger(tmp_path / LEDGER_NAME).get(name)
    assert row is not None and row.status == "downloading"
    # The worker never writes the ledger: the validator of the part's bytes is beside it.
    state = PartState.read(part)
    assert state is not None and state.validator and state.size == 1_500_000

    sb.httpd.per_connection_rate = None
    backend = peps_backend(sb)
    products = all_products(backend)
    report = downloader(backend, tmp_path).download(products)
    assert report.ok, report.format()
    entry = report.products[0]
    assert f"resumed at byte {cut}" in entry.reason
    assert entry.received == 1_500_000 - cut
    assert md5_of(tmp_path / f"{name}.zip") == products[0].md5
    assert not part.exists()


RESUME_CATALOGUE = staging_catalogue(1, size_range=(120_000, 120_000), offline=0.0, seed=12)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cut=st.integers(min_value=1, max_value=119_999), cut2=st.integers(0, 119_999))
def test_resume_from_any_cut_points(cut: int, cut2: int) -> None:
    """Drop the connection at an arbitrary byte, then possibly again further on: every byte is
    fetched once and the result always matches the catalogue."""
    second = cut + cut2 % (120_000 - cut) if cut2 else None
    with (
        Sandbox(RESUME_CATALOGUE, SandboxConfig(), services=("peps",)) as sb,
        tempfile.TemporaryDirectory() as tmp,
    ):
        out = Path(tmp)
        backend = peps_backend(sb)
        product = all_products(backend)[0]
        sb.faults.add(Fault("drop", at=cut, times=1))
        if second is not None and second > cut:
            sb.faults.add(Fault("drop", at=second - cut, times=1))
        job = TransferJob(product, backend, out)
        results = [run_transfer(job)]
        while results[-1].outcome is Outcome.RETRY and len(results) < 4:
            results.append(run_transfer(job))
        assert results[-1].outcome is Outcome.DONE, results
        assert sum(r.received for r in results) == product.size
        # Bytes before the zip signature is complete are held back, never written.
        assert results[1].resumed_from == (cut if cut >= 4 else 0)
        assert md5_of(out / f"{product.id}.zip") == product.md5
        assert not (out / f"{product.id}.zip.part").exists()
        assert not (out / f"{product.id}.zip.part.json").exists()


def test_interrupted_run_keeps_part_and_claim_is_released(staging_sandbox, tmp_path: Path) -> None:
    """Ctrl-C equivalent: cancelling stops at the next chunk, keeps the part file for the next
    run, and leaves no claim that would block it."""
    catalogue = staging_catalogue(1, size_range=(800_000, 800_000), offline=0.0, seed=13)
    sb = staging_sandbox(catalogue, per_connection_bps=400_000)
    backend = peps_backend(sb)
    products = all_products(backend)
    d = downloader(backend, tmp_path)
    name = products[0].id
    part = tmp_path / f"{name}.zip.part"

    import threading

    def interrupt() -> None:
        while not (part.exists() and part.stat().st_size > 100_000):
            time.sleep(0.01)
        d.cancel.set()

    threading.Thread(target=interrupt, daemon=True).start()
    report = d.download(products)
    assert report.products[0].status is not DownloadStatus.DONE
    assert part.exists() and not (tmp_path / f"{name}.zip").exists()
    row = Ledger(tmp_path / LEDGER_NAME).get(name)
    assert row is not None and row.owner is None
    sb.httpd.per_connection_rate = None
    report = downloader(backend, tmp_path).download(products)
    assert report.ok and "resumed at byte" in report.products[0].reason
    assert md5_of(tmp_path / f"{name}.zip") == products[0].md5


def test_ledger_from_before_restore_confirmations_keeps_its_requests(tmp_path: Path) -> None:
    """An older ledger (no ``restore_sent_at``): its recorded requests count as sent, as that
    version assumed, so upgrading does not ask every restore again."""
    import sqlite3

    path = tmp_path / LEDGER_NAME
    db = sqlite3.connect(path)
    db.execute(
        "CREATE TABLE products (id TEXT PRIMARY KEY, size INTEGER, md5 TEXT, status TEXT NOT "
        "NULL DEFAULT 'offline', reason TEXT, restore_asked_at REAL, restore_asks INTEGER NOT "
        "NULL DEFAULT 0, validator TEXT, owner TEXT, lease_until REAL, file_size INTEGER, "
        "file_mtime_ns INTEGER, extracted INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL)"
    )
    asked = time.time() - 60
    db.execute(
        "INSERT INTO products (id, restore_asked_at, restore_asks, updated_at) VALUES (?, ?, 1, ?)",
        ("S2A_OLD", asked, asked),
    )
    db.commit()
    db.close()
    ledger = Ledger(path)
    row = ledger.get("S2A_OLD")
    assert row is not None and row.restore_sent_at == asked
    assert row.restore_sent_within(1800.0)
    assert not ledger.claim_restore("S2A_OLD", retry_after=1800.0)


def test_a_new_part_without_its_sidecar_yet_still_sees_a_takeover(tmp_path: Path) -> None:
    """Below 64 KiB a new part has no sidecar (cheaper to fetch again than to remember);
    another attempt still shows, by writing a sidecar or by a new part file in its place, so
    the first one never commits bytes it did not write."""
    from eodag_peps_plus.product import Product
    from eodag_peps_plus.staging.transfer import _Attempt, new_token

    product = Product(
        id="S2A_MSIL1C_20180101T105441_N0206_R051_T31TCJ_20180101T111107",
        native_id="x",
        backend="peps",
        geometry={"type": "Point", "coordinates": [1.0, 43.0]},
        properties={},
        download_url="https://peps.cnes.fr/x",
        size=100,
    )
    attempt = _Attempt(TransferJob(product, object(), tmp_path))  # type: ignore[arg-type]
    attempt.state = PartState("etag", 100, None, new_token())
    attempt.part.write_bytes(b"PK\x03\x04")
    attempt.inode = attempt.part.stat().st_ino
    assert not attempt._taken_over_now()
    PartState("etag", 100, None, new_token()).write(attempt.part)  # another attempt's
    assert attempt._taken_over_now()
    PartState.path(attempt.part).unlink()
    replaced = attempt.part.with_name("replaced")
    replaced.write_bytes(b"PK\x03\x04")
    os.replace(replaced, attempt.part)  # a new part file in its place
    assert attempt._taken_over_now()
    attempt.part.unlink()
    assert attempt._taken_over_now()
