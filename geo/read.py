"""Reading the city's areas back from PostGIS, for the in-memory index the workers locate with."""

from __future__ import annotations

from collections.abc import Sequence

from shapely import from_wkb
from sqlalchemy import Connection, case, func, select

from geo.index import AreaIndex
from geo.locate_rules import DEFAULT_OFFSHORE_MAX_M
from geo.models import areas
from geo.schemas import AreaSpec, Level
from geo.versions import read_versions


def read_areas(
    conn: Connection, *, all_geometries: bool = False, levels: Sequence[Level] | None = None
) -> list[AreaSpec]:
    """Every area (of `levels`, if given), parents first; boundaries of the leaves only unless
    `all_geometries` (the index needs no more, and the city and district outlines are most of the bytes)."""
    wanted = areas.c.leaf if not all_geometries else areas.c.geom.is_not(None)
    query = select(
        areas.c.code,
        areas.c.name,
        areas.c.level,
        areas.c.parent_code,
        areas.c.synthetic,
        areas.c.mca_code,
        areas.c.mca_name,
        areas.c.kind,
        areas.c.population,
        areas.c.population_estimated,
        case((wanted, func.ST_AsBinary(areas.c.geom)), else_=None).label("wkb"),
    ).order_by(func.length(areas.c.code), areas.c.code)
    if levels is not None:
        query = query.where(areas.c.level.in_([level.value for level in levels]))
    return [
        AreaSpec(
            code=row.code,
            name=row.name,
            level=Level(row.level),
            parent_code=row.parent_code,
            geometry=from_wkb(bytes(row.wkb)) if row.wkb is not None else None,
            synthetic=row.synthetic,
            mca_code=row.mca_code,
            mca_name=row.mca_name,
            kind=row.kind,
            population=row.population,
            population_estimated=row.population_estimated,
        )
        for row in conn.execute(query)
    ]


def read_index(conn: Connection, *, offshore_max_m: float = DEFAULT_OFFSHORE_MAX_M) -> AreaIndex:
    """An index of the areas as they are in this transaction, stamped with their version. Run it in a
    REPEATABLE READ transaction so that the version and the boundaries come from one snapshot."""
    version = read_versions(conn).areas
    return AreaIndex(read_areas(conn), offshore_max_m=offshore_max_m, version=version)
