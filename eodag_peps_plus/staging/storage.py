"""Where verified archives go: a local (or shared) folder, or an fsspec URL (``s3://...``).

Both keep the promise of :mod:`.transfer`: ``<name>.zip`` appears only complete and verified.
Bytes stream into ``<name>.zip.part`` in a folder every worker can reach (the output folder
itself, or ``part_dir`` for a bucket), and the validator of those bytes is kept beside them in
``<name>.zip.part.json`` (see :class:`PartState`), so whichever process comes next (another
worker, or the next run after a ``kill -9`` of the scheduler) can resume them. Committing the
verified part is an atomic rename in a folder, and one upload to an object store (a PUT or a
multipart upload: S3 shows an object only once its upload completed), so a broken file never
carries the final name.
"""

from __future__ import annotations

import abc
import dataclasses
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..exceptions import ConfigurationError
from ..extras import install_hint
from ..files import write_all
from .file_names import safe_name

#: Object stores whose uploads are atomic (an object appears whole or not at all); on any
#: other fsspec file system the upload goes to a temporary name first, then is moved.
ATOMIC_PUT = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "memory"})
#: Windows opens files in text mode without it (``os.open`` fds are never inherited).
BINARY = getattr(os, "O_BINARY", 0)
#: Files in the output folder are never opened through a link another user may have put
#: there (a part or sidecar pointing outside the folder).
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
#: An S3 ETag that is the MD5 of the object (single-part uploads; multipart ones end ``-N``).
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")

__all__ = [
    "LocalFolder",
    "ObjectStore",
    "Output",
    "PartState",
    "Stored",
    "file_md5",
    "is_url",
    "local_part_key",
    "open_output",
    "own_file_problem",
]


