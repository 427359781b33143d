"""What each action does to a case beyond its state: clock, lead department, requests, levels, counters."""

from __future__ import annotations

from datetime import datetime

import pytest

from cases.actions import (
    AcceptAction,
    ApproveAction,
    DispatchAction,
    EscalateAction,
    HandleAction,
    PostponeAction,
    RejectAction,
    ResumeAction,
    ReturnAction,
    SuspendAction,
    VerifyAction,
    WarnAction,
)
from cases.lifecycle import Applied, Refusal, RefusalCode, next_state
from cases.model import Case, PendingKind, Transition
from cases.states import CaseState
from geo.schemas import Level

from .builders import CAL, CLERK, LEAD, OTHER, T0, apply, case_in, local, routed, triaged


def refusal(case: Case, action: object, *, actor: str = CLERK, at: datetime = T0) -> Refusal:
    result = next_state(case, action, actor=actor, at=at, calendar=CAL)  # type: ignore[arg-type]
    assert isinstance(result, Refusal), result
    return result


def test_routed_case_opens_dispatched_with_a_deadline_in_working_hours() -> None:
    case = routed(at=local(2026, 3, 6, 16, 30), hours=4)  # Friday afternoon
    assert (case.state, case.department_code, case.level) == (CaseState.DISPATCHED, LEAD, Level.COMMUNITY)
    assert case.deadline_at == local(2026, 3, 9, 11, 30)  # 1 h on Friday, 3 h on Monday
    assert case.allowance_seconds == 4 * 3600


def test_routed_case_in_natural_hours_runs_through_the_night() -> None:
    assert routed(at=local(2026, 3, 6, 16, 30), hours=4, working=False).deadline_at == local(
        2026, 3, 6, 20, 30
    )


def test_triage_case_has_no_deadline_and_waits_at_the_city() -> None:
    case = triaged()
    assert (case.state, case.level, case.deadline_at, case.department_code) == (
        CaseState.TRIAGE,
        Level.CITY,
        None,
        None,
    )


def test_rule_at_grid_level_is_held_by_the_community() -> None:
    assert routed(level=Level.GRID).level is Level.COMMUNITY


def test_dispatch_from_triage_starts_the_clock_with_the_default_basis() -> None:
    case = apply(triaged(), DispatchAction(department_code=LEAD), at=T0)
    assert case.state is CaseState.DISPATCHED
    assert (case.deadline_hours, case.clock_started_at) == (16, T0)
    assert case.deadline_at == local(2026, 3, 12, 10, 0)  # 7 h on Tuesday, 7.5 on Wednesday, 1.5 on Thursday


def test_dispatch_from_triage_takes_a_hand_set_basis() -> None:
    action = DispatchAction(department_code=LEAD, deadline_hours=2, working_hours=False)
    assert apply(triaged(), action, at=T0).deadline_at == local(2026, 3, 10, 11, 0)


def test_reassignment_keeps_the_running_deadline_and_drops_the_new_lead_from_helpers() -> None:
    case = routed().model_copy(update={"helper_codes": (OTHER, "x:water")})
    moved = apply(case, DispatchAction(department_code=OTHER), at=local(2026, 3, 11, 9, 0))
    assert (moved.department_code, moved.helper_codes, moved.deadline_at) == (
        OTHER,
        ("x:water",),
        case.deadline_at,
    )


def test_dispatch_refuses_the_same_department_and_a_new_basis_while_the_clock_runs() -> None:
    assert refusal(routed(), DispatchAction(department_code=LEAD)).code is RefusalCode.INVALID
    reset = DispatchAction(department_code=OTHER, deadline_hours=40)
    assert refusal(routed(), reset).code is RefusalCode.INVALID


def test_return_clears_the_lead_and_redispatch_keeps_the_deadline() -> None:
    returned = case_in(CaseState.RETURNED)
    assert returned.department_code is None
    again = apply(returned, DispatchAction(department_code=OTHER))
    assert (again.state, again.department_code, again.deadline_at) == (
        CaseState.DISPATCHED,
        OTHER,
        routed().deadline_at,
    )


def test_failed_verification_sends_the_case_back_for_rework_and_counts_it() -> None:
    rework = case_in(CaseState.REWORK)
    assert (rework.reworks, rework.closed_at) == (1, None)
    closed = apply(apply(rework, HandleAction(note="重新清理")), VerifyAction(passed=True, note="ok"), at=T0)
    assert (closed.state, closed.closed_at, closed.reworks) == (CaseState.CLOSED, T0, 1)


