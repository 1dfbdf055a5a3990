"""Copies already on disk: a product found complete is not fetched again, and a file that
cannot be verified against the catalogue is never trusted."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from ..exceptions import PepsPlusError
from ..product import Product
from .extract import clean_leftovers, extract_archive, safe_dir
from .ledger import Ledger, LedgerRow
from .transfer import file_md5, zip_path

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class OnDisk:
    """A complete copy and what it was verified against (for the report)."""

    path: str
    checks: tuple[str, ...]


def complete_copy(
    product: Product,
    out: Path,
    ledger: Ledger,
    row: LedgerRow,
    *,
    extract: bool,
    delete_archive: bool,
) -> OnDisk | None:
    """A complete copy of ``product`` in ``out``: ``<name>.SAFE`` (legacy layout), or
    ``<name>.zip`` whose length and MD5 match the catalogue (re-hashed unless the ledger
    recorded this very file); extracted when ``extract`` asks for it. ``None``: fetch it."""
    name = product.id
    safe = out / safe_dir(name)
    archive = zip_path(out, name)
    clean_leftovers(out, name)
    if safe.is_dir() and (
        row.extracted or (safe / "manifest.safe").exists() or not archive.exists()
    ):
        if delete_archive and archive.exists() and row.extracted:
            archive.unlink(missing_ok=True)
        return OnDisk(str(safe), ("folder present",))
    if not archive.is_file():
        return None
    info = archive.stat()
    expected_size, expected_md5 = product.size, product.md5
    if expected_size is not None and info.st_size != expected_size:
        logger.warning(
            "%s exists but has %d bytes, not %d: fetching it again",
            archive,
            info.st_size,
            expected_size,
        )
        return None
    if row.file_size == info.st_size and row.file_mtime_ns == info.st_mtime_ns:
        checks: tuple[str, ...] = ("verified by an earlier run",)
    elif expected_md5 is not None:
        if file_md5(archive).hexdigest() != expected_md5.lower():
            logger.warning(
                "%s exists but its MD5 does not match the catalogue: fetching it again", archive
            )
            return None
        ledger.mark_done(name, info.st_size, info.st_mtime_ns)
        checks = ("size", "MD5") if expected_size is not None else ("MD5",)
    else:
        return None  # nothing to verify it against: do not trust it
    if extract:
        try:
            folder = extract_archive(archive, name, delete_archive=delete_archive)
        except PepsPlusError as exc:
            logger.warning("%s: %s", name, exc)
            return None
        ledger.mark_extracted(name)
        return OnDisk(str(folder), checks)
    return OnDisk(str(archive), checks)
