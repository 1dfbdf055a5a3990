"""GEODES's archive as the evidence says (the sandbox's default), and what our downloader
tells the user about it, over real HTTP.

Reported: a download of a product on Tier3 answers 410 Gone (CS-SI/eodag#1776) and the API
has no restore call (EODAG PR #2154); a wrong key shows as a redirect loop (pyGeodes
troubleshooting); 429 is the download quota; some links are on ``gdh-portal-prod`` (pyGeodes
``correct_download_tld``). The done-when of issue 19: the online products are downloaded,
each refused one is reported at once with its reason, and the command exits without
waiting for ``--timeout``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from eodag.utils.exceptions import NotAvailableError

from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.eodag_support import gateway
from eodag_peps_plus.exceptions import (
    ArchiveRefusedError,
    AuthenticationError,
    ForeignOriginError,
    QuotaExceededError,
)
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.product import Availability, Product
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import DEFAULT_API_KEY, Sandbox, SandboxConfig
from eodag_peps_plus.sandbox.scenarios import staging_catalogue

from .conftest import january_tile

KEY_VAR = "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY"
#: Eight products of January 2018, half on tape (Tier3).
CATALOGUE = staging_catalogue(8, size_range=(40_000, 60_000), offline=0.5, seed=19)
QUERY = Query.create(collection="S2ST", tile="31TCJ", start="2018-01-01", end="2018-01-31")
ON_TAPE = {e.name for e in CATALOGUE if e.storage == "tape"}
ONLINE = {e.name for e in CATALOGUE if e.storage == "disk"}


@pytest.fixture
def evidence(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A GEODES with its default (evidence) profile, and every link on the main host."""
    return make_sandbox(SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0), CATALOGUE)


@pytest.fixture
def api_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(KEY_VAR, DEFAULT_API_KEY)
    yield


def backend_for(sandbox: Sandbox, key: str | None = DEFAULT_API_KEY) -> GeodesBackend:
    return GeodesBackend(sandbox.url, credentials=Credentials(api_key=key))


def products(sandbox: Sandbox) -> list[Product]:
    found = list(backend_for(sandbox).search(QUERY))
    assert {p.id for p in found} == ON_TAPE | ONLINE
    return found


def test_tier3_is_gone_and_never_restored(evidence: Sandbox) -> None:
    geodes = backend_for(evidence)
    taped = [p for p in products(evidence) if p.id in ON_TAPE]
    assert set(geodes.availability(taped).values()) == {Availability.OFFLINE}
    for product in taped:
        with geodes.open_download(product) as response:
            assert response.status_code == 410
        with pytest.raises(ArchiveRefusedError) as info:
            geodes.request_restore(product)
        message = str(info.value)
        assert message.startswith(
            "this archive will not serve it (HTTP 410 Gone: kept on Tier3, and GEODES offers "
            "no restore through its API; the server said: File "
        )
        assert "another source" in message and info.value.status_code == 410
    # Asking changed nothing: no restore started, still offline.
    assert all(evidence.restores_asked(name) == 0 for name in ON_TAPE)
    assert set(geodes.availability(taped).values()) == {Availability.OFFLINE}


