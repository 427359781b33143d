from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from geo.index import AreaIndex
from geo.locate_rules import EDGE_TOLERANCE_DEG, M_PER_DEG
from geo.schemas import CITY_CODE, AreaSpec, Level, LocateMethod

# A toy city on exactly representable coordinates: two districts side by side at lon 121.5, each one
# township and one community cut into two grid cells at lon 121.25 / 121.75.
WEST, EAST = "210202000000", "210203000000"


def _square(x0: float, x1: float) -> shapely.MultiPolygon:
    return shapely.MultiPolygon([shapely.box(x0, 39.0, x1, 39.5)])


def _toy_areas() -> list[AreaSpec]:
    areas = [
        AreaSpec(code=CITY_CODE, name="市", level=Level.CITY, parent_code=None, geometry=_square(121, 122))
    ]
    for district, x0 in ((WEST, 121.0), (EAST, 121.5)):
        township, community = district[:6] + "001000", district[:6] + "001001"
        chain = ((district, Level.DISTRICT, CITY_CODE), (township, Level.TOWNSHIP, district))
        chain += ((community, Level.COMMUNITY, township),)
        for code, level, parent in chain:
            areas.append(
                AreaSpec(
                    code=code, name=code, level=level, parent_code=parent, geometry=_square(x0, x0 + 0.5)
                )
            )
        for sequence, (left, right) in enumerate(((x0, x0 + 0.25), (x0 + 0.25, x0 + 0.5)), start=1):
            code = f"{community}{sequence:03d}"
            geometry = _square(left, right)
            areas.append(
                AreaSpec(
                    code=code,
                    name=code,
                    level=Level.GRID,
                    parent_code=community,
                    geometry=geometry,
                    synthetic=True,
                )
            )
    return areas


@pytest.fixture(scope="module")
def toy() -> AreaIndex:
    return AreaIndex(_toy_areas())


def test_point_inside_gets_every_level_from_the_grid_cell(toy: AreaIndex) -> None:
    location = toy.locate(121.1, 39.2)
    assert location is not None
    assert (location.city, location.district, location.township, location.community, location.grid) == (
        CITY_CODE, WEST, "210202001000", "210202001001", "210202001001001",
    )  # fmt: skip
    assert location.method is LocateMethod.COVERS and location.synthetic
    assert toy.level is Level.GRID and len(toy) == 4


def test_point_on_shared_edge_goes_to_lower_code(toy: AreaIndex) -> None:
    between_grids = toy.locate(121.25, 39.2)
    assert between_grids is not None and between_grids.grid == "210202001001001"
    between_districts = toy.locate(121.5, 39.2)
    assert between_districts is not None
    assert between_districts.district == WEST and between_districts.grid == "210202001001002"


def test_point_on_a_corner_shared_by_districts_goes_to_lower_code_at_every_level(toy: AreaIndex) -> None:
    location = toy.locate(121.5, 39.5)
    assert location is not None
    assert location.deepest == "210202001001002"
    assert [location.code_at(level) for level in Level] == [
        CITY_CODE, WEST, "210202001000", "210202001001", "210202001001002",
    ]  # fmt: skip


def test_point_on_the_outer_edge_is_located_not_lost(toy: AreaIndex) -> None:
    location = toy.locate(121.0, 39.0)
    assert location is not None and location.method is LocateMethod.COVERS


def test_point_just_offshore_goes_to_the_nearest_unit_with_its_distance(toy: AreaIndex) -> None:
    location = toy.locate(120.99, 39.2)
    assert location is not None
    assert location.method is LocateMethod.NEAREST_OFFSHORE
    assert location.grid == "210202001001001"
    expected = 0.01 * M_PER_DEG * math.cos(math.radians(39.2))  # due west: 0.01 degree of longitude
    assert location.offshore_distance_m == pytest.approx(expected, abs=0.05)
    assert 850 < expected < 870


def test_point_beyond_the_offshore_bound_is_outside_the_jurisdiction(toy: AreaIndex) -> None:
    assert toy.locate(120.97, 39.2) is None  # about 2.6 km out
    assert toy.locate(121.5, 39.52) is None  # about 2.2 km north


def test_offshore_bound_is_configurable() -> None:
    strict = AreaIndex(_toy_areas(), offshore_max_m=500)
    assert strict.locate(120.99, 39.2) is None
    assert strict.locate(120.996, 39.2) is not None  # about 350 m out


def test_equally_near_offshore_units_go_to_lower_code(toy: AreaIndex) -> None:
    location = toy.locate(121.5, 39.505)  # north of the corner both districts share
    assert location is not None and location.method is LocateMethod.NEAREST_OFFSHORE
    assert location.grid == "210202001001002"


def test_noise_below_tolerance_counts_as_covered(toy: AreaIndex) -> None:
    location = toy.locate(math.nextafter(121.0, 0.0), 39.2)
    assert location is not None and location.method is LocateMethod.COVERS


def test_point_within_the_edge_tolerance_of_a_lower_code_goes_to_it(toy: AreaIndex) -> None:
    # Inside the eastern cell by half the tolerance: the western cell (lower code) is as good as touched.
    x = 121.25 + EDGE_TOLERANCE_DEG / 2
    assert toy.locate(x, 39.2) == toy.locate(121.25, 39.2)
    assert toy.locate_many([x], [39.2])[0] == toy.locate(121.25, 39.2)
    beyond = toy.locate(121.25 + EDGE_TOLERANCE_DEG * 3, 39.2)
    assert beyond is not None and beyond.grid == "210202001001002"


