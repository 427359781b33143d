"""The routing rules as the worker holds them: categories, duty rules and departments read from PostGIS,
reloaded when an `areas.changes` event says they were edited."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from geo.models import categories, departments, duty_rules
from geo.schemas import Department, DutyRule, Level


@dataclass(frozen=True)
class RuleBook:
    categories: frozenset[str]
    rules: tuple[DutyRule, ...]
    departments: dict[tuple[str, str], Department]


async def load_rulebook(conn: AsyncConnection) -> RuleBook:
    category_codes = frozenset((await conn.execute(select(categories.c.code))).scalars())
    rules = tuple(
        DutyRule(
            category_code=row.category_code,
            level=Level(row.level),
            department_kind=row.department_kind,
            deadline_hours=row.deadline_hours,
            legal_basis=row.legal_basis,
            version=row.version,
        )
        for row in await conn.execute(select(duty_rules))
    )
    found = {
        (row.area_code, row.kind): Department(
            code=row.code, name=row.name, kind=row.kind, level=Level(row.level), area_code=row.area_code
        )
        for row in await conn.execute(select(departments))
    }
    return RuleBook(categories=category_codes, rules=rules, departments=found)
