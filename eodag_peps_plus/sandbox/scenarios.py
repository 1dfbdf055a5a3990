"""Small catalogues for staging tests and benchmarks: N real-looking products with chosen sizes
and storage modes, so a scenario ("40 products of 2-8 MB, half on tape") is one call."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Sequence
from datetime import datetime, timezone

from .catalogue import TILES, Catalogue, Entry, generate, tile_entries

__all__ = ["replace_entry", "staging_catalogue"]

_NOW = datetime(2025, 6, 1, tzinfo=timezone.utc)
#: MGRS 100 km square letters (no I, no O): columns, then rows.
_COLUMNS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ROWS = "ABCDEFGHJKLMNPQRSTUV"


def staging_catalogue(
    count: int,
    *,
    size_range: tuple[int, int] = (200_000, 400_000),
    offline: float | Sequence[bool] = 0.5,
    storage_offline: str = "tape",
    unknown: int = 0,
    seed: int = 0,
    tile: str = "31TCJ",
) -> Catalogue:
    """``count`` Sentinel-2 products of one tile (consecutive dates, one collection: a single
    covering search sees them all), sizes uniform in ``size_range`` (bytes).

    Beyond the ~1,500 products one tile has from 2018 to 2023, neighbouring synthetic tiles of
    the same UTM zone are added (batches of 100,000 products for scale benchmarks) and the
    whole catalogue is sorted by date, as a real one is.

    ``offline`` is the fraction on tape (the first ones after a deterministic shuffle) or an
    explicit flag per product; the last ``unknown`` products get storage ``unknown``.
    """
    first, last = (
        datetime(2018, 1, 1, tzinfo=timezone.utc),
        datetime(2023, 12, 31, tzinfo=timezone.utc),
    )
    base = [
        e
        for e in generate(tiles=(tile,), s1=False, l2a_tiles=(), start=first, end=last)
        if e.collection == "S2ST"
    ]
    if count > len(base):
        lon, lat, _orbits = TILES[tile]
        for name, tile_lon, tile_lat in _neighbour_tiles(tile, lon, lat):
            base.extend(tile_entries(name, tile_lon, tile_lat, (51,), first, last, _NOW))
            if len(base) >= count:
                break
        else:
            raise ValueError(f"at most {len(base)} products in a staging catalogue")
        base.sort(key=lambda e: (e.start, e.name))
    rng = random.Random(seed)
    chosen = base[:count]
    if isinstance(offline, (int, float)):
        order = list(range(count))
        rng.shuffle(order)
        cut = round(count * float(offline))
        flags = [False] * count
        for index in order[:cut]:
            flags[index] = True
    else:
        flags = list(offline)
        if len(flags) != count:
            raise ValueError("one offline flag per product")
    entries: list[Entry] = []
    for index, entry in enumerate(chosen):
        storage = storage_offline if flags[index] else "disk"
        if index >= count - unknown:
            storage = "unknown"
        size = rng.randint(*size_range)
        entries.append(dataclasses.replace(entry, size=size, storage=storage))
    return Catalogue(entries)


def _neighbour_tiles(tile: str, lon: float, lat: float) -> list[tuple[str, float, float]]:
    """Synthetic tiles around ``tile`` (same zone and band, nearest squares first), with
    approximate centres: enough for real-looking names and distinct footprints."""
    zone, column, row = tile[:3], _COLUMNS.index(tile[3]), _ROWS.index(tile[4])
    squares = [
        (abs(c - column) + abs(r - row), c, r)
        for c in range(len(_COLUMNS))
        for r in range(len(_ROWS))
        if (c, r) != (column, row)
    ]
    squares.sort()
    return [
        (f"{zone}{_COLUMNS[c]}{_ROWS[r]}", lon + (c - column) * 1.2, lat + (r - row) * 0.9)
        for _, c, r in squares
    ]


def replace_entry(catalogue: Catalogue, name: str, **changes: object) -> Entry:
    """Swap one product for a modified copy in place (a reprocessed archive: new bytes, new
    checksum and ETag under the same name and URL); returns the new entry."""
    old = catalogue.by_name[name]
    new = dataclasses.replace(old, **changes)  # type: ignore[arg-type]
    catalogue.entries[catalogue.entries.index(old)] = new
    catalogue.by_uuid[new.uuid] = new
    catalogue.by_name[new.name] = new
    return new
