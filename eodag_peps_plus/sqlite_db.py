"""One way to open our SQLite files (the download ledger, the job store).

Both are shared by threads and processes, so both need WAL, a busy timeout, and one more
thing SQLite does not do for us: switching a new file to WAL takes an exclusive lock, and when
another connection is switching the same file at that moment (two runs started on one fresh
folder), SQLite answers "database is locked" at once instead of waiting, because waiting
could deadlock. The switch is therefore retried, within the same timeout.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Literal

__all__ = ["connect", "is_busy"]

#: SQLite's primary result codes for "someone else holds the lock".
_BUSY_CODES = frozenset({5, 6})  # SQLITE_BUSY, SQLITE_LOCKED


def connect(
    path: str | os.PathLike[str],
    *,
    timeout: float,
    synchronous: Literal["NORMAL", "FULL"],
) -> sqlite3.Connection:
    """Open ``path`` in WAL mode with rows as :class:`sqlite3.Row`, in autocommit mode (the
    caller writes ``BEGIN IMMEDIATE`` itself).

    Args:
        path: The database file (created if missing).
        timeout: Seconds to wait for another connection's lock, the WAL switch included.
        synchronous: ``FULL`` for records that cannot be rebuilt, ``NORMAL`` otherwise.

    Returns:
        The open connection.

    Raises:
        sqlite3.Error: The file cannot be opened, or stayed locked for ``timeout`` seconds.
    """
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
        _use_wal(conn, timeout)
        conn.execute(f"PRAGMA synchronous={synchronous}")
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pause = 0.005
    while True:
        try:
            # WAL is recorded in the file: once set, reading it takes no exclusive lock.
            if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.25)


def is_busy(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` means another connection holds the lock (worth waiting for)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    return "locked" in str(exc) or "busy" in str(exc)
