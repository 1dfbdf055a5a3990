"""Opening one fresh SQLite file from several connections at once (two runs started on one
new folder) never fails with "database is locked": the WAL switch waits its turn."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus import sqlite_db
from eodag_peps_plus.processing.store import JobStore
from eodag_peps_plus.staging.ledger import Ledger


def _open_at_once(open_one: Callable[[], object], openers: int = 4) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(openers)

    def go() -> None:
        start.wait()
        try:
            open_one()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(openers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.parametrize("kind", ["ledger", "job store"])
def test_fresh_file_opened_by_several_at_once(tmp_path: Path, kind: str) -> None:
    for round_ in range(60):
        path = tmp_path / f"{round_}.sqlite"
        opener = (lambda: Ledger(path)) if kind == "ledger" else (lambda: JobStore(path))
        assert _open_at_once(opener) == []
        conn = sqlite_db.connect(path, timeout=5, synchronous="NORMAL")
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.close()


def test_a_lock_held_past_the_timeout_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "held.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            sqlite_db.connect(path, timeout=0.2, synchronous="NORMAL")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_only_lock_errors_are_waited_for() -> None:
    assert sqlite_db.is_busy(sqlite3.OperationalError("database is locked"))
    assert not sqlite_db.is_busy(sqlite3.OperationalError("no such table: jobs"))
