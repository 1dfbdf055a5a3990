"""Transfers on a ``dask.distributed`` cluster: the scheduler and its ledger stay in this
process (the only writer), worker processes only transfer, verify and report back.

:class:`DaskTransfers` is the ``executor`` of a :class:`~.scheduler.Downloader`. It works
unchanged on any deployment (a local process cluster, dask-jobqueue, Kubernetes): a job is a
picklable :class:`~.transfer.TransferJob` (the archive travels with its credentials, still
bound to their origins by :class:`~eodag_peps_plus.http_io.OriginBoundAuth`; use a ``tls://``
scheduler across untrusted networks), and its result a :class:`~.transfer.TransferResult`.

* Output: a folder every worker sees (NFS...) or an fsspec URL (:mod:`.storage`); part files
  sit in a folder shared by the workers (``part_dir``) so another worker resumes them.
* Cancellation (Ctrl-C, refused credentials, the end of the batch): the batch's
  ``threading.Event`` is mirrored into a dask ``Event`` that every running transfer checks at
  most once a second (:class:`ClusterCancel`); a transfer blocked on a silent server ends at
  its stall timeout.
* A worker that dies mid-transfer: dask runs the task again on another worker, or its future
  fails and the scheduler retries the product; either way the part is resumed from its
  sidecar's validator, or restarted.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from ..extras import install_hint
from ..logs import get_logger
from .flags import FlagMirror
from .transfer import TransferJob

if TYPE_CHECKING:
    from ..product import Product
    from .report import DownloadReport
    from .scheduler import Downloader

logger = get_logger(__name__)

#: Seconds between two looks of a running transfer at the cluster's cancel flag.
CANCEL_CHECK_EVERY = 1.0

__all__ = ["ClusterCancel", "DaskTransfers", "download_on"]


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigurationError(
            f"a dask cluster needs dask.distributed: {install_hint('dask')}"
        ) from None
    return distributed


class ClusterCancel:
    """A batch's cancel flag as workers see it: the dask ``Event`` named ``name``, looked up at
    most every :data:`CANCEL_CHECK_EVERY` seconds per worker process (shared by all the
    transfers it runs; once set, it stays set)."""

    #: name -> [event, time of the next look, set]: one per batch and worker process.
    _looks: dict[str, list[Any]] = {}
    _lock = threading.Lock()

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"ClusterCancel({self.name!r})"

    def is_set(self) -> bool:
        now = time.monotonic()
        with self._lock:
            look = self._looks.setdefault(self.name, [None, 0.0, False])
            if look[2] or now < look[1]:
                return bool(look[2])
            look[1] = now + CANCEL_CHECK_EVERY
        try:
            if look[0] is None:
                look[0] = _distributed().Event(self.name)
            look[2] = bool(look[0].is_set())
        except Exception as exc:  # not on a worker, or the scheduler is gone: keep going
            logger.debug("cancel flag %s unreadable: %s", self.name, exc)
        return bool(look[2])


class DaskTransfers(cf.Executor):
    """A ``concurrent.futures`` executor running transfers on a dask cluster.

    Use it as a context manager (it closes the client and the cluster it started)::

        with DaskTransfers("tcp://scheduler:8786") as engine:
            Downloader(archive, "s3://bucket/prefix", max_transfers=32).download(
                products, executor=engine
            )

    Args:
        cluster: a scheduler address (``tcp://host:8786``, ``tls://...``), a number of local
            worker processes to start, or a ``distributed.Client``.
        threads_per_worker: transfer threads per worker process, for a local cluster.

    Raises:
        ConfigurationError: dask.distributed is not installed, or the scheduler cannot be
            reached.
    """

    def __init__(self, cluster: str | int | Any, *, threads_per_worker: int = 4) -> None:
        distributed = _distributed()
        self._cluster: Any = None
        self._own_client = not isinstance(cluster, distributed.Client)
        try:
            if isinstance(cluster, int):
                self._cluster = distributed.LocalCluster(
                    n_workers=max(cluster, 1),
                    threads_per_worker=max(threads_per_worker, 1),
                    processes=True,
                    dashboard_address=None,
                    # The scheduler serves HTTP (health, metrics) even without a dashboard,
                    # by default on every interface at 8787: here on loopback, any free port.
                    scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                )
                self.client = distributed.Client(self._cluster)
            elif isinstance(cluster, str):
                self.client = distributed.Client(cluster, timeout="20s")
            else:
                self.client = cluster
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise ConfigurationError(f"cannot reach the dask scheduler {cluster}: {exc}") from None
        self._executor = self.client.get_executor(pure=False)
        self._lock = threading.Lock()
        self._pending: set[cf.Future[Any]] = set()
        # dask Event name -> the batch's flag
        self._mirror: FlagMirror[str] = FlagMirror(
            self._set_cluster_flag, self._busy, name="dask-cancel"
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"DaskTransfers({self.client.scheduler.address!r})"

    def __enter__(self) -> DaskTransfers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=False)

    # -- Executor -------------------------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future[Any]:
        """Run ``fn(*args, **kwargs)`` on a worker; a :class:`TransferJob` argument gets the
        cluster's cancel flag in place of its ``threading.Event``."""
        if self._closed:
            raise RuntimeError("cannot submit transfers after shutdown")
        flags: list[tuple[str, threading.Event]] = []
        args = tuple(self._with_flag(a, flags) if isinstance(a, TransferJob) else a for a in args)
        product = next((a.product.id for a in args if isinstance(a, TransferJob)), "task")
        key = f"transfer-{product[:80]}-{uuid.uuid4().hex[:8]}"
        # Distributed's own wrapper waits for results on the client's event loop (a blocking
        # ``result()`` per future in a callback would fetch them one at a time).
        wrapped: cf.Future[Any] = self._executor.submit(fn, *args, key=key, **kwargs)

        def forget(done: cf.Future[Any]) -> None:  # the watcher sets the flags, not here:
            with self._lock:  # this may run on the client's event loop
                self._pending.discard(done)

        wrapped.add_done_callback(forget)
        with self._lock:
            self._pending.add(wrapped)
        for name, flag in flags:  # after the future is pending: the mirror sees us busy
            self._mirror.add(name, flag)
        return wrapped

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the watcher; close the client (and the local cluster) this object opened."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            pending = list(self._pending)
        self._mirror.close(fire_all=True)  # transfers still running on workers stop
        if cancel_futures:
            for future in pending:
                future.cancel()
        if wait:
            cf.wait(pending, timeout=60)
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    # -- cancellation ----------------------------------------------------------------------------
    def _with_flag(self, job: TransferJob, flags: list[tuple[str, threading.Event]]) -> TransferJob:
        flag = job.cancel
        if not isinstance(flag, threading.Event):
            return job
        name = f"peps-plus-cancel-{job.owner or id(flag)}"
        flags.append((name, flag))
        return dataclasses.replace(job, cancel=ClusterCancel(name), progress=None)

    def _busy(self) -> bool:
        with self._lock:
            return bool(self._pending)

    def _set_cluster_flag(self, name: str) -> None:
        try:
            _distributed().Event(name, client=self.client).set()
        except Exception as exc:  # the scheduler is gone: its workers are too
            logger.debug("could not set %s: %s", name, exc)


def download_on(
    downloader: Downloader,
    products: Iterable[Product],
    cluster: str | int | None,
    *,
    executor: cf.Executor | None = None,
    on_done: Callable[[Product, str], None] | None = None,
    bytes_bar: Any = None,
) -> DownloadReport:
    """``downloader.download(products)`` with its transfers on ``cluster``: a scheduler address,
    or a number of local worker processes sharing ``max_transfers`` threads (``None``: on
    ``executor``, else this machine). The client (and a local cluster) is closed at the end."""
    if not cluster:
        return downloader.download(
            products, executor=executor, on_done=on_done, bytes_bar=bytes_bar
        )
    workers = cluster if isinstance(cluster, int) else 1
    per_worker = -(-downloader.options.max_transfers // max(workers, 1))
    with DaskTransfers(cluster, threads_per_worker=per_worker) as engine:
        return downloader.download(products, executor=engine, on_done=on_done, bytes_bar=bytes_bar)
