"""What the view reads: the aggregates (per area and measure, summed over the period), the current counts,
the open overdue cases, the staffing, and the report totals it always had. Each read answers in a handful of
rows, whatever the number of cases, reports and users: the sums and the staffing come from the rollups
(migrations 0008, 0009), the open overdue cases through partial indexes."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from api.cases.listing import due_is, level_column, open_and_maybe_overdue
from api.read_models import (
    case_rows,
    view_current,
    view_daily,
    view_daily_total,
    view_grid_workers,
    view_reports,
)
from api.views.filters import Filters
from geo.schemas import Level, level_of_code


async def daily(conn: AsyncConnection, codes: Sequence[str], f: Filters) -> dict[str, Counter[str]]:
    """{area: {measure: sum over the period}}: from view_daily_total, a row per area, day and measure, unless
    a category or department is asked for."""
    if f.category or f.department:
        d = view_daily.c
        query = select(d.area_code, d.measure, func.sum(d.n))
        if f.category:
            query = query.where(d.category == f.category)
        if f.department:
            query = query.where(d.department_code == f.department)
    else:
        d = view_daily_total.c
        query = select(d.area_code, d.measure, func.sum(d.n))
    query = query.where(d.area_code.in_(list(codes)), d.day.between(f.start, f.end))
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for code, measure, n in await conn.execute(query.group_by(d.area_code, d.measure)):
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
    is no event of the log (no timer fires at the city). `open_and_maybe_overdue` finds, through indexes,
    the open cases that may be overdue; `due_is` decides. One scan counts the area and its children
    (ROLLUP)."""
    c = case_rows.c
    where: list[ColumnElement[bool]] = [
        level_column(level_of_code(area)) == area,
        open_and_maybe_overdue(now),
        due_is("overdue", now, share),
    ]
    if f.category:
        where.append(c.category == f.category)
    if f.department:
        where.append(c.department_code == f.department)
    if child_level is None:
        total = (await conn.execute(select(func.count()).select_from(case_rows).where(*where))).scalar_one()
        return Counter({area: total})
    child = level_column(child_level)
    query = select(child, func.grouping(child), func.count()).where(*where).group_by(func.rollup(child))
    out: Counter[str] = Counter({area: 0})
    for code, whole, n in await conn.execute(query):
        if whole:
            out[area] = n
        elif code is not None:
            out[code] = n
    return out


async def grid_workers(conn: AsyncConnection, codes: Sequence[str]) -> Counter[str]:
    """{area: active grid workers} for each of `codes`: a worker counts once in each area its grids (or its
    community) lie in, as PostgreSQL counts them in view_grid_workers (migration 0009)."""
    g = view_grid_workers.c
    rows = await conn.execute(select(g.area_code, g.n).where(g.area_code.in_(list(codes)), g.n != 0))
    return Counter({code: int(n) for code, n in rows})


def empty_totals() -> dict[str, Any]:
    return {"reports": 0, "by_status": {}, "by_category": {}, "by_department": {}, "triage": 0}


async def report_totals(
    conn: AsyncConnection, area: str, children: Sequence[str]
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The view's fields from before the aggregates: every report received, all time, by status, category,
    department and triage, for the area and for each of `children`, from the counts PostgreSQL keeps per
    area (view_reports, migration 0009): one query, grouped three ways, that PostgreSQL folds into a row of
    three objects per area (a district's thousand-odd counts, read as rows, were a fifth of its view)."""
    v = view_reports.c
    grouped = (
        select(v.area_code, v.status, v.category, v.department_code, func.sum(v.n).label("n"))
        .where(v.area_code.in_([area, *children]), v.n != 0)
        .group_by(
            func.grouping_sets(
                tuple_(v.area_code, v.status),
                tuple_(v.area_code, v.category),
                tuple_(v.area_code, v.department_code),
            )
        )
        .subquery()
    )
    g = grouped.c
    query = select(
        g.area_code,
        func.jsonb_object_agg(g.status, g.n).filter(g.status.is_not(None)),
        func.jsonb_object_agg(g.category, g.n).filter(g.category.is_not(None)),
        # reports without a department are counted under ''; NULL: a row not grouped by department
        func.jsonb_object_agg(g.department_code, g.n).filter(g.department_code != ""),
    ).group_by(g.area_code)
    totals = {code: empty_totals() for code in [area, *children]}
    for code, by_status, by_category, by_department in await conn.execute(query):
        by_status = dict(sorted((by_status or {}).items()))
        totals[code] = {
            "reports": sum(by_status.values()),
            "by_status": by_status,
            "by_category": dict(sorted((by_category or {}).items())),
            "by_department": dict(sorted((by_department or {}).items())),
            "triage": by_status.get("triage", 0),
        }
    return totals[area], {code: totals[code] for code in children}
