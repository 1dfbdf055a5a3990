"""``Product`` <-> ``EOProduct``: the only place that knows how our records ride inside EODAG.

The download plugin receives EOProducts (possibly re-read from a GeoJSON file written by
``eodag search``), so everything the staging downloader needs must survive in properties.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pystac
import shapely
from eodag.api.product import EOProduct
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from ..exceptions import InvalidQueryError
from ..product import Availability, Product
from ..stac import product_to_item
from ..vocabulary import shown

__all__ = ["eoproduct_to_item", "from_eoproduct", "shapes", "to_eoproduct"]


def to_eoproduct(
    product: Product,
    provider: str,
    collection: str | None = None,
    geometry: BaseGeometry | None = None,
    **search_kwargs: Any,
) -> EOProduct:
    """``geometry`` may be given pre-built (see :func:`shapes`): EODAG would otherwise parse
    each GeoJSON footprint one by one, its slowest step for large searches."""
    props = product.stac_properties()
    props["id"] = product.id
    props["geometry"] = geometry if geometry is not None else product.geometry
    props.update(product.native_properties())
    return EOProduct(provider, props, collection=collection, **search_kwargs)


def shapes(products: list[Product]) -> list[BaseGeometry]:
    """Footprints of a whole page in one vectorised GEOS call."""
    if not products:
        return []
    return list(shapely.from_geojson([orjson.dumps(p.geometry) for p in products]))


def from_eoproduct(eo_product: EOProduct, backend: str) -> Product:
    props = {k: v for k, v in eo_product.properties.items() if k != "id"}
    checksum = str(props.get("file:checksum") or "")
    md5 = checksum[4:] if checksum.startswith("d510") else (checksum.lower() or None)
    size = props.get("file:size")
    prefix = f"{backend}:"
    extra = {
        k[len(prefix) :]: v
        for k, v in props.items()
        if k.startswith(prefix) and k != f"{backend}:id"
    }
    availability = Availability.from_properties(props)
    name = str(props.get("title") or props.get("id") or eo_product.properties.get("id"))
    return Product(
        id=name,
        native_id=str(props.get(f"{backend}:id") or name),
        backend=backend,
        geometry=orjson.loads(orjson.dumps(mapping(eo_product.geometry))),  # tuples -> lists
        properties=props,
        download_url=str(props.get("eodag:download_link") or eo_product.remote_location or ""),
        size=int(size) if size is not None else None,
        md5=md5,
        availability=availability,
        extra=extra,
    )


def eoproduct_to_item(
    eo_product: EOProduct, backend: str | None = None, **kwargs: Any
) -> pystac.Item:
    """An ``EOProduct`` made by our search plugin, as the same item ``product_to_item`` gives.

    Prefer this to EODAG's ``as_pystac_object()`` for our products: EODAG adds
    ``eodag:search_intersection``/``federation:backends``/``providers`` and drops properties its
    models reject, and gives no asset for the archive (no ``file:size``/``file:checksum``).
    """
    product = from_eoproduct(eo_product, backend or eo_product.provider)
    # shapely's mapping() nests tuples, which JSON Schema does not count as arrays.
    product.geometry = json.loads(json.dumps(product.geometry))
    for key in ("id", "geometry"):  # EOProduct keeps these among its properties
        product.properties.pop(key, None)
    return product_to_item(product, **kwargs)


def products_from_geojson(data: Any, backend: str, where: str) -> list[Product]:
    """Products from a FeatureCollection written by ``eodag search``, ``peps-plus search
    --json`` or ``Client.search(...).item_collection()``.

    Args:
        data: the FeatureCollection, parsed.
        backend: the backend the products belong to.
        where: what to name in messages (a file's path).

    Raises:
        InvalidQueryError: not a FeatureCollection, a product EODAG cannot read, or one
            without a download link.
    """
    from eodag.api.search_result import SearchResult

    if not isinstance(data, dict) or not isinstance(data.get("features"), list):
        raise InvalidQueryError(f"{where}: not a GeoJSON FeatureCollection")
    features = data["features"]
    try:
        if all(
            isinstance(f, dict) and "eodag:provider" in (f.get("properties") or {})
            for f in features
        ):
            eo_products = list(SearchResult.from_dict(data))  # written by ``eodag search``
        else:
            eo_products = [_item_to_eoproduct(f, backend) for f in features]
    except Exception as exc:  # EODAG raises many kinds on malformed features
        raise InvalidQueryError(f"{where}: cannot read the products ({exc})") from None
    products = [from_eoproduct(eo_product, backend) for eo_product in eo_products]
    missing = [p.id for p in products if not p.download_url]
    if missing:
        raise InvalidQueryError(
            f"{where}: no download link for {missing[0]} ({len(missing)} product(s))"
        )
    return products


def _item_to_eoproduct(feature: dict[str, Any], backend: str) -> EOProduct:
    """A plain STAC item as the EOProduct ``from_eoproduct`` reads: same properties, the data
    asset's link when the property is missing."""
    props = dict(feature.get("properties") or {})
    props["id"] = feature["id"]
    props["geometry"] = feature["geometry"]
    if not props.get("eodag:download_link"):
        for asset in (feature.get("assets") or {}).values():
            if "data" in (asset.get("roles") or []):
                props["eodag:download_link"] = asset["href"]
                for key in ("file:size", "file:checksum"):
                    if key in asset:
                        props.setdefault(key, asset[key])
                break
    return EOProduct(backend, props)


def tls_verify(config: Any) -> bool | str:
    """EODAG's ``ssl_verify`` plugin key, read the same way by our search and download plugins
    (default on; ``False`` turns TLS verification off, a path names a CA bundle)."""
    value = getattr(config, "ssl_verify", None)
    if value is None:
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "no", "0", "off"):
        return False
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "1", "on"):
        return True
    return value if isinstance(value, str) else bool(value)


def products_from_items(items: Any, backend: str) -> list[Product]:
    """Products of ``backend`` from pystac items, an ``ItemCollection``, item dicts,
    products, or the path of a GeoJSON file.

    Raises:
        InvalidQueryError: not items, not readable, or without a download link.
    """
    where = "items"
    data: Any
    if isinstance(items, (str, os.PathLike)):
        where = str(items)
        try:
            data = json.loads(Path(items).read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidQueryError(f"{where}: not a readable GeoJSON file ({exc})") from None
    elif isinstance(items, pystac.ItemCollection):
        data = items.to_dict(transform_hrefs=False)
    elif isinstance(items, Mapping):
        data = items if items.get("type") == "FeatureCollection" else {"features": [items]}
    else:
        data = {"type": "FeatureCollection", "features": [_feature(i) for i in _each(items)]}
    return products_from_geojson(data, backend, where)


def _each(items: Any) -> list[Any]:
    if isinstance(items, (pystac.Item, Product)):
        return [items]
    try:
        return list(items)
    except TypeError:
        raise InvalidQueryError(f"items: {shown(items)} is not items") from None


def _feature(item: Any) -> dict[str, Any]:
    if isinstance(item, Product):
        return product_to_item(item).to_dict()
    if isinstance(item, pystac.Item):
        return item.to_dict(transform_hrefs=False)
    if isinstance(item, Mapping):
        return dict(item)
    raise InvalidQueryError(f"items: {shown(item)} is not a STAC item")
