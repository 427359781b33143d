"""What the map reads: an area's children with simplified shapes, their open and overdue cases, cases and a
case's reports as points, and reports per day. Shapes are simplified and written as GeoJSON by PostGIS."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, Date, cast, func, select, true
from sqlalchemy.ext.asyncio import AsyncConnection

from api.read_models import area_shapes, case_points, geo_versions, report_points
from cases.states import OPEN_STATES, TIMED_STATES
from geo.schemas import Level, level_of_code

# Tolerance of ST_SimplifyPreserveTopology (degrees; 0.001° is about 90 m across and 110 m up at 39° N) and
# the decimals of the coordinates, by the level of the area in view: its outline and its children are drawn
# at the zoom that fits it (the city about 2.5° across a map 800 px wide, a district 0.3°, a township 0.05°,
# a community 0.01°, a grid 0.003°), so each is simplified to below a pixel at that zoom.
TOLERANCE: dict[Level, float] = {
    Level.CITY: 0.002,
    Level.DISTRICT: 0.0003,
    Level.TOWNSHIP: 0.00005,
    Level.COMMUNITY: 0.00001,
    Level.GRID: 0.000003,
}
DECIMALS: dict[Level, int] = {
    Level.CITY: 4,
    Level.DISTRICT: 5,
    Level.TOWNSHIP: 5,
    Level.COMMUNITY: 6,
    Level.GRID: 6,
}
_OPEN = sorted(s.value for s in OPEN_STATES)
_TIMED = sorted(s.value for s in TIMED_STATES)


@dataclass(frozen=True)
class Shape:
    code: str
    name: str
    level: str
    parent_code: str | None
    population: int | None
    synthetic: bool
    geometry: str  # GeoJSON, as PostGIS wrote it
    label: tuple[float, float]  # a point inside the shape, for its name


@dataclass(frozen=True)
class Shapes:
    area: Shape
    bbox: tuple[float, float, float, float]
    children: tuple[Shape, ...]


async def areas_version(conn: AsyncConnection) -> int:
    """The areas' edit counter: every boundary edit bumps it, so it keys the shapes' cache."""
    v = geo_versions.c
    found = await conn.execute(select(v.version).where(v.kind == "areas"))
    return int(found.scalar_one_or_none() or 0)


def _shape_columns(level: Level) -> list[Any]:
    a = area_shapes.c
    simple = func.ST_SimplifyPreserveTopology(a.geom, TOLERANCE[level])
    surface = func.ST_PointOnSurface(a.geom)
    return [
        a.code, a.name, a.level, a.parent_code, a.population, a.synthetic,
        func.ST_AsGeoJSON(simple, DECIMALS[level]).label("geometry"),
        func.ST_X(surface).label("x"), func.ST_Y(surface).label("y"),
    ]  # fmt: skip


def _shape(row: Any) -> Shape:
    return Shape(
        code=row.code,
        name=row.name,
        level=row.level,
        parent_code=row.parent_code,
        population=row.population,
        synthetic=bool(row.synthetic),
        geometry=row.geometry or '{"type":"MultiPolygon","coordinates":[]}',
        label=(round(float(row.x or 0), 6), round(float(row.y or 0), 6)),
    )


async def shapes(conn: AsyncConnection, parent: str) -> Shapes | None:
    """The area `parent` (its outline) and its children, simplified for the zoom that fits `parent`."""
    a = area_shapes.c
    level = level_of_code(parent)
    extent = func.ST_Envelope(a.geom)
    own = (
        await conn.execute(
            select(
                *_shape_columns(level),
                func.ST_XMin(extent).label("x0"), func.ST_YMin(extent).label("y0"),
                func.ST_XMax(extent).label("x1"), func.ST_YMax(extent).label("y1"),
            ).where(a.code == parent)
        )
    ).first()  # fmt: skip
    if own is None:
        return None
    query = select(*_shape_columns(level)).where(a.parent_code == parent).order_by(a.code)
    rows: Sequence[Any] = (await conn.execute(query)).all()
    bbox = (float(own.x0 or 0), float(own.y0 or 0), float(own.x1 or 0), float(own.y1 or 0))
    return Shapes(area=_shape(own), bbox=bbox, children=tuple(_shape(row) for row in rows))


def _in_area(code: str) -> ColumnElement[bool]:
    """Cases in the area `code` (the city: every case, placed or not)."""
    level = level_of_code(code)
    if level is Level.CITY:
        return true()
    return case_points.c[f"{level.value}_code"] == code


async def case_counts(conn: AsyncConnection, parent: str, now: datetime) -> tuple[Counter[str], Counter[str]]:
    """({child: open cases}, {child: overdue open cases}) of the children of `parent`. Overdue: the clock
    runs and the deadline has passed (the overdue queue's rule)."""
    level = level_of_code(parent)
    if level is Level.GRID:
        return Counter(), Counter()
    c = case_points.c
    child = c[f"{list(Level)[level.depth + 1].value}_code"]
    overdue = func.count().filter(c.state.in_(_TIMED), c.deadline_at <= now)
    query = (
        select(child, func.count(), overdue)
        .where(_in_area(parent), c.state.in_(_OPEN), child.is_not(None))
        .group_by(child)
    )
    opened: Counter[str] = Counter()
    late: Counter[str] = Counter()
    for code, n, n_overdue in await conn.execute(query):
        opened[code], late[code] = int(n), int(n_overdue)
    return opened, late


async def case_points_in(
    conn: AsyncConnection, area: str, states: Sequence[str], limit: int, now: datetime
) -> tuple[int, list[Any]]:
    """(how many cases match, the newest `limit` of them with a point) in the area, of the states given."""
    c = case_points.c
    where = [_in_area(area), c.point.is_not(None)]
    if states:
        where.append(c.state.in_(sorted(states)))
    total = (await conn.execute(select(func.count()).select_from(case_points).where(*where))).scalar_one()
    overdue = (c.state.in_(_TIMED) & (c.deadline_at <= now)).label("overdue")
    query = (
        select(
            c.case_id, c.state, c.category, c.level, c.pending, c.deadline_at, c.opened_at, overdue,
            func.ST_X(c.point).label("lon"), func.ST_Y(c.point).label("lat"),
        )
        .where(*where)
        .order_by(c.opened_at.desc())
        .limit(limit)
    )  # fmt: skip
    return int(total), list((await conn.execute(query)).all())


async def case_reports(conn: AsyncConnection, case_id: UUID) -> list[Any]:
    """The reports of a case (duplicates merged into it too), oldest first, with their points."""
    r = report_points.c
    query = (
        select(
            r.report_id, r.category, r.description, r.status, r.observed_at, r.submitted_at, r.attachments,
            func.ST_X(r.point).label("lon"), func.ST_Y(r.point).label("lat"),
        )
        .where(r.case_id == case_id)
        .order_by(r.observed_at, r.report_id)
    )  # fmt: skip
    return list((await conn.execute(query)).all())


async def reports_per_day(
    conn: AsyncConnection, area: str, first: date, last: date, tz: str
) -> dict[date, tuple[int, int]]:
    """{local day: (reports, of them in triage)} in the area, by the day each was observed (as the view
    counts 立案: a report uploaded late from an offline phone counts on the day it was made); days without
    any are left out."""
    r = report_points.c
    level = level_of_code(area)
    day = cast(func.timezone(tz, r.observed_at), Date)
    triage = func.count().filter(r.status == "triage")
    # A bound on the stored time itself, a day wide of any zone, so that an index on it can be used.
    since = datetime.combine(first - timedelta(days=1), time(), tzinfo=UTC)
    where = [day >= first, day <= last, r.observed_at >= since]
    if level is not Level.CITY:
        where.append(r[f"{level.value}_code"] == area)
    query = select(day.label("day"), func.count(), triage).where(*where).group_by(day)
    return {row[0]: (int(row[1]), int(row[2])) for row in await conn.execute(query)}