def test_point_just_beyond_the_tolerance_is_offshore_at_zero_metres(toy: AreaIndex) -> None:
    location = toy.locate(121.0 - EDGE_TOLERANCE_DEG * 3, 39.2)
    assert location is not None and location.method is LocateMethod.NEAREST_OFFSHORE
    assert location.offshore_distance_m == 0.0


def test_accuracy_circle_lists_the_neighbour_cells_it_touches(toy: AreaIndex) -> None:
    near_edge = 121.25 - 10 / (111_195 * math.cos(math.radians(39.2)))  # 10 m west of the grid line
    wide = toy.locate(near_edge, 39.2, accuracy_m=20)
    assert wide is not None and wide.grid == "210202001001001"
    assert wide.candidates == ("210202001001002",)
    narrow = toy.locate(near_edge, 39.2, accuracy_m=5)
    assert narrow is not None and narrow.candidates == ()


def test_accuracy_candidates_come_nearest_first(toy: AreaIndex) -> None:
    location = toy.locate(121.26, 39.2, accuracy_m=30_000)
    assert location is not None and location.grid == "210202001001002"
    assert location.candidates == ("210202001001001", "210203001001001")


def test_bad_coordinates_are_refused_with_the_field_named(toy: AreaIndex) -> None:
    with pytest.raises(ValueError, match="lon"):
        toy.locate(float("nan"), 39.2)
    with pytest.raises(ValueError, match="accuracy_m"):
        toy.locate(121.1, 39.2, accuracy_m=-1)
    with pytest.raises(ValueError, match="lats"):
        toy.locate_many([121.1, 121.2], [39.2, float("inf")])
    with pytest.raises(ValueError, match="lengths differ"):
        toy.locate_many([121.1, 121.2], [39.2])
    with pytest.raises(ValueError, match="areas"):
        AreaIndex([])


def test_index_over_districts_only_locates_to_district_level(areas: list[AreaSpec]) -> None:
    districts = AreaIndex([a for a in areas if a.level in (Level.CITY, Level.DISTRICT)])
    location = districts.locate(121.62, 38.92)
    assert districts.level is Level.DISTRICT
    assert location is not None and location.district is not None and location.township is None
    assert not location.synthetic


def _random_points(areas: list[AreaSpec], count: int) -> tuple[np.ndarray, np.ndarray]:
    """Points over the city's box: land, sea near the coast and sea far out, all mixed."""
    rng = np.random.default_rng(2102)
    min_x, min_y, max_x, max_y = areas[0].geometry.bounds
    return rng.uniform(min_x - 0.05, max_x + 0.05, count), rng.uniform(min_y - 0.05, max_y + 0.05, count)


def test_bulk_and_single_location_agree(index: AreaIndex, areas: list[AreaSpec]) -> None:
    lons, lats = _random_points(areas, 3_000)
    accuracies = [None if i % 3 else 50.0 for i in range(len(lons))]
    bulk = index.locate_many(lons, lats, accuracies)
    singles = zip(lons.tolist(), lats.tolist(), accuracies, strict=True)
    assert bulk == [index.locate(x, y, accuracy) for x, y, accuracy in singles]
    assert any(b is not None and b.candidates for b in bulk)
    methods = {None if b is None else b.method for b in bulk}
    assert methods == {None, LocateMethod.COVERS, LocateMethod.NEAREST_OFFSHORE}


def test_bulk_location_matches_a_bare_strtree_with_the_lower_code_rule(
    index: AreaIndex, by_level: dict[Level, list[AreaSpec]], areas: list[AreaSpec]
) -> None:
    grids = by_level[Level.GRID]
    lons, lats = _random_points(areas, 20_000)
    point, grid = shapely.STRtree([g.geometry for g in grids]).query(
        shapely.points(lons, lats), predicate="covered_by"
    )
    lowest = np.full(len(lons), len(grids))
    np.minimum.at(lowest, point, grid)
    located = index.locate_many(lons, lats)
    for i in np.flatnonzero(lowest < len(grids)).tolist():
        location = located[i]
        assert location is not None and location.grid == grids[lowest[i]].code


def test_offshore_distance_matches_the_distance_to_the_city(index: AreaIndex, areas: list[AreaSpec]) -> None:
    lons, lats = _random_points(areas, 20_000)
    located = index.locate_many(lons, lats)
    city = areas[0].geometry
    checked = 0
    for i, location in enumerate(located):
        if location is None or location.method is not LocateMethod.NEAREST_OFFSHORE:
            continue
        # Reference: the distance in a plane true to scale at the point's own latitude (rule 5).
        scale = np.array([math.cos(math.radians(lats[i])), 1.0]) * M_PER_DEG
        local = shapely.transform(city, lambda xy, s=scale: xy * s)
        reference = shapely.distance(local, shapely.Point(lons[i] * scale[0], lats[i] * scale[1]))
        assert location.offshore_distance_m == pytest.approx(reference, abs=0.051)
        assert 0 < (location.offshore_distance_m or 0) <= 2_000
        checked += 1
    assert checked > 20


def test_whole_dalian_index_stays_under_200_mb(index: AreaIndex) -> None:
    assert 0 < index.memory_bytes() <= 200 * 1024 * 1024
