"""Editing duty rules and departments against the real PostGIS, each test in a transaction rolled back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, select

from geo import duties
from geo.models import areas
from geo.read import read_areas
from geo.schemas import DutyRule, Level
from geo.versions import bump_version, read_versions

BASIS = "《城市道路管理条例》第二十一条"


@pytest.fixture
def conn(database: Engine) -> Iterator[Connection]:
    with database.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


def _set(conn: Connection, **change: object) -> DutyRule:
    rule: dict[str, object] = {
        "category_code": "10201",
        "level": "district",
        "department_kind": "transport",
        "deadline_hours": 48,
        "legal_basis": BASIS,
    }
    rule.update(change)
    return duties.set_rule(conn, **rule)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"legal_basis": "   "}, "legal_basis"),
        ({"department_kind": ""}, "department_kind"),
        ({"department_kind": "water", "level": "township"}, "department_kind"),  # no township has one
        ({"category_code": "99999"}, "category_code"),
        ({"level": "province"}, "level"),
        ({"deadline_hours": 0}, "deadline_hours"),
    ],
    ids=[
        "no-legal-basis",
        "no-department",
        "kind-absent-at-level",
        "unknown-category",
        "bad-level",
        "no-hours",
    ],
)
def test_duty_rule_that_fails_admission_is_refused_naming_the_field(
    conn: Connection, change: dict[str, object], field: str
) -> None:
    before = duties.list_rules(conn, category_code="10201")
    with pytest.raises(duties.Refused) as refused:
        _set(conn, **change)
    assert refused.value.field == field
    assert duties.list_rules(conn, category_code="10201") == before


def test_refusal_without_legal_basis_says_why_in_chinese(conn: Connection) -> None:
    with pytest.raises(duties.Refused, match="工作事项准入"):
        _set(conn, legal_basis="")


def test_setting_a_rule_replaces_it_and_counts_its_own_version(conn: Connection) -> None:
    (before,) = duties.list_rules(conn, category_code="10201", level="district")
    rule = _set(conn)
    assert (rule.department_kind, rule.deadline_hours, rule.version) == ("transport", 48, before.version + 1)
    assert duties.list_rules(conn, category_code="10201", level=Level.DISTRICT) == [rule]


def test_a_rule_at_a_new_level_is_added(conn: Connection) -> None:
    rule = _set(conn, level="township", department_kind="urban_management")
    assert rule.version == 1
    assert {r.level for r in duties.list_rules(conn, category_code="10201")} == {
        Level.DISTRICT,
        Level.TOWNSHIP,
    }


def test_removing_a_missing_rule_says_so(conn: Connection) -> None:
    with pytest.raises(duties.Missing):
        duties.remove_rule(conn, category_code="10201", level="city")


def test_last_department_a_rule_needs_cannot_be_removed(conn: Connection) -> None:
    # The power company exists only city-wide, and 电力井盖 (10105) is its duty at city level.
    with pytest.raises(duties.Refused, match="10105") as refused:
        duties.remove_department(conn, area_code="210200000000", kind="power")
    assert refused.value.field == "kind"


def test_a_department_others_of_its_kind_still_cover_can_be_removed(conn: Connection) -> None:
    removed = duties.remove_department(conn, area_code="210202000000", kind="water")
    assert removed.name == "中山区水务局"
    assert duties.list_departments(conn, area_code="210202000000", kind="water") == []


def test_department_is_created_for_a_township_and_refused_for_a_community(conn: Connection) -> None:
    made = duties.set_department(conn, area_code="210202001000", kind="water", name="海军广场街道供水站")
    assert (made.code, made.level) == ("210202001000:water", Level.TOWNSHIP)
    with pytest.raises(duties.Refused) as refused:
        duties.set_department(conn, area_code="210202001001", kind="water", name="社区供水点")
    assert refused.value.field == "area_code"


def test_each_edit_counts_one_version_of_its_kind(conn: Connection) -> None:
    before = read_versions(conn)
    assert bump_version(conn, "duty_rules", actor="test") == before.duty_rules + 1
    after = read_versions(conn)
    assert (after.duty_rules, after.areas, after.departments) == (
        before.duty_rules + 1,
        before.areas,
        before.departments,
    )


def test_loading_dalian_stores_the_mca_name_alias(conn: Connection) -> None:
    name, alias = conn.execute(
        select(areas.c.name, areas.c.mca_name).where(areas.c.code == "210204009000")
    ).one()
    assert (name, alias) == ("南沙河口街道", "南沙街道")


def test_the_grid_cells_are_the_leaves_and_only_they_carry_boundaries_when_read(conn: Connection) -> None:
    found = read_areas(conn)
    with_boundary = {area.level for area in found if area.geometry is not None}
    assert with_boundary == {Level.GRID}
    assert len(found) == 1 + 10 + 152 + 1_832 + 6_442
    by_code = {area.code: area for area in found}
    assert by_code["210204009000"].mca_name == "南沙街道"
