"""Every point of a district lies in exactly one township, one community and one grid cell."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.index import AreaIndex
from geo.locate_rules import EDGE_TOLERANCE_DEG
from geo.schemas import AreaSpec, Level, LocateMethod

NOISE_DEG = 1e-9  # about 0.1 mm: generated edges may sit this far off a noded district outline
TILED_LEVELS = (Level.TOWNSHIP, Level.COMMUNITY, Level.GRID)


@dataclass(frozen=True)
class LevelTree:
    codes: np.ndarray
    tree: shapely.STRtree


@pytest.fixture(scope="session")
def trees(by_level: dict[Level, list[AreaSpec]]) -> dict[Level, LevelTree]:
    return {
        level: LevelTree(
            np.array([a.code for a in by_level[level]]),
            shapely.STRtree([a.geometry for a in by_level[level]]),
        )
        for level in (Level.DISTRICT, *TILED_LEVELS)
    }


@pytest.fixture(scope="session")
def triangles(by_level: dict[Level, list[AreaSpec]]) -> list[np.ndarray]:
    """Each district cut into triangles on its own vertices: a way to draw points inside, edges included."""
    return [
        shapely.get_coordinates(shapely.get_exterior_ring(shapely.get_parts(
            shapely.constrained_delaunay_triangles(d.geometry)
        ))).reshape(-1, 4, 2)[:, :3]
        for d in by_level[Level.DISTRICT]
    ]  # fmt: skip


def _assert_one_unit_per_level(index: AreaIndex, trees: dict[Level, LevelTree], x: float, y: float) -> None:
    location = index.locate(x, y)
    assert location is not None, f"({x}, {y}) inside a district was not located"
    assert location.method is LocateMethod.COVERS
    point = shapely.Point(x, y)
    for level in TILED_LEVELS:
        level_tree = trees[level]
        inside = level_tree.codes[level_tree.tree.query(point, predicate="within")]
        touching = level_tree.codes[level_tree.tree.query(point, predicate="dwithin", distance=NOISE_DEG)]
        # Covered, by geo.locate_rules: inside, on the edge, or within the edge tolerance.
        covering = level_tree.codes[
            level_tree.tree.query(point, predicate="dwithin", distance=EDGE_TOLERANCE_DEG)
        ]
        chosen = location.code_at(level)
        assert len(inside) <= 1, f"{level}: units overlap at ({x}, {y}): {inside}"
        assert len(touching) >= 1, f"{level}: gap at ({x}, {y})"
        assert chosen == min(covering), f"{level}: lower code must win at ({x}, {y})"
    grid, community, township, district = (
        location.grid,
        location.community,
        location.township,
        location.district,
    )
    assert grid and community and township and district
    assert grid.startswith(community) and community.startswith(township[:9])
    assert township.startswith(district[:6])


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_points_in_a_district_fall_in_exactly_one_unit_per_level(
    data: st.DataObject, index: AreaIndex, trees: dict[Level, LevelTree], triangles: list[np.ndarray]
) -> None:
    district = data.draw(st.integers(0, len(triangles) - 1), label="district")
    corners = triangles[district][data.draw(st.integers(0, len(triangles[district]) - 1), label="triangle")]
    a = data.draw(st.floats(0, 1), label="a")
    b = data.draw(st.floats(0, 1), label="b")
    if a + b > 1:  # fold the square onto the triangle; 0 and 1 land on its vertices and edges
        a, b = 1 - a, 1 - b
    x, y = corners[0] + a * (corners[1] - corners[0]) + b * (corners[2] - corners[0])
    _assert_one_unit_per_level(index, trees, float(x), float(y))


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_vertices_and_edges_of_generated_units_fall_in_exactly_one_unit_per_level(
    data: st.DataObject,
    index: AreaIndex,
    trees: dict[Level, LevelTree],
    by_level: dict[Level, list[AreaSpec]],
) -> None:
    level = data.draw(st.sampled_from(TILED_LEVELS), label="level")
    unit = data.draw(st.sampled_from(by_level[level]), label="unit")
    rings = shapely.get_parts(unit.geometry.boundary)
    ring = shapely.get_coordinates(rings[data.draw(st.integers(0, len(rings) - 1), label="ring")])
    i = data.draw(st.integers(0, len(ring) - 2), label="segment")
    t = data.draw(st.sampled_from([0.0, 1.0]) | st.floats(0, 1), label="t")
    x, y = ring[i] + t * (ring[i + 1] - ring[i])
    _assert_one_unit_per_level(index, trees, float(x), float(y))


def _children_tile(parent: shapely.Geometry, children: list[shapely.Geometry]) -> None:
    union = shapely.coverage_union_all(children)
    assert abs(sum(c.area for c in children) - parent.area) <= 1e-9 * parent.area, "children overlap"
    assert shapely.symmetric_difference(union, parent).area <= 1e-9 * parent.area, "children leave a gap"


@pytest.mark.parametrize("level", [Level.DISTRICT, Level.TOWNSHIP, Level.COMMUNITY])
def test_children_tile_their_parent_exactly(
    level: Level, by_level: dict[Level, list[AreaSpec]], by_code: dict[str, AreaSpec]
) -> None:
    child_level = Level(list(Level)[level.depth + 1])
    children: dict[str, list[shapely.Geometry]] = {}
    for child in by_level[child_level]:
        children.setdefault(child.parent_code or "", []).append(child.geometry)
    for parent in by_level[level]:
        _children_tile(parent.geometry, children[parent.code])


def test_siblings_share_identical_vertices(by_level: dict[Level, list[AreaSpec]]) -> None:
    for level in TILED_LEVELS:
        geoms = [a.geometry for a in by_level[level]]
        assert shapely.coverage_is_valid(shapely.GeometryCollection(geoms)), (
            f"{level} is not a clean coverage"
        )


def test_every_island_belongs_to_a_township_of_its_district(
    index: AreaIndex, by_level: dict[Level, list[AreaSpec]]
) -> None:
    for district in by_level[Level.DISTRICT]:
        for island in district.geometry.geoms:
            inside = island.representative_point()
            location = index.locate(inside.x, inside.y)
            assert location is not None and location.district == district.code
            assert location.township is not None and location.township.startswith(district.code[:6])