def file_md5(path: Path | int, limit: int | None = None) -> Any:
    """An MD5 object over the first ``limit`` bytes of a file (all of it by default): a path
    (never followed if it is a link) or an open descriptor (read from its start, left open
    where the reading stopped).
    """
    digest = hashlib.md5(usedforsecurity=False)
    remaining = limit
    fd = path if isinstance(path, int) else os.open(path, os.O_RDONLY | BINARY | O_NOFOLLOW)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        while remaining is None or remaining > 0:
            chunk = os.read(fd, 1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            digest.update(chunk)
            if remaining is not None:
                remaining -= len(chunk)
    finally:
        if not isinstance(path, int):
            os.close(fd)
    return digest


def own_file_problem(info: os.stat_result) -> str | None:
    """Why a file of the output folder is not one this tool may write or trust: a link, not
    a regular file, another user's, or a hard link (its bytes also live elsewhere)."""
    if stat.S_ISLNK(info.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISREG(info.st_mode):
        return "it is not a regular file"
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        return "it belongs to another user"
    if info.st_nlink > 1:
        return "it has other names (a hard link)"
    return None


@functools.lru_cache(maxsize=1)
def local_part_key() -> str:
    """This user's secret for signing sidecars (kept readable by the user only, in the state
    folder): a sidecar forged from the public catalogue (size, MD5, a guessed ETag) lacks the
    signature, so its part is never resumed. A scheduler passes it on to its workers."""
    import platformdirs

    folder = platformdirs.user_state_path("peps-plus")
    path = folder / "part-key"
    try:
        return _read_small(path).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        pass
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_hex(32)
    tmp = folder / f".part-key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY | O_NOFOLLOW, 0o600)
    try:
        write_all(fd, key.encode("ascii"))
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # the first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return _read_small(path).decode("ascii").strip()


def is_url(target: str | os.PathLike[str]) -> bool:
    """``s3://...``, ``memory://...``: anything with a scheme of two letters or more (``C:\\``
    is a Windows drive)."""
    text = str(target)
    scheme, sep, _ = text.partition("://")
    return bool(sep) and len(scheme) > 1 and scheme.replace("+", "").isalnum()


@dataclasses.dataclass(frozen=True)
class Stored:
    """A final archive: where, its size and modification time (what the ledger records to
    skip re-hashing it later), and the MD5 the store gives for free, if any."""

    location: str
    size: int
    mtime_ns: int
    md5: str | None = None


@dataclasses.dataclass(frozen=True)
class PartState:
    """What the bytes of a part file are, written by the worker before it streams them: the
    server's validator (``If-Range`` may only be sent with it) and the catalogue size and MD5
    of the product they belong to (a reprocessed product never continues an old part), and the
    writing attempt's ``token``: a worker left running by a killed scheduler sees the next
    run's attempt take its part over, and stops (:meth:`taken_over`).

    ``inode`` binds it to its part file, and ``mac`` signs it all with this user's key
    (:func:`local_part_key`): only a sidecar this tool wrote for this very file is believed.
    """

    validator: str | None
    size: int | None
    md5: str | None
    token: str = ""
    inode: int = 0
    mac: str = ""

    @staticmethod
    def path(part: Path) -> Path:
        return part.with_name(part.name + ".json")

    def _signature(self, part: Path, key: str) -> str:
        fields = [part.name, self.validator, self.size, self.md5, self.token, self.inode]
        message = json.dumps(fields).encode()
        return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()

    def signed(self, part: Path, key: str) -> PartState:
        return dataclasses.replace(self, mac=self._signature(part, key))

    @classmethod
    def read(cls, part: Path, key: str | None = None) -> PartState | None:
        """The sidecar of ``part``; ``None`` when missing, unreadable or, with ``key``, not
        signed by it (then the part is not resumed, unless the ledger recorded a validator
        for it: see :class:`TransferJob`)."""
        try:
            data = json.loads(_read_small(cls.path(part)))
            state = cls(
                data.get("validator"),
                data.get("size"),
                data.get("md5"),
                str(data.get("token", "")),
                int(data.get("inode") or 0),
                str(data.get("mac", "")),
            )
        except (OSError, ValueError, AttributeError, TypeError):
            return None
        if key is not None and not hmac.compare_digest(state.mac, state._signature(part, key)):
            return None
        return state

    def write(self, part: Path) -> None:
        """Atomically (a reader never sees half a sidecar); the temporary name carries the
        attempt's token, so two writers never share it."""
        target = self.path(part)
        tmp = target.with_name(f".{target.name}.{self.token or os.getpid()}")
        _write_small(tmp, json.dumps(dataclasses.asdict(self)).encode())
        os.replace(tmp, target)

    def taken_over(self, part: Path, key: str | None = None) -> bool:
        """Whether another attempt has written the sidecar since this one did."""
        current = self.read(part, key)
        return current is not None and current.token != self.token

    @classmethod
    def forget(cls, part: Path) -> None:
        """The part first, then its sidecar: a sidecar alone is harmless, a part alone with a
        stale sidecar is not."""
        part.unlink(missing_ok=True)
        cls.path(part).unlink(missing_ok=True)


def _read_small(path: Path, limit: int = 1 << 16) -> bytes:
    """A small file in one ``read`` (a sidecar is read twice per transfer: the buffered
    ``open`` costs four system calls more, each a chance for another thread to take the GIL).
    """
    fd = os.open(path, os.O_RDONLY | BINARY | O_NOFOLLOW)
    try:
        return os.read(fd, limit)
    finally:
        os.close(fd)


def _write_small(path: Path, data: bytes) -> None:
    path.unlink(missing_ok=True)  # never through a link left in its place
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | BINARY | O_NOFOLLOW, 0o644)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)


class Output(abc.ABC):
    """An output location. Picklable: workers in other processes use the same object."""

    def __init__(self, part_dir: Path) -> None:
        self.part_dir = part_dir

    #: The local folder holding the archives (extraction needs one), ``None`` for a store.
    folder: Path | None = None
    #: Where a final archive is, in words ("already on disk").
    where: str = "on disk"

    def part(self, name: str) -> Path:
        """The part file of ``name`` (its name checked: it never leaves the folder)."""
        return self.part_dir / f"{safe_name(name)}.zip.part"

    def prepare(self) -> None:
        """Create what must exist before the first transfer."""
        self.part_dir.mkdir(parents=True, exist_ok=True)

    @property
    @abc.abstractmethod
    def state_dir(self) -> Path:
        """Where the ledger goes by default."""

    @abc.abstractmethod
    def location(self, name: str) -> str:
        """The path or URL of the final archive (reported to the user)."""

    @abc.abstractmethod
    def stat(self, name: str) -> Stored | None:
        """The final archive, ``None`` if there is none."""

    @abc.abstractmethod
    def md5(self, name: str) -> str:
        """The MD5 of the final archive, reading it whole."""

    @abc.abstractmethod
    def commit(self, part: Path, name: str, md5: str) -> Stored:
        """Give the verified ``part`` (whose MD5 is ``md5``) its final name, atomically.

        Raises:
            OSError: the copy could not be written, or did not arrive whole (then no final
                archive is left).
        """


