"""The legacy tools' documented command lines (peps_download README and usage text), with the
unified query each one means. ``-a`` is added by the tests (the file depends on the backend)."""

from __future__ import annotations

from typing import Any

#: (legacy arguments, unified ``Query.create`` fields). ``location`` is a town name: PEPS
#: resolves it, GEODES gets the offline gazetteer's point.
PEPS_DOWNLOAD: list[tuple[list[str], dict[str, Any]]] = [
    (
        ["-c", "S2", "-l", "Toulouse", "-d", "2015-11-01", "-f", "2015-12-01"],
        {"collection": "S2", "location": "Toulouse", "start": "2015-11-01", "end": "2015-12-01T00:00:00Z"},
    ),
    (
        ["-c", "S2ST", "-l", "Toulouse", "-d", "2017-01-01", "-f", "2017-02-01"],
        {"collection": "S2ST", "location": "Toulouse", "start": "2017-01-01", "end": "2017-02-01T00:00:00Z"},
    ),
    (
        ["-c", "S2", "--lon", "1", "--lat", "43.5", "-d", "2015-11-01", "-f", "2015-12-01"],
        {"collection": "S2", "point": (1, 43.5), "start": "2015-11-01", "end": "2015-12-01T00:00:00Z"},
    ),
    (
        ["-c", "S2", "--lon", "1", "--lat", "43.5", "-d", "2015-11-01", "-f", "2015-12-01", "-o", "51"],
        {"collection": "S2", "point": (1, 43.5), "start": "2015-11-01", "end": "2015-12-01T00:00:00Z", "relative_orbit": 51},
    ),
    (
        ["-c", "S1", "--lonmin", "1", "--lonmax", "2", "--latmin", "43", "--latmax", "44", "-d", "2015-11-01", "-f", "2015-12-01"],
        {"collection": "S1", "bbox": (1, 43, 2, 44), "start": "2015-11-01", "end": "2015-12-01T00:00:00Z"},
    ),
    (
        ["-c", "S1", "-p", "GRD", "-l", "Toulouse", "-d", "2015-11-01", "-f", "2015-12-01"],
        {"collection": "S1", "product_type": "GRD", "location": "Toulouse", "start": "2015-11-01", "end": "2015-12-01T00:00:00Z"},
    ),
    (
        ["-l", "Toulouse", "-d", "2016-12-06", "-f", "2017-02-01", "-c", "S2ST"],
        {"collection": "S2ST", "location": "Toulouse", "start": "2016-12-06", "end": "2017-02-01T00:00:00Z"},
    ),
    (
        ["--lon", "1", "--lat", "44", "-d", "2015-11-01", "-f", "2015-12-01", "-c", "S2"],
        {"collection": "S2", "point": (1, 44), "start": "2015-11-01", "end": "2015-12-01T00:00:00Z"},
    ),
    (
        ["-c", "S2ST", "-t", "31TCJ", "-d", "2017-01-01", "-f", "2017-02-01", "--cc", "30"],
        {"collection": "S2ST", "tile": "31TCJ", "start": "2017-01-01", "end": "2017-02-01T00:00:00Z", "max_cloud_cover": 30},
    ),
]  # fmt: skip

EXAMPLE_IDS = [" ".join(args) for args, _ in PEPS_DOWNLOAD]
