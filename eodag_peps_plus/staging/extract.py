"""Extraction of a verified archive to ``<name>.SAFE``, never outside the output folder.

Entries are checked before anything is written (absolute paths, ``..``, symbolic links: the
"zip-slip" attack), extraction happens in a temporary folder next to the target and the result
is renamed into place, so a ``<name>.SAFE`` folder is always complete.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import stat
import threading
import time
import zipfile
from pathlib import Path, PurePosixPath

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError
from defusedxml.ElementTree import fromstring as xml_fromstring

from ..exceptions import DownloadError
from .file_names import safe_dir

__all__ = [
    "LEFTOVERS_TTL",
    "MAX_EXPANSION",
    "MAX_MANIFEST_BYTES",
    "MAX_MEMBERS",
    "SPACE_MARGIN",
    "clean_leftovers",
    "extract_archive",
    "record_tree",
    "safe_copy_problem",
    "tree_digest",
]


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


# -- a .SAFE folder counts only when its contents were checked ----------------------------------
#: The largest manifest read (Sentinel manifests are a few hundred KB).
MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def _key() -> str:
    from .storage import local_part_key  # storage names files with this module's rules

    return local_part_key()


def tree_digest(folder: Path) -> str | None:
    """A digest of every file's relative path and size under ``folder``; ``None`` if the folder
    or anything in it is a link or not a plain file or folder (nothing is followed)."""
    entries: list[tuple[str, int]] = []
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            with os.scandir(current) as found:
                for entry in found:
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        pending.append(Path(entry.path))
                    elif stat.S_ISREG(info.st_mode):
                        entries.append((os.path.relpath(entry.path, folder), info.st_size))
                    else:
                        return None
        except OSError:
            return None
    return hashlib.sha256(json.dumps(sorted(entries)).encode()).hexdigest()


def _record_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.checked")


def _record_mac(name: str, digest: str, key: str) -> str:
    return hmac.new(key.encode(), f"{name}\0{digest}".encode(), hashlib.sha256).hexdigest()


def record_tree(target: Path, name: str) -> None:
    """Remember, signed with this user's key, what an extraction put in ``target``."""
    digest = tree_digest(target)
    if digest is None:
        return
    record = _record_path(target)
    tmp = record.with_name(f"{record.name}.{secrets.token_hex(4)}")
    tmp.write_text(json.dumps({"tree": digest, "mac": _record_mac(name, digest, _key())}))
    os.replace(tmp, record)


def safe_copy_problem(target: Path, name: str) -> str | None:
    """Why the folder ``target`` cannot count as ``name``'s product, or ``None`` if it can: a
    real folder of ours (never a link) holding ``manifest.safe``, and whose contents are the
    ones an extraction of ours recorded, or the files and sizes its manifest lists."""
    try:
        info = target.lstat()
    except FileNotFoundError:
        return "it is not there"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        return "it is a link or not a folder"
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return "it belongs to another user"
    manifest = target / "manifest.safe"
    try:
        if not stat.S_ISREG(manifest.lstat().st_mode):
            return "its manifest.safe is not a file"
    except OSError:
        return "it has no manifest.safe"
    digest = tree_digest(target)
    if digest is None:
        return "it holds links or special files"
    if _recorded(target, name, digest) or _as_listed(target, manifest):
        return None
    return "its contents were never checked (no record of an extraction, no sizes in its manifest)"


def _recorded(target: Path, name: str, digest: str) -> bool:
    try:
        record = json.loads(_record_path(target).read_bytes()[:4096])
        return bool(
            record.get("tree") == digest
            and hmac.compare_digest(str(record.get("mac")), _record_mac(name, digest, _key()))
        )
    except (OSError, ValueError, AttributeError):
        return False


def _as_listed(target: Path, manifest: Path) -> bool:
    """Whether every data object the manifest lists is there with its size (at least one)."""
    try:
        if manifest.lstat().st_size > MAX_MANIFEST_BYTES:
            return False
        root = xml_fromstring(manifest.read_bytes(), forbid_dtd=True)
    except (OSError, ParseError, DefusedXmlException, ValueError):
        return False
    listed = 0
    for stream in root.iter():
        if not stream.tag.endswith("byteStream"):
            continue
        location = next((e for e in stream if e.tag.endswith("fileLocation")), None)
        href, size = (location.get("href") if location is not None else None), stream.get("size")
        if not href or not size or not size.isdigit():
            return False
        member = PurePosixPath(href)
        if member.is_absolute() or ".." in member.parts:
            return False
        try:
            info = (target / member).lstat()
        except OSError:
            return False
        if not stat.S_ISREG(info.st_mode) or info.st_size != int(size):
            return False
        listed += 1
    return listed > 0


def _set_aside(target: Path) -> None:
    """A ``<name>.SAFE`` that did not pass :func:`safe_copy_problem` makes way for the new
    extraction: a link is removed (never what it points to), a folder renamed, not deleted."""
    try:
        info = target.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        target.unlink()
        return
    os.replace(target, target.with_name(f".{target.name}.unchecked-{secrets.token_hex(4)}"))


