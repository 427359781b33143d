"""The PostGIS locator finds its candidates through `leaf_cells`, the leaves' coverage table; every write of
areas rebuilds it in the same transaction, so a moved boundary is found at its new place at once."""

from __future__ import annotations

import shapely
from shapely import affinity
from sqlalchemy import Engine, text

from geo.locate_db import locate_points
from geo.schemas import AreaSpec, Level
from geo.store import upsert_areas

OPEN_SEA = (122.05, 38.62)  # the Yellow Sea south-east of 大连湾: no unit within the offshore bound


def test_a_moved_grid_cell_is_found_at_its_new_place_in_the_same_transaction(
    database: Engine, by_level: dict[Level, list[AreaSpec]]
) -> None:
    grid = by_level[Level.GRID][100]
    assert grid.geometry is not None
    before = shapely.get_coordinates(grid.geometry.representative_point())[0]
    centre = shapely.get_coordinates(grid.geometry.centroid)[0]
    moved = affinity.translate(grid.geometry, OPEN_SEA[0] - centre[0], OPEN_SEA[1] - centre[1])
    inside = tuple(shapely.get_coordinates(moved.representative_point())[0])
    with database.connect() as conn, conn.begin() as transaction:
        assert locate_points(conn, [inside]) == [None]
        upsert_areas(conn, [grid.model_copy(update={"geometry": moved})])
        found, old_place = locate_points(conn, [inside, tuple(before)])
        assert found is not None and found.grid == grid.code and found.community == grid.parent_code
        assert old_place is None or old_place.grid != grid.code
        cells = conn.execute(
            text("SELECT count(*) FROM leaf_cells WHERE code = :c"), {"c": grid.code}
        ).scalar()
        assert cells and cells >= 1
        transaction.rollback()
    with database.connect() as conn, conn.begin():
        assert locate_points(conn, [inside]) == [None]  # rolled back: the table is as it was
        assert locate_points(conn, [tuple(before)])[0].grid == grid.code  # type: ignore[union-attr]
