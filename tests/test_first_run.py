"""What a first run shows: log lines with ``-v``, bars only on a terminal, a batch bar that does
not claim 100 % over failures, the sandbox's start-up message, one footprint type per product."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eodag_peps_plus.sandbox import DEFAULT_API_KEY, DEFAULT_PASSWORD, Sandbox
from eodag_peps_plus.staging.progress import Progress

SEARCH = [
    "search",
    "-B",
    "peps",
    "-c",
    "S2ST",
    "-t",
    "31TCJ",
    "-d",
    "2020-06-01",
    "-f",
    "2020-06-10",
]


def _peps_plus(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "EODAG__PEPS__SEARCH__API_ENDPOINT": url},
        timeout=120,
    )


def test_v_logs_ours_and_vv_adds_urllib3(sandbox: Sandbox) -> None:
    quiet = _peps_plus(*SEARCH, url=sandbox.url)
    assert quiet.returncode == 0, quiet.stderr
    assert "INFO" not in quiet.stderr
    one = _peps_plus("-v", *SEARCH, url=sandbox.url)
    assert one.returncode == 0, one.stderr
    assert "INFO eodag.peps_plus.http_io: PEPS search: GET http://127.0.0.1" in one.stderr
    assert "-> HTTP 200 in" in one.stderr
    assert "urllib3" not in one.stderr
    two = _peps_plus("-vv", *SEARCH, url=sandbox.url)
    assert two.returncode == 0, two.stderr
    assert "DEBUG urllib3.connectionpool" in two.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bars_when_output_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    progress = Progress(3)
    progress.transfer("p1", 0, 100, 0)
    progress.transfer("p1", 100, 100, 0)
    progress.end_transfer("p1")
    progress.finished()
    progress.close()
    assert pipe.getvalue() == ""


def test_batch_bar_stays_short_of_100_percent_over_failures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    progress = Progress(3)
    progress.finished()
    progress.finished(ok=False)
    progress.counts({"done": 2, "failed": 1})
    progress.finished()
    progress.close()
    shown = terminal.getvalue()
    assert "2/3" in shown and "failed 1" in shown
    assert "100%" not in shown and "3/3" not in shown


def test_sandbox_serve_prints_peps_and_geodes_settings(tmp_path: Path) -> None:
    server = subprocess.Popen(
        [sys.executable, "-m", "eodag_peps_plus", "sandbox", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert server.stdout is not None
        for line in server.stdout:  # bounded: the process is killed in finally on failure
            lines.append(line)
            if "Ctrl-C" in line or len(lines) > 30:
                break
    finally:
        server.kill()
        server.communicate(timeout=30)  # also closes its pipe
    text = "".join(lines)
    assert "export EODAG__PEPS__SEARCH__API_ENDPOINT=http://127.0.0.1:" in text
    assert "export EODAG__PEPS__AUTH__CREDENTIALS__USERNAME=" in text
    assert DEFAULT_PASSWORD not in text
    assert "export EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT=http://127.0.0.1:" in text
    assert f"export EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY={DEFAULT_API_KEY}" in text


def test_same_footprint_and_intersection_type_from_peps_and_geodes(sandbox: Sandbox) -> None:
    from eodag_peps_plus.eodag_support import gateway

    dag = gateway(peps=sandbox.url, geodes_plus=sandbox.url)
    box = {"lonmin": 1.0, "latmin": 43.4, "lonmax": 1.6, "latmax": 43.8}
    found = {}
    for provider in ("peps", "geodes_plus"):
        results = dag.search(
            provider=provider,
            collection="S2_MSI_L1C",
            start="2020-06-01",
            end="2020-06-10",
            geom=box,
        )
        found[provider] = {p.properties["id"]: p for p in results}
    common = sorted(set(found["peps"]) & set(found["geodes_plus"]))
    assert common
    for name in common:
        peps, geodes = found["peps"][name], found["geodes_plus"][name]
        assert peps.geometry.geom_type == geodes.geometry.geom_type == "Polygon"
        assert peps.search_intersection.geom_type == geodes.search_intersection.geom_type
        assert peps.geometry.equals(geodes.geometry)
