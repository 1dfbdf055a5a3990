"""Fallback sources over real HTTP: GEODES (evidence profile: Tier3 answers 410 Gone) with
PEPS as the fallback, which restores from tape. Every product arrives, verified, from the
source that could serve it, and the report says which; a run killed with SIGKILL in the
middle, then run again, fetches nothing twice and loses nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.backends.peps import PepsBackend
from eodag_peps_plus.fallback import download_with_fallback
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Sandbox,
    SandboxConfig,
)
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import DownloadStatus, StagingOptions

from .conftest import january_tile

CATALOGUE = staging_catalogue(8, size_range=(40_000, 60_000), offline=0.5, seed=19)
ON_TAPE = {e.name for e in CATALOGUE if e.storage == "tape"}
QUERY = Query.create(collection="S2ST", tile="31TCJ", start="2018-01-01", end="2018-01-31")


def _pair(latency: tuple[float, float] = (100.0, 300.0)) -> tuple[Sandbox, Sandbox]:
    geodes = Sandbox(
        CATALOGUE, SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0), services=("geodes",)
    )
    peps = Sandbox(
        CATALOGUE, SandboxConfig(time_scale=0.001, restore_latency=latency), services=("peps",)
    )
    return geodes.start(), peps.start()


@pytest.fixture
def pair() -> Iterator[tuple[Sandbox, Sandbox]]:
    geodes, peps = _pair()
    yield geodes, peps
    geodes.stop()
    peps.stop()


def _verified(out: Path) -> None:
    for entry in CATALOGUE:
        data = (out / f"{entry.name}.zip").read_bytes()
        assert hashlib.md5(data).hexdigest() == entry.md5, entry.name


def test_python_sources_fetch_refused_products_from_peps(
    pair: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    g, p = pair
    geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
    peps = PepsBackend(p.url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD))
    products = list(geodes.search(QUERY))
    options = StagingOptions(timeout=60.0, quiet=True)
    report = download_with_fallback(geodes, products, tmp_path, options, sources=[peps])
    assert report.ok, report.format()
    _verified(tmp_path)
    for entry in report.products:
        if entry.id in ON_TAPE:
            assert entry.reason.startswith("from PEPS (GEODES: this archive will not serve it")
        else:
            assert not entry.reason.startswith("from ")
    # PEPS was asked only for what GEODES refused, and restored it from tape.
    assert p.stats["archive_replies"] == len(ON_TAPE)
    assert all(p.restores_asked(name) >= 1 for name in ON_TAPE)


def _cli(g: Sandbox, p: Sandbox, out: Path) -> list[str]:
    return [sys.executable, "-m", "eodag_peps_plus", "download", "-B", "geodes", "--url", g.url,
            "--fallback", f"peps={p.url}", "-c", "S2ST", "-t", "31TCJ", "-d", "2018-01-01",
            "-f", "2018-01-31", "-w", str(out), "--quiet", "--timeout", "10"]  # fmt: skip


ENV = {
    **os.environ,
    "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY": DEFAULT_API_KEY,
    "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME": DEFAULT_USER,
    "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD": DEFAULT_PASSWORD,
}


def test_cli_fallback_then_rerun_fetches_nothing_twice(
    pair: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    g, p = pair
    out = tmp_path / "out"
    run = subprocess.run(_cli(g, p, out), capture_output=True, text=True, env=ENV, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(CATALOGUE)} done" in run.stdout
    for line in run.stdout.splitlines():
        if line.split(" ")[0] in ON_TAPE:
            assert "from PEPS (GEODES: this archive will not serve it (HTTP 410 Gone" in line
    _verified(out)
    served = p.stats["archive_replies"]
    again = subprocess.run(_cli(g, p, out), capture_output=True, text=True, env=ENV, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert p.stats["archive_replies"] == served, "nothing fetched twice"


def test_kill_mid_fallback_then_rerun(tmp_path: Path) -> None:
    """SIGKILL while PEPS restores the refused products; the rerun completes the batch and
    fetches no product twice."""
    g, p = _pair(latency=(1500.0, 2500.0))  # 1.5-2.5 s restores: time to kill in between
    try:
        out = tmp_path / "out"
        child = subprocess.Popen(
            _cli(g, p, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(p.restores_asked(n) for n in ON_TAPE):
            time.sleep(0.05)
        assert any(p.restores_asked(n) for n in ON_TAPE), "the fallback never started"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        before = p.stats["archive_replies"]
        assert before < len(ON_TAPE)
        run = subprocess.run(_cli(g, p, out), capture_output=True, text=True, env=ENV, timeout=300)
        assert run.returncode == 0, run.stdout + run.stderr
        _verified(out)
        assert p.stats["archive_replies"] == len(ON_TAPE), "each refused product fetched once"
        assert not list(out.glob("*.part"))
    finally:
        g.stop()
        p.stop()


def test_without_fallback_the_refused_stay_refused(
    pair: tuple[Sandbox, Sandbox], tmp_path: Path
) -> None:
    g, p = pair
    geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
    products = list(geodes.search(QUERY))
    report = download_with_fallback(
        geodes, products, tmp_path, StagingOptions(timeout=60.0, quiet=True)
    )
    assert {e.id for e in report.with_status(DownloadStatus.REFUSED)} == ON_TAPE
    assert p.stats["requests"] == 0


def test_a_refused_product_is_fetched_while_the_first_batch_goes_on(tmp_path: Path) -> None:
    """GEODES refuses its Tier3 products at once and its online ones crawl (a slow link):
    each refused product is handed to PEPS (online there) as soon as it is refused, so they
    are all on disk before GEODES's last transfer ends, not after."""
    online = {e.name: e for e in CATALOGUE}
    peps_side = staging_catalogue(8, size_range=(40_000, 60_000), offline=0.0, seed=19)
    assert {e.name for e in peps_side} == set(online)
    g = Sandbox(
        CATALOGUE,
        SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0, per_connection_bps=25_000),
        services=("geodes",),
    ).start()
    p = Sandbox(peps_side, SandboxConfig(time_scale=0.001), services=("peps",)).start()
    try:
        geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
        peps = PepsBackend(p.url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD))
        done_at: dict[str, float] = {}
        report = download_with_fallback(
            geodes,
            list(geodes.search(QUERY)),
            tmp_path,
            StagingOptions(timeout=60.0, quiet=True, poll_initial=0.05),
            sources=[peps],
            on_done=lambda product, _path: done_at.setdefault(product.id, time.monotonic()),
        )
    finally:
        g.stop()
        p.stop()
    assert report.ok, report.format()
    _verified(tmp_path)
    last_from_geodes = max(t for name, t in done_at.items() if name not in ON_TAPE)
    assert all(done_at[name] < last_from_geodes for name in ON_TAPE), done_at


