"""The legacy ``-a`` file: ``email password`` on one line for PEPS, an API key for GEODES.

The old scripts split the line on every space, so a password with a space broke them; here the
password is everything after the first run of blanks, kept byte for byte (special characters,
inner spaces). Nothing read here is ever printed.
"""

from __future__ import annotations

import stat
from pathlib import Path

from ..backends import spec_for
from ..eodag_support import credentials_from_env
from ..exceptions import AuthenticationError
from ..http_io import Credentials
from ..logs import get_logger

logger = get_logger(__name__)


def credentials_env(backend: str) -> str:
    """The EODAG variable(s) holding ``backend``'s secret, for messages (never the value)."""
    spec = spec_for(backend)
    prefix = f"EODAG__{spec.provider.upper()}__AUTH__CREDENTIALS__"
    if spec.auth == "basic":
        return f"{prefix}USERNAME and {prefix}PASSWORD"
    return f"{prefix}APIKEY"


def read_auth_file(path: str | Path, backend: str) -> Credentials:
    """Credentials for ``backend`` from a legacy auth file, else from EODAG's env/config.

    Args:
        path: the ``-a`` file.
        backend: a backend name; one with basic auth (PEPS) needs ``email password``, one
            with an API key (GEODES) needs the key alone (a PEPS-style file falls back to the
            key in the environment or eodag.yml).

    Returns:
        The credentials, never logged.

    Raises:
        AuthenticationError: unreadable file, or no usable secret for ``backend``.
    """
    file = Path(path)
    try:
        mode = file.stat().st_mode
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise AuthenticationError(f"auth file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthenticationError(
            f"cannot read the auth file {file}: {type(exc).__name__}"
        ) from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        logger.warning("%s is readable by other users; restrict it with: chmod 600 %s", file, file)
    lines = [line.rstrip("\r\n") for line in text.splitlines()]
    line = next((entry for entry in lines if entry.strip()), "")
    parts = line.strip().split(None, 1)
    spec = spec_for(backend)
    if spec.auth == "basic":
        if len(parts) != 2:
            raise AuthenticationError(
                f"{file}: expected 'email password' on the first line ({spec.label} account)"
            )
        email = parts[0]
        password = line.lstrip()[len(email) :].lstrip(" \t")
        return Credentials(username=email, password=password)
    if len(parts) == 1:
        return Credentials(api_key=parts[0])
    fallback = credentials_from_env(spec.provider)
    if fallback.api_key:
        return Credentials(api_key=fallback.api_key)
    raise AuthenticationError(
        f"{file} holds an account ('email password'); {spec.label} needs an API key: put it "
        f"alone on one line of the file, or set {credentials_env(backend)} (or "
        f"{spec.provider}'s apikey in eodag.yml)"
    )


def credentials_for(auth: str | Path | None, backend: str) -> Credentials:
    """From the ``-a`` file when given, else the EODAG way (environment, eodag.yml)."""
    if auth is not None:
        return read_auth_file(auth, backend)
    return credentials_from_env(spec_for(backend).provider)


__all__ = ["credentials_env", "credentials_for", "read_auth_file"]
