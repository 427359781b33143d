"""What the view reads: the aggregates (per area and measure, summed over the period), the current counts,
the open overdue cases, the staffing, and the report totals it always had. Each read answers in a handful of
rows, whatever the number of cases, reports and users: the sums and the staffing come from the rollups
(migrations 0008, 0009, 0014), the open overdue cases through partial indexes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import orjson
from sqlalchemy import ColumnElement, Select, TextClause, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.ext.asyncio import AsyncConnection

from api.cases.listing import due_is, level_column, open_and_maybe_overdue
from api.read_models import case_rows
from api.views.filters import Filters
from api.views.weeks import split_period
from geo.schemas import Level, level_of_code


async def open_overdue(
    conn: AsyncConnection, area: str, child_level: Level | None, f: Filters, now: datetime, share: float
) -> Counter[str]:
    """{area or child: open cases overdue now}. Read from the cases, not the aggregates: a deadline passing
    is no event of the log (no timer fires at the city). `open_and_maybe_overdue` finds, through indexes,
    the open cases that may be overdue; `due_is` decides. One scan counts the area and its children
    (ROLLUP)."""
    query = _overdue_statement(level_of_code(area), child_level, bool(f.category), bool(f.department), share)
    params = {"area": area, "now": now, "category": f.category, "department": f.department}
    if child_level is None:
        return Counter({area: (await conn.execute(query, params)).scalar_one()})
    out: Counter[str] = Counter({area: 0})
    for code, whole, n in await conn.execute(query, params):
        if whole:
            out[area] = n
        elif code is not None:
            out[code] = n
    return out


@lru_cache(maxsize=64)
def _overdue_statement(
    level: Level, child_level: Level | None, category: bool, department: bool, share: float
) -> Select[Any]:
    """open_overdue's statement for each level, filter and share, made once with the area, the moment and
    the filters bound at execution: building due_expr's CASE anew for every view was a tenth of a
    district's view in the API (py-spy)."""
    c = case_rows.c
    now = bindparam("now", type_=TIMESTAMP(timezone=True))
    where: list[ColumnElement[bool]] = [
        level_column(level) == bindparam("area"),
        open_and_maybe_overdue(now),
        due_is("overdue", now, share),
    ]
    if category:
        where.append(c.category == bindparam("category"))
    if department:
        where.append(c.department_code == bindparam("department"))
    if child_level is None:
        return select(func.count()).select_from(case_rows).where(*where)
    child = level_column(child_level)
    return select(child, func.grouping(child), func.count()).where(*where).group_by(func.rollup(child))


class AreaRow(NamedTuple):
    code: str
    name: str
    mca_name: str | None
    level: str
    synthetic: bool
    population: int | None
    population_estimated: bool


@dataclass(frozen=True)
class Counts:
    """What the view reads for an area and its children: the areas themselves (the area first, then its
    children by code; none when there is no such area) and the aggregates' figures by area code."""

    areas: list[AreaRow]
    totals: dict[str, dict[str, Any]]  # the report totals (every report received, all time)
    daily: dict[str, Counter[str]]  # {measure: sum over the period}
    current: dict[str, Counter[str]]  # {state: cases in it now}
    workers: Counter[str]  # active grid workers


# The four reads in one statement (with the areas themselves: _CODES), each folded by PostgreSQL into one
# JSON object keyed by area code: one round trip and four JSON documents instead of four queries built,
# sent and read row by row (those were two thirds of the API's time for a district's view at ten million
# cases, py-spy). The report totals are grouped three ways and folded into three objects per area (a
# district's thousand-odd counts, read as rows, were a fifth of its view). The period's sums and the current
# states come from the totals (below) unless a category or department is asked for; the staffing from
# view_grid_workers, where a worker counts once in each area its grids (or its community) lie in (migration
# 0009).
_COUNTS = """
SELECT
  (SELECT json_object_agg(area_code, json_build_array(by_status, by_category, by_department))
   FROM (SELECT area_code,
                json_object_agg(status, n) FILTER (WHERE status IS NOT NULL) AS by_status,
                json_object_agg(category, n) FILTER (WHERE category IS NOT NULL) AS by_category,
                -- reports without a department are counted under ''; NULL: a row not grouped by department
                json_object_agg(department_code, n) FILTER (WHERE department_code <> '') AS by_department
         FROM (SELECT area_code, status, category, department_code, sum(n) AS n
               FROM view_reports
               WHERE area_code = ANY(:codes) AND n <> 0
               GROUP BY GROUPING SETS ((area_code, status), (area_code, category),
                                       (area_code, department_code))) AS grouped
         GROUP BY area_code) AS folded)::text,
  (SELECT json_object_agg(area_code, sums)
   FROM (SELECT area_code, json_object_agg(measure, n) AS sums
         FROM (SELECT area_code, measure, sum(n) AS n
               FROM ({days}) AS period_rows
               GROUP BY area_code, measure) AS summed
         GROUP BY area_code) AS folded)::text,
  (SELECT json_object_agg(area_code, states)
   FROM (SELECT area_code, json_object_agg(state, n) AS states
         FROM ({states}) AS summed
         GROUP BY area_code) AS folded)::text,
  (SELECT json_object_agg(area_code, n)
   FROM view_grid_workers WHERE area_code = ANY(:codes) AND n <> 0)::text,
  (SELECT json_agg(json_build_array(code, name, mca_name, level, synthetic, population, population_estimated)
                   ORDER BY code)
   FROM areas WHERE code = :area OR parent_code = :area)::text
"""


