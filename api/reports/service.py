"""Report intake and status: validate, check the id against recent ones, produce to Kafka."""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection

from accounts.roles import Principal
from api.auth import scoping
from api.errors import Conflict, InvalidInput
from api.names import area_names, codes_by_level
from api.producer import EventProducer
from api.reports import queries
from api.reports.outline import CATEGORIES
from api.reports.schemas import Accepted, AreaRef, ConflictOut, ReportIn, ReportStatus, VersionsOut
from geo.crs import to_wgs84
from infra.settings import Settings
from stream.events import TOPICS, Crs, DepartmentRef, Point, ReportSubmitted

log = logging.getLogger("gridflow.api.reports")


def claim_reporter(report: ReportIn, reporter_id: str) -> ReportIn:
    """The report as sent by `reporter_id` (the token's): an absent `reporter_id` is filled in, another one
    refused with a 422 naming the field, so that nobody reports in someone else's name."""
    if report.reporter_id is None:
        return report.model_copy(update={"reporter_id": reporter_id})
    if report.reporter_id != reporter_id:
        raise InvalidInput(reporter_refused(report.reporter_id, reporter_id), field="body.reporter_id")
    return report


def reporter_refused(named: str, reporter_id: str) -> str:
    return f"reporter_id {named!r} is not the signed-in user {reporter_id!r} (不能以他人名义上报)"


def build_event(report: ReportIn, now: datetime) -> ReportSubmitted:
    assert report.reporter_id is not None, "claim_reporter fills it in before"
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


class RecentIds:
    """The content hash of the report ids this process accepted lately (bounded, oldest dropped first), so a
    resend is answered at once — 202 again, or 409 with other content — without a database round trip.
    What it does not know (another API process, an older report) the stream decides: the first content
    recorded stands, a later one is listed under `conflicts` in the report's status."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._hashes: OrderedDict[UUID, str] = OrderedDict()

    def get(self, report_id: UUID) -> str | None:
        return self._hashes.get(report_id)

    def add(self, report_id: UUID, content_hash: str) -> None:
        self._hashes[report_id] = content_hash
        if len(self._hashes) > self.size:
            self._hashes.popitem(last=False)


RECENT = RecentIds()


async def submit_report(
    *, report: ReportIn, reporter_id: str, producer: EventProducer, settings: Settings
) -> Accepted:
    """Accept `reporter_id`'s report into Kafka; no database on this path (the categories are known in
    memory, the reporter in the token)."""
    report = claim_reporter(report, reporter_id)
    event = build_event(report, datetime.now(UTC))
    known_hash = RECENT.get(report.report_id)
    if known_hash is not None:
        if known_hash != event.content_hash:
            raise Conflict(f"report_id {report.report_id} was already used for a report with other content")
        return Accepted(report_id=report.report_id, content_hash=event.content_hash, duplicate=True)
    if CATEGORIES.refused(report.category):
        raise InvalidInput(
            f"unknown category code {report.category!r} (未知的事项类别)", field="body.category"
        )
    await producer.send(
        settings.topic(TOPICS["submitted"]),
        key=report.report_id.bytes,
        value=event.model_dump_json().encode(),
    )
    RECENT.add(report.report_id, event.content_hash)
    return Accepted(report_id=report.report_id, content_hash=event.content_hash)


async def report_status(*, conn: AsyncConnection, principal: Principal, report_id: UUID) -> ReportStatus:
    """The report's status if `principal` sees it; one it does not see answers as one that is not there."""
    await scoping.visible_report(conn, principal, report_id)
    row = await queries.report_row(conn, report_id)
    if row is None:
        raise scoping.report_missing(report_id)
    department = (
        DepartmentRef(code=row.department_code, name=row.department_name) if row.department_code else None
    )
    codes = codes_by_level(row)
    conflicts = await queries.conflicts(conn, report_id)
    named = await area_names(conn, codes)
    return ReportStatus(
        report_id=row.report_id,
        case_id=row.case_id,
        status=row.status,
        case_state=row.case_state,
        category=row.category,
        content_hash=row.content_hash,
        conflicts=[ConflictOut(content_hash=h, submitted_at=at) for h, at in conflicts],
        area=AreaRef(
            **codes,
            synthetic=row.area_synthetic,
            names=named,
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
