"""How big and how slow the search report gets: N synthetic products (distinct footprints,
two orbits, every availability) -> HTML size and build time, and, when Debian's chromium is
there, the time until the page has drawn every footprint and mark (no network).

    python bench/report_page.py [--products 1000 5000 20000]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _offline import timed  # noqa: E402 - sets EODAG up offline before it is imported

from eodag_peps_plus.report import search_report  # noqa: E402

STATUSES = ("succeeded", "ordered", "orderable", "orderable")


def features(count: int) -> dict[str, Any]:
    rng = random.Random(7)
    out = []
    for n in range(count):
        lon, lat = rng.uniform(-10, 30), rng.uniform(35, 60)
        ring = [[lon, lat], [lon + 1, lat], [lon + 1, lat + 1], [lon, lat + 1], [lon, lat]]
        out.append({
            "type": "Feature", "id": f"S2A_MSIL1C_{n:06d}",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {
                "start_datetime": f"2020-{1 + n % 12:02d}-{1 + n % 28:02d}T10:00:00Z",
                "order:status": STATUSES[n % 4], "eo:cloud_cover": rng.uniform(0, 100),
                "sat:relative_orbit": 8 if n % 2 else 51, "file:size": 800_000_000,
            },
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": out}


def browser_seconds(path: Path, count: int) -> float | None:
    if not Path("/usr/bin/chromium").exists():
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--host-resolver-rules=MAP * ~NOTFOUND"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.set_page_load_timeout(300)
        start = time.perf_counter()
        driver.get(path.as_uri())
        drawn = driver.execute_script(
            "return document.querySelectorAll('path.footprint').length"
            " + document.querySelectorAll('path.mark').length"
        )
        assert drawn == 2 * count, drawn
        return time.perf_counter() - start
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, nargs="+", default=[1000, 5000, 20000])
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-report-"))
    for count in args.products:
        seconds, html = timed(lambda count=count: search_report(features(count), tiles=""))
        path = folder / f"report-{count}.html"
        path.write_text(html)
        load = browser_seconds(path, count)
        shown = "n/a (no chromium)" if load is None else f"{load:.2f} s"
        print(f"{count:>6} products: build {seconds:.2f} s, {len(html) / 1e6:.1f} MB, "
              f"browser load+draw {shown}")  # fmt: skip


if __name__ == "__main__":
    main()
