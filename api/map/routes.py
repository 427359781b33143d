"""GET /api/v1/map/…: what the dashboard's map draws. Thin: queries read, geojson writes, scoping decides.

An area the caller does not see answers 404 (api/auth/scoping.py), as everywhere in the API; of an area's
children only those the caller sees are drawn.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import Response

from accounts.scope import sees_area
from api.auth.scoping import area_missing, require_area, visible_case
from api.deps import ConnDep, CurrentPrincipal, SettingsDep
from api.map import geojson, queries
from api.map.schemas import DayOut, SeriesOut
from cases.states import OPEN_STATES, CaseState
from stream.router import work_calendar

router = APIRouter(prefix="/api/v1/map", tags=["map"])
shape_cache = geojson.ShapeCache()

GEOJSON = "application/geo+json"
MAX_POINTS = 5000
AreaCode = Annotated[str, Query(pattern=r"^\d{12,15}$", description="统计区划代码 or grid code")]
_GEO_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"},
    401: {"description": "not signed in"},
    404: {"description": "no such area or case, or not one the caller sees (the same answer)"},
}


def _geojson(text: str) -> Response:
    # Counts change with every case: the browser asks again each time (the shapes are cached here instead).
    return Response(text, media_type=GEOJSON, headers={"Cache-Control": "no-cache"})


@router.get("/areas", response_class=Response, responses=_GEO_RESPONSES)
async def areas(
    principal: CurrentPrincipal,
    conn: ConnDep,
    settings: SettingsDep,
    parent: Annotated[str | None, Query(pattern=r"^\d{12,15}$", description="default: the city")] = None,
) -> Response:
    """区划图层: the children of `parent` (a district's townships, a community's grids…) as polygons
    simplified for the zoom they are seen at, each with `open` and `overdue` cases and both per 10,000
    residents; the parent itself as the foreign members `area` (code, name, level, label point) and
    `outline`, and `bbox`. A grid has no children: its answer has only its outline."""
    code = parent or settings.city_code
    require_area(principal, code, field="query.parent")
    version = await queries.areas_version(conn)
    shapes = shape_cache.get(code, version)
    if shapes is None:
        shapes = await queries.shapes(conn, code)
        if shapes is None:
            raise area_missing(code, "query.parent")
        shape_cache.put(code, version, shapes)
    opened, overdue = await queries.case_counts(conn, code, datetime.now(UTC))
    visible = {child.code for child in shapes.children if sees_area(principal, child.code)}
    return _geojson(geojson.areas_collection(shapes, version, opened, overdue, visible))


@router.get("/cases", response_class=Response, responses=_GEO_RESPONSES)
async def cases(
    principal: CurrentPrincipal,
    conn: ConnDep,
    area_code: AreaCode,
    state: Annotated[list[CaseState] | None, Query(description="the state now (repeatable)")] = None,
    open_only: Annotated[bool, Query(alias="open", description="only cases not closed or voided")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_POINTS)] = 2000,
) -> Response:
    """案件点位: the area's cases as points (where the first report was made), newest first, at most
    `limit`; `total` counts all that match and `truncated` says whether some were left out."""
    require_area(principal, area_code, field="query.area_code")
    states = {s.value for s in state or ()}
    if open_only:
        states = (states or {s.value for s in CaseState}) & {s.value for s in OPEN_STATES}
        states = states or {"-"}  # asked for closed states only among the open ones: nothing
    total, rows = await queries.case_points_in(conn, area_code, sorted(states), limit, datetime.now(UTC))
    return _geojson(geojson.cases_collection(rows, total, limit))


@router.get("/cases/{case_id}/reports", response_class=Response, responses=_GEO_RESPONSES)
async def case_reports(case_id: UUID, principal: CurrentPrincipal, conn: ConnDep) -> Response:
    """一案多报: the reports of a case the caller sees, oldest first, as points, with description, times and
    their photos' sha256 (each at GET /api/v1/reports/{report_id}/attachments/{sha256})."""
    await visible_case(conn, principal, case_id)
    rows = await queries.case_reports(conn, case_id)
    return _geojson(geojson.reports_collection(str(case_id), rows))


@router.get("/series", response_model=SeriesOut, responses={404: _GEO_RESPONSES[404]})
async def series(
    principal: CurrentPrincipal,
    conn: ConnDep,
    area_code: AreaCode,
    days: Annotated[int, Query(ge=1, le=366, description="how many days, up to today")] = 30,
) -> SeriesOut:
    """每日上报: reports per local day (the day each was observed) in the area, over the last `days` days
    (today included)."""
    require_area(principal, area_code, field="query.area_code")
    calendar = work_calendar()
    last = calendar.local_date(datetime.now(UTC))
    first = last - timedelta(days=days - 1)
    found = await queries.reports_per_day(conn, area_code, first, last, calendar.tz.key)
    out = []
    for i in range(days):
        day = first + timedelta(days=i)
        n, triage = found.get(day, (0, 0))
        out.append(DayOut(day=day, reports=n, triage=triage))
    return SeriesOut(area_code=area_code, days=out)
