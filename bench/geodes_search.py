"""search_all of 2,000 products through EODAG from the GEODES sandbox: our ``geodes_plus``
provider vs EODAG's built-in ``geodes`` provider (``GeodesSearch``: StacSearch + jsonpath +
its own fastavailability call per page) pointed at the same sandbox (served from a child
process), in the same run.
Prints items/s and the ratio.

    python bench/geodes_search.py [--products 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse

import requests
import yaml
from _offline import sandbox_process, timed  # noqa: E402 - sets EODAG up offline before it is imported

from eodag_peps_plus.eodag_support import gateway  # noqa: E402
from eodag_peps_plus.sandbox import Catalogue, Sandbox, SandboxConfig  # noqa: E402
from eodag_peps_plus.sandbox.catalogue import generate  # noqa: E402

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    entries = [e for e in generate() if e.collection in ("S2", "S2ST")][: args.products]
    config = SandboxConfig(time_scale=0.01)
    with sandbox_process(lambda: Sandbox(Catalogue(entries), config, services=("geodes",))) as url:
        dag = gateway(geodes_plus=url)
        dag.update_providers_config(builtin_overrides(url))

        def raw() -> int:
            """The floor: fetching the same pages without mapping anything."""
            count, page = 0, 1
            while True:
                body = {"collections": ["PEPS_S2_L1C"], "limit": PAGE, "page": page}
                reply = requests.post(f"{url}/api/stac/search", json=body, timeout=60).json()
                count += len(reply["features"])
                if not reply["features"] or count >= reply["context"]["matched"]:
                    return count
                page += 1

        def ours() -> int:
            results = dag.search_all(
                provider="geodes_plus", collection="S2_MSI_L1C"
            )  # its own max_limit: 80-item server pages, gathered
            return len(results)

        def builtin() -> int:
            results = dag.search_all(provider="geodes", collection="S2_MSI_L1C", limit=PAGE)
            statuses = {p.properties.get("order:status") for p in results}
            assert statuses <= {"succeeded", "orderable"} and len(statuses) == 2, statuses
            return len(results)

        raw()  # warm the sandbox (archive checksums are computed once)
        best = {"raw": float("inf"), "ours": float("inf"), "builtin": float("inf")}
        counts: dict[str, int] = {}
        for _ in range(args.rounds):
            for name, func in (("raw", raw), ("ours", ours), ("builtin", builtin)):
                seconds, count = timed(func)
                best[name] = min(best[name], seconds)
                counts[name] = count
    n = counts["ours"]
    assert counts["builtin"] == n == counts["raw"] == len(entries), counts
    rate = {name: n / seconds for name, seconds in best.items()}
    print(
        f"search_all of {n} products from the GEODES sandbox, {PAGE} per server page (best of {args.rounds} rounds)"
    )
    print(f"  {'configuration':<46} {'seconds':>8} {'items/s':>10}")
    print(f"  {'raw HTTP + JSON, no mapping (floor)':<46} {best['raw']:>8.2f} {rate['raw']:>10.0f}")
    print(
        f"  {'geodes_plus (eodag-peps-plus PepsPlusSearch)':<46} {best['ours']:>8.2f} {rate['ours']:>10.0f}"
    )
    print(
        f"  {'geodes (EODAG built-in GeodesSearch)':<46} {best['builtin']:>8.2f} {rate['builtin']:>10.0f}"
    )
    print(f"  ratio geodes_plus / geodes: {best['builtin'] / best['ours']:.1f}x  (target >= 5x)")
    client_ours = max(best["ours"] - best["raw"], 1e-9)
    client_builtin = max(best["builtin"] - best["raw"], 1e-9)
    print(
        f"  client-side time only (minus the floor): geodes_plus {client_ours:.2f}s, "
        f"geodes {client_builtin:.2f}s, ratio {client_builtin / client_ours:.1f}x"
    )


if __name__ == "__main__":
    main()
