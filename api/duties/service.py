"""Reading and editing the duty list: `geo.duties` on the request's connection, then the version bump and
the `areas.changes` event before the commit (a broker that does not acknowledge rolls the edit back)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from api.errors import InvalidInput, NotFound
from api.producer import EventProducer
from geo import duties
from geo.schemas import Department, DutyRule, Level
from geo.versions import VersionKind, bump_version
from infra.db import async_engine
from infra.settings import Settings
from stream.changes import area_change, change_record

T = TypeVar("T")
_PATH_FIELDS = {"category_code", "level"}


def _field(name: str) -> str:
    return f"path.{name}" if name in _PATH_FIELDS else f"body.{name}"


async def _run(conn: AsyncConnection, step: Callable[[Connection], T]) -> T:
    """A `geo.duties` call, its refusals and misses turned into the API's errors."""
    try:
        return await conn.run_sync(step)
    except duties.Refused as exc:
        raise InvalidInput(exc.message, field=_field(exc.field)) from exc
    except duties.Missing as exc:
        raise NotFound(str(exc)) from exc


async def list_rules(
    *, conn: AsyncConnection, category_code: str | None, level: Level | None
) -> list[DutyRule]:
    return await _run(conn, lambda c: duties.list_rules(c, category_code=category_code, level=level))


async def get_rule(*, conn: AsyncConnection, category_code: str, level: Level) -> DutyRule:
    found = await list_rules(conn=conn, category_code=category_code, level=level)
    if not found:
        raise NotFound(f"权责清单中没有 {category_code} 在 {level.value} 级的规定 (no such duty rule)")
    return found[0]


async def list_departments(
    *, conn: AsyncConnection, area_code: str | None, kind: str | None, level: Level | None
) -> list[Department]:
    return await _run(conn, lambda c: duties.list_departments(c, area_code=area_code, kind=kind, level=level))


async def _edit(
    *,
    producer: EventProducer,
    settings: Settings,
    kind: VersionKind,
    actor: str,
    note: str,
    step: Callable[[Connection], T],
) -> tuple[T, int]:
    async with async_engine().begin() as conn:
        result = await _run(conn, step)
        version = await conn.run_sync(lambda c: bump_version(c, kind, actor=actor, note=note))
        topic, key, value = change_record(settings, area_change(kind, version, actor=actor, note=note))
        await producer.send(topic, key, value)  # BrokerUnavailable rolls the edit back
    return result, version


async def set_rule(
    *,
    producer: EventProducer,
    settings: Settings,
    actor: str,
    category_code: str,
    level: Level,
    department_kind: str,
    deadline_hours: int,
    legal_basis: str,
    note: str,
    working_hours: bool = True,
    helper_kinds: Sequence[str] = (),
) -> tuple[DutyRule, int]:
    return await _edit(
        producer=producer,
        settings=settings,
        kind="duty_rules",
        actor=actor,
        note=note or f"set {category_code}@{level.value} → {department_kind}",
        step=lambda c: duties.set_rule(
            c,
            category_code=category_code,
            level=level,
            department_kind=department_kind,
            deadline_hours=deadline_hours,
            legal_basis=legal_basis,
            working_hours=working_hours,
            helper_kinds=helper_kinds,
        ),
    )


async def remove_rule(
    *, producer: EventProducer, settings: Settings, actor: str, category_code: str, level: Level
) -> tuple[DutyRule, int]:
    return await _edit(
        producer=producer,
        settings=settings,
        kind="duty_rules",
        actor=actor,
        note=f"removed {category_code}@{level.value}",
        step=lambda c: duties.remove_rule(c, category_code=category_code, level=level),
    )
