"""One record per backend: everything the rest of the package needs to know about a server.

The registry, the CLI, the pystac-style client, the EODAG plugins, the staging downloader and
processing all read a :class:`BackendSpec` instead of keeping their own table of backend names,
URLs, providers or auth kinds. Adding an archive is one module defining ``SPEC`` (found by
:func:`specs`) plus its ``providers.yml`` block; code outside the package (or a test) can add one
with :func:`register_backend`.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from ..exceptions import UnknownBackendError
from ..http_io import connection_hint, origin

if TYPE_CHECKING:
    from .base import Backend

__all__ = [
    "AuthKind",
    "BackendSpec",
    "Probe",
    "register_backend",
    "spec_for",
    "spec_for_provider",
    "specs",
]

#: How a server authenticates archive and processing requests.
AuthKind = Literal["basic", "apikey", "none"]


@dataclasses.dataclass(frozen=True)
class Probe:
    """How to recognise this kind of server from a bare URL (``Client.open(url)``).

    ``GET base + path`` with ``params`` answers JSON holding ``key``.
    """

    path: str
    key: str
    params: tuple[tuple[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class BackendSpec:
    """What the package knows about one kind of server.

    Attributes:
        name: registry key, ``-B/--backend`` value and ``Product.backend`` (``peps``).
        label: the server's name in messages (``PEPS``).
        backend_class: ``"module:Class"`` of its :class:`~.base.Backend`, loaded lazily.
        default_url: the public server's base URL.
        provider: the EODAG provider name in ``providers.yml`` (``geodes_plus``).
        auth: ``basic`` (username/password), ``apikey`` (``X-API-Key``) or ``none``.
        credential_hosts: origins besides the configured base URL that the server documents
            for its archive or processing, where its credentials may go too.
        host_aliases: pairs of host names (a trailing dot: a name's first labels) that are
            the same service as each other, on the base URL's scheme and port: download
            links on the other name of the configured host get the credentials too.
        page_cap: the largest page the server honours (larger requests are capped silently).
        processing: ``"module:Class"`` of its processing service, if it runs MAJA.
        probe: how ``Client.open(url)`` recognises such a server.
        probe_order: when probes run (lower first; a host may answer several probes).
        account_help: how to get the credentials, ending help texts (``create an API key
            in ...``); empty when there is nothing to add.
        retired: why the public server no longer answers, said when a connection to
            ``default_url`` fails (PEPS); empty for a live server.
        default: the backend used when none is named (exactly one record sets it).
        gazetteer: the server resolves town names itself (else the offline gazetteer does).
        l2a: the server's catalogue holds MAJA L2A products (``ensure`` looks there too).
    """

    name: str
    label: str
    backend_class: str
    default_url: str
    provider: str
    auth: AuthKind = "none"
    credential_hosts: tuple[str, ...] = ()
    host_aliases: tuple[tuple[str, str], ...] = ()
    page_cap: int = 500
    processing: str | None = None
    probe: Probe | None = None
    #: Order in which probes run when a URL is opened (lower first).
    probe_order: int = 100
    account_help: str = ""
    retired: str = ""
    default: bool = False
    gazetteer: bool = False
    l2a: bool = False

    @property
    def credential_words(self) -> str:
        """What the user must configure, in messages."""
        return {"basic": "username and password", "apikey": "API key"}.get(self.auth, "credentials")

    @property
    def credential_keys(self) -> tuple[str, ...]:
        """The keys of ``<provider>.auth.credentials`` (eodag.yml) this server needs."""
        return {"basic": ("username", "password"), "apikey": ("apikey",)}.get(self.auth, ())

    @property
    def credential_variables(self) -> tuple[str, ...]:
        """The EODAG environment variables holding this server's secrets (names, never values)."""
        prefix = f"EODAG__{self.provider.upper()}__AUTH__CREDENTIALS__"
        return tuple(prefix + key.upper() for key in self.credential_keys)

    def credentials_help(self) -> str:
        """How to configure this server's credentials: the one help text every message ends
        with (``-B geodes`` names GEODES's variables, never PEPS's)."""
        keys = " and ".join(self.credential_keys) or "credentials"
        text = (
            f"set {keys} under {self.provider}.auth.credentials in eodag.yml, or "
            f"{' and '.join(self.credential_variables) or 'its EODAG variables'}"
        )
        return f"{self.account_help} and {text}" if self.account_help else text

    def refused_help(self, source: str = "") -> str:
        """What to check when the server refuses the credentials: the place they came from
        (``source``, as :func:`~eodag_peps_plus.credentials.resolve` names it), else how to
        configure them."""
        if source:
            text = f"check the {self.label} {self.credential_words} in {source}"
            return f"{text} ({self.account_help})" if self.account_help else text
        return f"check the {self.label} {self.credential_words}: {self.credentials_help()}"

    def credential_origins(self, base_url: str, trusted: Iterable[str] = ()) -> frozenset[str]:
        """Where this server's credentials may be sent: the base URL's origin, the hosts the
        server documents, and the extra origins the user chose to trust (mirrors)."""
        found = {origin(base_url)}
        scheme, _, rest = found.copy().pop().partition("://")
        host, _, port = rest.rpartition(":")
        for pair in self.host_aliases:
            for name, other in (pair, pair[::-1]):
                if host == name or (name.endswith(".") and host.startswith(name)):
                    found.add(f"{scheme}://{other}{host[len(name) :]}:{port}")
        found.update(origin(url) for url in self.credential_hosts)
        found.update(origin(url) for url in trusted)
        return frozenset(found)

    def load(self) -> type[Backend]:
        from .._lazy import load

        cls: type[Backend] = load(self.backend_class)
        return cls


_lock = threading.Lock()
_registered: dict[str, BackendSpec] = {}
_discovered = False

#: Modules of this package that are building blocks, not servers.
_NOT_SERVERS = frozenset({"base", "spec", "stac_api", "paging", "credentials"})


def _discover() -> None:
    """Collect ``SPEC`` from every server module of this package (once)."""
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(__package__ or "eodag_peps_plus.backends")
    found: list[BackendSpec] = []
    for module in pkgutil.iter_modules(package.__path__):
        if module.name in _NOT_SERVERS or module.name.startswith("_"):
            continue
        spec = getattr(importlib.import_module(f"{package.__name__}.{module.name}"), "SPEC", None)
        if isinstance(spec, BackendSpec):
            found.append(spec)
    with _lock:
        for spec in found:
            _registered.setdefault(spec.name, spec)
            _note_retired(spec)
        _discovered = True


def _note_retired(spec: BackendSpec) -> None:
    """A connection failure to a retired public server says so (not just "cannot connect")."""
    if spec.retired and spec.default_url:
        connection_hint(spec.default_url, spec.retired)


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Make a backend known to every entry point (CLI ``-B``, ``Client.open``, EODAG plugins).

    Args:
        spec: the backend's record; its ``name`` must not be taken by another spec.

    Returns:
        The spec, so a module can write ``SPEC = register_backend(BackendSpec(...))``.

    Raises:
        ValueError: another spec already has that name.
    """
    _discover()
    with _lock:
        known = _registered.get(spec.name)
        if known is not None and known != spec:
            raise ValueError(f"backend {spec.name!r} is already registered")
        _registered[spec.name] = spec
    _note_retired(spec)
    return spec


def specs() -> dict[str, BackendSpec]:
    """Every known backend, by name."""
    _discover()
    return dict(_registered)


def spec_for(name: str) -> BackendSpec:
    """The record of backend ``name``.

    Raises:
        UnknownBackendError: no such backend.
    """
    known = specs()
    try:
        return known[name]
    except KeyError:
        raise UnknownBackendError(
            f"unknown backend {name!r}; known: {', '.join(sorted(known))}"
        ) from None


def default_backend() -> BackendSpec:
    """The backend used when none is named: the one record with ``default=True`` (GEODES;
    PEPS is retired). Every entry point (``-B``, the drop-ins, ``migrate``, ``Client.open``,
    the EODAG plugins) reads it here."""
    known = specs()
    chosen = [spec for spec in known.values() if spec.default]
    if len(chosen) != 1:
        raise UnknownBackendError(
            f"exactly one backend must be the default; found {len(chosen)} "
            f"({', '.join(sorted(s.name for s in chosen)) or 'none'})"
        )
    return chosen[0]


def l2a_backend() -> BackendSpec:
    """The backend whose catalogue holds MAJA L2A products (``l2a=True``: GEODES), where
    ``maja ensure`` and the calendar look for L2A already made."""
    found = [spec for spec in specs().values() if spec.l2a]
    if not found:
        raise UnknownBackendError("no backend serves MAJA L2A products")
    return found[0]


def spec_for_provider(provider: str) -> BackendSpec | None:
    """The record of the backend behind an EODAG provider name, if any."""
    return next((s for s in specs().values() if s.provider == provider), None)
