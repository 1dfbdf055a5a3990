"""The FULL_MAJA log file the old scripts bound a download to (``full_maja_process -l LOG``,
then ``full_maja_download -l LOG``): written by the drop-in and by ``peps-plus maja submit
--log``, read by the drop-in and by ``peps-plus maja fetch --log``.

It keeps the old readers' ``statusLocation`` line and says which job of the store it names:
the store stays the source of truth (a lost or overwritten log loses no job), but a download
given a log fetches that job only, never every finished job of the store.
"""

from __future__ import annotations

from pathlib import Path

from ..exceptions import ProcessingError
from ..files import write_atomically
from ..processing.store import JobRecord, JobStore

__all__ = ["job_store", "read_job_log", "write_job_log"]


def write_job_log(path: Path, record: JobRecord, store: JobStore) -> None:
    """The legacy log file (``statusLocation`` as the old readers looked for it), plus where
    the job is kept: the store has it even if this file is lost or overwritten."""
    lines = [
        f"# {record.process} job {record.id} submitted with peps-plus; the job store is the "
        "source of truth: peps-plus maja list",
        f"job={record.id}",
        f"process={record.process}",
        f"inputs={record.label}",
        f"backend={record.backend}",
        f"server={record.base_url}",
        f"reference={record.reference or ''}",
        f'statusLocation="{record.status_url or ""}"',
        f"store={store.path}",
    ]
    write_atomically(path, "\n".join(lines) + "\n")


def read_job_log(path: Path) -> dict[str, str]:
    """``key=value`` lines of a log we wrote; a log from the old scripts (raw WPS XML) has
    none, and is refused with a pointer to the store."""
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise ProcessingError(
            f"log file not found: {path}; every job is kept in the job store: "
            "`peps-plus maja list`, then this command with --job ID"
        ) from None
    except OSError as exc:
        raise ProcessingError(f"cannot read the log file {path}: {exc.strerror}") from None
    entries = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            entries[key.strip()] = value.strip().strip('"')
    if not entries.get("job", "").isdigit():
        raise ProcessingError(
            f"{path} was not written by peps-plus (no job number); jobs submitted with the old "
            "scripts are on the retired PEPS service; see `peps-plus maja list` for yours"
        )
    return entries


def job_store(store_path: Path | None, log: dict[str, str] | None = None) -> JobStore:
    """``--store``/``$PEPS_PLUS_JOB_STORE`` first, else the store the log file names."""
    if store_path is None and log and log.get("store") and Path(log["store"]).exists():
        store_path = Path(log["store"])
    return JobStore(store_path)
