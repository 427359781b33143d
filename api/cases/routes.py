"""案件 (cases): read one, act on one. Thin: the service sends, waits and answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Header, Query

from api.attachments.routes import StoreDep
from api.auth.scoping import case_clause
from api.cases import service
from api.cases.listing import CaseList, CaseQuery, list_cases
from api.cases.schemas import ACTION_BODY, CaseOut
from api.deps import ConnDep, CurrentPrincipal, EngineDep, ProducerDep, SettingsDep
from api.errors import NotFound
from api.read_models import case_rows
from api.views.filters import CategoryQuery, DepartmentQuery, SeesDep, check_filters
from cases.states import CaseState
from indicators.measures import LABELS, Measure
from stream.router import work_calendar

router = APIRouter(prefix="/api/v1/cases", tags=["cases"])


IdempotencyKey = Annotated[
    UUID | None,
    Header(
        description="`Idempotency-Key`: a UUID the client makes once per action and sends again with a "
        "resend: the action is applied once and a resend answers its outcome (it becomes the command's id); "
        "a key already used for another case or another action is refused (422)",
    ),
]

_ACT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": "the caller sees the case but its role may not: `detail.needed` names the roles"},
    404: {"description": "no such case, or not one the caller sees (the same answer); nothing was sent"},
    409: {
        "description": 'refused by the case\'s state or data: `{"error": "illegal_transition" | "invalid" | '
        '"failed", "state": <current state>, "action": <action>, "detail": <why, in Chinese>}`'
    },
    422: {
        "description": "unknown action, a missing or invalid field (named), or `attachments` naming a photo "
        "not uploaded to the case (POST /api/v1/cases/{case_id}/attachments); nothing was sent"
    },
    503: {"description": "Kafka unavailable; nothing was sent, retry later"},
    504: {"description": "sent, but not applied within 10 s: it stays queued and will be applied in turn"},
}


_MEASURES = "; ".join(f"`{m.value}` {LABELS[m]}" for m in Measure if m is not Measure.CLOSE_SECONDS)


@router.get("", response_model=CaseList, responses={404: {"description": "no such area (or not yours)"}})
async def case_list(
    principal: CurrentPrincipal,
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
    """The cases behind a figure of the four-level view (each figure's `cases` link), newest first; only
    those the caller sees. Without `area_code`, a department or a grid worker (who see no whole city) gets
    its own cases."""
    code = area_code or settings.city_code
    if area_code is not None and not sees(code):
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
    now, scope = datetime.now(UTC), case_clause(principal, case_rows)
    return await list_cases(conn, query, page=page, now=now, share=share, tz=tz, scope=scope)


@router.get(
    "/{case_id}",
    response_model=CaseOut,
    responses={404: {"description": "no such case, or not one the caller sees (the same answer)"}},
)
async def get_case(
    case_id: UUID, principal: CurrentPrincipal, conn: ConnDep, settings: SettingsDep
) -> CaseOut:
    """One case (案件): state, place, departments, deadline and whether it is at risk, its reports and its
    history (seq 0 is the opening). Seen by its place's offices and grid workers, its departments (主办 and
    协办), its reporters, the dispatch center and the auditor."""
    return await service.read_case(conn=conn, principal=principal, case_id=case_id, settings=settings)


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
    principal: CurrentPrincipal,
    engine: EngineDep,
    producer: ProducerDep,
    settings: SettingsDep,
    store: StoreDep,
    idempotency_key: IdempotencyKey = None,
) -> CaseOut:
    """Act on a case (派遣, 签收, 回退, 处置, 核查, 评价, 延期, 缓办, 上报, 作废...) as the signed-in user,
    whom the history records. Who may do what follows the loop (accounts/scope.py): the lead department
    accepts, returns, handles and asks for a postponement or suspension; the level holding the case or one
    above approves; the grid worker of its grid verifies; the dispatch center dispatches, reassigns and voids;
    whoever sees it and does casework may escalate. Answers once the case agent has applied it, with the case
    as it now stands (GET shows the same at once)."""
    action = service.parse_body(body)
    return await service.act(
        engine=engine,
        producer=producer,
        settings=settings,
        principal=principal,
        case_id=case_id,
        action=action,
        store=store,
        command_id=idempotency_key,
    )
