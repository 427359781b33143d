"""Scope as the API applies it: SQL conditions for lists and checks for one object, for every endpoint.

`accounts.scope` decides who sees what (`scope_of`, `sees_*`, `may_act`); this module is its one translation
into queries and answers, so that an object outside the caller's scope answers exactly as one that does not
exist (404, same message), never with its data. What an endpoint calls:

    lists of cases    select(...).where(case_clause(principal, case_rows))     # any table or alias of cases
    lists of reports  select(...).where(report_clause(principal, report_rows)) # ... of reports
    one case          case, facts = await visible_case(conn, principal, case_id)  # 404 if not seen
    one report        facts = await visible_report(conn, principal, report_id)    # 404 if not seen
    an action         check_action(principal, action, facts)                      # 404 / 403 naming roles
    an area           require_area(principal, code)                               # 404 if not seen
    an area filter    `AreaSeer` dependency: Callable[[str], bool], drop-in for api.views.filters.SeesDep
    submitting        `ReporterPrincipal` dependency: a grid worker or the dispatch center, else 403

The clauses need these columns of the table given: cases — `case_id`, `district_code`, `township_code`,
`community_code`, `grid_code`, `department_code`, `helper_codes` (JSONB); reports — `case_id`, `reporter_id`,
the same area codes. `case_rows` (here and in api/read_models.py) and this module's `report_rows` have them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import Depends
from sqlalchemy import ColumnElement, Text, column, exists, false, or_, select, table, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import FromClause

from accounts.roles import Principal, Role
from accounts.scope import CaseFacts, ReportFacts, Scope, may_act, scope_of, sees_area, sees_case, sees_report
from api.auth.guard import raise_refusal
from api.deps import CurrentPrincipal, require_roles
from api.errors import NotFound
from cases.model import Case
from cases.states import ActionName
from geo.schemas import LEVEL_ORDER

_CODES = tuple(f"{level.value}_code" for level in LEVEL_ORDER)
# The columns scoping reads, as lightweight constructs of its own: api/read_models.py is shared with the
# view's work, and a reporter's id is needed nowhere else in the API.
case_rows = table(
    "cases",
    column("case_id", PgUUID(as_uuid=True)),
    column("doc", JSONB),
    *(column(name, Text) for name in _CODES),
    column("department_code", Text),
    column("helper_codes", JSONB),
)
report_rows = table(
    "reports",
    column("report_id", PgUUID(as_uuid=True)),
    column("case_id", PgUUID(as_uuid=True)),
    column("reporter_id", Text),
    *(column(name, Text) for name in _CODES),
)


# Who may submit a report (上报) and its photos: the grid worker on the street, and the dispatch center, which
# takes the 12345 hotline's calls in (a caller's report is entered there). The offices and departments act on
# cases, not report them; the auditor writes nothing; the admin does no casework; an Open311 client reports
# through /open311 with its key.
REPORTER_ROLES: tuple[Role, ...] = (Role.GRID_WORKER, Role.CITY_DISPATCH)
ReporterPrincipal = Annotated[Principal, require_roles(*REPORTER_ROLES)]


def case_missing(case_id: UUID) -> NotFound:
    """The answer for a case that does not exist and for one the caller does not see: the same."""
    return NotFound(f"案件 {case_id} 不存在 (no such case; a new report's case may still be opening)")


def report_missing(report_id: UUID) -> NotFound:
    return NotFound(f"report {report_id} is not known (yet): it may still be on its way through the queue")


def area_missing(code: str, field: str | None = None) -> NotFound:
    return NotFound(f"no area with code {code}", field=field)


# --- SQL ---------------------------------------------------------------------------------------------------
def _area(scope: Scope, t: FromClause) -> ColumnElement[bool] | None:
    if scope.area_code is None or scope.area_level is None:
        return None
    # An office's subtree, by the code at its own level (the codes are stored per level, indexed).
    return t.c[f"{scope.area_level.value}_code"] == scope.area_code


def _department(code: str, t: FromClause) -> ColumnElement[bool]:
    return or_(t.c.department_code == code, t.c.helper_codes.contains([code]))


def case_clause(principal: Principal, cases: FromClause = case_rows) -> ColumnElement[bool]:
    """The cases `principal` sees, as a WHERE condition on `cases` (a table or alias of `cases`)."""
    scope = scope_of(principal)
    if scope.whole_city:
        return true()
    conditions: list[ColumnElement[bool]] = []
    area = _area(scope, cases)
    if area is not None:
        conditions.append(area)
    if scope.department_code is not None:
        conditions.append(_department(scope.department_code, cases))
    if scope.grid_codes:
        conditions.append(cases.c.grid_code.in_(scope.grid_codes))
    if scope.reporter_id is not None:
        mine = report_rows.alias("scope_reports")
        conditions.append(
            exists(
                select(mine.c.report_id).where(
                    mine.c.case_id == cases.c.case_id, mine.c.reporter_id == scope.reporter_id
                )
            )
        )
    return or_(*conditions) if conditions else false()


def report_clause(principal: Principal, reports: FromClause = report_rows) -> ColumnElement[bool]:
    """The reports `principal` sees, as a WHERE condition on `reports` (a table or alias of `reports`)."""
    scope = scope_of(principal)
    if scope.whole_city:
        return true()
    conditions: list[ColumnElement[bool]] = []
    area = _area(scope, reports)
    if area is not None:
        conditions.append(area)
    if scope.department_code is not None:
        its_case = case_rows.alias("scope_cases")
        conditions.append(
            exists(
                select(its_case.c.case_id).where(
                    its_case.c.case_id == reports.c.case_id, _department(scope.department_code, its_case)
                )
            )
        )
    if scope.grid_codes:
        conditions.append(reports.c.grid_code.in_(scope.grid_codes))
    if scope.reporter_id is not None:
        conditions.append(reports.c.reporter_id == scope.reporter_id)
    return or_(*conditions) if conditions else false()


# --- one object --------------------------------------------------------------------------------------------
async def case_and_facts(conn: AsyncConnection, case_id: UUID) -> tuple[Case, CaseFacts] | None:
    """The stored case and what the scope rules need of it (its reporters too); None if there is none."""
    doc = (
        await conn.execute(select(case_rows.c.doc).where(case_rows.c.case_id == case_id))
    ).scalar_one_or_none()
    if doc is None:
        return None
    case = Case.model_validate(doc)
    query = select(report_rows.c.reporter_id).where(report_rows.c.case_id == case_id).distinct()
    reporters = (await conn.execute(query)).scalars().all()
    return case, CaseFacts.of_case(case, reporters)


async def visible_case(conn: AsyncConnection, principal: Principal, case_id: UUID) -> tuple[Case, CaseFacts]:
    """The case if `principal` sees it; `case_missing` (404) otherwise, whether or not it exists."""
    found = await case_and_facts(conn, case_id)
    if found is None or not sees_case(principal, found[1]):
        raise case_missing(case_id)
    return found


async def report_facts(conn: AsyncConnection, report_id: UUID) -> ReportFacts | None:
    """What the scope rules need of a stored report (its case's departments too); None if there is none."""
    r, c = report_rows.alias("r"), case_rows.alias("c")
    query = (
        select(r.c.reporter_id, *(r.c[name] for name in _CODES), c.c.department_code, c.c.helper_codes)
        .select_from(r.outerjoin(c, c.c.case_id == r.c.case_id))
        .where(r.c.report_id == report_id)
    )
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    lead = [row.department_code] if row.department_code else []
    return ReportFacts(
        reporter_id=row.reporter_id,
        area_codes=tuple(code for name in _CODES[:-1] if (code := getattr(row, name))),
        grid_code=row.grid_code,
        department_codes=(*lead, *(row.helper_codes or ())),
    )


async def visible_report(conn: AsyncConnection, principal: Principal, report_id: UUID) -> ReportFacts:
    """The report's facts if `principal` sees it; `report_missing` (404) otherwise."""
    facts = await report_facts(conn, report_id)
    if facts is None or not sees_report(principal, facts):
        raise report_missing(report_id)
    return facts


def check_action(principal: Principal, action: ActionName, facts: CaseFacts) -> None:
    """Whether `principal` may ask for `action` (accounts.scope.may_act): 404 out of scope, 403 naming the
    roles that may. The case's state is the case agent's question, asked after this one."""
    refusal = may_act(principal, action, facts)
    if refusal is not None:
        raise_refusal(refusal)


def require_area(principal: Principal, code: str, *, field: str | None = None) -> None:
    """`area_missing` (404) unless `principal` sees the area (a 12-digit code or a grid code)."""
    if not sees_area(principal, code):
        raise area_missing(code, field)


async def _area_seer(principal: CurrentPrincipal) -> Callable[[str], bool]:
    return partial(sees_area, principal)


# For views, lists and exports that filter areas: `sees(code)` is True for the areas the caller sees.
AreaSeer = Annotated[Callable[[str], bool], Depends(_area_seer)]
