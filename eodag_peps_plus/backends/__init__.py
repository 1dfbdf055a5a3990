"""Backend registry: a name (``peps``, ``geodes``) or a URL gives a ready backend.

What is known about each server lives in its :class:`~.spec.BackendSpec` (``SPEC`` in its
module); this module only builds backends from those records.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import requests

from ..http_io import Credentials
from .base import Backend, SearchPage
from .credentials import configured_endpoint, resolve, trusted_origins
from .spec import (
    BackendSpec,
    default_backend,
    l2a_backend,
    register_backend,
    spec_for,
    spec_for_provider,
    specs,
)

__all__ = [
    "Backend",
    "BackendSpec",
    "SearchPage",
    "backend_class",
    "backend_names",
    "default_backend",
    "get_backend",
    "l2a_backend",
    "open_backend",
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


def get_backend(
    name: str,
    base_url: str | None = None,
    *,
    credentials: Credentials | None = None,
    trusted_origins: Sequence[str] = (),
    session: requests.Session | None = None,
    verify: bool | str = True,
    timeout: float = 60.0,
) -> Backend:
    """Backend ``name`` at ``base_url`` (its public server by default) with exactly what is
    given: nothing is read from the user's configuration (:func:`open_backend` does that).

    Args:
        name: a registered backend name.
        base_url: the server's base URL; a ``user:password@`` part becomes the credentials.
        credentials: the account; sent only to the backend's credential origins.
        trusted_origins: extra origins (mirrors) the credentials may go to.
        session: a session for searches.
        verify: TLS verification.
        timeout: seconds to wait for a reply.

    Raises:
        UnknownBackendError: no such backend.
    """
    spec = spec_for(name)
    return spec.load()(
        base_url or spec.default_url,
        credentials=credentials,
        trusted_origins=trusted_origins,
        session=session,
        verify=verify,
        timeout=timeout,
    )


def open_backend(
    name: str | None = None,
    url: str | None = None,
    *,
    credentials: Credentials | None = None,
    auth_file: str | Path | None = None,
    eodag_config: Mapping[str, Any] | None = None,
    trusted: Sequence[str] | str | None = None,
    verify: bool | str = True,
    timeout: float = 60.0,
) -> Backend:
    """Backend ``name`` as the user configured it, the same way for every entry point.

    Args:
        name: a backend name; default: :func:`~.spec.default_backend` (GEODES).
        url: base URL; default: the provider's configured endpoint
            (``EODAG__<PROVIDER>__SEARCH__API_ENDPOINT`` or eodag.yml), else the public server.
        credentials: the account given in code; default: found by
            :func:`~.credentials.resolve` (its docstring gives the one precedence).
        auth_file: a legacy ``-a`` file.
        eodag_config: the ``auth.credentials`` block of an EODAG provider config.
        trusted: extra origins for the credentials; default: the provider's
            ``trusted_origins`` setting.
        verify: TLS verification.
        timeout: seconds to wait for a reply.

    Raises:
        UnknownBackendError: no such backend.
        AuthenticationError: the ``-a`` file is unreadable or holds nothing usable.
    """
    spec = spec_for(name) if name else default_backend()
    base = url or configured_endpoint(spec.provider)
    found = resolve(
        spec, given=credentials, url=base, auth_file=auth_file, eodag_config=eodag_config
    )
    return get_backend(
        spec.name,
        base,
        credentials=found,
        trusted_origins=trusted_origins(spec.provider, trusted),
        verify=verify,
        timeout=timeout,
    )
