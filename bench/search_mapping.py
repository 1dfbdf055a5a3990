"""Search at the JSON floor (issue 24), PEPS: 5,000 products of pages shaped like the recorded
PEPS reply (every real field: keywords, links, services...), served as bytes by a static
loopback server (``_static.py``, a child process), read four ways in one child process:

* ``floor``: plain ``requests`` + ``json`` over the same pages, mapping nothing;
* ``Client``: ``Client.open(url).search(...).items()``, pystac items;
* ``dag.search_all(provider="peps")``: our EODAG plugin;
* ``peps_generic``: EODAG's generic ``QueryStringSearch`` + jsonpath configuration (how EODAG
  shipped PEPS until 2026) against the same server.

and EODAG's own per-product work inside ``dag.search_all`` (``EOProduct.__init__`` and the
downloader/auth registration per product), timed in one extra instrumented run: the floor of
``dag.search_all`` is the floor plus that. Each figure is printed beside the same figure of
the previous release (``--baseline``, default the newest ``v*`` tag, else
``_ab.PREVIOUS_RELEASE``), both from child processes in interleaved rounds, medians.

    python bench/search_mapping.py [--products 5000] [--rounds 5] [--baseline REV | --no-ab]
"""

from __future__ import annotations

from typing import Any

import requests
from _offline import timed  # noqa: F401 - sets EODAG up offline before it is imported
from _search import main, time_each

#: S2ST holds products from 2016-12-05: a start date after it asks S2ST alone.
START = "2017-01-01"

#: The generic configuration: resto through QueryStringSearch, every property a jsonpath.
GENERIC = """
peps_generic:
  priority: 0
  roles: [host]
  description: PEPS through EODAG's generic QueryStringSearch (baseline)
  url: {url}
  search:
    type: QueryStringSearch
    api_endpoint: '{url}/resto/api/collections/{{_collection}}/search.json'
    need_auth: false
    pagination:
      next_page_url_tpl: '{{url}}?{{search}}&maxRecords={{limit}}&page={{next_page_token}}'
      total_items_nb_key_path: '$.properties.totalResults'
      next_page_token_key: page
      max_limit: 500
    discover_metadata:
      auto_discovery: true
      metadata_pattern: '^[a-zA-Z0-9]+$'
      search_param: '{{metadata}}={{{{{{metadata}}}}}}'
      metadata_path: '$.properties.*'
    metadata_mapping:
      uid: '$.id'
      product:type:
        - productType
        - '$.properties.productType'
      platform:
        - platform
        - '$.properties.platform'
      constellation: '$.properties.collection'
      instruments: '{{$.properties.instrument#split( )}}'
      processing:level: '$.properties.processingLevel'
      title: '$.properties.title'
      keywords: '$.properties.keywords[*].name'
      created: '$.properties.published'
      updated: '$.properties.updated'
      sat:absolute_orbit:
        - orbitNumber
        - '$.properties.orbitNumber'
      sat:relative_orbit:
        - relativeOrbitNumber
        - '$.properties.relativeOrbitNumber'
      sat:orbit_state:
        - orbitDirection
        - '$.properties.orbitDirection'
      sar:instrument_mode:
        - sensorMode
        - '$.properties.sensorMode'
      eo:cloud_cover:
        - 'cloudCover=[0,{{eo:cloud_cover}}]'
        - '$.properties.cloudCover'
      eo:snow_cover: '$.properties.snowCover'
      grid:code:
        - 'tileid={{grid:code}}'
        - '{{$.properties.mgrs#replace_str(r"^(.*)$",r"MGRS-\\1")}}'
      start_datetime:
        - 'startDate={{start_datetime#to_iso_utc_datetime}}'
        - '$.properties.startDate'
      end_datetime:
        - 'completionDate={{end_datetime#to_iso_utc_datetime}}'
        - '$.properties.completionDate'
      id:
        - 'productIdentifier={{id}}'
        - '$.properties.productIdentifier'
      geometry:
        - 'geometry={{geometry#to_rounded_wkt}}'
        - '$.geometry'
      eodag:quicklook: '$.properties.quicklook'
      eodag:thumbnail: '$.properties.thumbnail'
      eodag:download_link: '$.properties.services.download.url'
      file:size: '$.properties.services.download.size'
      file:checksum: '$.properties.services.download.checksum'
      peps:storage: '$.properties.storage.mode'
      order:status: '{{$.properties.storage.mode#get_group_name((?P<succeeded>disk|tier2)|(?P<ordered>staging)|(?P<orderable>unknown|tape|tier3))}}'
  products:
    S2_MSI_L1C:
      _collection: S2ST
      product:type: S2MSI1C
    GENERIC_COLLECTION:
      _collection: '{{collection}}'
  download:
    type: HTTPDownload
"""


def measure(url: str, products: int) -> dict[str, Any]:
    """Every figure once, in this process (the package on ``sys.path``: this tree's or the
    baseline's)."""
    from eodag.api.product import EOProduct

    import eodag_peps_plus
    from eodag_peps_plus import Client
    from eodag_peps_plus.eodag_support import gateway

    dag = gateway(peps=url)
    dag.update_providers_config(GENERIC.format(url=url))
    dag._providers["peps_generic"].sync_collections(dag, strict_mode=False)
    session = requests.Session()

    def floor() -> int:
        count, page = 0, 1
        while True:
            body = session.get(
                f"{url}/resto/api/collections/S2ST/search.json",
                params={"maxRecords": 500, "page": page},
                timeout=60,
            ).json()
            count += len(body["features"])
            if not body["features"] or count >= body["properties"]["totalResults"]:
                return count
            page += 1

    def client() -> int:
        search = Client.open(url, backend="peps").search(collections="S2ST", datetime=f"{START}/..")
        return sum(1 for _ in search.items())

    def ours() -> int:
        return len(dag.search_all(provider="peps", collection="S2ST", start=START))

    def generic() -> int:
        return len(dag.search_all(provider="peps_generic", collection="S2ST"))

    floor()  # the server encodes each page once
    dag.search(provider="peps", collection="S2ST", start=START, limit=1)  # plugins load
    dag.search(provider="peps_generic", collection="S2ST", limit=1)
    readers = {"floor": floor, "client": client, "ours": ours, "generic": generic}
    return time_each(products, readers, eodag_peps_plus.__file__, EOProduct)


if __name__ == "__main__":
    main(__doc__, __file__, measure, ("PEPS", "peps", "peps_generic (EODAG QueryStringSearch)"))
