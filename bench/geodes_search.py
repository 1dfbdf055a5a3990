"""Search at the JSON floor (issue 24), GEODES: 5,000 products of pages shaped like the recorded
GEODES STAC reply (every real field: political, references, assets with their descriptions...),
80 per page as GEODES serves them, from a static loopback server (``_static.py``, a child
process), read four ways in one child process:

* ``floor``: plain ``requests`` + ``json`` POSTs of the same pages, mapping nothing;
* ``Client``: ``Client.open(url, backend="geodes").search(...).items()``, pystac items;
* ``dag.search_all(provider="geodes_plus")``: our EODAG plugin;
* ``geodes``: EODAG's built-in ``GeodesSearch`` (StacSearch + jsonpath + its own
  ``fastavailability`` request per page) pointed at the same server;

and EODAG's own per-product work inside ``dag.search_all`` (see ``search_mapping.py``). Each
figure beside the previous release's (``--baseline``), interleaved rounds, medians.

    python bench/geodes_search.py [--products 5000] [--rounds 5] [--baseline REV | --no-ab]
"""

from __future__ import annotations

from typing import Any

import requests
import yaml
from _offline import timed  # noqa: F401 - sets EODAG up offline before it is imported
from _search import main, time_each

PAGE = 80  # GEODES's cap: the server page size for both providers


def builtin_overrides(url: str) -> str:
    """EODAG's own ``geodes`` provider, every URL moved to the sandbox."""
    return yaml.safe_dump(
        {
            "geodes": {
                "url": url,
                "search": {
                    "api_endpoint": f"{url}/api/stac/search",
                    "discover_collections": {"fetch_url": f"{url}/api/stac/collections"},
                },
                "auth": {"matching_url": url},
            }
        }
    )


def measure(url: str, products: int) -> dict[str, Any]:
    """Every figure once, in this process (this tree's package or the baseline's)."""
    from eodag.api.product import EOProduct

    import eodag_peps_plus
    from eodag_peps_plus import Client
    from eodag_peps_plus.eodag_support import gateway

    dag = gateway(geodes_plus=url)
    dag.update_providers_config(builtin_overrides(url))
    session = requests.Session()

    def floor() -> int:
        count, page = 0, 1
        while True:
            body = {"collections": ["PEPS_S2_L1C"], "limit": PAGE, "page": page}
            reply = session.post(f"{url}/api/stac/search", json=body, timeout=60).json()
            count += len(reply["features"])
            if not reply["features"] or count >= reply["context"]["matched"]:
                return count
            page += 1

    def client() -> int:
        search = Client.open(url, backend="geodes").search(collections="PEPS_S2_L1C")
        return sum(1 for _ in search.items())

    def ours() -> int:
        return len(dag.search_all(provider="geodes_plus", collection="S2_MSI_L1C"))

    def builtin() -> int:
        results = dag.search_all(provider="geodes", collection="S2_MSI_L1C", limit=PAGE)
        statuses = {p.properties.get("order:status") for p in results}
        assert statuses <= {"succeeded", "orderable"} and len(statuses) == 2, statuses
        return len(results)

    floor()  # the server encodes each page once
    dag.search(provider="geodes_plus", collection="S2_MSI_L1C", limit=1)  # plugins load
    dag.search(provider="geodes", collection="S2_MSI_L1C", limit=1)
    readers = {"floor": floor, "client": client, "ours": ours, "generic": builtin}
    return time_each(products, readers, eodag_peps_plus.__file__, EOProduct)


if __name__ == "__main__":
    main(__doc__, __file__, measure, ("GEODES", "geodes_plus", "geodes (EODAG GeodesSearch)"))
