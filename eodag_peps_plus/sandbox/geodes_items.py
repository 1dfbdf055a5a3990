"""GEODES renderings of catalogue entries: STAC items shaped like the recorded ones
(``fixtures/geodes_search_S2_L1C.json``, ``fixtures/geodes_item_S1_GRD.json``) and collection
documents.

Deliberately reproduced quirks of the real service: items are URNs whose ESA name is only in
``properties.identifier``; size, MD5 and online state are only in the data asset's
``description`` text; S1 items have an empty ``proj:bbox``, a ``Fast24h`` timeliness, a
``hydrology`` block and regions without states, S2 items a ``version`` and states.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from .catalogue import RIVERS, Entry, iso, place

__all__ = [
    "COLLECTION_TITLES",
    "DOC_LINK",
    "L2A",
    "LICENSE_LINK",
    "REFERENCES",
    "STAC_EXTENSIONS",
    "URN_NAMESPACE",
    "collection_doc",
    "description",
    "endpoint_url",
    "geodes_collection",
    "item_properties",
    "render_item",
    "urn",
]

URN_NAMESPACE = uuid.UUID("0b7a4c8e-3f52-4d2e-9a61-5c3e2f1d9e07")
S1_L1, S1_L2, S2_L1C = "PEPS_S1_L1", "PEPS_S1_L2", "PEPS_S2_L1C"
L2A = "THEIA_REFLECTANCE_SENTINEL2_L2A"
COLLECTION_TITLES = {
    S1_L1: "Sentinel-1 Level-1 (GRD, SLC) from the PEPS archive",
    S1_L2: "Sentinel-1 Level-2 (OCN) from the PEPS archive",
    S2_L1C: "Sentinel-2 Level-1C from the PEPS archive",
    L2A: "THEIA Sentinel-2 surface reflectance (MAJA L2A)",
    "THEIA_SNOW_SENTINEL2_L2B": "THEIA Sentinel-2 snow cover (L2B)",
    "THEIA_WATERQUAL_SENTINEL2_L2B": "THEIA Sentinel-2 water quality (L2B)",
}
STAC_EXTENSIONS = [
    f"https://stac-extensions.github.io/{ext}/schema.json"
    for ext in (
        "product/v0.1.0", "processing/v1.2.0", "projection/v2.0.0", "sat/v1.1.0",
        "scientific/v1.0.0", "sar/v1.1.0", "eo/v2.0.0", "sentinel-2/v1.0.0", "view/v1.0.0",
        "grid/v1.1.0", "raster/v2.0.0",
    )
]  # fmt: skip
REFERENCES = [
    {
        "url": f"http://www.naturalearthdata.com/downloads/10m-{kind}/",
        "author": "Natural Earth",
        "dataset": dataset,
        "license": lic,
    }
    for kind, dataset, lic in (
        ("physical-vectors/10m-coastline", "Coastline", "Free of Charge"),
        ("cultural-vectors/10m-admin-0-countries", "Admin level 0 - Countries", "Free of Charge"),
        ("cultural-vectors/10m-admin-1-states-provinces", "Admin level 1 - States, Provinces", "Free of Charge"),
        ("physical-vectors/10m-rivers-lake-centerlines", "Rivers and lake centerlines", "Free of charge"),
        ("physical-vectors/10m-physical-labels", "Marine Regions", "Free of charge"),
    )
]  # fmt: skip
#: The items' licence link (recorded items), repeated on collection documents.
LICENSE_LINK = {
    "href": "https://spdx.org/licenses/Apache-2.0.html",
    "rel": "license",
    "type": "application/html",
    "title": "Apache License 2.0",
}
#: GEODES's API documentation (cited by EODAG's ``geodes`` provider configuration).
DOC_LINK = {
    "href": "https://geodes.cnes.fr/support/api/",
    "rel": "describedby",
    "type": "text/html",
    "title": "GEODES API documentation",
}
_LEVELS = {"LEVEL1C": "L1C", "LEVEL1": "L1", "LEVEL2": "L2", "L2A": "L2A"}
_SEASONS = ("winter", "spring", "summer", "autumn")
#: Who made, licensed and hosts each family of collections (STAC ``providers`` roles).
_PROVIDERS = {
    "PEPS": [
        {"name": "ESA", "roles": ["producer", "licensor"], "url": "https://sentinel.esa.int"},
        {"name": "CNES", "roles": ["host", "processor"], "url": "https://geodes.cnes.fr"},
    ],
    "THEIA": [
        {"name": "THEIA", "roles": ["producer", "processor"], "url": "https://www.theia-land.fr"},
        {"name": "CNES", "roles": ["host"], "url": "https://geodes.cnes.fr"},
    ],
}


def geodes_collection(entry: Entry) -> str | None:
    if entry.collection == "S1":
        return S1_L2 if entry.product_type == "OCN" else S1_L1
    if entry.collection in ("S2", "S2ST"):
        return S2_L1C
    if entry.collection == "THEIA_L2A":
        return L2A
    return None


def urn(entry: Entry) -> str:
    return f"URN:FEATURE:DATA:gdh:{uuid.uuid3(URN_NAMESPACE, entry.name)}:V1"


def description(size: int, online: bool, datatype: str, md5: str) -> str:
    """The asset text that is GEODES's only source of size, MD5 and online state."""
    return (
        f"File size: {size} bytes\n\nIs reference: false\n\nIs online: {str(online).lower()}\n\n"
        f"Datatype: {datatype}\n\nChecksum MD5: {md5}"
    )


