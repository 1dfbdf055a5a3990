"""``Product`` -> ``pystac.Item``: the STAC face of every backend.

Items keep the EODAG 4 property vocabulary unchanged (so an item, an ``EOProduct`` and a
``Product`` read the same fields) and add what STAC needs on top: ``datetime``, ``bbox``, the
collection link, an ``archive`` asset carrying the file extension fields and, when known, a
``thumbnail`` asset. ``stac_extensions`` lists exactly the extensions whose fields are present.

This runs for every item of large searches, so the item is built directly (no dict round trip,
no ``dateutil`` parsing, no deep copies): the item shares ``geometry`` with the product.

The extension schemas cannot be fetched on a machine without internet; ``schema_map()`` maps
every schema URI our items use to a local file (core STAC schemas shipped by pystac, extension
schemas written for this package from the extensions' field definitions), which is what
``stac_validator.StacValidate(schema_map=...)`` takes.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pystac

from ._lazy import lazy_attributes
from .geometry import geometry_bbox
from .product import Product, md5_multihash

if TYPE_CHECKING:
    pass

__all__ = [
    "ARCHIVE_ASSET",
    "EXTENSION_SCHEMAS",
    "THUMBNAIL_ASSET",
    "items_to_collection",
    "product_to_item",
    "schema_map",
]

_EXT = "https://stac-extensions.github.io"

#: Field prefix -> extension schema URI. Versions are the ones EODAG 4.10 declares, so our items
#: and EODAG's ``as_pystac_object()`` agree; each one defines the fields exactly as we emit them
#: (``product:type`` replaces the deprecated ``sar:product_type``; ``processing:version`` is
#: new in processing v1.2.0; SAR v1.3.0 no longer requires ``sar:product_type``).
EXTENSION_SCHEMAS: dict[str, str] = {
    "eo": f"{_EXT}/eo/v2.0.0/schema.json",
    "sat": f"{_EXT}/sat/v1.1.0/schema.json",
    "sar": f"{_EXT}/sar/v1.3.0/schema.json",
    "grid": f"{_EXT}/grid/v1.1.0/schema.json",
    "processing": f"{_EXT}/processing/v1.2.0/schema.json",
    "product": f"{_EXT}/product/v1.0.0/schema.json",
    "file": f"{_EXT}/file/v2.1.0/schema.json",
    "order": f"{_EXT}/order/v1.1.0/schema.json",
}

ARCHIVE_ASSET = "archive"
THUMBNAIL_ASSET = "thumbnail"
_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


def product_to_item(
    product: Product, *, collection: str | None = None, collection_href: str | None = None
) -> pystac.Item:
    """One product as a STAC item.

    ``collection`` defaults to the backend's own collection (``peps:collection``: ``S2ST``...),
    and its link to ``{collection}.json`` relative to the item, as EODAG writes it; pass
    ``collection_href`` when a real STAC collection document exists.
    """
    props = product.stac_properties()
    start = props.get("start_datetime")
    end = props.get("end_datetime")
    moment: datetime | None = None
    if start and (end is None or end == start):
        moment = _parse_time(start)
    elif not (start and end):
        raise ValueError(f"{product.id}: a STAC item needs start_datetime (and end_datetime)")

    assets = _assets(product, props)

    archive = assets.get(ARCHIVE_ASSET)
    extensions = _extensions(tuple(props), bool(archive and archive.extra_fields))

    props["datetime"] = start if moment else None
    collection = collection or props.get(f"{product.backend}:collection")
    item = pystac.Item(
        id=product.id,
        geometry=product.geometry,
        bbox=list(product.bbox) if product.bbox else geometry_bbox(product.geometry),
        datetime=moment,
        properties=props,
        stac_extensions=extensions,
        collection=collection,
        assets=assets,
    )
    if collection:
        item.add_link(
            pystac.Link(
                pystac.RelType.COLLECTION,
                collection_href or f"{collection}.json",
                media_type=pystac.MediaType.JSON,
            )
        )
    return item


def _extensions(keys: tuple[str, ...], file_fields: bool) -> list[str]:
    """The extension schemas of an item whose properties are ``keys`` (``file_fields``: its
    archive asset has file fields). Items of one search share a few sets of keys, so each
    set is worked out once (a bounded cache)."""
    found = _EXTENSIONS.get((keys, file_fields))
    if found is None:
        prefixes = {key.partition(":")[0] for key in keys if ":" in key}
        if file_fields:
            prefixes.add("file")
        found = [uri for prefix, uri in EXTENSION_SCHEMAS.items() if prefix in prefixes]
        if len(_EXTENSIONS) >= 256:
            _EXTENSIONS.clear()
        _EXTENSIONS[(keys, file_fields)] = found
    return list(found)


#: Property keys (and whether the archive has file fields) -> extension schemas.
_EXTENSIONS: dict[tuple[tuple[str, ...], bool], list[str]] = {}


def _assets(product: Product, props: Mapping[str, Any]) -> dict[str, pystac.Asset]:
    """``product_to_item``'s assets: the archive (with its size and checksum) and the
    quicklook."""
    assets: dict[str, pystac.Asset] = {}
    if product.download_url:
        file_fields: dict[str, Any] = {}
        if product.size is not None:
            file_fields["file:size"] = product.size
        if product.md5:
            file_fields["file:checksum"] = md5_multihash(product.md5)
        assets[ARCHIVE_ASSET] = pystac.Asset(
            href=product.download_url,
            title=product.filename,
            media_type="application/zip",
            roles=["data"],
            extra_fields=file_fields,
        )
    quicklook = props.get("eodag:quicklook")
    if quicklook:
        assets[THUMBNAIL_ASSET] = pystac.Asset(
            href=quicklook,
            title="Quicklook",
            media_type=_IMAGE_TYPES.get(_suffix(quicklook).lower()),
            roles=["thumbnail", "overview"],
        )
    return assets


def items_to_collection(products: Iterable[Product], **kwargs: Any) -> pystac.ItemCollection:
    """Products as a ``pystac.ItemCollection`` (keyword arguments go to ``product_to_item``)."""
    return pystac.ItemCollection(
        [product_to_item(p, **kwargs) for p in products], clone_items=False
    )


def _suffix(url: str) -> str:
    """``Path(path).suffix`` of a URL's path, without building a ``Path`` per item."""
    path = url.split("?", 1)[0]
    name = path.rstrip("/").rpartition("/")[2]
    if name in ("", "."):  # pathlib drops such parts: let it say what the name is
        return Path(path).suffix
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- offline validation ----------------------------------------------------------------------
_CORE = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema"


def schema_map() -> dict[str, str]:
    """Schema URI -> local file for everything our items reference: pass it to
    ``stac_validator.StacValidate(schema_map=...)`` to validate core + extensions offline."""
    core = Path(str(importlib.resources.files("pystac.validation.jsonschemas")))
    spec = core / "stac-spec" / "v1.1.0"
    mapping = {f"{_CORE}/{path.name}": str(path) for path in spec.glob("*.json")}
    mapping["https://geojson.org/schema/Feature.json"] = str(core / "geojson" / "Feature.json")
    mapping["https://geojson.org/schema/Geometry.json"] = str(core / "geojson" / "Geometry.json")
    ours = Path(__file__).resolve().parent / "schemas"
    for uri in EXTENSION_SCHEMAS.values():
        name, version = uri.removeprefix(f"{_EXT}/").split("/")[:2]
        mapping[uri] = str(ours / f"{name}-{version}.json")
    return mapping


#: Names that moved to the EODAG adapter (the core must not import it), still importable here.
__getattr__ = lazy_attributes(
    __name__, {"eoproduct_to_item": "eodag_peps_plus.eodag_plugins.convert"}, globals()
)
