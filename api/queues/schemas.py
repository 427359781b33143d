"""The queues' contract: which queues there are, who has each, and an item as the clients read it.

The field app's 核查 screen reads `to_verify` with this item shape: change it only additively.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from accounts.roles import Role
from api.cases.schemas import DepartmentOut
from cases.model import PendingRequest
from cases.states import CaseState
from cases.timers import DueStatus
from geo.schemas import Level

MAX_SIZE = 100
DEFAULT_SIZE = 20


class QueueName(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    OVERDUE = "overdue"
    APPROVALS = "approvals"
    TRIAGE = "triage"
    TO_VERIFY = "to_verify"


Order = Literal["newest", "deadline", "waiting"]
LEVEL_OFFICES = (Role.COMMUNITY, Role.TOWNSHIP, Role.DISTRICT, Role.CITY_DISPATCH)


@dataclass(frozen=True)
class Queue:
    label: str  # Chinese, for the screens
    roles: tuple[Role, ...]  # who has this queue; anyone else is answered 403 naming them
    order: Order  # newest: latest change first; deadline: soonest deadline first; waiting: longest first
    what: str  # for the OpenAPI description


QUEUES: dict[QueueName, Queue] = {
    QueueName.NEW: Queue("待签收", (Role.DEPARTMENT,), "newest", "the department's dispatched cases"),
    QueueName.IN_PROGRESS: Queue(
        "办理中", (Role.DEPARTMENT,), "deadline", "the department's cases in progress or in rework"
    ),
    QueueName.OVERDUE: Queue(
        "已超期",
        (Role.DEPARTMENT, *LEVEL_OFFICES),
        "deadline",
        "open cases past their deadline: the department's own, or those in the office's area",
    ),
    QueueName.APPROVALS: Queue(
        "待审批",
        LEVEL_OFFICES,
        "deadline",
        "postponements and suspensions the office may decide: cases in its area held at its level or below",
    ),
    QueueName.TRIAGE: Queue(
        "待分拨",
        (Role.CITY_DISPATCH,),
        "newest",
        "cases the dispatch center must dispatch: in triage (with the reason) or returned (with the reason)",
    ),
    QueueName.TO_VERIFY: Queue(
        "待核查",
        (Role.GRID_WORKER, Role.COMMUNITY),
        "waiting",
        "handled cases to check on site: in the grid worker's grids (the community's, for cases without one)",
    ),
}


class QueueArea(BaseModel):
    codes: dict[str, str | None] = Field(description="the case's codes by level: city, district … grid")
    names: dict[str, str] = Field(description="their Chinese names, where known")


class Location(BaseModel):
    lon: float
    lat: float


class QueueItem(BaseModel):
    case_id: UUID
    state: CaseState
    state_label: str
    category: str
    category_name: str | None
    area: QueueArea
    department: DepartmentOut | None = Field(description="the lead department (主办); none in triage")
    level: Level = Field(description="the level that holds the case now")
    deadline_at: datetime | None
    due: DueStatus = Field(description="on_time, warning (预警) or overdue (超期), as of the answer")
    pending: PendingRequest | None = Field(description="a postponement or suspension awaiting approval")
    opened_at: datetime
    reporter_count: int
    report_ids: list[UUID]
    location: Location | None = Field(default=None, description="WGS-84, where the first report was made")
    triage_reason: str | None = Field(
        default=None, description="triage queue: the routing's reason code, or `returned` (回退)"
    )
    triage_label: str | None = Field(default=None, description="the reason in Chinese")
    triage_detail: str | None = Field(default=None, description="more about it (a return's stated reason)")


class QueuePage(BaseModel):
    name: QueueName
    label: str
    total: int = Field(description="items in the whole queue")
    page: int
    size: int
    items: list[QueueItem]
