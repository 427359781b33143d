"""Which cases a queue holds for its caller, as SQL, and its page as the API answers it.

Every queue is also cut by the caller's scope (api/auth/scoping.py): a queue never lists a case its caller
could not open.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Integer, Text, and_, column, func, select, table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.roles import Principal, Role
from api.auth.guard import check_roles
from api.auth.scoping import case_clause
from api.cases.schemas import DepartmentOut
from api.queues.schemas import QUEUES, Location, QueueArea, QueueItem, QueueName, QueuePage
from api.read_models import areas, case_history, categories, departments, reports
from cases.model import CASE_LEVELS, Case
from cases.states import OPEN_STATES, STATE_LABELS, TIMED_STATES, CaseState
from cases.timers import due_status
from geo.schemas import LEVEL_ORDER
from stream.events import TRIAGE_REASON_LABELS, TriageReason
from stream.router import work_calendar

_CODES = tuple(f"{level.value}_code" for level in LEVEL_ORDER)
queue_cases = table(
    "cases",
    column("case_id", PgUUID(as_uuid=True)),
    column("doc", JSONB),
    column("state", Text),
    *(column(name, Text) for name in _CODES),
    column("department_code", Text),
    column("helper_codes", JSONB),
    column("level", Text),
    column("pending", Text),
    column("deadline_at", DateTime(timezone=True)),
    column("updated_at", DateTime(timezone=True)),
    column("reporter_count", Integer),
    column("point"),
)
c = queue_cases.c
RETURNED = "returned"
RETURNED_LABEL = "职能部门回退"


def _states(states: Sequence[CaseState] | frozenset[CaseState]) -> ColumnElement[bool]:
    return c.state.in_(sorted(s.value for s in states))


def conditions(name: QueueName, p: Principal, now: datetime) -> list[ColumnElement[bool]]:
    """What puts a case in `p`'s queue `name` (the caller's role is checked before)."""
    mine = [case_clause(p, queue_cases)]
    lead = c.department_code == p.department_code
    if name is QueueName.NEW:
        return [*mine, lead, c.state == CaseState.DISPATCHED.value]
    if name is QueueName.IN_PROGRESS:
        return [*mine, lead, _states((CaseState.IN_PROGRESS, CaseState.REWORK))]
    if name is QueueName.OVERDUE:
        # The clock runs and the deadline has passed; a department's own, an office's within its area.
        overdue = [_states(TIMED_STATES), c.deadline_at <= now]
        return [*mine, *overdue, *([lead] if p.role is Role.DEPARTMENT else [])]
    if name is QueueName.APPROVALS:
        assert p.level is not None
        at_or_below = CASE_LEVELS[CASE_LEVELS.index(p.level) :]
        return [
            *mine,
            c.pending.is_not(None),
            _states(OPEN_STATES),
            c.level.in_([level.value for level in at_or_below]),
        ]
    if name is QueueName.TRIAGE:
        return [*mine, _states((CaseState.TRIAGE, CaseState.RETURNED))]
    handled = c.state == CaseState.HANDLED.value
    if p.role is Role.GRID_WORKER:
        return [*mine, handled, c.grid_code.in_(p.grid_codes)]
    # A case without a grid is verified by its community (accounts.scope._verifies).
    return [*mine, handled, c.community_code == p.area_code, c.grid_code.is_(None)]


def _order(name: QueueName) -> list[Any]:
    order = QUEUES[name].order
    if order == "newest":
        return [c.updated_at.desc(), c.case_id]
    if order == "deadline":
        return [c.deadline_at.asc().nulls_last(), c.updated_at, c.case_id]
    return [c.updated_at.asc(), c.case_id]


async def queue_page(
    conn: AsyncConnection,
    *,
    principal: Principal,
    name: QueueName,
    page: int,
    size: int,
    now: datetime,
    warning_share: float,
) -> QueuePage:
    """One page of `principal`'s queue `name`: 403 naming the roles that have it, for anyone else."""
    queue = QUEUES[name]
    check_roles(principal, queue.roles)
    where = and_(*conditions(name, principal, now))
    total = (await conn.execute(select(func.count()).select_from(queue_cases).where(where))).scalar_one()
    query = (
        select(c.doc, func.ST_X(c.point).label("lon"), func.ST_Y(c.point).label("lat"))
        .where(where)
        .order_by(*_order(name))
        .limit(size)
        .offset((page - 1) * size)
    )
    rows = (await conn.execute(query)).all()
    cases = [Case.model_validate(row.doc) for row in rows]
    items = await _items(conn, cases, rows, now=now, warning_share=warning_share)
    if name is QueueName.TRIAGE:
        items = await _with_reasons(conn, items)
    return QueuePage(name=name, label=queue.label, total=total, page=page, size=size, items=items)


