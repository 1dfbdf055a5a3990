"""EODAG download plugin ``StagingDownload``: EODAG's ``download``/``download_all``/
``stream_download`` on top of the tape-aware staging downloader.

EODAG's own loop retries every product every ``wait`` minutes; this plugin hands the whole
list to :class:`~eodag_peps_plus.staging.Downloader` instead (restores up front, batched polls,
verified resumable transfers, a ledger). ``wait`` is therefore not used: polling is adaptive
(plugin config keys ``poll_initial``, ``poll_factor``, ``poll_max`` in seconds); ``timeout``
(minutes) bounds the wait for restores.

Plugin config keys (provider YAML ``download:`` block; the staging keys may also be passed as
keyword arguments of ``download``/``download_all``/``stream_download``):

* ``backend`` (str, default: the provider's backend, else the default one, GEODES):
  ``peps`` or ``geodes``.
* ``api_endpoint`` (str, default: the provider's search endpoint, else the public server):
  catalogue base URL; credentials go there and to ``trusted_origins`` only, never to a host a
  product link names.
* ``trusted_origins`` (list of str, default none): mirrors trusted with the credentials.
* ``ssl_verify`` (bool or str, default ``True``): TLS verification (a path: a CA bundle).
* ``output_dir`` (str, default: the system's temporary folder): a folder, or an fsspec URL
  such as ``s3://bucket/prefix`` (then ``extract`` must be ``False``).
* ``dask_scheduler`` (str, default none): run the transfers on this dask.distributed
  cluster (``tcp://host:8786``); its workers must reach the output.
* ``dask_workers`` (int, default none): run the transfers on this many local dask worker
  processes (``max_transfers`` threads in all).
* ``fallback_providers`` (list of str, or one comma-separated str; default none): providers
  from which each product this provider refuses (410 Gone) or cannot serve before the timeout
  is fetched, the copy online soonest first; each as configured (endpoint, credentials).
  Providers of this package (``peps``, ``geodes_plus``) are used directly; any other name
  (e.g. ``cop_dataspace``) is an EODAG provider looked up and authenticated by EODAG's own
  plugins (:mod:`~eodag_peps_plus.eodag_source`). The report names each product's source.

The staging keys are the fields of :class:`~eodag_peps_plus.staging.options.StagingOptions`
(durations in seconds), read and checked once per call; ``extract`` defaults to ``True``
like EODAG's (the list below is generated from the fields):
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests
from eodag.api.product import EOProduct
from eodag.plugins.download.base import Download
from eodag.utils import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_DOWNLOAD_WAIT,
    StreamResponse,
    path_to_uri,
)
from eodag.utils.exceptions import AuthenticationError as EodagAuthenticationError
from eodag.utils.exceptions import DownloadError as EodagDownloadError
from eodag.utils.exceptions import MisconfiguredError, NotAvailableError

from ..backends import default_backend, open_backend, spec_for_provider
from ..backends.base import Backend
from ..backends.credentials import trusted_origins
from ..exceptions import (
    AuthenticationError,
    ConfigurationError,
    DownloadError,
    ProductNotAvailableError,
)
from ..fallback import AnySource
from ..http_io import Credentials, OriginBoundAuth
from ..logs import get_logger
from ..product import Availability, Product
from ..staging import Downloader, DownloadReport, DownloadStatus
from ..staging.cluster import download_on
from ..staging.options import StagingOptions, plugin_keys
from ..staging.storage import is_url
from ..staging.stream import open_stream, wait_until_online
from .convert import from_eoproduct, tls_verify

__doc__ = f"{__doc__}\n{plugin_keys()}\n"

logger = get_logger(__name__)


def credentials_from_auth(auth: Any) -> tuple[Credentials, list[str]] | None:
    """The secrets (and trusted mirrors) in what EODAG hands over: our auth plugin
    (``PepsPlusAuth``), the origin-bound auth it built, or a plain ``requests`` auth (HTTP
    Basic for PEPS, ``X-API-Key`` for GEODES). Where they may be sent is decided by the
    backend, never by the product links."""
    if auth is None:
        return None
    if isinstance(auth, OriginBoundAuth):
        return auth.credentials, sorted(auth.origins)
    if hasattr(auth, "credentials") and callable(auth.credentials):
        creds = auth.credentials()
        trusted = auth.trusted_origins() if hasattr(auth, "trusted_origins") else []
        return (creds, list(trusted)) if isinstance(creds, Credentials) else None
    source = f"the {type(auth).__name__} EODAG handed to the download"
    if isinstance(auth, requests.auth.HTTPBasicAuth):
        username = auth.username.decode() if isinstance(auth.username, bytes) else auth.username
        password = auth.password.decode() if isinstance(auth.password, bytes) else auth.password
        return Credentials(username=str(username), password=str(password), source=source), []
    key = getattr(auth, "_key", None) or getattr(auth, "key", None) or getattr(auth, "apikey", None)
    if isinstance(key, str):
        return Credentials(api_key=key, source=source), []
    if hasattr(auth, "authenticate"):
        return credentials_from_auth(auth.authenticate())
    raise MisconfiguredError(
        f"StagingDownload cannot use an auth of type {type(auth).__name__}: configure "
        "'auth: {type: PepsPlusAuth}' for this provider"
    )


class StagingDownload(Download):
    """Tape-aware downloads for PEPS (and GEODES) providers."""

    # -- helpers ------------------------------------------------------------------------------
    def _option(self, kwargs: dict[str, Any], key: str) -> Any:
        """A key that is not a staging option (``dask_scheduler``...): call, then config."""
        value = kwargs.get(key)
        return getattr(self.config, key, None) if value is None else value

    def _fallback_sources(self, value: Any) -> list[AnySource]:
        """``fallback_providers`` -> backends as configured; other names are EODAG providers
        (``eodag:NAME`` or ``NAME``), served by EODAG's own plugins.

        Raises:
            MisconfiguredError: not a list of names, or a provider EODAG does not know.
        """
        if not value:
            return []
        names = value.split(",") if isinstance(value, str) else value
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            raise MisconfiguredError(
                f"{self.provider} download: fallback_providers must be a list of provider names"
            )
        sources: list[AnySource] = []
        for name in (n.strip() for n in names if n.strip()):
            spec = spec_for_provider(name)
            if spec is not None:
                sources.append(open_backend(spec.name))
                continue
            from ..eodag_source import open_eodag_source  # served by EODAG's own plugins

            try:
                sources.append(open_eodag_source(name))
            except ConfigurationError as exc:
                raise MisconfiguredError(
                    f"{self.provider} download: fallback_providers: {exc}"
                ) from None
        return sources

    def _options(self, kwargs: dict[str, Any], timeout: float) -> StagingOptions:
        """The staging options of this call, normalised once: the plugin config, then the
        call's keyword arguments, then EODAG's ``timeout`` (minutes).

        Raises:
            MisconfiguredError: a key has a value of the wrong type or out of bounds.
        """
        try:
            configured = StagingOptions.from_mapping(vars(self.config), eodag=True)
            options = StagingOptions.from_mapping(kwargs, base=configured, eodag=True)
            # EODAG's asset filter (``product.download(asset="B04|B08")``): a regular
            # expression over the paths inside the archive, fetched member by member.
            asset = kwargs.get("asset")
            if asset is not None and not isinstance(asset, str):
                raise ValueError(f"asset must be a regular expression, not {asset!r}")
            members = {"members": asset} if asset else {}
            return options.replace(timeout=max(float(timeout), 0.0) * 60.0, **members)
        except ValueError as exc:
            raise MisconfiguredError(f"{self.provider} download: {exc}") from None

    def _output_dir(self, kwargs: dict[str, Any]) -> Path | str:
        """``eodag download`` passes ``output_dir=None`` without ``--output-dir``: fall back
        to the plugin config, then EODAG's temporary folder (a URL is kept as it is)."""
        value = kwargs.get("output_dir") or getattr(self.config, "output_dir", None)
        if value and is_url(str(value)):
            return str(value)
        return Path(value or tempfile.gettempdir()).expanduser().resolve()

    def _auth(self, auth: Any, products: Sequence[EOProduct]) -> tuple[Credentials, list[str]]:
        """What EODAG handed over (``auth``, else a product's ``downloader_auth``); the rest
        of the precedence (environment, eodag.yml) is :func:`open_backend`'s."""
        found = credentials_from_auth(auth)
        if found is None:
            for product in products:
                plugin = getattr(product, "downloader_auth", None)
                if plugin is not None:
                    found = credentials_from_auth(plugin)
                    break
        return found or (Credentials(), [])

    def _backend(self, products: Sequence[EOProduct], auth: Any) -> Backend:
        """The provider's server: ``api_endpoint`` of this plugin, else the provider's
        configured search endpoint, else the public server; never the host a product link
        names (links come from results files anyone may edit)."""
        spec = spec_for_provider(self.provider)
        name = str(getattr(self.config, "backend", None) or (spec or default_backend()).name)
        creds, trusted = self._auth(auth, products)
        configured = getattr(self.config, "trusted_origins", None)
        return open_backend(
            name,
            getattr(self.config, "api_endpoint", None),
            credentials=creds,
            trusted=[*trusted, *trusted_origins(self.provider, configured)],
            verify=tls_verify(self.config),
        )

    def _record(self, eo_product: EOProduct, output_dir: Path | None) -> None:
        """EODAG's ``.downloaded/`` record, so EODAG tooling also sees the product as done
        (in an output folder; none in a bucket)."""
        if output_dir is None:
            return
        records = output_dir / ".downloaded"
        try:
            records.mkdir(parents=True, exist_ok=True)
            (records / self.generate_record_hash(eo_product)).write_text(
                str(eo_product.remote_location or "")
            )
        except OSError as exc:
            logger.debug("could not write the EODAG download record: %s", exc)

    def _run(
        self,
        eo_products: Sequence[EOProduct],
        auth: Any,
        kwargs: dict[str, Any],
        timeout: float,
        executor: Executor | None,
        bytes_bar: Any = None,
        downloaded_callback: Any = None,
        count_bar: Any = None,
        quiet: bool | None = None,
    ) -> DownloadReport:
        options = self._options(kwargs, timeout)
        if quiet is not None:
            options = options.replace(quiet=quiet)
        backend = self._backend(eo_products, auth)
        records, products = _products(eo_products, backend.name)
        downloader = Downloader(backend, self._output_dir(kwargs), options)
        folder = downloader.output.folder
        # EODAG's record files are written by a thread of their own: the scheduler's thread
        # (which calls on_done) only hands them over.
        writer = ThreadPoolExecutor(1, thread_name_prefix="eodag-records")

        def location(path: str) -> str:
            return path_to_uri(path) if folder is not None else path

        def on_done(product: Product, path: str) -> None:
            eo_product = records[product.id]
            eo_product.location = location(path)
            writer.submit(self._record, eo_product, folder)
            if count_bar is not None:
                count_bar(1)
            if downloaded_callback is not None:
                downloaded_callback(eo_product)

        try:
            report = self._start(
                backend, downloader, products, kwargs, options, executor, on_done, bytes_bar
            )
        except AuthenticationError as exc:
            raise EodagAuthenticationError(str(exc)) from exc
        finally:
            writer.shutdown(wait=True)
        for entry in report.products:
            if entry.status is DownloadStatus.DONE and entry.path:
                records[entry.id].location = location(entry.path)
                if entry.present_before:
                    self._record(records[entry.id], downloader.output.folder)
        return report

    def _start(
        self,
        backend: Backend,
        downloader: Downloader,
        products: list[Product],
        kwargs: dict[str, Any],
        options: StagingOptions,
        executor: Executor | None,
        on_done: Any,
        bytes_bar: Any,
    ) -> DownloadReport:
        """``_run``'s download: with fallback sources, on a dask cluster, or here."""
        workers = self._option(kwargs, "dask_workers")
        cluster = self._option(kwargs, "dask_scheduler") or (int(workers) if workers else None)
        sources = self._fallback_sources(self._option(kwargs, "fallback_providers"))
        if sources and cluster:
            raise MisconfiguredError(
                f"{self.provider} download: fallback_providers runs on this machine, not with "
                "dask_scheduler or dask_workers"
            )
        if sources:
            from ..fallback import download_with_fallback

            return download_with_fallback(
                backend,
                products,
                self._output_dir(kwargs),
                options,
                sources=sources,
                executor=executor,
                on_done=on_done,
                bytes_bar=bytes_bar,
            )
        return download_on(
            downloader, products, cluster, executor=executor, on_done=on_done, bytes_bar=bytes_bar
        )

    # -- EODAG API ----------------------------------------------------------------------------
    def download(
        self,
        product: EOProduct,
        auth: Any = None,
        progress_callback: Any = None,
        executor: Any = None,
        wait: float = DEFAULT_DOWNLOAD_WAIT,
        timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        **kwargs: Any,
    ) -> str | None:
        """One product: restored if needed (up to ``timeout`` minutes), verified, in place."""
        report = self._run(
            [product], auth, kwargs, timeout, executor, bytes_bar=progress_callback, quiet=True
        )
        entry = report.products[0]
        if entry.status is DownloadStatus.DONE and entry.path:
            return entry.path
        if entry.status in (DownloadStatus.UNAVAILABLE, DownloadStatus.REFUSED):
            raise NotAvailableError(f"{entry.id}: {entry.reason}")
        raise EodagDownloadError(f"{entry.id}: {entry.reason}")

    def download_all(
        self,
        products: Any,
        auth: Any = None,
        downloaded_callback: Any = None,
        progress_callback: Any = None,
        executor: Any = None,
        wait: float = DEFAULT_DOWNLOAD_WAIT,
        timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        **kwargs: Any,
    ) -> list[str]:
        """The whole list at once; returns the paths of the products now on disk and logs
        the per-product report (``WARNING`` for those that are not)."""
        eo_products = list(products)
        if not eo_products:
            return []
        report = self._run(
            eo_products,
            auth,
            kwargs,
            timeout,
            executor,
            downloaded_callback=downloaded_callback,
            count_bar=progress_callback,
        )
        level = logging.INFO if report.ok else logging.WARNING
        if logger.isEnabledFor(level):  # a table of a large batch is not built for nothing
            logger.log(level, "download report:\n%s", report.format())
        if not report.ok:
            tell_eodag_cli(report)
        return report.paths

    def stream_download(
        self,
        product: EOProduct,
        auth: Any = None,
        byte_range: tuple[int | None, int | None] = (None, None),
        compress: str = "auto",
        wait: float = DEFAULT_DOWNLOAD_WAIT,
        timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        **kwargs: Any,
    ) -> StreamResponse:
        """Stream the archive (waiting for its restore first, up to ``timeout`` minutes).

        The stream checks length and MD5 as it goes and raises at the end if they do not match,
        so a consumer never silently keeps a wrong copy. ``byte_range`` is ``(start, end)``
        inclusive; partial streams are length-checked only.
        """
        options = self._options(kwargs, timeout)
        backend = self._backend([product], auth)
        ours = from_eoproduct(product, backend.name)
        try:
            availability = wait_until_online(
                backend, ours, timeout=options.timeout or 0.0, poll=options.poll
            )
        except AuthenticationError as exc:
            raise EodagAuthenticationError(str(exc)) from exc
        if availability is not Availability.ONLINE:
            raise NotAvailableError(
                f"{ours.id} is not online ({availability.value}) after {timeout:g} min; "
                "its restore was requested"
            )
        try:
            stream = open_stream(backend, ours, byte_range, stall_timeout=options.stall_timeout)
        except AuthenticationError as exc:
            raise EodagAuthenticationError(str(exc)) from exc
        except ProductNotAvailableError as exc:
            raise NotAvailableError(str(exc)) from exc
        except DownloadError as exc:
            raise EodagDownloadError(str(exc)) from exc
        headers = {"Content-Type": "application/zip"}
        if stream.length is not None:
            headers["Content-Length"] = str(stream.length)
        return StreamResponse(
            content=_eodag_errors(stream.chunks),
            filename=stream.filename,
            size=stream.length,
            headers=headers,
            media_type="application/zip",
        )


