"""One transfer attempt of one archive: stream to ``<name>.zip.part``, verify, rename.

The attempt never decides to wait or retry; it reports an :class:`Outcome` and the scheduler
decides. What it guarantees:

* only bytes that can be the product reach the part file: a reply with the wrong status,
  type or length, an empty body, JSON or HTML, is classified and never written;
* a part file is resumed with ``Range`` only with ``If-Range`` set to the validator recorded
  (in the ledger) for its bytes, and a reply that does not continue it exactly restarts it;
* ``<name>.zip`` appears only by an atomic rename after its length and MD5 matched the
  catalogue, so an interrupted run never leaves something that looks like a product.

A job is a plain picklable object, so any ``concurrent.futures.Executor`` (threads, processes,
a dask client's executor) can run :func:`run_transfer`.
"""

from __future__ import annotations

import dataclasses
import email.utils
import enum
import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests
import urllib3

from ..backends.base import Backend
from ..exceptions import AuthenticationError, DownloadError
from ..product import Product
from .extract import clean_leftovers, extract_archive, safe_name
from .ledger import Ledger

logger = logging.getLogger(__name__)

CHUNK = 1 << 18
#: Content types that are never an archive, whatever the length says.
NOT_ARCHIVE_TYPES = ("application/json", "text/html", "text/plain", "application/xml", "text/xml")
#: Every archive starts with a zip local file header (an empty zip would be PK\x05\x06).
ZIP_MAGIC = b"PK\x03\x04"
#: Renew a transfer claim this often while bytes flow.
RENEW_EVERY = 5.0
#: Failures of the connection, not of the disk (requests' errors are also ``OSError``s).
NETWORK_ERRORS = (
    requests.exceptions.RequestException,
    urllib3.exceptions.HTTPError,
    ConnectionError,
    TimeoutError,
)


class Outcome(str, enum.Enum):
    DONE = "done"
    RETRY = "retry"  # transient: 429/5xx, dropped connection; resume when possible
    NOT_PRODUCT = "not_product"  # the reply was not the archive: not online (yet)
    CORRUPT = "corrupt"  # complete but the checksum or the content is wrong
    FAILED = "failed"  # nothing to retry (bad name, disk error)
    AUTH = "auth"  # credentials refused: the whole run stops
    CANCELLED = "cancelled"


@dataclasses.dataclass
class TransferResult:
    product_id: str
    outcome: Outcome
    reason: str = ""
    retry_after: float | None = None
    path: str | None = None
    extracted: str | None = None
    received: int = 0
    resumed_from: int = 0
    status_code: int | None = None
    #: The part file must be discarded (the server's bytes no longer continue it).
    restart: bool = False


@dataclasses.dataclass
class TransferJob:
    """Everything one attempt needs; ``progress``/``cancel`` only make sense in-process and
    are dropped when the job is pickled to another process."""

    product: Product
    backend: Backend
    output_dir: Path
    ledger_path: Path | None = None
    owner: str = ""
    lease: float = 60.0
    extract: bool = False
    delete_archive: bool = False
    #: ``progress(product_id, bytes_now, total, initial)``: called with each chunk.
    progress: Callable[[str, int, int | None, int], None] | None = None
    cancel: threading.Event | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["progress"] = None
        state["cancel"] = None
        return state


def part_path(output_dir: Path, name: str) -> Path:
    return output_dir / f"{safe_name(name)}.zip.part"


def zip_path(output_dir: Path, name: str) -> Path:
    return output_dir / f"{safe_name(name)}.zip"


def file_md5(path: Path, limit: int | None = None) -> Any:
    """An MD5 object over the first ``limit`` bytes of a file (all of it by default)."""
    digest = hashlib.md5(usedforsecurity=False)
    remaining = limit
    with open(path, "rb") as handle:
        while remaining is None or remaining > 0:
            chunk = handle.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            digest.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    return digest


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (delta or HTTP date); the sandbox also sends fractions."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _content_type(response: requests.Response) -> str:
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _snippet(data: bytes) -> str:
    return data[:160].decode("utf-8", "replace").replace("\n", " ").strip()


