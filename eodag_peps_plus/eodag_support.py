"""EODAG's ways, for code that runs outside EODAG's own machinery.

A gateway that knows our providers, installed or not: EODAG finds ``providers.yml`` only in
a regular install; from a source checkout (editable install, tests, benchmarks) the same file
is registered from code, so every path runs the same configuration. And credentials read the
way EODAG reads them, for the CLI and for plugins EODAG hands no auth.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .http_io import Credentials

if TYPE_CHECKING:
    from pystac import Item
    from shapely.geometry.base import BaseGeometry

    from .backends import Backend
    from .product import Product


def providers_yaml() -> str:
    """Our providers file: the installed copy, else the checkout's top-level one."""
    installed = resources.files("eodag_peps_plus").joinpath("providers.yml")
    if installed.is_file():
        return installed.read_text()
    return (Path(__file__).resolve().parent.parent / "providers.yml").read_text()


def provider_names() -> list[str]:
    return [name for name in yaml.safe_load(providers_yaml()) or {}]


def gateway(**endpoints: str) -> Any:
    """An ``EODataAccessGateway`` with our providers, base URLs overridden per provider
    (``gateway(peps="http://127.0.0.1:8642")``) as a user config would."""
    from eodag import EODataAccessGateway

    dag = EODataAccessGateway()
    # Registered even when EODAG found a copy: an editable install's copy is a snapshot taken
    # at install time, and the checkout's file is the one being developed.
    dag.update_providers_config(providers_yaml())
    for name in provider_names():
        if name in dag._providers:
            dag._providers[name].sync_collections(dag, strict_mode=False)
    if endpoints:
        overrides = {
            name: {"search": {"api_endpoint": url}, "download": {"api_endpoint": url}}
            for name, url in endpoints.items()
        }
        dag.update_providers_config(yaml.safe_dump(overrides))
    return dag


def eodag_feature(
    product: Product,
    provider: str,
    searched: BaseGeometry | None = None,
    *,
    item: Item | None = None,
) -> dict[str, Any]:
    """A product as the GeoJSON feature EODAG writes when it serializes an ``EOProduct``.

    ``eodag download --search-results FILE`` rebuilds a product with its provider's plugins only
    when the feature names the provider (``eodag:provider``) and carries the search
    intersection; without them EODAG falls back to a generic STAC provider and its plain HTTP
    download. The server's own id and fields (``geodes:id``...) let the downloader find the
    product again.

    Args:
        product: a product from a search.
        provider: the EODAG provider name (``peps``, ``geodes_plus``).
        searched: the searched footprint; without one the intersection is the footprint.
        item: ``product`` as a STAC item, when the caller already made it (not made twice).

    Returns:
        A STAC item as a dict, with EODAG's fields.
    """
    from shapely.geometry import mapping, shape

    from .stac import product_to_item

    feature = (item or product_to_item(product)).to_dict()
    footprint = feature.get("geometry")
    intersection = footprint
    if footprint and searched is not None:
        intersection = json.loads(json.dumps(mapping(shape(footprint).intersection(searched))))
    props = feature["properties"]
    props.update(product.native_properties())
    props["eodag:provider"] = provider
    props["eodag:search_intersection"] = intersection
    props["federation:backends"] = [provider]
    return feature


#: Names users write for each secret in eodag.yml or EODAG__<PROVIDER>__AUTH__CREDENTIALS__*.
USER_KEYS = ("username", "email", "user")
PASSWORD_KEYS = ("password",)
API_KEYS = ("apikey", "api_key", "x_api_key")


def credentials_from_mapping(raw: Mapping[str, Any]) -> Credentials:
    """``Credentials`` from a credentials block, whichever of the accepted key names it uses."""
    values = {str(k).lower(): str(v) for k, v in raw.items() if v not in (None, "")}
    return Credentials(
        username=next((values[k] for k in USER_KEYS if k in values), None),
        password=next((values[k] for k in PASSWORD_KEYS if k in values), None),
        api_key=next((values[k] for k in API_KEYS if k in values), None),
    )


def credentials_from_env(provider: str) -> Credentials:
    """Credentials the EODAG way: ``EODAG__<PROVIDER>__AUTH__CREDENTIALS__*`` or eodag.yml."""
    prefix = f"EODAG__{provider.upper()}__AUTH__CREDENTIALS__"
    env = {k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix)}
    if not env:
        env = _user_config(provider, "auth", "credentials") or {}
    return credentials_from_mapping(env)


def configured_endpoint(provider: str) -> str | None:
    """The base URL a user set for a provider: ``EODAG__<PROVIDER>__SEARCH__API_ENDPOINT``,
    else ``<provider>.search.api_endpoint`` in eodag.yml (``EODAG_CFG_FILE``)."""
    value = os.environ.get(f"EODAG__{provider.upper()}__SEARCH__API_ENDPOINT")
    if not value:
        value = _user_config(provider, "search", "api_endpoint")
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
        value = _user_config(provider, "auth", "trusted_origins")
    if not value:
        return []
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    return [str(v) for v in value]


def _user_config(provider: str, section: str, key: str) -> Any:
    """One value of the user's eodag.yml, or ``None`` (no file, bad YAML, no such key)."""
    path = Path(os.environ.get("EODAG_CFG_FILE") or Path.home() / ".config" / "eodag" / "eodag.yml")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    block = data.get(provider) if isinstance(data, dict) else None
    block = block.get(section) if isinstance(block, dict) else None
    return block.get(key) if isinstance(block, dict) else None


def open_backend(
    name: str,
    url: str | None = None,
    *,
    credentials: Credentials | None = None,
    trusted: Any = None,
    verify: bool | str = True,
) -> Backend:
    """Backend ``name`` configured the EODAG way, for every entry point alike.

    Args:
        name: a backend name (``peps``, ``geodes``).
        url: base URL; default: the provider's configured endpoint, else the public server.
        credentials: default: the provider's EODAG credentials (environment, eodag.yml).
        trusted: extra origins for the credentials; default: the provider's
            ``trusted_origins`` setting.
        verify: TLS verification.

    Raises:
        UnknownBackendError: no such backend.
    """
    from .backends import get_backend, spec_for

    spec = spec_for(name)
    return get_backend(
        name,
        url or configured_endpoint(spec.provider),
        credentials=credentials if credentials is not None else credentials_from_env(spec.provider),
        trusted_origins=trusted_origins(spec.provider, trusted),
        verify=verify,
    )
