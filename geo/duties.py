"""Editing the responsibility list (权责清单) and the departments, without a deploy.

工作事项准入: a duty rule needs a legal basis and a responsible body, a kind of department that exists at the
rule's level; otherwise it is refused with the field named, and nothing is written. Removing a department
that is the last of its kind at its level is refused while a rule still needs that kind. Plain functions
on a sync connection, so the CLI calls them directly and the API through `AsyncConnection.run_sync`; the
caller owns the transaction and bumps the version (`geo.versions`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert

from geo.catalog import department_code
from geo.models import areas, categories, departments, duty_rules
from geo.schemas import Department, DutyRule, Level

DEPARTMENT_LEVELS = (Level.CITY, Level.DISTRICT, Level.TOWNSHIP)
_KIND = re.compile(r"^[a-z][a-z_]{1,31}$")


class Refused(ValueError):
    """An edit the rules refuse; `field` names what is wrong (as the edit's argument is called)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Missing(LookupError):
    """The rule or department to change does not exist."""


def _level(value: str | Level, field: str = "level") -> Level:
    try:
        return Level(value)
    except ValueError:
        known = ", ".join(level.value for level in Level)
        raise Refused(field, f"未知的层级 unknown level {value!r}; expected one of {known}") from None


def _rule(row: object) -> DutyRule:
    return DutyRule.model_validate(row, from_attributes=True)


def _department(row: object) -> Department:
    return Department.model_validate(row, from_attributes=True)


def list_rules(
    conn: Connection, *, category_code: str | None = None, level: str | Level | None = None
) -> list[DutyRule]:
    query = select(duty_rules).order_by(duty_rules.c.category_code, duty_rules.c.level)
    if category_code is not None:
        query = query.where(duty_rules.c.category_code == category_code)
    if level is not None:
        query = query.where(duty_rules.c.level == _level(level).value)
    return [_rule(row) for row in conn.execute(query)]


def list_departments(
    conn: Connection,
    *,
    area_code: str | None = None,
    kind: str | None = None,
    level: str | Level | None = None,
) -> list[Department]:
    query = select(departments).order_by(departments.c.area_code, departments.c.kind)
    if area_code is not None:
        query = query.where(departments.c.area_code == area_code)
    if kind is not None:
        query = query.where(departments.c.kind == kind)
    if level is not None:
        query = query.where(departments.c.level == _level(level).value)
    return [_department(row) for row in conn.execute(query)]


def category_codes(conn: Connection) -> frozenset[str]:
    return frozenset(conn.execute(select(categories.c.code)).scalars())


def _kinds_at(conn: Connection, level: Level) -> list[str]:
    query = select(departments.c.kind).where(departments.c.level == level.value).distinct()
    return sorted(conn.execute(query).scalars())


def set_rule(
    conn: Connection,
    *,
    category_code: str,
    level: str | Level,
    department_kind: str,
    deadline_hours: int,
    legal_basis: str,
    working_hours: bool = True,
    helper_kinds: Sequence[str] = (),
) -> DutyRule:
    """Create or change the rule for (category, level); its own version goes up by one."""
    at = _level(level)
    if category_code not in category_codes(conn):
        raise Refused("category_code", f"未知的事项类别 unknown category {category_code!r}")
    current = conn.execute(
        select(duty_rules.c.version).where(
            duty_rules.c.category_code == category_code, duty_rules.c.level == at.value
        )
    ).scalar()
    try:
        rule = DutyRule(
            category_code=category_code,
            level=at,
            department_kind=department_kind,
            deadline_hours=deadline_hours,
            legal_basis=legal_basis,
            working_hours=working_hours,
            helper_kinds=tuple(dict.fromkeys(helper_kinds)),
            version=(current or 0) + 1,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        raise Refused(str(error["loc"][0]), str(error["msg"]).removeprefix("Value error, ")) from None
    kinds = _kinds_at(conn, at)
    if rule.department_kind not in kinds:
        raise Refused(
            "department_kind",
            f"工作事项准入: no department of kind {rule.department_kind!r} at {at.value} level to answer for "
            f"the duty (kinds there: {', '.join(kinds) or 'none'})",
        )
    for helper in rule.helper_kinds:
        if helper == rule.department_kind or helper not in kinds:
            raise Refused(
                "helper_kinds",
                f"协办 {helper!r}: must be another kind of department at {at.value} level "
                f"(kinds there: {', '.join(kinds) or 'none'})",
            )
    stmt = insert(duty_rules).values(**rule.model_dump(mode="json"), updated_at=func.now())
    conn.execute(
        stmt.on_conflict_do_update(
            constraint="duty_rules_category_level",
            set_={
                name: stmt.excluded[name]
                for name in (
                    "department_kind",
                    "deadline_hours",
                    "legal_basis",
                    "working_hours",
                    "helper_kinds",
                    "version",
                    "updated_at",
                )
            },
        )
    )
    return rule


def remove_rule(conn: Connection, *, category_code: str, level: str | Level) -> DutyRule:
    at = _level(level)
    row = conn.execute(
        delete(duty_rules)
        .where(duty_rules.c.category_code == category_code, duty_rules.c.level == at.value)
        .returning(duty_rules)
    ).first()
    if row is None:
        raise Missing(f"权责清单中没有 {category_code} 在 {at.value} 级的规定 (no such duty rule)")
    return _rule(row)


def set_department(conn: Connection, *, area_code: str, kind: str, name: str) -> Department:
    """Create or rename the department of `kind` serving `area_code` (a city, district or township)."""
    area = conn.execute(select(areas.c.level).where(areas.c.code == area_code)).scalar()
    if area is None:
        raise Refused("area_code", f"no area with code {area_code!r}")
    level = Level(area)
    if level not in DEPARTMENT_LEVELS:
        raise Refused("area_code", f"departments serve a city, district or township, not a {level.value}")
    if not _KIND.match(kind):
        raise Refused("kind", f"kind {kind!r} must be 2-32 lowercase letters or '_' (e.g. urban_management)")
    if not name.strip():
        raise Refused("name", "must not be blank")
    department = Department(
        code=department_code(area_code, kind), name=name.strip(), kind=kind, level=level, area_code=area_code
    )
    stmt = insert(departments).values(**department.model_dump(mode="json"))
    conn.execute(stmt.on_conflict_do_update(index_elements=["code"], set_={"name": stmt.excluded.name}))
    return department


def remove_department(conn: Connection, *, area_code: str, kind: str) -> Department:
    row = conn.execute(
        delete(departments)
        .where(departments.c.area_code == area_code, departments.c.kind == kind)
        .returning(departments)
    ).first()
    if row is None:
        raise Missing(f"no department of kind {kind!r} serves {area_code}")
    removed = _department(row)
    if kind not in _kinds_at(conn, removed.level):
        needing = list_rules(conn, level=removed.level.value)
        blocked = [rule.category_code for rule in needing if rule.department_kind == kind]
        if blocked:
            raise Refused(
                "kind",
                f"工作事项准入: the last {kind!r} department at {removed.level.value} level still "
                f"answers for duties {', '.join(blocked)}; change or remove those rules first",
            )
    return removed
