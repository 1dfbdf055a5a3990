"""``peps-plus search --json FILE`` then ``eodag download --search-results FILE``: the file
``peps-plus`` writes is read back by EODAG's own CLI like a file ``eodag search`` wrote, so the
products go through StagingDownload (not EODAG's generic STAC download)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eodag_peps_plus.backends import spec_for
from eodag_peps_plus.eodag_support import providers_yaml
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Sandbox,
    SandboxConfig,
)
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging.ledger import LEDGER_NAME

from .helpers import FAST, md5_of

CATALOGUE = staging_catalogue(3, size_range=(50_000, 100_000), offline=0.5, seed=5)


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name(args[0])), *args[1:]],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("backend", ["peps", "geodes"])
def test_peps_plus_results_file_downloads_with_eodag(backend: str, tmp_path: Path) -> None:
    provider = spec_for(backend).provider
    # Every product downloadable, GEODES's tape too (the assumed, named profile): this test is
    # about the results file, not about tape (tests/geodes/test_evidence.py is).
    config = SandboxConfig(
        time_scale=0.001, restore_latency=(100.0, 300.0), geodes_archive="restore-on-download"
    )
    with Sandbox(CATALOGUE, config, services=("peps", "geodes")) as sb:
        # An editable install: EODAG reads our providers.yml from this folder (a regular
        # install ships it in the package).
        providers = tmp_path / "providers"
        providers.mkdir()
        (providers / "peps_plus.yml").write_text(providers_yaml())
        prefix = f"EODAG__{provider.upper()}__"
        env = {
            **os.environ,
            "EODAG_PROVIDERS_CFG_DIR": str(providers),
            f"{prefix}SEARCH__API_ENDPOINT": sb.url,
            f"{prefix}AUTH__CREDENTIALS__USERNAME": DEFAULT_USER,
            f"{prefix}AUTH__CREDENTIALS__PASSWORD": DEFAULT_PASSWORD,
            f"{prefix}AUTH__CREDENTIALS__APIKEY": DEFAULT_API_KEY,
            f"{prefix}DOWNLOAD__EXTRACT": "false",
            **{f"{prefix}DOWNLOAD__{k.upper()}": str(v) for k, v in FAST.items()},
        }
        results = tmp_path / "results.geojson"
        search = _run(
            ["peps-plus", "search", "-B", backend, "-c", "S2ST", "-t", "31TCJ",
             "-d", "2018-01-01", "-f", "2018-02-01", "--json", str(results)],
            env, tmp_path,
        )  # fmt: skip
        assert search.returncode == 0, search.stderr[-2000:]
        features = json.loads(results.read_text())["features"]
        assert len(features) == 3
        for feature in features:
            assert feature["properties"]["eodag:provider"] == provider
            assert feature["properties"]["eodag:search_intersection"] == feature["geometry"]
        out = tmp_path / "data"
        download = _run(
            ["eodag", "download", "--search-results", str(results), "--output-dir", str(out)],
            env,
            tmp_path,
        )
        assert download.returncode == 0, download.stderr[-2000:]
        assert "Traceback" not in download.stderr
        for feature in features:
            name = feature["id"]
            assert md5_of(out / f"{name}.zip") == sb.entry(name).md5
        # StagingDownload's ledger, not EODAG's generic download, wrote them.
        assert (out / LEDGER_NAME).is_file()


def test_results_file_keeps_the_searched_intersection(sandbox: Sandbox, tmp_path: Path) -> None:
    env = {**os.environ, "EODAG__PEPS__SEARCH__API_ENDPOINT": sandbox.url}
    results = tmp_path / "r.geojson"
    run = _run(
        ["peps-plus", "search", "-B", "peps", "-c", "S2ST", "-b", "1.0", "43.4", "1.2", "43.6",
         "-d", "2020-06-01", "-f", "2020-06-15", "--json", str(results)],
        env, tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    from shapely.geometry import box, shape

    features = json.loads(results.read_text())["features"]
    assert features
    for feature in features:
        inter = shape(feature["properties"]["eodag:search_intersection"])
        assert inter.within(box(1.0, 43.4, 1.2, 43.6).buffer(1e-9))
