"""Extraction is safe against archive entries that escape the output folder."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from eodag_peps_plus.exceptions import DownloadError
from eodag_peps_plus.staging.extract import extract_archive
from eodag_peps_plus.staging.file_names import safe_name

NAME = "S2A_MSIL1C_20200101T000000_N0209_R051_T31TCJ_20200101T000000"


def _zip(path: Path, entries: dict[str, bytes], symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in entries.items():
            archive.writestr(member, data)
        if symlink is not None:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize(
    "evil",
    ["../evil.txt", f"{NAME}.SAFE/../../evil.txt", "/tmp/evil-absolute.txt", "C:/evil.txt"],
)
def test_entries_escaping_the_folder_are_refused(tmp_path: Path, evil: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    archive = _zip(out / f"{NAME}.zip", {f"{NAME}.SAFE/manifest.safe": b"<xml/>", evil: b"pwned"})
    with pytest.raises(DownloadError, match="escape"):
        extract_archive(archive, NAME)
    assert not (tmp_path / "evil.txt").exists()
    assert sorted(p.name for p in out.iterdir()) == [f"{NAME}.zip"]  # nothing half-extracted


def test_symlinks_are_refused(tmp_path: Path) -> None:
    archive = _zip(tmp_path / f"{NAME}.zip", {f"{NAME}.SAFE/manifest.safe": b"x"}, symlink="link")
    with pytest.raises(DownloadError, match="symbolic link"):
        extract_archive(archive, NAME)
    assert not (tmp_path / f"{NAME}.SAFE").exists()


def test_layouts(tmp_path: Path) -> None:
    archive = _zip(
        tmp_path / f"{NAME}.zip", {f"{NAME}.SAFE/manifest.safe": b"x", f"{NAME}.SAFE/a/b": b"y"}
    )
    folder = extract_archive(archive, NAME, delete_archive=True)
    assert folder == tmp_path / f"{NAME}.SAFE"
    assert (folder / "a" / "b").read_bytes() == b"y"
    assert not archive.exists()
    flat = _zip(tmp_path / "OTHER.zip", {"file.tif": b"z"})
    assert (extract_archive(flat, "OTHER") / "file.tif").read_bytes() == b"z"


def test_bad_archive_and_names(tmp_path: Path) -> None:
    bad = tmp_path / f"{NAME}.zip"
    bad.write_text('{"ErrorCode": 202}')
    with pytest.raises(DownloadError, match="not a valid zip"):
        extract_archive(bad, NAME)
    assert not any(p.is_dir() for p in tmp_path.iterdir())
    for name in ("", "..", "a/b", "a\\b"):
        with pytest.raises(DownloadError):
            safe_name(name)


def test_leftovers_of_a_killed_extraction_are_removed_from_one_listing(tmp_path: Path) -> None:
    """A run killed mid-extraction leaves ``.<name>.SAFE.extracting-<pid>``; the next one removes
    it, from one listing of the folder per batch (not one per product)."""
    from eodag_peps_plus.staging import extract

    out = tmp_path / "out"
    out.mkdir()
    other = NAME.replace("T31TCJ", "T31TCK")
    for name in (NAME, other):
        (out / f".{name}.SAFE.extracting-4242" / "half").mkdir(parents=True)
    (out / "unrelated.extracting-1").mkdir()
    scans = []
    real_scandir = extract.os.scandir

    def counting(path):  # type: ignore[no-untyped-def]
        scans.append(path)
        return real_scandir(path)

    extract.os.scandir = counting  # type: ignore[assignment]
    try:
        extract.clean_leftovers(out, NAME)
        extract.clean_leftovers(out, other)
        extract.clean_leftovers(out, "S1A_NOT_THERE")
    finally:
        extract.os.scandir = real_scandir  # type: ignore[assignment]
    assert sorted(p.name for p in out.iterdir()) == ["unrelated.extracting-1"]
    assert [s for s in scans if s == out] == [out]  # rmtree itself lists by descriptor
