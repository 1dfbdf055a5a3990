"""The durable job store: one SQLite file that outlives crashes, reboots and reused names.

The legacy scripts kept a job's reference only in a log file named by the user, so reusing a
name lost the job. Here every submission gets a row with a never-reused local id, written
*before* the request is sent (state ``submitting``) and completed as soon as the server
answers; status polls and downloads only ever add to it. WAL mode, a busy timeout and
``BEGIN IMMEDIATE`` transactions let several commands use the file at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import platformdirs

from .. import sqlite_db
from ..exceptions import PepsPlusError
from .base import MAJA, JobState, JobStatus, ResultFile, Submission

__all__ = [
    "APP_NAME",
    "DownloadRecord",
    "JobRecord",
    "JobStore",
    "JobStoreError",
    "MAX_SUBMISSION_SECONDS",
    "SCHEMA_VERSION",
    "STORE_ENV",
    "default_store_path",
    "now_iso",
    "submitter_alive",
    "submitter_id",
]

#: Environment variable naming the store file (the ``--store`` option wins over it).
STORE_ENV = "PEPS_PLUS_JOB_STORE"
APP_NAME = "eodag-peps-plus"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    backend TEXT NOT NULL,
    base_url TEXT NOT NULL,
    process TEXT NOT NULL,
    inputs TEXT NOT NULL,
    label TEXT NOT NULL,
    reference TEXT,
    status_url TEXT,
    submitted_at TEXT NOT NULL,
    state TEXT NOT NULL,
    server_status TEXT,
    progress REAL,
    message TEXT,
    results TEXT NOT NULL DEFAULT '[]',
    unprocessed INTEGER,
    checked_at TEXT,
    finished_at TEXT,
    submitter TEXT
);
CREATE INDEX IF NOT EXISTS jobs_reference ON jobs (reference);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state);
CREATE TABLE IF NOT EXISTS downloads (
    job_id INTEGER NOT NULL REFERENCES jobs (id),
    name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    path TEXT,
    size INTEGER,
    md5 TEXT,
    detail TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (job_id, name)
);
CREATE TRIGGER IF NOT EXISTS jobs_keep_identity
BEFORE UPDATE OF id, backend, base_url, process, inputs, label, submitted_at ON jobs
BEGIN
    SELECT RAISE(ABORT, 'a job record is never rewritten');
END;
CREATE TRIGGER IF NOT EXISTS jobs_keep_reference
BEFORE UPDATE OF reference ON jobs WHEN OLD.reference IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a job reference is never rewritten');
END;
"""


class JobStoreError(PepsPlusError):
    """The job store cannot be opened or has no such job."""


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Longer than any submission request takes (connect retries and read timeouts included).
MAX_SUBMISSION_SECONDS = 900.0


def submitter_id() -> str:
    """``host:pid`` of this process, recorded with each submission it sends."""
    return f"{socket.gethostname()}:{os.getpid()}"


def submitter_alive(submitter: str | None, age: float = 0.0) -> bool:
    """Whether the process that recorded a submission ``age`` seconds ago may still be
    sending it: alive on this host; on another host (which we cannot see), for as long as a
    submission can take."""
    if not submitter or ":" not in submitter:
        return False
    host, _, pid = submitter.rpartition(":")
    if host != socket.gethostname():
        return age < MAX_SUBMISSION_SECONDS
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def default_store_path() -> Path:
    """``$PEPS_PLUS_JOB_STORE``, else ``jobs.sqlite3`` in the per-user data folder."""
    env = os.environ.get(STORE_ENV)
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path(APP_NAME) / "jobs.sqlite3"


@dataclasses.dataclass
class DownloadRecord:
    name: str
    #: ``downloaded``, ``present`` (already on disk), ``novald`` (too cloudy) or ``failed``.
    outcome: str
    path: str | None
    size: int | None
    md5: str | None
    detail: str | None
    at: str


@dataclasses.dataclass
class JobRecord:
    """One job as the store knows it (the last status seen, not necessarily the current one)."""

    id: int
    backend: str
    base_url: str
    process: str
    inputs: dict[str, Any]
    label: str
    reference: str | None
    status_url: str | None
    submitted_at: str
    state: JobState
    server_status: str | None
    progress: float | None
    message: str | None
    results: list[ResultFile]
    unprocessed: int | None
    checked_at: str | None
    finished_at: str | None
    downloads: list[DownloadRecord] = dataclasses.field(default_factory=list)
    #: ``host:pid`` of the process that sent the submission.
    submitter: str | None = None

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @property
    def acknowledged(self) -> bool:
        """The server's reference is known: the job can be asked about."""
        return self.reference is not None

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        return data


