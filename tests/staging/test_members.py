"""Members of remote zips over real HTTP: only the bytes asked for, each member CRC-checked,
and every kind of bad archive failing or retrying its own product alone."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import random
import re
import struct
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import pytest

from eodag_peps_plus.product import Product
from eodag_peps_plus.sandbox import Catalogue, Sandbox
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging.members import TAIL_READ
from eodag_peps_plus.staging.transfer import Outcome, TransferJob, run_transfer

from .helpers import all_products, downloader, peps_backend

BANDS = ("B01", "B02", "B04", "B08", "B11", "B12")


def safe_zip(name: str, *, seed: int = 0, zip64: bool = False) -> tuple[bytes, dict[str, bytes]]:
    """A small S2-like SAFE zip: incompressible band files (stored) and XML (deflated)."""
    rng = random.Random(seed)
    granule = f"{name}.SAFE/GRANULE/L1C_T31TCJ_A000001_20200101T105441/IMG_DATA"
    files = {f"{name}.SAFE/manifest.safe": b"<xfdu>" + b"manifest " * 300 + b"</xfdu>"}
    files[f"{name}.SAFE/MTD_MSIL1C.xml"] = b"<mtd>" + b"metadata " * 500 + b"</mtd>"
    for band in BANDS:
        files[f"{granule}/T31TCJ_20200101T105441_{band}.jp2"] = rng.randbytes(
            rng.randint(120_000, 160_000)
        )
    buffer = io.BytesIO()
    limits = (
        mock.patch.multiple(zipfile, ZIP64_LIMIT=1000, ZIP_FILECOUNT_LIMIT=2)
        if zip64
        else contextlib.nullcontext()
    )
    with limits, zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            method = zipfile.ZIP_STORED if path.endswith(".jp2") else zipfile.ZIP_DEFLATED
            archive.writestr(path, data, compress_type=method)
    return buffer.getvalue(), files


@pytest.fixture(autouse=True)
def fresh_tail_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with nothing learned of directory sizes (a process-wide memory)."""
    from eodag_peps_plus.staging import members

    monkeypatch.setattr(members, "_TAILS", members._TailSizes())


@pytest.fixture(scope="module")
def member_catalogue() -> Catalogue:
    return staging_catalogue(4, size_range=(100_000, 150_000), offline=0.0, seed=7)


@pytest.fixture
def sandbox(
    member_catalogue: Catalogue, staging_sandbox: Callable[..., Sandbox]
) -> tuple[Sandbox, dict[str, dict[str, bytes]]]:
    sb = staging_sandbox(member_catalogue)
    contents: dict[str, dict[str, bytes]] = {}
    for seed, entry in enumerate(list(sb.catalogue.entries)):
        data, files = safe_zip(entry.name, seed=seed)
        sb.replace_entry(entry.name, content=data, size=len(data))
        contents[entry.name] = files
    return sb, contents