async def _names(conn: AsyncConnection, table_: Any, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    query = select(table_.c.code, table_.c.name).where(table_.c.code.in_(sorted(codes)))
    return {code: name for code, name in (await conn.execute(query)).all()}


async def _items(
    conn: AsyncConnection, cases: list[Case], rows: Sequence[Any], *, now: datetime, warning_share: float
) -> list[QueueItem]:
    """The page's items, with every name looked up in one query per kind."""
    codes = [{level.value: getattr(case, f"{level.value}_code") for level in LEVEL_ORDER} for case in cases]
    area_names = await _names(conn, areas, {code for by in codes for code in by.values() if code})
    department_names = await _names(
        conn, departments, {x.department_code for x in cases if x.department_code}
    )
    category_names = await _names(conn, categories, {case.category for case in cases})
    calendar = work_calendar()
    items = []
    for case, by_level, row in zip(cases, codes, rows, strict=True):
        lead = case.department_code
        items.append(
            QueueItem(
                case_id=case.case_id,
                state=case.state,
                state_label=STATE_LABELS[case.state],
                category=case.category,
                category_name=category_names.get(case.category),
                area=QueueArea(
                    codes=by_level,
                    names={level: area_names[code] for level, code in by_level.items() if code in area_names},
                ),
                department=DepartmentOut(code=lead, name=department_names.get(lead)) if lead else None,
                level=case.level,
                deadline_at=case.deadline_at,
                due=due_status(case, now, calendar, warning_share),
                pending=case.pending,
                opened_at=case.opened_at,
                reporter_count=case.reporter_count,
                report_ids=list(case.report_ids),
                location=Location(lon=row.lon, lat=row.lat) if row.lon is not None else None,
            )
        )
    return items


async def _with_reasons(conn: AsyncConnection, items: list[QueueItem]) -> list[QueueItem]:
    """Triage items with why they wait: the routing's reason (first report), or the department's return."""
    triage = [i.case_id for i in items if i.state is CaseState.TRIAGE]
    returned = [i.case_id for i in items if i.state is CaseState.RETURNED]
    reasons: dict[Any, tuple[str, str | None, str | None]] = {}
    if triage:
        query = (
            select(reports.c.case_id, reports.c.triage_reason, reports.c.triage_detail)
            .where(reports.c.case_id.in_(triage), reports.c.triage_reason.is_not(None))
            .order_by(reports.c.case_id, reports.c.submitted_at)
            .distinct(reports.c.case_id)
        )
        for row in await conn.execute(query):
            reasons[row.case_id] = (row.triage_reason, _triage_label(row.triage_reason), row.triage_detail)
    if returned:
        h = case_history
        query = (
            select(h.c.case_id, h.c.reason)
            .where(h.c.case_id.in_(returned), h.c.action == "return")
            .order_by(h.c.case_id, h.c.seq.desc())
            .distinct(h.c.case_id)
        )
        for back in await conn.execute(query):
            reasons[back.case_id] = (RETURNED, RETURNED_LABEL, back.reason)
    out = []
    for item in items:
        found = reasons.get(item.case_id)
        if found is not None:
            item = item.model_copy(
                update={"triage_reason": found[0], "triage_label": found[1], "triage_detail": found[2]}
            )
        out.append(item)
    return out


def _triage_label(reason: str) -> str | None:
    try:
        return TRIAGE_REASON_LABELS[TriageReason(reason)]
    except ValueError:
        return None