def test_eodag_plugin_fallback_providers(
    pair: tuple[Sandbox, Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plugin key ``fallback_providers``: ``dag.download_all`` on ``geodes_plus`` fetches what
    GEODES refuses from ``peps`` as configured (endpoint and account from EODAG's variables)."""
    from eodag_peps_plus.eodag_support import gateway

    g, p = pair
    for key, value in ENV.items():
        if key.startswith("EODAG__"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("EODAG__PEPS__SEARCH__API_ENDPOINT", p.url)
    dag = gateway(geodes_plus=g.url)
    found = january_tile(dag)
    paths = dag.download_all(
        found, output_dir=str(tmp_path), extract=False, timeout=1, fallback_providers=["peps"]
    )
    assert len(paths) == len(CATALOGUE)
    _verified(tmp_path)
    assert p.stats["archive_replies"] == len(ON_TAPE)


def test_fallback_to_a_generic_stac_api_backend(tmp_path: Path) -> None:
    """A third archive added the documented way (a ``StacApiBackend`` with its own record)
    that has every product online: what GEODES refuses comes from it, checked by name, size
    and MD5, and nothing is restored anywhere."""
    import dataclasses

    from eodag_peps_plus.backends import BackendSpec, register_backend
    from eodag_peps_plus.backends.geodes import GEODES_PROFILE
    from eodag_peps_plus.backends.stac_api import StacApiBackend
    from eodag_peps_plus.sandbox import Catalogue

    class MirrorBackend(StacApiBackend):
        name = "stacmirror"
        profile = GEODES_PROFILE

    register_backend(
        BackendSpec(
            name="stacmirror",
            label="STAC mirror",
            backend_class=f"{__name__}:MirrorBackend",
            default_url="http://127.0.0.1:1",
            provider="stacmirror_plus",
            auth="apikey",
        )
    )
    online = Catalogue([dataclasses.replace(e, storage="disk") for e in CATALOGUE])
    g = Sandbox(
        CATALOGUE, SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0), services=("geodes",)
    ).start()
    m = Sandbox(
        online, SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0), services=("geodes",)
    ).start()
    try:
        geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
        mirror = MirrorBackend(m.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
        products = list(geodes.search(QUERY))
        options = StagingOptions(timeout=60.0, quiet=True)
        report = download_with_fallback(geodes, products, tmp_path, options, sources=[mirror])
        assert report.ok, report.format()
        _verified(tmp_path)
        for entry in report.products:
            assert entry.reason.startswith("from STAC mirror (GEODES: ") == (entry.id in ON_TAPE)
        assert m.stats["archive_replies"] == len(ON_TAPE)
        assert m.tape.restore_requests == 0
    finally:
        g.stop()
        m.stop()
        from eodag_peps_plus.backends import spec as registry

        registry._registered.pop("stacmirror", None)  # other tests list the backends
