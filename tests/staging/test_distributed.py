"""Transfers on a dask cluster of worker *processes*, into a folder and into a real
S3-compatible server (moto's server mode), with the scheduler as the only ledger writer."""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import signal
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eodag_peps_plus.exceptions import ConfigurationError
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import DownloadStatus
from eodag_peps_plus.staging.ledger import LEDGER_NAME
from eodag_peps_plus.staging.storage import ObjectStore, PartState, open_output
from eodag_peps_plus.staging.transfer import TransferJob

from .helpers import all_products, assert_recovered, downloader, md5_of, peps_backend, wait_for

distributed = pytest.importorskip(
    "distributed", reason="dask[distributed] not installed (pip install '.[dask]')"
)
s3fs = pytest.importorskip("s3fs", reason="s3fs not installed (pip install '.[dask]')")

from eodag_peps_plus.staging.cluster import DaskTransfers  # noqa: E402


def dl(backend: Any, out: Any, **options: Any) -> Any:
    """A downloader that gives up waiting after a minute: no test can hang on it."""
    return downloader(backend, out, timeout=60, **options)


# -- fixtures ------------------------------------------------------------------------------------
def _watch_ledger() -> None:
    """On a worker: record every SQLite connection and every opening of a ledger file."""
    import sys

    if hasattr(sys, "peps_plus_ledger_opens"):
        return
    seen: list[str] = []

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "sqlite3.connect" or (event == "open" and LEDGER_NAME in str(args[0])):
            seen.append(f"{event} {args[0]}")

    sys.peps_plus_ledger_opens = seen  # type: ignore[attr-defined]
    sys.addaudithook(hook)


def _ledger_opens() -> list[str]:
    import sys

    return list(getattr(sys, "peps_plus_ledger_opens", ["no audit hook"]))


@pytest.fixture(scope="module")
def engine() -> Iterator[DaskTransfers]:
    """Two worker processes with two transfer threads each, shared by this module's tests."""
    with DaskTransfers(2, threads_per_worker=2) as engine:
        yield engine


@pytest.fixture
def watched(engine: DaskTransfers) -> DaskTransfers:
    engine.client.run(_watch_ledger)
    return engine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, Any]]:
    """A real S3 server on 127.0.0.1 (moto), and the fsspec options that reach it."""
    server_module = pytest.importorskip("moto.server", reason="moto[server] not installed")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_module.ThreadedMotoServer(
        ip_address="127.0.0.1", port=_free_port(), verbose=False
    )
    server.start()
    host, port = server.get_host_and_port()
    options = {
        "key": "testing-key",
        "secret": "testing-secret",
        "client_kwargs": {"endpoint_url": f"http://{host}:{port}", "region_name": "eu-west-3"},
    }
    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("bucket")
    try:
        yield options
    finally:
        server.stop()


def _bucket(options: dict[str, Any]) -> Any:
    fs = s3fs.S3FileSystem(**options, skip_instance_cache=True)
    return fs


def _object_md5(fs: Any, key: str) -> str:
    return hashlib.md5(fs.cat_file(key), usedforsecurity=False).hexdigest()


# -- a process cluster ------------------------------------------------------------------------------
def test_local_cluster_serves_http_on_loopback_only(engine: DaskTransfers) -> None:
    """Its scheduler's HTTP server (health, metrics) is not offered to the network, nor
    fought over at 8787 with another cluster on the machine."""
    link = engine.client.dashboard_link
    assert link.startswith("http://127.0.0.1:") and ":8787/" not in link, link


