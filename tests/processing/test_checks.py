"""Rules checked before anything is submitted (no server involved)."""

from __future__ import annotations

from datetime import date

import pytest

from eodag_peps_plus.exceptions import InvalidQueryError
from eodag_peps_plus.processing import checks
from eodag_peps_plus.sandbox.catalogue import TILES


def test_valid_series_is_normalised() -> None:
    request = checks.check_series("t31tcj", "2019-03-01", "2019-05-01", "51")
    assert request == checks.SeriesRequest("31TCJ", date(2019, 3, 1), date(2019, 5, 1), 51)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("31TC", "2019-01-01", "2019-03-01"), "not an MGRS tile"),
        (("X31TCJ", "2019-01-01", "2019-03-01"), "not an MGRS tile"),
        (("31TCJ", "2019-01-01", "2019-02-15"), "at least 50 days"),
        (("31TCJ", "2019-01-01", "2020-01-03"), "at most 366 days"),
        (("31TCJ", "2016-01-01", "2016-04-01"), "not after 2016-04-01"),
        # issue 23: the series must start on or after 2016-04-01, not only end after it
        (("31TCJ", "2016-01-01", "2016-06-01"), "start: 2016-01-01 is before 2016-04-01"),
        (("31TCJ", "2016-03-31", "2016-06-01"), "must start on or after"),
        (("31TCJ", "2019-05-01", "2019-03-01"), "before start"),
        (("31TCJ", "2019-01-01", "2019-03-01", 0), "1-143"),
        (("31TCJ", "2019-01-01", "2019-03-01", 144), "1-143"),
        (("31TCJ", "2019-01-01", "2019-03-01", "R51"), "not an integer"),
        (("31TCJ", "2019-13-01", "2019-03-01"), "not a date"),
        (("33WXS", "2019-01-01", "2019-03-01"), "beyond"),
    ],
)
def test_series_refused_with_reason(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        checks.check_series(*args)  # type: ignore[arg-type]


def test_series_may_start_on_2016_04_01() -> None:
    assert (
        checks.check_series("31TCJ", "2016-04-01", "2016-06-01").start.isoformat() == "2016-04-01"
    )


def test_latitude_reason_says_why() -> None:
    with pytest.raises(InvalidQueryError) as info:
        checks.check_series("33WXS", "2019-06-01", "2019-08-01")
    text = str(info.value)
    assert "68.9" in text and "N" in text and "elevation model" in text and "\n" not in text


@pytest.mark.parametrize("tile", sorted(TILES))
def test_tile_latitude_matches_the_tile_table(tile: str) -> None:
    assert checks.tile_latitude(tile) == pytest.approx(TILES[tile][1], abs=0.6)


def test_tile_latitude_near_sixty() -> None:
    # Band V straddles 60N: the row letter decides (Oslo's tile is south of 60, Finnmark north).
    assert checks.tile_latitude("32VNM") < 60.5
    assert checks.tile_latitude("35WMQ") > 60
    with pytest.raises(InvalidQueryError, match="does not exist"):
        checks.tile_latitude("58DEA")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "S1A_IW_GRDH_1SDV_20190101T053000_20190101T053025_025000_02C000_ABCD",
            "not a Sentinel-2 L1C",
        ),
        ("SENTINEL2A_20190415-105416-455_L2A_T31TCJ_C_V2-2", "not a Sentinel-2 L1C"),
        (
            "S2A_OPER_PRD_MSIL1C_PDMC_20160105T150000_R051_V20160105T105000_20160105T105000_T31TCJ",
            "not after 2016-04-01",
        ),
        ("S2A_MSIL1C_20190701T110621_N0207_R137_T33WXS_20190701T114012", "beyond"),
    ],
)
def test_product_refused(name: str, message: str) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        checks.check_product(name)


def test_product_latitude_from_geometry_wins() -> None:
    name = "S2A_MSIL1C_20190701T105031_N0207_R051_T31TCJ_20190701T111512"
    assert checks.check_product(name + ".zip") == name
    with pytest.raises(InvalidQueryError, match="beyond"):
        checks.check_product(name, latitude=-61.0)


def test_confirmation_from_ten_products() -> None:
    checks.confirm_many(9, yes=False, confirm=None)
    checks.confirm_many(10, yes=True, confirm=None)
    checks.confirm_many(10, yes=False, confirm=lambda n: True)
    asked: list[int] = []
    with pytest.raises(InvalidQueryError, match="10 per-product"):
        checks.confirm_many(10, yes=False, confirm=lambda n: asked.append(n) or False)
    assert asked == [10]
