"""The case as the API answers it (GET and after an action), and the action request's description."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from cases.actions import ACTION_MODELS
from cases.model import PendingRequest
from cases.states import SYSTEM_ONLY_ACTIONS, ActionName, CaseState
from cases.timers import DueStatus
from geo.schemas import Level

# History row 0 is the case's opening (立案), written by the stream under this action name.
OPENING_ACTION = "open"
OPENING_LABEL = "立案"


class CaseArea(BaseModel):
    """The codes where the case is, and their Chinese names by level (city, district, township...)."""

    city: str | None = None
    district: str | None = None
    township: str | None = None
    community: str | None = None
    grid: str | None = None
    names: dict[str, str] = Field(default_factory=dict)


class DepartmentOut(BaseModel):
    code: str
    name: str | None = Field(description="none if the code is no longer among the departments")


class HistoryEntry(BaseModel):
    seq: int = Field(description="0 is the opening (立案); each applied action adds one")
    action: str = Field(description="open, or the action applied")
    action_label: str
    from_state: CaseState | None
    to_state: CaseState
    actor: str
    at: datetime
    reason: str | None
    note: str | None


class CaseOut(BaseModel):
    case_id: UUID
    state: CaseState
    state_label: str
    category: str
    category_name: str | None
    area: CaseArea
    department: DepartmentOut | None = Field(description="the lead department (主办); none in triage")
    helpers: list[DepartmentOut] = Field(description="helper departments (协办)")
    level: Level = Field(description="the level that holds the case now")
    deadline_at: datetime | None = Field(description="none before dispatch and while suspended")
    due: DueStatus = Field(description="on_time, warning (预警) or overdue (超期), as of the answer")
    pending: PendingRequest | None = Field(description="a postponement or suspension awaiting approval")
    report_ids: list[UUID]
    reporter_count: int
    opened_at: datetime
    closed_at: datetime | None
    history: list[HistoryEntry]


def _fields(name: ActionName) -> str:
    model = ACTION_MODELS[name].model_fields
    shown = [f if info.is_required() else f"{f}?" for f, info in model.items() if f != "action"]
    return f"`{name.value}`" + (f" {{{', '.join(shown)}}}" if shown else "")


ACTION_BODY = (
    'A JSON object `{"action": <name>, ...fields}`, one of: '
    + "; ".join(_fields(name) for name in ActionName if name not in SYSTEM_ONLY_ACTIONS)
    + ". `?` marks an optional field."
)
