"""The legacy ``-a`` file: ``email password`` on one line for PEPS, an API key for GEODES.

The file is one source of :func:`~eodag_peps_plus.backends.credentials.resolve`, which parses
it and places it in the one precedence (after credentials given in code, before EODAG's
environment and eodag.yml); these names are what the legacy commands call.
"""

from __future__ import annotations

from pathlib import Path

from ..backends.credentials import resolve
from ..http_io import Credentials


def credentials_env(backend: str) -> str:
    """The EODAG variable(s) holding ``backend``'s secret, for messages (never the value)."""
    from ..backends import spec_for

    return " and ".join(spec_for(backend).credential_variables)


def read_auth_file(path: str | Path, backend: str) -> Credentials:
    """Credentials for ``backend`` from a legacy auth file (an API-key server with an
    ``email password`` file takes the key from EODAG's environment or eodag.yml).

    Raises:
        AuthenticationError: unreadable file, or no usable secret for ``backend``.
    """
    return resolve(backend, auth_file=path)


def credentials_for(auth: str | Path | None, backend: str) -> Credentials:
    """The account for ``backend``: the ``-a`` file when given, else EODAG's environment and
    eodag.yml (an API-key server with an ``email password`` file looks there too).

    Raises:
        AuthenticationError: the file is unreadable or holds nothing usable (named).
    """
    return resolve(backend, auth_file=auth)


__all__ = ["credentials_env", "credentials_for", "read_auth_file"]
