"""The job store: durable, append-only identities, safe with several writers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from eodag_peps_plus.processing.base import JobState, JobStatus, ResultFile, Submission
from eodag_peps_plus.processing.store import STORE_ENV, JobStore, JobStoreError, default_store_path


def _job(store: JobStore, label: str = "31TCJ") -> int:
    return store.begin_submission(
        backend="peps",
        base_url="http://x",
        process="FULL_MAJA",
        inputs={"tile": label},
        label=label,
    )


def test_round_trip_and_never_reused_ids(store: JobStore) -> None:
    first = _job(store)
    store.complete_submission(first, Submission("abc", "http://x/pywps-abc.xml", "FULL_MAJA", {}))
    result = ResultFile("A_NOVALD.zip", "http://x/a", 10, "0" * 32)
    store.update_status(
        first,
        JobStatus(
            JobState.FINISHED, 100.0, results=[result], unprocessed=2, server_status="FINISHED"
        ),
    )
    store.record_download(first, "A_NOVALD.zip", "novald")
    record = store.get(first)
    assert record.reference == "abc" and record.state is JobState.FINISHED
    assert record.results == [result] and record.results[0].novald
    assert record.unprocessed == 2 and record.finished_at
    assert [d.outcome for d in record.downloads] == ["novald"]
    assert store.get("abc").id == first  # by the server's reference too
    # AUTOINCREMENT: a deleted last row's id is not handed out again.
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "INSERT INTO jobs (backend, base_url, process, inputs, label, submitted_at, state)"
            " VALUES ('peps', 'x', 'MAJA', '{}', 'x', 'now', 'pending')"
        )
        conn.execute("DELETE FROM jobs WHERE id = (SELECT MAX(id) FROM jobs)")
    assert _job(store) == first + 2


def test_identity_and_reference_are_never_rewritten(store: JobStore) -> None:
    job_id = _job(store)
    store.complete_submission(job_id, Submission("ref-1", None, "FULL_MAJA", {}))
    store.complete_submission(job_id, Submission("ref-2", None, "FULL_MAJA", {}))  # ignored
    assert store.get(job_id).reference == "ref-1"
    with sqlite3.connect(store.path) as conn:
        with pytest.raises(sqlite3.IntegrityError, match="never rewritten"):
            conn.execute("UPDATE jobs SET inputs = '{}' WHERE id = ?", (job_id,))
        with pytest.raises(sqlite3.IntegrityError, match="never rewritten"):
            conn.execute("UPDATE jobs SET reference = 'other' WHERE id = ?", (job_id,))


def test_final_state_is_not_replaced_by_a_late_snapshot(store: JobStore) -> None:
    job_id = _job(store)
    store.complete_submission(job_id, Submission("r", None, "FULL_MAJA", {}))
    store.update_status(job_id, JobStatus(JobState.FINISHED, 100.0))
    store.update_status(job_id, JobStatus(JobState.RUNNING, 40.0))
    assert store.get(job_id).state is JobState.FINISHED


def test_unknown_job_is_a_clear_error(store: JobStore) -> None:
    with pytest.raises(JobStoreError, match="no job 42"):
        store.get(42)


def test_default_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(STORE_ENV, raising=False)
    assert default_store_path().name == "jobs.sqlite3"
    assert "eodag-peps-plus" in str(default_store_path())
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "elsewhere.db"))
    assert JobStore().path == tmp_path / "elsewhere.db"


def test_unusable_location_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JobStoreError, match="cannot open the job store"):
        JobStore(blocker / "jobs.sqlite3")


WRITER = textwrap.dedent(
    """
    import sys
    from eodag_peps_plus.processing.base import JobState, JobStatus, Submission
    from eodag_peps_plus.processing.store import JobStore
    store = JobStore(sys.argv[1])
    tag = sys.argv[2]
    for i in range(int(sys.argv[3])):
        job = store.begin_submission(backend="peps", base_url="http://x", process="MAJA",
                                     inputs={"i": i, "tag": tag}, label=f"{tag}-{i}")
        store.complete_submission(job, Submission(f"{tag}-{i}", None, "MAJA", {}))
        store.update_status(job, JobStatus(JobState.RUNNING, float(i % 100)))
        store.record_download(job, f"{tag}-{i}.zip", "downloaded")
    """
)


def test_two_processes_write_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite3"
    JobStore(path)
    count = 150
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), tag, str(count)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    records = JobStore(path).list()
    assert len(records) == 2 * count
    assert len({r.id for r in records}) == 2 * count
    assert {r.reference for r in records} == {f"{t}-{i}" for t in "ab" for i in range(count)}
    assert all(r.state is JobState.RUNNING and len(r.downloads) == 1 for r in records)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
