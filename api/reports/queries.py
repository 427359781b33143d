"""What the report status reads: the report's row, with its case's current state, and later conflicting
submissions of its id."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from api.read_models import cases, report_conflicts, reports


async def report_row(conn: AsyncConnection, report_id: UUID) -> Row[*tuple[Any, ...]] | None:
    """The report; `case_state` is its case's state when the case exists (so the report shows the case
    moving), else the state the stream wrote when it decided the report."""
    case_state = func.coalesce(cases.c.state, reports.c.case_state).label("case_state")
    query = (
        select(*(c for c in reports.c if c.name != "case_state"), case_state)
        .select_from(reports.outerjoin(cases, cases.c.case_id == reports.c.case_id))
        .where(reports.c.report_id == report_id)
    )
    return (await conn.execute(query)).first()


async def conflicts(conn: AsyncConnection, report_id: UUID) -> Sequence[tuple[str, datetime]]:
    """(content_hash, submitted_at) of refused submissions with this id, oldest first."""
    rows = await conn.execute(
        select(report_conflicts.c.content_hash, report_conflicts.c.submitted_at)
        .where(report_conflicts.c.report_id == report_id)
        .order_by(report_conflicts.c.submitted_at)
    )
    return [(content_hash, at) for content_hash, at in rows]
