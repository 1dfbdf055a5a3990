"""Every reason true (issue 25, item 5): a product the archive says is online and that it
keeps answering with something else (a login page, an error page, an empty body, a length
that is not the product's) is reported with what the reply was, soon, never as "still on
tape"; and each waiting product is described only by what the archive said."""

from __future__ import annotations

from pathlib import Path

import pytest

from eodag_peps_plus.sandbox import Fault
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import DownloadStatus

from .helpers import all_products, downloader, md5_of, peps_backend

ONLINE = staging_catalogue(2, size_range=(60_000, 80_000), offline=0.0, seed=25)


@pytest.mark.parametrize(
    "kind, said",
    [
        ("login200", "HTTP 200 with a text/html body: <!DOCTYPE html><html><body><form"),
        ("html200", "HTTP 200 with a text/html body"),
        ("empty200", "HTTP 200 with an empty body"),
        ("biglength", "HTTP 200 with 9000000000 bytes where the catalogue says"),
    ],
)
def test_online_product_answered_otherwise_says_what_the_reply_was(
    staging_sandbox, tmp_path: Path, kind: str, said: str
) -> None:
    sb = staging_sandbox(ONLINE)
    target = ONLINE.entries[0].name
    sb.faults.add(Fault(kind, at=9_000_000_000, times=None, products=frozenset({target})))
    backend = peps_backend(sb)
    products = all_products(backend)
    # A long timeout: the run must end on its own, not when it expires.
    report = downloader(backend, tmp_path, max_attempts=2, timeout=600.0).download(products)
    by_id = {p.id: p for p in report.products}
    entry = by_id[target]
    assert entry.status is DownloadStatus.FAILED, report.format()
    assert entry.reason.startswith("the archive says it is online but answered something else")
    assert said in entry.reason
    for wrong in ("on tape", "restore", "staging"):
        assert wrong not in entry.reason
    assert report.elapsed < 60, "settled after its attempts, not at the timeout"
    other = next(p for p in products if p.id != target)
    assert md5_of(tmp_path / f"{other.id}.zip") == other.md5
    assert not (tmp_path / f"{target}.zip").exists()