def test_approved_postponement_moves_the_deadline_in_working_hours() -> None:
    case = routed(at=local(2026, 3, 6, 9, 0), hours=4)  # Friday: 3 h before lunch, 1 h after
    assert case.deadline_at == local(2026, 3, 6, 14, 30)
    asked = apply(case, PostponeAction(hours=4, reason="需协调"))
    assert asked.pending is not None and asked.pending.kind is PendingKind.POSTPONE
    approved = apply(asked, ApproveAction())
    assert approved.deadline_at == local(2026, 3, 9, 9, 30)  # 3 h on Friday afternoon, 1 h on Monday
    assert (approved.postponed, approved.pending, approved.allowance_seconds) == (True, None, 8 * 3600)


def test_one_request_at_a_time_and_nothing_to_approve_without_one() -> None:
    asked = apply(routed(), PostponeAction(hours=4, reason="需协调"))
    assert refusal(asked, SuspendAction(reason="另一申请")).code is RefusalCode.INVALID
    assert refusal(routed(), ApproveAction()).code is RefusalCode.INVALID
    rejected = apply(asked, RejectAction())
    assert (rejected.pending, rejected.deadline_at, rejected.postponed) == (None, asked.deadline_at, False)


def test_a_waiting_request_survives_accept_but_not_handling() -> None:
    asked = apply(routed(), PostponeAction(hours=4, reason="需协调"))
    accepted = apply(asked, AcceptAction())
    assert accepted.pending == asked.pending
    assert apply(accepted, HandleAction(note="done")).pending is None
    assert apply(asked, ReturnAction(reason="非本部门")).pending is None


def test_suspended_time_does_not_count_against_the_deadline() -> None:
    case = routed(at=local(2026, 3, 10, 9, 0), hours=8)  # due Wednesday 09:30
    asked = apply(case, SuspendAction(reason="等待司法认定"))
    stopped = apply(asked, ApproveAction(), at=local(2026, 3, 10, 16, 0))  # 5.5 working hours used
    assert (stopped.state, stopped.suspended_from, stopped.deadline_at) == (
        CaseState.SUSPENDED,
        CaseState.DISPATCHED,
        None,
    )
    assert stopped.remaining_seconds == 2.5 * 3600
    resumed = apply(stopped, ResumeAction(), at=local(2026, 3, 20, 9, 0))  # ten days later, a Friday
    assert (resumed.state, resumed.deadline_at) == (CaseState.DISPATCHED, local(2026, 3, 20, 11, 30))
    assert (resumed.suspended_at, resumed.remaining_seconds) == (None, None)


def test_escalation_climbs_one_level_and_restarts_the_allowance_until_the_city() -> None:
    case = routed(hours=4)
    at = local(2026, 3, 11, 10, 0)
    up = apply(case, EscalateAction(reason="逾期"), at=at)
    assert (up.level, up.escalations, up.clock_started_at) == (Level.TOWNSHIP, 1, at)
    assert up.deadline_at == local(2026, 3, 11, 15, 30)
    at_city = apply(apply(up, EscalateAction(reason="x")), EscalateAction(reason="x"))
    assert at_city.level is Level.CITY
    assert refusal(at_city, EscalateAction(reason="x")).code is RefusalCode.INVALID


def test_warn_is_for_the_system_and_fires_once() -> None:
    assert refusal(routed(), WarnAction(), actor=CLERK).code is RefusalCode.INVALID
    warned = apply(routed(), WarnAction())
    assert warned.warned
    assert refusal(warned, WarnAction(), actor="system").code is RefusalCode.INVALID


def test_transition_records_the_action_and_the_case_after_it() -> None:
    result = next_state(routed(), ReturnAction(reason=" 非本部门职责 "), actor=CLERK, at=T0, calendar=CAL)
    assert isinstance(result, Applied)
    t = result.transition
    assert (t.seq, t.action, t.from_state, t.to_state, t.actor, t.at, t.reason) == (
        1,
        "return",
        CaseState.DISPATCHED,
        CaseState.RETURNED,
        CLERK,
        T0,
        "非本部门职责",
    )
    assert t.department_code is None and t.payload == ReturnAction(reason="非本部门职责")
    assert Transition.model_validate_json(t.model_dump_json()) == t
    assert Case.model_validate_json(result.case.model_dump_json()) == result.case


def test_time_never_moves_back_in_updated_at() -> None:
    later = apply(routed(), AcceptAction(), at=local(2026, 3, 10, 10, 0))
    earlier = apply(later, HandleAction(note="x"), at=local(2026, 3, 10, 9, 59))
    assert earlier.updated_at == local(2026, 3, 10, 10, 0)


def test_naive_time_and_blank_actor_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        next_state(routed(), AcceptAction(), actor=CLERK, at=datetime(2026, 3, 10, 9), calendar=CAL)
    with pytest.raises(ValueError):
        next_state(routed(), AcceptAction(), actor=" ", at=T0, calendar=CAL)
