"""Writing the city's places and rules into PostGIS, in one transaction (a failed load changes nothing)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from shapely import MultiPolygon, Polygon, to_wkb
from sqlalchemy import Connection, delete, func, text
from sqlalchemy.dialects.postgresql import insert

from geo.catalog import (
    CITY_ONLY_KINDS,
    DEPARTMENT_KINDS,
    TOWNSHIP_DEPARTMENT_KINDS,
    department_code,
    department_name,
)
from geo.locate_db import refresh_leaf_cells
from geo.models import areas, categories, departments, duty_rules
from geo.schemas import AreaSpec, Category, Department, DutyRule, Level

Progress = Callable[[int], None]
CHUNK = 500


def _multipolygon_wkb(geometry: object) -> bytes | None:
    if geometry is None:
        return None
    if isinstance(geometry, Polygon):
        geometry = MultiPolygon([geometry])
    if not isinstance(geometry, MultiPolygon):
        raise ValueError(f"boundary must be a (multi)polygon, got {type(geometry).__name__}")
    wkb: bytes = to_wkb(geometry)
    return wkb


# Every column an area spec fills; an import of boundaries updates only IMPORTED_COLUMNS of existing areas.
AREA_COLUMNS = (
    "name",
    "level",
    "parent_code",
    "kind",
    "mca_code",
    "mca_name",
    "population",
    "population_estimated",
    "synthetic",
    "geom",
)
IMPORTED_COLUMNS = ("name", "parent_code", "synthetic", "geom")


def upsert_areas(
    conn: Connection,
    specs: Sequence[AreaSpec],
    progress: Progress | None = None,
    *,
    update: Sequence[str] = AREA_COLUMNS,
) -> None:
    """Insert or update areas by code (parents first: the specs come ordered so); an existing area gets the
    `update` columns and its version goes up by one. Leaves are recomputed at the end."""
    stmt = insert(areas)
    stmt = stmt.on_conflict_do_update(
        index_elements=["code"],
        set_={c: stmt.excluded[c] for c in update} | {"version": areas.c.version + 1},
    )
    for start in range(0, len(specs), CHUNK):
        chunk = specs[start : start + CHUNK]
        rows = [
            {
                "code": s.code,
                "name": s.name,
                "level": s.level.value,
                "parent_code": s.parent_code,
                "kind": s.kind,
                "mca_code": s.mca_code,
                "mca_name": s.mca_name,
                "population": s.population,
                "population_estimated": s.population_estimated,
                "synthetic": s.synthetic,
                "geom": func.ST_Multi(func.ST_GeomFromWKB(_multipolygon_wkb(s.geometry), 4326))
                if s.geometry is not None
                else None,
            }
            for s in chunk
        ]
        conn.execute(stmt.values(rows))
        if progress:
            progress(len(chunk))
    refresh_leaves(conn)


def refresh_leaves(conn: Connection) -> None:
    """Recompute which areas are leaves (a boundary, and no child with one) and their coverage table, then the
    planner's statistics, so both are used at once (ANALYZE may run inside the transaction)."""
    conn.execute(
        text(
            """UPDATE areas a SET leaf = l.leaf FROM (
                 SELECT p.code, p.geom IS NOT NULL AND NOT EXISTS
                   (SELECT 1 FROM areas c WHERE c.parent_code = p.code AND c.geom IS NOT NULL) AS leaf
                 FROM areas p) l
               WHERE a.code = l.code AND a.leaf IS DISTINCT FROM l.leaf"""
        )
    )
    conn.execute(text("ANALYZE areas"))
    refresh_leaf_cells(conn)


def departments_for(specs: Iterable[AreaSpec]) -> list[Department]:
    """The standing departments: every kind at city and district level (城市 bureaux, 区 bureaux) and the
    township offices; kinds that exist only city-wide (the power company) are not repeated per district."""
    result = []
    for spec in specs:
        if spec.level is Level.CITY:
            kinds: Iterable[str] = DEPARTMENT_KINDS
        elif spec.level is Level.DISTRICT:
            kinds = [k for k in DEPARTMENT_KINDS if k not in CITY_ONLY_KINDS]
        elif spec.level is Level.TOWNSHIP:
            kinds = TOWNSHIP_DEPARTMENT_KINDS
        else:
            continue
        result += [
            Department(
                code=department_code(spec.code, kind),
                name=department_name(spec.name, kind, spec.level),
                kind=kind,
                level=spec.level,
                area_code=spec.code,
            )
            for kind in kinds
        ]
    return result


def replace_catalog(
    conn: Connection,
    *,
    category_list: Sequence[Category],
    rules: Sequence[DutyRule],
    department_list: Sequence[Department],
) -> None:
    """Make categories, duty rules and departments exactly these (rules and departments are replaced)."""
    cat_stmt = insert(categories)
    conn.execute(
        cat_stmt.values([c.model_dump(mode="json") for c in category_list]).on_conflict_do_update(
            index_elements=["code"],
            set_={c: cat_stmt.excluded[c] for c in ("name", "kind", "major_code", "major_name")},
        )
    )
    conn.execute(delete(duty_rules))
    conn.execute(duty_rules.insert().values([r.model_dump(mode="json") for r in rules]))
    conn.execute(delete(departments))
    for start in range(0, len(department_list), CHUNK):
        conn.execute(
            departments.insert().values(
                [d.model_dump(mode="json") for d in department_list[start : start + CHUNK]]
            )
        )


def area_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(text("SELECT level, count(*) FROM areas GROUP BY level"))
    return {str(level): int(n) for level, n in rows}
