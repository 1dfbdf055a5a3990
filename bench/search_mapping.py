"""search_all of 5,000 products through EODAG: our ``peps`` provider vs EODAG's generic
``QueryStringSearch`` with a jsonpath ``metadata_mapping`` (how EODAG shipped PEPS until 2026),
both against the same sandbox (served from a child process, as a real server is elsewhere),
in the same run. Prints items/s and the ratio.

    python bench/search_mapping.py [--products 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse

import requests
import yaml
from _offline import sandbox_process, timed  # noqa: E402 - sets EODAG up offline before it is imported

from eodag_peps_plus.eodag_support import gateway  # noqa: E402
from eodag_peps_plus.sandbox import Catalogue, Sandbox, SandboxConfig  # noqa: E402
from eodag_peps_plus.sandbox.catalogue import generate  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    entries = [e for e in generate() if e.collection == "S2ST"][: args.products]
    with sandbox_process(
        lambda: Sandbox(Catalogue(entries), SandboxConfig(time_scale=0.01), services=("peps",))
    ) as url:
        dag = gateway(peps=url)
        dag.update_providers_config(GENERIC.format(url=url))
        dag._providers["peps_generic"].sync_collections(dag, strict_mode=False)
        assert yaml  # the config above is YAML; keep the import explicit for readers

        def raw() -> int:
            """The floor: fetching the same pages without mapping anything."""
            count, page = 0, 1
            while True:
                body = requests.get(
                    f"{url}/resto/api/collections/S2ST/search.json",
                    params={"maxRecords": 500, "page": page},
                    timeout=60,
                ).json()
                count += len(body["features"])
                if not body["features"] or count >= body["properties"]["totalResults"]:
                    return count
                page += 1

        def ours() -> int:
            return len(dag.search_all(provider="peps", collection="S2ST"))

        def generic() -> int:
            return len(dag.search_all(provider="peps_generic", collection="S2ST"))

        raw()  # warm the sandbox (archive checksums are computed once)
        best = {"raw": float("inf"), "ours": float("inf"), "generic": float("inf")}
        counts = {}
        for _ in range(args.rounds):
            for name, func in (("raw", raw), ("ours", ours), ("generic", generic)):
                seconds, count = timed(func)
                best[name] = min(best[name], seconds)
                counts[name] = count
    n = counts["ours"]
    assert counts["generic"] == n == counts["raw"], counts
    rate = {name: n / seconds for name, seconds in best.items()}
    print(f"search_all of {n} products from the PEPS sandbox (best of {args.rounds} rounds)")
    print(f"  {'configuration':<44} {'seconds':>8} {'items/s':>10}")
    print(f"  {'raw HTTP + JSON, no mapping (floor)':<44} {best['raw']:>8.2f} {rate['raw']:>10.0f}")
    print(
        f"  {'peps (eodag-peps-plus PepsPlusSearch)':<44} {best['ours']:>8.2f} {rate['ours']:>10.0f}"
    )
    print(
        f"  {'peps_generic (QueryStringSearch + jsonpath)':<44} {best['generic']:>8.2f} {rate['generic']:>10.0f}"
    )
    print(f"  ratio ours / generic: {best['generic'] / best['ours']:.1f}x  (target >= 10x)")
    client_ours = max(best["ours"] - best["raw"], 1e-9)
    client_generic = max(best["generic"] - best["raw"], 1e-9)
    print(
        f"  client-side time only (minus the floor): ours {client_ours:.2f}s, generic {client_generic:.2f}s, ratio {client_generic / client_ours:.1f}x"
    )


if __name__ == "__main__":
    main()
