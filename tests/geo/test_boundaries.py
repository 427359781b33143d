"""Guard: the pinned geotool-cn still yields Dalian's 10 districts, read through its private reader."""

from __future__ import annotations

import math

import shapely

from geo.boundaries import district_polygons
from geo.divisions import load_divisions
from geo.schemas import Level

DALIAN_BOX = shapely.box(120.9, 38.6, 123.6, 40.3)
DALIAN_AREA_KM2 = 12_574  # official land area; the DataV polygons also take in some tidal flats


def _area_km2(geometry: shapely.Geometry) -> float:
    lat = geometry.centroid.y
    return float(geometry.area) * (6_371.0088 * math.pi / 180) ** 2 * math.cos(math.radians(lat))


def _districts() -> dict[str, shapely.MultiPolygon]:
    return district_polygons(d.code[:6] for d in load_divisions() if d.level is Level.DISTRICT)


def test_geotool_cn_still_yields_all_ten_districts() -> None:
    polygons = _districts()
    assert sorted(polygons) == [
        "210202", "210203", "210204", "210211", "210212", "210213", "210214", "210224", "210281", "210283",
    ]  # fmt: skip
    for code, polygon in polygons.items():
        assert polygon.is_valid, code
        assert DALIAN_BOX.contains(polygon), f"{code} lies outside Dalian: {polygon.bounds}"


def test_district_areas_are_plausible() -> None:
    areas = {code: _area_km2(polygon) for code, polygon in _districts().items()}
    assert 0.95 * DALIAN_AREA_KM2 < sum(areas.values()) < 1.2 * DALIAN_AREA_KM2
    assert 20 < areas["210203"] < 40  # 西岗区, the smallest
    assert 3_000 < areas["210281"] < 4_500 and 3_000 < areas["210283"] < 4_500  # 瓦房店市, 庄河市
    assert min(areas, key=areas.__getitem__) == "210203"


def test_districts_meet_without_overlapping() -> None:
    polygons = list(_districts().values())
    for i, first in enumerate(polygons):
        for second in polygons[i + 1 :]:
            assert first.intersection(second).area < 1e-12


def test_island_county_keeps_its_islands() -> None:
    assert len(_districts()["210224"].geoms) >= 30  # 长海县
