"""Report intake and status: validate, check the id against what is known, produce to Kafka."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from api.errors import Conflict, InvalidInput, NotFound
from api.producer import EventProducer
from api.reports.schemas import AreaRef, ReportIn, ReportStatus, VersionsOut
from geo.crs import to_wgs84
from geo.models import areas, categories
from infra.db import async_engine
from infra.settings import Settings
from stream.events import TOPICS, Crs, DepartmentRef, Point, ReportSubmitted
from stream.tables import reports

log = logging.getLogger("gridflow.api.reports")


def build_event(report: ReportIn, now: datetime) -> ReportSubmitted:
    attachments = tuple(report.attachments)
    lon, lat = to_wgs84(report.location.lon, report.location.lat, report.location.crs.value)
    return ReportSubmitted(
        report_id=report.report_id,
        reporter_id=report.reporter_id,
        category=report.category,
        description=report.description,
        location=report.location,
        location_wgs84=Point(lon=lon, lat=lat, accuracy_m=report.location.accuracy_m, crs=Crs.WGS84),
        observed_at=report.observed_at,
        submitted_at=now,
        attachments=attachments,
        content_hash=ReportSubmitted.hash_content(
            reporter_id=report.reporter_id,
            category=report.category,
            description=report.description,
            location=report.location,
            observed_at=report.observed_at,
            attachments=attachments,
        ),
    )


async def _known(report_id: UUID, category: str) -> tuple[str | None, bool | None]:
    """(content hash already stored for this id, whether the category exists); (None, None) if the database
    is away — intake then relies on the router, which deduplicates and triages unknown categories."""
    try:
        async with async_engine().connect() as conn:
            stored = (
                await conn.execute(select(reports.c.content_hash).where(reports.c.report_id == report_id))
            ).scalar()
            exists = (
                await conn.execute(select(categories.c.code).where(categories.c.code == category))
            ).scalar()
            return stored, exists is not None
    except (OperationalError, DBAPIError, OSError) as exc:
        log.warning("database unavailable at intake, accepting without pre-checks: %s", type(exc).__name__)
        return None, None


async def submit_report(*, report: ReportIn, producer: EventProducer, settings: Settings) -> bool:
    """Accept a report into Kafka. Returns False when it was already accepted with the same content."""
    event = build_event(report, datetime.now(UTC))
    stored_hash, category_exists = await _known(report.report_id, report.category)
    if stored_hash is not None:
        if stored_hash != event.content_hash:
            raise Conflict(f"report_id {report.report_id} was already used for a report with other content")
        return False
    if category_exists is False:
        raise InvalidInput(
            f"unknown category code {report.category!r} (未知的事项类别)", field="body.category"
        )
    await producer.send(
        settings.topic(TOPICS["submitted"]),
        key=report.report_id.bytes,
        value=event.model_dump_json().encode(),
    )
    return True


async def report_status(*, conn: AsyncConnection, report_id: UUID) -> ReportStatus:
    row = (await conn.execute(select(reports).where(reports.c.report_id == report_id))).first()
    if row is None:
        raise NotFound(f"report {report_id} is not known (yet): it may still be on its way through the queue")
    department = (
        DepartmentRef(code=row.department_code, name=row.department_name) if row.department_code else None
    )
    codes = {
        "city": row.city_code,
        "district": row.district_code,
        "township": row.township_code,
        "community": row.community_code,
        "grid": row.grid_code,
    }
    known = [code for code in codes.values() if code]
    found = await conn.execute(select(areas.c.code, areas.c.name).where(areas.c.code.in_(known)))
    named = dict(found.tuples().all())
    return ReportStatus(
        report_id=row.report_id,
        case_id=row.case_id,
        status=row.status,
        case_state=row.case_state,
        category=row.category,
        area=AreaRef(
            **codes,
            synthetic=row.area_synthetic,
            names={level: named[code] for level, code in codes.items() if code in named},
            method=row.locate_method,
            offshore_distance_m=row.offshore_distance_m,
            candidates=row.area_candidates,
        ),
        department=department,
        triage_reason=row.triage_reason,
        triage_detail=row.triage_detail,
        deadline_at=row.deadline_at,
        submitted_at=row.submitted_at,
        versions=VersionsOut(
            areas=row.areas_version,
            duty_rules=row.duty_rules_version,
            departments=row.departments_version,
        )
        if row.areas_version is not None
        else None,
    )
