"""The batch scheduler against the tape emulation: every "not online yet" reply variant,
timeouts, concurrency bounds, resuming from the ledger, other executors."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import threading
import time
from pathlib import Path

import pytest

from eodag_peps_plus.product import Availability
from eodag_peps_plus.sandbox.scenarios import replace_entry, staging_catalogue
from eodag_peps_plus.sandbox.server import OFFLINE_REPLIES
from eodag_peps_plus.staging import DownloadStatus
from eodag_peps_plus.staging.ledger import LEDGER_NAME, Ledger
from eodag_peps_plus.staging.options import StagingOptions
from eodag_peps_plus.staging.run import Run
from eodag_peps_plus.staging.state import Batch, Track
from eodag_peps_plus.staging.storage import open_output

from .helpers import FAST, all_products, downloader, md5_of, peps_backend


@pytest.mark.parametrize("reply", OFFLINE_REPLIES)
def test_every_offline_reply_variant_ends_verified(
    staging_sandbox, small_catalogue, tmp_path: Path, reply: str
) -> None:
    sb = staging_sandbox(small_catalogue, offline_reply=reply)
    backend = peps_backend(sb)
    products = all_products(backend)
    offline = [p for p in products if p.availability is not Availability.ONLINE]
    assert offline
    report = downloader(backend, tmp_path, timeout=20).download(products)
    assert report.ok, report.format()
    for product in products:
        assert md5_of(tmp_path / f"{product.id}.zip") == product.md5
    assert sorted(tmp_path.glob("*.zip*")) == sorted(tmp_path / f"{p.id}.zip" for p in products)
    for product in offline:  # one restore request each, never a loop of downloads
        assert sb.restores_asked(product.id) == 1
    assert sb.stats["requests"] <= 3 * len(products) + 2  # searches stay batched


def test_stale_catalogue_state_is_corrected_by_the_archive(
    staging_sandbox, small_catalogue, tmp_path: Path
) -> None:
    """Products believed online that went back to tape: the download reply says so (whatever
    its form), the product is polled and fetched once restored."""
    sb = staging_sandbox(small_catalogue, offline_reply="200-json")
    backend = peps_backend(sb)
    products = all_products(backend)
    online = [p for p in products if p.availability is Availability.ONLINE]
    for product in online:
        sb.tape.set_mode(sb.entry(product.id).uuid, "tape")
    report = downloader(backend, tmp_path, timeout=20).download(products)
    assert report.ok, report.format()
    assert all(md5_of(tmp_path / f"{p.id}.zip") == p.md5 for p in products)


def test_timeout_reports_unknown_and_stuck_products(staging_sandbox, tmp_path: Path) -> None:
    catalogue = staging_catalogue(5, size_range=(50_000, 80_000), offline=0.4, unknown=1, seed=7)
    stuck = next(e.name for e in catalogue if e.storage == "tape")
    # Both faults switched on: "unknown" products never come back, one restore never ends.
    sb = staging_sandbox(catalogue, never_finish=frozenset({stuck}), unknown_restores=False)
    backend = peps_backend(sb)
    products = all_products(backend)
    unknown = next(p.id for p in products if p.availability is Availability.UNKNOWN)
    started = time.monotonic()
    report = downloader(backend, tmp_path, timeout=1.5).download(products)
    elapsed = time.monotonic() - started
    assert elapsed < 6, "the timeout must end the wait"
    by_id = {p.id: p for p in report.products}
    assert by_id[unknown].status is DownloadStatus.UNAVAILABLE
    assert "unknown" in by_id[unknown].reason and "timeout" in by_id[unknown].reason
    assert by_id[stuck].status is DownloadStatus.UNAVAILABLE
    # PEPS's catalogue says "staging": the server says it is restoring, in those words.
    assert "the server says it is restoring" in by_id[stuck].reason
    assert "run again" in by_id[stuck].reason
    done = report.with_status(DownloadStatus.DONE)
    assert len(done) == 3
    text = report.format()
    assert unknown in text and stuck in text and "3 done" in text and "2 unavailable" in text


def test_products_still_awaited_are_named_early(
    staging_sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 12: the user learns which products the run is waiting for, and why (restore
    asked when, archive status), while it waits: not only when the timeout expires."""
    catalogue = staging_catalogue(3, size_range=(50_000, 60_000), offline=0.7, seed=11)
    stuck = next(e.name for e in catalogue if e.storage == "tape")
    sb = staging_sandbox(catalogue, never_finish=frozenset({stuck}))
    backend = peps_backend(sb)
    with caplog.at_level(logging.INFO, logger="eodag.peps_plus.staging"):
        report = downloader(backend, tmp_path, timeout=3.0, report_every=0.3).download(
            all_products(backend)
        )
    by_id = {p.id: p for p in report.products}
    assert by_id[stuck].status is DownloadStatus.UNAVAILABLE, report.format()
    assert by_id[stuck].restore_sent_at is not None
    messages = [r.getMessage() for r in caplog.records]
    notes = [i for i, m in enumerate(messages) if m.startswith("still waiting for")]
    expired = next(i for i, m in enumerate(messages) if "-> unavailable" in m)
    early = [messages[i] for i in notes if i < expired and stuck in messages[i]]
    assert early, messages  # named while waiting, before the timeout
    said = "the server says it is restoring (restore requested at "
    assert said in early[0] and " UTC)" in early[0]
    assert said in by_id[stuck].reason


