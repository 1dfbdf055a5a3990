"""The download ledger: what was asked, what is being fetched and what is complete, in SQLite.

A run killed at any moment (Ctrl-C, ``kill -9``, a reboot) continues from here: a restore asked
recently is not asked again, a complete product is not fetched again, and a part file is
resumed only with the validator recorded for its bytes. Several processes may share one output
folder: WAL mode and a busy timeout let them write concurrently, and transfers are claimed
with a lease so two processes never write the same part file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import sqlite_db
from ..exceptions import PepsPlusError
from ..files import disk_advice
from .report import DownloadStatus

__all__ = [
    "LEDGER_NAME",
    "Ledger",
    "LedgerRow",
    "MemberBook",
    "MemberRecord",
    "RESTORE_INTENT_LEASE",
    "new_owner",
]

#: File name of the ledger inside the output (or state) folder.
LEDGER_NAME = ".peps-plus-downloads.sqlite"
#: Seconds after which a restore intent nobody confirmed is taken for never sent (a process
#: on another host sharing the folder; a dead process on this host is noticed at once).
RESTORE_INTENT_LEASE = 300.0
#: Ids per ``SELECT ... IN (...)`` (under SQLite's oldest limit of 999 parameters).
_SELECT_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS products (
    id TEXT PRIMARY KEY,
    size INTEGER,
    md5 TEXT,
    status TEXT NOT NULL DEFAULT 'offline',
    reason TEXT,
    restore_asked_at REAL,
    restore_asks INTEGER NOT NULL DEFAULT 0,
    restore_sent_at REAL,
    restore_owner TEXT,
    validator TEXT,
    owner TEXT,
    lease_until REAL,
    file_size INTEGER,
    file_mtime_ns INTEGER,
    extracted INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
)
"""
#: Members of a product written and verified by a member selection (:mod:`.members`): the
#: directory's CRC-32 and size they were checked against, and the file's modification time
#: when it reached its name (a file changed since is not trusted).
_MEMBERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    crc INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (product_id, name)
)
"""


@dataclasses.dataclass(frozen=True)
class LedgerRow:
    id: str
    size: int | None
    md5: str | None
    #: What the scheduler last recorded; the SQL below writes ``offline``, ``downloading``
    #: and ``done`` itself (tests/unit/test_ledger_status.py checks they are statuses).
    status: DownloadStatus
    reason: str | None
    restore_asked_at: float | None
    restore_asks: int
    #: When the archive acknowledged the restore request: ``restore_asked_at`` alone is only
    #: the intent, recorded before sending (a run killed in between never sent it).
    restore_sent_at: float | None
    restore_owner: str | None
    validator: str | None
    owner: str | None
    lease_until: float | None
    file_size: int | None
    file_mtime_ns: int | None
    extracted: bool
    updated_at: float

    def restore_sent_within(self, seconds: float) -> bool:
        """Whether the archive acknowledged a restore request less than ``seconds`` ago (an
        intent alone does not count)."""
        return self.restore_sent_at is not None and time.time() - self.restore_sent_at < seconds


def new_owner() -> str:
    """An owner tag for transfer claims: host, process and a per-run token."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_alive(owner: str) -> bool:
    """Whether the process behind a claim may still run (other hosts: assume so, the lease
    decides)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LedgerError(PepsPlusError):
    """The ledger cannot be opened, read or written; the message names the file and what to
    do (the job store's :class:`~..processing.store.JobStoreError` is the same for jobs)."""


#: Columns a ledger must have (a table of another tool's under the same name has not).
_REQUIRED = frozenset({"id", "size", "md5", "status", "validator", "owner", "lease_until"})


def ledger_error(path: Path, exc: BaseException) -> LedgerError:
    """One line for a failure of the ledger at ``path``, with what to do about it."""
    text = str(exc) or type(exc).__name__
    advice = disk_advice(exc)
    if advice is None and "unable to open" in text.lower():
        advice = disk_advice(_why_unwritable(path.parent)) or (
            "check that its folder exists and can be written, or use --state-dir"
        )
    if advice is None:
        advice = (
            "it is damaged or not a peps-plus ledger: move it aside and run again (the "
            "archives already in the folder are checked again, not fetched again)"
        )
    return LedgerError(f"download ledger {path}: {text}; {advice}")


def _why_unwritable(folder: Path) -> OSError:
    """SQLite says only "unable to open": ask the file system why."""
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return OSError(errno.EROFS, "read-only file system")
    except (OSError, AttributeError):  # no statvfs on Windows
        pass
    if not os.access(folder, os.W_OK):
        return PermissionError(errno.EACCES, "permission denied")
    return OSError("unable to open")


class Ledger:
    """One SQLite file; one connection per thread (and per process: picklable by path).

    Raises (from every method):
        LedgerError: the file cannot be opened, read or written (one line: which file, why,
            what to do).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.is_symlink():
                raise LedgerError(
                    f"download ledger {self.path} is a symbolic link: refusing to write "
                    "through it; remove the link (or use --state-dir)"
                )
            self._create()
        except OSError as exc:
            raise ledger_error(self.path, exc) from None

    def _create(self) -> None:
        with self._tx() as db:
            _migrate(db)

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "busy_timeout": self.busy_timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path = state["path"]
        self.busy_timeout = state["busy_timeout"]
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    # -- plumbing -----------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            # NORMAL: a power cut may lose the last commits, which the next run redoes.
            try:
                db = sqlite_db.connect(self.path, timeout=self.busy_timeout, synchronous="NORMAL")
            except sqlite3.Error as exc:
                raise ledger_error(self.path, exc) from None
            self._local.db = db
        return db

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE``: take the write lock up front so read-then-write is atomic
        across processes. Inside :meth:`batch`, the batch's transaction (begun by its first
        write)."""
        db = self._db()
        try:
            if getattr(self._local, "batch", False):
                if not db.in_transaction:
                    db.execute("BEGIN IMMEDIATE")
                yield db
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise ledger_error(self.path, exc) from None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._db().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise ledger_error(self.path, exc) from None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group the writes made in the block (in this thread) into one transaction: a turn
        of the scheduler costs one commit, not one per product (and, in a busy process, each
        SQLite call is a wait for the GIL). The transaction begins at the first write; what
        was written is committed even if the block raises, unless SQLite itself failed.
        Nested blocks join the outer one."""
        if getattr(self._local, "batch", False):
            yield
            return
        self._local.batch = True
        commit = True
        try:
            yield
        except (sqlite3.Error, LedgerError):
            commit = False
            raise
        finally:
            self._local.batch = False
            self._end(commit)

    def _end(self, commit: bool) -> None:
        db = self._db()
        if not db.in_transaction:
            return
        try:
            db.execute("COMMIT" if commit else "ROLLBACK")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            if commit:
                raise ledger_error(self.path, exc) from None

    def commit(self) -> None:
        """Commit a batch's writes so far (before a slow step: other processes wait for the
        lock); the batch goes on, its next write begins a new transaction."""
        self._end(True)

    def close(self) -> None:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    # -- reads ----------------------------------------------------------------------------------
    def get(self, product_id: str) -> LedgerRow | None:
        found = self._read("SELECT * FROM products WHERE id = ?", (product_id,))
        row = found[0] if found else None
        return _to_row(row)

    def rows(self) -> list[LedgerRow]:
        rows = self._read("SELECT * FROM products ORDER BY id")
        return [r for r in map(_to_row, rows) if r is not None]

    # -- writes ---------------------------------------------------------------------------------
    def ensure(self, product_id: str, size: int | None, md5: str | None) -> LedgerRow:
        """The product's row, created if new (see :meth:`ensure_many`)."""
        return self.ensure_many([(product_id, size, md5)])[product_id]

    def ensure_many(
        self, products: Sequence[tuple[str, int | None, str | None]]
    ) -> dict[str, LedgerRow]:
        """The rows of ``(id, size, md5)`` products, created if new, in one transaction. A
        changed size or checksum (the product was reprocessed) forgets the file and the part
        validator, not the restore request."""
        wanted = {product_id: (size, md5) for product_id, size, md5 in products}
        now = time.time()
        with self._tx() as db:
            rows = _ensure_rows(db, wanted, now)
        return rows

    def set_status(
        self, product_id: str, status: DownloadStatus, reason: str | None = None
    ) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE products SET status = ?, reason = ?, updated_at = ? WHERE id = ?",
                (status.value, reason, time.time(), product_id),
            )

    def claim_restore(
        self,
        product_id: str,
        *,
        retry_after: float,
        owner: str | None = None,
        intent_lease: float = RESTORE_INTENT_LEASE,
    ) -> bool:
        """Record the intent to send a restore request; ``False`` if one was sent less than
        ``retry_after`` seconds ago, or another live process is sending one right now.

        An intent never confirmed (:meth:`confirm_restore`) by a process that died, or older
        than ``intent_lease`` seconds, does not hold the request back: it was never sent.
        """
        now = time.time()
        owner = owner or new_owner()
        with self._tx() as db:
            row = db.execute(
                "SELECT restore_asked_at, restore_sent_at, restore_owner FROM products"
                " WHERE id = ?",
                (product_id,),
            ).fetchone()
            if row is None or _restore_held(row, now, owner, retry_after, intent_lease):
                return False
            db.execute(
                "UPDATE products SET restore_asked_at = ?, restore_owner = ?,"
                " restore_asks = restore_asks + 1, updated_at = ? WHERE id = ?",
                (now, owner, now, product_id),
            )
            return True

    def confirm_restore(self, product_id: str) -> None:
        """The restore request reached the archive (it answered)."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE products SET restore_sent_at = ?, restore_owner = NULL, updated_at = ?"
                " WHERE id = ?",
                (now, now, product_id),
            )

    def record_restore(self, product_id: str) -> None:
        """A request that started a restore as a side effect (a download of an offline
        product on PEPS) counts as asked and sent."""
        now = time.time()
        with self._tx() as db:
            db.execute(
                "UPDATE products SET restore_asked_at = ?, restore_sent_at = ?,"
                " restore_asks = restore_asks + 1, updated_at = ? WHERE id = ?",
                (now, now, now, product_id),
            )

    def unclaim_restore(self, product_id: str, previous: float | None) -> None:
        """The request could not be sent: forget the intent so the next attempt is not held
        back."""
        with self._tx() as db:
            db.execute(
                "UPDATE products SET restore_asked_at = ?, restore_owner = NULL,"
                " restore_asks = MAX(restore_asks - 1, 0) WHERE id = ?",
                (previous, product_id),
            )

    def claim_transfer(self, product_id: str, owner: str, *, lease: float) -> bool:
        """Take the right to write ``<name>.zip.part``. A claim whose lease expired, or whose
        process on this host is gone (``kill -9``), is taken over; a product another run
        completed meanwhile is not claimed (``False``: look at its row)."""
        now = time.time()
        with self._tx() as db:
            free = db.execute(  # the usual case in one statement: nobody holds a live claim
                "UPDATE products SET owner = ?, lease_until = ?, status = 'downloading',"
                " updated_at = ? WHERE id = ? AND status != 'done' AND (owner IS NULL"
                " OR owner = '' OR owner = ? OR lease_until IS NULL OR lease_until <= ?)",
                (owner, now + lease, now, product_id, owner, now),
            )
            if free.rowcount:
                return True
            return _take_over(db, product_id, owner, now, lease)

    def renew(self, product_id: str, owner: str, *, lease: float) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE products SET lease_until = ? WHERE id = ? AND owner = ?",
                (time.time() + lease, product_id, owner),
            )

    def release_transfer(self, product_id: str, owner: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE products SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ?",
                (product_id, owner),
            )

    def mark_done(self, product_id: str, file_size: int, mtime_ns: int) -> None:
        """The archive is in place and verified; its size and mtime let later runs skip
        re-hashing it."""
        with self._tx() as db:
            db.execute(
                "UPDATE products SET status = 'done', reason = NULL, validator = NULL,"
                " file_size = ?, file_mtime_ns = ?, owner = NULL, lease_until = NULL,"
                " updated_at = ? WHERE id = ?",
                (file_size, mtime_ns, time.time(), product_id),
            )

    def mark_extracted(self, product_id: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE products SET status = 'done', extracted = 1, updated_at = ? WHERE id = ?",
                (time.time(), product_id),
            )

    # -- what the scheduler records for its transfers (workers never open the ledger) ---------
    def renew_all(self, owner: str, *, lease: float) -> None:
        """Extend every transfer claim ``owner`` holds, in one transaction."""
        with self._tx() as db:
            db.execute(
                "UPDATE products SET lease_until = ? WHERE owner = ?", (time.time() + lease, owner)
            )

    def record_transfer(
        self,
        product_id: str,
        owner: str,
        *,
        validator: str | None,
        file_size: int | None = None,
        mtime_ns: int | None = None,
        extracted: bool = False,
    ) -> None:
        """The end of one attempt, in one transaction: the claim released, and either the
        archive in place (its size and mtime; extracted or not) or the validator of the part
        file kept for a resume (``None``: nothing resumable)."""
        now = time.time()
        with self._tx() as db:
            _record_end(db, product_id, owner, validator, file_size, mtime_ns, extracted, now)


@dataclasses.dataclass(frozen=True)
class MemberRecord:
    """A member a member selection wrote and verified (see :class:`MemberBook`)."""

    crc: int
    size: int
    mtime_ns: int


class MemberBook:
    """The members of one product already written and verified, in the ledger's ``members``
    table, so a run killed in the middle of a selection continues member by member.

    Written by the attempt itself as each member reaches its name (the scheduler sees the
    attempt's result only at its end, and a ``kill -9`` between two members must not forget
    the first); so it is opened only where the ledger file is reachable and SQLite's locks
    work: transfers on this host (threads, :class:`~.workers.ProcessTransfers`). It never
    creates a ledger. A cluster's workers never open it: the scheduler records what their
    results list, and hands each job its product's records.
    """

    def __init__(self, ledger: Ledger, product_id: str) -> None:
        self.ledger = ledger
        self.product_id = product_id

    @classmethod
    def attach(cls, path: Path, product_id: str) -> MemberBook:
        """The book in the ledger at ``path``, which the scheduler created and migrated: an
        attempt opens it as an unpickled :class:`Ledger` does, without taking the write lock
        to check the tables (one attempt per product: that lock was most of its cost)."""
        ledger = Ledger.__new__(Ledger)
        ledger.__setstate__({"path": Path(path), "busy_timeout": 30.0})
        return cls(ledger, product_id)

    def done(self) -> dict[str, MemberRecord]:
        """The recorded members, by path inside the archive."""
        rows = self.ledger._read(
            "SELECT name, crc, size, mtime_ns FROM members WHERE product_id = ?",
            (self.product_id,),
        )
        return {r["name"]: MemberRecord(r["crc"], r["size"], r["mtime_ns"]) for r in rows}

    def record(self, name: str, record: MemberRecord) -> None:
        """One statement, its own transaction (nothing to read first: no ``BEGIN``)."""
        try:
            self.ledger._db().execute(
                "INSERT OR REPLACE INTO members (product_id, name, crc, size, mtime_ns,"
                " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                (self.product_id, name, record.crc, record.size, record.mtime_ns, time.time()),
            )
        except sqlite3.Error as exc:
            raise ledger_error(self.ledger.path, exc) from None


def _status(text: str) -> DownloadStatus:
    """A recorded status; one this version does not know (a newer version's ledger) reads as
    ``offline``: the run then checks the product's availability and its file again."""
    try:
        return DownloadStatus(text)
    except ValueError:
        return DownloadStatus.OFFLINE


def _migrate(db: sqlite3.Connection) -> None:
    """Create the table, or check and upgrade an existing one."""
    db.execute(_SCHEMA)
    db.execute(_MEMBERS_SCHEMA)
    columns = {row[1] for row in db.execute("PRAGMA table_info(products)")}
    if not _REQUIRED.issubset(columns):
        raise sqlite3.DatabaseError("its table 'products' is not a ledger's")
    if "restore_sent_at" not in columns:
        # A ledger from before intents and confirmations were told apart: count its
        # recorded requests as sent, as that version did.
        db.execute("ALTER TABLE products ADD COLUMN restore_sent_at REAL")
        db.execute("ALTER TABLE products ADD COLUMN restore_owner TEXT")
        db.execute("UPDATE products SET restore_sent_at = restore_asked_at")


def _to_row(row: sqlite3.Row | None) -> LedgerRow | None:
    if row is None:
        return None
    data = dict(row)
    data["extracted"] = bool(data["extracted"])
    data["status"] = _status(data["status"])
    return LedgerRow(**data)


def _select(db: sqlite3.Connection, ids: list[str]) -> dict[str, LedgerRow]:
    """The rows of ``ids`` that exist, a few hundred per query (SQLite's parameter limit)."""
    found: dict[str, LedgerRow] = {}
    for start in range(0, len(ids), _SELECT_CHUNK):
        chunk = ids[start : start + _SELECT_CHUNK]
        marks = ", ".join("?" * len(chunk))
        for raw in db.execute(f"SELECT * FROM products WHERE id IN ({marks})", chunk):  # noqa: S608
            row = _to_row(raw)
            if row is not None:
                found[row.id] = row
    return found


def _ensure_rows(
    db: sqlite3.Connection, wanted: dict[str, tuple[int | None, str | None]], now: float
) -> dict[str, LedgerRow]:
    """:meth:`Ledger.ensure_many` inside its transaction."""
    rows = _select(db, list(wanted))
    inserts, resets, fills = [], [], []
    for product_id, (size, md5) in wanted.items():
        row = rows.get(product_id)
        if row is None:
            inserts.append((product_id, size, md5, now))
        elif (size is not None and row.size not in (None, size)) or (
            md5 is not None and row.md5 not in (None, md5)
        ):
            resets.append((size, md5, now, product_id))
        elif (row.size is None and size is not None) or (row.md5 is None and md5 is not None):
            fills.append((size, md5, product_id))
    db.executemany("INSERT INTO products (id, size, md5, updated_at) VALUES (?, ?, ?, ?)", inserts)
    db.executemany(
        "UPDATE products SET size = ?, md5 = ?, status = 'offline', validator = NULL,"
        " file_size = NULL, file_mtime_ns = NULL, extracted = 0, updated_at = ?"
        " WHERE id = ?",
        resets,
    )
    db.executemany(
        "UPDATE products SET size = COALESCE(size, ?), md5 = COALESCE(md5, ?) WHERE id = ?",
        fills,
    )
    db.executemany("DELETE FROM members WHERE product_id = ?", [(r[-1],) for r in resets])
    changed = [i[0] for i in inserts] + [r[-1] for r in resets] + [f[-1] for f in fills]
    rows.update(_select(db, changed))
    return rows


def _take_over(
    db: sqlite3.Connection, product_id: str, owner: str, now: float, lease: float
) -> bool:
    """:meth:`Ledger.claim_transfer` when the claim is held: take it over if it is dead."""
    row = db.execute(
        "SELECT owner, lease_until, status FROM products WHERE id = ?", (product_id,)
    ).fetchone()
    if row is None or row["status"] == "done":
        return False
    held_by, until = row["owner"], row["lease_until"]
    if held_by and held_by != owner and until and until > now and _owner_alive(held_by):
        return False
    db.execute(
        "UPDATE products SET owner = ?, lease_until = ?, status = 'downloading',"
        " updated_at = ? WHERE id = ?",
        (owner, now + lease, now, product_id),
    )
    return True


def _record_end(
    db: sqlite3.Connection,
    product_id: str,
    owner: str,
    validator: str | None,
    file_size: int | None,
    mtime_ns: int | None,
    extracted: bool,
    now: float,
) -> None:
    """:meth:`Ledger.record_transfer` inside its transaction."""
    if file_size is not None:
        db.execute(
            "UPDATE products SET status = 'done', reason = NULL, validator = NULL,"
            " file_size = ?, file_mtime_ns = ?, owner = NULL, lease_until = NULL,"
            " extracted = MAX(extracted, ?), updated_at = ? WHERE id = ?",
            (file_size, mtime_ns, int(extracted), now, product_id),
        )
    else:
        db.execute(
            "UPDATE products SET validator = ?, updated_at = ? WHERE id = ?",
            (validator, now, product_id),
        )
        db.execute(
            "UPDATE products SET owner = NULL, lease_until = NULL WHERE id = ? AND owner = ?",
            (product_id, owner),
        )


def _restore_held(
    row: sqlite3.Row, now: float, owner: str, retry_after: float, intent_lease: float
) -> bool:
    """:meth:`Ledger.claim_restore`'s refusal: a request sent less than ``retry_after`` seconds
    ago, or an intent of another live process younger than ``intent_lease`` seconds."""
    asked, sent, holder = row
    if sent is not None and now - sent < retry_after:
        return True
    pending = asked is not None and (sent is None or asked > sent)
    return bool(
        pending
        and holder
        and holder != owner
        and now - asked < intent_lease
        and _owner_alive(holder)
    )
