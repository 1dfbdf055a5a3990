"""Extraction is safe against archive entries that escape the output folder."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from eodag_peps_plus.exceptions import DownloadError
from eodag_peps_plus.staging.extract import extract_archive, safe_name

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
