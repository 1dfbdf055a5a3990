"""Extraction of a verified archive to ``<name>.SAFE``, never outside the output folder.

Entries are checked before anything is written (absolute paths, ``..``, symbolic links: the
"zip-slip" attack), extraction happens in a temporary folder next to the target and the result
is renamed into place, so a ``<name>.SAFE`` folder is always complete.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from ..exceptions import DownloadError


def safe_name(name: str) -> str:
    """A product name usable as a file name: ESA names already are; anything else is refused
    rather than sanitised into a path that escapes the output folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
        raise DownloadError(f"refusing product name {name!r} as a file name")
    return name


def safe_dir(name: str) -> str:
    """``<name>.SAFE`` (legacy ``peps_download.py`` layout)."""
    return safe_name(name) if name.endswith(".SAFE") else f"{safe_name(name)}.SAFE"


def _check_members(archive: zipfile.ZipFile, root: Path) -> None:
    for info in archive.infolist():
        member = PurePosixPath(info.filename.replace("\\", "/"))
        if (
            member.is_absolute()
            or ".." in member.parts
            or (member.parts and ":" in member.parts[0])
        ):
            raise DownloadError(f"archive entry {info.filename!r} would escape the output folder")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise DownloadError(f"archive entry {info.filename!r} is a symbolic link; refused")
        target = (root / member).resolve()
        if not target.is_relative_to(root.resolve()):
            raise DownloadError(f"archive entry {info.filename!r} would escape the output folder")


def extract_archive(zip_path: Path, name: str, *, delete_archive: bool = False) -> Path:
    """Extract ``zip_path`` to ``<dir>/<name>.SAFE`` and return that folder.

    If the archive holds a single top-level ``*.SAFE`` folder (Sentinel archives do), that
    folder becomes ``<name>.SAFE``; otherwise the whole content goes inside it.
    """
    out_dir = zip_path.parent
    target = out_dir / safe_dir(name)
    if target.is_dir():
        if delete_archive:
            zip_path.unlink(missing_ok=True)
        return target
    tmp = out_dir / f".{target.name}.extracting-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        try:
            with zipfile.ZipFile(zip_path) as archive:
                _check_members(archive, tmp)
                archive.extractall(tmp)
        except zipfile.BadZipFile as exc:
            raise DownloadError(f"{zip_path.name} is not a valid zip archive: {exc}") from None
        entries = list(tmp.iterdir())
        single = len(entries) == 1 and entries[0].is_dir() and entries[0].name.endswith(".SAFE")
        try:
            os.replace(entries[0] if single else tmp, target)
        except OSError:
            if not target.is_dir():
                raise
            # Another process extracted the same archive first: keep its (complete) folder.
        shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if delete_archive:
        zip_path.unlink(missing_ok=True)
    return target


def clean_leftovers(out_dir: Path, name: str) -> None:
    """Remove temporary extraction folders of a run that was killed."""
    for leftover in out_dir.glob(f".{safe_dir(name)}.extracting-*"):
        shutil.rmtree(leftover, ignore_errors=True)
