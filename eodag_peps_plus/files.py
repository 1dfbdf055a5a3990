"""Writing result files: never a half-written file where a good one (or none) was."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["disk_advice", "open_atomically", "write_all", "write_atomically"]


def write_atomically(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8) to a temporary file beside ``path``, then rename it into
    place: readers see the old file or the new one, and a crash leaves no partial file."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with open_atomically(path) as handle:
        handle.write(payload)
    return Path(path)


@contextlib.contextmanager
def open_atomically(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """A binary handle on a temporary file beside ``path``, renamed into place when the block
    ends without an exception: a file written as results arrive (a million-product search)
    is never seen half-written, and an interrupted run (an error, Ctrl-C) leaves the previous
    file, or none, and no temporary file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    """The replaced file's permissions, else the usual ones for a new file (mkstemp's 0600
    would hide a report from the web server or colleague it is written for)."""
    try:
        return target.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0o022)
        os.umask(umask)
        return 0o666 & ~umask


def write_all(fd: int, data: bytes | bytearray | memoryview) -> None:
    """All of ``data`` to the file descriptor (one ``write`` may take only part of it)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if not written:
            raise OSError("the file took no bytes")
        view = view[written:]


#: What to do when the disk says no, by errno (read-only and permission refusals included).
_DISK_ADVICE = {
    errno.ENOSPC: "the disk is full: free some space and run the same command again",
    errno.EDQUOT: "the disk quota is reached: free some space and run the same command again",
    errno.EFBIG: "a file-size limit (ulimit -f) is reached: raise it and run again",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "the folder cannot be written: fix its permissions or choose another one",
    errno.EPERM: "the folder cannot be written: fix its permissions or choose another one",
}


def disk_advice(exc: BaseException) -> str | None:
    """What to do about a write the disk refused (full, quota, size limit, read-only), or
    ``None`` when ``exc`` is no such refusal."""
    code = getattr(exc, "errno", None)
    if code in _DISK_ADVICE:
        return _DISK_ADVICE[code]
    text = str(exc).lower()
    if "database or disk is full" in text or "disk i/o error" in text:
        return (
            "the disk is full, or a quota or file-size limit is reached: free some space and "
            "run the same command again"
        )
    if "readonly" in text or "read-only" in text:
        return _DISK_ADVICE[errno.EROFS]
    return None
