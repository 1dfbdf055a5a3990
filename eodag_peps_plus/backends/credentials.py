"""One credential resolver: every entry point finds a server's account the same way.

The CLI, the legacy drop-ins, the pystac-style client, the EODAG plugins and the job store all
call :func:`resolve`, so a secret set in two places is taken from the same one everywhere.
Precedence (the first source holding the secret the server takes wins):

1. given in code: ``open_backend(credentials=...)``, ``Client.open(credentials=...)``, or what
   EODAG hands a download (its auth plugin, itself resolved by this order);
2. ``user:password@`` in the server URL;
3. the legacy ``-a`` file (``email password`` for PEPS, the API key alone for GEODES);
4. the environment, ``EODAG__<PROVIDER>__AUTH__CREDENTIALS__*`` (EODAG's own rule: the
   environment wins over files);
5. the provider config EODAG built (``<provider>.auth.credentials`` of a gateway, set from code);
6. the user's eodag.yml (``$EODAG_CFG_FILE``, else ``~/.config/eodag/eodag.yml``).

The job store records where a job runs (backend and URL), never a secret: a job is followed
with its backend's credentials found by this same order, and they go to the job's URL only if
that is one of the backend's origins (:meth:`~.base.Backend.sibling`).

What is found carries where it came from (``Credentials.source``): a refusal names that place
(the ``-a`` file, the variable, eodag.yml) instead of listing every place a user could have
used. Nothing here ever logs or prints a secret.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import AuthenticationError
from ..http_io import Credentials, split_userinfo
from ..logs import get_logger
from .spec import BackendSpec, spec_for

logger = get_logger(__name__)

#: Names users write for each secret in eodag.yml or EODAG__<PROVIDER>__AUTH__CREDENTIALS__*.
USER_KEYS = ("username", "email", "user")
PASSWORD_KEYS = ("password",)
API_KEYS = ("apikey", "api_key", "x_api_key")


def credentials_from_mapping(raw: Mapping[str, Any], source: str = "") -> Credentials:
    """``Credentials`` from a credentials block, whichever of the accepted key names it uses."""
    values = {str(k).lower(): str(v) for k, v in raw.items() if v not in (None, "")}
    return Credentials(
        username=next((values[k] for k in USER_KEYS if k in values), None),
        password=next((values[k] for k in PASSWORD_KEYS if k in values), None),
        api_key=next((values[k] for k in API_KEYS if k in values), None),
        source=source,
    )


def eodag_config_path() -> Path:
    """The user's eodag.yml: ``$EODAG_CFG_FILE``, else EODAG's default place."""
    return Path(os.environ.get("EODAG_CFG_FILE") or Path.home() / ".config" / "eodag" / "eodag.yml")


def user_config(provider: str, section: str, key: str) -> Any:
    """One value of the user's eodag.yml, or ``None`` (no file, bad YAML, no such key).

    The file is parsed once per version (path, size and modification time): a download asks
    it for several keys, and EODAG's commented template takes milliseconds to parse each time.
    """
    path = eodag_config_path()
    try:
        info = path.stat()
    except OSError:
        return None
    data = _parsed_yaml(str(path), info.st_size, info.st_mtime_ns)
    block = data.get(provider) if isinstance(data, dict) else None
    block = block.get(section) if isinstance(block, dict) else None
    return copy.deepcopy(block.get(key)) if isinstance(block, dict) else None


@functools.lru_cache(maxsize=4)
def _parsed_yaml(path: str, size: int, mtime_ns: int) -> Any:
    """A YAML file's contents (``None`` if unreadable or not YAML), for one version of it."""
    try:
        return yaml.load(Path(path).read_text(), Loader=_YAML_LOADER)  # noqa: S506 - safe loader
    except (OSError, yaml.YAMLError):
        return None


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def from_environment(provider: str) -> Credentials:
    """``EODAG__<PROVIDER>__AUTH__CREDENTIALS__*``, named by the variables actually set."""
    prefix = f"EODAG__{provider.upper()}__AUTH__CREDENTIALS__"
    found = {k: v for k, v in os.environ.items() if k.startswith(prefix) and v}
    names = " and ".join(sorted(found))
    return credentials_from_mapping({k[len(prefix) :]: v for k, v in found.items()}, names)


def from_eodag_yml(provider: str) -> Credentials:
    """``<provider>.auth.credentials`` of the user's eodag.yml."""
    block = user_config(provider, "auth", "credentials")
    where = f"{provider}.auth.credentials in {eodag_config_path()}"
    return credentials_from_mapping(block if isinstance(block, Mapping) else {}, where)


def usable(credentials: Credentials | None, spec: BackendSpec) -> bool:
    """Whether ``credentials`` hold the secret this server takes."""
    if credentials is None:
        return False
    if spec.auth == "basic":
        return credentials.basic is not None
    if spec.auth == "apikey":
        return bool(credentials.api_key)
    return credentials.basic is not None or bool(credentials.api_key)


