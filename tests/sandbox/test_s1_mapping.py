"""Sentinel-1 fields the servers give, mapped to STAC names the same way from PEPS and GEODES:
``sar:polarizations``, ``sar:instrument_mode``, ``sat:orbit_cycle``, ``s1:datatake_id``; and no
``eo:cloud_cover`` on radar products (the servers' 0 is a placeholder, as EODAG treats it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from eodag_peps_plus.backends import get_backend
from eodag_peps_plus.backends.geodes import item_to_product
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import Catalogue, Sandbox


def test_recorded_geodes_s1_item(fixture_path: Callable[[str], Path]) -> None:
    item = json.loads(fixture_path("geodes_item_S1_GRD.json").read_text())
    p = item_to_product(item).stac_properties()
    assert p["sar:polarizations"] == ["VV", "VH"]
    assert p["sar:instrument_mode"] == "IW"
    assert p["sat:orbit_cycle"] == 35
    assert p["s1:datatake_id"] == "44860"
    assert p["sat:relative_orbit"] == 76
    assert "eo:cloud_cover" not in p


def test_peps_and_geodes_agree_on_s1_fields(catalogue: Catalogue, sandbox: Sandbox) -> None:
    query = Query.create(collection="S1", start="2020-03-01", end="2020-03-31", max_cloud_cover=10)
    peps = {p.id: p.stac_properties() for p in get_backend("peps", sandbox.url).search(query)}
    geodes = {p.id: p.stac_properties() for p in get_backend("geodes", sandbox.url).search(query)}
    assert peps and peps.keys() == geodes.keys(), "a cloud filter keeps radar products"
    fields = ("sar:polarizations", "sar:instrument_mode", "sat:orbit_cycle", "s1:datatake_id")
    for name, ours in peps.items():
        entry = catalogue.by_name[name]
        assert [ours[f] for f in fields] == [geodes[name][f] for f in fields]
        assert ours["s1:datatake_id"] == str(entry.mission_take_id)
        assert ours["sat:orbit_cycle"] == entry.cycle
        assert "eo:cloud_cover" not in ours and "eo:cloud_cover" not in geodes[name]
