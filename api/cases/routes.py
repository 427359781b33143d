"""案件 (cases): read one, act on one. Thin: the service sends, waits and answers."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Header

from api.cases import service
from api.cases.schemas import ACTION_BODY, CaseOut
from api.deps import ConnDep, EngineDep, ProducerDep, SettingsDep

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