def endpoint_url(entry: Entry) -> str:
    bucket, key = entry.datalake
    return f"https://s3.datalake.cnes.fr/{bucket}/{key}"


def item_properties(entry: Entry) -> dict[str, Any]:
    """An item's properties in the recorded order (S1 and S2 items differ, as recorded)."""
    if entry.collection == "S1":
        return _s1_properties(entry)
    return _optical_properties(entry)


def _common_head(entry: Entry, props: dict[str, Any]) -> None:
    props["product:type"] = entry.product_type
    props["sar:instrument_mode"] = entry.sensor_mode
    props["endpoint_url"] = endpoint_url(entry)


def _keywords(entry: Entry, latmin: float) -> list[str]:
    return [
        f"location:{'northern' if latmin >= 0 else 'southern'}",
        f"season:{_SEASONS[(entry.start.month % 12) // 3]}",
    ]


def _area(entry: Entry) -> float:
    """Footprint area in km² (degrees² scaled at the centroid's latitude: enough at the
    size of a scene)."""
    scale = 111.32 * 111.32 * math.cos(math.radians(entry.centroid[1]))
    return round(entry.shape.area * scale, 4)


def _continent_code(entry: Entry) -> list[str]:
    return ["EU"] if place(entry)[0][0] == "Europe" else ["OC"]


def _s1_properties(entry: Entry) -> dict[str, Any]:
    """Keys and value types of ``fixtures/geodes_item_S1_GRD.json``."""
    latmin = entry.bounds[1]
    props: dict[str, Any] = {"mission_take_id": entry.mission_take_id}
    props["hydrology"] = {"rivers": [{"name": n} for n in RIVERS.get(entry.relative_orbit, ())]}
    _common_head(entry, props)
    props["proj:bbox"] = ""
    props["latest"] = True
    props["instrument"] = entry.instrument
    props["references"] = REFERENCES
    props["sat:orbit_state"] = entry.orbit_direction.capitalize()
    props["identifier"] = entry.name
    props["keywords"] = _keywords(entry, latmin)
    props["sat:relative_orbit"] = entry.relative_orbit
    props["product:timeliness"] = "Fast24h"
    props["area"] = _area(entry)
    props["swath"] = entry.swath
    props["endpoint_description"] = "Link to product in datalake"
    props["platform"] = entry.platform
    props["sat:absolute_orbit"] = entry.orbit_number
    props["sar:polarizations"] = entry.polarisation
    props["dataset"] = geodes_collection(entry)
    props["continent_code"] = _continent_code(entry)
    props["start_datetime"] = iso(entry.start)
    props["datetime"] = _iso_micro(entry.published)
    props["processing:level"] = _LEVELS.get(entry.processing_level, entry.processing_level)
    props["eo:cloud_cover"] = float(entry.cloud_cover or 0.0)
    props["sci:doi"] = "[]"
    props["political"] = _political(entry, states=False)
    props["sat:orbit_cycle"] = entry.cycle
    props["end_datetime"] = iso(entry.end)
    return props


