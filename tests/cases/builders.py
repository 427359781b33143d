"""Plain-data builders for the case tests: a calendar, times in Dalian, and cases driven into each state."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

from cases.actions import (
    AcceptAction,
    ApproveAction,
    CaseAction,
    DispatchAction,
    EscalateAction,
    EvaluateAction,
    HandleAction,
    PostponeAction,
    RejectAction,
    ResumeAction,
    ReturnAction,
    SuspendAction,
    VerifyAction,
    VoidAction,
    WarnAction,
)
from cases.calendar import default_calendar
from cases.lifecycle import Applied, next_state
from cases.model import Case, open_case
from cases.states import SYSTEM_ACTOR, ActionName, CaseState
from geo.schemas import Level

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = default_calendar()
CASE_ID = UUID("00000000-0000-4000-8000-000000000001")
REPORT_ID = UUID("00000000-0000-4000-8000-0000000000aa")
LEAD = "210202000000:urban_management"
OTHER = "210202000000:housing"
WORKER = "worker:2102"
CLERK = "dept:210202"


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=SHANGHAI)


# Tuesday 2026-03-10, 09:00: an ordinary working morning.
T0 = local(2026, 3, 10, 9, 0)

SAMPLE_ACTIONS: dict[ActionName, CaseAction] = {
    ActionName.DISPATCH: DispatchAction(department_code=OTHER),
    ActionName.ACCEPT: AcceptAction(),
    ActionName.RETURN: ReturnAction(reason="不属于本部门职责"),
    ActionName.HANDLE: HandleAction(note="已清理完毕", attachments=("ab" * 32,)),
    ActionName.VERIFY: VerifyAction(passed=True, note="现场核查通过"),
    ActionName.EVALUATE: EvaluateAction(score=5),
    ActionName.POSTPONE: PostponeAction(hours=8, reason="需协调施工单位"),
    ActionName.APPROVE: ApproveAction(),
    ActionName.REJECT: RejectAction(reason="理由不足"),
    ActionName.SUSPEND: SuspendAction(reason="等待司法认定"),
    ActionName.RESUME: ResumeAction(),
    ActionName.ESCALATE: EscalateAction(reason="需上级协调"),
    ActionName.VOID: VoidAction(reason="重复立案"),
    ActionName.WARN: WarnAction(),
}


def actor_for(action: CaseAction) -> str:
    return SYSTEM_ACTOR if action.action is ActionName.WARN else CLERK


def routed(
    *, at: datetime = T0, hours: int = 16, working: bool = True, level: Level = Level.COMMUNITY
) -> Case:
    return open_case(
        case_id=CASE_ID,
        report_id=REPORT_ID,
        category="010101",
        opened_at=at,
        calendar=CAL,
        department_code=LEAD,
        level=level,
        deadline_hours=hours,
        working_hours=working,
        district_code="210202000000",
        community_code="210202001001",
    )


def triaged(*, at: datetime = T0, level: Level | None = None) -> Case:
    return open_case(
        case_id=CASE_ID, report_id=REPORT_ID, category="010101", opened_at=at, calendar=CAL, level=level
    )


def apply(case: Case, action: CaseAction, *, at: datetime | None = None, actor: str | None = None) -> Case:
    result = next_state(
        case, action, actor=actor or actor_for(action), at=at or case.updated_at, calendar=CAL
    )
    assert isinstance(result, Applied), result
    return result.case


def case_in(state: CaseState) -> Case:
    """A case brought into `state` by the lifecycle itself, held at community level, without a request."""
    steps: dict[CaseState, list[CaseAction]] = {
        CaseState.DISPATCHED: [],
        CaseState.IN_PROGRESS: [AcceptAction()],
        CaseState.HANDLED: [AcceptAction(), HandleAction(note="已处置")],
        CaseState.CLOSED: [AcceptAction(), HandleAction(note="已处置"), VerifyAction(passed=True, note="")],
        CaseState.EVALUATED: [
            AcceptAction(),
            HandleAction(note="已处置"),
            VerifyAction(passed=True, note=""),
            EvaluateAction(score=4),
        ],
        CaseState.RETURNED: [ReturnAction(reason="非本部门职责")],
        CaseState.REWORK: [
            AcceptAction(),
            HandleAction(note="已处置"),
            VerifyAction(passed=False, note="未清理"),
        ],
        CaseState.SUSPENDED: [AcceptAction(), SuspendAction(reason="等待认定"), ApproveAction()],
        CaseState.VOIDED: [VoidAction(reason="误报")],
    }
    if state is CaseState.TRIAGE:
        return triaged(level=Level.COMMUNITY)
    case = routed()
    for action in steps[state]:
        case = apply(case, action)
    assert case.state is state
    return case