class LocalFolder(Output):
    """A folder on this machine or shared by every worker (NFS, a cluster file system)."""

    def __init__(self, folder: str | os.PathLike[str], part_dir: Path | None = None) -> None:
        self.dir = Path(folder)
        self.folder = self.dir
        super().__init__(Path(part_dir) if part_dir is not None else self.dir)

    def __repr__(self) -> str:
        return f"LocalFolder({str(self.dir)!r})"

    @property
    def state_dir(self) -> Path:
        return self.dir

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        super().prepare()

    def path(self, name: str) -> Path:
        return self.dir / f"{safe_name(name)}.zip"

    def location(self, name: str) -> str:
        return str(self.path(name))

    def stat(self, name: str) -> Stored | None:
        """The final archive, if it is a regular file (a link is never taken for it)."""
        path = self.path(name)
        try:
            info = path.lstat()
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        return Stored(str(path), info.st_size, info.st_mtime_ns)

    def md5(self, name: str) -> str:
        return str(file_md5(self.path(name)).hexdigest())

    def commit(self, part: Path, name: str, md5: str) -> Stored:
        final = self.path(name)
        try:
            os.replace(part, final)
        except OSError:  # ``part_dir`` on another file system: copy beside, then rename
            tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
            try:
                shutil.copyfile(part, tmp)
                _fsync(tmp)
                os.replace(tmp, final)
            finally:
                tmp.unlink(missing_ok=True)
            part.unlink(missing_ok=True)
        # The folder is not synced: a rename lost in a power cut leaves only the part file,
        # never a final name on unchecked bytes, and the next run (whose ledger then finds no
        # file) fetches it again; syncing the folder doubled the cost of a small archive.
        info = final.stat()
        return Stored(str(final), info.st_size, info.st_mtime_ns)


class ObjectStore(Output):
    """An fsspec URL (``s3://bucket/prefix``, ``gs://``, ``memory://`` for tests...).

    Parts live in ``part_dir``, a folder on the workers' disks (shared by them for a resume
    on another worker); ``storage_options`` go to fsspec (``client_kwargs``, ``key``...),
    and fsspec's own configuration applies too (``FSSPEC_S3_ENDPOINT_URL``, AWS variables).
    """

    where = "in the store"

    def __init__(
        self,
        url: str,
        *,
        part_dir: str | os.PathLike[str] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        storage_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.protocol = self.url.partition("://")[0].lower()
        self.storage_options = dict(storage_options or {})
        self._state_dir = Path(state_dir) if state_dir is not None else default_state_dir(url)
        super().__init__(Path(part_dir) if part_dir is not None else self._state_dir / "parts")
        self._fs: Any = None
        self._root = ""

    def __repr__(self) -> str:  # never the storage options: they may hold secrets
        return f"ObjectStore({self.url!r})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_fs"] = None  # rebuilt where it is used
        return state

    @property
    def state_dir(self) -> Path:
        return self._state_dir

    @property
    def fs(self) -> Any:
        if self._fs is None:
            try:
                import fsspec
            except ImportError:  # pragma: no cover - depends on the install
                raise ConfigurationError(
                    f"{self.url}: writing to a URL needs fsspec: {install_hint('dask')}"
                ) from None
            try:
                self._fs, self._root = fsspec.core.url_to_fs(self.url, **self.storage_options)
            except (ImportError, ValueError) as exc:
                raise ConfigurationError(f"{self.url}: {exc}") from None
        return self._fs

    def key(self, name: str) -> str:
        self.fs  # noqa: B018 - sets ``_root``
        return f"{self._root.rstrip('/')}/{safe_name(name)}.zip"

    def location(self, name: str) -> str:
        return f"{self.url}/{safe_name(name)}.zip"

    def prepare(self) -> None:
        super().prepare()
        try:
            self.fs.makedirs(self._root, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"{self.url}: cannot be written ({exc})") from None

    def stat(self, name: str) -> Stored | None:
        key = self.key(name)
        try:
            info = self.fs.info(key)
        except FileNotFoundError:
            return None
        if info.get("type") not in (None, "file"):
            return None
        etag = str(info.get("ETag") or info.get("etag") or "").strip('"').lower()
        return Stored(
            self.location(name),
            int(info.get("size") or 0),
            _mtime_ns(info),
            etag if _MD5_ETAG.match(etag) else None,
        )

    def md5(self, name: str) -> str:
        digest = hashlib.md5(usedforsecurity=False)
        with self.fs.open(self.key(name), "rb", block_size=1 << 22) as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        return digest.hexdigest()

    def commit(self, part: Path, name: str, md5: str) -> Stored:
        fs, key = self.fs, self.key(name)
        size = part.stat().st_size
        if self.protocol in ATOMIC_PUT:
            fs.put_file(str(part), key)
        else:
            tmp = f"{key}.uploading"
            fs.put_file(str(part), tmp)
            fs.mv(tmp, key)
        stored = self.stat(name)
        problem = None
        if stored is None:
            problem = "it is not there after the upload"
        elif stored.size != size:
            problem = f"{stored.size} bytes arrived instead of {size}"
        elif stored.md5 not in (None, md5.lower()) and self.md5(name) != md5.lower():
            problem = f"the store's MD5 {stored.md5} differs from the verified {md5}"
        if problem is not None or stored is None:
            if stored is not None:
                fs.rm(key)
            raise OSError(f"upload to {self.location(name)} failed: {problem}")
        part.unlink(missing_ok=True)
        return stored


