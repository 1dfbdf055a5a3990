"""``peps-plus download`` end to end against the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from eodag_peps_plus.cli import cli
from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.stac import items_to_collection

from .helpers import all_products, md5_of, peps_backend

CATALOGUE = staging_catalogue(3, size_range=(60_000, 90_000), offline=0.34, seed=31)


@pytest.fixture
def peps_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", DEFAULT_USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", DEFAULT_PASSWORD)


def test_query_download_extract(staging_sandbox, peps_env, tmp_path: Path) -> None:
    sb = staging_sandbox(CATALOGUE, restore_latency=(20, 40))
    args = ["download", "-B", "peps", "--url", sb.url, "-t", "31TCJ", "-d", "2018-01-01", "-f", "2018-01-31",
            "-c", "S2ST", "-w", str(tmp_path), "-x", "--delete-archive", "--quiet", "--timeout", "1",
            "--poll-initial", "0.05", "--poll-max", "0.2"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "3 done" in result.output
    for entry in CATALOGUE:
        assert (tmp_path / f"{entry.name}.SAFE" / "manifest.safe").is_file()
        assert not (tmp_path / f"{entry.name}.zip").exists()


def test_search_results_file_and_incomplete_exit_code(
    staging_sandbox, peps_env, tmp_path: Path
) -> None:
    stuck = next(e.name for e in CATALOGUE if e.storage == "tape")
    sb = staging_sandbox(CATALOGUE, never_finish=frozenset({stuck}))
    results = tmp_path / "results.geojson"
    results.write_text(json.dumps(items_to_collection(all_products(peps_backend(sb))).to_dict()))
    out = tmp_path / "out"
    args = [
        "download",
        "-B",
        "peps",
        "--url",
        sb.url,
        "--search-results",
        str(results),
        "-w",
        str(out),
        "--quiet",
        "--timeout",
        "0.01",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert f"{stuck}  unavailable" in result.output
    for entry in CATALOGUE:
        if entry.name != stuck:
            assert md5_of(out / f"{entry.name}.zip") == entry.md5


@pytest.mark.parametrize(
    "args, message",
    [
        (["download"], "give query options"),
        (["download", "-t", "31TCJ", "--search-results", "x.geojson"], "either --search-results"),
        (["download", "--search-results", "missing.geojson"], "no such file"),
        (["download", "-t", "31TCJ", "--delete-archive"], "only makes sense with --extract"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str, tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", "from eodag_peps_plus.cli import main; main()", *args, "--url", "http://127.0.0.1:9"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert run.returncode == 1
    assert run.stderr.strip().startswith("Error:") and message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