def parse_auth_file(path: str | Path, backend: str | BackendSpec) -> Credentials:
    """The legacy ``-a`` file: ``email password`` on one line for basic auth (PEPS), the API
    key alone for an API-key server (GEODES).

    The old scripts split the line on every space, so a password with a space broke them; here
    the password is everything after the first run of blanks, kept byte for byte.

    Returns:
        The credentials (``source`` names the file); empty for an API-key server when the file
        holds an ``email password`` account (the resolver then looks further).

    Raises:
        AuthenticationError: unreadable file, or no ``email password`` for a basic-auth server.
    """
    spec = backend if isinstance(backend, BackendSpec) else spec_for(backend)
    file = Path(path)
    source = f"the -a file {file}"
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
    if spec.auth == "basic":
        if len(parts) != 2:
            raise AuthenticationError(
                f"{file}: expected 'email password' on the first line ({spec.label} account)"
            )
        email = parts[0]
        password = line.lstrip()[len(email) :].lstrip(" \t")
        return Credentials(username=email, password=password, source=source)
    if len(parts) == 1:
        return Credentials(api_key=parts[0], source=source)
    return Credentials(source=source)


def _from_gateway(provider: str, config: Mapping[str, Any] | None) -> Credentials:
    """A gateway's ``auth.credentials``: named after eodag.yml when that is where EODAG read
    them (the environment was looked at before)."""
    if not config:
        return Credentials()
    found = credentials_from_mapping(config, f"EODAG's {provider}.auth.credentials setting")
    in_file = from_eodag_yml(provider)
    return in_file if found == in_file else found


def configured_endpoint(provider: str) -> str | None:
    """The base URL a user set for a provider: ``EODAG__<PROVIDER>__SEARCH__API_ENDPOINT``,
    else ``<provider>.search.api_endpoint`` in eodag.yml (``EODAG_CFG_FILE``)."""
    value = os.environ.get(f"EODAG__{provider.upper()}__SEARCH__API_ENDPOINT")
    if not value:
        value = user_config(provider, "search", "api_endpoint")
    return str(value).strip() if value else None


def trusted_origins(provider: str, configured: Any = None) -> list[str]:
    """Extra origins (mirrors) the user lets a provider's credentials go to; none by default.

    Read from ``configured`` (a plugin config value), else
    ``EODAG__<PROVIDER>__AUTH__TRUSTED_ORIGINS`` (comma or space separated), else
    ``<provider>.auth.trusted_origins`` in eodag.yml.
    """
    value = configured
    if value in (None, "", []):
        value = os.environ.get(f"EODAG__{provider.upper()}__AUTH__TRUSTED_ORIGINS")
    if value in (None, "", []):
        value = user_config(provider, "auth", "trusted_origins")
    if not value:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    return [str(v) for v in value]


def resolve(
    backend: str | BackendSpec,
    *,
    given: Credentials | None = None,
    url: str | None = None,
    auth_file: str | Path | None = None,
    eodag_config: Mapping[str, Any] | None = None,
) -> Credentials:
    """The account for ``backend``, from the first source in the module's precedence that
    holds the secret the server takes.

    Args:
        backend: a backend name or record.
        given: credentials given in code (or handed by EODAG); used whenever they hold a secret.
        url: the server URL, whose ``user:password@`` part counts as given.
        auth_file: the legacy ``-a`` file.
        eodag_config: the ``auth.credentials`` block of EODAG's provider config.

    Returns:
        The credentials with ``source`` set, or empty ones (``source`` empty) when no source
        has any: searches need none, and what needs them says how to configure them.

    Raises:
        AuthenticationError: the ``-a`` file cannot be read, or holds no secret this server
            takes and no other source has one (the message names the file).
    """
    spec = backend if isinstance(backend, BackendSpec) else spec_for(backend)
    if given is not None and (given.basic is not None or given.api_key):
        return (
            given
            if given.source
            else dataclasses.replace(given, source="credentials given in code")
        )
    userinfo = split_userinfo(url.strip())[1] if url else None
    if userinfo is not None:
        return Credentials(*userinfo, source="the user:password@ of the server URL")
    from_file = parse_auth_file(auth_file, spec) if auth_file is not None else None
    if usable(from_file, spec):
        assert from_file is not None
        return from_file
    sources: list[Callable[[], Credentials]] = [
        lambda: from_environment(spec.provider),
        lambda: _from_gateway(spec.provider, eodag_config),
        lambda: from_eodag_yml(spec.provider),
    ]
    for source in sources:
        found = source()
        if usable(found, spec):
            return found
    if auth_file is not None:
        raise AuthenticationError(
            f"{auth_file} holds an account ('email password'); {spec.label} needs an "
            f"{spec.credential_words}: put it alone on one line of the file, or "
            f"{spec.credentials_help()}"
        )
    return Credentials()


__all__ = [
    "configured_endpoint",
    "credentials_from_mapping",
    "eodag_config_path",
    "from_environment",
    "parse_auth_file",
    "resolve",
    "trusted_origins",
    "usable",
    "user_config",
]
