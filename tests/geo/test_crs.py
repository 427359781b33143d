from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.crs import (
    Crs,
    from_wgs84,
    from_wgs84_many,
    parse_crs,
    swap_hint,
    swapped_lon_lat,
    to_wgs84,
    to_wgs84_many,
)
from geo.schemas import AreaSpec

DALIAN_BOX = (120.9, 38.7, 123.6, 40.3)
M_PER_DEG = 111_195.0


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * M_PER_DEG * math.cos(math.radians((a[1] + b[1]) / 2))
    return math.hypot(dx, (a[1] - b[1]) * M_PER_DEG)


china = st.tuples(st.floats(73.0, 135.0), st.floats(18.0, 53.5))


@settings(max_examples=300)
@given(point=china, crs=st.sampled_from([Crs.GCJ02, Crs.BD09]))
def test_round_trip_through_gcj02_and_bd09_stays_under_one_metre(
    point: tuple[float, float], crs: Crs
) -> None:
    shifted = from_wgs84(*point, crs)
    assert _metres(to_wgs84(*shifted, crs), point) < 1.0


@settings(max_examples=100)
@given(point=china)
def test_wgs84_to_wgs84_is_the_identity(point: tuple[float, float]) -> None:
    assert to_wgs84(*point, "wgs84") == point


def test_gcj02_in_dalian_lies_about_440_m_east_and_100_m_north() -> None:
    lon, lat = 121.6147, 38.9140  # 中山广场
    gcj = from_wgs84(lon, lat, Crs.GCJ02)
    east = (gcj[0] - lon) * M_PER_DEG * math.cos(math.radians(lat))
    north = (gcj[1] - lat) * M_PER_DEG
    assert 380 < east < 500 and 60 < north < 160


def test_bd09_in_dalian_lies_about_1_km_east_and_750_m_north() -> None:
    lon, lat = 121.6147, 38.9140
    bd = from_wgs84(lon, lat, Crs.BD09)
    east = (bd[0] - lon) * M_PER_DEG * math.cos(math.radians(lat))
    north = (bd[1] - lat) * M_PER_DEG
    assert 900 < east < 1_100 and 650 < north < 850


def test_points_outside_china_are_not_shifted_by_gcj02() -> None:
    assert from_wgs84(2.35, 48.85, Crs.GCJ02) == (2.35, 48.85)
    assert to_wgs84(2.35, 48.85, Crs.GCJ02) == (2.35, 48.85)


def test_bulk_conversion_matches_one_at_a_time() -> None:
    rng = np.random.default_rng(0)
    lons, lats = rng.uniform(121, 123, 200), rng.uniform(38.7, 40.2, 200)
    bd_lons, bd_lats = from_wgs84_many(lons, lats, "bd09")
    back_lons, back_lats = to_wgs84_many(bd_lons, bd_lats, "bd09")
    for i in range(200):
        assert (back_lons[i], back_lats[i]) == to_wgs84(float(bd_lons[i]), float(bd_lats[i]), "bd09")
        assert _metres((back_lons[i], back_lats[i]), (lons[i], lats[i])) < 1.0


@pytest.mark.parametrize(
    ("name", "crs"),
    [("WGS84", Crs.WGS84), ("EPSG:4326", Crs.WGS84), ("gcj-02", Crs.GCJ02), ("bd09ll", Crs.BD09)],
)
def test_crs_names_clients_send_are_understood(name: str, crs: Crs) -> None:
    assert parse_crs(name) is crs


def test_unknown_crs_is_refused_with_the_field_named() -> None:
    with pytest.raises(ValueError, match="crs: unknown coordinate system 'mercator'"):
        to_wgs84(121.6, 38.9, "mercator")


def test_swapped_lat_lon_gives_a_hint_with_the_point_meant() -> None:
    assert swapped_lon_lat(38.914, 121.6147, DALIAN_BOX) == (121.6147, 38.914)
    hint = swap_hint(38.914, 121.6147, DALIAN_BOX)
    assert hint is not None and "经纬度可能填反了" in hint and "(121.6147, 38.914)" in hint


def test_no_swap_hint_for_a_point_already_inside_or_outside_both_ways() -> None:
    assert swap_hint(121.6147, 38.914, DALIAN_BOX) is None
    assert swap_hint(116.4, 39.9, DALIAN_BOX) is None  # Beijing: outside, and swapped too


def test_swap_hint_works_against_a_polygon(areas: list[AreaSpec]) -> None:
    city = areas[0].geometry
    assert swapped_lon_lat(38.914, 121.6147, city) == (121.6147, 38.914)
    assert swapped_lon_lat(121.6147, 38.914, city) is None
