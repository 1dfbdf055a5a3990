"""The sandbox against the recorded real replies, key path by key path and type by type.

Each recorded reply in ``tests/fixtures`` is replayed as the same query against the sandbox;
the two JSON documents are reduced to ``{key path: JSON types}`` and must agree, except for
the differences listed in ``ALLOWED`` with the reason each one is acceptable.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from eodag_peps_plus.sandbox import Sandbox

TIMEOUT = 30
#: Key path -> why a difference there is not a fidelity gap. Paths use ``[]`` for list items
#: and ``*`` for keys that are identifiers (keyword hashes, asset file names).
ALLOWED: dict[str, str] = {}
#: Mappings keyed by identifiers rather than field names: compared by their values' shape.
ID_KEYED = ("properties.keywords", "assets")


def shape_of(doc: Any, path: str = "") -> dict[str, set[str]]:
    """``{path: {type names}}`` of every value in ``doc`` (lists merged over their items)."""
    out: dict[str, set[str]] = {}

    def walk(value: Any, here: str) -> None:
        out.setdefault(here or "$", set()).add(_type(value))
        if isinstance(value, dict):
            keyed_by_id = any(here == p or here.endswith(f"].{p}") for p in ID_KEYED)
            for key, child in value.items():
                walk(child, f"{here}.{'*' if keyed_by_id else key}".lstrip("."))
        elif isinstance(value, list):
            for child in value:
                walk(child, f"{here}[]")

    walk(doc, path)
    return out


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return {str: "string", dict: "object", list: "array"}[type(value)]


def differences(recorded: Any, ours: Any) -> list[str]:
    """Readable differences between the two shapes, minus the allowed ones."""
    a, b = shape_of(recorded), shape_of(ours)
    problems = []
    for path in sorted(a.keys() | b.keys()):
        if path in ALLOWED:
            continue
        if path not in b:
            problems.append(f"{path}: recorded, missing from the sandbox")
        elif path not in a:
            problems.append(f"{path}: only in the sandbox")
        elif a[path] != b[path] and not _compatible(a[path], b[path]):
            problems.append(f"{path}: recorded {sorted(a[path])}, sandbox {sorted(b[path])}")
    return problems


def _compatible(recorded: set[str], ours: set[str]) -> bool:
    """A recorded value that is sometimes null may be never null here, and the reverse: one
    recorded page cannot show every case."""
    return recorded - {"null"} == ours - {"null"} and bool(recorded - {"null"})


def _replay_query(link: str) -> tuple[str, str]:
    """Path and query string of a recorded self link."""
    parts = urlsplit(link)
    return parts.path, parts.query


@pytest.fixture(scope="module")
def recorded(fixture_path: Callable[[str], Path]) -> Callable[[str], Any]:
    return lambda name: json.loads(fixture_path(name).read_text())


def test_peps_search_page_matches_the_recorded_one(
    sandbox: Sandbox, recorded: Callable[[str], Any]
) -> None:
    real = recorded("peps_search_S2ST_page1.json")
    path, query = _replay_query(real["properties"]["links"][0]["href"])
    ours = requests.get(f"{sandbox.url}{path}?{query}", timeout=TIMEOUT).json()
    assert len(ours["features"]) == 2, "the same query must find products in the sandbox"
    assert differences(real, ours) == []


def test_geodes_search_page_matches_the_recorded_one(
    sandbox: Sandbox, recorded: Callable[[str], Any]
) -> None:
    real = recorded("geodes_search_S2_L1C.json")
    self_link = next(link["href"] for link in real["links"] if link["rel"] == "self")
    collection = urlsplit(self_link).path.split("/")[-2]
    body = {"collections": [collection], "limit": 1, "page": 1}
    ours = requests.post(f"{sandbox.url}/api/stac/search", json=body, timeout=TIMEOUT).json()
    assert ours["features"], "the same query must find products in the sandbox"
    assert differences(real, ours) == []


def test_geodes_s1_item_matches_the_recorded_one(
    sandbox: Sandbox, recorded: Callable[[str], Any]
) -> None:
    real = recorded("geodes_item_S1_GRD.json")
    body = {
        "collections": [real["collection"]],
        "query": {"product:type": {"eq": real["properties"]["product:type"]}},
        "limit": 1,
    }
    found = requests.post(f"{sandbox.url}/api/stac/search", json=body, timeout=TIMEOUT).json()
    item_id = found["features"][0]["id"]
    url = f"{sandbox.url}/api/stac/collections/{real['collection']}/items/{item_id}"
    ours = requests.get(url, timeout=TIMEOUT).json()
    assert differences(real, ours) == []
    # Values the recorded item shows and clients depend on:
    p, q = real["properties"], ours["properties"]
    assert q["eo:cloud_cover"] == p["eo:cloud_cover"] == 0.0
    assert q["proj:bbox"] == p["proj:bbox"] == ""
    assert q["product:timeliness"] == p["product:timeliness"] == "Fast24h"
    assert q["sar:polarizations"] == p["sar:polarizations"] == "VV VH"
    assert (
        urlsplit(q["endpoint_url"]).path
        == f"/sentinel1-grd/{q['start_datetime'][:10].replace('-', '/')}/{q['identifier']}.zip"
    )


def test_the_comparison_catches_a_gap(recorded: Callable[[str], Any]) -> None:
    """The test above would pass on anything if the comparison were blind."""
    real = recorded("geodes_item_S1_GRD.json")
    changed = json.loads(json.dumps(real))
    del changed["properties"]["hydrology"]
    changed["properties"]["sat:orbit_cycle"] = "35"
    changed["properties"]["version"] = "00.00"
    assert differences(real, changed) == [
        "properties.hydrology: recorded, missing from the sandbox",
        "properties.hydrology.rivers: recorded, missing from the sandbox",
        "properties.hydrology.rivers[]: recorded, missing from the sandbox",
        "properties.hydrology.rivers[].name: recorded, missing from the sandbox",
        "properties.sat:orbit_cycle: recorded ['integer'], sandbox ['string']",
        "properties.version: only in the sandbox",
    ]
