"""GET /api/v1/queues/{name}: the cases waiting for the caller, most urgent or newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import ConnDep, CurrentPrincipal, SettingsDep
from api.errors import NotFound
from api.queues import service
from api.queues.schemas import DEFAULT_SIZE, MAX_SIZE, QUEUES, QueueName, QueuePage

router = APIRouter(prefix="/api/v1/queues", tags=["queues"])

_ORDERS = {"newest": "latest change first", "deadline": "soonest deadline first", "waiting": "longest first"}
_LIST = "; ".join(
    f"`{name.value}` {q.label} ({', '.join(r.value for r in q.roles)}): {q.what}, {_ORDERS[q.order]}"
    for name, q in QUEUES.items()
)
_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "not signed in"},
    403: {"description": "the caller's role has no such queue: `detail.needed` names the roles that do"},
    404: {"description": "no queue of that name"},
}


@router.get("/{name}", response_model=QueuePage, responses=_RESPONSES, description=_LIST)
async def queue(
    name: Annotated[str, Path(description="new, in_progress, overdue, approvals, triage or to_verify")],
    principal: CurrentPrincipal,
    conn: ConnDep,
    settings: SettingsDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_SIZE)] = DEFAULT_SIZE,
) -> QueuePage:
    """工作队列: the caller's cases waiting in the queue `name`, paged (`total` counts the whole queue)."""
    try:
        which = QueueName(name)
    except ValueError:
        raise NotFound(f"没有名为 {name!r} 的队列 (no such queue)", field="path.name") from None
    return await service.queue_page(
        conn,
        principal=principal,
        name=which,
        page=page,
        size=size,
        now=datetime.now(UTC),
        warning_share=settings.case_warning_share,
    )
