"""A case as the lifecycle sees it, and one step of its history.

Plain frozen data: every change is a new `Case` made by `cases.lifecycle.next_state`, so a stored case can be
checked against the replay of its history. Times are aware datetimes; durations that stop and start with the
clock (remaining time while suspended, the allowance) are in seconds of the rule's kind of time: working
seconds when `working_hours`, natural seconds otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from cases.actions import CaseAction
from cases.calendar import WorkCalendar, add_time
from cases.states import OPEN_STATES, TIMED_STATES, ActionName, CaseState
from geo.schemas import LEVEL_ORDER, Level

# The levels that can hold a case, top first: the five levels of geo.schemas less the grid, which is where
# reports come from but no office sits.
CASE_LEVELS: tuple[Level, ...] = tuple(level for level in LEVEL_ORDER if level is not Level.GRID)


def level_above(level: Level) -> Level | None:
    """The level an escalation hands the case to; None at the city, the top."""
    index = CASE_LEVELS.index(level)
    return CASE_LEVELS[index - 1] if index > 0 else None


class PendingKind(StrEnum):
    POSTPONE = "postpone"  # 延期申请
    SUSPEND = "suspend"  # 缓办申请


class PendingRequest(BaseModel):
    """A request waiting for the level above: at most one per case."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PendingKind
    hours: int | None = None  # postponement only
    reason: str
    requested_by: str
    requested_at: AwareDatetime


class Case(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: UUID
    state: CaseState
    category: str
    city_code: str | None = None
    district_code: str | None = None
    township_code: str | None = None
    community_code: str | None = None
    grid_code: str | None = None
    department_code: str | None = None  # lead department (主办)
    helper_codes: tuple[str, ...] = ()  # 协办
    level: Level  # the level that holds the case now
    # Deadline basis, from the duty rule (or set by hand at dispatch from triage).
    deadline_hours: int | None = Field(default=None, gt=0)
    working_hours: bool = True
    deadline_at: AwareDatetime | None = None  # None before dispatch and while suspended
    clock_started_at: AwareDatetime | None = None  # start of the current allowance (dispatch or escalation)
    # Time allowed from clock_started_at, in the rule's kind of time: the basis plus approved postponements.
    allowance_seconds: float | None = None
    suspended_at: AwareDatetime | None = None  # when the clock stopped
    suspended_from: CaseState | None = None  # the state `resume` returns to
    remaining_seconds: float | None = None  # time left when the clock stopped, rule's kind of time, ≥ 0
    pending: PendingRequest | None = None
    warned: bool = False  # the at-risk timer fired at the current level
    escalations: int = 0
    reworks: int = 0  # verifications failed (返工)
    postponed: bool = False  # ever had an approved postponement (延期率)
    score: int | None = None
    report_ids: tuple[UUID, ...]
    reporter_count: int = Field(default=1, ge=1)
    seq: int = 0  # transitions applied
    opened_at: AwareDatetime
    updated_at: AwareDatetime  # time of the latest transition (never moves back)
    handled_at: AwareDatetime | None = None  # latest 处置完成; on-time closure compares it with the deadline
    closed_at: AwareDatetime | None = None

    @field_validator("level")
    @classmethod
    def _not_grid(cls, level: Level) -> Level:
        if level is Level.GRID:
            raise ValueError("a case is held by a community, township, district or city, not by a grid")
        return level

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def clock_running(self) -> bool:
        return self.state in TIMED_STATES and self.deadline_at is not None


class Transition(BaseModel):
    """One applied action: the audit trail's entry, and enough to replay it (`payload`, `actor`, `at`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_id: UUID
    seq: int  # the case's seq after this transition: 1 for the first
    action: ActionName
    from_state: CaseState
    to_state: CaseState
    actor: str
    at: AwareDatetime
    reason: str | None = None
    note: str | None = None
    payload: CaseAction
    # The case after the transition, for the audit trail's readers.
    level: Level
    department_code: str | None
    deadline_at: AwareDatetime | None


def open_case(
    *,
    case_id: UUID,
    report_id: UUID,
    category: str,
    opened_at: datetime,
    calendar: WorkCalendar,
    department_code: str | None = None,
    helper_codes: Iterable[str] = (),
    level: Level | None = None,
    deadline_hours: int | None = None,
    working_hours: bool = True,
    city_code: str | None = None,
    district_code: str | None = None,
    township_code: str | None = None,
    community_code: str | None = None,
    grid_code: str | None = None,
) -> Case:
    """The case a report opens: dispatched with its deadline when routed (a department is named), else triage.

    A routed case needs the duty rule's `level` and `deadline_hours`; a rule at grid level is held by the
    community. A triage case waits at the city's dispatch center unless `level` says otherwise; a deadline
    basis given for it is kept for the dispatch.
    """
    held = Level.COMMUNITY if level is Level.GRID else level
    routed = department_code is not None
    if routed and (held is None or deadline_hours is None):
        raise ValueError("a routed case needs the duty rule's level and deadline_hours")
    deadline_at = None
    allowance = None
    if routed and deadline_hours is not None:
        deadline_at = add_time(opened_at, deadline_hours * 3600, calendar, working=working_hours)
        allowance = deadline_hours * 3600.0
    return Case(
        case_id=case_id,
        state=CaseState.DISPATCHED if routed else CaseState.TRIAGE,
        category=category,
        city_code=city_code,
        district_code=district_code,
        township_code=township_code,
        community_code=community_code,
        grid_code=grid_code,
        department_code=department_code,
        helper_codes=tuple(c for c in dict.fromkeys(helper_codes) if c != department_code),
        level=held or Level.CITY,
        deadline_hours=deadline_hours,
        working_hours=working_hours,
        deadline_at=deadline_at,
        clock_started_at=opened_at if routed else None,
        allowance_seconds=allowance,
        report_ids=(report_id,),
        opened_at=opened_at,
        updated_at=opened_at,
    )


def attach_report(case: Case, report_id: UUID, *, new_reporter: bool) -> Case:
    """A duplicate report joins an open case (not a transition: the lifecycle does not move).

    Idempotent: a report already in the case changes nothing. `new_reporter` says whether its reporter is
    one the case has not counted yet.
    """
    if report_id in case.report_ids:
        return case
    if not case.is_open:
        raise ValueError(f"case {case.case_id} is {case.state}: a report joins only an open case")
    return case.model_copy(
        update={
            "report_ids": (*case.report_ids, report_id),
            "reporter_count": case.reporter_count + (1 if new_reporter else 0),
        }
    )


# Fields that duplicates change outside the history: leave them out when comparing a case with its replay.
MERGE_FIELDS = frozenset({"report_ids", "reporter_count"})
