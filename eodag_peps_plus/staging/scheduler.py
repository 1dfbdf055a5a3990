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
from .options import PollSchedule, StagingOptions
from .report import DownloadReport, DownloadStatus, ProductReport
from .run import Run
from .state import Batch, Track
from .storage import Output, open_output
from .stream import wait_until_online


class Downloader:
    """Download many products from one archive into ``output_dir``.

    ``options`` (a :class:`~.options.StagingOptions`, built once) says how: concurrency,
    polling, retries, stall guards, extraction, where the ledger and parts go; keyword
    ``overrides`` are a shortcut for ``options.replace(...)``. ``output_dir`` may also be an
    fsspec URL (``s3://bucket/prefix``): parts then go to ``part_dir`` (default
    ``<state_dir>/parts``), and ``storage_options`` to fsspec; the ledger stays in
    ``state_dir`` (default: a folder per URL in the user's state folder).

    Transfers run in the ``executor`` given to :meth:`download` (a dask cluster:
    :mod:`.cluster`), else in ``transfer_processes`` child processes of this machine
    (:mod:`.workers`; ``None``: some for a batch of :data:`~.workers.PROCESSES_FROM` products
    or more, none for a smaller one), else in threads of this process.

    Raises:
        ConfigurationError: an option is out of bounds, or ``extract`` into an object store.
    """

    def __init__(
        self,
        archive: Archive,
        output_dir: str | Path | Output,
        options: StagingOptions | None = None,
        **overrides: Any,
    ) -> None:
        options = options or StagingOptions()
        self.options = options.replace(**overrides) if overrides else options
        self.archive = archive
        self.output = open_output(
            output_dir,
            part_dir=self.options.part_dir,
            state_dir=self.options.state_dir,
            storage_options=self.options.storage_options,
        )
        if self.output.folder is None and self.options.extract:
            raise ConfigurationError(
                f"cannot extract into {output_dir} (an object store): download the archives "
                "there, or extract into a folder"
            )
        #: The output folder; for a URL output, the :class:`~.storage.Output` itself.
        self.output_dir: Path | Output = self.output.folder or self.output
        self.ledger_path = Path(self.options.state_dir or self.output.state_dir) / LEDGER_NAME
        #: Set to stop transfers at the next chunk (Ctrl-C, credentials refused).
        self.cancel = threading.Event()
        #: What the last :meth:`download` did: ``turns`` of its loop and ``visits`` of
        #: products (indexed, dequeued, polled); both grow linearly with the batch.
        self.work: dict[str, int] = {}

    # -- public -------------------------------------------------------------------------------
    def download(
        self,
        products: Iterable[Product],
        *,
        executor: cf.Executor | None = None,
        on_done: Callable[[Product, str], None] | None = None,
        on_settled: Callable[[Product, DownloadStatus, str], None] | None = None,
        bytes_bar: Any = None,
    ) -> DownloadReport:
        """Run the batch to its end (all done, failed, or unavailable at the timeout).

        Args:
            products: the products; one entry per id.
            executor: where transfers run (a :class:`~.cluster.DaskTransfers`...); ``None``:
                this machine (see the class).
            on_done: called with each product and its path as soon as it is verified.
            on_settled: called with each product that ends without a file, its status and
                reason, as soon as it ends (from the run's thread: keep it short).
            bytes_bar: a callable given each transfer's new bytes (EODAG's progress bar).

        Returns:
            What happened to every product, and why.

        Raises:
            AuthenticationError: at once when the archive refuses the credentials. Ctrl-C
                stops transfers at the next chunk, keeping what the next run resumes.
        """
        started = time.monotonic()
        self.cancel.clear()
        self.output.prepare()
        tracks: dict[str, Track] = {}
        for product in products:
            tracks.setdefault(product.id, Track(product, DownloadStatus.OFFLINE))
        batch = Batch(
            archive=self.archive,
            output=self.output,
            options=self.options,
            ledger_path=self.ledger_path,
            cancel=self.cancel,
            executor=executor,
            on_done=on_done,
            on_settled=on_settled,
            bytes_bar=bytes_bar,
        )
        run = Run(batch, list(tracks.values()), started)
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
    return Downloader(archive, output_dir, StagingOptions(**options)).download(products)


__all__ = [
    "DownloadReport",
    "PollSchedule",
    "StagingOptions",
    "DownloadStatus",
    "Downloader",
    "ProductReport",
    "download",
    "wait_until_online",
]
