"""EODAG search plugin: EODAG keyword arguments -> unified ``Query`` -> backend -> EOProducts.

Kept thin on purpose: paging, mapping and validation live in the backend and the query model,
so the pystac-style client and the CLI behave exactly like ``eodag search``.
"""

from __future__ import annotations

from typing import Any

import click
from eodag.api.search_result import SearchResult
from eodag.plugins.search import PreparedSearch
from eodag.plugins.search.base import Search
from shapely.geometry.base import BaseGeometry

from .. import vocabulary
from ..backends import Backend, default_backend, get_backend, spec_for_provider
from ..exceptions import InvalidQueryError, PepsPlusError
from ..logs import get_logger
from ..query import Query
from .convert import shapes, tls_verify, to_eoproduct
from .errors import to_eodag
from .queryables import eodag_collections, eodag_queryables

__all__ = [
    "COLLECTION_DESCRIPTORS",
    "EODAG_INTERNAL",
    "PepsPlusSearch",
    "build_query",
    "refuse_in_eodag_cli",
]

logger = get_logger(__name__)

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
    """Unified query from EODAG kwargs and the provider's per-collection defaults.

    Only what is EODAG's own is handled here (its internal keys, its shapely geometry, the
    collection block of ``providers.yml``); every name and value goes through the vocabulary
    via ``Query.create``, like the client's and the CLI's.
    """
    fields: dict[str, Any] = {}
    native = collection_config.get("_collection")
    if native:  # PEPS (S2ST), EODAG (S2_MSI_L1C) or GEODES (PEPS_S2_L1C) spelling
        fields["collection"] = str(native)
    if collection_config.get("product:type"):
        fields["product_type"] = collection_config["product:type"]
    given = {
        k: v
        for k, v in kwargs.items()
        if v is not None and k not in EODAG_INTERNAL and k not in COLLECTION_DESCRIPTORS
    }
    if "geometry" in given:
        given.update(_geometry(given.pop("geometry")))
    if "lat" in given or "lon" in given:
        lon, lat = given.pop("lon", None), given.pop("lat", None)
        if lon is None or lat is None:
            raise InvalidQueryError("point: give both lat and lon")
        given["point"] = (lon, lat)
    # The user's product type (any spelling) wins over the collection block's.
    if any(vocabulary.FIELD_SPELLINGS.get(k) == "product_type" for k in given):
        fields.pop("product_type", None)
    return Query.create(**fields, **given)


def refuse_in_eodag_cli(message: str) -> None:
    """Under ``eodag search``, bad input must end the command with one line and exit 1.

    EODAG's core logs and swallows every search exception, so its CLI would report
    "Returned 0 products" and overwrite the results file; only ``SystemExit`` passes through.
    The Python API (no eodag CLI context) gets EODAG's own exception instead
    (``ValidationError``, ``RequestError``...: see :func:`.errors.to_eodag`).
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
            spec = spec_for_provider(self.provider) or default_backend()
            self._backend = get_backend(
                getattr(self.config, "backend", None) or spec.name,
                getattr(self.config, "api_endpoint", None),
                verify=tls_verify(self.config),
            )
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

    def discover_queryables(self, **kwargs: Any) -> dict[str, Any]:
        """Every field the vocabulary accepts for this backend and collection, typed (allowed
        values as ``Literal``), with the collection's defaults."""
        collection = kwargs.get("collection")
        config = self.collection_config(collection)
        try:
            return eodag_queryables(self.backend, collection, config)
        except PepsPlusError as exc:
            raise to_eodag(exc) from None

    def discover_collections(self, **kwargs: Any) -> dict[str, Any] | None:
        """The collections the server lists (GEODES: its collections endpoint; PEPS: its
        documented four) that the vocabulary can search.

        EODAG asks here about a collection it does not know (``collection=``) before searching
        it: a name the vocabulary cannot search is refused at once, with EODAG's
        ``ValidationError``, instead of a logged traceback and an empty result.
        """
        wanted = kwargs.get("collection")
        if wanted is not None:
            try:
                self.backend.check(Query.create(collection=wanted))
            except PepsPlusError as exc:
                refuse_in_eodag_cli(str(exc))
                raise to_eodag(exc) from None
        try:
            return eodag_collections(self.backend)
        except PepsPlusError as exc:
            logger.warning("%s: collections not discovered: %s", self.provider, exc)
            return None

    def validate(self, search_params: dict[str, Any], auth: Any) -> None:
        """EODAG's validation step: the same query building and server translation the
        search runs, so a bad collection or value is EODAG's ``ValidationError`` here (raised
        with ``raise_errors=True``; ``validate=False`` skips it)."""
        collection = search_params.get("collection")
        try:
            self.backend.check(build_query(self.collection_config(collection), search_params))
        except PepsPlusError as exc:
            refuse_in_eodag_cli(str(exc))
            raise to_eodag(exc) from None

    def query(self, prep: PreparedSearch = PreparedSearch(), **kwargs: Any) -> SearchResult:  # noqa: B008 - EODAG signature
        collection = kwargs.get("collection") or prep.collection
        token = prep.next_page_token
        try:
            query = build_query(self.collection_config(collection), kwargs)
            limit = prep.limit or self.backend.default_page_size
            page = self.backend.search_page(query, limit=limit, page=prep.page or 1, token=token)
        except PepsPlusError as exc:
            refuse_in_eodag_cli(str(exc))
            raise to_eodag(exc) from exc
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
