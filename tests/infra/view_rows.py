"""Synthetic reports, grid workers and cases for the view's counts, in a city of their own (2199…: no code of
Dalian starts so, and the live tests' rows are never among them), and the view's reads as they were before
migration 0009, to compare the new ones with."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    Float,
    and_,
    case,
    cast,
    false,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP

from api.read_models import case_rows
from cases.states import OPEN_STATES, TIMED_STATES, CaseState
from geo.schemas import LEVEL_ORDER, Level, ancestor_code, level_of_code
from stream.tables import cases, reports

CITY = "219900000000"
DISTRICTS = ("219901000000", "219902000000")


def _children(code: str) -> list[str]:
    level = level_of_code(code)
    if level is Level.CITY:
        return list(DISTRICTS)
    if level is Level.DISTRICT:
        return [f"{code[:6]}{t:03d}000" for t in (1, 2)]
    if level is Level.TOWNSHIP:
        return [f"{code[:9]}{c:03d}" for c in (1, 2)]
    if level is Level.COMMUNITY:
        return [f"{code}{g:03d}" for g in (1, 2, 3)]
    return []


CHILDREN: dict[str, list[str]] = {}
_todo = [CITY]
while _todo:
    _code = _todo.pop()
    CHILDREN[_code] = _children(_code)
    _todo += CHILDREN[_code]
AREAS = sorted(CHILDREN)
GRIDS = [code for code in AREAS if level_of_code(code) is Level.GRID]
CATEGORIES = ("10101", "10102", "20202")


def insert_areas(conn: Connection) -> None:
    """The synthetic tree (CITY and below) as rows of `areas`, parents first: the view's read finds an area's
    children there."""
    conn.exec_driver_sql(
        "INSERT INTO areas (code, name, level, parent_code, synthetic)"
        " SELECT code, code, level, parent_code, true FROM jsonb_to_recordset(%(rows)s::jsonb)"
        " AS r(code text, level text, parent_code text)",
        {
            "rows": _json(
                [{"code": CITY, "level": Level.CITY.value, "parent_code": None}]
                + [
                    {"code": child, "level": level_of_code(child).value, "parent_code": parent}
                    for parent in AREAS
                    for child in CHILDREN[parent]
                ]
            )
        },
    )


def child_level(code: str) -> Level | None:
    level = level_of_code(code)
    return LEVEL_ORDER[level.depth + 1] if level is not Level.GRID else None


def _codes(grid: str, down_to: Level) -> dict[str, str | None]:
    """The report's or case's five codes, known down to `down_to` (None below it)."""
    return {
        f"{level.value}_code": ancestor_code(grid, level) if level.depth <= down_to.depth else None
        for level in LEVEL_ORDER
    }


# --- reports -----------------------------------------------------------------------------------------
def report_row(rng: random.Random, **change: Any) -> dict[str, Any]:
    """An `accepted` report in the city (as the router records a receipt), changed by `change`."""
    at = datetime(2026, 11, 1, 8, 0).astimezone()
    return {
        "report_id": uuid.UUID(int=rng.getrandbits(128)),
        "case_id": uuid.UUID(int=rng.getrandbits(128)),
        "reporter_id": "t_view_rows",
        "category": rng.choice(CATEGORIES),
        "description": "测试",
        "crs": "wgs84",
        "observed_at": at,
        "submitted_at": at,
        "content_hash": "0" * 64,
        "status": "accepted",
        "case_state": "reported",
        "decided_at": at,
        "department_code": None,
        **_codes(GRIDS[0], Level.CITY),
        **change,
    }


def decided(rng: random.Random) -> dict[str, Any]:
    """The columns a routing decision sets: routed to a grid with a department, or triaged where the point
    was found (a district, a community, or nowhere below the city), without one."""
    grid = rng.choice(GRIDS)
    if rng.random() < 0.6:
        return {"status": "routed", **_codes(grid, Level.GRID), "department_code": f"{grid[:6]}000000:water"}
    down_to = rng.choice([Level.CITY, Level.DISTRICT, Level.COMMUNITY, Level.GRID])
    return {"status": "triage", **_codes(grid, down_to), "department_code": None}


def insert_reports(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.execute(insert(reports), rows)


def recounted_reports(conn: Connection) -> Counter[tuple[str, str, str, str]]:
    """(area, status, category, department or '') → reports, recounted from the reports of the city."""
    out: Counter[tuple[str, str, str, str]] = Counter()
    columns = [reports.c[f"{level.value}_code"] for level in LEVEL_ORDER]
    found = conn.execute(
        select(reports.c.status, reports.c.category, reports.c.department_code, *columns).where(
            reports.c.city_code == CITY
        )
    )
    for status, category, department, *codes in found:
        out.update((code, status, category, department or "") for code in codes if code)
    return out


def stored_reports(conn: Connection) -> Counter[tuple[str, str, str, str]]:
    """view_reports' rows of the city (those at 0 left out)."""
    found = conn.exec_driver_sql(
        "SELECT area_code, status, category, department_code, n FROM view_reports"
        " WHERE area_code LIKE '2199%%' AND n <> 0"
    )
    return Counter({(a, s, c, d): n for a, s, c, d, n in found})


