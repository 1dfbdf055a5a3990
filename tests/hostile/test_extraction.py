"""``-x`` never extracts more than the archive and the disk can hold (issue 25, item 3): the
declared sizes are checked against a ratio of the archive's size and the free space before
anything is written, and a refusal names the numbers."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable
from pathlib import Path

from eodag_peps_plus.staging import DownloadStatus

from .conftest import HostileServer
from .test_downloads import GOOD, peps, product, run, serve


def _zip(payload: bytes, method: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method, compresslevel=9 if method else None) as archive:
        archive.writestr(f"{GOOD}.SAFE/manifest.safe", b"<xml/>")
        archive.writestr(f"{GOOD}.SAFE/measurement/data.bin", payload)
    return buffer.getvalue()


def _leftovers(out: Path) -> list[str]:
    return sorted(n for n in os.listdir(out) if ".SAFE" in n)


def test_a_compression_bomb_is_refused_before_writing(
    hostile: HostileServer, tmp_path: Path
) -> None:
    data = _zip(b"\0" * (200 * 2**20), zipfile.ZIP_DEFLATED)  # 200 MB in about 200 kB
    assert len(data) < 2**20
    good = product(GOOD, serve(hostile, "/dl/bomb", data), data)  # size and MD5 match
    report = run(peps(hostile), tmp_path, [good], extract=True)
    entry = report.products[0]
    assert entry.status is DownloadStatus.FAILED, report.format()
    assert "compression bomb" in entry.reason and "209.7 MB" in entry.reason, entry.reason
    assert _leftovers(tmp_path) == []


def test_extraction_is_refused_when_the_disk_is_too_small(
    hostile: HostileServer, tiny_disk: Callable[[str], Path]
) -> None:
    out = tiny_disk("10m")
    data = _zip(os.urandom(6 * 2**20), zipfile.ZIP_STORED)  # fits once, not twice
    good = product(GOOD, serve(hostile, "/dl/big", data), data)
    report = run(peps(hostile), out, [good], extract=True)
    entry = report.products[0]
    assert entry.status is DownloadStatus.FAILED, report.format()
    assert "free" in entry.reason and "without -x" in entry.reason, entry.reason
    assert _leftovers(out) == []
    assert (out / f"{GOOD}.zip").read_bytes() == data  # the verified archive stays
