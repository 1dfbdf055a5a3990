"""The one place where processing results are handed to a downloader: the staging downloader
(resumable transfers, MD5 and size checks, refusal of JSON/HTML bodies, a ledger).

Results are not catalogue products: each becomes a minimal :class:`Product`, and the staging
downloader reaches them through :class:`ResultArchive`, an archive (not a catalogue: nothing
to search) whose products are the jobs' outputs, always online once the job finished, and
whose downloads are authenticated the way the processing service says (Basic auth on PEPS,
``X-API-Key`` on GEODES).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import requests

from ..backends.base import Archive
from ..product import Availability, Product
from .base import ProcessingBackend, ResultFile

__all__ = ["DownloadOutcome", "ResultArchive", "download_results", "present"]


@dataclasses.dataclass
class DownloadOutcome:
    result: ResultFile
    path: Path | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ResultArchive(Archive):
    """The outputs of finished jobs, seen as an archive by the staging downloader: always
    online, never restored, downloaded the way the processing service says."""

    def __init__(self, processing: ProcessingBackend) -> None:
        self.service = processing
        account = processing.backend
        # The processing server's origin and its account's: results go with its credentials,
        # no further.
        self.credential_origins = account.spec.credential_origins(
            processing.base_url, account.credential_origins
        )

    def __repr__(self) -> str:
        return f"ResultArchive({self.service.base_url!r})"

    @property
    def credentials_hint(self) -> str:
        return self.service.backend.credentials_hint

    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        return {p.id: Availability.ONLINE for p in products}

    def request_restore(self, product: Product) -> None:
        return None

    def open_download(
        self,
        product: Product,
        *,
        offset: int = 0,
        if_range: str | None = None,
        end: int | None = None,
    ) -> requests.Response:
        result = ResultFile(product.filename, product.download_url, product.size, product.md5)
        return self.service.open_result(result, offset=offset, if_range=if_range, end=end)


def download_results(
    processing: ProcessingBackend,
    results: Sequence[ResultFile],
    out_dir: Path,
    *,
    quiet: bool = True,
    max_attempts: int = 5,
) -> list[DownloadOutcome]:
    """Download results into ``out_dir`` as ``<name>.zip``; one failure does not stop the
    others. Raises :class:`AuthenticationError` if the server refuses the credentials."""
    from ..staging import Downloader, DownloadStatus, StagingOptions

    products = []
    for result in results:
        product = result.as_product(processing.backend.name)
        product.availability = Availability.ONLINE
        products.append(product)
    # Results are online once their job finished: short polls, a short retry backoff.
    options = StagingOptions(
        quiet=quiet,
        poll_initial=1.0,
        poll_max=10.0,
        max_attempts=max_attempts,
        backoff_base=0.5,
        backoff_max=10.0,
    )
    downloader = Downloader(ResultArchive(processing), out_dir, options)
    report = downloader.download(products)
    by_id = {p.id: p for p in report.products}
    outcomes = []
    for result, product in zip(results, products, strict=True):
        done = by_id.get(product.id)
        if done is not None and done.status is DownloadStatus.DONE and done.path:
            outcomes.append(DownloadOutcome(result, Path(done.path)))
        else:
            reason = done.reason if done is not None else "not attempted"
            outcomes.append(DownloadOutcome(result, None, reason or "failed"))
    return outcomes


def present(result: ResultFile, out_dir: Path) -> bool:
    """Already on disk (the legacy scripts skipped files by name; we also check the size)."""
    from ..staging.file_names import name_problem

    if name_problem(result.filename[: -len(".zip")]) is not None:
        return False  # the downloader refuses it, and says why
    target = out_dir / result.filename
    if not target.is_file() or target.stat().st_size == 0:
        return False
    return result.size is None or target.stat().st_size == result.size