def _optical_properties(entry: Entry) -> dict[str, Any]:
    """Keys and value types of ``fixtures/geodes_search_S2_L1C.json``."""
    collection = geodes_collection(entry)
    p0, p2 = entry.polygon[0], entry.polygon[2]
    version = re.search(r"_N(\d{2})(\d{2})_", entry.name)
    props: dict[str, Any] = {}
    if entry.tile:
        props["grid:code"] = f"T{entry.tile}"
    _common_head(entry, props)
    props["proj:bbox"] = f"{p0[0]},{p0[1]},{p2[0]},{p2[1]}"
    props["latest"] = True
    props["instrument"] = entry.instrument
    props["references"] = REFERENCES
    props["sat:orbit_state"] = entry.orbit_direction.capitalize()
    props["identifier"] = entry.name
    props["keywords"] = _keywords(entry, entry.bounds[1])
    props["sat:relative_orbit"] = entry.relative_orbit
    props["product:timeliness"] = "Nominal"
    props["area"] = _area(entry)
    if collection == S2_L1C:
        baseline = f"{version.group(1)}.{version.group(2)}" if version else "02.04"
        props["s2:datatake_id"] = (
            f"G{entry.platform}_{entry.start:%Y%m%dT%H%M%S}_{entry.orbit_number:06d}_N{baseline}"
        )
        props["processing:version"] = baseline
    elif collection == L2A:
        props["processing:version"] = "2.2"
    props["endpoint_description"] = "Link to product in datalake"
    props["platform"] = entry.platform
    props["sat:absolute_orbit"] = entry.orbit_number
    props["dataset"] = collection
    props["version"] = "00.00"
    props["continent_code"] = _continent_code(entry)
    props["start_datetime"] = iso(entry.start)
    props["datetime"] = iso(entry.published)
    props["processing:level"] = _LEVELS.get(entry.processing_level, entry.processing_level)
    if entry.cloud_cover is not None:
        props["eo:cloud_cover"] = entry.cloud_cover
    props["sci:doi"] = "[]"
    props["political"] = _political(entry, states=True)
    props["end_datetime"] = iso(entry.end)
    return props


def render_item(
    entry: Entry,
    base: str,
    properties: dict[str, Any],
    online: bool,
    download_base: str | None = None,
) -> dict[str, Any]:
    """One STAC item, shaped like the recorded search reply's; its download link on
    ``download_base`` when given (CNES's alternate host)."""
    collection = geodes_collection(entry) or ""
    item_id = urn(entry)
    api = f"{base}/api/stac"
    ql_md5 = uuid.uuid5(URN_NAMESPACE, f"ql:{entry.name}").hex
    ql_key = f"{entry.start:%Y/%m/%d}/{entry.platform}/{entry.name}_quicklook.jpg"
    data_key = f"{entry.name}.zip"
    lon, lat = entry.centroid
    return {
        "stac_version": "1.0.0-beta.2",
        "stac_extensions": STAC_EXTENSIONS,
        "id": item_id,
        "bbox": list(entry.bounds),
        "geometry": {"coordinates": [entry.polygon], "type": "Polygon"},
        "centroid": {"lon": lon, "lat": lat},
        "type": "Feature",
        "collection": collection,
        "properties": properties,
        "links": [
            {"href": api, "rel": "root", "type": "application/json", "title": "STAC gdh root"},
            {
                "href": f"{api}/collections/{collection}",
                "rel": "collection",
                "type": "application/json",
                "title": "Item collection",
            },
            {
                "href": f"{api}/collections/{collection}/items/{item_id}",
                "rel": "self",
                "type": "application/geo+json",
                "title": item_id,
            },
            LICENSE_LINK,
        ],
        "assets": {
            ql_key: {
                "href": f"{base}/api/quicklook/{item_id}/files/{ql_md5}?scope=gdh",
                "title": ql_key,
                "description": description(18684, True, "QUICKLOOK_SD", ql_md5),
                "type": "image/jpeg",
                "roles": ["overview"],
            },
            data_key: {
                "href": f"{download_base or base}/api/download/{item_id}/files/{entry.md5}",
                "title": data_key,
                "description": description(entry.size, online, "RAWDATA", entry.md5),
                "type": "application/zip",
                "roles": ["data"],
            },
        },
    }