def test_timeout_zero_still_asks_restores(staging_sandbox, small_catalogue, tmp_path: Path) -> None:
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    products = all_products(backend)
    report = downloader(backend, tmp_path, timeout=0).download(products)
    offline = [p for p in products if p.availability is not Availability.ONLINE]
    assert len(report.with_status(DownloadStatus.UNAVAILABLE)) == len(offline)
    assert all(sb.restores_asked(p.id) == 1 for p in offline)
    assert len(report.done) == len(products) - len(offline)


def test_concurrency_bounds(staging_sandbox, tmp_path: Path) -> None:
    catalogue = staging_catalogue(10, size_range=(150_000, 200_000), offline=0.6, seed=8)
    sb = staging_sandbox(
        catalogue, per_connection_bps=2_000_000, offline_reply_delay=0.15, restore_latency=(50, 100)
    )
    backend = peps_backend(sb)
    products = all_products(backend)
    report = downloader(backend, tmp_path, max_transfers=2, max_restores=2).download(products)
    assert report.ok, report.format()
    assert sb.peaks["archive"] == 2
    assert sb.peaks["restore"] == 2


def test_ledger_resume_never_asks_twice(staging_sandbox, small_catalogue, tmp_path: Path) -> None:
    """First run stops at its timeout; the second one (new process state, same folder) only
    waits: restores are not asked again and finished products are not fetched again."""
    sb = staging_sandbox(small_catalogue, restore_latency=(1500, 2000))  # 1.5-2 s
    backend = peps_backend(sb)
    products = all_products(backend)
    offline = [p for p in products if p.availability is not Availability.ONLINE]
    first = downloader(backend, tmp_path, timeout=0.3).download(products)
    assert len(first.with_status(DownloadStatus.UNAVAILABLE)) == len(offline)
    served = sb.stats["archive_replies"]
    report = downloader(peps_backend(sb), tmp_path, timeout=10).download(products)
    assert report.ok, report.format()
    assert sb.stats["archive_replies"] - served == len(offline)
    for product in offline:
        assert sb.restores_asked(product.id) == 1
        assert md5_of(tmp_path / f"{product.id}.zip") == product.md5
    rows = {r.id: r for r in Ledger(tmp_path / LEDGER_NAME).rows()}
    assert all(rows[p.id].status == "done" for p in products)
    assert all(rows[p.id].restore_asks == 1 for p in offline)


def test_complete_files_are_skipped_and_fakes_replaced(
    staging_sandbox, small_catalogue, tmp_path: Path
) -> None:
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    products = [p for p in all_products(backend) if p.availability is Availability.ONLINE]
    good, fake = products[0], products[1]
    downloader(backend, tmp_path).download([good])
    (tmp_path / LEDGER_NAME).unlink()  # a file from another tool: must be re-verified
    (tmp_path / f"{fake.id}.zip").write_text('{"ErrorCode": 202, "ErrorMessage": "on tape"}')
    before = sb.stats["archive_replies"]
    report = downloader(backend, tmp_path).download([good, fake])
    assert report.ok, report.format()
    by_id = {p.id: p for p in report.products}
    assert by_id[good.id].reason.startswith("already on disk") and by_id[good.id].present_before
    assert not by_id[fake.id].present_before
    assert sb.stats["archive_replies"] - before == 1
    assert md5_of(tmp_path / f"{fake.id}.zip") == fake.md5


def test_extract_and_delete_archive(staging_sandbox, small_catalogue, tmp_path: Path) -> None:
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    product = next(p for p in all_products(backend) if p.availability is Availability.ONLINE)
    report = downloader(backend, tmp_path, extract=True, delete_archive=True).download([product])
    assert report.ok, report.format()
    safe = tmp_path / f"{product.id}.SAFE"
    assert report.products[0].path == str(safe)
    assert (safe / "manifest.safe").is_file()
    assert not (tmp_path / f"{product.id}.zip").exists()
    again = downloader(backend, tmp_path, extract=True).download([product])
    assert again.products[0].reason.startswith("already on disk")


def test_thread_pool_executor_is_used_and_left_open(
    staging_sandbox, small_catalogue, tmp_path: Path
) -> None:
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    products = all_products(backend)
    with cf.ThreadPoolExecutor(3, thread_name_prefix="mine") as pool:
        report = downloader(backend, tmp_path).download(products, executor=pool)
        assert report.ok, report.format()
        assert pool.submit(lambda: 1).result() == 1  # not shut down behind the caller's back


