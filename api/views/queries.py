"""What the view reads: the aggregates (per area and measure, summed over the period), the current counts,
the open overdue cases, the staffing, and the report totals it always had."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.cases.listing import due_is, level_column
from api.read_models import case_rows, reports, users, view_current, view_daily
from api.views.filters import Filters
from cases.states import OPEN_STATES
from geo.schemas import LEVEL_ORDER, Level, ancestor_code, level_of_code


async def daily(conn: AsyncConnection, codes: Sequence[str], f: Filters) -> dict[str, Counter[str]]:
    """{area: {measure: sum over the period}}."""
    d = view_daily.c
    query = (
        select(d.area_code, d.measure, func.sum(d.n))
        .where(d.area_code.in_(list(codes)), d.day.between(f.start, f.end))
        .group_by(d.area_code, d.measure)
    )
    if f.category:
        query = query.where(d.category == f.category)
    if f.department:
        query = query.where(d.department_code == f.department)
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for code, measure, n in await conn.execute(query):
        out[code][measure] += int(n)
    return out


async def current(conn: AsyncConnection, codes: Sequence[str], f: Filters) -> dict[str, Counter[str]]:
    """{area: {state: cases in it now}}."""
    c = view_current.c
    query = (
        select(c.area_code, c.state, func.sum(c.n))
        .where(c.area_code.in_(list(codes)))
        .group_by(c.area_code, c.state)
    )
    if f.category:
        query = query.where(c.category == f.category)
    if f.department:
        query = query.where(c.department_code == f.department)
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for code, state, n in await conn.execute(query):
        out[code][state] += int(n)
    return out


async def open_overdue(
    conn: AsyncConnection, area: str, child_level: Level | None, f: Filters, now: datetime, share: float
) -> Counter[str]:
    """{area or child: open cases overdue now}. Read from the cases, not the aggregates: a deadline passing
    is no event of the log (no timer fires at the city), and the open cases, read through the state index,
    are the working set, not the history."""
    c = case_rows.c
    where: list[ColumnElement[bool]] = [
        level_column(level_of_code(area)) == area,
        c.state.in_(sorted(s.value for s in OPEN_STATES)),
        due_is("overdue", now, share),
    ]
    if f.category:
        where.append(c.category == f.category)
    if f.department:
        where.append(c.department_code == f.department)
    total = (await conn.execute(select(func.count()).select_from(case_rows).where(*where))).scalar_one()
    out: Counter[str] = Counter({area: total})
    if child_level is not None:
        child = level_column(child_level)
        query = select(child, func.count()).where(*where, child.is_not(None)).group_by(child)
        out.update({code: n for code, n in await conn.execute(query)})
    return out


async def grid_workers(conn: AsyncConnection, area: str, child_level: Level | None) -> Counter[str]:
    """{area or child: active grid workers}: a worker counts once in each area its grids (or its community)
    lie in."""
    u = users.c
    rows = await conn.execute(
        select(u.area_code, u.grid_codes).where(u.role == "grid_worker", u.disabled.is_(False))
    )
    level = level_of_code(area)
    out: Counter[str] = Counter()
    for community, grids in rows:
        places = [g for g in grids or [] if g] + ([community] if community else [])
        inside = [p for p in places if _within(p, area, level)]
        if not inside:
            continue
        out[area] += 1
        if child_level is not None:
            out.update({c for p in inside if (c := _at(p, child_level)) is not None})
    return out


def _at(code: str, level: Level) -> str | None:
    try:
        if level_of_code(code).depth < level.depth:
            return None
        return ancestor_code(code, level)
    except ValueError:
        return None


def _within(code: str, area: str, level: Level) -> bool:
    return _at(code, level) == area


_COLUMN_BY_LEVEL = {level: reports.c[f"{level.value}_code"] for level in LEVEL_ORDER}


def empty_totals() -> dict[str, Any]:
    return {"reports": 0, "by_status": {}, "by_category": {}, "by_department": {}, "triage": 0}


def _add(totals: dict[str, Any], status: str, category: str, department: str | None, n: int) -> None:
    totals["reports"] += n
    totals["by_status"][status] = totals["by_status"].get(status, 0) + n
    totals["by_category"][category] = totals["by_category"].get(category, 0) + n
    if department:
        totals["by_department"][department] = totals["by_department"].get(department, 0) + n
    if status == "triage":
        totals["triage"] += n


async def report_totals(
    conn: AsyncConnection, area: str, child_level: Level | None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The view's fields from before the aggregates: every report received, all time, by status, category,
    department and triage, for the area and for each child (one GROUP BY each, as before)."""
    column = _COLUMN_BY_LEVEL[level_of_code(area)]
    grouped = [reports.c.status, reports.c.category, reports.c.department_code]
    totals = empty_totals()
    for row in await conn.execute(select(*grouped, func.count()).where(column == area).group_by(*grouped)):
        _add(totals, row[0], row[1], row[2], row[3])
    children: dict[str, dict[str, Any]] = defaultdict(empty_totals)
    if child_level is not None:
        child = _COLUMN_BY_LEVEL[child_level]
        query = (
            select(child, *grouped, func.count())
            .where(column == area, child.is_not(None))
            .group_by(child, *grouped)
        )
        for row in await conn.execute(query):
            _add(children[row[0]], row[1], row[2], row[3], row[4])
    return totals, children
