"""Backend registry: a name (``peps``, ``geodes``) or a URL gives a ready backend."""

from __future__ import annotations

from typing import Any

from .._lazy import load
from ..exceptions import UnknownBackendError
from .base import Backend, SearchPage

#: name -> ("module:Class", default base URL)
REGISTRY: dict[str, tuple[str, str]] = {
    "peps": ("eodag_peps_plus.backends.peps:PepsBackend", "https://peps.cnes.fr"),
    "geodes": ("eodag_peps_plus.backends.geodes:GeodesBackend", "https://geodes-portal.cnes.fr"),
}

__all__ = ["Backend", "SearchPage", "REGISTRY", "backend_class", "get_backend"]


def backend_class(name: str) -> type[Backend]:
    try:
        target = REGISTRY[name][0]
    except KeyError:
        raise UnknownBackendError(
            f"unknown backend {name!r}; known: {', '.join(sorted(REGISTRY))}"
        ) from None
    cls: type[Backend] = load(target)
    return cls


def get_backend(name: str, base_url: str | None = None, **kwargs: Any) -> Backend:
    """Instantiate backend ``name`` at ``base_url`` (its public server by default)."""
    cls = backend_class(name)
    return cls(base_url or REGISTRY[name][1], **kwargs)
