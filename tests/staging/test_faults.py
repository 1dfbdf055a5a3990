"""Every archive fault of the issue, over real HTTP: the product ends verified or is reported,
and nothing that is not the product is ever saved under its name."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from eodag_peps_plus.exceptions import AuthenticationError
from eodag_peps_plus.sandbox import Fault
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import DownloadStatus
from eodag_peps_plus.staging.transfer import Outcome, TransferJob, run_transfer

from .helpers import all_products, downloader, md5_of, peps_backend

ONLINE = staging_catalogue(2, size_range=(200_000, 300_000), offline=0.0, seed=3)


def _run(staging_sandbox, tmp_path: Path, fault: Fault | None, **options):
    sb = staging_sandbox(ONLINE)
    if fault is not None:
        sb.faults.add(fault)
    backend = peps_backend(sb, timeout=options.pop("http_timeout", 10.0))
    products = all_products(backend)
    report = downloader(backend, tmp_path, **options).download(products)
    return sb, products, report


def _assert_all_verified(products, report, tmp_path: Path) -> None:
    assert report.ok, report.format()
    for product in products:
        path = tmp_path / f"{product.id}.zip"
        assert md5_of(path) == product.md5
        assert not (tmp_path / f"{product.id}.zip.part").exists()


@pytest.mark.parametrize(
    "fault",
    [
        Fault("drop", at=50_000, times=2),
        Fault("status", status=500, retry_after=1, times=1),
        Fault("status", status=503, retry_after=1, times=1),
        Fault("status", status=429, retry_after=1, times=1),
        Fault("slow", delay=0.3, times=2),
        Fault("truncate", at=1000, times=1),
        Fault("corrupt", times=1),
        Fault("json200", times=1),
        Fault("html200", times=1),
        Fault("empty200", times=1),
        Fault("wrongtype", times=1),
    ],
    ids=lambda f: f"{f.kind}{f.status if f.kind == 'status' else ''}",
)
def test_transient_faults_end_verified(staging_sandbox, tmp_path: Path, fault: Fault) -> None:
    sb, products, report = _run(staging_sandbox, tmp_path, fault)
    _assert_all_verified(products, report, tmp_path)
    assert sb.faults.fired, "the fault was armed but never fired"


def test_drop_resumes_with_range(staging_sandbox, tmp_path: Path) -> None:
    sb, products, report = _run(staging_sandbox, tmp_path, Fault("drop", at=70_000, times=1))
    _assert_all_verified(products, report, tmp_path)
    resumed = [p for p in report.products if "resumed at byte 70000" in p.reason]
    assert len(resumed) == 1, report.format()
    entry = resumed[0]
    size = next(p.size for p in products if p.id == entry.id)
    assert entry.received == size  # 70,000 bytes then the rest: nothing fetched twice


def test_stalled_connection_times_out_and_resumes(staging_sandbox, tmp_path: Path) -> None:
    fault = Fault("stall", at=40_000, delay=3.0, times=1)
    sb, products, report = _run(staging_sandbox, tmp_path, fault, http_timeout=0.5)
    _assert_all_verified(products, report, tmp_path)
    assert any("resumed at byte 40000" in p.reason for p in report.products), report.format()


def test_retry_after_is_honoured(staging_sandbox, tmp_path: Path) -> None:
    started = time.monotonic()
    fault = Fault("status", status=503, retry_after=1, times=1)
    sb, products, report = _run(staging_sandbox, tmp_path, fault)
    _assert_all_verified(products, report, tmp_path)
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize(
    "kind", ["corrupt", "truncate", "json200", "html200", "empty200", "wrongtype"]
)
def test_persistent_bad_replies_fail_without_saving(
    staging_sandbox, tmp_path: Path, kind: str
) -> None:
    target = ONLINE.entries[0].name
    fault = Fault(kind, at=1000, times=None, products=frozenset({target}))
    sb, products, report = _run(staging_sandbox, tmp_path, fault, max_attempts=2, timeout=3.0)
    by_id = {p.id: p for p in report.products}
    assert by_id[target].status in (DownloadStatus.FAILED, DownloadStatus.UNAVAILABLE), (
        report.format()
    )
    assert by_id[target].reason
    assert not (tmp_path / f"{target}.zip").exists()
    assert not (tmp_path / f"{target}.zip.part").exists()
    other = next(p for p in products if p.id != target)
    assert md5_of(tmp_path / f"{other.id}.zip") == other.md5


@pytest.mark.parametrize("reply", ["401", "200-json"])
def test_bad_credentials_stop_at_once(staging_sandbox, tmp_path: Path, reply: str) -> None:
    sb = staging_sandbox(ONLINE, bad_auth_reply=reply)
    backend = peps_backend(sb, password="wrong")
    products = all_products(backend)
    started = time.monotonic()
    with pytest.raises(AuthenticationError, match="credentials"):
        downloader(backend, tmp_path).download(products)
    assert time.monotonic() - started < 5
    assert not list(tmp_path.glob("*.zip"))
    assert sb.stats["peps.download"] <= 2  # no retry loop on a refusal


def test_changed_file_is_not_spliced(staging_sandbox, tmp_path: Path) -> None:
    """A part file from an older version of the product: If-Range fails, the server sends the
    whole new file, which replaces the part instead of being appended to it."""
    catalogue = staging_catalogue(1, size_range=(200_000, 200_000), offline=0.0, seed=4)
    sb = staging_sandbox(catalogue)
    backend = peps_backend(sb)
    product = all_products(backend)[0]
    sb.faults.add(Fault("drop", at=60_000, times=1))
    first = run_transfer(TransferJob(product, backend, tmp_path))
    assert first.outcome is Outcome.RETRY
    assert (tmp_path / f"{product.id}.zip.part").stat().st_size == 60_000
    assert first.validator == f'"{product.md5}"'  # for the scheduler to record
    entry = catalogue.entries[0]
    sb.replace_entry(entry.name, seed=entry.seed + 1)  # reprocessed: new bytes, ETag and MD5
    fresh = all_products(backend)[0]
    assert fresh.md5 != product.md5
    report = downloader(backend, tmp_path).download([fresh])
    assert report.ok, report.format()
    assert "resumed" not in report.products[0].reason
    assert md5_of(tmp_path / f"{fresh.id}.zip") == fresh.md5


def test_no_validator_means_no_resume(staging_sandbox, tmp_path: Path) -> None:
    catalogue = staging_catalogue(1, size_range=(200_000, 200_000), offline=0.0, seed=5)
    sb = staging_sandbox(catalogue, send_etag=False)
    sb.faults.add(Fault("drop", at=60_000, times=1))
    backend = peps_backend(sb)
    products = all_products(backend)
    report = downloader(backend, tmp_path).download(products)
    assert report.ok, report.format()
    assert "resumed" not in report.products[0].reason
    assert report.products[0].received == 60_000 + products[0].size
    assert md5_of(tmp_path / f"{products[0].id}.zip") == products[0].md5


def test_a_link_that_drops_on_every_try_ends_verified(staging_sandbox, tmp_path: Path) -> None:
    """Issue 25 item 7 (the ``drop_always`` fault): every resume gets further, so none is the
    same failure again, however many it takes (here about 25 a product, past the old cap of
    four times ``max_attempts``)."""
    fault = Fault("drop", at=10_000, times=None)
    sb, products, report = _run(staging_sandbox, tmp_path, fault)
    _assert_all_verified(products, report, tmp_path)
    assert min(p.attempts for p in report.products) > 20, report.format()


def test_a_link_that_drops_before_any_byte_still_ends(staging_sandbox, tmp_path: Path) -> None:
    """No progress at all: ``max_attempts`` failures, then the product fails alone."""
    sb, products, report = _run(
        staging_sandbox, tmp_path, Fault("drop", at=0, times=None), max_attempts=3
    )
    assert all(p.status is DownloadStatus.FAILED for p in report.products), report.format()
    assert all(p.attempts == 3 for p in report.products), report.format()
