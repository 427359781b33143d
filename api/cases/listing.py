"""The case lists behind the view's figures (GET /api/v1/cases?...) and the rows of the case export.

A figure's list holds exactly the cases it counts: `measure` names the figure and fixes which day the period
applies to (indicators.measures: the day it first happened for the once-per-case measures, the deadline's day
for the due cohort, the transitions' days for the flows) and which department it is counted under; both are
read from the case's mark, which the same fold that counts it wrote. Without a measure, `state` and `due`
filter the cases as they stand now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field
from sqlalchemy import (
    BindParameter,
    Boolean,
    ColumnElement,
    Date,
    Float,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import TIMESTAMP
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from api.errors import InvalidInput
from api.read_models import case_rows, case_steps, view_case_marks
from cases.states import OPEN_STATES, STATE_LABELS, TIMED_STATES, CaseState
from geo.schemas import LEVEL_ORDER, Level, level_of_code
from indicators.measures import COHORT, FLOWS, ONCE, Measure

DUE_VALUES = ("on_time", "warning", "overdue")
LISTED = sorted(m.value for m in Measure if m is not Measure.CLOSE_SECONDS)
c = case_rows.c
# A moment: a value, or a parameter bound at execution (a statement made once, api/views/queries.py).
Moment = datetime | BindParameter[datetime]


def level_column(level: Level) -> Any:
    return c[f"{level.value}_code"]


def due_expr(now: Moment, share: float) -> ColumnElement[str]:
    """on_time / warning / overdue as of `now`, in SQL, as cases.timers.due_status judges it: the running
    clock against the deadline (warning once the warning timer is due or has fired); a suspended case by the
    time it had left; a handled or closed one by its latest 处置完成 against the deadline."""
    doc = c.doc
    running = and_(c.state.in_(sorted(s.value for s in TIMED_STATES)), c.deadline_at.is_not(None))
    left = cast(doc["remaining_seconds"].astext, Float)
    allowance = cast(doc["allowance_seconds"].astext, Float)
    handled_at = cast(doc["handled_at"].astext, TIMESTAMP(timezone=True))
    warned = func.coalesce(cast(doc["warned"].astext, Boolean), false())
    done = (CaseState.HANDLED.value, CaseState.CLOSED.value, CaseState.EVALUATED.value)
    return case(
        (running_deadline() <= now, "overdue"),  # running, and past its deadline
        (and_(running, or_(warned, c.next_timer_at <= now)), "warning"),
        (and_(c.state == CaseState.SUSPENDED.value, left <= 0), "overdue"),
        (and_(c.state == CaseState.SUSPENDED.value, left <= (1 - share) * allowance), "warning"),
        (and_(c.state.in_(done), handled_at > c.deadline_at), "overdue"),
        else_="on_time",
    )


def due_is(value: str, now: Moment, share: float) -> ColumnElement[bool]:
    return due_expr(now, share) == value


def running_deadline() -> ColumnElement[datetime]:
    """The deadline while the clock runs (the timed states), else NULL. Indexed, with statistics of its own
    (migration 0009: the planner then knows how many running cases are past it, which the deadlines of
    millions of closed cases hide), so the expression must stay the index's: the states sorted, as
    literals."""
    timed = sorted(s.value for s in TIMED_STATES)
    return case((c.state.in_(_literal("timed", timed)), c.deadline_at))


def open_and_maybe_overdue(now: Moment) -> ColumnElement[bool]:
    """Open, and possibly overdue: a condition that every open case due_expr judges overdue meets, that only
    open cases meet, and that the partial indexes of migration 0009 answer. AND-ed to `due_is("overdue", …)`
    it lets the count read the running cases past their deadline, the suspended ones and the handled ones
    whose deadline passed before their latest transition (handled_at, in `doc`, is never later than
    `updated_at`: cases.lifecycle), instead of every open case; the other open state, triage, is never
    overdue. It stands in for `state IN (open states)`: both would make the planner count the state's
    selectivity twice."""
    return or_(
        running_deadline() <= now,
        c.state == _literal("suspended", CaseState.SUSPENDED.value),
        and_(c.state == _literal("handled", CaseState.HANDLED.value), c.deadline_at < c.updated_at),
    )


def _literal(name: str, value: str | list[str]) -> Any:
    """A value rendered into the SQL, not bound: an index's expression or predicate is matched only by
    constants, also in a plan prepared once."""
    return bindparam(name, value, expanding=isinstance(value, list), literal_execute=True, unique=True)


@dataclass(frozen=True)
class CaseQuery:
    area_code: str
    measure: Measure | None = None
    states: tuple[str, ...] = ()
    open_only: bool = False
    due: str | None = None
    start: date | None = None
    end: date | None = None
    category: str | None = None
    department: str | None = None


def _day(text: Any) -> ColumnElement[date]:
    return cast(text, Date)


def _between(day: ColumnElement[date], q: CaseQuery) -> list[ColumnElement[bool]]:
    out = []
    if q.start is not None:
        out.append(day >= q.start)
    if q.end is not None:
        out.append(day <= q.end)
    return out


def select_cases(
    q: CaseQuery,
    *columns: Any,
    now: datetime,
    share: float,
    tz: str,
    scope: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """The cases `q` asks for (see the module's docstring), selecting `columns`; within `scope`, the
    caller's (api.auth.scoping.case_clause(principal, case_rows)), when given."""
    try:
        level = level_of_code(q.area_code)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="query.area_code") from exc
    where: list[ColumnElement[bool]] = [level_column(level) == q.area_code]
    if scope is not None:
        where.append(scope)
    if q.states:
        where.append(c.state.in_(q.states))
    if q.open_only and q.due == "overdue":
        where.append(open_and_maybe_overdue(now))
    elif q.open_only:
        where.append(c.state.in_(sorted(s.value for s in OPEN_STATES)))
    if q.due:
        where.append(due_is(q.due, now, share))
    if q.category:
        where.append(c.category == q.category)
    measure = q.measure
    if measure is None and (q.start or q.end):
        measure = Measure.REGISTERED  # a period without a figure: the cases registered in it
    query = select(*columns).select_from(case_rows)
    department: ColumnElement[Any] = c.department_code
    if measure in ONCE or measure in COHORT:
        mark = view_case_marks.c.mark
        query = query.join(view_case_marks, view_case_marks.c.case_id == c.case_id)
        if measure in ONCE:
            first = mark["firsts"][measure.value]
            where += [first.is_not(None), *_between(_day(first[0].astext), q)]
            department = first[1].astext
        else:
            where += [mark["due_day"].is_not(None), *_between(_day(mark["due_day"].astext), q)]
            where.append(_cohort(measure, mark))
            department = mark["lead"].astext
    elif measure in FLOWS:
        where.append(_flow(measure, level, q, tz))
        department = literal(None)  # filtered inside the flow's condition
    if q.department and measure not in FLOWS:
        where.append(department == q.department)
    return query.where(*where)


