"""Idempotent, batched writes of the event log into PostGIS.

Rules that make replays converge: a report row is created at receipt (`accepted`); the first routing decision
for a report with the same content wins and later ones (resubmissions, replays) change nothing; a report_id
re-used with other content never overwrites the original. The audit trail is written only for decisions
that took effect, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stream.bulk import bulk_upsert
from stream.events import CaseState, Crs, Point, ReportRouted, ReportSubmitted
from stream.router import Decision, case_id_for, transitions_for
from stream.tables import case_transitions, reports


def _report_columns(report: ReportSubmitted, city_code: str) -> dict[str, Any]:
    point = report.location_wgs84
    return {
        "report_id": report.report_id,
        "case_id": case_id_for(report.report_id),
        "reporter_id": report.reporter_id,
        "category": report.category,
        "description": report.description,
        "point": f"SRID=4326;POINT({point.lon} {point.lat})",
        "accuracy_m": report.location.accuracy_m,
        "crs": report.location.crs.value,
        "observed_at": report.observed_at,
        "submitted_at": report.submitted_at,
        "content_hash": report.content_hash,
        "attachments": list(report.attachments),
        "city_code": city_code,
    }


@dataclass(frozen=True)
class Received:
    known: dict[UUID, tuple[str, str]]  # (status, content_hash) of every report of the batch
    new: frozenset[UUID]  # the ones this call recorded; an `accepted` one not here was recorded before

    def replayed(self) -> list[UUID]:
        """Reports recorded by an earlier delivery and still undecided: a batch read again after a crash."""
        return [rid for rid, (state, _) in self.known.items() if state == "accepted" and rid not in self.new]


async def record_received(
    conn: AsyncConnection, batch: Sequence[ReportSubmitted], city_code: str
) -> Received:
    """Insert an `accepted` row for each new report; say what is known of each in the batch."""
    unique = {r.report_id: r for r in reversed(batch)}  # first occurrence wins within a batch
    rows = [
        {
            **_report_columns(r, city_code),
            "status": "accepted",
            "case_state": CaseState.REPORTED.value,
            "decided_at": r.submitted_at,
        }
        for r in unique.values()
    ]
    new = await bulk_upsert(conn, reports, rows, conflict="(report_id)", returning="report_id")
    found = await conn.execute(
        select(reports.c.report_id, reports.c.status, reports.c.content_hash).where(
            reports.c.report_id.in_(list(unique))
        )
    )
    return Received({row.report_id: (row.status, row.content_hash) for row in found}, frozenset(new))


def _decision_row(decision: Decision, city_code: str) -> dict[str, Any]:
    row = {**_report_columns(decision.report, city_code)}
    area, versions = decision.area, decision.versions
    row.update(
        case_id=decision.case_id,  # a duplicate's is the case it joins
        duplicate_of=decision.duplicate_of,
        areas_version=versions.areas if versions else None,
        duty_rules_version=versions.duty_rules if versions else None,
        departments_version=versions.departments if versions else None,
        district_code=area.district,
        township_code=area.township,
        community_code=area.community,
        grid_code=area.grid,
        area_synthetic=area.synthetic,
    )
    if isinstance(decision, ReportRouted):
        row.update(
            status="routed",
            case_state=CaseState.DISPATCHED.value,
            department_code=decision.department.code,
            department_name=decision.department.name,
            duty_rule=decision.duty_rule.model_dump(),
            deadline_at=decision.deadline_at,
            decided_at=decision.routed_at,
            triage_reason=None,
            triage_detail=None,
            locate_method=decision.locate_method,
            offshore_distance_m=decision.offshore_distance_m,
            area_candidates=list(decision.candidates),
        )
    else:
        row.update(
            status="triage",
            case_state=CaseState.TRIAGE.value,
            triage_reason=decision.reason.value,
            triage_detail=decision.detail,
            decided_at=decision.triaged_at,
            department_code=None,
            department_name=None,
            duty_rule=None,
            deadline_at=None,
            locate_method=None,
            offshore_distance_m=None,
            area_candidates=[],
        )
    return row


_DECISION_COLUMNS = (
    "case_id",
    "status",
    "case_state",
    "district_code",
    "township_code",
    "community_code",
    "grid_code",
    "area_synthetic",
    "department_code",
    "department_name",
    "duty_rule",
    "deadline_at",
    "duplicate_of",
    "decided_at",
    "triage_reason",
    "triage_detail",
    "areas_version",
    "duty_rules_version",
    "departments_version",
    "locate_method",
    "offshore_distance_m",
    "area_candidates",
)


async def apply_decisions(conn: AsyncConnection, decisions: Sequence[Decision], city_code: str) -> list[UUID]:
    """Upsert the decisions and the audit trail of those that took effect; return their report ids."""
    first: dict[UUID, Decision] = {}
    for decision in decisions:
        first.setdefault(decision.report.report_id, decision)
    if not first:
        return []
    applied = set(
        await bulk_upsert(
            conn,
            reports,
            [_decision_row(d, city_code) for d in first.values()],
            conflict="(report_id)",
            update=_DECISION_COLUMNS,
            # The first decision for the original content wins; replays and resubmissions change nothing.
            where="reports.status = 'accepted' AND reports.content_hash = excluded.content_hash",
            returning="report_id",
        )
    )
    transitions = [t for rid in applied for t in transitions_for(first[rid])]
    if transitions:
        await bulk_upsert(
            conn,
            case_transitions,
            [t.model_dump(mode="json", exclude={"schema_version"}) for t in transitions],
            conflict="ON CONSTRAINT case_transitions_once",
        )
    return sorted(applied)


async def stale_accepted(conn: AsyncConnection, cutoff: datetime, limit: int = 500) -> list[ReportSubmitted]:
    """Reports recorded as `accepted` before `cutoff` and not decided since, rebuilt as events."""
    rows = await conn.execute(
        select(
            reports,
            func.ST_X(reports.c.point).label("lon"),
            func.ST_Y(reports.c.point).label("lat"),
        )
        .where(reports.c.status == "accepted", reports.c.submitted_at < cutoff)
        .order_by(reports.c.submitted_at)
        .limit(limit)
    )
    return [submitted_from_row(row) for row in rows]


def submitted_from_row(row: Any) -> ReportSubmitted:
    """A stored report rebuilt as the event that routes it (re-drive, reroute): the row keeps the WGS-84 point
    the first locate used, which stands for the location as sent too (routing reads only the WGS-84 one)."""
    point = Point(lon=row.lon, lat=row.lat, accuracy_m=row.accuracy_m, crs=Crs.WGS84)
    return ReportSubmitted(
        report_id=row.report_id,
        reporter_id=row.reporter_id,
        category=row.category,
        description=row.description,
        location=point,
        location_wgs84=point,
        observed_at=row.observed_at,
        submitted_at=row.submitted_at,
        attachments=tuple(row.attachments),
        content_hash=row.content_hash,
    )


def decided_at(decision: Decision) -> datetime:
    return decision.routed_at if isinstance(decision, ReportRouted) else decision.triaged_at


async def standing(conn: AsyncConnection, decisions: Sequence[Decision]) -> list[Decision]:
    """The decisions that stand for their report (written now or by an earlier delivery of the same event):
    the ones whose case command may be sent. A later decision that lost to another changes no case."""
    if not decisions:
        return []
    rows = await conn.execute(
        select(reports.c.report_id, reports.c.decided_at, reports.c.content_hash).where(
            reports.c.report_id.in_([d.report.report_id for d in decisions]), reports.c.status != "accepted"
        )
    )
    stood = {row.report_id: (row.decided_at, row.content_hash) for row in rows}
    return [d for d in decisions if stood.get(d.report.report_id) == (decided_at(d), d.report.content_hash)]