class JobStore:
    """Open (and create) the store at ``path``; each call uses its own short connection, so an
    instance may be shared by threads and the file by processes."""

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, timeout: float = 30.0
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_store_path()
        self.timeout = timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.executescript(_SCHEMA)
                columns = {row["name"] for row in conn.execute("PRAGMA table_info(jobs)")}
                if "submitter" not in columns:  # stores written before reconciliation existed
                    conn.execute("ALTER TABLE jobs ADD COLUMN submitter TEXT")
                conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except (OSError, sqlite3.Error) as exc:
            raise JobStoreError(f"cannot open the job store {self.path}: {exc}") from None

    def __repr__(self) -> str:
        return f"JobStore({str(self.path)!r})"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite_db.connect(self.path, timeout=self.timeout, synchronous="FULL")
        try:
            conn.execute("PRAGMA foreign_keys=ON")
            yield conn
        finally:
            conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so concurrent writers queue, never deadlock."""
        with self._connect() as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise JobStoreError(f"job store {self.path}: {exc}") from None
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    # -- writing -------------------------------------------------------------------------------
    def begin_submission(
        self, *, backend: str, base_url: str, process: str, inputs: dict[str, Any], label: str
    ) -> int:
        """Record a job before sending it: if we crash mid-request, the row says so, and which
        process was sending it (``host:pid``), so a later command can tell a submission still
        in flight from one whose sender died."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO jobs (backend, base_url, process, inputs, label, submitted_at, state,"
                " submitter) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    backend,
                    base_url,
                    process,
                    json.dumps(inputs, sort_keys=True),
                    label,
                    now_iso(),
                    JobState.SUBMITTING.value,
                    submitter_id(),
                ),
            )
            return int(cursor.lastrowid or 0)

    def complete_submission(
        self, job_id: int, submission: Submission, *, message: str | None = None
    ) -> bool:
        """Record the server's reference (once: a reference is never rewritten). ``message``
        says how it was learnt when not from the submission reply (reconciliation). Returns
        False if the row already had one."""
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE jobs SET reference = ?, status_url = ?, state = ?, checked_at = ?,"
                " message = ?, finished_at = NULL WHERE id = ? AND reference IS NULL",
                (
                    submission.reference,
                    submission.status_url,
                    JobState.PENDING.value,
                    now_iso(),
                    message,
                    job_id,
                ),
            )
            return cursor.rowcount == 1

    def references(self, backend: str, base_url: str) -> set[str]:
        """Server references already held by rows for this server (never adopted twice)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT reference FROM jobs WHERE backend = ? AND base_url = ?"
                " AND reference IS NOT NULL",
                (backend, base_url),
            ).fetchall()
        return {str(r["reference"]) for r in rows}

    def fail_submission(self, job_id: int, message: str, *, refused: bool = True) -> None:
        """Keep the row of a submission that did not complete, with why: ``refused`` (the
        server said no: final) or not (no answer: the server may hold the job; state unknown)."""
        state = JobState.FAILED if refused else JobState.UNKNOWN
        stamp = now_iso()
        with self._write() as conn:
            conn.execute(
                "UPDATE jobs SET state = ?, message = ?, checked_at = ?,"
                " finished_at = CASE WHEN ? THEN ? ELSE NULL END"
                " WHERE id = ? AND reference IS NULL",
                (state.value, message[:2000], stamp, refused, stamp, job_id),
            )

    def update_status(self, job_id: int, status: JobStatus) -> None:
        """Record a poll. A final state already recorded is never replaced by an older,
        non-final snapshot from a slower concurrent poll."""
        results = json.dumps([r.as_dict() for r in status.results])
        stamp = now_iso()
        with self._write() as conn:
            row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise JobStoreError(f"no job {job_id} in {self.path}")
            if JobState(row["state"]).is_final and not status.state.is_final:
                return
            conn.execute(
                "UPDATE jobs SET state = ?, server_status = ?, progress = ?, message = ?,"
                " results = CASE WHEN ? = '[]' THEN results ELSE ? END,"
                " unprocessed = COALESCE(?, unprocessed), checked_at = ?,"
                " finished_at = CASE WHEN ? THEN COALESCE(finished_at, ?) ELSE finished_at END"
                " WHERE id = ?",
                (
                    status.state.value,
                    status.server_status,
                    status.progress,
                    status.message,
                    results,
                    results,
                    status.unprocessed,
                    stamp,
                    status.state.is_final,
                    stamp,
                    job_id,
                ),
            )

    def record_download(
        self,
        job_id: int,
        name: str,
        outcome: str,
        *,
        path: str | None = None,
        size: int | None = None,
        md5: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO downloads (job_id, name, outcome, path, size, md5, detail, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (job_id, name) DO UPDATE SET outcome = excluded.outcome,"
                " path = excluded.path, size = excluded.size, md5 = excluded.md5,"
                " detail = excluded.detail, at = excluded.at",
                (job_id, name, outcome, path, size, md5, detail, now_iso()),
            )

    # -- reading -------------------------------------------------------------------------------
    def get(self, job: int | str) -> JobRecord:
        """A job by local id, or by the server's reference (the newest job holding it)."""
        with self._connect() as conn:
            row = None
            if isinstance(job, int) or str(job).isdigit():
                row = conn.execute("SELECT * FROM jobs WHERE id = ?", (int(job),)).fetchone()
            if row is None:
                row = conn.execute(
                    "SELECT * FROM jobs WHERE reference = ? ORDER BY id DESC LIMIT 1", (str(job),)
                ).fetchone()
            if row is None:
                raise JobStoreError(f"no job {job} in the job store {self.path}")
            return self._record(conn, row)

    def list(
        self,
        *,
        states: Sequence[JobState] | None = None,
        backend: str | None = None,
        base_url: str | None = None,
        process: str | None = None,
    ) -> list[JobRecord]:
        clauses: list[str] = []
        params: list[Any] = []
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            params.extend(s.value for s in states)
        for column, value in (("backend", backend), ("base_url", base_url), ("process", process)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as conn:
            rows = conn.execute(f"SELECT * FROM jobs{where} ORDER BY id", params).fetchall()  # noqa: S608 - fixed column names
            return [self._record(conn, row) for row in rows]

    def _record(self, conn: sqlite3.Connection, row: sqlite3.Row) -> JobRecord:
        downloads = [
            DownloadRecord(
                name=d["name"],
                outcome=d["outcome"],
                path=d["path"],
                size=d["size"],
                md5=d["md5"],
                detail=d["detail"],
                at=d["at"],
            )
            for d in conn.execute(
                "SELECT * FROM downloads WHERE job_id = ? ORDER BY name", (row["id"],)
            )
        ]
        return JobRecord(
            id=int(row["id"]),
            backend=row["backend"],
            base_url=row["base_url"],
            process=row["process"],
            inputs=json.loads(row["inputs"]),
            label=row["label"],
            reference=row["reference"],
            status_url=row["status_url"],
            submitted_at=row["submitted_at"],
            state=JobState(row["state"]),
            server_status=row["server_status"],
            progress=row["progress"],
            message=row["message"],
            results=[ResultFile.from_dict(r) for r in json.loads(row["results"] or "[]")],
            unprocessed=row["unprocessed"],
            checked_at=row["checked_at"],
            finished_at=row["finished_at"],
            downloads=downloads,
            submitter=row["submitter"],
        )


#: Which of several jobs answers for the same inputs: one with results first, then one that
#: may still give them, then the failed ones (their message says why); newest first within.
_STANDING = {
    JobState.FINISHED: 0,
    JobState.RUNNING: 1,
    JobState.PENDING: 1,
    JobState.SUBMITTING: 2,
    JobState.UNKNOWN: 2,
    JobState.FAILED: 3,
    JobState.CANCELED: 3,
}


def standing(record: JobRecord) -> tuple[int, int]:
    """Sort key of :data:`_STANDING`: the smallest is the job that answers."""
    return (_STANDING.get(record.state, 3), -record.id)


def live(record: JobRecord) -> bool:
    """Done or under way: a job whose inputs need no new submission."""
    return _STANDING.get(record.state, 3) < 3


def product_jobs(
    records: Iterable[JobRecord],
    names: Iterable[str] | None = None,
    *,
    backend: str | None = None,
    base_url: str | None = None,
) -> dict[str, JobRecord]:
    """Per product name, the per-product MAJA job that answers for it (:func:`standing`),
    among jobs on ``backend``/``base_url`` when given: a product submitted twice, or on two
    servers, is fetched from its finished job, not from whichever duplicate is newest."""
    wanted = None if names is None else set(names)
    found: dict[str, JobRecord] = {}
    for record in records:
        name = str(record.inputs.get("product") or "")
        if record.process != MAJA or not name or (wanted is not None and name not in wanted):
            continue
        if backend is not None and record.backend != backend:
            continue
        if base_url is not None and record.base_url.rstrip("/") != base_url.rstrip("/"):
            continue
        if name not in found or standing(record) < standing(found[name]):
            found[name] = record
    return found
