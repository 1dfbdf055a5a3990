"""The ledger's statuses are ``DownloadStatus`` values, in Python and in its SQL."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from eodag_peps_plus.staging import DownloadStatus
from eodag_peps_plus.staging import ledger as ledger_module
from eodag_peps_plus.staging.ledger import Ledger


def test_every_status_the_sql_writes_is_a_download_status() -> None:
    source = Path(ledger_module.__file__).read_text()
    written = set(re.findall(r"status\s*(?:=|!=|DEFAULT)\s*'(\w+)'", source))
    assert written >= {"offline", "downloading", "done"}
    assert written <= {s.value for s in DownloadStatus}


def test_rows_read_back_typed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    row = ledger.ensure("a", 10, None)
    assert row.status is DownloadStatus.OFFLINE
    ledger.set_status("a", DownloadStatus.UNAVAILABLE, "still on tape")
    assert ledger.get("a").status is DownloadStatus.UNAVAILABLE  # type: ignore[union-attr]
    assert ledger.claim_transfer("a", "me", lease=60)
    assert ledger.get("a").status is DownloadStatus.DOWNLOADING  # type: ignore[union-attr]
    ledger.mark_done("a", 10, 0)
    assert ledger.get("a").status is DownloadStatus.DONE  # type: ignore[union-attr]
    ledger.close()


def test_a_status_this_version_does_not_know_reads_as_offline(tmp_path: Path) -> None:
    """A newer version's ledger: the product's availability and file are checked again."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.ensure("a", 10, None)
    db = sqlite3.connect(tmp_path / "ledger.sqlite")
    with db:
        db.execute("UPDATE products SET status = 'archived-elsewhere' WHERE id = 'a'")
    db.close()
    assert ledger.get("a").status is DownloadStatus.OFFLINE  # type: ignore[union-attr]
    ledger.close()