def test_process_cluster_into_a_folder(
    watched: DaskTransfers, staging_sandbox, small_catalogue, tmp_path: Path
) -> None:
    """Every product verified, nothing but archives left, and no worker touched the ledger."""
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    products = all_products(backend)
    out, state = tmp_path / "out", tmp_path / "state"
    report = dl(backend, out, max_transfers=4, state_dir=state).download(products, executor=watched)
    assert report.ok, report.format()
    assert all(md5_of(out / f"{p.id}.zip") == p.md5 for p in products)
    assert sorted(f.name for f in out.iterdir()) == sorted(f"{p.id}.zip" for p in products)
    opens = watched.client.run(_ledger_opens)
    assert len(opens) == 2 and all(seen == [] for seen in opens.values()), opens


def test_member_selection_on_the_cluster(
    watched: DaskTransfers, staging_sandbox, tmp_path: Path
) -> None:
    """Workers fetch members without opening the ledger; the scheduler records what they
    wrote from their results, so the next run takes those members from the ledger."""
    import io
    import zipfile

    from eodag_peps_plus.staging.ledger import Ledger, MemberBook

    sb = staging_sandbox(staging_catalogue(3, size_range=(100_000, 150_000), offline=0.0, seed=31))
    for entry in list(sb.catalogue.entries):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for band in ("B02", "B04", "B08"):
                archive.writestr(f"{entry.name}.SAFE/IMG/{band}.jp2", os.urandom(20_000))
        sb.replace_entry(entry.name, content=buffer.getvalue(), size=len(buffer.getvalue()))
    backend = peps_backend(sb)
    products = all_products(backend)
    out, state = tmp_path / "out", tmp_path / "state"
    options = {"max_transfers": 4, "state_dir": state, "members": "B0[48]"}
    report = dl(backend, out, **options).download(products, executor=watched)
    assert report.ok, report.format()
    ledger = Ledger(state / LEDGER_NAME)
    try:
        for product in products:
            assert set(MemberBook(ledger, product.id).done()) == {
                f"{product.id}.SAFE/IMG/{b}.jp2" for b in ("B04", "B08")
            }
    finally:
        ledger.close()
    again = dl(backend, out, **options).download(products, executor=watched)
    assert all("(2 recorded by the ledger)" in p.reason for p in again.products), again.format()
    opens = watched.client.run(_ledger_opens)
    assert all(seen == [] for seen in opens.values()), opens


def test_process_cluster_into_s3(
    watched: DaskTransfers, s3: dict[str, Any], staging_sandbox, small_catalogue, tmp_path: Path
) -> None:
    """Into a bucket: every object MD5-verified, no part object; a second run skips them all
    without a request to the archive."""
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    products = all_products(backend)
    url = "s3://bucket/cluster"

    def run() -> Any:
        return dl(
            backend,
            url,
            max_transfers=4,
            state_dir=tmp_path / "state",
            storage_options=s3,
        ).download(products, executor=watched)

    report = run()
    assert report.ok, report.format()
    fs = _bucket(s3)
    keys = sorted(fs.ls("bucket/cluster"))
    assert keys == sorted(f"bucket/cluster/{p.id}.zip" for p in products)
    assert all(_object_md5(fs, f"bucket/cluster/{p.id}.zip") == p.md5 for p in products)
    assert all(p.path == f"{url}/{p.id}.zip" for p in report.products)
    assert not list((tmp_path / "state" / "parts").iterdir())
    replies = sb.stats["archive_replies"]
    again = run()
    assert again.ok, again.format()
    assert all(p.present_before for p in again.products) and not any(
        p.present_before for p in report.products
    )
    assert all(p.reason.startswith("already in the store") for p in again.products)
    assert sb.stats["archive_replies"] == replies
    opens = watched.client.run(_ledger_opens)
    assert all(seen == [] for seen in opens.values()), opens


