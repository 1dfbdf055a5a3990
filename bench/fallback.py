"""Benchmark of fallback sources (issue 19): a mixed batch, half of it refused by its first
source, fetched with fallback.

GEODES in its evidence profile (Tier3 answers 410 Gone, never restored) is the first source,
PEPS (restores from tape on request) the fallback; two sandboxes with the same catalogue, in
this process, each product's restore latency deterministic. The batch: N products of 1-2 MB,
half on tape; 10 MB/s per connection, 40 MB/s in total on each server.

Printed: makespan; the lower bound of the best source per product,
``LB = max(total bytes / total bandwidth, max over products of (restore latency on PEPS if
GEODES refuses it, else 0) + size / per-connection bandwidth)`` (the GEODES phase answers a
refusal in one request, so LB ignores it); makespan / LB; HTTP requests per product on each
server and in total; products whose file matches the catalogue MD5.

Each figure is printed beside the previous release's (``_ab.previous_release()``), both run
in child processes in interleaved rounds, medians (``--no-ab``: this tree only).

    python bench/fallback.py            # 40 products, restores 2-6 s, 2 rounds each side
    python bench/fallback.py --quick    # 12 products, restores 1-2 s
    python bench/fallback.py --rounds 3 --baseline 54b6aa2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import eodag_peps_plus
from eodag_peps_plus.backends.geodes import GeodesBackend
from eodag_peps_plus.backends.peps import PepsBackend
from eodag_peps_plus.fallback import download_with_fallback
from eodag_peps_plus.http_io import Credentials
from eodag_peps_plus.query import Query
from eodag_peps_plus.sandbox import (
    DEFAULT_API_KEY,
    DEFAULT_PASSWORD,
    DEFAULT_USER,
    Sandbox,
    SandboxConfig,
)
from eodag_peps_plus.sandbox.scenarios import staging_catalogue
from eodag_peps_plus.staging import StagingOptions

PER_CONNECTION = 10e6
TOTAL = 40e6


def measure(quick: bool) -> dict[str, Any]:
    """One run of the batch, in this process: the figures as one JSON-able dict."""
    count, latency = (12, (1.0, 2.0)) if quick else (40, (2.0, 6.0))
    catalogue = staging_catalogue(count, size_range=(1_000_000, 2_000_000), offline=0.5, seed=5)
    common = {"per_connection_bps": PER_CONNECTION, "total_bps": TOTAL, "seed": 5}
    geodes_sb = Sandbox(
        catalogue,
        SandboxConfig(time_scale=1.0, geodes_alternate_links=0.0, **common),  # type: ignore[arg-type]
        services=("geodes",),
    ).start()
    peps_sb = Sandbox(
        catalogue,
        SandboxConfig(time_scale=1.0, restore_latency=latency, **common),  # type: ignore[arg-type]
        services=("peps",),
    ).start()
    try:
        geodes = GeodesBackend(geodes_sb.url, credentials=Credentials(api_key=DEFAULT_API_KEY))
        peps = PepsBackend(peps_sb.url, credentials=Credentials(DEFAULT_USER, DEFAULT_PASSWORD))
        products = list(geodes.search(Query.create(collection="S2ST", max_cloud_cover=100)))
        products = [p for p in products if p.id in catalogue.by_name]
        with tempfile.TemporaryDirectory() as folder:
            options = StagingOptions(timeout=600.0, quiet=True, max_restores=count, max_transfers=8)
            before = (geodes_sb.stats["requests"], peps_sb.stats["requests"])
            started = time.monotonic()
            report = download_with_fallback(geodes, products, folder, options, sources=[peps])
            makespan = time.monotonic() - started
            verified = sum(
                hashlib.md5((Path(folder) / f"{e.name}.zip").read_bytes()).hexdigest() == e.md5
                for e in catalogue
                if (Path(folder) / f"{e.name}.zip").is_file()
            )
        requests = (
            geodes_sb.stats["requests"] - before[0],
            peps_sb.stats["requests"] - before[1],
        )
        bound = max(
            sum(e.size for e in catalogue) / TOTAL,
            max(
                (peps_sb.tape.latency_for(e.uuid) if e.storage == "tape" else 0.0)
                + e.size / PER_CONNECTION
                for e in catalogue
            ),
        )
        return {
            "package": str(Path(eodag_peps_plus.__file__).parent.parent),
            "count": count,
            "latency": list(latency),
            "refused": sum(e.storage == "tape" for e in catalogue),
            "status": report.counts(),
            "makespan": makespan,
            "bound": bound,
            "requests": list(requests),
            "verified": verified,
        }
    finally:
        geodes_sb.stop()
        peps_sb.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", help="git rev to compare with (default: previous release)")
    parser.add_argument("--no-ab", action="store_true", help="this tree only")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.quick)))
        return
    from _ab import THIS, previous_release, rounds, table

    baseline = None if args.no_ab else args.baseline or previous_release()
    child_args = ["--quick"] if args.quick else []
    results, baseline = rounds(__file__, child_args, args.rounds, baseline)
    first = results[THIS][0]
    print(
        f"{first['count']} products, {first['refused']} refused by GEODES (410), PEPS restores "
        f"{tuple(first['latency'])} s; status (this tree, first round): {first['status']}"
    )
    n = first["count"]
    table(
        "Fallback: makespan against the best-source lower bound",
        results,
        baseline,
        [
            ("makespan (s)", lambda r: r["makespan"], ".2f"),
            ("lower bound LB (s)", lambda r: r["bound"], ".2f"),
            ("makespan / LB", lambda r: r["makespan"] / r["bound"], ".2f"),
            ("requests/product, GEODES", lambda r: r["requests"][0] / n, ".2f"),
            ("requests/product, PEPS", lambda r: r["requests"][1] / n, ".2f"),
            ("requests/product, total", lambda r: sum(r["requests"]) / n, ".2f"),
            ("verified (MD5), of " + str(n), lambda r: r["verified"], ".0f"),
        ],
    )


if __name__ == "__main__":
    main()
