"""Deadline timers as pure functions, for a stream worker that stores `next_timer_at` and looks again then.

Two timers watch a case while its clock runs (dispatched, in progress, returned, rework):
- warn, when `warning_share` of the allowance has passed: the time left is at most (1 − share) of the
  allowance, counted back from the deadline, so suspended time and approved postponements are accounted for;
- escalate (actor `system`), when the deadline passes. The escalation gives the new level the rule's full
  allowance from the old deadline and re-arms the warning, so the case climbs one level per allowance until
  the city; at the city it stays overdue and nothing more fires.

Each timer fires once: a warning only while `warned` is false, an escalation only while the deadline (which
every escalation moves) has passed. A timer is stamped with its own time, not the worker's, so a late worker
writes the same history as a punctual one; never earlier than the case's last transition, so a history
stays in order. `run_timers` applies everything due, however late the worker is.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from cases.actions import CaseAction, EscalateAction, WarnAction
from cases.calendar import WorkCalendar, add_time
from cases.lifecycle import Applied, LifecycleRules, next_state
from cases.model import Case, Transition, level_above
from cases.states import SYSTEM_ACTOR, CaseState

WARNING_SHARE = 0.8
ESCALATION_REASON = "逾期未办结，系统自动上报"
# A worker more than this many levels behind is a bug, not lateness (four levels, one warning each).
_MAX_STEPS = 16


class DueStatus(StrEnum):
    ON_TIME = "on_time"
    WARNING = "warning"
    OVERDUE = "overdue"


class TimerAction(NamedTuple):
    action: CaseAction
    at: datetime  # apply with actor SYSTEM_ACTOR at this time


def _check_share(share: float) -> None:
    if not 0 < share <= 1:
        raise ValueError(f"warning_share must be in (0, 1], got {share}")


def warning_at(case: Case, calendar: WorkCalendar, share: float = WARNING_SHARE) -> datetime | None:
    """When the case turns `warning`: (1 − share) of its allowance before the deadline; None if no clock."""
    _check_share(share)
    if case.deadline_at is None or case.allowance_seconds is None:
        return None
    before = (1 - share) * case.allowance_seconds
    return add_time(case.deadline_at, -before, calendar, working=case.working_hours)


def due_timer_actions(
    case: Case, now: datetime, calendar: WorkCalendar, warning_share: float = WARNING_SHARE
) -> list[TimerAction]:
    """The timer actions due at `now`, in order; apply them all, then ask again (see `run_timers`)."""
    warn_at = warning_at(case, calendar, warning_share)
    if not case.clock_running or warn_at is None or case.deadline_at is None:
        return []
    due: list[TimerAction] = []
    if not case.warned and now >= warn_at:
        due.append(TimerAction(WarnAction(), max(warn_at, case.updated_at)))
    if now >= case.deadline_at and level_above(case.level) is not None:
        escalate = EscalateAction(reason=ESCALATION_REASON)
        due.append(TimerAction(escalate, max(case.deadline_at, case.updated_at)))
    return due


def next_timer_at(
    case: Case, calendar: WorkCalendar, warning_share: float = WARNING_SHARE
) -> datetime | None:
    """When a timer of this case is next due (maybe already past); None when none can fire."""
    warn_at = warning_at(case, calendar, warning_share)
    if not case.clock_running or warn_at is None:
        return None
    if not case.warned:
        return warn_at
    return case.deadline_at if level_above(case.level) is not None else None


def due_status(
    case: Case, now: datetime, calendar: WorkCalendar, warning_share: float = WARNING_SHARE
) -> DueStatus:
    """on_time / warning / overdue for the views.

    A handled, closed or evaluated case is judged at its latest 处置完成 against the deadline; a suspended one
    by the time it had left when the clock stopped; a case without a clock (triage, voided) is on time.
    """
    _check_share(share=warning_share)
    if case.state in (CaseState.HANDLED, CaseState.CLOSED, CaseState.EVALUATED):
        late = case.handled_at and case.deadline_at and case.handled_at > case.deadline_at
        return DueStatus.OVERDUE if late else DueStatus.ON_TIME
    if case.state is CaseState.SUSPENDED:
        left, allowance = case.remaining_seconds, case.allowance_seconds
        if left is None or allowance is None:
            return DueStatus.ON_TIME
        if left <= 0:
            return DueStatus.OVERDUE
        return DueStatus.WARNING if left <= (1 - warning_share) * allowance else DueStatus.ON_TIME
    warn_at = warning_at(case, calendar, warning_share)
    if not case.clock_running or warn_at is None or case.deadline_at is None:
        return DueStatus.ON_TIME
    if now >= case.deadline_at:
        return DueStatus.OVERDUE
    return DueStatus.WARNING if now >= warn_at else DueStatus.ON_TIME


def run_timers(
    case: Case,
    now: datetime,
    calendar: WorkCalendar,
    warning_share: float = WARNING_SHARE,
    rules: LifecycleRules | None = None,
) -> tuple[Case, list[Transition]]:
    """Apply every timer action due at `now` (catching up several levels if the worker was away)."""
    transitions: list[Transition] = []
    for _ in range(_MAX_STEPS):
        due = due_timer_actions(case, now, calendar, warning_share)
        if not due:
            return case, transitions
        # One at a time: an escalation changes what is due next.
        action, at = due[0]
        result = next_state(case, action, actor=SYSTEM_ACTOR, at=at, calendar=calendar, rules=rules)
        if not isinstance(result, Applied):
            raise AssertionError(f"a due timer was refused: {result}")
        case = result.case
        transitions.append(result.transition)
    raise AssertionError(f"timers of case {case.case_id} did not settle in {_MAX_STEPS} steps")
