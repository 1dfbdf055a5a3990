"""Member selections with a fallback source, over real HTTP: GEODES refuses its Tier3
products (410 Gone), PEPS restores them from tape, then only the selected members of each are
read from PEPS, the source that serves it (server-side ranges counted), from Python and from
``peps-plus download --include ... --fallback``."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
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
    Catalogue,
    Sandbox,
    SandboxConfig,
)
from eodag_peps_plus.sandbox.safe_layout import safe_zip
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import StagingOptions
from eodag_peps_plus.staging.members import member_pattern

QUERY = Query.create(collection="S2ST", tile="31TCJ", start="2018-01-01", end="2018-01-31")
PATTERN = member_pattern(["B0[48]"], metadata=True) or ""


def _catalogue() -> Catalogue:
    return staging_catalogue(6, size_range=(300_000, 400_000), offline=0.5, seed=23)


@pytest.fixture
def pair() -> Iterator[tuple[Sandbox, Sandbox, dict[str, bytes]]]:
    """GEODES (evidence profile) and PEPS with the same SAFE-layout archives."""
    geodes = Sandbox(
        _catalogue(),
        SandboxConfig(time_scale=0.001, geodes_alternate_links=0.0),
        services=("geodes",),
    ).start()
    peps = Sandbox(
        _catalogue(),
        SandboxConfig(time_scale=0.001, restore_latency=(100.0, 300.0)),
        services=("peps",),
    ).start()
    archives: dict[str, bytes] = {}
    for seed, entry in enumerate(list(geodes.catalogue.entries)):
        archives[entry.name] = safe_zip(entry.name, "S2ST", entry.size, seed=seed)
    for sb in (geodes, peps):
        for name, data in archives.items():
            sb.replace_entry(name, content=data, size=len(data))
    yield geodes, peps, archives
    geodes.stop()
    peps.stop()


def _check(out: Path, geodes: Sandbox, peps: Sandbox, archives: dict[str, bytes]) -> None:
    """Every product's selected members are there with the archive's bytes, nothing else;
    PEPS served only the products on tape, restored first, and of those only the directory
    and the selected members' ranges."""
    on_tape = {e.name for e in peps.catalogue.entries if e.storage == "tape"}
    assert on_tape and len(on_tape) < len(archives)
    got = {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and not any(x.startswith(".") for x in p.relative_to(out).parts)
    }
    wanted: set[str] = set()
    for name, data in archives.items():
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = sorted(archive.infolist(), key=lambda i: i.header_offset)
            chosen = [i for i in infos if re.search(PATTERN, i.filename)]
            for info in chosen:
                assert (out / info.filename).read_bytes() == archive.read(info)
            wanted |= {i.filename for i in chosen}
            ends = {a.filename: b.header_offset for a, b in zip(infos, infos[1:], strict=False)}
            occupied = sum(
                ends.get(i.filename, archive.start_dir) - i.header_offset for i in chosen
            )
        served = [(a, b) for n, a, b in peps.served if n == name]
        if name not in on_tape:
            assert not served
            continue
        assert peps.restores_asked(name) >= 1
        fetched = [(a, b) for a, b in served if b - a > 1]  # not the 202s' probes
        directory = [(a, b) for a, b in fetched if b == len(data)]
        assert len(directory) == 1
        assert sum(b - a for a, b in fetched) - sum(b - a for a, b in directory) == occupied
        assert sum(b - a for a, b in fetched) < len(data) / 2
    assert got == wanted


def test_python_fallback_members(
    pair: tuple[Sandbox, Sandbox, dict[str, bytes]], tmp_path: Path
) -> None:
    g, p, archives = pair
    geodes = GeodesBackend(g.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
    peps = PepsBackend(p.url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD))
    options = StagingOptions(timeout=60.0, quiet=True, members=PATTERN, poll_initial=0.05)
    report = download_with_fallback(geodes, list(geodes.search(QUERY)), tmp_path, options,
                                    sources=[peps])  # fmt: skip
    assert report.ok, report.format()
    for entry in report.products:
        if entry.reason.startswith("from PEPS"):
            assert "HTTP 410" in entry.reason and "members verified" in entry.reason
    _check(tmp_path, g, p, archives)


def test_cli_include_with_fallback(
    pair: tuple[Sandbox, Sandbox, dict[str, bytes]], tmp_path: Path
) -> None:
    g, p, archives = pair
    out = tmp_path / "out"
    args = [sys.executable, "-m", "eodag_peps_plus", "download", "-B", "geodes", "--url", g.url,
            "--fallback", f"peps={p.url}", "-c", "S2ST", "-t", "31TCJ", "-d", "2018-01-01",
            "-f", "2018-01-31", "-w", str(out), "--quiet", "--timeout", "10",
            "--include", "B0[48]", "--metadata"]  # fmt: skip
    env = {
        **os.environ,
        "EODAG__GEODES_PLUS__AUTH__CREDENTIALS__APIKEY": DEFAULT_API_KEY,
        "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME": DEFAULT_USER,
        "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD": DEFAULT_PASSWORD,
    }
    run = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(archives)} done" in run.stdout
    assert "members of 6 archive(s)" in run.stdout, run.stdout
    _check(out, g, p, archives)
