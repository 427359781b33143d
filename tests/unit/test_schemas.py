from __future__ import annotations

import pytest
from pydantic import ValidationError

from geo.catalog import categories, duty_rules
from geo.schemas import DutyRule, Level, ancestor_code, level_of_code


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("210200000000", Level.CITY),
        ("210202000000", Level.DISTRICT),
        ("210202001000", Level.TOWNSHIP),
        ("210202001001", Level.COMMUNITY),
        ("210202001001003", Level.GRID),
    ],
)
def test_level_is_read_from_the_statistical_code(code: str, level: Level):
    assert level_of_code(code) is level


@pytest.mark.parametrize("code", ["2102", "21020200000a", ""])
def test_malformed_code_is_refused(code: str):
    with pytest.raises(ValueError):
        level_of_code(code)


def test_ancestor_codes_pad_the_prefix():
    assert ancestor_code("210202001001", Level.DISTRICT) == "210202000000"
    assert ancestor_code("210202001001", Level.TOWNSHIP) == "210202001000"
    assert ancestor_code("210202001001", Level.CITY) == "210200000000"


def test_duty_rule_without_legal_basis_is_refused():
    with pytest.raises(ValidationError, match="legal basis"):
        DutyRule(
            category_code="10101",
            level=Level.DISTRICT,
            department_kind="water",
            deadline_hours=24,
            legal_basis="  ",
        )


def test_duty_rule_without_responsible_department_is_refused():
    with pytest.raises(ValidationError, match="department_kind"):
        DutyRule(
            category_code="10101",
            level=Level.DISTRICT,
            department_kind="",
            deadline_hours=24,
            legal_basis="《城市供水条例》",
        )


def test_every_category_has_a_duty_rule_with_a_legal_basis():
    ruled = {rule.category_code for rule in duty_rules()}
    assert {c.code for c in categories()} == ruled
    assert all(rule.legal_basis.startswith("《") for rule in duty_rules())


def test_category_codes_are_unique_and_keep_kind_in_the_first_digit():
    codes = [c.code for c in categories()]
    assert len(codes) == len(set(codes))
    assert all((c.code[0] == "1") == (c.kind.value == "component") for c in categories())
