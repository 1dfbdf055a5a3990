"""The output folder is not trusted blindly (issue 25, item 2): another local user (shared
scratch, NFS, a dask ``--part-dir``) may leave links and forged files there. Parts are opened
without following links and must be regular files of ours; a sidecar is believed only if this
user signed it for that very file; a ``.SAFE`` counts only with its manifest and contents."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eodag_peps_plus.staging import DownloadStatus

from .conftest import HostileServer
from .test_downloads import ETAG, GOOD, make_zip, peps, product, run, serve


def _forge_part(out: Path, name: str, data: bytes, target: Path, *, link: str) -> Path:
    """A part that is really ``target`` (outside the folder), with a sidecar forged from the
    public catalogue: size, MD5 and the server's ETag."""
    target.write_bytes(data[:14_000])
    out.mkdir(exist_ok=True)
    part = out / f"{name}.zip.part"
    if link == "symlink":
        part.symlink_to(target)
    else:
        os.link(target, part)
    md5 = product(name, "http://x", data).md5
    forged = {"validator": ETAG, "size": len(data), "md5": md5, "token": "forged"}
    (out / f"{name}.zip.part.json").write_text(json.dumps(forged))
    return part


def _check_untouched(hostile: HostileServer, tmp_path: Path, link: str) -> None:
    data = make_zip(size=60_000)
    out, outside = tmp_path / "out", tmp_path / "outside.bin"
    _forge_part(out, GOOD, data, outside, link=link)
    report = run(peps(hostile), out, [product(GOOD, serve(hostile, "/dl/good", data), data)])
    assert report.products[0].status is DownloadStatus.DONE, report.format()
    assert outside.read_bytes() == data[:14_000], "bytes were written outside the folder"
    final = out / f"{GOOD}.zip"
    assert not final.is_symlink() and final.read_bytes() == data
    assert "resumed" not in report.products[0].reason


def test_a_symlinked_part_is_never_written_through(hostile: HostileServer, tmp_path: Path) -> None:
    _check_untouched(hostile, tmp_path, "symlink")


def test_a_hard_linked_part_is_never_resumed(hostile: HostileServer, tmp_path: Path) -> None:
    _check_untouched(hostile, tmp_path, "hardlink")


def test_a_forged_sidecar_does_not_resume_our_part(hostile: HostileServer, tmp_path: Path) -> None:
    """Our own part, its sidecar replaced by one forged from the catalogue (and a part that
    is not the archive's start): the part is fetched again from byte 0, and verifies."""
    data = make_zip(size=60_000)
    out = tmp_path / "out"
    out.mkdir()
    (out / f"{GOOD}.zip.part").write_bytes(b"PK\x03\x04" + b"\xff" * 13_996)
    md5 = product(GOOD, "http://x", data).md5
    forged = {"validator": ETAG, "size": len(data), "md5": md5, "token": "forged"}
    (out / f"{GOOD}.zip.part.json").write_text(json.dumps(forged))
    report = run(peps(hostile), out, [product(GOOD, serve(hostile, "/dl/good", data), data)])
    entry = report.products[0]
    assert entry.status is DownloadStatus.DONE and "resumed" not in entry.reason, report.format()
    assert (out / f"{GOOD}.zip").read_bytes() == data


def _good(hostile: HostileServer) -> tuple[bytes, object]:
    data = make_zip(size=30_000)
    return data, product(GOOD, serve(hostile, "/dl/good", data), data)


@pytest.mark.parametrize("extract", [False, True], ids=["zip", "extract"])
@pytest.mark.parametrize("kind", ["empty", "symlink", "manifest only"])
def test_a_safe_folder_counts_only_with_checked_contents(
    hostile: HostileServer, tmp_path: Path, kind: str, extract: bool
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not ours to touch")
    safe = out / f"{GOOD}.SAFE"
    if kind == "symlink":
        safe.symlink_to(elsewhere, target_is_directory=True)
    else:
        safe.mkdir()
        if kind == "manifest only":
            (safe / "manifest.safe").write_text("<xfdu:XFDU xmlns:xfdu='urn:ccsds:schema:xfdu:1'/>")
    data, good = _good(hostile)
    report = run(peps(hostile), out, [good], extract=extract)
    entry = report.products[0]
    assert entry.status is DownloadStatus.DONE, report.format()
    assert not entry.present_before and entry.reason.startswith("downloaded"), report.format()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]
    if extract:
        assert not safe.is_symlink() and (safe / "payload.bin").is_file()
        again = run(peps(hostile), out, [good], extract=True).products[0]
        assert again.present_before, again.reason  # our own extraction counts next time
    else:
        assert (out / f"{GOOD}.zip").read_bytes() == data


def test_a_legacy_safe_folder_with_its_listed_files_counts(
    hostile: HostileServer, tmp_path: Path
) -> None:
    """A ``.SAFE`` from the old scripts (no record of ours): its manifest's data objects are
    all there with their sizes, so it is not fetched again."""
    out = tmp_path / "out"
    safe = out / f"{GOOD}.SAFE"
    (safe / "GRANULE").mkdir(parents=True)
    (safe / "GRANULE" / "B01.jp2").write_bytes(b"j" * 1234)
    (safe / "manifest.safe").write_text(
        "<xfdu:XFDU xmlns:xfdu='urn:ccsds:schema:xfdu:1'><dataObjectSection>"
        "<dataObject ID='B01'><byteStream mimeType='application/octet-stream' size='1234'>"
        "<fileLocation locatorType='URL' href='./GRANULE/B01.jp2'/></byteStream></dataObject>"
        "</dataObjectSection></xfdu:XFDU>"
    )
    _, good = _good(hostile)
    entry = run(peps(hostile), out, [good]).products[0]
    assert entry.present_before and entry.status is DownloadStatus.DONE, entry.reason
    (safe / "GRANULE" / "B01.jp2").write_bytes(b"j" * 10)  # one file cut short
    entry = run(peps(hostile), out, [good]).products[0]
    assert not entry.present_before and entry.reason.startswith("downloaded"), entry.reason
