"""The batch downloader: restores asked up front, batched status polls, transfers the moment
a product is online, and a report that says what happened to every product and why.

In the spirit of sentinelsat's ``Downloader``, with what PEPS users lacked:

* offline products get their restore asked at once (bounded pool) while online products
  download (separate bounded pool, largest first so the batch ends with short transfers);
* status changes come from :meth:`Archive.availability` over all waiting products at once,
  on an adaptive interval (short first, backing off to a cap), never one request per product;
* the user's ``timeout`` ends the waiting, not the program: what is still offline (including
  ``unknown`` products that never come back) is reported, and the ledger remembers the
  restore requests so the next run only has to wait;
* transfers run on any ``concurrent.futures.Executor``, or on a dask cluster
  (:class:`~.cluster.DaskTransfers`), into a folder or an fsspec URL (:mod:`.storage`).
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..backends.base import Archive
from ..exceptions import ConfigurationError
from ..product import Product
from .ledger import LEDGER_NAME
from .report import DownloadReport, DownloadStatus, ProductReport
from .run import _Run, _Track
from .storage import Output, open_output
from .stream import wait_until_online
from .transfer import MIN_RATE, RATE_WINDOW, STALL_TIMEOUT


class Downloader:
    """Download many products from one archive into ``output_dir``.

    Durations are seconds. ``poll_initial``/``poll_factor``/``poll_max`` shape the adaptive
    availability polling; ``timeout`` (``None``: no limit) bounds the wait for restores;
    ``restore_retry_after`` is how old a recorded restore request must be before it is asked
    again for a product still offline. A transfer is cut and resumed with ``Range`` when no
    byte came for ``stall_timeout`` seconds or fewer than ``min_rate`` bytes/s over
    ``rate_window`` seconds (``min_rate=0`` disables that check); every ``report_every``
    seconds a line says which products are still waited for, and why.

    Transfers run in ``executor`` when one is given (a dask cluster: :mod:`.cluster`), else in
    ``transfer_processes`` child processes of this machine (:mod:`.workers`; ``None``: some
    for a batch of :data:`~.workers.PROCESSES_FROM` products or more, none for a smaller
    one), else in threads of this process.

    ``output_dir`` may also be an fsspec URL (``s3://bucket/prefix``): parts then go to
    ``part_dir`` (default ``<state_dir>/parts``), and ``storage_options`` to fsspec; the
    ledger stays in ``state_dir`` (default: a folder per URL in the user's state folder).
    """

    def __init__(
        self,
        archive: Archive,
        output_dir: str | Path | Output,
        *,
        executor: cf.Executor | None = None,
        transfer_processes: int | None = None,
        max_transfers: int = 8,
        max_restores: int = 4,
        timeout: float | None = None,
        poll_initial: float = 5.0,
        poll_factor: float = 1.5,
        poll_max: float = 60.0,
        extract: bool = False,
        delete_archive: bool = False,
        quiet: bool = False,
        state_dir: str | Path | None = None,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 300.0,
        restore_retry_after: float = 1800.0,
        lease: float = 60.0,
        stall_timeout: float = STALL_TIMEOUT,
        min_rate: float = MIN_RATE,
        rate_window: float = RATE_WINDOW,
        report_every: float = 60.0,
        on_done: Callable[[Product, str], None] | None = None,
        bytes_bar: Any = None,
        part_dir: str | Path | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        if transfer_processes is not None and transfer_processes < 0:
            raise ValueError("transfer_processes must be 0 or more")
        if max_transfers < 1 or max_restores < 1:
            raise ValueError("max_transfers and max_restores must be at least 1")
        if stall_timeout <= 0 or rate_window <= 0 or min_rate < 0:
            raise ValueError("stall_timeout and rate_window must be positive, min_rate >= 0")
        self.archive = archive
        self.output = open_output(
            output_dir, part_dir=part_dir, state_dir=state_dir, storage_options=storage_options
        )
        if self.output.folder is None and extract:
            raise ConfigurationError(
                f"cannot extract into {output_dir} (an object store): download the archives "
                "there, or extract into a folder"
            )
        #: The output folder; for a URL output, the :class:`~.storage.Output` itself.
        self.output_dir: Path | Output = self.output.folder or self.output
        self.executor = executor
        self.transfer_processes = transfer_processes
        self.max_transfers = max_transfers
        self.max_restores = max_restores
        self.timeout = timeout
        self.poll_initial = poll_initial
        self.poll_factor = poll_factor
        self.poll_max = max(poll_max, poll_initial)
        self.extract = extract
        self.delete_archive = delete_archive
        self.quiet = quiet
        self.ledger_path = Path(state_dir or self.output.state_dir) / LEDGER_NAME
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.restore_retry_after = restore_retry_after
        self.lease = lease
        self.stall_timeout = stall_timeout
        self.min_rate = min_rate
        self.rate_window = rate_window
        self.report_every = report_every
        self.on_done = on_done
        self.bytes_bar = bytes_bar
        #: Set to stop transfers at the next chunk (Ctrl-C, credentials refused).
        self.cancel = threading.Event()
        #: What the last :meth:`download` did: ``turns`` of its loop and ``visits`` of
        #: products (indexed, dequeued, polled); both grow linearly with the batch.
        self.work: dict[str, int] = {}

    # -- public -------------------------------------------------------------------------------
    def download(self, products: Iterable[Product]) -> DownloadReport:
        """Run the batch to its end (all done, failed, or unavailable at the timeout).

        Raises :class:`AuthenticationError` at once when the archive refuses the credentials;
        Ctrl-C stops transfers at the next chunk, keeping what the next run resumes.
        """
        started = time.monotonic()
        self.cancel.clear()
        self.output.prepare()
        tracks: dict[str, _Track] = {}
        for product in products:
            tracks.setdefault(product.id, _Track(product, DownloadStatus.OFFLINE))
        run = _Run(self, list(tracks.values()), started)
        try:
            run.loop()
        finally:
            run.close()
            self.work = {"turns": run.turns, "visits": run.visits}
        return run.report()


def download(
    archive: Archive, products: Sequence[Product], output_dir: str | Path, **options: Any
) -> DownloadReport:
    """Shortcut: ``Downloader(archive, output_dir, **options).download(products)``."""
    return Downloader(archive, output_dir, **options).download(products)


__all__ = [
    "DownloadReport",
    "DownloadStatus",
    "Downloader",
    "ProductReport",
    "download",
    "wait_until_online",
]
