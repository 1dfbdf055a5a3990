"""Products whose storage is ``unknown`` come online like taped ones; a restore that never
finishes is a fault switched on explicitly (``SandboxConfig``, ``sandbox serve`` options)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Sandbox,
    SandboxConfig,
)
from eodag_peps_plus.sandbox.scenarios import staging_catalogue

from .helpers import serve_cli

TIMEOUT = 30


@pytest.fixture
def unknown_sandbox() -> Iterator[tuple[Sandbox, str]]:
    catalogue = staging_catalogue(2, size_range=(20_000, 30_000), offline=0.0, unknown=1, seed=2)
    name = next(e.name for e in catalogue if e.storage == "unknown")
    with Sandbox(catalogue, SandboxConfig(time_scale=0.0005), services=("peps",)) as sb:
        yield sb, name


def _mode(sb: Sandbox, name: str) -> str:
    body = requests.get(
        f"{sb.url}/resto/api/collections/S2ST/search.json",
        params={"productIdentifier": name},
        timeout=TIMEOUT,
    ).json()
    return str(body["features"][0]["properties"]["storage"]["mode"])


def _download(sb: Sandbox, name: str) -> requests.Response:
    entry = sb.entry(name)
    url = f"{sb.url}/resto/collections/{entry.collection}/{entry.uuid}/download"
    return requests.get(url, auth=(DEFAULT_USER, DEFAULT_PASSWORD), timeout=TIMEOUT)


def test_unknown_products_are_restored_like_taped_ones(
    unknown_sandbox: tuple[Sandbox, str],
) -> None:
    sb, name = unknown_sandbox
    assert _mode(sb, name) == "unknown"
    assert _download(sb, name).status_code == 202  # asks the restore
    deadline = time.monotonic() + 20
    while _mode(sb, name) != "disk":
        assert time.monotonic() < deadline, "an unknown product must come online"
        time.sleep(0.05)
    reply = _download(sb, name)
    assert reply.status_code == 200 and len(reply.content) == sb.entry(name).size


def test_never_coming_back_is_a_fault_to_switch_on() -> None:
    catalogue = staging_catalogue(2, size_range=(20_000, 30_000), offline=0.0, unknown=1, seed=2)
    name = next(e.name for e in catalogue if e.storage == "unknown")
    config = SandboxConfig(time_scale=0.0005, unknown_restores=False)
    with Sandbox(catalogue, config, services=("peps",)) as sb:
        assert _download(sb, name).status_code == 202
        time.sleep(0.5)  # far beyond the scaled restore latency (at most 0.18 s)
        assert _mode(sb, name) == "unknown"


def test_serve_prints_both_services_and_switches_faults_on() -> None:
    with serve_cli("--stuck-unknown") as text:
        pass
    url = re.search(r"products at (http://\S+)", text)
    assert url, text
    assert f"export EODAG__PEPS__SEARCH__API_ENDPOINT={url.group(1)}" in text
    assert f"export EODAG__GEODES_PLUS__SEARCH__API_ENDPOINT={url.group(1)}" in text
    assert f"EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY={DEFAULT_API_KEY}" in text
    assert "'unknown' products never come online" in text
    assert DEFAULT_PASSWORD not in text


def test_serve_refuses_an_unknown_never_finish_name() -> None:
    command = [sys.executable, "-m", "eodag_peps_plus", "sandbox", "serve", "--port", "0"]
    command += ["--never-finish", "S2A_NOPE"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Error: --never-finish: no product named S2A_NOPE" in done.stderr
    assert "Traceback" not in done.stderr