def collection_doc(collection: str, entries: Sequence[Entry], base: str) -> dict[str, Any]:
    """A STAC collection: extent, ``summaries`` and ``keywords`` computed from the catalogue,
    producers and host as ``providers``, the items' licence and GEODES's documentation."""
    if entries:
        bounds = [e.bounds for e in entries]
        bbox = [
            min(b[0] for b in bounds),
            min(b[1] for b in bounds),
            max(b[2] for b in bounds),
            max(b[3] for b in bounds),
        ]
        interval: list[str | None] = [iso(entries[0].start), iso(max(e.end for e in entries))]
    else:
        bbox = [-180.0, -90.0, 180.0, 90.0]
        interval = ["2015-06-23T00:00:00.000Z", None]
    api = f"{base}/api/stac"
    family = "PEPS" if collection.startswith("PEPS_") else "THEIA"
    summaries = _summaries(entries)
    keywords = [family, *(c.title() for c in summaries.get("constellation", []))]
    keywords += [str(v) for v in summaries.get("product:type", [])]
    return {
        "stac_version": "1.0.0",
        "stac_extensions": STAC_EXTENSIONS,
        "type": "Collection",
        "id": collection,
        "title": COLLECTION_TITLES[collection],
        "description": COLLECTION_TITLES[collection],
        "keywords": keywords,
        "license": "Apache-2.0",
        "providers": _PROVIDERS[family],
        "extent": {"spatial": {"bbox": [bbox]}, "temporal": {"interval": [interval]}},
        "summaries": summaries,
        "assets": {},
        "links": [
            {"href": f"{api}/collections/{collection}", "rel": "self", "type": "application/json"},
            {"href": api, "rel": "root", "type": "application/json"},
            {"href": api, "rel": "parent", "type": "application/json"},
            {
                "href": f"{api}/collections/{collection}/items",
                "rel": "items",
                "type": "application/geo+json",
            },
            LICENSE_LINK,
            DOC_LINK,
        ],
    }


def _summaries(entries: Sequence[Entry]) -> dict[str, list[Any]]:
    """Distinct values of the properties users filter on, from the collection's entries."""
    fields: dict[str, set[Any]] = {
        "constellation": set(),
        "platform": set(),
        "instruments": set(),
        "product:type": set(),
        "processing:level": set(),
        "sat:orbit_state": set(),
    }
    for e in entries:
        fields["constellation"].add(f"sentinel-{e.platform[1]}")
        fields["platform"].add(e.platform)
        fields["instruments"].add(e.instrument)
        fields["product:type"].add(e.product_type)
        fields["processing:level"].add(_LEVELS.get(e.processing_level, e.processing_level))
        fields["sat:orbit_state"].add(e.orbit_direction.capitalize())
    summaries: dict[str, list[Any]] = {k: sorted(v) for k, v in fields.items() if v}
    if any(e.polarisation for e in entries):
        summaries["sar:polarizations"] = sorted({e.polarisation for e in entries if e.polarisation})
        summaries["sar:instrument_mode"] = sorted({e.sensor_mode for e in entries})
    return summaries


def _iso_micro(moment: datetime) -> str:
    """The S1 item's ``datetime`` form: ``2025-12-18T02:11:12.800000Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _political(entry: Entry, *, states: bool) -> dict[str, Any]:
    """continent > country > region(s) [> state(s)], as the recorded S2 [S1] item nests it;
    S1 regions are the states themselves with float covers."""
    (continent, c_id), (country, k_id), (region, r_id), (state, s_id) = place(entry)
    if states:
        regions: list[dict[str, Any]] = [
            {
                "id": f"region:{region}:{r_id}",
                "name": region,
                "gcover": 0.37,
                "pcover": 100,
                "states": [
                    {"id": f"state:{state}:{s_id}", "name": state, "gcover": 1.53, "pcover": 83.17}
                ],
            }
        ]
    else:
        regions = [
            {"id": f"state:{region}:{r_id}", "name": region, "gcover": 7.46, "pcover": 54.99}
        ]
    return {
        "continents": [
            {
                "id": f"continent:{continent}:{c_id}",
                "name": continent,
                "countries": [
                    {
                        "id": f"country:{country}:{k_id}",
                        "name": country,
                        "gcover": 0.12,
                        "pcover": 100.0 if not states else 100,
                        "regions": regions,
                    }
                ],
            }
        ],
    }
