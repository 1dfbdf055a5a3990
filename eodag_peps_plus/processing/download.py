"""The one place where processing results are handed to a downloader: the staging downloader
(resumable transfers, MD5 and size checks, refusal of JSON/HTML bodies, a ledger).

Results are not catalogue products: each becomes a minimal :class:`Product`, and the staging
downloader reaches them through :class:`ResultArchive`, a backend whose archive is the job's
output (always online once the job finished) and whose downloads are authenticated the way the
processing service says (Basic auth on PEPS, ``X-API-Key`` on GEODES).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import requests

from ..backends.base import Backend, SearchPage
from ..backends.spec import BackendSpec
from ..exceptions import ProcessingError
from ..product import Availability, Product
from ..query import Query
from .base import ProcessingBackend, ResultFile


@dataclasses.dataclass
class DownloadOutcome:
    result: ResultFile
    path: Path | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class ResultArchive(Backend):
    """The outputs of finished jobs, seen as an archive by the staging downloader."""

    name = "maja-results"

    def __init__(self, processing: ProcessingBackend) -> None:
        backend = processing.backend
        self.service = processing  # before Backend.__init__, which reads ``spec``
        super().__init__(
            processing.base_url,
            credentials=backend.credentials,
            trusted_origins=sorted(backend.credential_origins),
            session=backend.session,
            timeout=backend.timeout,
        )

    @property
    def spec(self) -> BackendSpec:
        """The processing server's record: its results go with its credentials, no further."""
        return self.service.backend.spec

    def search_page(
        self, query: Query, *, limit: int | None = None, page: int = 1, token: str | None = None
    ) -> SearchPage:
        raise ProcessingError("processing results cannot be searched")

    def availability(self, products: Sequence[Product]) -> dict[str, Availability]:
        return {p.id: Availability.ONLINE for p in products}

    def request_restore(self, product: Product) -> None:
        return None

    def open_download(
        self, product: Product, *, offset: int = 0, if_range: str | None = None
    ) -> requests.Response:
        result = ResultFile(product.filename, product.download_url, product.size, product.md5)
        return self.service.open_result(result, offset=offset, if_range=if_range)


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
    from ..staging import Downloader, DownloadStatus

    products = []
    for result in results:
        product = result.as_product(processing.backend.name)
        product.availability = Availability.ONLINE
        products.append(product)
    downloader = Downloader(
        ResultArchive(processing),
        out_dir,
        quiet=quiet,
        poll_initial=1.0,
        poll_max=10.0,
        max_attempts=max_attempts,
        backoff_base=0.5,
        backoff_max=10.0,
    )
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
    from ..staging.extract import name_problem

    if name_problem(result.filename[: -len(".zip")]) is not None:
        return False  # the downloader refuses it, and says why
    target = out_dir / result.filename
    if not target.is_file() or target.stat().st_size == 0:
        return False
    return result.size is None or target.stat().st_size == result.size
