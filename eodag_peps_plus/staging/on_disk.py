"""Copies already there (on disk or in the bucket): a product found complete is not fetched
again, and a file that cannot be verified against the catalogue is never trusted."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..exceptions import PepsPlusError
from ..logs import get_logger
from ..product import Product
from .extract import clean_leftovers, extract_archive, safe_copy_problem
from .file_names import safe_dir, safe_name
from .ledger import Ledger, LedgerRow
from .storage import Output, open_output

__all__ = ["OnDisk", "complete_copy"]

logger = get_logger(__name__)


@dataclasses.dataclass(frozen=True)
class OnDisk:
    """A complete copy and what it was verified against (for the report)."""

    path: str
    checks: tuple[str, ...]


def complete_copy(
    product: Product,
    out: Path | Output,
    ledger: Ledger,
    row: LedgerRow,
    *,
    extract: bool,
    delete_archive: bool,
) -> OnDisk | None:
    """A complete copy of ``product`` in ``out`` (a folder or an object store): ``<name>.SAFE``
    (legacy layout, folders only), or ``<name>.zip`` whose length and MD5 match the catalogue
    (re-hashed unless the ledger recorded this very file, or the store gives its MD5);
    extracted when ``extract`` asks for it. ``None``: fetch it."""
    name = product.id
    output = open_output(out)
    folder = output.folder
    if folder is not None:
        safe = folder / safe_dir(name)
        archive = folder / f"{safe_name(name)}.zip"
        clean_leftovers(folder, name)
        problem = safe_copy_problem(safe, name)
        if problem is None:
            if delete_archive and archive.exists() and row.extracted:
                archive.unlink(missing_ok=True)
            return OnDisk(str(safe), ("folder contents",))
        if os.path.lexists(safe):
            logger.warning("%s is not counted as %s: %s", safe, name, problem)
    stored = output.stat(name)
    if stored is None:
        return None
    expected_size, expected_md5 = product.size, (product.md5 or "").lower() or None
    if expected_size is not None and stored.size != expected_size:
        why = "%s exists but has %d bytes, not %d: fetching it again"
        logger.warning(why, stored.location, stored.size, expected_size)
        return None
    if row.file_size == stored.size and row.file_mtime_ns == stored.mtime_ns:
        checks: tuple[str, ...] = ("verified by an earlier run",)
    elif expected_md5 is not None:
        # An ETag is not always the MD5 (encrypted objects): read it before refusing it.
        if stored.md5 != expected_md5 and output.md5(name) != expected_md5:
            logger.warning(
                "%s exists but its MD5 does not match the catalogue: fetching it again",
                stored.location,
            )
            return None
        ledger.mark_done(name, stored.size, stored.mtime_ns)
        checks = ("size", "MD5") if expected_size is not None else ("MD5",)
    else:
        return None  # nothing to verify it against: do not trust it
    if extract and folder is not None:
        try:
            extracted = extract_archive(Path(stored.location), name, delete_archive=delete_archive)
        except PepsPlusError as exc:
            logger.warning("%s: %s", name, exc)
            return None
        ledger.mark_extracted(name)
        return OnDisk(str(extracted), checks)
    return OnDisk(stored.location, checks)