# --- grid workers -----------------------------------------------------------------------------------
def worker_rows(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Users as the accounts store holds them, and some it would refuse: grid workers of grids in one
    community or two, with or without their community, disabled ones, one with only its community, and
    places that name nothing (an empty string, too few digits, letters)."""
    rows = []
    for i in range(count):
        grids = rng.sample(GRIDS, rng.choice([1, 1, 2, 3]))
        community = grids[0][:12] if rng.random() < 0.4 else None
        if i % 17 == 5:
            grids = [*grids, "", "21990100", "2199abc00100"]
        if i % 23 == 7:
            grids, community = [], rng.choice(GRIDS)[:12]
        role = "community" if i % 19 == 3 else "grid_worker"
        rows.append(
            {
                "user_id": uuid.UUID(int=rng.getrandbits(128)),
                "username": f"t_view_rows_{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}",
                "password_hash": "!",
                "role": role,
                "area_code": community,
                "grid_codes": grids,
                "disabled": i % 11 == 4,
            }
        )
    return rows


def insert_users(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.exec_driver_sql(
        "INSERT INTO users (user_id, username, password_hash, role, area_code, grid_codes, disabled)"
        " SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb) AS r(user_id uuid, username text,"
        " password_hash text, role text, area_code text, grid_codes jsonb, disabled boolean)",
        {"rows": _json(rows)},
    )


def _json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in r.items()} for r in rows])


def old_grid_workers(conn: Connection, area: str) -> Counter[str]:
    """api.views.queries.grid_workers before migration 0009: every active grid worker read, counted in
    Python."""
    rows = conn.exec_driver_sql(
        "SELECT area_code, grid_codes FROM users WHERE role = 'grid_worker' AND disabled IS FALSE"
    ).all()
    level, below = level_of_code(area), child_level(area)
    out: Counter[str] = Counter()
    for community, grids in rows:
        places = [g for g in grids or [] if g] + ([community] if community else [])
        inside = [p for p in places if _at(p, level) == area]
        if not inside:
            continue
        out[area] += 1
        if below is not None:
            out.update({c for p in inside if (c := _at(p, below)) is not None})
    return out


def _at(code: str, level: Level) -> str | None:
    try:
        if level_of_code(code).depth < level.depth:
            return None
        return ancestor_code(code, level)
    except ValueError:
        return None


# --- cases -------------------------------------------------------------------------------------------
def case_rows_for(rng: random.Random, now: datetime, count: int) -> list[dict[str, Any]]:
    """Cases in every state, with deadlines past and ahead, suspended with time left or none, handled before
    and after the deadline (`updated_at` never before `handled_at`, as cases.lifecycle keeps it), warned or
    not, in the city's grids and a few known only down to a district."""
    rows = []
    states = [s.value for s in CaseState]
    for i in range(count):
        state = states[i % len(states)]
        grid = rng.choice(GRIDS)
        opened = now - timedelta(hours=rng.uniform(1, 400))
        deadline: datetime | None = now + timedelta(hours=rng.uniform(-200, 200))
        if state in (CaseState.TRIAGE.value, CaseState.SUSPENDED.value) or rng.random() < 0.05:
            deadline = None
        handled = None
        if state in (CaseState.HANDLED.value, CaseState.CLOSED.value, CaseState.EVALUATED.value):
            base = deadline or now
            handled = min(now, base + timedelta(hours=rng.uniform(-100, 100)))
        updated = max(opened, handled or opened) + timedelta(minutes=rng.choice([0, 0, 30]))
        doc = {
            "remaining_seconds": rng.choice([0.0, -5.0, 3600.0, 200000.0]) if state == "suspended" else None,
            "allowance_seconds": 172800.0,
            "handled_at": handled.isoformat() if handled else None,
            "warned": rng.random() < 0.3,
        }
        rows.append(
            {
                "case_id": uuid.UUID(int=rng.getrandbits(128)),
                "doc": doc,
                "state": state,
                "category": rng.choice(CATEGORIES),
                **_codes(grid, Level.DISTRICT if i % 13 == 0 else Level.GRID),
                "department_code": rng.choice([f"{grid[:6]}000000:water", None]),
                "level": "district",
                "deadline_at": deadline,
                "next_timer_at": deadline - timedelta(hours=10) if deadline and rng.random() < 0.7 else None,
                "observed_at": opened,
                "opened_at": opened,
                "updated_at": updated,
            }
        )
    return rows


def insert_cases(conn: Connection, rows: list[dict[str, Any]]) -> None:
    conn.execute(insert(cases), rows)


def _old_due_expr(now: datetime, share: float) -> ColumnElement[str]:
    """api.cases.listing.due_expr before migration 0009."""
    c, doc = case_rows.c, case_rows.c.doc
    running = and_(c.state.in_(sorted(s.value for s in TIMED_STATES)), c.deadline_at.is_not(None))
    left = cast(doc["remaining_seconds"].astext, Float)
    allowance = cast(doc["allowance_seconds"].astext, Float)
    handled_at = cast(doc["handled_at"].astext, TIMESTAMP(timezone=True))
    warned = func.coalesce(cast(doc["warned"].astext, Boolean), false())
    done = (CaseState.HANDLED.value, CaseState.CLOSED.value, CaseState.EVALUATED.value)
    return case(
        (and_(running, c.deadline_at <= now), "overdue"),
        (and_(running, or_(warned, c.next_timer_at <= now)), "warning"),
        (and_(c.state == CaseState.SUSPENDED.value, left <= 0), "overdue"),
        (and_(c.state == CaseState.SUSPENDED.value, left <= (1 - share) * allowance), "warning"),
        (and_(c.state.in_(done), handled_at > c.deadline_at), "overdue"),
        else_="on_time",
    )


def old_open_overdue_query(
    area: str, now: datetime, share: float, category: str | None, department: str | None
) -> list[Any]:
    """The conditions of api.views.queries.open_overdue before migration 0009: every open case of the area,
    judged by due_expr."""
    c = case_rows.c
    where = [
        c[f"{level_of_code(area).value}_code"] == area,
        c.state.in_(sorted(s.value for s in OPEN_STATES)),
        _old_due_expr(now, share) == "overdue",
    ]
    if category:
        where.append(c.category == category)
    if department:
        where.append(c.department_code == department)
    return where


def old_open_overdue(
    conn: Connection, area: str, now: datetime, share: float, category: str | None, department: str | None
) -> Counter[str]:
    where = old_open_overdue_query(area, now, share, category, department)
    total = conn.execute(select(func.count()).select_from(case_rows).where(*where)).scalar_one()
    out: Counter[str] = Counter({area: total})
    below = child_level(area)
    if below is not None:
        child = case_rows.c[f"{below.value}_code"]
        query = select(child, func.count()).where(*where, child.is_not(None)).group_by(child)
        out.update({code: n for code, n in conn.execute(query)})
    return out


def old_report_totals(conn: Connection, area: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """api.views.queries.report_totals before migration 0009: a GROUP BY over the reports."""
    column = reports.c[f"{level_of_code(area).value}_code"]
    grouped = [reports.c.status, reports.c.category, reports.c.department_code]
    totals = empty_totals()
    for status, category, department, n in conn.execute(
        select(*grouped, func.count()).where(column == area).group_by(*grouped)
    ):
        _add(totals, status, category, department, n)
    children: dict[str, dict[str, Any]] = defaultdict(empty_totals)
    below = child_level(area)
    if below is not None:
        child = reports.c[f"{below.value}_code"]
        query = (
            select(child, *grouped, func.count())
            .where(column == area, child.is_not(None))
            .group_by(child, *grouped)
        )
        for code, status, category, department, n in conn.execute(query):
            _add(children[code], status, category, department, n)
    return totals, children


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