def test_the_assumed_profile_is_named_and_still_restores(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sandbox = make_sandbox(
        SandboxConfig(time_scale=0.001, geodes_archive="restore-on-download"), CATALOGUE
    )
    product = next(p for p in products(sandbox) if p.id in ON_TAPE)
    assert backend_for(sandbox).request_restore(product) is Availability.STAGING
    assert sandbox.restores_asked(product.id) == 1
    with pytest.raises(ValueError, match="geodes_archive must be one of evidence"):
        SandboxConfig(geodes_archive="order")


def test_wrong_key_is_a_redirect_loop_named_as_the_api_key(evidence: Sandbox) -> None:
    product = next(p for p in products(evidence) if p.id in ONLINE)
    geodes = backend_for(evidence, key="expired-key")
    for call in (geodes.open_download, geodes.request_restore):
        with pytest.raises(AuthenticationError, match="redirected in a loop.*API key") as info:
            call(product)
        assert "expired-key" not in str(info.value)


@pytest.mark.parametrize("retry_after", ["120", None])
def test_quota_says_when_to_retry(
    make_sandbox: Callable[..., Sandbox], retry_after: str | None
) -> None:
    sandbox = make_sandbox(
        SandboxConfig(
            time_scale=0.001, geodes_quota_exhausted=True, geodes_retry_after=retry_after
        ),
        CATALOGUE,
    )
    product = next(p for p in products(sandbox) if p.id in ONLINE)
    with pytest.raises(QuotaExceededError, match="GEODES download quota spent") as info:
        backend_for(sandbox).request_restore(product)
    if retry_after:
        assert "retry after 120 s (at " in str(info.value)
    else:
        assert "did not say when to retry" in str(info.value)


def test_links_on_the_alternate_host_keep_the_key(make_sandbox: Callable[..., Sandbox]) -> None:
    """A quarter of the links are on the sandbox's second name for itself (``localhost`` for
    ``127.0.0.1``), as some GEODES links are on ``gdh-portal-prod``: they are the same
    service, so they get the key; any other origin still does not."""
    sandbox = make_sandbox(SandboxConfig(time_scale=0.001, geodes_alternate_links=0.5), CATALOGUE)
    geodes = backend_for(sandbox)
    found = [p for p in products(sandbox) if p.id in ONLINE]
    port = sandbox.url.rsplit(":", 1)[1]
    alternate = [p for p in found if p.download_url.startswith(f"http://localhost:{port}/")]
    assert alternate, "the sandbox puts some links on its second host name"
    for product in alternate:
        with geodes.open_download(product) as response:
            assert response.status_code == 200
            data = response.content
        assert hashlib.md5(data).hexdigest() == product.md5
    real = GeodesBackend("https://geodes-portal.cnes.fr")
    assert "https://gdh-portal-prod.cnes.fr:443" in real.credential_origins
    product = alternate[0]
    product.download_url = product.download_url.replace("localhost", "127.0.0.2")
    with pytest.raises(ForeignOriginError):
        geodes.open_download(product)


def test_cli_settles_refused_products_at_once(evidence: Sandbox, tmp_path: Path) -> None:
    """Done-when: ``peps-plus download -B geodes ... --timeout 120`` downloads the online half,
    reports each Tier3 product as refused with the reason in plain words, and exits."""
    out = tmp_path / "out"
    env = {**os.environ, KEY_VAR: DEFAULT_API_KEY}
    args = ["download", "-B", "geodes", "--url", evidence.url, "-c", "S2ST", "-t", "31TCJ",
            "-d", "2018-01-01", "-f", "2018-01-31", "-w", str(out), "--quiet",
            "--timeout", "120"]  # fmt: skip
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 2, run.stdout + run.stderr
    assert elapsed < 120, "it must not wait for the two-hour timeout"
    lines = {line.split()[0]: line for line in run.stdout.splitlines() if line.strip()}
    for name in ON_TAPE:
        assert "  refused  " in lines[name]
        assert (
            "HTTP 410 Gone: kept on Tier3, and GEODES offers no restore through its API"
            in (lines[name])
        )
        assert "on tape" not in lines[name] and "restore under way" not in lines[name]
    for entry in CATALOGUE:
        if entry.name in ONLINE:
            assert "  done  " in lines[entry.name]
            data = (out / f"{entry.name}.zip").read_bytes()
            assert hashlib.md5(data).hexdigest() == entry.md5
    assert f"{len(ONLINE)} done, {len(ON_TAPE)} refused" in run.stdout
    # Off unless asked, but the report names the other sources that may have them.
    assert f"{len(ON_TAPE)} product(s) refused by GEODES; other sources may have them: " in (
        run.stderr
    )
    assert "--fallback peps" in run.stderr
    assert "eodag:PROVIDER" in run.stderr  # any provider EODAG serves is a source too
    # Each refused product was asked once: no polling round trips for them.
    assert evidence.stats["geodes.gone"] == len(ON_TAPE)
    assert evidence.stats["geodes.fastavailability"] <= 1


def test_eodag_plugin_reports_refusals(
    evidence: Sandbox, tmp_path: Path, api_key: None, caplog: pytest.LogCaptureFixture
) -> None:
    dag = gateway(geodes_plus=evidence.url)
    found = january_tile(dag)
    assert {p.properties["id"] for p in found} == ON_TAPE | ONLINE
    with caplog.at_level(logging.WARNING, logger="eodag.peps_plus"):
        paths = dag.download_all(found, output_dir=str(tmp_path), extract=False, timeout=120)
    assert sorted(Path(p).name for p in paths) == sorted(f"{n}.zip" for n in ONLINE)
    assert "kept on Tier3, and GEODES offers no restore through its API" in caplog.text
    taped = next(p for p in found if p.properties["id"] in ON_TAPE)
    with pytest.raises(NotAvailableError, match="HTTP 410 Gone: kept on Tier3"):
        dag.download(taped, output_dir=str(tmp_path / "one"), extract=False, timeout=120)
