"""Scripts and styles embedded in the pages, so a report opens with no network at all.

Leaflet comes from the ``django-js-lib-leaflet`` wheel (Leaflet's own release files, repackaged
with no dependency; the package is never imported as a Django app, only read). Its CSS refers
to a few images by relative URL; they are inlined as data URIs so nothing is fetched from disk
or network either. Base-map tiles are the one online resource, and the page says when they do
not load.
"""

from __future__ import annotations

import base64
import functools
import importlib.resources
import re
from importlib.abc import Traversable

from .products import ReportError

__all__ = ["DEFAULT_ATTRIBUTION", "DEFAULT_TILES", "leaflet_css", "leaflet_js"]

#: OpenStreetMap's standard tiles (usage policy: light, interactive use with attribution).
DEFAULT_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DEFAULT_ATTRIBUTION = "&copy; OpenStreetMap contributors"


def _leaflet_dir() -> Traversable:
    try:
        return importlib.resources.files("js_lib_leaflet") / "static" / "js_lib_leaflet"
    except ModuleNotFoundError:
        raise ReportError(
            "the map needs Leaflet: pip install 'django-js-lib-leaflet>=1.9.4,<1.10'"
        ) from None


@functools.cache
def leaflet_js() -> str:
    text = (_leaflet_dir() / "leaflet.js").read_text(encoding="utf-8")
    # The source map is not shipped in the page: drop the comment pointing to it.
    return _safe_script(re.sub(r"//# sourceMappingURL=\S+\s*$", "", text))


@functools.cache
def leaflet_css() -> str:
    folder = _leaflet_dir() / "images"

    def inline(match: re.Match[str]) -> str:
        name = match.group(1)
        data = base64.b64encode((folder / name).read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    css = (_leaflet_dir() / "leaflet.css").read_text(encoding="utf-8")
    return re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)


def _safe_script(text: str) -> str:
    """Text that cannot close its ``<script>`` element early."""
    return text.replace("</script", "<\\/script")