# The period's rows of counts and the current states, filtered: from view_daily and view_current, per
# category and department.
_FILTERED_DAYS = """SELECT area_code, measure, n FROM view_daily
                     WHERE area_code = ANY(:codes) AND day BETWEEN :start AND :end{filters}"""
_FILTERED_STATES = """SELECT area_code, state, sum(n) AS n FROM view_current
                      WHERE area_code = ANY(:codes){filters} GROUP BY area_code, state"""
# Unfiltered: the period's whole weeks from view_weekly_total and the days at either end from
# view_daily_total (api/views/weeks.py), about a fifth of the rows of its days for the default 30; the
# states from view_current_total, a row per area and state (migration 0014).
_TOTAL_DAYS = """SELECT area_code, measure, n FROM view_daily_total
                  WHERE area_code = ANY(:codes) AND day BETWEEN :head_start AND :head_end
                  UNION ALL
                  SELECT area_code, measure, n FROM view_weekly_total
                  WHERE area_code = ANY(:codes) AND week BETWEEN :first_week AND :last_week
                  UNION ALL
                  SELECT area_code, measure, n FROM view_daily_total
                  WHERE area_code = ANY(:codes) AND day BETWEEN :tail_start AND :tail_end"""
_TOTAL_STATES = "SELECT area_code, state, n FROM view_current_total WHERE area_code = ANY(:codes)"


# The area and its children, found by the statement itself: the area rows' own query was a fifth round trip
# and a tenth of the view's time in the API. Every child is counted; the caller leaves out what it may not
# see.
_CODES = "ARRAY(SELECT code FROM areas WHERE code = :area OR parent_code = :area)"


def _counts_statement(category: bool, department: bool) -> TextClause:
    if not (category or department):
        sql = _COUNTS.format(days=_TOTAL_DAYS, states=_TOTAL_STATES)
    else:
        filters = (" AND category = :category" if category else "") + (
            " AND department_code = :department" if department else ""
        )
        days, states = _FILTERED_DAYS.format(filters=filters), _FILTERED_STATES.format(filters=filters)
        sql = _COUNTS.format(days=days, states=states)
    return text(sql.replace(":codes", _CODES))


# One statement for each combination of filters, made once: the same text each time, so psycopg prepares it
# once it has run five times on a connection (the view's connections run outside a transaction, whose
# ROLLBACK would clear them: api/deps.py) and PostgreSQL no longer parses it for each request.
_STATEMENTS = {(c, d): _counts_statement(c, d) for c in (False, True) for d in (False, True)}


async def counts(conn: AsyncConnection, area: str, f: Filters) -> Counts:
    params: dict[str, Any] = {"area": area}
    if f.category or f.department:
        params |= {"start": f.start, "end": f.end}
    else:
        split = split_period(f.start, f.end)
        params |= {"head_start": split.head[0], "head_end": split.head[1]}
        params |= {"first_week": split.weeks[0], "last_week": split.weeks[1]}
        params |= {"tail_start": split.tail[0], "tail_end": split.tail[1]}
    if f.category:
        params["category"] = f.category
    if f.department:
        params["department"] = f.department
    statement = _STATEMENTS[(bool(f.category), bool(f.department))]
    row = (await conn.execute(statement, params)).one()
    totals_by, daily, current, workers, found = (orjson.loads(doc) if doc else {} for doc in row)
    areas = sorted((AreaRow(*values) for values in found or ()), key=lambda a: a.code != area)
    totals = {a.code: empty_totals() for a in areas}
    for code, (by_status, by_category, by_department) in totals_by.items():
        by_status = dict(sorted((by_status or {}).items()))
        totals[code] = {
            "reports": sum(by_status.values()),
            "by_status": by_status,
            "by_category": dict(sorted((by_category or {}).items())),
            "by_department": dict(sorted((by_department or {}).items())),
            "triage": by_status.get("triage", 0),
        }
    return Counts(
        areas=areas,
        totals=totals,
        daily={code: Counter(sums) for code, sums in daily.items()},
        current={code: Counter(states) for code, states in current.items()},
        workers=Counter(workers),
    )


def empty_totals() -> dict[str, Any]:
    return {"reports": 0, "by_status": {}, "by_category": {}, "by_department": {}, "triage": 0}
