"""File names a product may take: refused, never renamed, so a name stays inside the output
folder on every platform and still matches the product users searched for. Storage, staging
and processing results all name their files with these rules."""

from __future__ import annotations

import unicodedata

from ..exceptions import DownloadError

__all__ = ["MAX_NAME_BYTES", "file_key", "name_problem", "safe_dir", "safe_name"]

#: Characters Windows refuses in file names (plus every control character).
_WINDOWS_FORBIDDEN = frozenset('<>:"/\\|?*')
#: Names Windows reserves for devices, with any extension (``NUL.zip`` is the device too).
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {
        f"{port}{n}"
        for port in ("COM", "LPT")
        for n in (*"123456789", "\u00b9", "\u00b2", "\u00b3")
    }
)
_CONTROL = frozenset(map(chr, [*range(32), 127]))
#: Unicode categories of characters that change how a name looks without showing: format
#: characters (right-to-left override U+202E, zero-width space U+200B...), line and paragraph
#: separators, private use, surrogates and unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})
#: Longest name accepted, in UTF-8 bytes: file systems allow 255 per component, and the
#: working names add up to 40 (``.<name>.SAFE.extracting-<pid>``).
MAX_NAME_BYTES = 200


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file name on every platform, or ``None`` if it can."""
    if not isinstance(name, str) or not name:
        return "it is empty"
    if name in (".", ".."):
        return "it names a folder, not a file"
    if not _CONTROL.isdisjoint(name):
        return "it contains a control character"
    hidden = next((c for c in name if unicodedata.category(c) in _HIDDEN_CATEGORIES), None)
    if hidden is not None:
        return (
            f"it contains U+{ord(hidden):04X}, an invisible or text-direction character "
            "(the name shown would not be the file's)"
        )
    bad = sorted(_WINDOWS_FORBIDDEN.intersection(name))
    if bad:
        return f"it contains {' '.join(bad)} (a path separator, a drive or a forbidden character)"
    if name.startswith("."):
        return "it starts with a dot (a hidden file, like this tool's working files)"
    if name != name.rstrip(". ") or name != name.lstrip(" "):
        return "it starts with a space or ends with a dot or a space (Windows drops them)"
    if name.split(".")[0].rstrip(" ").upper() in _WINDOWS_RESERVED:
        return "it is a device name reserved by Windows"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"it is longer than {MAX_NAME_BYTES} bytes"
    return None


def file_key(name: str) -> str:
    """Names with the same key are the same file somewhere: Windows and macOS ignore letter
    case, and macOS normalises Unicode."""
    return unicodedata.normalize("NFC", name).casefold()


def safe_name(name: str) -> str:
    """``name`` as a file name that stays inside the output folder on every platform.

    Refuses, never renames: two products renamed to the same file would overwrite each other,
    and a renamed file no longer matches the product name users search and scripts look for.
    Refused are empty names, ``.`` and ``..``, path separators (``/``, ``\\``), drive letters
    and Windows's forbidden characters (``C:x``, ``<>:"|?*``), control characters (NUL...),
    a leading dot, leading spaces and trailing dots or spaces, Windows device names
    (``CON``, ``NUL``, ``COM1``... with any extension) and names over
    :data:`MAX_NAME_BYTES` bytes. ESA product names and MAJA result names pass unchanged.

    Raises:
        DownloadError: the name is refused; the message says why.
    """
    problem = name_problem(name)
    if problem is not None:
        shown = repr(name[:80] + "...") if len(name) > 80 else repr(name)
        raise DownloadError(f"refusing product name {shown} as a file name: {problem}")
    return name


def safe_dir(name: str) -> str:
    """``<name>.SAFE`` (legacy ``peps_download.py`` layout)."""
    return safe_name(name) if name.endswith(".SAFE") else f"{safe_name(name)}.SAFE"