def test_worker_killed_mid_transfer(engine: DaskTransfers, staging_sandbox, tmp_path: Path) -> None:
    """``kill -9`` of a worker process while it streams: the batch still ends with every
    product verified, and never a broken final file."""
    catalogue = staging_catalogue(3, size_range=(1_200_000, 1_200_000), offline=0.0, seed=61)
    sb = staging_sandbox(catalogue, per_connection_bps=400_000)  # 3 s per product
    backend = peps_backend(sb)
    products = all_products(backend)
    client = engine.client
    reports: list[Any] = []
    run = threading.Thread(
        target=lambda: reports.append(
            dl(backend, tmp_path, max_transfers=4).download(products, executor=engine)
        )
    )
    run.start()
    try:

        def streaming() -> bool:
            return any(
                part.stat().st_size > 300_000 for part in tmp_path.glob("*.zip.part")
            ) and any(client.processing().values())

        wait_for(streaming, 30, "a transfer to stream")
        busy = next(address for address, keys in client.processing().items() if keys)
        pid = client.run(os.getpid, workers=[busy])[busy]
        os.kill(pid, signal.SIGKILL)
    finally:
        run.join(90)
    assert not run.is_alive()
    # The killed worker's transfers ran again elsewhere, from the bytes their parts had.
    assert_recovered(reports[0], products, tmp_path)
    wait_for(lambda: len(client.scheduler_info()["workers"]) == 2, 30, "the worker to restart")


def test_cancel_reaches_the_workers(engine: DaskTransfers, staging_sandbox, tmp_path: Path) -> None:
    """The batch's cancel (Ctrl-C) stops the transfers on the workers at once: they report
    "interrupted" and keep their part, with its validator beside it, for the next run."""
    catalogue = staging_catalogue(1, size_range=(3_000_000, 3_000_000), offline=0.0, seed=62)
    sb = staging_sandbox(catalogue, per_connection_bps=100_000)  # 30 s for the whole file
    backend = peps_backend(sb)
    products = all_products(backend)
    part = tmp_path / f"{products[0].id}.zip.part"
    d = dl(backend, tmp_path)

    def interrupt() -> None:
        wait_for(lambda: part.exists() and part.stat().st_size > 100_000, 30, "bytes")
        d.cancel.set()

    threading.Thread(target=interrupt, daemon=True).start()
    report = d.download(products, executor=engine)
    entry = report.products[0]
    assert entry.status is not DownloadStatus.DONE and "interrupted" in entry.reason
    assert entry.received > 0  # the worker's own report: it stopped and said so
    state = PartState.read(part)
    assert state is not None and state.validator
    sb.httpd.per_connection_rate = None
    report = dl(backend, tmp_path).download(products, executor=engine)
    assert report.ok and "resumed at byte" in report.products[0].reason, report.format()
    assert md5_of(tmp_path / f"{products[0].id}.zip") == products[0].md5


# -- a bucket, without a cluster --------------------------------------------------------------------
def test_resume_into_s3_after_an_interrupted_run(
    s3: dict[str, Any], staging_sandbox, tmp_path: Path
) -> None:
    """An interrupted run leaves no object in the bucket, only a part with its validator in
    the part folder; the next run resumes it and uploads the verified archive."""
    catalogue = staging_catalogue(1, size_range=(800_000, 800_000), offline=0.0, seed=63)
    sb = staging_sandbox(catalogue, per_connection_bps=400_000)
    backend = peps_backend(sb)
    products = all_products(backend)
    name = products[0].id
    parts = tmp_path / "scratch"
    part = parts / f"{name}.zip.part"
    options = {"state_dir": tmp_path / "state", "part_dir": parts, "storage_options": s3}
    d = dl(backend, "s3://bucket/resume", **options)

    def interrupt() -> None:
        wait_for(lambda: part.exists() and part.stat().st_size > 100_000, 30, "bytes")
        d.cancel.set()

    threading.Thread(target=interrupt, daemon=True).start()
    report = d.download(products)
    assert not report.ok
    fs = _bucket(s3)
    assert not fs.exists(f"bucket/resume/{name}.zip"), "a partial object must never appear"
    assert PartState.read(part) is not None
    sb.httpd.per_connection_rate = None
    report = dl(backend, "s3://bucket/resume", **options).download(products)
    assert report.ok and "resumed at byte" in report.products[0].reason, report.format()
    assert _object_md5(_bucket(s3), f"bucket/resume/{name}.zip") == products[0].md5
    assert not part.exists() and not PartState.path(part).exists()


