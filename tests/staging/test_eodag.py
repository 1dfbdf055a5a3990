"""The EODAG paths: ``dag.download_all``, ``product.download``, ``stream_download`` and the
``eodag download --search-results`` command, all through StagingDownload."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER
from eodag_peps_plus.sandbox.scenarios import staging_catalogue

from .helpers import md5_of

FAST_DOWNLOAD = {
    "poll_initial": 0.05,
    "poll_max": 0.2,
    "backoff_base": 0.05,
    "backoff_max": 1.0,
    "quiet": True,
}
CATALOGUE = staging_catalogue(4, size_range=(100_000, 200_000), offline=0.5, seed=21)


@pytest.fixture
def peps_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", DEFAULT_USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", DEFAULT_PASSWORD)


def _gateway(url: str, **download: object):
    from eodag_peps_plus.eodag_support import gateway

    dag = gateway(peps=url)
    dag.update_providers_config(
        yaml.safe_dump({"peps": {"download": {**FAST_DOWNLOAD, **download}}})
    )
    return dag


def _search(dag):
    return dag.search(
        collection="S2_MSI_L1C", provider="peps", start="2018-01-01", end="2018-02-01"
    )


def test_download_all(staging_sandbox, peps_env, tmp_path: Path) -> None:
    sb = staging_sandbox(CATALOGUE)
    dag = _gateway(sb.url)
    results = _search(dag)
    assert len(results) == 4
    assert {p.properties["order:status"] for p in results} == {"succeeded", "orderable"}
    done: list[str] = []
    paths = dag.download_all(
        results,
        output_dir=str(tmp_path),
        extract=False,
        timeout=0.5,
        downloaded_callback=lambda p: done.append(p.properties["title"]),
    )
    assert len(paths) == 4 and len(done) == 4
    for product in results:
        path = tmp_path / f"{product.properties['title']}.zip"
        assert str(path) in paths
        assert product.location == path.as_uri()
        assert md5_of(path) == sb.entry(product.properties["title"]).md5
    # EODAG's own records (written by a thread of their own), one per product, complete
    assert len(list((tmp_path / ".downloaded").iterdir())) == 4


def test_product_download_extracts_to_safe(staging_sandbox, peps_env, tmp_path: Path) -> None:
    sb = staging_sandbox(CATALOGUE)
    dag = _gateway(sb.url, output_dir=str(tmp_path))
    offline = next(p for p in _search(dag) if p.properties["order:status"] == "orderable")
    path = offline.download(timeout=0.5)  # output_dir from the plugin config, extract by default
    name = offline.properties["title"]
    assert path == str(tmp_path / f"{name}.SAFE")
    assert (Path(path) / "manifest.safe").is_file()
    assert sb.restores_asked(name) == 1


def test_product_download_not_available(staging_sandbox, peps_env, tmp_path: Path) -> None:
    from eodag.utils.exceptions import NotAvailableError

    stuck = next(e.name for e in CATALOGUE if e.storage == "tape")
    sb = staging_sandbox(CATALOGUE, never_finish=frozenset({stuck}))
    dag = _gateway(sb.url)
    product = next(p for p in _search(dag) if p.properties["title"] == stuck)
    with pytest.raises(NotAvailableError, match="timeout"):
        product.download(output_dir=str(tmp_path), timeout=0.01)
    assert not list(tmp_path.glob("*.zip"))


def test_bad_credentials(staging_sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from eodag.utils.exceptions import AuthenticationError

    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", DEFAULT_USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", "wrong")
    sb = staging_sandbox(CATALOGUE)
    dag = _gateway(sb.url)
    with pytest.raises(AuthenticationError, match="credentials refused"):
        dag.download_all(_search(dag), output_dir=str(tmp_path), extract=False, timeout=0.5)


def test_stream_download(staging_sandbox, peps_env) -> None:
    sb = staging_sandbox(CATALOGUE)
    dag = _gateway(sb.url)
    product = next(p for p in _search(dag) if p.properties["order:status"] == "orderable")
    stream = product.downloader.stream_download(product, auth=product.downloader_auth, timeout=0.5)
    digest = hashlib.md5(usedforsecurity=False)
    for chunk in stream.content:
        digest.update(chunk)
    assert digest.hexdigest() == sb.entry(product.properties["title"]).md5


def test_eodag_download_command(staging_sandbox, peps_env, tmp_path: Path) -> None:
    """``eodag search`` results saved to GeoJSON, then ``eodag download --search-results``
    in a separate process with no ``--output-dir`` (the plugin config's folder is used)."""
    from eodag_peps_plus.eodag_support import providers_yaml

    sb = staging_sandbox(CATALOGUE)
    dag = _gateway(sb.url)
    results = _search(dag)
    geojson = tmp_path / "search.geojson"
    dag.serialize(results, filename=str(geojson))
    providers = tmp_path / "providers"
    providers.mkdir()
    config = yaml.safe_load(providers_yaml())
    config["peps"]["search"]["api_endpoint"] = sb.url
    out = tmp_path / "out"
    config["peps"]["download"].update(FAST_DOWNLOAD, output_dir=str(out), extract=False)
    (providers / "peps.yml").write_text(yaml.safe_dump(config))
    # The folder serves editable installs (EODAG reads an installed providers.yml only); the
    # EODAG__ variables are how a user overrides an installed provider's config.
    overrides = {
        "EODAG__PEPS__SEARCH__API_ENDPOINT": sb.url,
        "EODAG__PEPS__DOWNLOAD__OUTPUT_DIR": str(out),
    }
    overrides.update(
        {f"EODAG__PEPS__DOWNLOAD__{k.upper()}": str(v) for k, v in FAST_DOWNLOAD.items()}
    )
    overrides["EODAG__PEPS__DOWNLOAD__EXTRACT"] = "false"
    eodag = Path(sys.executable).with_name("eodag")
    run = subprocess.run(
        [str(eodag), "-vv", "download", "--search-results", str(geojson)],
        env={**os.environ, "EODAG_PROVIDERS_CFG_DIR": str(providers), **overrides},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # Our loggers are under EODAG's: its -vv shows our lines too.
    assert "eodag.peps_plus.staging.run" in run.stderr and "-> done" in run.stderr
    for product in results:
        name = product.properties["title"]
        assert md5_of(out / f"{name}.zip") == sb.entry(name).md5


def test_eodag_download_command_shows_a_failed_product(
    staging_sandbox, peps_env, tmp_path: Path
) -> None:
    """Issue 25 item 5: ``eodag download --search-results`` with one tampered link, without
    ``-v``: the failed product is named on stderr and the command exits non-zero (EODAG's
    command exits 0 whatever happened, and shows no log without -v)."""
    import json

    from eodag_peps_plus.eodag_support import providers_yaml

    sb = staging_sandbox(CATALOGUE)
    dag = _gateway(sb.url)
    results = _search(dag)
    geojson = tmp_path / "search.geojson"
    dag.serialize(results, filename=str(geojson))
    data = json.loads(geojson.read_text())
    tampered = data["features"][0]["properties"]
    tampered["eodag:download_link"] = "http://127.0.0.2:9/elsewhere.zip"
    geojson.write_text(json.dumps(data))
    providers = tmp_path / "providers"
    providers.mkdir()
    config = yaml.safe_load(providers_yaml())
    config["peps"]["search"]["api_endpoint"] = sb.url
    (providers / "peps.yml").write_text(yaml.safe_dump(config))
    out = tmp_path / "out"
    overrides = {
        "EODAG__PEPS__SEARCH__API_ENDPOINT": sb.url,
        "EODAG__PEPS__DOWNLOAD__OUTPUT_DIR": str(out),
        "EODAG__PEPS__DOWNLOAD__EXTRACT": "false",
        **{f"EODAG__PEPS__DOWNLOAD__{k.upper()}": str(v) for k, v in FAST_DOWNLOAD.items()},
    }
    eodag = Path(sys.executable).with_name("eodag")
    run = subprocess.run(
        [str(eodag), "download", "--search-results", str(geojson)],
        env={**os.environ, "EODAG_PROVIDERS_CFG_DIR": str(providers), **overrides},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, (run.returncode, run.stderr[-2000:])
    name = tampered["title"]
    lines = [line for line in run.stderr.splitlines() if line.startswith(f"{name}: failed")]
    assert len(lines) == 1 and "127.0.0.2" in lines[0], run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    done = [f for f in data["features"][1:]]
    assert sum(f"Downloaded {out}" in line for line in run.stdout.splitlines()) == len(done)
