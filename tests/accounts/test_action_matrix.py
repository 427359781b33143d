"""Who may do what to a case: every role, in and out of the case's area and department, against every action
at every level that can hold a case. The expectations are written out here, apart from the rules' code."""

from __future__ import annotations

import pytest

from accounts.roles import Role
from accounts.scope import CASEWORK_ROLES, may_act, sees_case
from cases.states import ActionName
from geo.schemas import Level
from tests.accounts.people import PEOPLE, SEE_CASE, case_facts

A = ActionName
LEVELS = (Level.COMMUNITY, Level.TOWNSHIP, Level.DISTRICT, Level.CITY)
APPROVERS = {
    Level.COMMUNITY: {"community", "township", "district", "city_dispatch"},
    Level.TOWNSHIP: {"township", "district", "city_dispatch"},
    Level.DISTRICT: {"district", "city_dispatch"},
    Level.CITY: {"city_dispatch"},
}
APPROVER_ROLES = {
    Level.COMMUNITY: (Role.COMMUNITY, Role.TOWNSHIP, Role.DISTRICT, Role.CITY_DISPATCH),
    Level.TOWNSHIP: (Role.TOWNSHIP, Role.DISTRICT, Role.CITY_DISPATCH),
    Level.DISTRICT: (Role.DISTRICT, Role.CITY_DISPATCH),
    Level.CITY: (Role.CITY_DISPATCH,),
}
HOLDER = {Level.COMMUNITY: "community", Level.TOWNSHIP: "township", Level.DISTRICT: "district"}
CASEWORKERS = {
    "grid_worker",
    "reporter",
    "community",
    "township",
    "district",
    "lead",
    "helper",
    "city_dispatch",
}


def allowed(action: ActionName, level: Level) -> set[str]:
    """Who may, by the loop: written out once per action."""
    match action:
        case A.DISPATCH | A.VOID:
            return {"city_dispatch"}
        case A.ACCEPT | A.RETURN | A.HANDLE | A.POSTPONE | A.SUSPEND:
            return {"lead"}
        case A.APPROVE | A.REJECT:
            return APPROVERS[level]
        case A.RESUME:
            return APPROVERS[level] | {"lead"}
        case A.VERIFY:
            return {"grid_worker"}
        case A.EVALUATE:
            return {"city_dispatch", *([HOLDER[level]] if level in HOLDER else [])}
        case A.ESCALATE:
            return CASEWORKERS
        case A.WARN:
            return set()
    raise AssertionError(action)


def needed(action: ActionName, level: Level) -> tuple[Role, ...]:
    match action:
        case A.DISPATCH | A.VOID:
            return (Role.CITY_DISPATCH,)
        case A.ACCEPT | A.RETURN | A.HANDLE | A.POSTPONE | A.SUSPEND:
            return (Role.DEPARTMENT,)
        case A.APPROVE | A.REJECT:
            return APPROVER_ROLES[level]
        case A.RESUME:
            return (Role.DEPARTMENT, *APPROVER_ROLES[level])
        case A.VERIFY:
            return (Role.GRID_WORKER,)
        case A.EVALUATE:
            holder = {
                Level.COMMUNITY: Role.COMMUNITY,
                Level.TOWNSHIP: Role.TOWNSHIP,
                Level.DISTRICT: Role.DISTRICT,
            }
            return (Role.CITY_DISPATCH, *([holder[level]] if level in holder else []))
        case A.ESCALATE:
            return CASEWORK_ROLES
        case A.WARN:
            return ()
    raise AssertionError(action)


@pytest.mark.parametrize("level", LEVELS, ids=str)
@pytest.mark.parametrize("action", list(ActionName), ids=str)
@pytest.mark.parametrize("who", list(PEOPLE))
def test_who_may_act_follows_the_loop(who: str, action: ActionName, level: Level) -> None:
    facts = case_facts(level=level)
    refusal = may_act(PEOPLE[who], action, facts)
    if who in allowed(action, level):
        assert refusal is None
        return
    assert refusal is not None, f"{who} may not {action} a case held at {level}"
    assert refusal.action is action
    assert refusal.needed == needed(action, level)
    assert refusal.out_of_scope == (who not in SEE_CASE)
    assert refusal.message


def test_nobody_who_may_act_is_outside_the_scope() -> None:
    for action in ActionName:
        for level in LEVELS:
            assert allowed(action, level) <= SEE_CASE


def test_a_case_without_a_grid_is_verified_by_its_community() -> None:
    facts = case_facts(grid_code=None, level=Level.DISTRICT)
    assert may_act(PEOPLE["community"], A.VERIFY, facts) is None
    refused = may_act(PEOPLE["grid_worker"], A.VERIFY, facts)
    assert refused is not None and refused.needed == (Role.COMMUNITY,)
    assert refused.out_of_scope  # without the grid, the worker no longer sees it
    other = may_act(PEOPLE["community_other"], A.VERIFY, facts)
    assert other is not None and other.out_of_scope


def test_a_returned_case_has_no_lead_so_no_department_may_handle_it() -> None:
    facts = case_facts(department_code=None)
    for who in ("lead", "helper", "department_other"):
        assert may_act(PEOPLE[who], A.HANDLE, facts) is not None
    assert not sees_case(PEOPLE["lead"], facts)
    assert sees_case(PEOPLE["helper"], facts)


def test_the_refusal_names_the_role_in_chinese() -> None:
    refusal = may_act(PEOPLE["helper"], A.ACCEPT, case_facts())
    assert refusal is not None and not refusal.out_of_scope
    assert refusal.needed == (Role.DEPARTMENT,)
    assert "主办部门" in refusal.message and "职能部门" in refusal.message


def test_a_triage_case_outside_any_area_is_the_city_s_alone() -> None:
    facts = case_facts(area_codes=(), grid_code=None, department_code=None, helper_codes=(), reporter_ids=())
    seeing = {who for who, p in PEOPLE.items() if sees_case(p, facts)}
    assert seeing == {"city_dispatch", "auditor", "admin"}
    assert may_act(PEOPLE["city_dispatch"], A.DISPATCH, facts) is None