def test_a_broken_object_in_the_bucket_is_replaced(
    s3: dict[str, Any], staging_sandbox, small_catalogue, tmp_path: Path
) -> None:
    """An object of the right size but wrong bytes (no ledger record) is not trusted."""
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    product = [p for p in all_products(backend) if p.availability.value == "online"][0]
    fs = _bucket(s3)
    fs.pipe_file(f"bucket/broken/{product.id}.zip", b"\0" * (product.size or 0))
    report = dl(backend, "s3://bucket/broken", state_dir=tmp_path, storage_options=s3).download(
        [product]
    )
    assert report.ok and "downloaded" in report.products[0].reason, report.format()
    assert _object_md5(_bucket(s3), f"bucket/broken/{product.id}.zip") == product.md5


# -- the pieces -------------------------------------------------------------------------------------
def test_jobs_pickle_with_their_credentials_bound(staging_sandbox, small_catalogue) -> None:
    """What travels to a worker: the credentials, still bound to the archive's origin, and
    nothing of them in the job's or the output's repr (dask logs task reprs)."""
    sb = staging_sandbox(small_catalogue)
    backend = peps_backend(sb)
    product = all_products(backend)[0]
    output = ObjectStore("s3://bucket/x", storage_options={"secret": "s3-secret"})
    job = TransferJob(product, backend, output, cancel=threading.Event())
    copy = pickle.loads(pickle.dumps(job))
    assert copy.cancel is None and copy.output.storage_options == {"secret": "s3-secret"}
    assert copy.archive._auth.origins == backend._auth.origins
    assert copy.archive.credentials.password == backend.credentials.password
    shown = repr(copy) + repr(copy.output)
    assert backend.credentials.password not in shown and "s3-secret" not in shown


def test_output_locations(tmp_path: Path) -> None:
    assert open_output(tmp_path).folder == tmp_path
    assert open_output(f"file://{tmp_path}").folder == tmp_path
    store = open_output("memory://bucket/p", state_dir=tmp_path)
    assert store.folder is None and store.part_dir == tmp_path / "parts"
    with pytest.raises(ConfigurationError, match="storage options"):
        open_output(tmp_path, storage_options={"key": "x"})


def test_extract_into_a_bucket_is_refused(staging_sandbox, small_catalogue, tmp_path) -> None:
    backend = peps_backend(staging_sandbox(small_catalogue))
    with pytest.raises(ConfigurationError, match="cannot extract into memory://"):
        dl(backend, "memory://bucket/x", state_dir=tmp_path, extract=True)


# -- the command line -------------------------------------------------------------------------------
def test_cli_local_process_cluster_into_s3(
    s3: dict[str, Any], staging_sandbox, small_catalogue, tmp_path: Path, monkeypatch
) -> None:
    """The README command: ``--dask-workers N -w s3://bucket/prefix``, the endpoint and the
    keys from the AWS variables (inherited by the worker processes)."""
    from click.testing import CliRunner

    from eodag_peps_plus.cli import cli
    from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER

    sb = staging_sandbox(small_catalogue)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", DEFAULT_USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", DEFAULT_PASSWORD)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3["client_kwargs"]["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    args = ["download", "-B", "peps", "--url", sb.url, "-c", "S2ST", "-t", "31TCJ", "-d", "2018-01-01",
            "-f", "2018-01-31", "-w", "s3://bucket/cli", "--state-dir", str(tmp_path),
            "--dask-workers", "1", "--max-transfers", "4", "--quiet", "--timeout", "1",
            "--poll-initial", "0.05", "--poll-max", "0.2"]  # fmt: skip
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"{len(small_catalogue.entries)} done" in result.output
    fs = _bucket(s3)
    for entry in small_catalogue.entries:
        assert _object_md5(fs, f"bucket/cli/{entry.name}.zip") == entry.md5


