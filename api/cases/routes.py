"""案件 (cases): read one, act on one. Thin: the service sends, waits and answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header, Query

from api.cases import service
from api.cases.listing import CaseList, CaseQuery, list_cases
from api.cases.schemas import ACTION_BODY, CaseOut
from api.deps import ConnDep, EngineDep, ProducerDep, SettingsDep
from api.errors import NotFound
from api.views.filters import CategoryQuery, DepartmentQuery, SeesDep, check_filters
from cases.states import CaseState
from indicators.measures import LABELS, Measure
from stream.router import work_calendar

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


def _actor(
    x_gridflow_actor: Annotated[
        str | None,
        Header(description="who acts, until accounts exist: printable, at most 64 characters (UTF-8)"),
    ] = None,
) -> str:
    return service.check_actor(x_gridflow_actor)


ActorDep = Annotated[str, Depends(_actor)]

_ACT_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"description": "no such case; nothing was sent"},
    409: {
        "description": 'refused by the case\'s state or data: `{"error": "illegal_transition" | "invalid" | '
        '"failed", "state": <current state>, "action": <action>, "detail": <why, in Chinese>}`'
    },
    422: {"description": "unknown action, or a missing or invalid field (named); nothing was sent"},
    503: {"description": "Kafka unavailable; nothing was sent, retry later"},
    504: {"description": "sent, but not applied within 10 s: it stays queued and will be applied in turn"},
}


_MEASURES = "; ".join(f"`{m.value}` {LABELS[m]}" for m in Measure if m is not Measure.CLOSE_SECONDS)


@router.get("", response_model=CaseList, responses={404: {"description": "no such area (or not yours)"}})
async def case_list(
    conn: ConnDep,
    settings: SettingsDep,
    sees: SeesDep,
    area_code: Annotated[str | None, Query(pattern=r"^\d{12,15}$", description="default: the city")] = None,
    measure: Annotated[Measure | None, Query(description=f"the view's figure: {_MEASURES}")] = None,
    state: Annotated[list[CaseState] | None, Query(description="the state now (repeatable)")] = None,
    open_only: Annotated[
        bool, Query(alias="open", description="only cases not yet closed or voided")
    ] = False,
    due: Annotated[Literal["on_time", "warning", "overdue"] | None, Query(description="as of now")] = None,
    start: Annotated[date | None, Query(alias="from", description="first day, of the measure's day")] = None,
    end: Annotated[date | None, Query(alias="to", description="last day (inclusive)")] = None,
    category: CategoryQuery = None,
    department: DepartmentQuery = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> CaseList:
    """The cases behind a figure of the four-level view (each figure's `cases` link), newest first."""
    code = area_code or settings.city_code
    if not sees(code):
        raise NotFound(f"no area with code {code}")
    await check_filters(conn, category=category, department=department, start=start, end=end)
    query = CaseQuery(
        area_code=code,
        measure=measure,
        states=tuple(s.value for s in state or ()),
        open_only=open_only,
        due=due,
        start=start,
        end=end,
        category=category,
        department=department,
    )
    share, tz = settings.case_warning_share, work_calendar().tz.key
    return await list_cases(conn, query, page=page, now=datetime.now(UTC), share=share, tz=tz)


@router.get("/{case_id}", response_model=CaseOut, responses={404: {"description": "no such case"}})
async def get_case(case_id: UUID, conn: ConnDep, settings: SettingsDep) -> CaseOut:
    """One case (案件): state, place, departments, deadline and whether it is at risk, its reports and its
    history (seq 0 is the opening)."""
    return await service.read_case(conn=conn, case_id=case_id, settings=settings)


@router.post("/{case_id}/actions", response_model=CaseOut, responses=_ACT_RESPONSES)
async def act(
    case_id: UUID,
    body: Annotated[
        dict[str, Any],
        Body(
            description=ACTION_BODY,
            examples=[{"action": "accept"}, {"action": "return", "reason": "不属于本部门职责"}],
        ),
    ],
    actor: ActorDep,
    engine: EngineDep,
    producer: ProducerDep,
    settings: SettingsDep,
) -> CaseOut:
    """Act on a case (派遣, 签收, 回退, 处置, 核查, 评价, 延期, 缓办, 上报, 作废...). Answers once the case
    agent has applied it, with the case as it now stands (GET shows the same at once)."""
    action = service.parse_body(body)
    return await service.act(
        engine=engine, producer=producer, settings=settings, case_id=case_id, action=action, actor=actor
    )
