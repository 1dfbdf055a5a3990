"""EODAG's ways, for code that runs outside EODAG's own machinery.

A gateway that knows our providers, installed or not: EODAG finds ``providers.yml`` only in
a regular install; from a source checkout (editable install, tests, benchmarks) the same file
is registered from code, so every path runs the same configuration. Credentials, endpoints and
trusted origins are read by :mod:`.backends.credentials` (one precedence); their names are kept
here for code written against them.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .backends import open_backend
from .backends.credentials import (
    configured_endpoint,
    credentials_from_mapping,
    from_environment,
    from_eodag_yml,
    resolve,
    trusted_origins,
)
from .http_io import Credentials

if TYPE_CHECKING:
    from pystac import Item
    from shapely.geometry.base import BaseGeometry

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


def credentials_from_env(provider: str) -> Credentials:
    """A provider's credentials the EODAG way (environment, then eodag.yml), for code that has
    no backend at hand; the precedence is :func:`~.backends.credentials.resolve`'s."""
    from .backends import spec_for_provider

    spec = spec_for_provider(provider)
    if spec is not None:
        return resolve(spec)
    found = from_environment(provider)
    return found if found.basic or found.api_key else from_eodag_yml(provider)


__all__ = [
    "configured_endpoint",
    "credentials_from_env",
    "credentials_from_mapping",
    "eodag_feature",
    "gateway",
    "open_backend",
    "provider_names",
    "providers_yaml",
    "trusted_origins",
]
