"""EODAG search plugin: EODAG keyword arguments -> unified ``Query`` -> backend -> EOProducts.

Kept thin on purpose: paging, mapping and validation live in the backend and the query model,
so the pystac-style client and the CLI behave exactly like ``eodag search``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import click
from eodag.api.search_result import SearchResult
from eodag.plugins.search import PreparedSearch
from eodag.plugins.search.base import Search
from eodag.utils.exceptions import ValidationError
from shapely.geometry.base import BaseGeometry

from ..backends import Backend, get_backend
from ..collection_names import resolve
from ..exceptions import InvalidQueryError
from ..query import Query
from .convert import shapes, to_eoproduct

logger = logging.getLogger(__name__)

#: EODAG / STAC / PEPS-native parameter names -> unified query fields.
PARAMETER_ALIASES: dict[str, str] = {
    "start_datetime": "start", "startDate": "start", "start": "start",
    "end_datetime": "end", "completionDate": "end", "end": "end",
    "eo:cloud_cover": "max_cloud_cover", "cloudCover": "max_cloud_cover", "cloud_cover": "max_cloud_cover",
    "platform": "platform",
    "product:type": "product_type", "productType": "product_type", "product_type": "product_type",
    "sar:instrument_mode": "sensor_mode", "sensorMode": "sensor_mode", "sensor_mode": "sensor_mode",
    "sat:relative_orbit": "relative_orbit", "relativeOrbitNumber": "relative_orbit", "orbit": "relative_orbit",
    "relative_orbit": "relative_orbit",
    "sat:absolute_orbit": "orbit_number", "orbitNumber": "orbit_number", "orbit_number": "orbit_number",
    "sat:orbit_state": "orbit_direction", "orbitDirection": "orbit_direction", "orbit_direction": "orbit_direction",
    "grid:code": "tile", "tileid": "tile", "tile": "tile", "tileIdentifier": "tile", "mgrs": "tile",
    "q": "location", "location": "location",
    "box": "bbox", "bbox": "bbox",
    "id": "identifiers", "productIdentifier": "identifiers", "identifiers": "identifiers",
}  # fmt: skip
#: Keys EODAG adds on its own; they are not search criteria.
EODAG_INTERNAL = {
    "number_matched",
    "provider",
    "locations",
    "count",
    "raise_errors",
    "validate",
    "collection",
}
#: Descriptive fields EODAG fills from the collection definition; the collection already says them.
COLLECTION_DESCRIPTORS = {"instruments", "constellation", "processing:level", "eodag:sensor_type", "keywords", "title", "description", "license", "abstract"}  # fmt: skip


def _platform(value: Any) -> str:
    """``sentinel-2a`` (STAC) or ``S2A`` (PEPS) -> ``S2A``."""
    text = str(value).strip()
    match = re.fullmatch(r"(?i)sentinel-?(\d)([a-z])", text)
    return f"S{match.group(1)}{match.group(2).upper()}" if match else text.upper()


def _geometry(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseGeometry):
        lonmin, latmin, lonmax, latmax = value.bounds
        if value.geom_type == "Polygon" and value.equals(value.envelope):
            return {"bbox": (lonmin, latmin, lonmax, latmax)}
        if value.geom_type == "Point":
            return {"point": (value.x, value.y)}
        return {"geometry": value}
    if isinstance(value, dict) and {"lonmin", "latmin", "lonmax", "latmax"} <= value.keys():
        return {"bbox": (value["lonmin"], value["latmin"], value["lonmax"], value["latmax"])}
    if isinstance(value, (list, tuple)) and len(value) == 4:
        return {"bbox": tuple(value)}
    return {"geometry": value}


def build_query(collection_config: dict[str, Any], kwargs: dict[str, Any]) -> Query:
    """Unified query from EODAG kwargs and the provider's per-collection defaults."""
    fields: dict[str, Any] = {}
    native = collection_config.get("_collection")
    if native:  # PEPS (S2ST), EODAG (S2_MSI_L1C) or GEODES (PEPS_S2_L1C) spelling
        fields["collection"], implied_type = resolve(str(native))
        if implied_type:
            fields["product_type"] = implied_type
    if collection_config.get("product:type"):
        fields["product_type"] = collection_config["product:type"]
    unknown = []
    for key, value in kwargs.items():
        if value is None or key in EODAG_INTERNAL or key in COLLECTION_DESCRIPTORS:
            continue
        if key == "geometry":
            fields.update(_geometry(value))
        elif key in ("lat", "lon"):
            lon, lat = kwargs.get("lon"), kwargs.get("lat")
            if lon is None or lat is None:
                raise InvalidQueryError("point: give both lat and lon")
            fields["point"] = (lon, lat)
        elif key in PARAMETER_ALIASES:
            name = PARAMETER_ALIASES[key]
            fields[name] = _platform(value) if name == "platform" else value
        else:
            unknown.append(key)
    if unknown:
        raise InvalidQueryError(
            f"unsupported search parameter(s): {', '.join(sorted(unknown))}; supported: "
            f"{', '.join(sorted(set(PARAMETER_ALIASES)))}, geometry, lat, lon"
        )
    if isinstance(fields.get("tile"), str):
        fields["tile"] = fields["tile"].upper().removeprefix("MGRS-")
    return Query.create(**fields)


