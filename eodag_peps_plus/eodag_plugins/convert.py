"""``Product`` <-> ``EOProduct``: the only place that knows how our records ride inside EODAG.

The download plugin receives EOProducts (possibly re-read from a GeoJSON file written by
``eodag search``), so everything the staging downloader needs must survive in properties.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pystac
import shapely
from eodag.api.product import EOProduct
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from ..product import Availability, Product
from ..stac import product_to_item


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
