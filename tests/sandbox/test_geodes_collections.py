"""GEODES collection documents: extent, summaries, providers, keywords, assets, licence and
documentation links, readable by pystac like the real ones."""

from __future__ import annotations

import pystac
import requests

from eodag_peps_plus.sandbox import Sandbox

TIMEOUT = 30


def test_collection_documents_are_complete(sandbox: Sandbox) -> None:
    body = requests.post(
        f"{sandbox.url}/api/stac/collections", json={"limit": 10000}, timeout=TIMEOUT
    ).json()
    docs = {doc["id"]: doc for doc in body["collections"]}
    assert {"PEPS_S1_L1", "PEPS_S1_L2", "PEPS_S2_L1C"} <= docs.keys()
    for name, doc in docs.items():
        collection = pystac.Collection.from_dict(doc)
        assert collection.license == "Apache-2.0" and doc["keywords"], name
        assert {"license", "describedby", "items"} <= {link["rel"] for link in doc["links"]}
        assert isinstance(doc["assets"], dict)
        assert {"producer", "host"} <= {r for p in doc["providers"] for r in p["roles"]}
    s1 = docs["PEPS_S1_L1"]["summaries"]
    assert s1["product:type"] == ["GRD", "SLC"] and s1["sar:polarizations"] == ["VV VH"]
    assert docs["PEPS_S2_L1C"]["summaries"]["platform"] == ["S2A", "S2B"]
    one = requests.get(f"{sandbox.url}/api/stac/collections/PEPS_S1_L2", timeout=TIMEOUT).json()
    assert one == docs["PEPS_S1_L2"]