def zip_bytes(files: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return buffer.getvalue()


def serve(sb: Sandbox, name: str, data: bytes) -> Product:
    """``name`` now served as ``data``; its product as the catalogue now lists it."""
    sb.replace_entry(name, content=data, size=len(data))
    return next(p for p in all_products(peps_backend(sb)) if p.id == name)


def job(sb: Sandbox, product: Product, out: Path, members: str) -> TransferJob:
    return TransferJob(product=product, archive=peps_backend(sb), output=out, members=members)


def member_sizes(data: bytes, pattern: str) -> int:
    import re

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(i.compress_size for i in archive.infolist() if re.search(pattern, i.filename))


def test_selection_gives_exactly_the_members_with_bytes_near_their_size(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, contents = sandbox
    product = all_products(peps_backend(sb))[0]
    time.sleep(0.3)  # the search reply's last bytes are counted once its thread has sent them
    before = sb.stats["bytes_sent"]
    result = run_transfer(job(sb, product, tmp_path, "B0[48]|MTD"))
    sent = sb.stats["bytes_sent"] - before
    assert result.outcome is Outcome.DONE, result.reason
    got = {str(p.relative_to(tmp_path)): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    wanted = {
        k: v for k, v in contents[product.id].items() if any(s in k for s in ("B04", "B08", "MTD"))
    }
    assert got == wanted
    members = member_sizes(sb.entry(product.id).content or b"", "B0[48]|MTD")
    assert sent == result.received
    assert sent <= members * 1.01 + TAIL_READ, (sent, members)
    assert sent < product.size * 0.6


def test_members_already_there_are_not_fetched_again(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, _ = sandbox
    product = all_products(peps_backend(sb))[0]
    assert run_transfer(job(sb, product, tmp_path, "B04")).outcome is Outcome.DONE
    before = sb.stats["bytes_sent"]
    again = run_transfer(job(sb, product, tmp_path, "B04"))
    assert again.outcome is Outcome.DONE
    assert sb.stats["bytes_sent"] - before <= TAIL_READ  # the directory only
    assert "1 already there" in again.reason


def test_zip64_archive(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, _ = sandbox
    product = all_products(peps_backend(sb))[1]
    data, files = safe_zip(product.id, seed=99, zip64=True)
    assert b"PK\x06\x06" in data[-200:]  # a zip64 end record
    product = serve(sb, product.id, data)
    result = run_transfer(job(sb, product, tmp_path, "B11"))
    assert result.outcome is Outcome.DONE, result.reason
    (path,) = [p for p in tmp_path.rglob("*B11*")]
    assert path.read_bytes() == next(v for k, v in files.items() if "B11" in k)


def _flip_crc(data: bytes, band: str) -> bytes:
    """The directory's CRC of ``band`` changed (its data untouched)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(i for i in archive.infolist() if band in i.filename)
    at = data.rfind(info.filename.encode()) - 46
    crc = struct.unpack_from("<I", data, at + 16)[0]
    return data[: at + 16] + struct.pack("<I", crc ^ 1) + data[at + 20 :]


def _lie_offset(data: bytes, band: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(i for i in archive.infolist() if band in i.filename)
    at = data.rfind(info.filename.encode()) - 46
    return data[: at + 42] + struct.pack("<I", info.header_offset + 7) + data[at + 46 :]


@pytest.mark.parametrize(
    ("damage", "words"),
    [(_flip_crc, "fails its check"), (_lie_offset, "no local header")],
)
def test_bad_archive_fails_its_product_alone(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]],
    tmp_path: Path,
    damage: Callable[[bytes, str], bytes],
    words: str,
) -> None:
    sb, _ = sandbox
    backend = peps_backend(sb)
    bad = all_products(backend)[2]
    data = damage(sb.entry(bad.id).content or b"", "B04")
    sb.replace_entry(bad.id, content=data, size=len(data))
    products = all_products(backend)
    report = downloader(backend, tmp_path, members="B04", max_attempts=2).download(products)
    text = report.format()
    assert words in text, text
    done = sorted(p.name for p in tmp_path.rglob("*B04.jp2"))
    assert len(done) == len(products) - 1, text
    assert not any(bad.id in name for name in done)
    assert not [p for p in tmp_path.rglob(".*part*")]  # no working file left


def test_corrupted_range_is_retried(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, contents = sandbox
    backend = peps_backend(sb)
    products = all_products(backend)
    victim = products[3]
    # The directory read and the member's range both have a byte flipped, once.
    sb.faults.arm("corrupt", times=2, products=[victim.id])
    report = downloader(backend, tmp_path, members="B08").download(products)
    assert report.ok, report.format()
    for product in products:
        (path,) = tmp_path.rglob(f"{product.id}.SAFE/**/*B08.jp2")
        assert path.read_bytes() == next(
            v for k, v in contents[product.id].items() if k.endswith("B08.jp2")
        )


def test_member_escaping_the_folder_fails_that_product(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, _ = sandbox
    product = all_products(peps_backend(sb))[0]
    data = zip_bytes({"../evil_B04.jp2": b"x" * 5000})
    product = serve(sb, product.id, data)
    result = run_transfer(job(sb, product, tmp_path / "out", "B04"))
    assert result.outcome is Outcome.FAILED
    assert "escape" in result.reason
    assert not (tmp_path / "evil_B04.jp2").exists()


# -- how users ask: peps-plus download --include/--bands/--metadata, EODAG's asset= -------------
@pytest.fixture
def peps_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER

    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__USERNAME", DEFAULT_USER)
    monkeypatch.setenv("EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD", DEFAULT_PASSWORD)


@pytest.fixture
def taped(staging_sandbox: Callable[..., Sandbox]) -> tuple[Sandbox, dict[str, dict[str, bytes]]]:
    """Half the products on tape: restored first, then only their members read."""
    sb = staging_sandbox(staging_catalogue(4, size_range=(100_000, 150_000), offline=0.5, seed=8))
    contents = {}
    for seed, entry in enumerate(list(sb.catalogue.entries)):
        data, files = safe_zip(entry.name, seed=seed)
        sb.replace_entry(entry.name, content=data, size=len(data))
        contents[entry.name] = files
    return sb, contents


def _got(folder: Path) -> set[str]:
    """Files under ``folder``, without the hidden ones (ledgers, EODAG's records)."""
    paths = (p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    return {p.as_posix() for p in paths if not any(x.startswith(".") for x in p.parts)}


def test_cli_include_bands_metadata(
    taped: tuple[Sandbox, dict[str, dict[str, bytes]]], peps_env: None, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from eodag_peps_plus.cli import cli

    sb, contents = taped
    out = tmp_path / "out"
    args = ["download", "-B", "peps", "--url", sb.url, "-t", "31TCJ", "-d", "2018-01-01",
            "-f", "2018-01-31", "-c", "S2ST", "-w", str(out), "--quiet", "--timeout", "1",
            "--poll-initial", "0.05", "--poll-max", "0.2",
            "--bands", "B04,B11", "--include", "manifest", "--metadata"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "4 done" in result.output
    assert "bytes fetched" in result.output
    assert "members of 4 archive(s): " in result.output
    wanted = {
        k
        for files in contents.values()
        for k in files
        if k.endswith(("_B04.jp2", "_B11.jp2", "manifest.safe", ".xml"))
    }
    assert {g for g in _got(out) if ".SAFE/" in g} == wanted


def test_cli_unknown_band_is_one_line(peps_env: None, tmp_path: Path) -> None:
    import subprocess
    import sys

    args = ["download", "--bands", "B99", "-t", "31TCJ", "-w", str(tmp_path)]
    run = subprocess.run(
        [sys.executable, "-m", "eodag_peps_plus", *args], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "Error: unknown band 'B99'; known: B01, B02, B03, B04, B05, B06, B07, B08, B8A, B09, "
        "B10, B11, B12, TCI, AOT, WVP, SCL"
    ]


def test_eodag_asset_filter(
    taped: tuple[Sandbox, dict[str, dict[str, bytes]]], peps_env: None, tmp_path: Path
) -> None:
    import yaml

    from eodag_peps_plus.eodag_support import gateway

    sb, contents = taped
    dag = gateway(peps=sb.url)
    fast = {"poll_initial": 0.05, "poll_max": 0.2, "backoff_base": 0.05, "quiet": True}
    dag.update_providers_config(yaml.safe_dump({"peps": {"download": fast}}))
    results = dag.search(
        collection="S2_MSI_L1C", provider="peps", start="2018-01-01", end="2018-02-01"
    )
    offline = next(p for p in results if p.properties["order:status"] == "orderable")
    path = offline.download(asset="B0[48]", output_dir=str(tmp_path), timeout=0.5)
    name = offline.properties["title"]
    assert path == str(tmp_path / f"{name}.SAFE")
    assert sb.restores_asked(name) >= 1
    assert _got(tmp_path) == {k for k in contents[name] if k.endswith(("_B04.jp2", "_B08.jp2"))}
    paths = dag.download_all(results, output_dir=str(tmp_path / "all"), asset="MTD", timeout=0.5)
    assert len(paths) == 4
    assert len(list((tmp_path / "all").rglob("MTD_MSIL1C.xml"))) == 4


# -- the sandbox's SAFE layouts -----------------------------------------------------------------
def test_safe_layouts_real_shares_and_s1_polarisation(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    from eodag_peps_plus.sandbox.safe_layout import apply_safe_layouts, safe_zip
    from eodag_peps_plus.staging.members import member_pattern

    sb, _ = sandbox
    apply_safe_layouts(sb)
    entry = sb.catalogue.entries[0]
    with zipfile.ZipFile(io.BytesIO(entry.content or b"")) as archive:
        sizes = {i.filename.rsplit("_", 1)[-1]: i.file_size for i in archive.infolist()}
    assert len(archive.infolist()) > 25
    assert sizes["B04.jp2"] > 4 * sizes["B11.jp2"] > 4 * 7 * sizes["B01.jp2"] / 8
    s1 = safe_zip(entry.name, "S1", 400_000, seed=3)
    sb.replace_entry(entry.name, content=s1, size=len(s1))
    product = next(p for p in all_products(peps_backend(sb)) if p.id == entry.name)
    pattern = member_pattern(polarisations=["VV"])
    result = run_transfer(job(sb, product, tmp_path, pattern or ""))
    assert result.outcome is Outcome.DONE, result.reason
    got = sorted(
        p.relative_to(tmp_path / f"{entry.name}.SAFE").as_posix()
        for p in tmp_path.rglob("*")
        if p.is_file()
    )
    assert [g.split("/")[0] for g in got] == [
        "annotation",
        "annotation",
        "annotation",
        "measurement",
    ]
    assert all("-vv-" in g for g in got)


def test_directory_longer_than_the_first_read(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, _ = sandbox
    product = all_products(peps_backend(sb))[0]
    data = zip_bytes(
        {f"{product.id}.SAFE/QI_DATA/{'x' * 60}_{i:04d}.gml": f"<q>{i}</q>" for i in range(400)}
    )
    product = serve(sb, product.id, data)
    result = run_transfer(job(sb, product, tmp_path, r"_000[0-4]\.gml$"))
    assert result.outcome is Outcome.DONE, result.reason
    assert len(list(tmp_path.rglob("*.gml"))) == 5


def test_rerun_with_another_selection_then_whole(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    """The ledger does not take a member run for the whole product: another selection, then
    the whole archives, are fetched on later runs into the same folder."""
    sb, _ = sandbox
    backend = peps_backend(sb)
    products = all_products(backend)
    assert downloader(backend, tmp_path, members="B04").download(products).ok
    assert downloader(backend, tmp_path, members="B08").download(products).ok
    assert len(list(tmp_path.rglob("*B08.jp2"))) == len(products)
    report = downloader(backend, tmp_path).download(products)
    assert report.ok, report.format()
    assert len(list(tmp_path.glob("*.zip"))) == len(products)


def test_dropped_connection_mid_member_is_retried(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, contents = sandbox
    backend = peps_backend(sb)
    products = all_products(backend)
    victim = products[1]
    sb.faults.arm("drop", at=5_000, times=1, products=[victim.id])  # the directory read
    sb.faults.arm("drop", at=60_000, times=1, products=[victim.id])  # inside B12
    report = downloader(backend, tmp_path, members="B12").download(products)
    assert report.ok, report.format()
    (path,) = tmp_path.rglob(f"{victim.id}.SAFE/**/*B12.jp2")
    assert path.read_bytes() == next(
        v for k, v in contents[victim.id].items() if k.endswith("B12.jp2")
    )
    assert not list(tmp_path.rglob(".*.part-*"))


def test_member_bomb_fails_that_product(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, _ = sandbox
    product = all_products(peps_backend(sb))[0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{product.id}.SAFE/B04.jp2", b"\0" * 50_000_000)
    product = serve(sb, product.id, buffer.getvalue())
    result = run_transfer(job(sb, product, tmp_path, "B04"))
    assert result.outcome is Outcome.FAILED
    assert "compression bomb" in result.reason
    assert not list(tmp_path.rglob("*.jp2"))


def test_stalled_member_is_cut_and_retried(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    sb, contents = sandbox
    product = all_products(peps_backend(sb))[2]
    sb.faults.arm("stall", at=40_000, delay=3.0, times=1, products=[product.id])
    sb.faults.arm("stall", at=40_000, delay=3.0, times=1, products=[product.id])
    first = run_transfer(dataclasses.replace(job(sb, product, tmp_path, "B11"), stall_timeout=0.5))
    assert first.outcome is Outcome.RETRY and first.stalled, first.reason
    assert "stalled" in first.reason
    sb.faults.clear()
    again = run_transfer(job(sb, product, tmp_path, "B11"))
    assert again.outcome is Outcome.DONE, again.reason
    (path,) = tmp_path.rglob("*B11.jp2")
    assert path.read_bytes() == next(
        v for k, v in contents[product.id].items() if k.endswith("B11.jp2")
    )


# -- the ledger records members done: a killed run continues member by member --------------------
KILL_CHILD = """
import sys
from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.query import Query
from eodag_peps_plus.staging import Downloader

url, out, user, password, members = sys.argv[1:6]
backend = get_backend("peps", url, credentials=Credentials(user, password))
products = list(backend.search(Query.create(collection="S2ST")))
Downloader(backend, out, quiet=True, poll_initial=0.05, members=members).download(products)
"""


def many_members(name: str, seed: int) -> bytes:
    """Twelve stored band files of 60 kB: a selection of them takes several members' time."""
    rng = random.Random(seed)
    granule = f"{name}.SAFE/GRANULE/L1C/IMG_DATA"
    files: dict[str, bytes | str] = {f"{name}.SAFE/manifest.safe": "<xfdu/>"}
    for band in ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B09", "B10", "B11"):
        files[f"{granule}/T31TCJ_{band}.jp2"] = rng.randbytes(60_000)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def recorded_members(ledger: Path) -> dict[str, set[str]]:
    """What the ledger says is done, read as another process would (read-only)."""
    import sqlite3

    if not ledger.exists():
        return {}
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=5)
    try:
        rows = db.execute("SELECT product_id, name FROM members").fetchall()
    except sqlite3.OperationalError:  # the table is not there yet
        rows = []
    finally:
        db.close()
    done: dict[str, set[str]] = {}
    for product_id, name in rows:
        done.setdefault(product_id, set()).add(name)
    return done


def expected_ranges(data: bytes, names: set[str]) -> set[tuple[int, int]]:
    """The range requests for ``names``: one per run of adjacent members, from the first's
    local header to the next member's (or the directory)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = sorted(archive.infolist(), key=lambda i: i.header_offset)
        directory = archive.start_dir
    ends = [i.header_offset for i in infos[1:]] + [directory]
    runs: list[list[int]] = []
    for info, end in zip(infos, ends, strict=True):
        if info.filename not in names:
            continue
        if runs and runs[-1][1] == info.header_offset:
            runs[-1][1] = end
        else:
            runs.append([info.header_offset, end])
    return {(a, b) for a, b in runs}


def test_kill_9_mid_selection_continues_member_by_member(
    staging_sandbox: Callable[..., Sandbox], tmp_path: Path
) -> None:
    """A real ``kill -9`` while members stream: the rerun reads the directory again, then
    only the members the ledger did not record (server-side ranges and bytes counted), and
    takes the recorded ones without reading them from disk."""
    import os
    import signal
    import subprocess
    import sys

    from eodag_peps_plus.sandbox import DEFAULT_PASSWORD, DEFAULT_USER
    from eodag_peps_plus.staging.ledger import LEDGER_NAME

    catalogue = staging_catalogue(3, size_range=(100_000, 100_000), offline=0.0, seed=21)
    sb = staging_sandbox(catalogue, per_connection_bps=150_000)  # ~4 s per product
    archives = {}
    for seed, entry in enumerate(list(sb.catalogue.entries)):
        archives[entry.name] = many_members(entry.name, seed)
        sb.replace_entry(entry.name, content=archives[entry.name], size=len(archives[entry.name]))
    pattern = r"_B0[2-9]\.jp2$|_B1[01]\.jp2$"  # ten members a product
    ledger = tmp_path / LEDGER_NAME
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            KILL_CHILD,
            sb.url,
            str(tmp_path),
            DEFAULT_USER,
            DEFAULT_PASSWORD,
            pattern,
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while sum(map(len, recorded_members(ledger).values())) < 6:
            if child.poll() is not None:
                raise AssertionError(f"child ended early: {child.stderr.read().decode()}")
            assert time.monotonic() < deadline, "the members never started"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    done = recorded_members(ledger)
    assert all(len(names) < 10 for names in done.values()), "killed after the end"
    assert list(tmp_path.rglob(".*.part-*")), "killed between two members, not inside one"

    sb.httpd.per_connection_rate = None
    backend = peps_backend(sb)
    products = all_products(backend)
    time.sleep(0.3)  # the search reply's last bytes are counted once its thread has sent them
    sb.served.clear()
    before = sb.stats["bytes_sent"]
    report = downloader(backend, tmp_path, members=pattern).download(products)
    assert report.ok, report.format()
    sent = sb.stats["bytes_sent"] - before
    wanted_bytes = 0
    for entry in report.products:
        data = archives[entry.id]
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            selected = {i.filename for i in archive.infolist() if re.search(pattern, i.filename)}
            for name in selected:  # every member there, with the archive's bytes
                assert (tmp_path / name).read_bytes() == archive.read(name)
        recorded = done.get(entry.id, set())
        assert f"({len(recorded)} recorded by the ledger)" in entry.reason, entry.reason
        served = [(a, b) for n, a, b in sb.served if n == entry.id]
        tail = [(a, b) for a, b in served if b == len(data)]
        assert len(tail) == 1  # the directory: one read
        members = set(served) - set(tail)
        assert members == expected_ranges(data, selected - recorded)
        wanted_bytes += sum(b - a for a, b in served)
    assert sent == wanted_bytes
    assert not list(tmp_path.rglob(".*.part-*"))  # the killed run's part was removed


def test_member_trust_rule_ledger_then_crc(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    """Recorded and unchanged: trusted unread. Not recorded: checked by CRC (and recorded if
    right, fetched again if not). Recorded but changed since: checked again, fetched again."""
    import os

    from eodag_peps_plus.staging.ledger import Ledger, MemberBook

    sb, contents = sandbox
    product = all_products(peps_backend(sb))[0]
    ledger_path = tmp_path / "ledger.sqlite"
    Ledger(ledger_path).close()
    out = tmp_path / "out"

    def run() -> tuple[str, int]:
        time.sleep(0.2)
        before = sb.stats["bytes_sent"]
        result = run_transfer(
            dataclasses.replace(job(sb, product, out, "B0[48]"), ledger=ledger_path)
        )
        assert result.outcome is Outcome.DONE, result.reason
        return result.reason, sb.stats["bytes_sent"] - before

    reason, first = run()
    assert "0 already there" in reason
    ledger = Ledger(ledger_path)
    try:
        assert set(MemberBook(ledger, product.id).done()) == {
            k for k in contents[product.id] if k.endswith(("B04.jp2", "B08.jp2"))
        }
    finally:
        ledger.close()
    reason, again = run()
    assert "2 already there (2 recorded by the ledger)" in reason and again <= TAIL_READ
    (b04,) = out.rglob("*_B04.jp2")
    (b08,) = out.rglob("*_B08.jp2")
    good = b04.read_bytes()
    b04.write_bytes(bytes(len(good)))  # same size, other bytes, newer mtime: fetched again
    info = b08.stat()
    os.utime(b08, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))  # touched only: CRC says fine
    reason, third = run()
    assert "1 already there (0 recorded by the ledger)" in reason, reason
    assert b04.read_bytes() == good and TAIL_READ < third < first
    reason, _ = run()
    assert "(2 recorded by the ledger)" in reason


def test_directory_read_sized_by_the_last_archive_of_its_kind(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    """The first archive of a kind is read from TAIL_READ bytes before its end; the next ones
    from their directory's length (as the first had it) plus TAIL_SLACK: not the bytes of the
    last members with it. A longer directory costs one more read of exactly the rest."""
    from eodag_peps_plus.staging.members import TAIL_SLACK

    sb, _ = sandbox
    products = all_products(peps_backend(sb))
    for product in products[:3]:
        assert run_transfer(job(sb, product, tmp_path, "MTD")).outcome is Outcome.DONE
    reads = []
    for product in products[:3]:
        data = sb.entry(product.id).content or b""
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            directory = len(data) - archive.start_dir
        (tail,) = [(a, b) for n, a, b in sb.served if n == product.id and b == len(data)]
        reads.append((tail[1] - tail[0], directory))
    assert reads[0][0] == TAIL_READ
    for read, directory in reads[1:]:
        assert directory <= read <= directory + TAIL_SLACK
    longer = zip_bytes({f"{products[3].id}.SAFE/{'x' * 90}_{i:04d}.xml": "<m/>" for i in range(40)})
    product = serve(sb, products[3].id, longer)
    sb.served.clear()
    assert run_transfer(job(sb, product, tmp_path, "_0000.xml$")).outcome is Outcome.DONE
    with zipfile.ZipFile(io.BytesIO(longer)) as archive:
        start = archive.start_dir
    first, rest, member = sorted(((a, b) for _, a, b in sb.served), key=lambda r: -r[1])
    assert first[1] == len(longer) and rest == (start, first[0]) and member[0] == 0


def test_members_recorded_from_transfer_processes(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    """Transfers in child processes record their members in the run's ledger too; the rerun
    takes them from it, reading nothing but the directories."""
    from eodag_peps_plus.staging.ledger import LEDGER_NAME

    sb, contents = sandbox
    backend = peps_backend(sb)
    products = all_products(backend)
    report = downloader(backend, tmp_path, members="B1[12]", transfer_processes=1).download(
        products
    )
    assert report.ok, report.format()
    done = recorded_members(tmp_path / LEDGER_NAME)
    assert done == {
        name: {k for k in files if k.endswith(("B11.jp2", "B12.jp2"))}
        for name, files in contents.items()
    }
    sb.served.clear()
    again = downloader(backend, tmp_path, members="B1[12]", transfer_processes=1).download(products)
    assert again.ok and all("(2 recorded by the ledger)" in p.reason for p in again.products)
    assert all(end == len(sb.entry(name).content or b"") for name, _, end in sb.served)


def test_reprocessed_archive_forgets_its_recorded_members(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    """The same name, new bytes (reprocessed, without B08 now): the ledger's records of the
    old members go with the product's old size and MD5; the new B04 is fetched and recorded."""
    from eodag_peps_plus.staging.ledger import LEDGER_NAME

    sb, contents = sandbox
    backend = peps_backend(sb)
    products = all_products(backend)
    assert downloader(backend, tmp_path, members="B0[48]").download(products).ok
    victim = products[0]
    (b04_path,) = [k for k in contents[victim.id] if k.endswith("_B04.jp2")]
    products[0] = serve(sb, victim.id, zip_bytes({b04_path: b"reprocessed" * 5000}))
    sb.served.clear()
    report = downloader(backend, tmp_path, members="B0[48]").download(products)
    assert report.ok, report.format()
    entry = next(p for p in report.products if p.id == victim.id)
    assert "1 members verified (CRC-32, size), 0 already there" in entry.reason, entry.reason
    assert (tmp_path / b04_path).read_bytes() == b"reprocessed" * 5000
    assert len([n for n, _, _ in sb.served if n == victim.id]) == 2  # directory, B04
    assert recorded_members(tmp_path / LEDGER_NAME)[victim.id] == {b04_path}


def test_end_records_further_back_than_the_kind_learned(
    sandbox: tuple[Sandbox, dict[str, dict[str, bytes]]], tmp_path: Path
) -> None:
    """A tiny archive teaches a short first read. A zip64 archive of the same kind is read
    from it (end records found) plus exactly the rest of its longer directory; an archive
    whose end record lies further back (a long comment) is read again from TAIL_READ bytes
    before its end. Both give their members."""
    sb, _ = sandbox
    products = all_products(peps_backend(sb))
    small = serve(sb, products[0].id, zip_bytes({f"{products[0].id}.SAFE/MTD.xml": "<m/>"}))
    assert run_transfer(job(sb, small, tmp_path, "MTD")).outcome is Outcome.DONE
    for index, comment in ((1, b""), (2, b"c" * 3000)):
        data, files = safe_zip(products[index].id, seed=98, zip64=not comment)
        if comment:
            buffer = io.BytesIO(data)
            with zipfile.ZipFile(buffer, "a") as archive:
                archive.comment = comment
            data = buffer.getvalue()
        product = serve(sb, products[index].id, data)
        sb.served.clear()
        result = run_transfer(job(sb, product, tmp_path, "B12"))
        assert result.outcome is Outcome.DONE, result.reason
        (path,) = tmp_path.rglob(f"{product.id}.SAFE/**/*B12*")
        assert path.read_bytes() == next(v for k, v in files.items() if "B12" in k)
        tails = sorted(b - a for _, a, b in sb.served if b == len(data))
        assert tails[0] < 4096 and tails[1:] == ([TAIL_READ] if comment else []), tails
