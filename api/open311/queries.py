"""What Open311 reads: a client's reports with their cases, and the category list.

Through read models, as the rest of the API (never the stream's table module). The columns of `reports` that
only Open311 reads (who reported, the text, the point, the photos) are named here rather than in
api/read_models.py, which other work is changing now: they belong there once it settles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import ColumnElement, DateTime, Row, Text, and_, column, func, select, table
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection

from api.read_models import areas, cases, departments
from cases.states import TERMINAL_STATES
from geo.models import categories, geo_versions

MAX_REQUESTS = 1000  # the spec's default query limit

AREA_LEVELS = ("grid", "community", "township", "district", "city")  # most specific first, as `address` reads
reports = table(
    "reports",
    column("report_id", PgUUID(as_uuid=True)),
    column("case_id", PgUUID(as_uuid=True)),
    column("reporter_id", Text),
    column("category", Text),
    column("description", Text),
    column("point"),
    column("submitted_at", DateTime(timezone=True)),
    column("attachments", JSONB),
    column("case_state", Text),
    column("department_name", Text),
    column("deadline_at", DateTime(timezone=True)),
    *(column(f"{level}_code", Text) for level in AREA_LEVELS),
)


@dataclass(frozen=True)
class Filters:
    """GET requests' filters; `ids` overrides the others, as the spec says."""

    ids: tuple[UUID, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()  # open | closed


def _state() -> ColumnElement[Any]:
    # The case's state once it exists (it moves); before, the state the stream wrote on the report.
    return func.coalesce(cases.c.state, reports.c.case_state)


async def requests(
    conn: AsyncConnection, *, reporter_id: str, filters: Filters, limit: int = MAX_REQUESTS
) -> Sequence[Row[*tuple[Any, ...]]]:
    """The reports `reporter_id` made that match `filters`, newest first, each with its case's document."""
    where: list[ColumnElement[bool]] = [reports.c.reporter_id == reporter_id]
    if filters.ids:
        where.append(reports.c.report_id.in_(filters.ids))
    else:
        if filters.service_codes:
            where.append(reports.c.category.in_(filters.service_codes))
        if filters.start is not None:
            where.append(reports.c.submitted_at >= filters.start)
        if filters.end is not None:
            where.append(reports.c.submitted_at <= filters.end)
        if len(set(filters.statuses)) == 1:
            closed = _state().in_([s.value for s in TERMINAL_STATES])
            where.append(closed if filters.statuses[0] == "closed" else ~closed)
    query = (
        select(
            *(c for c in reports.c if c.name != "point"),
            func.ST_Y(reports.c.point).label("lat"),
            func.ST_X(reports.c.point).label("long"),
            _state().label("state"),
            cases.c.doc,
            categories.c.name.label("category_name"),
        )
        .select_from(
            reports.outerjoin(cases, cases.c.case_id == reports.c.case_id).outerjoin(
                categories, categories.c.code == reports.c.category
            )
        )
        .where(and_(*where))
        .order_by(reports.c.submitted_at.desc(), reports.c.report_id)
        .limit(limit)
    )
    return (await conn.execute(query)).all()


async def names(conn: AsyncConnection, *, area_codes: set[str], department_codes: set[str]) -> dict[str, str]:
    """{code: Chinese name} of the areas and departments named (their codes never collide: a department's
    has a colon)."""
    found: dict[str, str] = {}
    if area_codes:
        rows = await conn.execute(select(areas.c.code, areas.c.name).where(areas.c.code.in_(area_codes)))
        found.update(rows.tuples().all())
    if department_codes:
        query = select(departments.c.code, departments.c.name).where(departments.c.code.in_(department_codes))
        found.update((await conn.execute(query)).tuples().all())
    return found


async def service_list(conn: AsyncConnection) -> Sequence[Row[*tuple[Any, ...]]]:
    wanted = ("code", "name", "kind", "major_code", "major_name")
    query = select(*(categories.c[name] for name in wanted)).order_by(categories.c.code)
    return (await conn.execute(query)).all()


async def catalogue_changed_at(conn: AsyncConnection) -> datetime | None:
    """When the categories last changed: they are edited with the duty list, whose version records it."""
    query = select(geo_versions.c.updated_at).where(geo_versions.c.kind == "duty_rules")
    changed: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return changed