def _eodag_errors(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Our stream's errors as EODAG's, for EODAG callers."""
    try:
        yield from chunks
    except DownloadError as exc:
        raise EodagDownloadError(str(exc)) from exc


__all__ = ["StagingDownload", "credentials_from_auth"]


def tell_eodag_cli(report: DownloadReport) -> None:
    """Under ``eodag download``, the products that are not there, whatever the verbosity.

    EODAG's command prints only the paths it got back and exits 0 whatever happened, and its
    logs (our report among them) are off without ``-v``. So there, and only there (a Python
    caller has the paths and the logs), each missing product gets one line on stderr, and the
    command exits 2 (as ``peps-plus download``) once it has printed its own lines.
    """
    import click

    ctx = click.get_current_context(silent=True)
    callback = getattr(getattr(ctx, "command", None), "callback", None)
    if ctx is None or getattr(callback, "__module__", "") != "eodag.cli":
        return
    missing = [p for p in report.products if p.status is not DownloadStatus.DONE]
    for entry in missing:
        click.echo(f"{entry.id}: {entry.status.value}: {entry.reason}", err=True)
    click.echo(f"{len(missing)} of {len(report.products)} product(s) not downloaded", err=True)
    ctx.call_on_close(_exit_incomplete)


def _exit_incomplete() -> None:
    import click

    raise click.exceptions.Exit(2)


def _products(
    eo_products: Sequence[EOProduct], backend_name: str
) -> tuple[dict[str, EOProduct], list[Product]]:
    """The products to download, and the first EODAG product of each id (to record it)."""
    records: dict[str, EOProduct] = {}
    products: list[Product] = []
    for eo_product in eo_products:
        product = from_eoproduct(eo_product, backend_name)
        records.setdefault(product.id, eo_product)
        products.append(product)
    return records, products