#: The most an archive may expand to, in times its own size: Sentinel archives hold
#: already-compressed imagery (about 1 to 3 times), a compression bomb a thousand times.
MAX_EXPANSION = 100
#: The most members an archive may hold (a Sentinel-2 L1C SAFE has a few hundred).
MAX_MEMBERS = 100_000
#: Free space kept on the disk after an extraction.
SPACE_MARGIN = 16 * 1024 * 1024


def _check_sizes(archive: zipfile.ZipFile, zip_path: Path, out_dir: Path) -> None:
    """Refuse, before writing anything, an archive whose declared contents are out of
    proportion with it (zipfile stops each member at its declared size) or with the disk."""
    members = archive.infolist()
    declared = sum(info.file_size for info in members)
    check_expansion(zip_path.name, len(members), declared, zip_path.stat().st_size, out_dir)


def check_expansion(
    what: str,
    count: int,
    declared: int,
    size: int,
    out_dir: Path,
    advice: str = "download without -x",
) -> None:
    """The one bomb rule, for whole archives and member selections: at most
    :data:`MAX_MEMBERS` files, :data:`MAX_EXPANSION` times the compressed ``size``, and room
    on the disk.

    Raises:
        DownloadError: which of the three does not hold.
    """
    if count > MAX_MEMBERS:
        raise DownloadError(f"{what}: refusing to extract {count} files (more than {MAX_MEMBERS})")
    size = max(size, 1)
    if declared > MAX_EXPANSION * size:
        raise DownloadError(
            f"{what}: refusing to extract {_mb(declared)} from a {_mb(size)} archive "
            f"(over {MAX_EXPANSION} times its size: a compression bomb?)"
        )
    free = shutil.disk_usage(out_dir).free
    if declared + SPACE_MARGIN > free:
        raise DownloadError(
            f"{what}: extracting needs {_mb(declared)} and {out_dir} has {_mb(free)} "
            f"free; free some space, or {advice}"
        )


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def extract_archive(zip_path: Path, name: str, *, delete_archive: bool = False) -> Path:
    """Extract ``zip_path`` to ``<dir>/<name>.SAFE`` and return that folder.

    If the archive holds a single top-level ``*.SAFE`` folder (Sentinel archives do), that
    folder becomes ``<name>.SAFE``; otherwise the whole content goes inside it. A folder of
    that name already there is kept only if :func:`safe_copy_problem` finds nothing wrong.
    """
    out_dir = zip_path.parent
    target = out_dir / safe_dir(name)
    if safe_copy_problem(target, name) is None:
        if delete_archive:
            zip_path.unlink(missing_ok=True)
        return target
    tmp = out_dir / f".{target.name}.extracting-{os.getpid()}"
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile as exc:
        raise DownloadError(f"{zip_path.name} is not a valid zip archive: {exc}") from None
    with archive:
        _check_sizes(archive, zip_path, out_dir)  # refused before anything is written
        _check_members(archive, tmp)
        _set_aside(target)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            try:
                archive.extractall(tmp)
            except zipfile.BadZipFile as exc:
                raise DownloadError(f"{zip_path.name} is not a valid zip archive: {exc}") from None
            _place(tmp, target, name)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    if delete_archive:
        zip_path.unlink(missing_ok=True)
    return target


def _place(tmp: Path, target: Path, name: str) -> None:
    """Give the extracted tree its final name (the single ``*.SAFE`` inside, or all of it)."""
    entries = list(tmp.iterdir())
    single = len(entries) == 1 and entries[0].is_dir() and entries[0].name.endswith(".SAFE")
    try:
        os.replace(entries[0] if single else tmp, target)
    except OSError:
        if not target.is_dir():
            raise
        # Another process extracted the same archive first: keep its (complete) folder.
    shutil.rmtree(tmp, ignore_errors=True)
    record_tree(target, name)


#: Leftover extraction folders per output folder, from one listing: a batch checks every
#: product, and listing a folder of 100,000 archives once per product would be quadratic.
_LEFTOVERS: dict[Path, tuple[float, dict[str, list[Path]]]] = {}
_LEFTOVERS_LOCK = threading.Lock()
#: A listing is reused this long (seconds); leftovers only come from runs killed earlier.
LEFTOVERS_TTL = 600.0


def clean_leftovers(out_dir: Path, name: str) -> None:
    """Remove temporary extraction folders of a run that was killed."""
    for leftover in _leftovers(out_dir).pop(safe_dir(name), []):
        shutil.rmtree(leftover, ignore_errors=True)


def _leftovers(out_dir: Path) -> dict[str, list[Path]]:
    now = time.monotonic()
    with _LEFTOVERS_LOCK:
        cached = _LEFTOVERS.get(out_dir)
        if cached is not None and now - cached[0] < LEFTOVERS_TTL:
            return cached[1]
        found: dict[str, list[Path]] = {}
        try:
            with os.scandir(out_dir) as entries:
                for entry in entries:
                    base, marker, _ = entry.name.partition(".extracting-")
                    if marker and base.startswith("."):
                        found.setdefault(base[1:], []).append(Path(entry.path))
        except OSError:
            pass
        _LEFTOVERS[out_dir] = (now, found)
        return found
