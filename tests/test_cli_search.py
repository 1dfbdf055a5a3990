"""``peps-plus`` as a user runs it: real processes, real sandbox, one-line errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, Sandbox


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def test_search_prints_a_table_and_writes_stac(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "res.geojson"
    result = run(
        "search",
        "--url",
        sandbox.url,
        "-c",
        "S2ST",
        "-t",
        "T31TCJ",
        "-d",
        "2020-01-01",
        "-f",
        "2020-01-31",
        "--json",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["id", "start"] and len(lines) > 3
    features = json.loads(out.read_text())["features"]
    assert len(features) == len(lines) - 2
    assert features[0]["properties"]["grid:code"] == "MGRS-31TCJ"
    count = run(
        "search",
        "--url",
        sandbox.url,
        "-c",
        "S2ST",
        "-t",
        "31TCJ",
        "-d",
        "2020-01-01",
        "-f",
        "2020-01-31",
        "--count",
    )
    assert count.stdout.strip() == str(len(features))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "S7"], "unknown collection"),
        (["-d", "2020-02-30"], "start"),
        (["-d", "2020-02-01", "-f", "2020-01-01"], "before start"),
        (["--lat", "95", "--lon", "1"], "latitude"),
        (["-t", "31TC"], "MGRS"),
        (
            [
                "--lat",
                "43",
                "--lon",
                "1",
                "--latmin",
                "1",
                "--latmax",
                "2",
                "--lonmin",
                "1",
                "--lonmax",
                "2",
            ],
            "only one",
        ),
        (["--latmin", "1"], "all four"),
        (["-l", "Toulouse", "--lat", "43", "--lon", "1"], "only one"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    sandbox: Sandbox, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "keep.geojson"
    out.write_text("precious")
    result = run("search", "--url", sandbox.url, "--json", str(out), *args)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("Error: ") and message in errors[0], (
        result.stderr
    )
    assert out.read_text() == "precious"


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    result = run("search", "--url", "http://127.0.0.1:9", "-c", "S1")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: GEODES search: cannot connect to http://127.0.0.1:9 (is the URL right and the server up?)"
    ]


def test_peps_public_host_unreachable_says_peps_is_retired() -> None:
    """GEODES is the default; ``-B peps`` still works, and a failed connection to PEPS's
    public host says why (a proxy on a closed port stands for the host that is gone)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EODAG__")}
    env["HTTPS_PROXY"] = env["https_proxy"] = "http://127.0.0.1:9"
    result = subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", "search", "-B", "peps", "-c", "S1"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: PEPS search: cannot connect to https://peps.cnes.fr")
    assert "PEPS is retired" in line and "-B geodes" in line
    help_text = run("search", "--help").stdout
    assert "[default: geodes]" in " ".join(help_text.split())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sandbox_serve_command() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "eodag_peps_plus", "sandbox", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                body = requests.get(
                    f"{url}/resto/api/collections/S1/search.json",
                    params={"maxRecords": 1},
                    timeout=5,
                ).json()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline and proc.poll() is None, (
                    proc.stderr.read() if proc.stderr else ""
                )
                time.sleep(0.2)
        assert body["properties"]["totalResults"] > 1000
    finally:
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=30)
    assert url in stdout and DEFAULT_PASSWORD not in stdout


def test_demo_runs() -> None:
    result = run("demo", "--max-items", "3", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "pystac-style client" in result.stdout and "EODAG search -p peps" in result.stdout
    assert result.stdout.count("S2") >= 3 and "S1A_IW_GRDH" in result.stdout
    # Each table says how much of the result it shows.
    assert result.stdout.count("the first 3 of ") == 2, result.stdout
