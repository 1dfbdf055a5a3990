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

    python bench/fallback.py            # 40 products, restores 2-6 s
    python bench/fallback.py --quick    # 12 products, restores 1-2 s
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count, latency = (12, (1.0, 2.0)) if args.quick else (40, (2.0, 6.0))
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
        refused = sum(e.storage == "tape" for e in catalogue)
        print(f"{count} products, {refused} refused by GEODES (410), PEPS restores {latency} s")
        print(f"  status:            {report.counts()}")
        print(f"  makespan:          {makespan:.2f} s")
        print(f"  lower bound (LB):  {bound:.2f} s (best source per product)")
        print(f"  makespan / LB:     {makespan / bound:.2f}")
        print(
            f"  requests/product:  GEODES {requests[0] / count:.2f}, PEPS "
            f"{requests[1] / count:.2f}, total {sum(requests) / count:.2f}"
        )
        print(f"  verified (MD5):    {verified}/{count}")
    finally:
        geodes_sb.stop()
        peps_sb.stop()


if __name__ == "__main__":
    main()