def refuse_in_eodag_cli(message: str) -> None:
    """Under ``eodag search``, bad input must end the command with one line and exit 1.

    EODAG's core logs and swallows every search exception, so its CLI would report
    "Returned 0 products" and overwrite the results file; only ``SystemExit`` passes through.
    The Python API (no eodag CLI context) gets a ``ValidationError`` instead.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is not None and ctx.find_root().command.name in ("eodag", "eodag-cli", "eodag_cli"):
        click.echo(f"Error: {message}", err=True)
        raise SystemExit(1)


class PepsPlusSearch(Search):
    """``type: PepsPlusSearch`` with ``backend: peps|geodes`` and ``api_endpoint`` (base URL)."""

    def __init__(self, provider: str, config: Any) -> None:
        super().__init__(provider, config)
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        """Built lazily so the base URL reflects user config and ``EODAG__*`` overrides."""
        if self._backend is None:
            name = getattr(self.config, "backend", None) or "peps"
            self._backend = get_backend(name, getattr(self.config, "api_endpoint", None))
        return self._backend

    def collection_config(self, collection: str | None) -> dict[str, Any]:
        products: dict[str, Any] = getattr(self.config, "products", {}) or {}
        if not collection:
            return {}
        if collection in products:
            return dict(products[collection])
        generic = dict(products.get("GENERIC_COLLECTION", {}))
        if "_collection" in generic:
            generic["_collection"] = str(generic["_collection"]).format(collection=collection)
        return generic

    def query(self, prep: PreparedSearch = PreparedSearch(), **kwargs: Any) -> SearchResult:  # noqa: B008 - EODAG signature
        collection = kwargs.get("collection") or prep.collection
        try:
            query = build_query(self.collection_config(collection), kwargs)
        except InvalidQueryError as exc:
            refuse_in_eodag_cli(str(exc))
            raise ValidationError(str(exc)) from exc
        limit = prep.limit or self.backend.default_page_size
        token = prep.next_page_token
        page = self.backend.search_page(query, limit=limit, page=prep.page or 1, token=token)
        search_kwargs = {k: v for k, v in kwargs.items() if k not in ("number_matched",)}
        geometries = shapes(page.products)
        products = [
            to_eoproduct(p, self.provider, collection, geometry=g)
            for p, g in zip(page.products, geometries, strict=True)
        ]
        return SearchResult(
            products,
            page.matched if prep.count else None,
            search_params=search_kwargs | {"limit": limit, "collection": collection},
            next_page_token=page.next_token,
            next_page_token_key="page",  # noqa: S106 - a paging key, not a secret
        )
