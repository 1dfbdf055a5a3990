"""EODAG's CLI habits in ``peps-plus``: ``-q key=value``, ``-g WKT``, ``--quiet`` (no longer
``-q``) and the exit codes in ``--help``; real processes against the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eodag_peps_plus.sandbox import Sandbox
from tests.test_cli_search import run

DAYS = ["-d", "2020-01-01", "-f", "2020-06-30"]


def _ids(sandbox: Sandbox, tmp_path: Path, name: str, *args: str) -> list[str]:
    out = tmp_path / f"{name}.geojson"
    result = run("search", "--url", sandbox.url, "-c", "S2ST", *DAYS, *args, "--json", str(out))
    assert result.returncode == 0, result.stderr
    ids = [f["id"] for f in json.loads(out.read_text())["features"]]
    assert ids
    return ids


@pytest.mark.parametrize("backend", ["peps", "geodes"])
def test_query_pairs_and_wkt_mean_the_options(
    sandbox: Sandbox, tmp_path: Path, backend: str
) -> None:
    b = ["-B", backend]
    assert _ids(sandbox, tmp_path, "q", *b, "-q", "tileid=31TCJ", "-q", "eo:cloud_cover=40&platform=S2B") == _ids(sandbox, tmp_path, "o", *b, "-t", "31TCJ", "--cc", "40", "--sat", "S2B")  # fmt: skip
    polygon = "POLYGON ((1 43.4, 1.6 43.4, 1.6 43.8, 1 43.8, 1 43.4))"
    assert _ids(sandbox, tmp_path, "g", *b, "-g", polygon) == _ids(
        sandbox, tmp_path, "b", *b, "-b", "1", "43.4", "1.6", "43.8"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-q", "tileid"], "is not KEY=VALUE"),
        (["-q", "nonsense=1"], "unknown search parameter"),
        (["-t", "31TCJ", "-q", "tile=31TCK"], "given twice"),
        (["-g", "POLYGON ((1 2"], "not valid WKT"),
        (["-g", "POINT (1 43)", "-b", "1", "43", "2", "44"], "give only one of"),
    ],
)
def test_bad_pairs_are_one_line(sandbox: Sandbox, args: list[str], message: str) -> None:
    result = run("search", "--url", sandbox.url, "-c", "S2ST", *args)
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_download_takes_query_pairs_and_quiet(sandbox: Sandbox, tmp_path: Path) -> None:
    result = run(
        "download", "--url", sandbox.url, "-c", "S2ST", *DAYS, "-q", "tileid=31TCJ",
        "--quiet", "--no-download", "-w", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "would be downloaded" in result.stderr


@pytest.mark.parametrize("command", [[], ["search"], ["download"]])
def test_help_documents_exit_codes(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "Exit status: 0" in text and "130 interrupted" in text
    if command == ["download"]:
        assert "--quiet" in text and "-q, --query KEY=VALUE" in text
