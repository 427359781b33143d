"""What each allowed action changes in a case: the second half of `cases.lifecycle.next_state`.

Each function answers the changes to apply (field → new value), or a Chinese sentence saying why this
case's data refuses the action (a refusal `invalid`). The decisions they implement are listed in the
docstring of `cases.lifecycle`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
from cases.calendar import WorkCalendar, add_time, seconds_between
from cases.model import Case, PendingKind, PendingRequest, level_above
from cases.states import CaseState

S = CaseState


@dataclass(frozen=True)
class LifecycleRules:
    # Deadline of a hand dispatch when neither the action nor a duty rule gives one (two working days).
    default_deadline_hours: int = 16


@dataclass(frozen=True)
class Context:
    actor: str
    at: datetime
    calendar: WorkCalendar
    rules: LifecycleRules


Changes = dict[str, Any]


def _restart_clock(hours: int, working: bool, ctx: Context) -> Changes:
    return {
        "deadline_at": add_time(ctx.at, hours * 3600, ctx.calendar, working=working),
        "clock_started_at": ctx.at,
        "allowance_seconds": hours * 3600.0,
    }


def effect(case: Case, action: CaseAction, ctx: Context) -> Changes | str:
    """The changes an allowed action makes, or why this case cannot take it (a Chinese sentence)."""
    match action:
        case DispatchAction():
            return _dispatch(case, action, ctx)
        case AcceptAction():
            return {"state": S.IN_PROGRESS}
        case ReturnAction():
            return {"state": S.RETURNED, "department_code": None}
        case HandleAction():
            return {"state": S.HANDLED, "handled_at": ctx.at}
        case VerifyAction(passed=True):
            return {"state": S.CLOSED, "closed_at": ctx.at}
        case VerifyAction():
            return {"state": S.REWORK, "reworks": case.reworks + 1}
        case EvaluateAction():
            return {"state": S.EVALUATED, "score": action.score}
        case PostponeAction() | SuspendAction():
            return _request(case, action, ctx)
        case ApproveAction():
            return _approve(case, ctx)
        case RejectAction():
            return {"pending": None} if case.pending else "没有待审批的申请"
        case ResumeAction():
            return _resume(case, ctx)
        case EscalateAction():
            return _escalate(case, ctx)
        case VoidAction():
            return {"state": S.VOIDED}
        case WarnAction():
            if case.warned:
                return "本级已预警"
            return {"warned": True} if case.deadline_at else "未在计时"
    raise TypeError(f"not a case action: {action!r}")  # pragma: no cover


def _dispatch(case: Case, action: DispatchAction, ctx: Context) -> Changes | str:
    if action.department_code == case.department_code:
        return "已派遣至该部门"
    changes: Changes = {
        "state": S.DISPATCHED,
        "department_code": action.department_code,
        "helper_codes": tuple(h for h in case.helper_codes if h != action.department_code),
    }
    basis_given = action.deadline_hours is not None or action.working_hours is not None
    if case.deadline_at is not None:
        return "时限已在计时，不能重设；请申请延期" if basis_given else changes
    hours = action.deadline_hours or case.deadline_hours or ctx.rules.default_deadline_hours
    working = case.working_hours if action.working_hours is None else action.working_hours
    changes |= {"deadline_hours": hours, "working_hours": working}
    return changes | _restart_clock(hours, working, ctx)


def _request(case: Case, action: PostponeAction | SuspendAction, ctx: Context) -> Changes | str:
    if case.pending is not None:
        return "已有待审批的申请"
    if case.deadline_at is None:
        return "未在计时"
    postpone = action if isinstance(action, PostponeAction) else None
    request = PendingRequest(
        kind=PendingKind.POSTPONE if postpone else PendingKind.SUSPEND,
        hours=postpone.hours if postpone else None,
        reason=action.reason,
        requested_by=ctx.actor,
        requested_at=ctx.at,
    )
    return {"pending": request}


def _approve(case: Case, ctx: Context) -> Changes | str:
    pending, deadline = case.pending, case.deadline_at
    if pending is None:
        return "没有待审批的申请"
    if deadline is None:
        return "未在计时"
    if pending.kind is PendingKind.POSTPONE:
        seconds = (pending.hours or 0) * 3600
        return {
            "pending": None,
            "deadline_at": add_time(deadline, seconds, ctx.calendar, working=case.working_hours),
            "allowance_seconds": (case.allowance_seconds or 0.0) + seconds,
            "postponed": True,
        }
    left = seconds_between(ctx.at, deadline, ctx.calendar, working=case.working_hours)
    return {
        "state": S.SUSPENDED,
        "pending": None,
        "suspended_from": case.state,
        "suspended_at": ctx.at,
        "remaining_seconds": max(0.0, left),
        "deadline_at": None,
    }


def _resume(case: Case, ctx: Context) -> Changes | str:
    if case.suspended_from is None or case.remaining_seconds is None:
        return "缓办记录不完整"
    deadline = add_time(ctx.at, case.remaining_seconds, ctx.calendar, working=case.working_hours)
    return {
        "state": case.suspended_from,
        "deadline_at": deadline,
        "suspended_at": None,
        "suspended_from": None,
        "remaining_seconds": None,
    }


def _escalate(case: Case, ctx: Context) -> Changes | str:
    above = level_above(case.level)
    if above is None:
        return "已在市级，无法再上报"
    changes: Changes = {"level": above, "escalations": case.escalations + 1, "warned": False}
    if case.deadline_at is not None and case.deadline_hours is not None:
        changes |= _restart_clock(case.deadline_hours, case.working_hours, ctx)
    return changes
