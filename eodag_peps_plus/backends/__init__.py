"""Backend registry: a name (``peps``, ``geodes``) or a URL gives a ready backend.

What is known about each server lives in its :class:`~.spec.BackendSpec` (``SPEC`` in its
module); this module only builds backends from those records.
"""

from __future__ import annotations

from typing import Any

from .base import Backend, SearchPage
from .spec import BackendSpec, register_backend, spec_for, spec_for_provider, specs

__all__ = [
    "Backend",
    "BackendSpec",
    "SearchPage",
    "backend_class",
    "backend_names",
    "get_backend",
    "register_backend",
    "spec_for",
    "spec_for_provider",
    "specs",
]


def backend_names() -> list[str]:
    """Every registered backend name, sorted (for ``-B`` choices and messages)."""
    return sorted(specs())


def backend_class(name: str) -> type[Backend]:
    """The class of backend ``name``.

    Raises:
        UnknownBackendError: no such backend.
    """
    return spec_for(name).load()


def get_backend(name: str, base_url: str | None = None, **kwargs: Any) -> Backend:
    """Instantiate backend ``name`` at ``base_url`` (its public server by default).

    Args:
        name: a registered backend name.
        base_url: the server's base URL; a ``user:password@`` part becomes the credentials.
        **kwargs: :class:`~.base.Backend` options (``credentials``, ``trusted_origins``,
            ``session``, ``verify``, ``timeout``).

    Raises:
        UnknownBackendError: no such backend.
    """
    spec = spec_for(name)
    return spec.load()(base_url or spec.default_url, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":  # the former name -> ("module:Class", default URL) table
        return {n: (s.backend_class, s.default_url) for n, s in specs().items()}
    raise AttributeError(name)
