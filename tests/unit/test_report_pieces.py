"""The report's building blocks without a browser: axis ticks, summary figures, inputs."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from eodag_peps_plus.files import write_atomically
from eodag_peps_plus.product import Availability, human_size
from eodag_peps_plus.report import ReportError, read_products
from eodag_peps_plus.report.products import search_area_geojson, summarize
from eodag_peps_plus.report.timeline import SHAPES, _ticks, shape_path


def feature(n: int, status: str = "orderable", **props: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "id": f"P{n}",
        "geometry": {"type": "Point", "coordinates": [1, 43]},
        "properties": {"start_datetime": f"2020-01-{n:02d}T10:00:00Z", "order:status": status,
                       **props},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("first", "last", "count", "label"),
    [
        (date(2020, 1, 1), date(2020, 1, 10), 10, "01 Jan"),
        (date(2020, 1, 1), date(2020, 2, 20), 7, "06 Jan"),
        (date(2020, 1, 1), date(2020, 12, 31), 12, "Jan 2020"),
        (date(2019, 1, 1), date(2021, 12, 31), 12, "Jan 2019"),
        (date(2015, 6, 1), date(2025, 6, 1), 10, "2016"),
    ],
)
def test_ticks_fit_the_span(first: date, last: date, count: int, label: str) -> None:
    ticks = _ticks(first, last)
    assert len(ticks) == count and ticks[0][1] == label
    assert all(first <= day <= last for day, _ in ticks)


def test_summary_figures() -> None:
    products = read_products(
        [
            feature(1, "succeeded", **{"file:size": 2_000_000_000}),
            feature(2, "orderable", **{"file:size": 500_000_000}),
            feature(3, "orderable"),
            feature(4, "ordered", **{"file:size": 1}),
            feature(5, "orderable", **{"peps:storage": "unknown"}),
        ]
    )
    summary = summarize(products, (120.0, 360.0))
    assert summary.by_status[Availability.OFFLINE] == 2 and summary.to_restore == 3
    lines = dict(summary.lines())
    assert lines["total size"] == "2.5 GB (2 of unknown size)"
    assert lines["share on tape"] == "40%"
    assert lines["expected staging wait"].startswith("about 2-6 min for 3 product(s)")
    online = summarize(read_products([feature(1, "succeeded")]))
    assert online.staging_wait().startswith("none")
    assert (
        human_size(999) == "999 B"
        and human_size(1500) == "1.5 kB"
        and human_size(None) == "unknown"
    )


def test_duplicates_drawn_once_and_bad_inputs() -> None:
    assert len(read_products([feature(1), feature(1), feature(2)])) == 2
    with pytest.raises(ReportError, match="P1: sat:relative_orbit"):
        read_products([feature(1, **{"sat:relative_orbit": "R51"})])
    with pytest.raises(ReportError, match="cannot draw a int"):
        read_products(42)
    with pytest.raises(ReportError, match="search area"):
        search_area_geojson({"type": "Point", "coordinates": ["a", 1]})
    assert search_area_geojson([1, 2, 3, 4])["type"] == "Polygon"


def test_every_shape_is_a_closed_path() -> None:
    for name, _marker in SHAPES:
        assert shape_path(name, 10, 10).endswith("Z")


def test_written_files_keep_usual_permissions(tmp_path: Path) -> None:
    """Reports are for sharing: not mkstemp's private 0600."""
    umask = os.umask(0o022)
    os.umask(umask)
    new = write_atomically(tmp_path / "a.html", "x")
    assert new.stat().st_mode & 0o777 == 0o666 & ~umask
    new.chmod(0o640)
    assert write_atomically(new, b"y").stat().st_mode & 0o777 == 0o640
    assert new.read_bytes() == b"y" and [p.name for p in tmp_path.iterdir()] == ["a.html"]