def test_dask_executor(staging_sandbox, small_catalogue, tmp_path: Path) -> None:
    distributed = pytest.importorskip(
        "distributed", reason="dask[distributed] not installed (pip install '.[dask]')"
    )
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    products = all_products(backend)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        report = downloader(backend, tmp_path).download(products, executor=client.get_executor())
    assert report.ok, report.format()
    assert all(md5_of(tmp_path / f"{p.id}.zip") == p.md5 for p in products)


def test_two_downloaders_share_a_folder(staging_sandbox, tmp_path: Path) -> None:
    """Two runs on the same folder at once (WAL ledger, leased transfer claims): every product
    ends verified in both reports and is fetched once."""
    catalogue = staging_catalogue(6, size_range=(300_000, 400_000), offline=0.5, seed=41)
    sb = staging_sandbox(catalogue, per_connection_bps=1_500_000)
    products = all_products(peps_backend(sb))
    reports = []

    def run() -> None:
        reports.append(downloader(peps_backend(sb), tmp_path, timeout=20).download(products))

    with cf.ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(run), pool.submit(run)]:
            future.result()
    assert all(r.ok for r in reports), "\n".join(r.format() for r in reports)
    assert sb.stats["archive_replies"] == len(products)
    assert all(md5_of(tmp_path / f"{p.id}.zip") == p.md5 for p in products)
    assert any("another process" in p.reason for r in reports for p in r.products)


def test_staging_before_any_request_is_not_called_not_requested(
    staging_sandbox, tmp_path: Path
) -> None:
    """Issue 23: a product the archive was already restoring when the run began is "under way",
    never "under way (not requested yet)"."""
    catalogue = staging_catalogue(1, size_range=(50_000, 60_000), offline=1.0, storage_offline="staging", seed=3)  # fmt: skip
    stuck = next(iter(catalogue)).name
    sb = staging_sandbox(catalogue, never_finish=frozenset({stuck}))
    backend = peps_backend(sb)
    report = downloader(backend, tmp_path, timeout=1.0).download(all_products(backend))
    reason = report.products[0].reason
    assert "the server says it is restoring" in reason and "not requested yet" not in reason, reason


def test_a_larger_product_online_later_goes_before_smaller_ones_queued(
    staging_sandbox, tmp_path: Path
) -> None:
    """The pool's own queue is first in, first out: a product that comes online while smaller
    ones wait there is started before them (largest first, so the batch does not end with one
    large transfer alone), and the ones it overtook are fetched once, on their first attempt."""
    catalogue = staging_catalogue(3, size_range=(100_000, 100_000), offline=[False, False, True], seed=2)  # fmt: skip
    first, small, late = (e.name for e in catalogue)
    for name, size in ((first, 400_000), (small, 100_000), (late, 300_000)):
        replace_entry(catalogue, name, size=size)
    # The first transfer takes about 2 s; the late product is online after 50 ms.
    sb = staging_sandbox(catalogue, per_connection_bps=200_000, restore_latency=(50.0, 50.0))
    backend = peps_backend(sb)
    done: list[str] = []
    run = downloader(backend, tmp_path, max_transfers=1, timeout=30)
    report = run.download(all_products(backend), on_done=lambda p, _path: done.append(p.id))
    assert report.ok, report.format()
    assert done == [first, late, small]
    assert [p.attempts for p in report.products] == [1, 1, 1]
    assert sb.stats["archive_replies"] == 3  # each archive served once


def test_polls_come_sooner_while_restores_are_due(staging_sandbox, tmp_path: Path) -> None:
    """Once restores are seen ending, a product whose restore has run about as long is due:
    while a transfer slot is free, the next poll comes after a 20th of the longest restore
    seen, not after the backoff; a product long overdue (a stuck robot) is not due."""
    catalogue = staging_catalogue(2, size_range=(50_000, 60_000), offline=1.0, seed=4)
    sb = staging_sandbox(catalogue)
    backend = peps_backend(sb)
    options = StagingOptions(**FAST)
    tracks = [Track(p, DownloadStatus.RESTORING) for p in all_products(backend)]
    batch = Batch(
        backend, open_output(tmp_path), options, tmp_path / LEDGER_NAME, threading.Event()
    )
    run = Run(batch, tracks, time.monotonic())
    try:
        wall = time.time()
        first, second = tracks
        first.restore_sent_at = second.restore_sent_at = wall - 10.0
        assert not run.due(second, wall)  # no restore seen ending yet: the usual backoff
        run.polled(first, Availability.ONLINE, wall)
        assert run.restore_span == (10.0, 10.0)
        assert run.due(second, wall)
        assert not run.due(second, wall + 25.0)  # overdue: back to the backoff
        second.restore_sent_at = wall - 1.0
        assert not run.due(second, wall)  # asked too recently to be online yet
        run.next_poll, run.fast_poll_at = 100.0, 50.0
        assert run.poll_at() == 50.0  # a transfer slot is free: poll sooner
        run.transferring.update({cf.Future(): first for _ in range(options.max_transfers)})
        assert run.poll_at() == 100.0  # every slot busy: what it finds would only queue
        run.transferring.clear()
    finally:
        run.close()
