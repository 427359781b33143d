"""Timers: warn at a share of the allowance, escalate at the deadline, each once, however late the worker."""

from __future__ import annotations

from cases.actions import (
    AcceptAction,
    ApproveAction,
    EscalateAction,
    HandleAction,
    PostponeAction,
    SuspendAction,
    WarnAction,
)
from cases.model import Case
from cases.states import ActionName
from cases.timers import DueStatus, due_status, due_timer_actions, next_timer_at, run_timers, warning_at
from geo.schemas import Level

from .builders import CAL, apply, local, routed

# Monday 2026-03-09 08:30 with 10 working hours: due Tuesday 11:00, warned at 8 h, Tuesday 09:00.
OPENED = local(2026, 3, 9, 8, 30)
DEADLINE = local(2026, 3, 10, 11, 0)
WARN = local(2026, 3, 10, 9, 0)


def opened() -> Case:
    return routed(at=OPENED, hours=10)


def test_warning_is_due_at_eighty_percent_of_the_working_allowance() -> None:
    case = opened()
    assert (case.deadline_at, warning_at(case, CAL)) == (DEADLINE, WARN)
    assert next_timer_at(case, CAL) == WARN
    assert due_timer_actions(case, local(2026, 3, 10, 8, 59), CAL) == []
    ((action, at),) = due_timer_actions(case, WARN, CAL)
    assert (action, at) == (WarnAction(), WARN)


def test_warning_fires_once_then_the_deadline_is_next() -> None:
    warned, transitions = run_timers(opened(), local(2026, 3, 10, 10, 0), CAL)
    assert [t.action for t in transitions] == [ActionName.WARN]
    assert run_timers(warned, local(2026, 3, 10, 10, 30), CAL) == (warned, [])
    assert next_timer_at(warned, CAL) == DEADLINE


def test_deadline_escalates_once_and_restarts_the_allowance_at_the_new_level() -> None:
    case, transitions = run_timers(opened(), DEADLINE, CAL)
    assert [(t.action, t.actor, t.at) for t in transitions] == [
        (ActionName.WARN, "system", WARN),
        (ActionName.ESCALATE, "system", DEADLINE),
    ]
    assert (case.level, case.escalations, case.warned) == (Level.TOWNSHIP, 1, False)
    assert case.deadline_at == local(2026, 3, 11, 15, 0)  # ten working hours after the old deadline
    assert run_timers(case, DEADLINE, CAL) == (case, [])


def test_a_worker_days_late_climbs_to_the_city_and_stops_there() -> None:
    case, transitions = run_timers(opened(), local(2026, 4, 30, 12, 0), CAL)
    kinds = [(t.action, t.level) for t in transitions]
    assert kinds == [
        (ActionName.WARN, Level.COMMUNITY),
        (ActionName.ESCALATE, Level.TOWNSHIP),
        (ActionName.WARN, Level.TOWNSHIP),
        (ActionName.ESCALATE, Level.DISTRICT),
        (ActionName.WARN, Level.DISTRICT),
        (ActionName.ESCALATE, Level.CITY),
        (ActionName.WARN, Level.CITY),
    ]
    assert [t.at for t in transitions] == sorted(t.at for t in transitions)
    assert next_timer_at(case, CAL) is None
    assert due_status(case, local(2026, 4, 30, 12, 0), CAL) is DueStatus.OVERDUE
    assert run_timers(case, local(2026, 12, 31), CAL) == (case, [])


def test_timer_is_stamped_no_earlier_than_the_last_transition() -> None:
    accepted = apply(opened(), AcceptAction(), at=local(2026, 3, 10, 9, 30))
    ((_, at),) = due_timer_actions(accepted, local(2026, 3, 10, 9, 45), CAL)
    assert at == local(2026, 3, 10, 9, 30)


def test_due_status_moves_from_on_time_to_warning_to_overdue() -> None:
    case = opened()
    assert due_status(case, local(2026, 3, 10, 8, 59), CAL) is DueStatus.ON_TIME
    assert due_status(case, WARN, CAL) is DueStatus.WARNING
    assert due_status(case, DEADLINE, CAL) is DueStatus.OVERDUE


def test_approved_postponement_moves_the_deadline_the_timer_waits_for() -> None:
    warned, _ = run_timers(opened(), WARN, CAL)
    postponed = apply(apply(warned, PostponeAction(hours=4, reason="需协调")), ApproveAction())
    assert postponed.deadline_at == local(2026, 3, 10, 16, 30)
    assert due_timer_actions(postponed, DEADLINE, CAL) == []
    assert due_status(postponed, DEADLINE, CAL) is DueStatus.ON_TIME  # 4 h of 14 left: above 20 %
    assert next_timer_at(postponed, CAL) == local(2026, 3, 10, 16, 30)


def test_no_timer_runs_while_suspended_and_status_keeps_the_time_left() -> None:
    asked = apply(opened(), SuspendAction(reason="等待认定"))
    stopped = apply(asked, ApproveAction(), at=local(2026, 3, 10, 10, 0))  # 1 h of 10 left
    assert next_timer_at(stopped, CAL) is None
    assert due_timer_actions(stopped, local(2026, 6, 1), CAL) == []
    assert due_status(stopped, local(2026, 6, 1), CAL) is DueStatus.WARNING


def test_handled_case_is_judged_at_its_handling_time() -> None:
    handled = apply(apply(opened(), AcceptAction()), HandleAction(note="x"), at=local(2026, 3, 10, 10, 0))
    assert next_timer_at(handled, CAL) is None
    assert due_status(handled, local(2026, 6, 1), CAL) is DueStatus.ON_TIME
    late = apply(apply(opened(), AcceptAction()), HandleAction(note="x"), at=local(2026, 3, 10, 11, 1))
    assert due_status(late, local(2026, 3, 10, 11, 1), CAL) is DueStatus.OVERDUE


def test_escalation_by_hand_rearms_the_warning_of_the_new_level() -> None:
    warned, _ = run_timers(opened(), WARN, CAL)
    up = apply(warned, EscalateAction(reason="需上级协调"), at=local(2026, 3, 10, 9, 30))
    assert (up.level, up.warned) == (Level.TOWNSHIP, False)
    assert next_timer_at(up, CAL) == local(2026, 3, 11, 10, 0)  # 8 of 10 working hours after 09:30