class _Attempt:
    def __init__(self, job: TransferJob) -> None:
        self.job = job
        self.product = job.product
        self.name = job.product.id
        self.part = part_path(job.output_dir, self.name)
        self.final = zip_path(job.output_dir, self.name)
        self.ledger = Ledger(job.ledger_path) if job.ledger_path else None
        self.size = job.product.size
        self.md5 = (job.product.md5 or "").lower() or None

    def result(self, outcome: Outcome, reason: str = "", **kwargs: Any) -> TransferResult:
        return TransferResult(self.name, outcome, reason, **kwargs)

    # -- the attempt ------------------------------------------------------------------------
    def run(self) -> TransferResult:
        self.job.output_dir.mkdir(parents=True, exist_ok=True)
        row = self.ledger.get(self.name) if self.ledger is not None else None
        validator = row.validator if row is not None else None
        offset = self._resumable_offset(validator)
        if offset and self.size is not None and offset == self.size:
            return self._finish(file_md5(self.part), received=0, resumed_from=offset)
        response = self.job.backend.open_download(self.product, offset=offset, if_range=validator)
        with response:
            verdict = classify_reply(self.product, response, offset)
            if verdict is not None:
                if verdict.restart:
                    self._forget_part()
                return verdict
            start = offset if response.status_code == 206 else 0
            return self._stream(response, start)

    def _resumable_offset(self, validator: str | None) -> int:
        """Bytes of the part file worth keeping: only with a recorded validator, and never more
        than the catalogue size."""
        try:
            have = self.part.stat().st_size
        except FileNotFoundError:
            return 0
        if not validator or have == 0 or (self.size is not None and have > self.size):
            return 0
        return have

    def _stream(self, response: requests.Response, start: int) -> TransferResult:
        validator = response.headers.get("ETag") or response.headers.get("Last-Modified")
        if validator and validator.startswith("W/"):
            validator = None  # weak validators cannot guard byte ranges
        digest = file_md5(self.part, start) if start else hashlib.md5(usedforsecurity=False)
        if self.ledger is not None:
            self.ledger.set_validator(self.name, validator)
        received = 0
        position = start
        last_renew = time.monotonic()
        cancel, progress = self.job.cancel, self.job.progress
        if progress is not None:
            progress(self.name, 0, self.size, start)
        try:
            with open(self.part, "r+b" if start else "wb") as out:
                out.seek(start)
                out.truncate(start)
                head = b""  # the first bytes, held back until the zip signature is checked
                for chunk in iter_body(response):
                    if not chunk:
                        continue
                    if position == 0:
                        head += chunk
                        if len(head) < len(ZIP_MAGIC) and len(head) != self.size:
                            continue
                        if not head.startswith(ZIP_MAGIC):
                            out.close()
                            self._forget_part()
                            return self.result(
                                Outcome.NOT_PRODUCT,
                                f"the reply is not a zip archive ({_snippet(head[:40])!r}...)",
                                status_code=response.status_code,
                            )
                        chunk, head = head, b""
                    if self.size is not None and position + len(chunk) > self.size:
                        out.close()
                        self._forget_part()
                        return self.result(
                            Outcome.CORRUPT,
                            f"the reply is longer than the catalogue size {self.size}",
                        )
                    out.write(chunk)
                    digest.update(chunk)
                    position += len(chunk)
                    received += len(chunk)
                    if progress is not None:
                        progress(self.name, len(chunk), self.size, start)
                    if cancel is not None and cancel.is_set():
                        out.flush()
                        return self.result(
                            Outcome.CANCELLED, "interrupted", received=received, resumed_from=start
                        )
                    now = time.monotonic()
                    if self.ledger is not None and now - last_renew > RENEW_EVERY:
                        self.ledger.renew(self.name, self.job.owner, lease=self.job.lease)
                        last_renew = now
                out.flush()
                os.fsync(out.fileno())
        except NETWORK_ERRORS as exc:
            total = self.size if self.size is not None else "?"
            return self.result(
                Outcome.RETRY,
                f"connection lost after {position} of {total} bytes ({type(exc).__name__})",
                received=received,
                resumed_from=start,
            )
        except OSError as exc:
            return self.result(Outcome.FAILED, f"cannot write {self.part}: {exc}")
        if self.size is not None and position < self.size:
            return self.result(
                Outcome.RETRY,
                f"the reply ended after {position} of {self.size} bytes",
                received=received,
                resumed_from=start,
            )
        return self._finish(digest, received=received, resumed_from=start)

    def _finish(self, digest: Any, *, received: int, resumed_from: int) -> TransferResult:
        actual = digest.hexdigest()
        if self.md5 is not None and actual != self.md5:
            self._forget_part()
            return self.result(
                Outcome.CORRUPT,
                f"MD5 {actual} does not match the catalogue's {self.md5}",
                received=received,
                resumed_from=resumed_from,
            )
        os.replace(self.part, self.final)
        _fsync_dir(self.final.parent)
        info = self.final.stat()
        if self.ledger is not None:
            self.ledger.mark_done(self.name, info.st_size, info.st_mtime_ns)
        extracted = None
        if self.job.extract:
            clean_leftovers(self.final.parent, self.name)
            try:
                folder = extract_archive(
                    self.final, self.name, delete_archive=self.job.delete_archive
                )
            except DownloadError as exc:
                return self.result(
                    Outcome.FAILED, str(exc), path=str(self.final), received=received
                )
            extracted = str(folder)
            if self.ledger is not None:
                self.ledger.mark_extracted(self.name)
        return self.result(
            Outcome.DONE,
            "verified" if self.md5 else "complete (no checksum in the catalogue)",
            path=extracted or str(self.final),
            extracted=extracted,
            received=received,
            resumed_from=resumed_from,
        )

    def _forget_part(self) -> None:
        self.part.unlink(missing_ok=True)
        if self.ledger is not None:
            self.ledger.set_validator(self.name, None)


