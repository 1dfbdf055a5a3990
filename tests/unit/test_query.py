"""The unified query refuses bad input with one clear message, before any request."""

from __future__ import annotations

from datetime import timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eodag_peps_plus.exceptions import InvalidQueryError, PepsPlusError
from eodag_peps_plus.query import Query
from eodag_peps_plus.vocabulary import mgrs_tile


def test_normalises_vocabulary() -> None:
    q = Query.create(
        collection="s2st",
        tile="t31tcj",
        start="2020-01-01",
        end="2020-01-01",
        platform="s2a",
        max_cloud_cover="20",
    )
    assert (
        q.collection == "S2ST"
        and q.tile == "31TCJ"
        and q.platform == "S2A"
        and q.max_cloud_cover == 20.0
    )
    assert q.start.tzinfo == timezone.utc
    # A bare end date means the whole day (PEPS matched nothing for -d X -f X).
    assert (q.end - q.start).total_seconds() == pytest.approx(86400, abs=1)


def test_product_type_implies_collection() -> None:
    assert Query.create(product_type="GRD").collection == "S1"
    assert Query.create(product_type="S2MSI1C").collection == "S2ST"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"collection": "S9"}, "collection"),
        ({"start": "2020-13-01"}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"start": "2020-02-01", "end": "2020-01-01"}, "before start"),
        ({"bbox": [0, 0, 1, 95]}, "latitude"),
        ({"bbox": [-190, 0, 1, 1]}, "longitude"),
        ({"bbox": [0, 0, 1]}, "4 numbers"),
        ({"point": (0, 91)}, "latitude"),
        ({"tile": "31TC"}, "MGRS"),
        ({"tile": "ABCDE"}, "MGRS"),
        ({"bbox": [0, 0, 1, 1], "point": (0.5, 0.5)}, "only one"),
        ({"location": "Toulouse", "point": (0.5, 0.5)}, "only one"),
        ({"geometry": "POLYGON((0 0, 1 1"}, "WKT"),
        ({"relative_orbit": 0}, "relative_orbit"),
        ({"max_cloud_cover": 120}, "max_cloud_cover"),
        ({"platform": "S1A", "collection": "S2"}, "does not belong"),
        ({"unknown": 1}, "unknown search parameter"),
    ],
)
def test_bad_input_is_one_clear_typed_error(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message) as info:
        Query.create(**kwargs)
    assert isinstance(info.value, PepsPlusError) and isinstance(info.value, ValueError)
    assert "\n" not in str(info.value)


@given(
    st.sampled_from(["31TCJ", "31UDQ", "30TYN", "32TLP", "33UVP", "18TWL", "55PEK", "01CCV"]),
    st.sampled_from(["", "T", "MGRS-"]),
    st.booleans(),
)
def test_tile_spellings_are_equivalent(tile: str, prefix: str, lower: bool) -> None:
    text = prefix + tile
    assert mgrs_tile(text.lower() if lower else text) == tile


@given(
    st.floats(-180, 180),
    st.floats(-90, 90),
    st.floats(0, 10),
    st.floats(0, 10),
)
def test_valid_boxes_round_trip(lon: float, lat: float, width: float, height: float) -> None:
    box = (lon, lat, min(180.0, lon + width), min(90.0, lat + height))
    assert Query.create(bbox=box).bbox == box
