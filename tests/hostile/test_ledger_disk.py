"""Ledger and disk errors are one line naming the file and what to do (issue 25, item 4):
a ledger of random bytes, truncated, of a foreign schema or symlinked; a read-only folder;
``ulimit -f``; a full disk. Nothing half-written ever carries a final name."""

from __future__ import annotations

import json
import os
import resource
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.base import Backend
from eodag_peps_plus.exceptions import PepsPlusError
from eodag_peps_plus.staging import Downloader, DownloadStatus
from eodag_peps_plus.staging.ledger import LEDGER_NAME, Ledger

from .conftest import HostileServer
from .test_downloads import FAST, GOOD, make_zip, peps, product, serve


def _ledger_cases(folder: Path) -> dict[str, Callable[[Path], None]]:
    def random_bytes(path: Path) -> None:
        path.write_bytes(os.urandom(8192))

    def truncated(path: Path) -> None:
        ledger = Ledger(path)
        ledger.ensure_many([(f"P{i}", 100, None) for i in range(2000)])
        ledger.close()
        for extra in ("-wal", "-shm"):
            Path(f"{path}{extra}").unlink(missing_ok=True)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])

    def foreign(path: Path) -> None:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE products (id TEXT, name TEXT)")
        db.commit()
        db.close()

    def symlink(path: Path) -> None:
        elsewhere = folder / "elsewhere.sqlite"
        elsewhere.write_bytes(b"")
        path.symlink_to(elsewhere)

    return {"random": random_bytes, "truncated": truncated, "foreign": foreign, "symlink": symlink}


@pytest.mark.parametrize("case", ["random", "truncated", "foreign", "symlink"])
def test_a_bad_ledger_is_one_line_naming_it(tmp_path: Path, case: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    ledger = out / LEDGER_NAME
    _ledger_cases(tmp_path)[case](ledger)
    products = [product(GOOD, "http://127.0.0.1:9/x", make_zip())]
    with pytest.raises(PepsPlusError) as caught:
        Downloader(peps_for_nothing(), out, **FAST).download(products)
    message = str(caught.value)
    assert "\n" not in message and str(ledger) in message, message
    assert "move it aside" in message or "remove the link" in message, message
    if case == "symlink":
        assert (tmp_path / "elsewhere.sqlite").read_bytes() == b""


def peps_for_nothing() -> Backend:
    """A backend nothing is asked of (the ledger fails first)."""
    return get_backend("peps", "http://127.0.0.1:9", timeout=1)


def test_the_cli_says_it_in_one_line(tmp_path: Path) -> None:
    """``peps-plus download`` on a folder whose ledger is random bytes: no traceback."""
    out = tmp_path / "out"
    out.mkdir()
    (out / LEDGER_NAME).write_bytes(os.urandom(4096))
    results = _results(tmp_path, "http://127.0.0.1:9/x.zip", make_zip())
    done = _cli(["download", "-B", "peps", "--url", "http://127.0.0.1:9", "--search-results",
                 str(results), "--output-dir", str(out)], tmp_path)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and str(out / LEDGER_NAME) in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def _results(folder: Path, url: str, data: bytes) -> Path:
    """A results file of one item, as ``peps-plus search`` writes them."""
    props = {
        "title": GOOD,
        "datetime": "2020-01-01T10:54:31Z",
        "eodag:download_link": url,
        "file:size": len(data),
        "file:checksum": "d510" + str(product(GOOD, url, data).md5),
    }
    feature = {"type": "Feature", "id": GOOD, "properties": props,
               "geometry": {"type": "Point", "coordinates": [1.0, 43.0]}}  # fmt: skip
    path = folder / "results.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def _cli(args: list[str], cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EODAG__PEPS__AUTH__CREDENTIALS__USERNAME": "u",
           "EODAG__PEPS__AUTH__CREDENTIALS__PASSWORD": "p"}  # fmt: skip
    command = [str(Path(sys.executable).with_name("peps-plus")), *args]
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kwargs
    )


def _download(hostile: HostileServer, out: Path, size: int = 200_000):  # type: ignore[no-untyped-def]
    data = make_zip(size=size)
    good = product(GOOD, serve(hostile, "/dl/good", data), data)
    return data, Downloader(peps(hostile), out, **FAST).download([good])


def test_a_full_disk_is_one_line_and_leaves_no_final_name(
    hostile: HostileServer, tiny_disk: Callable[[str], Path]
) -> None:
    out = tiny_disk("1m")
    try:
        _, report = _download(hostile, out, size=3 * 2**20)
    except PepsPlusError as exc:  # the ledger itself could not grow
        assert "\n" not in str(exc) and "disk is full" in str(exc), exc
    else:
        entry = report.products[0]
        assert entry.status is DownloadStatus.FAILED, report.format()
        assert "No space left" in entry.reason and "free some space" in entry.reason, entry.reason
    assert not (out / f"{GOOD}.zip").exists()


def test_a_read_only_folder_is_one_line(
    hostile: HostileServer, tiny_disk: Callable[[str], Path]
) -> None:
    out = tiny_disk("1m")
    subprocess.run(["mount", "-o", "remount,ro", str(out)], check=True)
    with pytest.raises(PepsPlusError) as caught:
        _download(hostile, out)
    message = str(caught.value)
    assert "\n" not in message and str(out) in message and "read-only" in message, message


def test_a_file_size_limit_is_one_line(hostile: HostileServer, tmp_path: Path) -> None:
    """``ulimit -f`` in the child that downloads: the product fails with what to do, and
    the command exits with the report (2), not a traceback."""
    data = make_zip(size=400_000)
    results = _results(tmp_path, serve(hostile, "/dl/good", data), data)
    out = tmp_path / "out"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    done = _cli(["download", "-B", "peps", "--url", hostile.url, "--search-results",
                 str(results), "--output-dir", str(out)], tmp_path, preexec_fn=limit)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode in (1, 2), done.stderr
    said = done.stdout + done.stderr
    assert "file-size limit" in said, said[-2000:]
    assert not (out / f"{GOOD}.zip").exists()
