"""Chinese names for the codes an answer carries (areas, departments, categories), one query per kind."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.read_models import areas, categories, departments
from geo.schemas import LEVEL_ORDER


def codes_by_level(row: object) -> dict[str, str | None]:
    """{level: code} from a row or case that has a `<level>_code` for each of the five levels."""
    return {level.value: getattr(row, f"{level.value}_code") for level in LEVEL_ORDER}


async def area_names(conn: AsyncConnection, codes: Mapping[str, str | None]) -> dict[str, str]:
    """{level: name} for the codes by level that are known; unknown or missing codes are left out."""
    known = [code for code in codes.values() if code]
    if not known:
        return {}
    query = select(areas.c.code, areas.c.name).where(areas.c.code.in_(known))
    named = dict((await conn.execute(query)).all())
    return {level: named[code] for level, code in codes.items() if code in named}


async def department_names(conn: AsyncConnection, codes: Iterable[str]) -> dict[str, str]:
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return {}
    query = select(departments.c.code, departments.c.name).where(departments.c.code.in_(wanted))
    return dict((await conn.execute(query)).all())


async def category_name(conn: AsyncConnection, code: str) -> str | None:
    query = select(categories.c.name).where(categories.c.code == code)
    name: str | None = (await conn.execute(query)).scalar_one_or_none()
    return name
