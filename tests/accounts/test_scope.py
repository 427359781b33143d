"""Who sees which areas, cases and reports; the Scope a query uses agrees with the yes/no answers."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from accounts.roles import Principal, PrincipalKind, Role, assignment_problem
from accounts.scope import (
    ReportFacts,
    may_edit_rules,
    may_manage_accounts,
    scope_of,
    sees_area,
    sees_case,
    sees_report,
)
from geo.schemas import Level
from tests.accounts.people import (
    CITY,
    COMMUNITY,
    DISTRICT,
    GRID,
    OTHER_COMMUNITY,
    OTHER_DISTRICT,
    OTHER_GRID,
    OTHER_TOWNSHIP,
    PEOPLE,
    SEE_CASE,
    TOWNSHIP,
    URBAN,
    WATER,
    case_facts,
)

AREAS = [
    CITY,
    DISTRICT,
    TOWNSHIP,
    COMMUNITY,
    GRID,
    OTHER_DISTRICT,
    OTHER_TOWNSHIP,
    OTHER_COMMUNITY,
    OTHER_GRID,
]
SEES_AREAS: dict[str, set[str]] = {
    "grid_worker": {GRID},
    "grid_worker_other": {OTHER_GRID},
    "reporter": set(),
    "community": {COMMUNITY, GRID, OTHER_GRID},
    "community_other": {OTHER_COMMUNITY},
    "township": {TOWNSHIP, COMMUNITY, GRID, OTHER_COMMUNITY, OTHER_GRID},
    "township_other": {OTHER_TOWNSHIP},
    "district": {DISTRICT, TOWNSHIP, COMMUNITY, GRID, OTHER_TOWNSHIP, OTHER_COMMUNITY, OTHER_GRID},
    "district_other": {OTHER_DISTRICT},
    "lead": set(),
    "helper": set(),
    "department_other": set(),
    "city_dispatch": set(AREAS),
    "auditor": set(AREAS),
    "admin": set(AREAS),
    "client": set(),
}


@pytest.mark.parametrize("who", list(PEOPLE))
def test_each_role_sees_its_own_subtree_of_areas(who: str) -> None:
    seen = {code for code in AREAS if sees_area(PEOPLE[who], code)}
    assert seen == SEES_AREAS[who]


@pytest.mark.parametrize("who", list(PEOPLE))
def test_each_role_sees_the_cases_of_its_place_or_department(who: str) -> None:
    assert sees_case(PEOPLE[who], case_facts()) == (who in SEE_CASE)


def report(**change: object) -> ReportFacts:
    base: dict[str, object] = {
        "reporter_id": "gw_reporter",
        "area_codes": (CITY, DISTRICT, TOWNSHIP, COMMUNITY),
        "grid_code": GRID,
        "department_codes": (WATER, URBAN),
    }
    return ReportFacts.model_validate({**base, **change})


@pytest.mark.parametrize("who", list(PEOPLE))
def test_each_role_sees_the_reports_of_its_place_department_or_own(who: str) -> None:
    assert sees_report(PEOPLE[who], report()) == (who in SEE_CASE)


def test_a_grid_worker_sees_what_it_reported_anywhere_and_nothing_else_outside_its_grids() -> None:
    worker = PEOPLE["grid_worker"]
    elsewhere = report(area_codes=(CITY, OTHER_DISTRICT), grid_code="210203001001001", department_codes=())
    assert not sees_report(worker, elsewhere)
    assert sees_report(worker, elsewhere.model_copy(update={"reporter_id": "gw"}))


def test_a_report_in_triage_is_seen_by_the_city_and_its_reporter_only() -> None:
    triage = ReportFacts(reporter_id="gw_reporter")
    assert {who for who, p in PEOPLE.items() if sees_report(p, triage)} == {
        "reporter",
        "city_dispatch",
        "auditor",
        "admin",
    }


def test_an_open311_client_sees_only_what_it_reported() -> None:
    client = PEOPLE["client"]
    assert client.reporter_id == "open311:12345热线"
    assert sees_report(client, report(reporter_id="open311:12345热线"))
    assert sees_case(client, case_facts(reporter_ids=("open311:12345热线",)))
    assert not sees_area(client, CITY)


def test_the_scope_names_the_columns_a_query_filters_on() -> None:
    assert scope_of(PEOPLE["township"]).area_level is Level.TOWNSHIP
    assert scope_of(PEOPLE["township"]).area_code == TOWNSHIP
    assert scope_of(PEOPLE["lead"]).department_code == WATER
    assert scope_of(PEOPLE["grid_worker"]).grid_codes == (GRID,)
    assert scope_of(PEOPLE["grid_worker"]).reporter_id == "gw"
    assert scope_of(PEOPLE["auditor"]).whole_city


def test_unparsable_codes_are_seen_by_no_area_office() -> None:
    for code in ("", "abc", "2102", "21020200000x"):
        assert not sees_area(PEOPLE["district"], code)


@pytest.mark.parametrize("who", list(PEOPLE))
def test_only_admin_edits_rules_and_accounts(who: str) -> None:
    assert may_edit_rules(PEOPLE[who]) == (who == "admin")
    assert may_manage_accounts(PEOPLE[who]) == (who == "admin")


@pytest.mark.parametrize(
    ("role", "assignment", "field"),
    [
        (Role.COMMUNITY, {}, "area_code"),
        (Role.COMMUNITY, {"area_code": TOWNSHIP}, "area_code"),
        (Role.TOWNSHIP, {"area_code": COMMUNITY}, "area_code"),
        (Role.DISTRICT, {"area_code": "21020200000"}, "area_code"),
        (Role.DISTRICT, {"area_code": DISTRICT, "department_code": WATER}, "department_code"),
        (Role.DEPARTMENT, {}, "department_code"),
        (Role.DEPARTMENT, {"department_code": WATER, "area_code": DISTRICT}, "area_code"),
        (Role.GRID_WORKER, {}, "grid_codes"),
        (Role.GRID_WORKER, {"grid_codes": (COMMUNITY,)}, "grid_codes"),
        (Role.GRID_WORKER, {"grid_codes": (GRID,), "area_code": OTHER_COMMUNITY}, "grid_codes"),
        (Role.GRID_WORKER, {"grid_codes": (GRID,), "area_code": TOWNSHIP}, "area_code"),
        (Role.CITY_DISPATCH, {"area_code": CITY}, "area_code"),
        (Role.AUDITOR, {"grid_codes": (GRID,)}, "grid_codes"),
        (Role.ADMIN, {"department_code": WATER}, "department_code"),
    ],
)
def test_an_assignment_that_does_not_fit_the_role_names_its_field(
    role: Role, assignment: dict[str, object], field: str
) -> None:
    args = {"area_code": None, "department_code": None, "grid_codes": (), **assignment}
    problem = assignment_problem(role, **args)  # type: ignore[arg-type]
    assert problem is not None and problem[0] == field and problem[1]
    with pytest.raises(ValidationError, match=field):
        Principal(user_id=uuid.uuid4(), username="x", role=role, **assignment)  # type: ignore[arg-type]


def test_a_client_has_no_role_and_a_user_needs_one() -> None:
    with pytest.raises(ValidationError):
        Principal(kind=PrincipalKind.CLIENT, user_id=uuid.uuid4(), username="c", role=Role.ADMIN)
    with pytest.raises(ValidationError):
        Principal(user_id=uuid.uuid4(), username="u")


def test_every_role_has_a_chinese_label_and_the_actor_names_the_kind() -> None:
    assert [r.label for r in Role] == [
        "网格员",
        "社区",
        "街道",
        "区县",
        "职能部门",
        "指挥中心",
        "审计",
        "管理员",
    ]
    assert PEOPLE["lead"].actor == "user:water"
    assert PEOPLE["client"].actor == "client:12345热线"
