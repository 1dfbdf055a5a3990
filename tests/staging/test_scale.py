"""Issue 13: a batch costs the same per product at any size. No timing here (figures are in
``bench/scale.py``): the work the run does is counted instead, and must not grow with N."""

from __future__ import annotations

from pathlib import Path

from eodag_peps_plus.product import Availability
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import DownloadReport, DownloadStatus, ProductReport
from eodag_peps_plus.staging.ledger import Ledger

from .helpers import all_products, downloader, peps_backend


def test_work_per_product_does_not_grow_with_the_batch(staging_sandbox, tmp_path: Path) -> None:
    """Every loop turn used to look at every product (O(N) per event, O(N^2) per batch): the
    products looked at per product must stay flat from 50 to 400 products."""
    per_product = {}
    for count in (50, 400):
        catalogue = staging_catalogue(count, size_range=(2_000, 4_000), offline=0.5, seed=3)
        sb = staging_sandbox(catalogue)
        backend = peps_backend(sb)
        products = all_products(backend)
        assert len(products) == count
        run = downloader(backend, tmp_path / str(count), timeout=60)
        report = run.download(products)
        assert report.ok, report.format()
        assert sb.stats["archive_replies"] == count
        per_product[count] = run.work["visits"] / count
        assert run.work["turns"] <= 20 * count, run.work
    assert per_product[400] <= 20, per_product
    assert per_product[400] <= 1.5 * per_product[50] + 2, per_product


def test_ledger_rows_made_in_one_transaction(tmp_path: Path) -> None:
    """``ensure_many`` is ``ensure`` for a whole batch: new rows, a reprocessed product's
    file forgotten (its restore request kept), missing size or checksum filled in."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.ensure("changed", 10, "a" * 32)
    ledger.mark_done("changed", 10, 1)
    ledger.record_restore("changed")
    ledger.ensure("filled", None, None)
    ids = [f"p{i}" for i in range(1200)]  # more than one SELECT chunk
    rows = ledger.ensure_many(
        [(i, 5, None) for i in ids] + [("changed", 11, "b" * 32), ("filled", 7, "c" * 32)]
    )
    assert set(rows) == {*ids, "changed", "filled"}
    assert rows["p0"].size == 5 and rows["p0"].status == "offline"
    changed = rows["changed"]
    assert (changed.size, changed.md5, changed.status, changed.file_size) == (
        11,
        "b" * 32,
        "offline",
        None,
    )
    assert changed.restore_sent_at is not None
    assert (rows["filled"].size, rows["filled"].md5) == (7, "c" * 32)
    assert ledger.ensure_many([("p1", 5, None)])["p1"] == rows["p1"]  # unchanged: not written
    ledger.close()


def test_ledger_batch_commits_completed_writes(tmp_path: Path) -> None:
    """One transaction per scheduler turn: what was written before an error (a callback
    failing) is kept."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.ensure_many([("a", 1, None), ("b", 1, None)])
    try:
        with ledger.batch():
            ledger.set_status("a", DownloadStatus.FAILED, "kept")
            with ledger.batch():  # nested: joins the outer transaction
                ledger.set_status("b", DownloadStatus.FAILED, "kept too")
            raise RuntimeError("a callback failed")
    except RuntimeError:
        pass
    other = Ledger(tmp_path / "ledger.sqlite")  # another connection sees them committed
    assert [(r.id, r.reason) for r in other.rows()] == [("a", "kept"), ("b", "kept too")]
    other.close()
    ledger.close()


def test_report_of_a_large_batch_lists_what_is_not_done() -> None:
    products = [
        ProductReport(f"P{i:06d}", DownloadStatus.DONE, "downloaded") for i in range(100_000)
    ]
    products[5] = ProductReport("P-failed", DownloadStatus.FAILED, "gave up")
    products[7] = ProductReport(
        "P-late", DownloadStatus.UNAVAILABLE, "still on tape", availability=Availability.OFFLINE
    )
    report = DownloadReport(products, 12.0)
    text = report.format()
    assert len(text.splitlines()) < 10
    assert "P-failed" in text and "P-late" in text and "P000000" not in text
    assert "99998 done product(s) not listed" in text
    assert text.endswith("100000 product(s) in 12.0 s: 99998 done, 1 failed, 1 unavailable")
    assert len(report.format(limit=None).splitlines()) == 100_003
    many = DownloadReport(
        [ProductReport(f"F{i}", DownloadStatus.FAILED, "x") for i in range(500)], 1.0
    )
    assert "... and 300 more not done" in many.format()