@pytest.mark.parametrize(
    "args, message",
    [
        (["-w", "s3://bucket/x", "-x"], "cannot extract into s3://bucket/x"),
        (["--dask-workers", "2", "--dask-scheduler", "tcp://h:1"], "not both"),
    ],
)
def test_cli_bad_cluster_or_output_options(args: list[str], message: str, tmp_path) -> None:
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-c", "from eodag_peps_plus.cli import main; main()", "download",
         "-t", "31TCJ", "--url", "http://127.0.0.1:9", "--state-dir", str(tmp_path), *args],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().startswith("Error:") and message in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_eodag_download_all_on_the_cluster_into_s3(
    engine: DaskTransfers, s3: dict[str, Any], staging_sandbox, tmp_path: Path, monkeypatch
) -> None:
    """The plugin config keys ``dask_scheduler``, ``output_dir`` (a URL), ``storage_options``
    and ``state_dir``: ``dag.download_all`` on the cluster, into the bucket."""
    import yaml

    from eodag_peps_plus.eodag_support import gateway
    from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER

    catalogue = staging_catalogue(3, size_range=(100_000, 150_000), offline=0.34, seed=64)
    sb = staging_sandbox(catalogue)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", DEFAULT_USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", DEFAULT_PASSWORD)
    dag = gateway(peps=sb.url)
    download = {"poll_initial": 0.05, "poll_max": 0.2, "quiet": True, "extract": False,
                "dask_scheduler": engine.client.scheduler.address, "state_dir": str(tmp_path),
                "output_dir": "s3://bucket/eodag", "storage_options": s3}  # fmt: skip
    dag.update_providers_config(yaml.safe_dump({"peps": {"download": download}}))
    results = dag.search(
        collection="S2_MSI_L1C", provider="peps", start="2018-01-01", end="2018-02-01"
    )
    paths = dag.download_all(results, timeout=0.5)
    assert sorted(paths) == sorted(f"s3://bucket/eodag/{e.name}.zip" for e in catalogue.entries)
    fs = _bucket(s3)
    for entry in catalogue.entries:
        assert _object_md5(fs, f"bucket/eodag/{entry.name}.zip") == entry.md5
    assert all(p.location.startswith("s3://bucket/eodag/") for p in results)


def test_a_part_taken_over_by_a_later_run_is_left_alone(staging_sandbox, tmp_path: Path) -> None:
    """A worker left running by a killed scheduler: the next run's attempt on the same part
    takes it over; the first one stops within a second, never commits, and the part ends
    verified."""
    from concurrent.futures import ThreadPoolExecutor

    from eodag_peps_plus.staging.transfer import Outcome, run_transfer

    catalogue = staging_catalogue(1, size_range=(1_000_000, 1_000_000), offline=0.0, seed=65)
    sb = staging_sandbox(catalogue, per_connection_bps=250_000)  # 4 s for the whole file
    backend = peps_backend(sb)
    product = all_products(backend)[0]
    part = tmp_path / f"{product.id}.zip.part"
    with ThreadPoolExecutor(2) as pool:
        orphan = pool.submit(run_transfer, TransferJob(product, backend, tmp_path))
        wait_for(lambda: part.exists() and part.stat().st_size > 200_000, 30, "bytes")
        later = pool.submit(run_transfer, TransferJob(product, backend, tmp_path))
        first, second = orphan.result(timeout=60), later.result(timeout=60)
    assert first.outcome is Outcome.RETRY and "took this part over" in first.reason, first
    assert second.outcome is Outcome.DONE and second.resumed_from > 0, second
    assert md5_of(tmp_path / f"{product.id}.zip") == product.md5