def default_state_dir(url: str) -> Path:
    """Where the ledger (and by default the parts) of a URL output live on this machine."""
    import platformdirs

    digest = hashlib.sha1(url.rstrip("/").encode(), usedforsecurity=False).hexdigest()[:12]
    host = re.sub(r"[^A-Za-z0-9._-]+", "_", urlsplit(url).netloc or "store")[:40]
    return platformdirs.user_state_path("peps-plus") / "outputs" / f"{host}-{digest}"


def open_output(
    target: str | os.PathLike[str] | Output,
    *,
    part_dir: str | os.PathLike[str] | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Output:
    """The output for a folder, a ``file://`` URL or an fsspec URL.

    Args:
        target: a folder, or a URL such as ``s3://bucket/prefix``.
        part_dir: where part files go (default: the output folder; for a URL,
            ``<state_dir>/parts``). Workers on other machines need it shared to resume
            each other's parts.
        state_dir: where the ledger lives (only used here for the default ``part_dir``).
        storage_options: fsspec options for a URL.

    Returns:
        The output, not created yet (:meth:`Output.prepare`).

    Raises:
        ConfigurationError: options that do not fit the target.
    """
    if isinstance(target, Output):
        return target
    if not is_url(target):
        if storage_options:
            raise ConfigurationError("storage options only apply to a URL output (s3://...)")
        return LocalFolder(Path(target), Path(part_dir) if part_dir is not None else None)
    text = str(target)
    if text.lower().startswith("file://"):
        path = Path(unquote(urlsplit(text).path))
        return LocalFolder(path, Path(part_dir) if part_dir is not None else None)
    if part_dir is None and state_dir is not None:
        part_dir = Path(state_dir) / "parts"
    return ObjectStore(
        text, part_dir=part_dir, state_dir=state_dir, storage_options=storage_options
    )


def _mtime_ns(info: dict[str, Any]) -> int:
    """The modification time fsspec reports, in ns (``LastModified`` on S3)."""
    for key in ("LastModified", "last_modified", "mtime", "updated", "created"):
        value = info.get(key)
        if value is None:
            continue
        if hasattr(value, "timestamp"):
            return int(value.timestamp() * 1e9)
        try:
            return int(float(value) * 1e9)
        except (TypeError, ValueError):
            continue
    return 0


def _fsync(path: Path) -> None:
    """Flush a file's bytes to the disk before it gets its final name."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