def classify_reply(
    product: Product, response: requests.Response, offset: int = 0
) -> TransferResult | None:
    """``None`` if the reply can be the product (or its continuation), else the outcome."""
    status = response.status_code
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if status in (401, 403):
        message = _auth_message(status, product.backend)
        return TransferResult(product.id, Outcome.AUTH, message, status_code=status)
    if status == 429 or status >= 500:
        body = _read_small(response)
        return TransferResult(
            product.id,
            Outcome.RETRY,
            f"HTTP {status}{': ' + _snippet(body) if body else ''}",
            retry_after=retry_after,
            status_code=status,
        )
    if status not in (200, 206):
        body = _read_small(response)
        return TransferResult(
            product.id,
            Outcome.NOT_PRODUCT,
            f"HTTP {status} instead of the archive{': ' + _snippet(body) if body else ''}",
            retry_after=retry_after,
            status_code=status,
        )
    kind = _content_type(response)
    if kind in NOT_ARCHIVE_TYPES:
        body = _read_small(response)
        return _message_reply(product, status, kind, body, retry_after)
    length_text = response.headers.get("Content-Length")
    length = int(length_text) if length_text and length_text.isdigit() else None
    if status == 206:
        crange = response.headers.get("Content-Range", "")
        expected = f"bytes {offset}-"
        total = crange.rpartition("/")[2]
        if not crange.startswith(expected) or (
            product.size is not None and total.isdigit() and int(total) != product.size
        ):
            # Not the continuation we asked for: start over rather than splice.
            return TransferResult(
                product.id,
                Outcome.RETRY,
                f"unexpected Content-Range {crange!r}; restarting",
                retry_after=0.0,
                restart=True,
            )
        remaining = None if product.size is None else product.size - offset
    else:
        remaining = product.size
    if length == 0:
        return TransferResult(
            product.id, Outcome.NOT_PRODUCT, f"HTTP {status} with an empty body", status_code=status
        )
    if length is not None and remaining is not None and length != remaining:
        return TransferResult(
            product.id,
            Outcome.NOT_PRODUCT,
            f"HTTP {status} with {length} bytes where the catalogue says {remaining}",
            status_code=status,
        )
    return None


def _message_reply(
    product: Product, status: int, kind: str, body: bytes, retry_after: float | None
) -> TransferResult:
    """A JSON/HTML/text body: an error message, whatever the status says."""
    data: Any = None
    if kind == "application/json":
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
    code = str(data.get("ErrorCode", "")) if isinstance(data, dict) else ""
    if code in ("401", "403"):
        message = _auth_message(int(code), product.backend)
        return TransferResult(product.id, Outcome.AUTH, message, status_code=status)
    detail = _snippet(body) or "empty"
    if code.isdigit() and (int(code) == 429 or int(code) >= 500):
        return TransferResult(
            product.id,
            Outcome.RETRY,
            f"HTTP {status} carrying error {code}: {detail}",
            retry_after=retry_after,
            status_code=status,
        )
    return TransferResult(
        product.id,
        Outcome.NOT_PRODUCT,
        f"HTTP {status} with a {kind} body: {detail}",
        status_code=status,
    )


def iter_body(response: requests.Response, size: int = CHUNK) -> Iterator[bytes]:
    """The body as it arrives: ``read1`` hands over whatever bytes came before a dropped
    connection, where ``iter_content`` would lose up to a whole chunk."""
    raw = response.raw
    if not hasattr(raw, "read1"):
        yield from response.iter_content(size)
        return
    while True:
        data = raw.read1(size)
        if not data:
            return
        yield data


def _read_small(response: requests.Response, limit: int = 65536) -> bytes:
    try:
        data: bytes = response.raw.read(limit, decode_content=True)
    except (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError):
        return b""
    return data


def _auth_message(status: int, backend: str) -> str:
    provider = backend.upper()
    what = "username and password" if backend == "peps" else "API key"
    return (
        f"credentials refused by the archive (HTTP {status}): check the {what} for {backend} in "
        f"your EODAG config (eodag.yml) or EODAG__{provider}__AUTH__CREDENTIALS__* variables"
    )


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def run_transfer(job: TransferJob) -> TransferResult:
    """One attempt; every error a server or network can cause becomes an outcome."""
    attempt = _Attempt(job)
    try:
        return attempt.run()
    except AuthenticationError as exc:
        return attempt.result(Outcome.AUTH, str(exc))
    except NETWORK_ERRORS as exc:
        return attempt.result(Outcome.RETRY, f"request failed: {type(exc).__name__}: {exc}")
    except DownloadError as exc:
        return attempt.result(Outcome.FAILED, str(exc))
    except OSError as exc:
        return attempt.result(Outcome.FAILED, f"file system error: {exc}")
    finally:
        if attempt.ledger is not None:
            attempt.ledger.close()
