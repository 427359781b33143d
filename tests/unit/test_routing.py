"""The routing decision as a pure function of plain data."""

from __future__ import annotations

from geo.catalog import department_code
from geo.routing import Routed, Unroutable, route_report
from geo.schemas import Department, DutyRule, Level, Location

CITY, DISTRICT, TOWNSHIP = "210200000000", "210202000000", "210202001000"
LOCATION = Location(city=CITY, district=DISTRICT, township=TOWNSHIP, community="210202001001")


def dept(area: str, kind: str, level: Level) -> Department:
    return Department(
        code=department_code(area, kind), name=f"{area}-{kind}", kind=kind, level=level, area_code=area
    )


DEPARTMENTS = {
    (DISTRICT, "water"): dept(DISTRICT, "water", Level.DISTRICT),
    (DISTRICT, "urban_management"): dept(DISTRICT, "urban_management", Level.DISTRICT),
    (TOWNSHIP, "urban_management"): dept(TOWNSHIP, "urban_management", Level.TOWNSHIP),
    (CITY, "power"): dept(CITY, "power", Level.CITY),
}
RULES = [
    DutyRule(
        category_code="10101",
        level=Level.DISTRICT,
        department_kind="water",
        deadline_hours=24,
        legal_basis="a",
    ),
    DutyRule(
        category_code="10105", level=Level.CITY, department_kind="power", deadline_hours=24, legal_basis="b"
    ),
    DutyRule(
        category_code="20501",
        level=Level.TOWNSHIP,
        department_kind="urban_management",
        deadline_hours=24,
        legal_basis="c",
    ),
    DutyRule(
        category_code="20501",
        level=Level.DISTRICT,
        department_kind="urban_management",
        deadline_hours=24,
        legal_basis="c",
    ),
    DutyRule(
        category_code="20104",
        level=Level.DISTRICT,
        department_kind="ecology_environment",
        deadline_hours=72,
        legal_basis="d",
    ),
]
KNOWN = frozenset({"10101", "10105", "20501", "20104", "20999"})


def decide(category: str, location: Location | None = LOCATION, departments=DEPARTMENTS):
    return route_report(
        category_code=category,
        location=location,
        known_categories=KNOWN,
        rules=RULES,
        departments=departments,
    )


def test_district_duty_goes_to_the_district_department_of_that_kind():
    decision = decide("10101")
    assert isinstance(decision, Routed)
    assert decision.department.code == f"{DISTRICT}:water"
    assert decision.rule.level is Level.DISTRICT


def test_city_duty_goes_to_the_city_department_wherever_the_point_lies():
    decision = decide("10105")
    assert isinstance(decision, Routed) and decision.department.code == f"{CITY}:power"


def test_township_duty_goes_to_the_township_office_before_the_district():
    decision = decide("20501")
    assert isinstance(decision, Routed)
    assert decision.department.area_code == TOWNSHIP


def test_township_duty_falls_back_to_the_district_where_the_township_has_no_office():
    without_township = {k: v for k, v in DEPARTMENTS.items() if k[0] != TOWNSHIP}
    decision = decide("20501", departments=without_township)
    assert isinstance(decision, Routed) and decision.department.area_code == DISTRICT


def test_township_duty_uses_the_district_when_the_point_is_located_only_to_district():
    decision = decide("20501", location=Location(city=CITY, district=DISTRICT))
    assert isinstance(decision, Routed) and decision.department.area_code == DISTRICT


def test_unknown_category_is_unroutable_before_anything_else():
    assert decide("99999", location=None) == Unroutable("unknown_category", "类别 99999 不在事项目录中")


def test_point_outside_every_district_is_outside_jurisdiction():
    decision = decide("10101", location=None)
    assert isinstance(decision, Unroutable) and decision.reason == "outside_jurisdiction"


def test_category_without_duty_rule_is_unroutable():
    decision = decide("20999")
    assert isinstance(decision, Unroutable) and decision.reason == "no_duty_rule"


def test_duty_without_a_department_in_the_area_names_what_is_missing():
    decision = decide("20104")
    assert isinstance(decision, Unroutable)
    assert decision.reason == "no_department"
    assert "ecology_environment" in decision.detail
