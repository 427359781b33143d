"""Back-testing the routing: the cases decided since a date whose department would differ under today's
boundaries and duty rules, decided again with the worker's own index, rule book and `decide_batch`.

Read-only: the reports are read in a read-only transaction and nothing is written or sent. A case is judged by
its first report (the one that opened it and chose its department); its duplicates follow it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from geo.versions import read_versions
from infra.settings import Settings
from stream.events import ReportRouted, RoutingVersions
from stream.router import Decision, decide_batch, work_calendar
from stream.rulebook import RoutingState
from stream.sink import submitted_from_row

BATCH = 2000


def parse_when(value: str, *, end: bool) -> datetime:
    """A day in the city's time zone (its start, or with `end` the start of the next day), or an ISO time
    (city time when it names no offset). ValueError says what was expected."""
    zone = work_calendar().tz
    try:
        day = date.fromisoformat(value)
    except ValueError:
        pass
    else:
        return datetime.combine(day + timedelta(days=1 if end else 0), time(), zone)
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"expected a date like 2026-12-01 or a time like 2026-12-01T08:30+08:00, got {value!r}"
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=zone)


@dataclass(frozen=True)
class Moved:
    case_id: UUID
    report_id: UUID
    category: str
    area_then: str
    area_now: str
    department_then: str  # name, or what the triage said
    department_now: str
    rule_then: int | None
    rule_now: int | None


@dataclass(frozen=True)
class Rerouting:
    versions: RoutingVersions  # today's
    checked: int
    moved: list[Moved]
    names: dict[str, str] = field(default_factory=dict)  # area and category codes → names

    def label(self, code: str) -> str:
        name = self.names.get(code)
        return f"{name} {code}" if name else code


# The first decided report of every case whose first decision falls in the range.
_FIRST_REPORTS = """
SELECT * FROM (
  SELECT DISTINCT ON (r.case_id) r.*, ST_X(r.point) AS lon, ST_Y(r.point) AS lat
  FROM reports r
  WHERE r.status IN ('routed', 'triage')
    AND r.case_id IN (SELECT case_id FROM reports WHERE decided_at >= :since AND decided_at < :until)
  ORDER BY r.case_id, r.decided_at, r.report_id
) AS first WHERE decided_at >= :since AND decided_at < :until
"""


def _deepest(*codes: str | None) -> str:
    return next((c for c in reversed(codes) if c), "")


def _then(row: Any) -> tuple[str | None, str]:
    if row.status == "routed":
        return row.department_code, str(row.department_name)
    return None, f"待分拨 triage ({row.triage_reason})"


def _now(decision: Decision) -> tuple[str | None, str]:
    if isinstance(decision, ReportRouted):
        return decision.department.code, decision.department.name
    return None, f"待分拨 triage ({decision.reason.value})"


def _moved(row: Any, decision: Decision) -> Moved | None:
    (code_then, then), (code_now, now) = _then(row), _now(decision)
    if code_then == code_now:
        return None
    area = decision.area
    return Moved(
        case_id=row.case_id,
        report_id=row.report_id,
        category=row.category,
        area_then=_deepest(row.district_code, row.township_code, row.community_code, row.grid_code),
        area_now=_deepest(area.district, area.township, area.community, area.grid),
        department_then=then,
        department_now=now,
        rule_then=(row.duty_rule or {}).get("version"),
        rule_now=decision.duty_rule.version if isinstance(decision, ReportRouted) else None,
    )


async def _names(conn: AsyncConnection, codes: set[str]) -> dict[str, str]:
    query = "SELECT code, name FROM areas WHERE code = ANY(:c) UNION ALL SELECT code, name FROM categories"
    return {row.code: row.name for row in await conn.execute(text(query), {"c": sorted(codes)})}


async def _reroute(settings: Settings, since: datetime, until: datetime | None) -> Rerouting:
    engine = create_async_engine(settings.database_url(), pool_size=2)
    state, now = RoutingState(), datetime.now(UTC)
    checked, moved = 0, []
    try:
        async with engine.connect() as conn:
            await state.refresh(engine, await conn.run_sync(read_versions))
        assert state.index is not None and state.rulebook is not None
        bounds = {"since": since, "until": until or datetime.max.replace(tzinfo=UTC)}
        async with engine.connect() as conn:
            # Read-only for the server too: this command cannot change anything.
            reading = await conn.execution_options(
                postgresql_readonly=True, isolation_level="REPEATABLE READ"
            )
            async with reading.begin():
                rows = await reading.stream(text(_FIRST_REPORTS), bounds)
                async for chunk in rows.partitions(BATCH):
                    reports = [submitted_from_row(row) for row in chunk]
                    decisions = decide_batch(reports, state.index, state.rulebook, now, state.versions())
                    checked += len(chunk)
                    moved += [m for row, d in zip(chunk, decisions, strict=True) if (m := _moved(row, d))]
                codes = {m.area_then for m in moved} | {m.area_now for m in moved}
                names = await _names(reading, codes)
        return Rerouting(state.versions(), checked, moved, names)
    finally:
        await engine.dispose()


def reroute_cases(settings: Settings, since: datetime, until: datetime | None = None) -> Rerouting:
    """The cases first decided in [since, until) that today's boundaries and rules would send elsewhere."""
    return asyncio.run(_reroute(settings, since, until))