def _cohort(measure: Measure, mark: Any) -> ColumnElement[bool]:
    if measure is Measure.DUE:
        return c.state != CaseState.VOIDED.value
    if measure is Measure.DUE_SUSPENDED:
        return c.state == CaseState.SUSPENDED.value
    closed = c.state.in_((CaseState.CLOSED.value, CaseState.EVALUATED.value))
    if measure is Measure.DUE_CLOSED:
        return closed
    return and_(closed, cast(mark["on_time"].astext, Boolean).is_(True))


def _flow(measure: Measure, level: Level, q: CaseQuery, tz: str) -> ColumnElement[bool]:
    h = case_steps.alias("h")
    day = cast(func.timezone(tz, h.c.at), Date)
    cond: list[ColumnElement[bool]] = [h.c.case_id == c.case_id, *_between(day, q)]
    department: ColumnElement[Any] = h.c.department_code
    if measure is Measure.RETURNED:
        before = case_steps.alias("before")
        cond.append(h.c.action == "return")
        department = (
            select(before.c.department_code)
            .where(before.c.case_id == h.c.case_id, before.c.seq == h.c.seq - 1)
            .scalar_subquery()
        )
    elif measure is Measure.DISPATCHED_DOWN:
        cond += [h.c.action == "dispatch", h.c.level == level.value]
    elif measure is Measure.ESCALATED_IN:
        cond += [h.c.action == "escalate", h.c.level == level.value]
    else:  # escalated out: the escalation's new level is the one above this area's
        above = LEVEL_ORDER[level.depth - 1].value if level.depth > 0 else ""
        cond += [h.c.action == "escalate", h.c.level == above]
    if q.department:
        cond.append(department == q.department)
    return exists(select(h.c.seq).where(*cond))


PAGE_SIZE = 50


class CaseSummary(BaseModel):
    case_id: UUID
    state: CaseState
    state_label: str
    category: str
    area: dict[str, str | None] = Field(description="the case's codes by level, city to grid")
    department_code: str | None = Field(description="the lead department (主办) now")
    level: str = Field(description="the level that holds the case now")
    deadline_at: datetime | None
    due: str = Field(description="on_time, warning (预警) or overdue (超期), as of the answer")
    observed_at: datetime = Field(description="when the first report was observed")
    opened_at: datetime
    closed_at: datetime | None


class CaseList(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[CaseSummary] = Field(description="newest first (by opening)")


def summary_columns(now: datetime, share: float) -> list[Any]:
    return [
        c.case_id, c.state, c.category, c.city_code, c.district_code, c.township_code, c.community_code,
        c.grid_code, c.department_code, c.level, c.deadline_at, c.observed_at, c.opened_at, c.closed_at,
        due_expr(now, share).label("due"),
    ]  # fmt: skip


def summary(row: Any) -> CaseSummary:
    return CaseSummary(
        case_id=row.case_id,
        state=row.state,
        state_label=STATE_LABELS[CaseState(row.state)],
        category=row.category,
        area={level.value: getattr(row, f"{level.value}_code") for level in LEVEL_ORDER},
        department_code=row.department_code,
        level=row.level,
        deadline_at=row.deadline_at,
        due=row.due,
        observed_at=row.observed_at,
        opened_at=row.opened_at,
        closed_at=row.closed_at,
    )


async def list_cases(
    conn: AsyncConnection,
    q: CaseQuery,
    *,
    page: int,
    now: datetime,
    share: float,
    tz: str,
    scope: ColumnElement[bool] | None = None,
) -> CaseList:
    """One page of the cases `q` asks for within `scope`, newest first, and how many there are in all."""
    query = select_cases(q, *summary_columns(now, share), now=now, share=share, tz=tz, scope=scope)
    total = (await conn.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
    rows = await conn.execute(
        query.order_by(c.opened_at.desc(), c.case_id).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    )
    return CaseList(total=total, page=page, page_size=PAGE_SIZE, items=[summary(r) for r in rows])
