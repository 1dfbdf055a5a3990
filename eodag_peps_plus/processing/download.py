"""The one place where processing results are handed to a downloader.

Results should go through the staging downloader (resume, MD5, checks that a body is an
archive). Until its API settles, :func:`download_results` does the same narrow job itself:
stream to ``<name>.part``, resume with ``Range``/``If-Range``, verify size and MD5 when known,
refuse JSON/HTML bodies, and rename into place only when complete. Switching to the staging
downloader means changing this module only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import requests

from ..exceptions import DownloadError, PepsPlusError
from ..http_io import check_status
from .base import ProcessingBackend, ResultFile

logger = logging.getLogger(__name__)

CHUNK = 1 << 16
ATTEMPTS = 4


@dataclasses.dataclass
class DownloadOutcome:
    result: ResultFile
    path: Path | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


ProgressCallback = Callable[[int], None]


def download_results(
    processing: ProcessingBackend,
    results: Sequence[ResultFile],
    out_dir: Path,
    *,
    progress: ProgressCallback | None = None,
    attempts: int = ATTEMPTS,
) -> list[DownloadOutcome]:
    """Download each result into ``out_dir``; one failure does not stop the others."""
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[DownloadOutcome] = []
    for result in results:
        target = out_dir / result.filename
        try:
            _download_one(processing, result, target, progress=progress, attempts=attempts)
        except (PepsPlusError, OSError) as exc:
            outcomes.append(DownloadOutcome(result, None, str(exc)))
        else:
            outcomes.append(DownloadOutcome(result, target))
    return outcomes


def _md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _download_one(
    processing: ProcessingBackend,
    result: ResultFile,
    target: Path,
    *,
    progress: ProgressCallback | None,
    attempts: int,
) -> None:
    part = target.with_name(target.name + ".part")
    etag_file = target.with_name(target.name + ".part.etag")
    last_error = "no attempt"
    for attempt in range(attempts):
        offset = part.stat().st_size if part.exists() else 0
        if_range = etag_file.read_text().strip() if offset and etag_file.exists() else None
        try:
            response = processing.open_result(result, offset=offset, if_range=if_range)
        except requests.RequestException as exc:
            last_error = f"{type(exc).__name__}"
            time.sleep(min(2.0, 0.2 * 2**attempt))
            continue
        with response:
            check_status(response, f"result {result.name}")
            kind = response.headers.get("Content-Type", "")
            if response.status_code not in (200, 206) or kind.startswith(
                ("application/json", "text/")
            ):
                raise DownloadError(
                    f"result {result.name}: the server answered HTTP {response.status_code} "
                    f"{kind or 'without a type'} instead of the archive"
                )
            resumed = response.status_code == 206 and offset > 0
            if not resumed:
                offset = 0
            etag = response.headers.get("ETag")
            if etag:
                etag_file.write_text(etag)
            try:
                with part.open("ab" if resumed else "wb") as handle:
                    for chunk in response.iter_content(CHUNK):
                        handle.write(chunk)
                        if progress is not None:
                            progress(len(chunk))
            except (requests.RequestException, OSError) as exc:
                if not isinstance(exc, (requests.RequestException, ConnectionError)):
                    raise  # a local disk problem: retrying will not help
                last_error = f"transfer interrupted ({type(exc).__name__})"
                logger.info("%s: %s, resuming", result.name, last_error)
                continue
        size = part.stat().st_size
        expected = result.size
        if expected is None and response.headers.get("Content-Length") and not resumed:
            expected = int(response.headers["Content-Length"])
        if expected is not None and size < expected:
            last_error = f"got {size} of {expected} bytes"
            continue
        if expected is not None and size != expected:
            part.unlink(missing_ok=True)
            raise DownloadError(f"result {result.name}: {size} bytes, expected {expected}")
        if size == 0:
            part.unlink(missing_ok=True)
            raise DownloadError(f"result {result.name}: the server sent an empty file")
        if result.md5 and _md5_of(part) != result.md5:
            part.unlink(missing_ok=True)
            etag_file.unlink(missing_ok=True)
            last_error = "MD5 mismatch"
            continue
        os.replace(part, target)
        etag_file.unlink(missing_ok=True)
        return
    raise DownloadError(f"result {result.name}: gave up after {attempts} attempts ({last_error})")


def present(result: ResultFile, out_dir: Path) -> bool:
    """Already on disk (the legacy scripts skipped files by name; we also check the size)."""
    target = out_dir / result.filename
    if not target.is_file() or target.stat().st_size == 0:
        return False
    return result.size is None or target.stat().st_size == result.size
